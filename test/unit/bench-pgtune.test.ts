import { describe, expect, it } from "vitest";
import { formatKb, pgtuneSettings, renderPgtuneConf, type PgtuneInput } from "../../bench/lib/pgtune";

// Expected values worked out by hand from PGTune's published formulas (see bench/lib/pgtune.ts).
const settings = (input: PgtuneInput) => Object.fromEntries(pgtuneSettings(input).map((s) => [s.name, s.value]));

describe("PGTune formulas (bench:postgres's pgtune cluster)", () => {
  it("this project's machine: oltp, 24105 MB, 2 CPUs, 100 connections, ssd, PostgreSQL 15", () => {
    expect(settings({ version: 15, dbType: "oltp", memoryMb: 24105, cpus: 2, maxConnections: 100, storage: "ssd" })).toEqual({
      max_connections: "100",
      shared_buffers: "6170880kB", // 24105 MB x 1024 / 4
      effective_cache_size: "18512640kB", // x 3/4
      maintenance_work_mem: "1542720kB", // /16
      checkpoint_completion_target: "0.9",
      wal_buffers: "16MB", // 3% of shared_buffers, capped
      default_statistics_target: "100",
      random_page_cost: "1.1",
      effective_io_concurrency: "200",
      work_mem: "57137kB", // (24683520 - 6170880) / ((100 + 8 default workers) x 3)
      huge_pages: "try", // shared_buffers >= 2GB
      jit: "off",
      wal_compression: "lz4",
      min_wal_size: "2GB",
      max_wal_size: "8GB",
      // under 4 CPUs: no parallel settings
    });
  });

  it("4+ CPUs add the parallel settings, and their workers count in work_mem", () => {
    const s = settings({ version: 16, dbType: "web", memoryMb: 16384, cpus: 8, maxConnections: 200, storage: "nvme" });
    expect(s).toMatchObject({
      shared_buffers: "4GB",
      effective_cache_size: "12GB",
      maintenance_work_mem: "1GB",
      effective_io_concurrency: "1000",
      work_mem: "20164kB", // 12582912 / ((200 + 8) x 3)
      min_wal_size: "1GB",
      max_wal_size: "4GB",
      max_worker_processes: "8",
      max_parallel_workers_per_gather: "4",
      max_parallel_workers: "8",
      max_parallel_maintenance_workers: "4",
    });
  });

  it("dw on HDD: halved work_mem, capped maintenance memory, more autovacuum workers, JIT left alone", () => {
    const s = settings({ version: 17, dbType: "dw", memoryMb: 65536, cpus: 32, maxConnections: 40, storage: "hdd" });
    expect(s).toMatchObject({
      shared_buffers: "16GB",
      maintenance_work_mem: "8GB", // RAM/8, capped at 8GB
      autovacuum_work_mem: "2GB",
      autovacuum_max_workers: "5",
      default_statistics_target: "500",
      random_page_cost: "4",
      effective_io_concurrency: "2",
      work_mem: "116508kB", // 50331648 / ((40 + 32) x 3) / 2
      max_parallel_workers_per_gather: "16", // dw: not capped at 4
      max_wal_size: "16GB",
    });
    expect(s.jit).toBeUndefined();
  });

  it("a small host gets the 4MB work_mem floor and no huge pages", () => {
    const s = settings({ version: 15, dbType: "mixed", memoryMb: 1024, cpus: 1, maxConnections: 500, storage: "ssd" });
    expect(s).toMatchObject({ shared_buffers: "256MB", work_mem: "4MB", huge_pages: "off", wal_buffers: "7864kB" });
  });

  it("formats kB as PGTune prints them and quotes non-numbers in the conf file", () => {
    expect([formatKb(1048576), formatKb(2048), formatKb(1500)]).toEqual(["1GB", "2MB", "1500kB"]);
    const conf = renderPgtuneConf({ version: 15, dbType: "oltp", memoryMb: 24105, cpus: 2, maxConnections: 100, storage: "ssd" });
    expect(conf).toContain("\nshared_buffers = '6170880kB'\n");
    expect(conf).toContain("\nrandom_page_cost = 1.1\n");
    expect(conf).toContain("\njit = 'off'\n");
  });

  it("rejects versions and inputs it does not model", () => {
    expect(() => pgtuneSettings({ version: 18, dbType: "oltp", memoryMb: 4096, cpus: 2, maxConnections: 100, storage: "ssd" })).toThrow(/version 18/);
    expect(() => pgtuneSettings({ version: 15, dbType: "oltp", memoryMb: 100, cpus: 2, maxConnections: 100, storage: "ssd" })).toThrow(/memoryMb/);
  });
});
