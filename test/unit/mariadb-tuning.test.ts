import { describe, expect, it } from "vitest";
import {
  bytesOf,
  computeTuning,
  DYNAMIC_IN_10_11,
  formatMb,
  MARIADB_TUNING_LIMITS,
  overridesProblem,
  type MariadbTuningSpec,
} from "../../components/engines/mariadb/tuning";
import type { HostFacts } from "../../components/model/tuning";
import { hostFactsFrom, parseSysbench, renderOptionFile, sameSetting } from "../../bench/lib/mariadb";

function host(overrides: Partial<HostFacts> = {}): HostFacts {
  return { memoryMb: 4096, cpus: 2, storage: "ssd", ...overrides };
}

function spec(overrides: Partial<MariadbTuningSpec> = {}): MariadbTuningSpec {
  return { workload: "oltp", maxConnections: 100, version: "10.11", overrides: {}, ...overrides };
}

function values(h: Partial<HostFacts> = {}, s: Partial<MariadbTuningSpec> = {}): Record<string, string> {
  return Object.fromEntries(computeTuning(host(h), spec(s)).map((p) => [p.name, p.value]));
}

function mb(value: string): number {
  const bytes = bytesOf(value);
  if (bytes === undefined) throw new Error(`not a size: ${value}`);
  return bytes / 1048576;
}

function errorOf(h: Partial<HostFacts>, s: Partial<MariadbTuningSpec> = {}): string {
  try {
    computeTuning(host(h), spec(s));
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`computeTuning accepted ${JSON.stringify({ h, s })}`);
}

describe("computeTuning: the buffer pool", () => {
  it("this project's machine (24105 MB, 2 cores, oltp, 100 connections): 75% of RAM less the sessions, in 128M chunks", () => {
    // 24105 x 0.75 = 18078.75; - 100 x 4M = 17678.75; down to a multiple of 128: 17664.
    expect(values({ memoryMb: 24105 }).innodb_buffer_pool_size).toBe("17664M");
  });

  it("is a multiple of 128M on any host (older 10.x servers round other sizes up)", () => {
    for (const memoryMb of [300, 1000, 3000, 4096, 7777, 65536, 250000]) {
      for (const workload of ["web", "oltp", "dw", "mixed"] as const) {
        expect(mb(values({ memoryMb }, { workload }).innodb_buffer_pool_size) % 128).toBe(0);
      }
    }
  });

  it("takes a smaller share for dw and gives room to more connections", () => {
    expect(mb(values({ memoryMb: 16384 }, { workload: "dw" }).innodb_buffer_pool_size)).toBeLessThan(mb(values({ memoryMb: 16384 }).innodb_buffer_pool_size));
    expect(mb(values({ memoryMb: 16384 }, { maxConnections: 1000 }).innodb_buffer_pool_size)).toBeLessThan(mb(values({ memoryMb: 16384 }).innodb_buffer_pool_size));
  });

  it("never leaves less than 128M, and says why when the formula would", () => {
    const params = computeTuning(host({ memoryMb: 512 }), spec({ maxConnections: 500 }));
    const pool = params.find((p) => p.name === "innodb_buffer_pool_size")!;
    expect(pool.value).toBe("128M");
    expect(pool.reason).toMatch(/below 128M/);
  });

  it("does not render innodb_buffer_pool_instances (removed in 10.6; 10.11 refuses to start with it)", () => {
    for (const version of ["10.5", "10.6", "10.11", "11.4"]) expect(values({ memoryMb: 65536 }, { version })).not.toHaveProperty("innodb_buffer_pool_instances");
  });
});

