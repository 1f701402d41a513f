/**
 * MariaDB tuning: a pure, deterministic function of the host facts and the tuning spec.
 *
 * computeTuning() returns the server variables an operator sets by hand on a host dedicated to one
 * MariaDB instance, each with its value as written in the option file ([mariadbd] section, names
 * with underscores, sizes with the K/M/G suffixes the server accepts) and a one-line reason a
 * reviewer reads in a diff. Checked against a real MariaDB 10.11 server (every value accepted at
 * start-up); DYNAMIC_IN_10_11 lists which of them SET GLOBAL changes without a restart.
 *
 * The formulas and why (the README's "MariaDB tuning" section repeats them):
 * - innodb_buffer_pool_size: the share of RAM for data and indexes cached by InnoDB (O_DIRECT: the
 *   OS page cache holds nothing of the data files, so the pool is the only cache). Share by
 *   workload: oltp 75%, web 70%, mixed 65%, dw 60% (dw sorts, joins and temp tables need session
 *   memory outside the pool), 50% on hosts under 2GB (the OS, the server's own structures and
 *   the connections' threads weigh more there). Then each connection's session buffers (sort,
 *   join, read buffers, thread stack, net buffers: PER_CONNECTION_MB by workload) are taken out,
 *   and the result is rounded down to a multiple of 128M: the chunk size of every 10.x server
 *   before 10.11.12 (a size that is not a multiple is rounded *up* by those), harmless since.
 *   At least 128M (the compiled default).
 * - innodb_buffer_pool_instances is NOT rendered: MariaDB 10.5 made the buffer pool a single
 *   instance and ignores the variable; 10.6 removed it (10.11 refuses to start with it).
 * - innodb_log_file_size (the redo log; one file, ib_logfile0, since 10.5): a quarter of the
 *   pool, capped by workload (oltp and dw 4G, web and mixed 2G), at least 256M. A bigger redo
 *   log means fewer checkpoint-driven page flushes under writes; crash recovery reads it all, and
 *   since 10.5 recovery is fast enough that 4G costs seconds to minutes, not hours.
 * - innodb_log_buffer_size: 64M from 4GB of RAM (a large transaction's redo stays in memory until
 *   commit instead of being written in pieces), else 16M (the default).
 * - innodb_flush_method O_DIRECT: data pages bypass the OS cache (no double buffering). The
 *   default since 10.6, written out because every Linux host should have it.
 * - innodb_io_capacity / innodb_io_capacity_max, innodb_flush_neighbors by storage: ssd
 *   2000/4000 and no neighbour flushing (no seek to save); network 1000/2000, no neighbours
 *   (provisioned IOPS, each write a round trip); hdd 200/400 with neighbours (one seek serves
 *   adjacent pages).
 * - innodb_read_io_threads / innodb_write_io_threads: one per core, at least 4 (the default) and
 *   at most 32: asynchronous I/O completion threads, so more only pays on many cores.
 * - max_connections as declared; thread_cache_size = max_connections up to 256 (a reconnecting
 *   client reuses a thread instead of creating one).
 * - table_open_cache = 10 x max_connections within 2000..16384 (each connection touching a few
 *   tables, a join several); table_definition_cache = 400 + table_open_cache / 2 (MySQL 8's
 *   own auto-sizing rule; MariaDB's default 400 is too small for a few hundred tables).
 * - tmp_table_size = max_heap_table_size (the smaller of the two is what an in-memory temporary
 *   table may grow to): 64M, 256M for dw, at most RAM/64.
 * - sort_buffer_size, join_buffer_size: kept near the defaults (2M, 256K; dw 4M, 1M): they are
 *   per session and per sort/join, and bigger buffers slow small queries (allocation cost).
 * - query_cache_type OFF, query_cache_size 0: its global mutex serialises every write.
 * - performance_schema OFF (MariaDB's default): a few percent of CPU and hundreds of MB of memory
 *   always, and it is static: a restart with an override turns it on for diagnosis.
 * - innodb_adaptive_hash_index OFF (the default since 10.5): its latch contention costs more than
 *   it saves under concurrent writes (MariaDB turned it off by default for that reason).
 * - Durability, always unless an override gives it up explicitly: innodb_flush_log_at_trx_commit
 *   1 (redo fsynced at every commit), sync_binlog 1 (binary log fsynced at every commit group, so
 *   a replica or point-in-time recovery never sees a transaction the primary lost, or the other
 *   way round), innodb_doublewrite ON (torn-page protection). Measured with bench:mariadb's data
 *   on this project's 2-core machine and NOT rendered, because they did not beat the defaults
 *   beyond the noise: binlog_commit_wait_count/_usec (4 and 1-5ms, 8 and 2ms: commit groups grew
 *   from 1-2 to 3 transactions, TPS did not) and innodb_flush_method O_DSYNC (10.11 then writes
 *   the redo log write-through, O_DIRECT|O_DSYNC, instead of write + fdatasync: same TPS).
 *   Durable read-write TPS stays well below the durability-off ceiling where an fsync costs what
 *   a transaction's CPU does, as on this machine when its disk is shared (bench:mariadb).
 * - skip_name_resolve is not a tuning decision: account host patterns decide it (instance layer).
 * Declared overrides replace computed values with the reason "declared in parameters" (they do
 * not feed back into the formulas); overrides of other variables follow, sorted by name.
 */
