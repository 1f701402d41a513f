/**
 * PGTune's recommendations, recomputed here so the benchmark can compare dbstack's tuning with the
 * configuration most operators would otherwise paste in.
 *
 * Source: PGTune by Alexey Vasiliev (le0pard), https://pgtune.leopard.in.ua, formulas as published
 * in github.com/le0pard/pgtune, src/features/configuration/configurationSlice.js (selectors) and
 * src/common/components/configurationView/index.jsx (which settings are printed and how values are
 * formatted), at commit 830d3bb (2026-06-09), the latest change to those formulas when this was
 * written. Re-implemented from the formulas, not copied; only what the benchmark needs: Linux, the
 * calculator's default "database size" answer (between shared_buffers and RAM), PostgreSQL 10 to 17.
 *
 * PGTune works in kB; values are printed in GB or MB only when that is exact, else in kB.
 */

/** PGTune's "DB Type". */
export type PgtuneDbType = "web" | "oltp" | "dw" | "desktop" | "mixed";
/** PGTune's "Data Storage". */
export type PgtuneStorage = "ssd" | "hdd" | "san" | "nvme";

export interface PgtuneInput {
  /** PostgreSQL major version (10 to 17: 18's asynchronous I/O settings are not modelled). */
  version: number;
  dbType: PgtuneDbType;
  /** Total memory in MiB (PGTune accepts MB as the unit). */
  memoryMb: number;
  cpus: number;
  maxConnections: number;
  storage: PgtuneStorage;
}

/** One line of PGTune's postgresql.conf output. */
export interface PgtuneSetting {
  name: string;
  value: string;
}

const KB_PER_MB = 1024;
const KB_PER_GB = 1024 * 1024;

/** GB or MB when exact, else kB (PGTune's display rule). */
export function formatKb(kb: number): string {
  if (kb % KB_PER_GB === 0) return `${kb / KB_PER_GB}GB`;
  if (kb % KB_PER_MB === 0) return `${kb / KB_PER_MB}MB`;
  return `${kb}kB`;
}