describe("computeTuning: redo, I/O and caches", () => {
  it("sizes the redo log at a quarter of the pool within 256M and the workload's cap", () => {
    expect(values({ memoryMb: 24105 }).innodb_log_file_size).toBe("4G");
    expect(values({ memoryMb: 24105 }, { workload: "web" }).innodb_log_file_size).toBe("2G");
    expect(values({ memoryMb: 4096 }).innodb_log_file_size).toBe("640M"); // pool 2560M / 4
    expect(values({ memoryMb: 1024 }).innodb_log_file_size).toBe("256M");
  });

  it("follows the storage: io_capacity and neighbour flushing", () => {
    expect(values({ storage: "ssd" })).toMatchObject({ innodb_io_capacity: "2000", innodb_io_capacity_max: "4000", innodb_flush_neighbors: "0" });
    expect(values({ storage: "hdd" })).toMatchObject({ innodb_io_capacity: "200", innodb_io_capacity_max: "400", innodb_flush_neighbors: "1" });
    expect(values({ storage: "network" })).toMatchObject({ innodb_io_capacity: "1000", innodb_flush_neighbors: "0" });
  });

  it("gives one I/O thread per core, at least 4", () => {
    expect(values({ cpus: 2 }).innodb_read_io_threads).toBe("4");
    expect(values({ cpus: 16 }).innodb_write_io_threads).toBe("16");
    expect(values({ cpus: 128 }).innodb_read_io_threads).toBe("32");
  });

  it("keeps tmp_table_size equal to max_heap_table_size, bigger for dw, bounded by RAM", () => {
    const oltp = values({ memoryMb: 16384 });
    expect(oltp.tmp_table_size).toBe(oltp.max_heap_table_size);
    expect(oltp.tmp_table_size).toBe("64M");
    expect(values({ memoryMb: 16384 }, { workload: "dw" }).tmp_table_size).toBe("256M");
    expect(values({ memoryMb: 1024 }).tmp_table_size).toBe("16M");
  });

  it("sizes connections and caches from max_connections", () => {
    const v = values({}, { maxConnections: 500 });
    expect(v).toMatchObject({ max_connections: "500", thread_cache_size: "256", table_open_cache: "5000", table_definition_cache: "2900" });
  });

  it("is durable unless an override says otherwise", () => {
    expect(values()).toMatchObject({ innodb_flush_log_at_trx_commit: "1", sync_binlog: "1", innodb_doublewrite: "ON", innodb_flush_method: "O_DIRECT" });
    const params = computeTuning(host(), spec({ overrides: { sync_binlog: "0", innodb_flush_log_at_trx_commit: "2" } }));
    expect(params.find((p) => p.name === "sync_binlog")).toEqual({ name: "sync_binlog", value: "0", reason: "declared in parameters" });
    expect(params.find((p) => p.name === "innodb_flush_log_at_trx_commit")!.value).toBe("2");
  });

  it("writes every size with a suffix the option file accepts", () => {
    for (const p of computeTuning(host({ memoryMb: 24105 }), spec())) {
      if (/(buffer|pool|file|table)_size$/.test(p.name)) expect(p.value).toMatch(/^\d+[KMG]$/);
    }
  });
});