import type { HostFacts, StorageKind, TunedParameter, TunedParameters, Workload } from "../../model/tuning";

/** Input bounds. */
export const MARIADB_TUNING_LIMITS = {
  minMemoryMb: 256,
  minCpus: 1,
  minConnections: 1,
  /** MariaDB's own upper bound of max_connections. */
  maxConnections: 100_000,
  /** Oldest MariaDB with one redo log file and a single buffer pool instance. */
  minVersion: "10.5",
  /** Newest major series accepted (12.x and later are not known to this file). */
  maxMajor: 11,
} as const;

/** The spec tuning reads besides the host facts. */
export interface MariadbTuningSpec {
  workload: Workload;
  /** max_connections. */
  maxConnections: number;
  /** MariaDB version, "major.minor" or "major.minor.patch", e.g. "10.11". */
  version: string;
  /** Variables that win over computed ones: name (underscores) → value as in the option file. */
  overrides: Record<string, string>;
}

const STORAGE_KINDS: readonly StorageKind[] = ["ssd", "hdd", "network"];
const WORKLOADS: readonly Workload[] = ["web", "oltp", "dw", "mixed"];

/** Pool sizes are multiples of this: the buffer pool chunk size before 10.11.12. */
const CHUNK_MB = 128;
/** Hosts below this keep half of their RAM outside the pool. */
const SMALL_HOST_MB = 2048;
const POOL_SHARE: Record<Workload, number> = { oltp: 0.75, web: 0.7, mixed: 0.65, dw: 0.6 };
/**
 * Session memory per connection, in MB: sort + join + read + read_rnd buffers, thread stack and net
 * buffers, rounded up (an upper bound: most sessions never allocate all of it at once).
 */
const PER_CONNECTION_MB: Record<Workload, number> = { oltp: 4, web: 4, mixed: 4, dw: 8 };
const REDO_CAP_MB: Record<Workload, number> = { oltp: 4096, dw: 4096, web: 2048, mixed: 2048 };
const REDO_FLOOR_MB = 256;

interface StorageProfile {
  ioCapacity: number;
  ioCapacityMax: number;
  flushNeighbors: boolean;
  why: string;
}