/** PGTune's settings, in the order its postgresql.conf tab prints them. */
export function pgtuneSettings(input: PgtuneInput): PgtuneSetting[] {
  const { version, dbType, cpus, maxConnections, storage } = input;
  if (!Number.isInteger(version) || version < 10 || version > 17) throw new Error(`pgtune: version ${version} is not modelled (10 to 17)`);
  if (!Number.isInteger(input.memoryMb) || input.memoryMb < 256) throw new Error(`pgtune: memoryMb must be a whole number >= 256, got ${input.memoryMb}`);
  if (!Number.isInteger(cpus) || cpus < 1) throw new Error(`pgtune: cpus must be a whole number >= 1, got ${cpus}`);
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new Error(`pgtune: maxConnections must be a whole number >= 1, got ${maxConnections}`);
  const memKb = input.memoryMb * KB_PER_MB;
  const desktop = dbType === "desktop";

  // A quarter of RAM for the buffer pool (a sixteenth on a desktop); the planner is told that
  // three quarters (a quarter) is cache.
  const sharedKb = Math.floor(memKb / (desktop ? 16 : 4));
  const cacheKb = Math.floor(desktop ? memKb / 4 : (memKb * 3) / 4);
  // RAM/16 (RAM/8 for dw), capped at 8GB on Linux.
  const maintenanceKb = Math.min(Math.floor(memKb / (dbType === "dw" ? 8 : 16)), 8 * KB_PER_GB);
  // 3% of shared_buffers, at most 16MB, rounded up to 16MB above 14MB, at least 32kB.
  let walBuffersKb = Math.min(Math.floor((3 * sharedKb) / 100), 16 * KB_PER_MB);
  if (walBuffersKb > 14 * KB_PER_MB) walBuffersKb = 16 * KB_PER_MB;
  walBuffersKb = Math.max(walBuffersKb, 32);

  // Parallel settings only from 4 CPUs: workers per gather = half the CPUs, at most 4 except dw.
  const parallel: PgtuneSetting[] = [];
  if (cpus >= 4) {
    const perGather = Math.ceil(cpus / 2);
    parallel.push({ name: "max_worker_processes", value: String(cpus) });
    parallel.push({ name: "max_parallel_workers_per_gather", value: String(dbType === "dw" ? perGather : Math.min(perGather, 4)) });
    parallel.push({ name: "max_parallel_workers", value: String(cpus) });
    if (version >= 11) parallel.push({ name: "max_parallel_maintenance_workers", value: String(Math.min(perGather, 4)) });
  }
  // work_mem: what shared_buffers leaves, over 3 allocations per connection and per worker process
  // (the CPUs when the parallel settings are printed, else PostgreSQL's default of 8 workers),
  // halved for dw and mixed, a sixth for desktop; at least 4MB.
  const workers = cpus >= 4 ? cpus : 8;
  const perAllocation = (memKb - sharedKb) / ((maxConnections + workers) * 3);
  const divisor = { web: 1, oltp: 1, dw: 2, mixed: 2, desktop: 6 }[dbType];
  const workKb = Math.max(Math.floor(perAllocation / divisor), 4 * KB_PER_MB);

  const wal = {
    web: [1024, 4096],
    oltp: [2048, 8192],
    dw: [4096, 16384],
    desktop: [100, 2048],
    mixed: [1024, 4096],
  }[dbType];

  const settings: Array<[string, string | undefined]> = [
    ["max_connections", String(maxConnections)],
    ["shared_buffers", formatKb(sharedKb)],
    ["effective_cache_size", formatKb(cacheKb)],
    ["maintenance_work_mem", formatKb(maintenanceKb)],
    ["checkpoint_completion_target", "0.9"],
    ["wal_buffers", formatKb(walBuffersKb)],
    ["default_statistics_target", dbType === "dw" ? "500" : "100"],
    // HDD: 4 (PostgreSQL's default); dw off HDD also 4, so the planner keeps sequential scans.
    ["random_page_cost", storage === "hdd" || dbType === "dw" ? "4" : "1.1"],
    ["effective_io_concurrency", String({ hdd: 2, ssd: 200, san: 300, nvme: 1000 }[storage])],
    ["work_mem", formatKb(workKb)],
    ["huge_pages", sharedKb >= 2 * KB_PER_GB ? "try" : "off"],
    ["jit", version >= 12 && (dbType === "web" || dbType === "oltp" || dbType === "mixed") ? "off" : undefined],
    ["wal_compression", version >= 15 ? "lz4" : "on"],
    ["autovacuum_max_workers", cpus >= 32 ? "5" : cpus >= 16 ? "4" : undefined],
    ["autovacuum_work_mem", maintenanceKb >= 2 * KB_PER_GB ? formatKb(2 * KB_PER_GB) : undefined],
    ["min_wal_size", formatKb(wal[0] * KB_PER_MB)],
    ["max_wal_size", formatKb(wal[1] * KB_PER_MB)],
  ];
  const out = settings.filter((s): s is [string, string] => s[1] !== undefined).map(([name, value]) => ({ name, value }));
  out.push(...parallel);
  if (desktop) out.push({ name: "wal_level", value: "minimal" }, { name: "max_wal_senders", value: "0" });
  return out;
}

/** The settings as a conf.d file (string values quoted where postgresql.conf needs it). */
export function renderPgtuneConf(input: PgtuneInput): string {
  const header = [
    `# PGTune (https://pgtune.leopard.in.ua) for: DB Version ${input.version}, OS linux, DB Type ${input.dbType},`,
    `# Total Memory ${input.memoryMb} MB, CPUs ${input.cpus}, Connections ${input.maxConnections}, Data Storage ${input.storage}.`,
    "# Written by dbstack's bench/postgres.ts (formulas in bench/lib/pgtune.ts).",
  ];
  const lines = pgtuneSettings(input).map(({ name, value }) => `${name} = ${/^[0-9.]+$/.test(value) ? value : `'${value}'`}`);
  return `${[...header, "", ...lines].join("\n")}\n`;
}
