import { describe, expect, it } from "vitest";
import { needsRestart, RESTART_PARAMETERS, restartParameters } from "../../components/engines/postgres/parameters";
import type { HostFacts, TuningSpec } from "../../components/engines/postgres/spec";
import {
  computeTuning,
  formatMb,
  renderTuningConf,
  tuningValues,
  type TunedParameters,
} from "../../components/engines/postgres/tuning";

function host(overrides: Partial<HostFacts> = {}): HostFacts {
  return { memoryMb: 4096, cpus: 2, storage: "ssd", ...overrides };
}

function spec(overrides: Partial<TuningSpec> = {}): TuningSpec {
  return { workload: "web", maxConnections: 200, version: 15, overrides: {}, ...overrides };
}

function values(h: Partial<HostFacts> = {}, s: Partial<TuningSpec> = {}): Record<string, string> {
  return tuningValues(computeTuning(host(h), spec(s)));
}

/** Sizes as written ("5MB", "1GB") in MB, to compare across hosts. */
function mb(value: string): number {
  const m = /^(\d+)(MB|GB)$/.exec(value);
  if (!m) throw new Error(`not a size in MB or GB: ${value}`);
  return Number(m[1]) * (m[2] === "GB" ? 1024 : 1);
}

function errorOf(h: Partial<HostFacts>, s: Partial<TuningSpec> = {}): string {
  try {
    computeTuning(host(h), spec(s));
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`computeTuning accepted ${JSON.stringify({ h, s })}`);
}

describe("computeTuning: the seed's 4 GB table (multimax-database-setup.md, Tuning)", () => {
  const v = values();

  it("reproduces the seed's values where they are sound", () => {
    expect(v.max_connections).toBe("200");
    expect(v.shared_buffers).toBe("1GB"); // 25% of RAM
    expect(v.effective_cache_size).toBe("3GB"); // 75% of RAM
    // (4096MB - 1024MB shared_buffers) / (3 allocations x 200 connections x 1 worker per gather) = 5.12MB
    expect(v.work_mem).toBe("5MB");
    expect(v.maintenance_work_mem).toBe("256MB"); // RAM/16
    expect(v.random_page_cost).toBe("1.1");
    expect(v.effective_io_concurrency).toBe("200");
    // The seed's log_min_duration_statement = 1000 (ms) is the same threshold.
    expect(v.log_min_duration_statement).toBe("1s");
  });

  it("differs from the seed on log_statement on purpose", () => {
    // The seed sets log_statement = 'all'. dbstack does not: 'all' writes every statement with its
    // literals to the log (ALTER ROLE ... PASSWORD included), and on a busy server the log volume
    // costs I/O and disk. Slow statements are caught by log_min_duration_statement instead.
    expect(v.log_statement).toBe("'none'");
  });

  it("sets what the seed leaves at PostgreSQL's defaults", () => {
    expect(v).toMatchObject({
      huge_pages: "'try'",
      wal_buffers: "16MB",
      wal_compression: "'lz4'",
      min_wal_size: "1GB",
      max_wal_size: "4GB",
      checkpoint_timeout: "15min",
      checkpoint_completion_target: "0.9",
      maintenance_io_concurrency: "200",
      default_statistics_target: "100",
      jit: "off",
      max_worker_processes: "8",
      max_parallel_workers: "2",
      max_parallel_workers_per_gather: "1",
      max_parallel_maintenance_workers: "1",
      log_checkpoints: "on",
      log_lock_waits: "on",
      log_temp_files: "0",
      log_autovacuum_min_duration: "10s",
    });
    // maintenance_work_mem is well under 1GB: autovacuum_work_mem stays at -1 (= maintenance_work_mem).
    expect(v.autovacuum_work_mem).toBeUndefined();
  });

  it("gives every parameter a one-line reason and names each parameter once", () => {
    const params = computeTuning(host(), spec());
    const names = params.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    for (const p of params) {
      expect(p.reason.length).toBeGreaterThan(0);
      expect(p.reason).not.toMatch(/[\r\n]/);
      expect(p.name).toMatch(/^[a-z_]+$/);
    }
    expect(names.slice(0, 3)).toEqual(["max_connections", "shared_buffers", "huge_pages"]);
  });
});