const STORAGE_PROFILES: Record<StorageKind, StorageProfile> = {
  ssd: { ioCapacity: 2000, ioCapacityMax: 4000, flushNeighbors: false, why: "ssd" },
  network: { ioCapacity: 1000, ioCapacityMax: 2000, flushNeighbors: false, why: "network storage (provisioned IOPS)" },
  hdd: { ioCapacity: 200, ioCapacityMax: 400, flushNeighbors: true, why: "hdd: one spindle" },
};

/**
 * The computed variables MariaDB 10.11 changes with SET GLOBAL (checked on 10.11.19 by setting each
 * to another value on a running server: the buffer pool and the redo log resize online since 10.9
 * and 10.11 changes the I/O thread counts); the others (innodb_log_buffer_size,
 * innodb_flush_method, innodb_doublewrite, performance_schema) are read-only at run time and need a
 * restart. An override of a variable not listed here must be treated as static. SET GLOBAL takes
 * sizes in bytes, not with the option file's suffixes: see bytesOf().
 */
export const DYNAMIC_IN_10_11: ReadonlySet<string> = new Set([
  "max_connections",
  "innodb_buffer_pool_size",
  "innodb_log_file_size",
  "innodb_io_capacity",
  "innodb_io_capacity_max",
  "innodb_flush_neighbors",
  "innodb_read_io_threads",
  "innodb_write_io_threads",
  "innodb_flush_log_at_trx_commit",
  "sync_binlog",
  "thread_cache_size",
  "table_open_cache",
  "table_definition_cache",
  "tmp_table_size",
  "max_heap_table_size",
  "sort_buffer_size",
  "join_buffer_size",
  "query_cache_type",
  "query_cache_size",
  "innodb_adaptive_hash_index",
]);