describe("computeTuning: overrides and bad input", () => {
  it("replaces computed values in place and appends others sorted by name", () => {
    const params = computeTuning(host(), spec({ overrides: { wait_timeout: "600", innodb_buffer_pool_size: "1G", binlog_cache_size: "1M" } }));
    const names = params.map((p) => p.name);
    expect(names.indexOf("innodb_buffer_pool_size")).toBe(2);
    expect(params[2]).toEqual({ name: "innodb_buffer_pool_size", value: "1G", reason: "declared in parameters" });
    expect(names.slice(-2)).toEqual(["binlog_cache_size", "wait_timeout"]);
  });

  it("names the field of an input out of range", () => {
    expect(errorOf({ memoryMb: 100 })).toMatch(/^memoryMb: /);
    expect(errorOf({ cpus: 0 })).toMatch(/^cpus: /);
    expect(errorOf({ storage: "tape" as never })).toMatch(/^storage: /);
    expect(errorOf({}, { workload: "batch" as never })).toMatch(/^workload: /);
    expect(errorOf({}, { maxConnections: 0 })).toMatch(/^maxConnections: /);
    expect(errorOf({}, { maxConnections: MARIADB_TUNING_LIMITS.maxConnections + 1 })).toMatch(/^maxConnections: /);
    expect(errorOf({}, { version: "10.4" })).toMatch(/^version: /);
    expect(errorOf({}, { version: "8.0" })).toMatch(/^version: /);
    expect(errorOf({}, { version: "latest" })).toMatch(/^version: /);
    expect(errorOf({}, { overrides: { "innodb-buffer-pool-size": "1G" } })).toMatch(/^overrides: .*innodb_buffer_pool_size/);
  });

  it("overridesProblem rejects what would break the option file", () => {
    expect(overridesProblem({ sync_binlog: "0", s3_region: "eu" })).toBeUndefined();
    expect(overridesProblem({ "Sync_Binlog": "0" })).toMatch(/not a variable name/);
    expect(overridesProblem({ "x; y": "1" })).toMatch(/not a variable name/);
    expect(overridesProblem({ wait_timeout: " " })).toMatch(/needs a value/);
    expect(overridesProblem({ init_connect: "SET x=1\n[client]" })).toMatch(/single line/);
    expect(overridesProblem({ init_connect: "SET @a='#'" })).toMatch(/#/);
  });
});

describe("sizes", () => {
  it("formatMb uses G when exact, M otherwise; bytesOf reads them back for SET GLOBAL", () => {
    expect(formatMb(4096)).toBe("4G");
    expect(formatMb(17664)).toBe("17664M");
    expect(bytesOf("17664M")).toBe(18522046464); // what @@innodb_buffer_pool_size reports for it
    expect(bytesOf("256K")).toBe(262144);
    expect(bytesOf("100")).toBe(100);
    expect(bytesOf("O_DIRECT")).toBeUndefined();
  });

  it("lists the static variables as not dynamic (they need a restart)", () => {
    for (const name of ["innodb_log_buffer_size", "innodb_flush_method", "innodb_doublewrite", "performance_schema"]) expect(DYNAMIC_IN_10_11.has(name)).toBe(false);
    for (const name of ["innodb_buffer_pool_size", "innodb_log_file_size", "max_connections", "sync_binlog"]) expect(DYNAMIC_IN_10_11.has(name)).toBe(true);
    // Every computed variable is classified one way or the other on purpose: a new one must be checked.
    const computed = computeTuning(host(), spec()).map((p) => p.name);
    const statics = computed.filter((n) => !DYNAMIC_IN_10_11.has(n));
    expect(statics.sort()).toEqual(["innodb_doublewrite", "innodb_flush_method", "innodb_log_buffer_size", "performance_schema"]);
  });
});

describe("bench:mariadb helpers", () => {
  const sysbenchOutput = `sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)

SQL statistics:
    queries performed:
        read:                            178388
        write:                           50968
        other:                           25484
        total:                           254840
    transactions:                        12742  (636.30 per sec.)
    queries:                             254840 (12725.96 per sec.)
    ignored errors:                      3      (0.15 per sec.)
    reconnects:                          0      (0.00 per sec.)

Latency (ms):
         min:                                    0.41
         avg:                                   12.56
         max:                                  179.42
         95th percentile:                       28.67
         sum:                               160024.51
`;

  it("parses sysbench's TPS, latency and ignored errors", () => {
    expect(parseSysbench(sysbenchOutput)).toEqual({ tps: 636.3, transactions: 12742, latencyAvgMs: 12.56, latencyP95Ms: 28.67, ignoredErrors: 3 });
  });

  it("fails quoting the output when sysbench printed no figures", () => {
    expect(() => parseSysbench("FATAL: unable to connect to MySQL server on socket '/x'")).toThrow(/unable to connect/);
  });

  it("reads the host facts as a deploy does (MemTotal in whole MiB, nproc)", () => {
    expect(hostFactsFrom("MemTotal:       24684096 kB\nMemFree: 1 kB\n", "2\n")).toEqual({ memoryMb: 24105, cpus: 2, storage: "ssd" });
    expect(() => hostFactsFrom("MemFree: 1 kB\n", "2")).toThrow(/MemTotal missing/);
  });

  it("compares option-file values with what the server reports", () => {
    expect(sameSetting("17664M", "18522046464")).toBe(true);
    expect(sameSetting("64M", "16777216")).toBe(false);
    expect(sameSetting("ON", "1")).toBe(true);
    expect(sameSetting("OFF", "OFF")).toBe(true);
    expect(sameSetting("O_DIRECT", "O_DIRECT")).toBe(true);
    expect(sameSetting("1", "0")).toBe(false);
  });

  it("renders an option file the server reads alone: layout, then one variable a line with its reason", () => {
    const text = renderOptionFile({ label: "tuned", port: 3332, dir: "/tmp/x/tuned", options: [{ name: "sync_binlog", value: "1", reason: "durable # really" }] });
    expect(text).toContain("[mariadbd]\nuser = mysql\nport = 3332\ndatadir = /tmp/x/tuned/data\nsocket = /tmp/x/tuned/mysqld.sock\n");
    expect(text).toContain("sync_binlog = 1  # durable really\n");
  });
});