describe("computeTuning: scaling", () => {
  it("16 GB / 8 cpus: dw gets more parallelism, statistics and WAL than oltp; jit only for dw", () => {
    const oltp = values({ memoryMb: 16384, cpus: 8 }, { workload: "oltp", maxConnections: 200 });
    const dw = values({ memoryMb: 16384, cpus: 8 }, { workload: "dw", maxConnections: 40 });
    for (const v of [oltp, dw]) {
      expect(v.shared_buffers).toBe("4GB");
      expect(v.effective_cache_size).toBe("12GB");
      expect(v.maintenance_work_mem).toBe("1GB");
      expect(v.max_worker_processes).toBe("12");
      expect(v.max_parallel_workers).toBe("8");
      expect(v.max_parallel_maintenance_workers).toBe("4");
    }
    expect(oltp.max_parallel_workers_per_gather).toBe("2");
    expect(dw.max_parallel_workers_per_gather).toBe("4");
    // (16384 - 4096) / (3 x 200 x 2) = 10.24; (16384 - 4096) / (3 x 40 x 4) = 25.6
    expect(oltp.work_mem).toBe("10MB");
    expect(dw.work_mem).toBe("25MB");
    expect(oltp.default_statistics_target).toBe("100");
    expect(dw.default_statistics_target).toBe("500");
    expect([oltp.min_wal_size, oltp.max_wal_size, oltp.checkpoint_timeout]).toEqual(["2GB", "8GB", "15min"]);
    expect([dw.min_wal_size, dw.max_wal_size, dw.checkpoint_timeout]).toEqual(["4GB", "16GB", "30min"]);
    expect(oltp.jit).toBe("off");
    expect(dw.jit).toBe("on");
    expect(oltp.log_min_duration_statement).toBe("1s");
    expect(dw.log_min_duration_statement).toBe("10s");
  });

  it("same host and connections: a parallel dw query may use more processes, so work_mem per process is lower", () => {
    const oltp = values({ memoryMb: 16384, cpus: 8 }, { workload: "oltp", maxConnections: 100 });
    const dw = values({ memoryMb: 16384, cpus: 8 }, { workload: "dw", maxConnections: 100 });
    expect(mb(dw.work_mem)).toBeLessThan(mb(oltp.work_mem));
  });

  it("mixed sits between web and dw", () => {
    const mixed = values({ memoryMb: 16384, cpus: 8 }, { workload: "mixed" });
    expect(mixed.max_parallel_workers_per_gather).toBe("4");
    expect(mixed.jit).toBe("on");
    expect(mixed.max_wal_size).toBe("4GB");
    expect(mixed.default_statistics_target).toBe("100");
  });

  it("storage decides random_page_cost and effective_io_concurrency", () => {
    const ssd = values({ storage: "ssd" });
    const hdd = values({ storage: "hdd" });
    const network = values({ storage: "network" });
    expect([ssd.random_page_cost, ssd.effective_io_concurrency]).toEqual(["1.1", "200"]);
    expect([hdd.random_page_cost, hdd.effective_io_concurrency]).toEqual(["4.0", "2"]);
    expect([network.random_page_cost, network.effective_io_concurrency]).toEqual(["1.5", "300"]);
    expect(hdd.maintenance_io_concurrency).toBe("10"); // never below PostgreSQL's default
    // Nothing else depends on storage.
    const rest = (v: Record<string, string>) => {
      const { random_page_cost, effective_io_concurrency, maintenance_io_concurrency, ...others } = v;
      return others;
    };
    expect(rest(hdd)).toEqual(rest(ssd));
    expect(rest(network)).toEqual(rest(ssd));
  });

  it("a tiny host (512 MB, 1 cpu) gets sane floors", () => {
    const v = values({ memoryMb: 512, cpus: 1, storage: "hdd" }, { maxConnections: 100 });
    expect(v.shared_buffers).toBe("128MB");
    expect(v.effective_cache_size).toBe("384MB");
    // (512 - 128) / (3 x 100) = 1.28MB: floored at PostgreSQL's 4MB default.
    expect(v.work_mem).toBe("4MB");
    expect(v.maintenance_work_mem).toBe("32MB");
    expect(v.wal_buffers).toBe("4MB");
    expect([v.min_wal_size, v.max_wal_size]).toEqual(["256MB", "1GB"]);
    expect(v.max_parallel_workers_per_gather).toBe("0");
    expect(v.max_parallel_maintenance_workers).toBe("0");
    expect(v.max_parallel_workers).toBe("1");
    expect(v.max_worker_processes).toBe("8");
    const workMem = computeTuning(host({ memoryMb: 512, cpus: 1 }), spec({ maxConnections: 100 })).find((p) => p.name === "work_mem")!;
    expect(workMem.reason).toMatch(/floored/);
  });

  it("the smallest host accepted (256 MB) still gets valid sizes", () => {
    const v = values({ memoryMb: 256, cpus: 1 }, { maxConnections: 10_000 });
    expect(v.shared_buffers).toBe("64MB");
    expect(v.work_mem).toBe("4MB");
    expect(v.maintenance_work_mem).toBe("16MB");
    expect(v.wal_buffers).toBe("2MB");
    expect(v.max_connections).toBe("10000");
  });

  it("a huge host is capped: shared_buffers 32GB, maintenance_work_mem 2GB, autovacuum_work_mem 1GB, work_mem 1GB", () => {
    const v = values({ memoryMb: 1024 * 1024, cpus: 128 }, { workload: "dw", maxConnections: 10 });
    expect(v.shared_buffers).toBe("32GB");
    expect(v.effective_cache_size).toBe("768GB");
    expect(v.maintenance_work_mem).toBe("2GB");
    expect(v.autovacuum_work_mem).toBe("1GB");
    expect(v.work_mem).toBe("1GB");
    expect(v.wal_buffers).toBe("16MB");
    expect(v.max_parallel_workers_per_gather).toBe("8");
    expect(v.max_parallel_maintenance_workers).toBe("4");
    expect(v.max_parallel_workers).toBe("128");
    expect(v.max_worker_processes).toBe("132");
    const web = values({ memoryMb: 1024 * 1024, cpus: 128 }, { workload: "web", maxConnections: 500 });
    expect(web.max_parallel_workers_per_gather).toBe("2");
  });

  it("caps hold across a sweep of hosts; sizes are whole MB in units PostgreSQL accepts", () => {
    const memories = [256, 300, 512, 1000, 2047, 2048, 4096, 6144, 16384, 65536, 131072, 262144, 1048576];
    const sizeNames = [
      "shared_buffers",
      "effective_cache_size",
      "work_mem",
      "maintenance_work_mem",
      "autovacuum_work_mem",
      "wal_buffers",
      "min_wal_size",
      "max_wal_size",
    ];
    for (const memoryMb of memories) {
      for (const workload of ["web", "oltp", "dw", "mixed"] as const) {
        for (const cpus of [1, 2, 3, 8, 64]) {
          for (const maxConnections of [1, 20, 200, 10_000]) {
            const v = values({ memoryMb, cpus }, { workload, maxConnections });
            for (const name of sizeNames) {
              if (v[name] !== undefined) expect(v[name], `${name} at ${memoryMb}MB`).toMatch(/^[1-9]\d*(MB|GB)$/);
            }
            expect(mb(v.shared_buffers)).toBeLessThanOrEqual(Math.min(memoryMb / 4, 32 * 1024));
            expect(mb(v.maintenance_work_mem)).toBeLessThanOrEqual(2048);
            expect(mb(v.work_mem)).toBeGreaterThanOrEqual(4);
            expect(mb(v.work_mem)).toBeLessThanOrEqual(1024);
            expect(mb(v.wal_buffers)).toBeLessThanOrEqual(16);
            expect(mb(v.min_wal_size)).toBeLessThan(mb(v.max_wal_size));
            expect(Number(v.max_parallel_workers_per_gather)).toBeLessThanOrEqual(Number(v.max_parallel_workers));
            expect(Number(v.max_parallel_workers)).toBeLessThanOrEqual(Number(v.max_worker_processes));
          }
        }
      }
    }
  });

  it("follows the version: wal_compression method, maintenance_io_concurrency from 13", () => {
    expect(values({}, { version: 12 }).wal_compression).toBe("on");
    expect(values({}, { version: 14 }).wal_compression).toBe("on");
    expect(values({}, { version: 15 }).wal_compression).toBe("'lz4'");
    expect(values({}, { version: 18 }).wal_compression).toBe("'lz4'");
    expect(values({}, { version: 12 }).maintenance_io_concurrency).toBeUndefined();
    expect(values({}, { version: 13 }).maintenance_io_concurrency).toBe("200");
  });

  it("formats sizes with the largest exact unit", () => {
    expect(formatMb(1024)).toBe("1GB");
    expect(formatMb(1536)).toBe("1536MB");
    expect(formatMb(5.9)).toBe("5MB");
    expect(formatMb(3072)).toBe("3GB");
  });
});