function fail(field: string, message: string): never {
  throw new Error(`${field}: ${message}`);
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** A variable name as dbstack accepts it: lower case with underscores (the option file's dashes are not). */
const VARIABLE_NAME = /^[a-z][a-z0-9_]*$/;

/**
 * Why declared parameter overrides cannot be written to the option file, or undefined. Names are
 * lower case with underscores (so one variable cannot be declared twice, once with dashes); values
 * are one line, without control characters or `#` (which starts a comment in an option file).
 */
export function overridesProblem(overrides: Record<string, string>): string | undefined {
  if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
    return `must be an object of variable name to value, got ${show(overrides)}`;
  }
  for (const [name, value] of Object.entries(overrides)) {
    if (!VARIABLE_NAME.test(name)) {
      const hint = /^[a-z][a-z0-9_-]*$/i.test(name) ? ` (write it ${JSON.stringify(name.toLowerCase().replace(/-/g, "_"))})` : "";
      return `${show(name)} is not a variable name: lower-case letters, digits and _${hint}`;
    }
    if (typeof value !== "string" || value.trim() === "") return `${name} needs a value as written in the option file, got ${show(value)}`;
    if (/[\x00-\x1f\x7f]/.test(value)) return `${name}: the value must be a single line without control characters`;
    if (value.includes("#")) return `${name}: the value must not contain # (it starts a comment in the option file)`;
  }
  return undefined;
}

/** [major, minor] of a version string, or undefined. */
function parseVersion(version: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function validate(host: HostFacts, spec: MariadbTuningSpec): void {
  const L = MARIADB_TUNING_LIMITS;
  if (typeof host.memoryMb !== "number" || !Number.isFinite(host.memoryMb) || host.memoryMb < L.minMemoryMb) {
    fail("memoryMb", `must be a number of MiB >= ${L.minMemoryMb}, got ${show(host.memoryMb)}`);
  }
  if (typeof host.cpus !== "number" || !Number.isFinite(host.cpus) || host.cpus < L.minCpus) {
    fail("cpus", `must be a number >= ${L.minCpus}, got ${show(host.cpus)}`);
  }
  if (!STORAGE_KINDS.includes(host.storage)) fail("storage", `must be one of ${STORAGE_KINDS.join(", ")}, got ${show(host.storage)}`);
  if (!WORKLOADS.includes(spec.workload)) fail("workload", `must be one of ${WORKLOADS.join(", ")}, got ${show(spec.workload)}`);
  if (!Number.isInteger(spec.maxConnections) || spec.maxConnections < L.minConnections || spec.maxConnections > L.maxConnections) {
    fail("maxConnections", `must be an integer from ${L.minConnections} to ${L.maxConnections}, got ${show(spec.maxConnections)}`);
  }
  const v = typeof spec.version === "string" ? parseVersion(spec.version) : undefined;
  if (!v || v[0] < 10 || (v[0] === 10 && v[1] < 5) || v[0] > L.maxMajor) {
    fail("version", `must be a MariaDB version from ${L.minVersion} to ${L.maxMajor}.x such as "10.11", got ${show(spec.version)}`);
  }
  const problem = overridesProblem(spec.overrides);
  if (problem) fail("overrides", problem);
}

/** Whole MiB written with the largest suffix the server accepts that keeps it exact (K, M, G). */
export function formatMb(mb: number): string {
  const whole = Math.floor(mb);
  return whole > 0 && whole % 1024 === 0 ? `${whole / 1024}G` : `${whole}M`;
}

/**
 * The number of bytes of a size as written in the option file ("64M", "4G", "256K", "1024"), or
 * undefined when the value is not a size. SET GLOBAL rejects the suffixes the option file accepts.
 */
export function bytesOf(value: string): number | undefined {
  const m = /^(\d+)([KMGT]?)$/i.exec(value.trim());
  if (!m) return undefined;
  const exponent = ["", "K", "M", "G", "T"].indexOf(m[2].toUpperCase());
  return Number(m[1]) * 1024 ** exponent;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** The buffer pool in MiB and the formula, for its reason. */
function bufferPool(memMb: number, workload: Workload, conns: number): { mb: number; why: string } {
  const small = memMb < SMALL_HOST_MB;
  const share = small ? 0.5 : POOL_SHARE[workload];
  const perConn = PER_CONNECTION_MB[workload];
  const raw = memMb * share - conns * perConn;
  const mb = Math.max(CHUNK_MB, Math.floor(raw / CHUNK_MB) * CHUNK_MB);
  const formula = `${Math.round(share * 100)}% of ${memMb}M${small ? " (small host)" : ` (${workload})`} - ${conns} conns x ${perConn}M session buffers, in 128M chunks`;
  return { mb, why: raw < CHUNK_MB ? `${formula} is below 128M: the default 128M (fewer connections or more RAM)` : formula };
}

/**
 * The variables for a host and spec, in rendering order. Throws an Error whose message starts
 * with the offending field ("memoryMb: ...") when an input is out of range.
 */
export function computeTuning(host: HostFacts, spec: MariadbTuningSpec): TunedParameters {
  validate(host, spec);
  const memMb = Math.floor(host.memoryMb);
  const cpus = Math.floor(host.cpus);
  const { workload } = spec;
  const conns = spec.maxConnections;
  const dw = workload === "dw";
  const params: TunedParameter[] = [];
  const set = (name: string, value: string, reason: string) => params.push({ name, value, reason });

  // Connections and threads.
  set("max_connections", String(conns), "declared; each connection is a thread with its own session buffers");
  set("thread_cache_size", String(Math.min(conns, 256)), "max_connections up to 256: reconnecting clients reuse threads");

  // InnoDB memory.
  const pool = bufferPool(memMb, workload, conns);
  set("innodb_buffer_pool_size", formatMb(pool.mb), pool.why);
  const redoMb = clamp(Math.floor(pool.mb / 4 / 64) * 64, REDO_FLOOR_MB, REDO_CAP_MB[workload]);
  set(
    "innodb_log_file_size",
    formatMb(redoMb),
    `redo log (one file since 10.5): a quarter of the pool, ${REDO_FLOOR_MB}M..${formatMb(REDO_CAP_MB[workload])} for ${workload}: fewer checkpoint flushes under writes`,
  );
  const bigHost = memMb >= 4096;
  set(
    "innodb_log_buffer_size",
    bigHost ? "64M" : "16M",
    bigHost ? "a large transaction's redo stays in memory until commit" : "small host: the default 16M",
  );

  // InnoDB I/O.
  set("innodb_flush_method", "O_DIRECT", "data pages bypass the OS page cache: no double buffering (the pool is the cache)");
  const storage = STORAGE_PROFILES[host.storage];
  set("innodb_io_capacity", String(storage.ioCapacity), `${storage.why}: background flushing rate (pages/s)`);
  set("innodb_io_capacity_max", String(storage.ioCapacityMax), `${storage.why}: flushing rate when the redo log or dirty pages run short`);
  set(
    "innodb_flush_neighbors",
    storage.flushNeighbors ? "1" : "0",
    storage.flushNeighbors ? "hdd: flushing adjacent dirty pages saves seeks" : `${storage.why}: no seek to save, write only the page needed`,
  );
  const ioThreads = clamp(cpus, 4, 32);
  set("innodb_read_io_threads", String(ioThreads), "one per core, 4..32: asynchronous read completion");
  set("innodb_write_io_threads", String(ioThreads), "one per core, 4..32: asynchronous write completion");

  // Durability: given up only by an explicit override.
  set("innodb_flush_log_at_trx_commit", "1", "durable: the redo log is written and fsynced at every commit");
  set("sync_binlog", "1", "durable: the binary log is fsynced at every commit group (replicas and PITR match the data)");
  set("innodb_doublewrite", "ON", "durable: pages go through the doublewrite buffer first, so a torn page can be repaired");

  // Caches and per-session memory.
  const tableOpen = clamp(conns * 10, 2000, 16384);
  set("table_open_cache", String(tableOpen), "10 x max_connections, 2000..16384: open tables reused across sessions");
  set("table_definition_cache", String(400 + Math.floor(tableOpen / 2)), "400 + table_open_cache / 2 (MySQL 8's auto-sizing): table definitions kept parsed");
  const tmpMb = Math.max(16, Math.min(dw ? 256 : 64, Math.floor(memMb / 64)));
  set("tmp_table_size", formatMb(tmpMb), `${dw ? "dw: big GROUP BY / DISTINCT in memory" : "in-memory temporary tables up to this"}, at most RAM/64`);
  set("max_heap_table_size", formatMb(tmpMb), "= tmp_table_size: the smaller of the two caps an in-memory temporary table");
  set("sort_buffer_size", dw ? "4M" : "2M", dw ? "dw: per sort; bigger sorts stay in memory" : "the default 2M: per sort, bigger slows small sorts");
  set("join_buffer_size", dw ? "1M" : "256K", dw ? "dw: per join without index" : "the default 256K: per join without index; fix the index instead");
  set("query_cache_type", "OFF", "no query cache: its global mutex serialises every write");
  set("query_cache_size", "0", "no memory reserved for the query cache");
  set("innodb_adaptive_hash_index", "OFF", "the default since 10.5: its latches contend under concurrent writes");
  set("performance_schema", "OFF", "MariaDB's default: CPU and memory overhead always; enable by override (restart) to diagnose");

  return applyOverrides(params, spec.overrides);
}

/** Overrides replace computed values in place; overrides of other variables follow, sorted by name. */
function applyOverrides(params: TunedParameter[], overrides: Record<string, string>): TunedParameters {
  const declared = new Map(Object.entries(overrides).map(([name, value]) => [name, value.trim()]));
  const result = params.map((param) => {
    const value = declared.get(param.name);
    if (value === undefined) return param;
    declared.delete(param.name);
    return { name: param.name, value, reason: "declared in parameters" };
  });
  for (const name of [...declared.keys()].sort()) result.push({ name, value: declared.get(name)!, reason: "declared in parameters" });
  return result;
}
