/**
 * PostgreSQL tuning: a pure, deterministic function of the host facts and the tuning spec.
 *
 * computeTuning() returns the parameters an operator would set by hand on a dedicated database
 * host, each with the value as written in postgresql.conf and a one-line reason a reviewer reads
 * in a diff. renderTuningConf() turns them into the text of a conf.d file.
 *
 * The formulas (documented in the README, section "PostgreSQL tuning"):
 * - shared_buffers 25% of RAM, capped at 32GB; effective_cache_size 75% of RAM.
 * - work_mem (RAM - shared_buffers) / (3 x max_connections x parallel workers per gather),
 *   between 4MB (PostgreSQL's default) and 1GB.
 * - maintenance_work_mem RAM/16 capped at 2GB; autovacuum_work_mem 1GB when that is lower.
 * - WAL sizes and checkpoint_timeout by workload; page cost and I/O concurrency by storage;
 *   parallel workers from the cores, fewer per query for web/oltp; jit off for web/oltp.
 * Declared overrides replace computed values (they do not feed back into the formulas).
 *
 * Durable write settings are left at PostgreSQL's defaults on purpose. Measured one at a time
 * against this tuning (pgbench scale 50, 8 clients, 2 cores, SSD whose 8kB fdatasync takes
 * ~25us): commit_delay 10/100/1000us (commit_siblings 5), wal_sync_method open_datasync /
 * open_sync / fsync, wal_buffers 64MB, wal_compression off / zstd, wal_writer_delay 10ms and 1s,
 * checkpoint_flush_after/bgwriter_flush_after 0, checkpoint_timeout 60min, bgwriter off: none
 * beat the run-to-run noise (+-30% on a shared host), and commit_delay >= 100us lost. The gap to
 * the durability-off ceiling is synchronous_commit's wait for the WAL flush (synchronous_commit
 * off alone reaches the ceiling, full_page_writes off alone does not move), which only group
 * commit can shrink, and group commit did not pay at this client count. Huge pages stay 'try':
 * they need vm.nr_hugepages reserved by the host's operator.
 */
import type { HostFacts, StorageKind, TuningSpec, Workload } from "./spec";

export type { TunedParameter, TunedParameters } from "../../model/tuning";
import type { TunedParameter, TunedParameters } from "../../model/tuning";

/** Input bounds. */
export const TUNING_LIMITS = {
  minMemoryMb: 256,
  minCpus: 1,
  minConnections: 1,
  maxConnections: 10_000,
  minVersion: 12,
  maxVersion: 18,
} as const;

const STORAGE_KINDS: readonly StorageKind[] = ["ssd", "hdd", "network"];
const WORKLOADS: readonly Workload[] = ["web", "oltp", "dw", "mixed"];

/**
 * Beyond ~32GB a bigger buffer pool mostly duplicates the OS page cache (double buffering) while
 * checkpoints, buffer-mapping and huge-page reservations grow; raise it with an override after
 * measuring the hit ratio.
 */
const SHARED_BUFFERS_CAP_MB = 32 * 1024;
/** Index builds and vacuum gain little beyond 2GB. */
const MAINTENANCE_WORK_MEM_CAP_MB = 2 * 1024;
/** Per autovacuum worker (3 by default); before PostgreSQL 17 vacuum cannot use more than 1GB. */
const AUTOVACUUM_WORK_MEM_CAP_MB = 1024;
/** PostgreSQL's own default: below it, ordinary sorts and hashes spill to temp files. */
const WORK_MEM_FLOOR_MB = 4;
/** Larger single sorts rarely pay; big reports can SET work_mem per session. */
const WORK_MEM_CAP_MB = 1024;
/** What wal_buffers = -1 picks at most: one 16MB WAL segment. */
const WAL_BUFFERS_CAP_MB = 16;
/** Hosts below this get PostgreSQL's default WAL sizes: a small host is assumed to have a small disk. */
const SMALL_HOST_MB = 2048;
/** Sort/hash allocations assumed per connection at once (the usual rule of thumb). */
const ALLOCATIONS_PER_CONNECTION = 3;
/** Background workers kept free for logical replication and extensions (pg_cron, ...). */
const SPARE_WORKER_PROCESSES = 4;

interface WalProfile {
  minWalMb: number;
  maxWalMb: number;
  checkpointTimeout: string;
  why: string;
}

const WAL_BY_WORKLOAD: Record<Workload, WalProfile> = {
  web: { minWalMb: 1024, maxWalMb: 4096, checkpointTimeout: "15min", why: "web" },
  mixed: { minWalMb: 1024, maxWalMb: 4096, checkpointTimeout: "15min", why: "mixed" },
  oltp: { minWalMb: 2048, maxWalMb: 8192, checkpointTimeout: "15min", why: "oltp: write-heavy" },
  dw: { minWalMb: 4096, maxWalMb: 16384, checkpointTimeout: "30min", why: "dw: bulk loads" },
};