describe("computeTuning: overrides", () => {
  it("a declared override replaces the computed value in place", () => {
    const params = computeTuning(host(), spec({ overrides: { shared_buffers: "2GB", work_mem: "16MB" } }));
    const computed = computeTuning(host(), spec());
    expect(params.map((p) => p.name)).toEqual(computed.map((p) => p.name));
    expect(params.find((p) => p.name === "shared_buffers")).toEqual({ name: "shared_buffers", value: "2GB", reason: "declared override" });
    expect(params.find((p) => p.name === "work_mem")).toEqual({ name: "work_mem", value: "16MB", reason: "declared override" });
    // Overrides do not feed back into the formulas.
    expect(tuningValues(params).effective_cache_size).toBe("3GB");
  });

  it("the seed's log_statement = 'all' can still be declared", () => {
    expect(values({}, { overrides: { log_statement: "'all'" } }).log_statement).toBe("'all'");
  });

  it("an override of a parameter dbstack does not compute is still emitted, after the computed ones, sorted", () => {
    const params = computeTuning(
      host(),
      spec({ overrides: { "pg_stat_statements.max": "10000", shared_preload_libraries: "'pg_stat_statements'", idle_in_transaction_session_timeout: "5min" } }),
    );
    expect(params.slice(-3)).toEqual([
      { name: "idle_in_transaction_session_timeout", value: "5min", reason: "declared override" },
      { name: "pg_stat_statements.max", value: "10000", reason: "declared override" },
      { name: "shared_preload_libraries", value: "'pg_stat_statements'", reason: "declared override" },
    ]);
  });

  it("override names are case-insensitive, like PostgreSQL's", () => {
    const v = values({}, { overrides: { Work_Mem: "64MB" } });
    expect(v.work_mem).toBe("64MB");
    expect(v.Work_Mem).toBeUndefined();
  });

  it("rejects overrides that would corrupt the conf file", () => {
    expect(errorOf({}, { overrides: { "work_mem = 1GB\nshared_buffers": "1" } })).toMatch(/^overrides: /);
    expect(errorOf({}, { overrides: { work_mem: "1GB\nshared_buffers = 64GB" } })).toMatch(/^overrides: work_mem/);
    expect(errorOf({}, { overrides: { work_mem: "  " } })).toMatch(/^overrides: work_mem/);
    expect(errorOf({}, { overrides: { work_mem: "1MB", WORK_MEM: "2MB" } })).toMatch(/^overrides: work_mem is declared more than once/);
  });
});

describe("computeTuning and renderTuningConf: determinism", () => {
  it("the same input gives identical conf text", () => {
    const h = host({ memoryMb: 16384, cpus: 8, storage: "network" });
    const s = spec({ workload: "oltp", overrides: { b_param: "1", a_param: "2", work_mem: "8MB" } });
    const first = renderTuningConf(computeTuning(h, s));
    const second = renderTuningConf(computeTuning({ ...h }, { ...s, overrides: { work_mem: "8MB", a_param: "2", b_param: "1" } }));
    expect(second).toBe(first);
  });

  it("does not mutate its inputs", () => {
    const h = host();
    const s = spec({ overrides: { Work_Mem: " 8MB " } });
    const snapshot = JSON.stringify([h, s]);
    computeTuning(h, s);
    expect(JSON.stringify([h, s])).toBe(snapshot);
  });

  it("renders a header and one `name = value  # reason` line per parameter", () => {
    const params: TunedParameters = [
      { name: "shared_buffers", value: "1GB", reason: "25% of RAM" },
      { name: "jit", value: "off", reason: "web" },
    ];
    expect(renderTuningConf(params)).toBe(
      [
        "# Rendered by dbstack (components/engines/postgres/tuning.ts). Do not edit: the next deploy",
        "# overwrites this file. Declare an override in the stack instead.",
        "",
        "shared_buffers = 1GB  # 25% of RAM",
        "jit = off  # web",
        "",
      ].join("\n"),
    );
  });

  it("the rendered file has a line for every parameter, in order", () => {
    const params = computeTuning(host(), spec());
    const lines = renderTuningConf(params).split("\n").filter((line) => line !== "" && !line.startsWith("#"));
    expect(lines).toHaveLength(params.length);
    expect(lines[1]).toBe("shared_buffers = 1GB  # 25% of RAM; the OS page cache holds the rest of the hot data");
    lines.forEach((line, i) => expect(line.startsWith(`${params[i].name} = ${params[i].value}  # `)).toBe(true));
  });
});