interface StorageProfile {
  randomPageCost: string;
  ioConcurrency: number;
  costWhy: string;
  ioWhy: string;
}

const STORAGE_PROFILES: Record<StorageKind, StorageProfile> = {
  ssd: {
    randomPageCost: "1.1",
    ioConcurrency: 200,
    costWhy: "ssd: a random read costs about as much as a sequential one",
    ioWhy: "ssd: many reads in flight (prefetch via posix_fadvise, which Linux has)",
  },
  hdd: {
    randomPageCost: "4.0",
    ioConcurrency: 2,
    costWhy: "hdd: a seek costs ~4x a sequential read (PostgreSQL's default)",
    ioWhy: "hdd: one spindle serves few reads at once (prefetch via posix_fadvise)",
  },
  network: {
    randomPageCost: "1.5",
    ioConcurrency: 300,
    costWhy: "network storage: flash-backed, but each random read pays a round trip",
    ioWhy: "network storage: deep queues hide latency (prefetch via posix_fadvise)",
  },
};

function fail(field: string, message: string): never {
  throw new Error(`${field}: ${message}`);
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** A GUC name as postgresql.conf's lexer accepts it: an identifier, or extension.identifier. */
const PARAMETER_NAME = /^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?$/;

function validate(host: HostFacts, spec: TuningSpec): void {
  const L = TUNING_LIMITS;
  if (typeof host.memoryMb !== "number" || !Number.isFinite(host.memoryMb) || host.memoryMb < L.minMemoryMb) {
    fail("memoryMb", `must be a number of MiB >= ${L.minMemoryMb}, got ${show(host.memoryMb)}`);
  }
  if (typeof host.cpus !== "number" || !Number.isFinite(host.cpus) || host.cpus < L.minCpus) {
    fail("cpus", `must be a number >= ${L.minCpus}, got ${show(host.cpus)}`);
  }
  if (!STORAGE_KINDS.includes(host.storage)) {
    fail("storage", `must be one of ${STORAGE_KINDS.join(", ")}, got ${show(host.storage)}`);
  }
  if (!WORKLOADS.includes(spec.workload)) {
    fail("workload", `must be one of ${WORKLOADS.join(", ")}, got ${show(spec.workload)}`);
  }
  if (
    !Number.isInteger(spec.maxConnections) ||
    spec.maxConnections < L.minConnections ||
    spec.maxConnections > L.maxConnections
  ) {
    fail("maxConnections", `must be an integer from ${L.minConnections} to ${L.maxConnections}, got ${show(spec.maxConnections)}`);
  }
  if (!Number.isInteger(spec.version) || spec.version < L.minVersion || spec.version > L.maxVersion) {
    fail("version", `must be a PostgreSQL major version from ${L.minVersion} to ${L.maxVersion}, got ${show(spec.version)}`);
  }
  if (typeof spec.overrides !== "object" || spec.overrides === null || Array.isArray(spec.overrides)) {
    fail("overrides", `must be an object of parameter name to value, got ${show(spec.overrides)}`);
  }
  const problem = overridesProblem(spec.overrides);
  if (problem) fail("overrides", problem);
}

/**
 * Why declared parameter overrides cannot be written to postgresql.conf, or undefined. The one
 * rule for them: components check it before registering anything, tuning again when it runs.
 */
export function overridesProblem(overrides: Record<string, string>): string | undefined {
  const seen = new Set<string>();
  for (const [rawName, value] of Object.entries(overrides)) {
    const name = rawName.trim().toLowerCase();
    if (!PARAMETER_NAME.test(name)) return `${show(rawName)} is not a parameter name (letters, digits, _; optionally extension.name)`;
    if (seen.has(name)) return `${name} is declared more than once (names are case-insensitive)`;
    seen.add(name);
    if (typeof value !== "string" || value.trim() === "") return `${name} needs a value as written in postgresql.conf, got ${show(value)}`;
    // A newline would start another line of the file; no control character belongs in a value.
    if (/[\x00-\x1f\x7f]/.test(value)) return `${name}: the value must be a single line without control characters`;
  }
  return undefined;
}

/** Whole MB written with the largest unit PostgreSQL accepts that keeps it exact. */
export function formatMb(mb: number): string {
  const whole = Math.floor(mb);
  return whole > 0 && whole % 1024 === 0 ? `${whole / 1024}GB` : `${whole}MB`;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** Parallel workers one Gather node may use. */
function workersPerGather(workload: Workload, cpus: number): number {
  if (cpus < 2) return 0;
  switch (workload) {
    case "web":
    case "oltp":
      // Many short concurrent queries: parallelism steals the cores other sessions need.
      return clamp(Math.floor(cpus / 4), 1, 2);
    case "mixed":
      return clamp(Math.floor(cpus / 2), 1, 4);
    case "dw":
      return clamp(Math.floor(cpus / 2), 1, 8);
  }
}

/**
 * The parameters for a host and spec, in rendering order. Throws an Error whose message starts
 * with the offending field ("memoryMb: ...") when an input is out of range.
 */
export function computeTuning(host: HostFacts, spec: TuningSpec): TunedParameters {
  validate(host, spec);
  const memMb = Math.floor(host.memoryMb);
  const cpus = Math.floor(host.cpus);
  const { workload, version } = spec;
  const conns = spec.maxConnections;
  const params: TunedParameter[] = [];
  const set = (name: string, value: string, reason: string) => params.push({ name, value, reason });

  set("max_connections", String(conns), "declared; each connection is a process: put a pooler in front beyond a few hundred");

  // Memory.
  const sharedMb = Math.min(Math.floor(memMb / 4), SHARED_BUFFERS_CAP_MB);
  set(
    "shared_buffers",
    formatMb(sharedMb),
    sharedMb === SHARED_BUFFERS_CAP_MB
      ? "25% of RAM, capped at 32GB: beyond that the OS page cache does as well"
      : "25% of RAM; the OS page cache holds the rest of the hot data",
  );
  set("huge_pages", "'try'", "use huge pages when the kernel has them reserved (vm.nr_hugepages), else normal pages");
  set("effective_cache_size", formatMb((memMb * 3) / 4), "planner hint, allocates nothing: shared_buffers + OS cache ~ 75% of RAM");

  const gather = workersPerGather(workload, cpus);
  const rawWorkMb = (memMb - sharedMb) / (ALLOCATIONS_PER_CONNECTION * conns * Math.max(1, gather));
  const flooredWorkMb = Math.floor(rawWorkMb);
  const workMb = clamp(flooredWorkMb, WORK_MEM_FLOOR_MB, WORK_MEM_CAP_MB);
  const workFormula = `(${memMb}MB - ${sharedMb}MB) / (3 x ${conns} conns x ${Math.max(1, gather)} per gather)`;
  set(
    "work_mem",
    formatMb(workMb),
    flooredWorkMb < WORK_MEM_FLOOR_MB
      ? `${workFormula} is below PostgreSQL's 4MB default: floored (use a pooler)`
      : flooredWorkMb > WORK_MEM_CAP_MB
        ? `${workFormula}, capped at 1GB (SET work_mem per session for big reports)`
        : workFormula,
  );

  const maintenanceMb = Math.min(Math.floor(memMb / 16), MAINTENANCE_WORK_MEM_CAP_MB);
  set(
    "maintenance_work_mem",
    formatMb(maintenanceMb),
    maintenanceMb === MAINTENANCE_WORK_MEM_CAP_MB
      ? "RAM/16, capped at 2GB: index builds and VACUUM gain little beyond"
      : "RAM/16: faster VACUUM, CREATE INDEX and restores",
  );
  if (maintenanceMb > AUTOVACUUM_WORK_MEM_CAP_MB) {
    set(
      "autovacuum_work_mem",
      formatMb(AUTOVACUUM_WORK_MEM_CAP_MB),
      "per autovacuum worker (3 by default); 1GB holds plenty of dead tuples (the most vacuum used before 17)",
    );
  }

  // WAL and checkpoints.
  set(
    "wal_buffers",
    formatMb(clamp(Math.floor(sharedMb / 32), 1, WAL_BUFFERS_CAP_MB)),
    "shared_buffers/32, at most one 16MB WAL segment (what -1 would pick, written out)",
  );
  set(
    "wal_compression",
    version >= 15 ? "'lz4'" : "on",
    version >= 15
      ? "compress full-page images: less WAL I/O and archive for a little CPU (lz4, PG 15+)"
      : "compress full-page images (pglz): less WAL I/O and archive for a little CPU",
  );
  const wal = WAL_BY_WORKLOAD[workload];
  const small = memMb < SMALL_HOST_MB;
  set(
    "min_wal_size",
    formatMb(small ? 256 : wal.minWalMb),
    small ? "small host, small disk assumed: keep little WAL recycled" : `${wal.why}: WAL kept for recycling instead of re-creating segments`,
  );
  set(
    "max_wal_size",
    formatMb(small ? 1024 : wal.maxWalMb),
    small
      ? "small host, small disk assumed: PostgreSQL's 1GB default"
      : `${wal.why}: checkpoints come from checkpoint_timeout, not WAL volume`,
  );
  set(
    "checkpoint_timeout",
    wal.checkpointTimeout,
    `${wal.why}: fewer checkpoints, fewer full-page writes; bounds crash recovery time`,
  );
  set("checkpoint_completion_target", "0.9", "spread checkpoint writes over 90% of the interval (the default since 14)");

  // Planner and I/O.
  const storage = STORAGE_PROFILES[host.storage];
  set("random_page_cost", storage.randomPageCost, storage.costWhy);
  set("effective_io_concurrency", String(storage.ioConcurrency), storage.ioWhy);
  if (version >= 13) {
    set(
      "maintenance_io_concurrency",
      String(Math.max(storage.ioConcurrency, 10)),
      "prefetch depth for VACUUM, ANALYZE and WAL replay, as for queries (at least the default 10)",
    );
  }
  set(
    "default_statistics_target",
    workload === "dw" ? "500" : "100",
    workload === "dw"
      ? "dw: finer statistics for big, skewed tables are worth the slower ANALYZE"
      : "PostgreSQL's default: enough for short, selective queries",
  );
  const jitOff = workload === "web" || workload === "oltp";
  set(
    "jit",
    jitOff ? "off" : "on",
    jitOff
      ? `${workload}: JIT compile time (tens of ms) costs more than it saves on short queries`
      : `${workload}: JIT pays off for long analytic queries`,
  );

  // Parallelism.
  set(
    "max_worker_processes",
    String(Math.max(8, cpus + SPARE_WORKER_PROCESSES)),
    "one per core for parallel queries + 4 for logical replication and extensions; at least the default 8",
  );
  set("max_parallel_workers", String(cpus), "parallel workers in all: one per core");
  set(
    "max_parallel_workers_per_gather",
    String(gather),
    cpus < 2
      ? "one core: parallel query cannot help"
      : jitOff
        ? `${workload}: many concurrent short queries, so few workers per query (cores/4, 1..2)`
        : `${workload}: long queries split across cores (cores/2, up to ${workload === "dw" ? 8 : 4})`,
  );
  set(
    "max_parallel_maintenance_workers",
    String(cpus < 2 ? 0 : clamp(Math.floor(cpus / 2), 1, 4)),
    cpus < 2 ? "one core: parallel index builds cannot help" : "parallel CREATE INDEX and VACUUM: cores/2, up to 4",
  );

  // Logging an operator wants.
  set(
    "log_min_duration_statement",
    workload === "dw" ? "10s" : "1s",
    workload === "dw" ? "dw: log statements slower than 10s" : "log statements slower than 1s, with their duration",
  );
  set("log_checkpoints", "on", "checkpoint frequency and duration in the log (the default since 15)");
  set("log_lock_waits", "on", "log lock waits longer than deadlock_timeout (1s)");
  set("log_temp_files", "0", "log every temp file: the sign that work_mem is too small");
  set("log_autovacuum_min_duration", "10s", "log autovacuum runs longer than 10s: the tables it struggles with");
  set("log_statement", "'none'", "not 'all': it logs every statement with its literals, passwords included");

  return applyOverrides(params, spec.overrides);
}

/** Overrides replace computed values in place; overrides of other parameters follow, sorted by name. */
function applyOverrides(params: TunedParameter[], overrides: Record<string, string>): TunedParameters {
  const declared = new Map<string, string>();
  for (const [name, value] of Object.entries(overrides)) declared.set(name.trim().toLowerCase(), value.trim());
  const result = params.map((param) => {
    const value = declared.get(param.name);
    if (value === undefined) return param;
    declared.delete(param.name);
    return { name: param.name, value, reason: "declared override" };
  });
  const others = [...declared.keys()].sort();
  for (const name of others) result.push({ name, value: declared.get(name)!, reason: "declared override" });
  return result;
}

/** The parameters as a name -> value map (for needsRestart and pg_settings checks). */
export function tuningValues(params: TunedParameters): Record<string, string> {
  const values: Record<string, string> = {};
  for (const param of params) values[param.name] = param.value;
  return values;
}

/** The text of a conf.d file: a header, then one `name = value  # reason` line per parameter. */
export function renderTuningConf(params: TunedParameters): string {
  const lines = [
    "# Rendered by dbstack (components/engines/postgres/tuning.ts). Do not edit: the next deploy",
    "# overwrites this file. Declare an override in the stack instead.",
    "",
  ];
  for (const { name, value, reason } of params) {
    const comment = reason.replace(/[\r\n]+/g, " ").trim();
    lines.push(comment ? `${name} = ${value}  # ${comment}` : `${name} = ${value}`);
  }
  return `${lines.join("\n")}\n`;
}