describe("computeTuning: input validation names the field", () => {
  it.each([
    [{ memoryMb: 255 }, {}, "memoryMb"],
    [{ memoryMb: Number.NaN }, {}, "memoryMb"],
    [{ memoryMb: "4096" as unknown as number }, {}, "memoryMb"],
    [{ cpus: 0 }, {}, "cpus"],
    [{ cpus: Number.POSITIVE_INFINITY }, {}, "cpus"],
    [{ storage: "nvme" as unknown as HostFacts["storage"] }, {}, "storage"],
    [{}, { workload: "batch" as unknown as TuningSpec["workload"] }, "workload"],
    [{}, { maxConnections: 0 }, "maxConnections"],
    [{}, { maxConnections: 10_001 }, "maxConnections"],
    [{}, { maxConnections: 20.5 }, "maxConnections"],
    [{}, { version: 11 }, "version"],
    [{}, { version: 19 }, "version"],
    [{}, { version: 15.2 }, "version"],
    [{}, { overrides: null as unknown as Record<string, string> }, "overrides"],
  ] as Array<[Partial<HostFacts>, Partial<TuningSpec>, string]>)("%j %j -> %s", (h, s, field) => {
    expect(errorOf(h, s).startsWith(`${field}: `)).toBe(true);
  });

  it("says what it got", () => {
    expect(errorOf({ memoryMb: 128 })).toBe("memoryMb: must be a number of MiB >= 256, got 128");
    expect(errorOf({}, { version: 11 })).toBe("version: must be a PostgreSQL major version from 12 to 18, got 11");
  });

  it("accepts the bounds", () => {
    expect(() => computeTuning(host({ memoryMb: 256, cpus: 1 }), spec({ maxConnections: 1, version: 12 }))).not.toThrow();
    expect(() => computeTuning(host(), spec({ maxConnections: 10_000, version: 18 }))).not.toThrow();
    // A fractional core count (a container quota) counts whole cores.
    expect(values({ cpus: 2.5 }).max_parallel_workers).toBe("2");
  });
});

describe("needsRestart", () => {
  const base = values();

  it("a shared_buffers change needs a restart", () => {
    expect(needsRestart(base, { ...base, shared_buffers: "2GB" })).toEqual(["shared_buffers"]);
  });

  it("a work_mem change does not", () => {
    expect(needsRestart(base, { ...base, work_mem: "64MB" })).toEqual([]);
  });

  it("mixed changes: only the restart ones, sorted", () => {
    const next = { ...base, work_mem: "64MB", wal_buffers: "32MB", max_connections: "300", jit: "on", shared_buffers: "2GB", max_wal_size: "8GB" };
    expect(needsRestart(base, next)).toEqual(["max_connections", "shared_buffers", "wal_buffers"]);
  });

  it("between two computed tunings: a bigger host restarts, a new workload on the same host may not", () => {
    expect(needsRestart(base, values({ memoryMb: 8192 }))).toEqual(["shared_buffers"]);
    expect(needsRestart(values({ memoryMb: 16384, cpus: 8 }, { workload: "oltp" }), values({ memoryMb: 16384, cpus: 8 }, { workload: "dw" }))).toEqual([]);
    expect(needsRestart(values({ cpus: 2 }), values({ cpus: 16 }))).toEqual(["max_worker_processes"]);
  });

  it("setting or removing a restart parameter counts as a change", () => {
    expect(needsRestart({}, { shared_preload_libraries: "'pg_stat_statements'" })).toEqual(["shared_preload_libraries"]);
    expect(needsRestart({ huge_pages: "'try'", work_mem: "4MB" }, {})).toEqual(["huge_pages"]);
  });

  it("compares values as PostgreSQL reads them: units, quotes and name case", () => {
    expect(needsRestart({ shared_buffers: "1GB" }, { shared_buffers: "1024MB" })).toEqual([]);
    expect(needsRestart({ shared_buffers: "1GB" }, { Shared_Buffers: " 1048576kB " })).toEqual([]);
    expect(needsRestart({ huge_pages: "try" }, { huge_pages: "'try'" })).toEqual([]);
    expect(needsRestart({ shared_buffers: "1GB" }, { shared_buffers: "1025MB" })).toEqual(["shared_buffers"]);
  });

  it("knows the version: what changed context between releases", () => {
    expect(needsRestart({ autovacuum_max_workers: "3" }, { autovacuum_max_workers: "6" }, 17)).toEqual(["autovacuum_max_workers"]);
    expect(needsRestart({ autovacuum_max_workers: "3" }, { autovacuum_max_workers: "6" }, 18)).toEqual([]);
    expect(needsRestart({ primary_conninfo: "'host=a'" }, { primary_conninfo: "'host=b'" }, 12)).toEqual(["primary_conninfo"]);
    expect(needsRestart({ primary_conninfo: "'host=a'" }, { primary_conninfo: "'host=b'" }, 13)).toEqual([]);
    expect(needsRestart({ restore_command: "'a'" }, { restore_command: "'b'" }, 14)).toEqual(["restore_command"]);
    expect(needsRestart({ restore_command: "'a'" }, { restore_command: "'b'" }, 15)).toEqual([]);
    // Without a version, the cautious union over 12..18.
    expect(needsRestart({ autovacuum_max_workers: "3" }, { autovacuum_max_workers: "6" })).toEqual(["autovacuum_max_workers"]);
  });

  it("RESTART_PARAMETERS: the postmaster-context parameters", () => {
    for (const name of [
      "shared_buffers",
      "max_connections",
      "huge_pages",
      "wal_buffers",
      "max_worker_processes",
      "listen_addresses",
      "port",
      "wal_level",
      "shared_preload_libraries",
      "max_wal_senders",
      "max_replication_slots",
      "archive_mode",
      "max_locks_per_transaction",
      "track_activity_query_size",
    ]) {
      expect(RESTART_PARAMETERS.has(name), name).toBe(true);
    }
    // Reloadable (sighup) or per-session parameters are not in it.
    for (const name of [
      "ssl",
      "work_mem",
      "maintenance_work_mem",
      "autovacuum_work_mem",
      "effective_cache_size",
      "max_wal_size",
      "checkpoint_timeout",
      "wal_compression",
      "max_parallel_workers",
      "max_parallel_workers_per_gather",
      "jit",
      "log_statement",
      "archive_command",
      "hot_standby_feedback",
    ]) {
      expect(RESTART_PARAMETERS.has(name), name).toBe(false);
    }
  });

  it("restartParameters(15) is exactly pg_settings' postmaster context of PostgreSQL 15", () => {
    // SELECT name FROM pg_settings WHERE context = 'postmaster' ORDER BY name;  (PostgreSQL 15.18)
    expect([...restartParameters(15)].sort()).toEqual([
      "archive_mode", "autovacuum_freeze_max_age", "autovacuum_max_workers", "autovacuum_multixact_freeze_max_age",
      "bonjour", "bonjour_name", "cluster_name", "config_file", "data_directory", "data_sync_retry",
      "dynamic_shared_memory_type", "event_source", "external_pid_file", "hba_file", "hot_standby", "huge_page_size",
      "huge_pages", "ident_file", "ignore_invalid_pages", "jit_provider", "listen_addresses", "logging_collector",
      "max_connections", "max_files_per_process", "max_locks_per_transaction", "max_logical_replication_workers",
      "max_pred_locks_per_transaction", "max_prepared_transactions", "max_replication_slots", "max_wal_senders",
      "max_worker_processes", "min_dynamic_shared_memory", "old_snapshot_threshold", "port", "recovery_target",
      "recovery_target_action", "recovery_target_inclusive", "recovery_target_lsn", "recovery_target_name",
      "recovery_target_time", "recovery_target_timeline", "recovery_target_xid", "shared_buffers",
      "shared_memory_type", "shared_preload_libraries", "superuser_reserved_connections", "track_activity_query_size",
      "track_commit_timestamp", "unix_socket_directories", "unix_socket_group", "unix_socket_permissions",
      "wal_buffers", "wal_decode_buffer_size", "wal_level", "wal_log_hints",
    ]);
  });

  it("every computed parameter that needs a restart is one an expert expects", () => {
    const restartOnes = computeTuning(host(), spec()).map((p) => p.name).filter((name) => RESTART_PARAMETERS.has(name));
    expect(restartOnes.sort()).toEqual(["huge_pages", "max_connections", "max_worker_processes", "shared_buffers", "wal_buffers"]);
  });

  it("rejects an unknown version", () => {
    expect(() => needsRestart({}, {}, 11)).toThrow(/^version: /);
  });
});
