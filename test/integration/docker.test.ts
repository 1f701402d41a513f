/**
 * The Docker target through the real Pulumi engine, against a real container engine: Podman's
 * Docker-compatible API (support/containers.ts) with the PostgreSQL and MariaDB images built from
 * Debian packages. One stack deploys a PostgreSQL cluster with a standby (two containers on the
 * host network) and a MariaDB server (bridge network, port published on 127.0.0.1).
 *
 * A second MariaDB server has a replica in a container of its own (both on the host network).
 *
 * Ports: 5663 (PostgreSQL primary), 5664 (its standby), 3363 (MariaDB), 3366 and 3367 (MariaDB
 * primary and replica).
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { readFileSync, rmSync } from "fs";
import { createConnection } from "mysql2/promise";
import { join } from "path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { summarizePreview, type PreviewEvent } from "../../scripts/lib/previewSummary";
import { changes, sandbox, setConfig, writeMigration } from "./harness";
import { docker, ensureImages, startContainerEngine, type ContainerEngine, type TestImages, CONTAINER_BEFORE_ALL_MS } from "./support/containers";

const PG_PORT = 5663;
const PG_STANDBY_PORT = 5664;
const MDB_PORT = 3363;
const REP_PORT = 3366;
const REP_REPLICA_PORT = 3367;
const box = sandbox("docker");
const pgMigrations = join(box.dir, "pg-migrations");
const mdbMigrations = join(box.dir, "mdb-migrations");
let engine: ContainerEngine;
let images: TestImages;
let stack: Stack;

function config(allowDataRemoval = false) {
  return {
    allowDataRemoval,
    dockerHosts: { dk: { endpoint: engine.dockerHost } },
    postgres: {
      main: {
        host: "dk",
        port: PG_PORT,
        container: { image: images.postgres, network: "host", memoryMb: 1024, cpus: 1 },
        listenAddresses: ["127.0.0.1"],
        databases: {
          app: { owner: "app", migrations: { dir: pgMigrations }, healthChecks: [{ name: "items table", sql: "SELECT count(*) >= 0 FROM items", expect: "t" }] },
        },
        users: { app: { grants: { app: "owner" } }, rw: { grants: { app: "readwrite" } }, ro: { grants: { app: "readonly" } } },
        backup: { retentionDays: 7 },
        standbys: { s1: { host: "dk", address: "127.0.0.1", port: PG_STANDBY_PORT } },
      },
    },
    mariadb: {
      shop: {
        host: "dk",
        port: MDB_PORT,
        container: { image: images.mariadb, memoryMb: 768 },
        databases: { shop: { owner: "shop", migrations: { dir: mdbMigrations } } },
        users: { shop: { grants: { shop: "owner" }, hosts: ["localhost", "%"] }, reader: { grants: { shop: "readonly" }, hosts: ["%"] } },
        backup: { retentionDays: 7 },
      },
      rep: {
        host: "dk",
        port: REP_PORT,
        container: { image: images.mariadb, network: "host", memoryMb: 512 },
        listenAddresses: ["127.0.0.1"],
        databases: { events: { owner: "ev" } },
        users: { ev: { grants: { events: "owner" }, hosts: ["localhost", "127.0.0.1"] } },
        standbys: { r1: { host: "dk", address: "127.0.0.1", port: REP_REPLICA_PORT } },
      },
    },
  };
}

/** `docker ...` through the harness's API socket; fails with its output. */
async function dk(args: string[]): Promise<string> {
  const r = await docker(engine.dockerHost, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** This stack's containers and volumes (names start with dbstack-dkr-). */
async function ours(kind: "container" | "volume"): Promise<string[]> {
  const out = kind === "container" ? await dk(["ps", "-a", "--format", "{{.Names}}"]) : await dk(["volume", "ls", "--format", "{{.Name}}"]);
  return out.split("\n").filter((n) => /^dbstack-dkr-[0-9a-f]{6}-/.test(n)).sort();
}

async function containerOf(suffix: string): Promise<string> {
  const name = (await ours("container")).find((n) => n.endsWith(suffix));
  if (!name) throw new Error(`no container ending in ${suffix}: ${(await ours("container")).join(", ")}`);
  return name;
}

async function urls(): Promise<{ pg: Record<string, string>; mdb: Record<string, string> }> {
  const o = await stack.outputs();
  const pg = o.postgres.value.main.urls as Record<string, Record<string, { postgresql: string }>>;
  const mdb = o.mariadb.value.shop.urls as Record<string, Record<string, { mysql: string }>>;
  return {
    pg: Object.fromEntries(Object.entries(pg).map(([u, d]) => [u, d.app.postgresql])),
    mdb: Object.fromEntries(Object.entries(mdb).map(([u, d]) => [u, d.shop.mysql])),
  };
}

async function pgQuery(user: string, sql: string, port = PG_PORT): Promise<Record<string, unknown>[]> {
  const url = new URL((await urls()).pg[user]);
  const c = new Client({ host: "127.0.0.1", port, user, password: decodeURIComponent(url.password), database: "app", ssl: { rejectUnauthorized: false } });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

async function mdbQuery(user: string, sql: string): Promise<Record<string, unknown>[]> {
  const url = new URL((await urls()).mdb[user]);
  const c = await createConnection({ host: "127.0.0.1", port: MDB_PORT, user, password: decodeURIComponent(url.password), database: "shop" });
  try {
    return (await c.query(sql))[0] as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

async function removeOurs(): Promise<void> {
  for (const c of await ours("container")) await docker(engine.dockerHost, ["rm", "-f", c]);
  for (const v of await ours("volume")) await docker(engine.dockerHost, ["volume", "rm", "-f", v]);
}

beforeAll(async () => {
  engine = await startContainerEngine();
  images = await ensureImages();
  await removeOurs();
  writeMigration(pgMigrations, "0001_items.sql", "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n");
  writeMigration(mdbMigrations, "0001_orders.sql", "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, total DECIMAL(10,2) NOT NULL);\n");
  stack = await box.stack("dkr", config());
}, CONTAINER_BEFORE_ALL_MS);

afterAll(async () => {
  try {
    await stack?.destroy().catch(() => undefined);
    if (engine) await removeOurs();
  } finally {
    await engine?.stop();
    rmSync(box.dir, { recursive: true, force: true });
  }
});

describe("PostgreSQL and MariaDB in containers on a Docker host", () => {
  it("up runs each server in its own container, with users, grants, migrations and health checks", async () => {
    const result = await stack.up();
    const pg = result.outputs.postgres.value.main;
    const mdb = result.outputs.mariadb.value.shop;
    expect(pg.hookReports.app).toContain("applied migration 0001_items");
    expect(pg.hookReports.app).toContain("streaming standbys: 1 streaming");
    expect(mdb.hookReports.shop).toContain("applied migration 0001_orders");
    const containers = await ours("container");
    expect(containers.map((c) => c.replace(/^dbstack-dkr-[0-9a-f]{6}-/, ""))).toEqual(["mariadb-rep", "mariadb-rep-r1", "mariadb-shop", "postgres-main", "postgres-main-s1"]);
    const volumes = (await ours("volume")).map((v) => v.replace(/^dbstack-dkr-[0-9a-f]{6}-/, ""));
    expect(volumes).toEqual(
      expect.arrayContaining(["postgres-main-data", "postgres-main-config", "postgres-main-backups", "postgres-main-s1-data", "mariadb-shop-data", "mariadb-shop-config", "mariadb-shop-backups", "mariadb-rep-r1-data"]),
    );
  });

  it("each user connects over the published port and can do what its grant allows, nothing more", async () => {
    await pgQuery("app", "INSERT INTO items (name) VALUES ('a'), ('b')");
    await pgQuery("rw", "INSERT INTO items (name) VALUES ('c')");
    expect((await pgQuery("ro", "SELECT count(*)::int AS n FROM items"))[0].n).toBe(3);
    await expect(pgQuery("ro", "INSERT INTO items (name) VALUES ('x')")).rejects.toThrow(/permission denied/);
    await expect(pgQuery("rw", "CREATE TABLE sneaky (x int)")).rejects.toThrow(/permission denied/);
    await mdbQuery("shop", "INSERT INTO orders (total) VALUES (9.99), (20.00)");
    expect((await mdbQuery("reader", "SELECT count(*) AS n FROM orders"))[0].n).toBe(2);
    await expect(mdbQuery("reader", "INSERT INTO orders (total) VALUES (1)")).rejects.toThrow(/command denied/);
  });

  it("the container is published only on the declared address, with limits, a restart policy and a health check", async () => {
    const info = JSON.parse(await dk(["inspect", await containerOf("-mariadb-shop")]))[0];
    const bindings = info.HostConfig.PortBindings[`${MDB_PORT}/tcp`];
    expect(bindings.map((b: { HostIp: string }) => b.HostIp)).toEqual(["127.0.0.1"]);
    expect(info.HostConfig.Memory).toBe(768 * 1024 * 1024);
    expect(info.HostConfig.RestartPolicy.Name).toBe("unless-stopped");
    expect(info.Config.Healthcheck.Test.join(" ")).toContain(`-P${MDB_PORT} `);
    // Tuned for the container's limit, not the host's memory: InnoDB's pool is a share of 768 MiB.
    const pool = Number((await mdbQuery("shop", "SELECT @@innodb_buffer_pool_size AS b"))[0].b);
    expect(pool).toBeLessThanOrEqual(768 * 1024 * 1024);
    const pgInfo = JSON.parse(await dk(["inspect", await containerOf("-postgres-main")]))[0];
    expect(pgInfo.HostConfig.NanoCpus).toBe(1e9);
  });

  it("docker inspect shows no secret: passwords reach the containers on stdin and in 0600 files only", async () => {
    const { pg, mdb } = await urls();
    const secrets = [...Object.values(pg), ...Object.values(mdb)].map((u) => decodeURIComponent(new URL(u).password));
    expect(secrets.length).toBe(5);
    for (const c of await ours("container")) {
      const inspect = await dk(["inspect", c]);
      for (const s of secrets) expect(inspect).not.toContain(s);
    }
    const state = readFileSync(join(box.dir, "state", ".pulumi", "stacks", "dbstack", "dkr.json"), "utf8");
    for (const s of secrets) expect(state).not.toContain(s);
  });

  it("a write on the primary reaches the standby in its own container, which is read-only", async () => {
    await pgQuery("app", "INSERT INTO items (name) VALUES ('replicated')");
    let seen = 0;
    for (let i = 0; i < 40 && seen === 0; i++) {
      seen = Number((await pgQuery("ro", "SELECT count(*)::int AS n FROM items WHERE name = 'replicated'", PG_STANDBY_PORT))[0].n);
      if (seen === 0) await new Promise((r) => setTimeout(r, 500));
    }
    expect(seen).toBe(1);
    await expect(pgQuery("app", "INSERT INTO items (name) VALUES ('no')", PG_STANDBY_PORT)).rejects.toThrow(/read-only/);
  });

  it("a MariaDB replica in its own container follows its primary's container and is read-only", async () => {
    const pw = decodeURIComponent(new URL((await stack.outputs()).mariadb.value.rep.urls.ev.events.mysql).password);
    const on = (port: number) => createConnection({ host: "127.0.0.1", port, user: "ev", password: pw, database: "events" });
    const primary = await on(REP_PORT);
    const replica = await on(REP_REPLICA_PORT);
    try {
      await primary.query("CREATE TABLE IF NOT EXISTS seen (id INT PRIMARY KEY)");
      await primary.query("INSERT INTO seen VALUES (1)");
      let n = 0;
      for (let i = 0; i < 40 && n === 0; i++) {
        n = Number(((await replica.query("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'events' AND table_name = 'seen'"))[0] as { n: number }[])[0].n);
        if (n > 0) n = Number(((await replica.query("SELECT count(*) AS n FROM seen"))[0] as { n: number }[])[0].n);
        if (n === 0) await new Promise((r) => setTimeout(r, 500));
      }
      expect(n).toBe(1);
      await expect(replica.query("INSERT INTO seen VALUES (2)")).rejects.toThrow(/read-only|read_only/i);
    } finally {
      await primary.end();
      await replica.end();
    }
  });

  it("the cron job on the Docker host backs up through docker exec, and restore gives identical checksums", async () => {
    for (const [suffix, deployment, db, table] of [
      ["-postgres-main", "postgres-main", "app", "items"],
      ["-mariadb-shop", "mariadb-shop", "shop", "orders"],
    ] as const) {
      const cronFile = (await import("fs")).readdirSync("/etc/cron.d").find((f) => /^dbstack-dkr-[0-9a-f]{6}-/.test(f) && f.endsWith(`-${deployment}-backup`));
      expect(cronFile, `cron file of ${deployment}`).toBeDefined();
      const line = readFileSync(`/etc/cron.d/${cronFile}`, "utf8").split("\n").find((l) => l.includes("docker exec"))!;
      expect(line).toContain("docker exec");
      // Run the job's command as cron would: sh -c with cron's short PATH.
      const command = line.replace(/^(\S+\s+){5}root\s+/, "");
      const { execFileSync } = await import("child_process");
      execFileSync("sh", ["-c", command], { env: { PATH: "/usr/bin:/bin" } });
      const container = await containerOf(suffix);
      const tools = (await stack.outputs())[deployment.startsWith("postgres") ? "postgres" : "mariadb"].value[deployment.split("-")[1]].toolsDir;
      const listing = await dk(["exec", container, "bash", "-c", `ls /var/backups/dbstack-dkr-*/${deployment}/`]);
      expect(listing).toMatch(/\d{8}T\d{6}Z/);
      await dk(["exec", container, `${tools}/restore`, db, "--into", `${db}_restored`]);
      const sums =
        deployment === "postgres-main"
          ? await dk(["exec", container, "bash", "-c", `for d in app app_restored; do runuser -u postgres -- psql -X -h /var/run/postgresql -p ${PG_PORT} -d $d -tAc "SELECT count(*) || ':' || md5(string_agg(id || name, ',' ORDER BY id)) FROM items"; done`])
          : await dk(["exec", container, "bash", "-c", `for d in shop shop_restored; do mariadb --no-defaults -uroot --socket=/run/mysqld/dbstack-shop.sock -N -e "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, total ORDER BY id))) FROM $d.${table}"; done`]);
      const [a, b] = sums.trim().split("\n");
      expect(a).toMatch(/^\d+:[0-9a-f]{32}$/);
      expect(b).toBe(a);
    }
  });

  it("a second up reports zero changes", async () => {
    const result = await stack.up();
    const c = changes(result.summary);
    expect(Object.keys(c).filter((k) => k !== "same")).toEqual([]);
  });

  it("a container removed from outside shows in the preview and comes back at the next up with its data", async () => {
    const pgName = await containerOf("-postgres-main");
    await dk(["rm", "-f", pgName]);
    const preview = await stack.preview({ diff: true });
    expect(preview.changeSummary.update ?? 0).toBeGreaterThan(0);
    await stack.up();
    expect(await ours("container")).toContain(pgName);
    expect((await pgQuery("ro", "SELECT count(*)::int AS n FROM items"))[0].n).toBe(4);
    await pgQuery("app", "INSERT INTO items (name) VALUES ('after')");
    // A stopped (killed) container is started again; nothing inside needs re-running.
    const mdbName = await containerOf("-mariadb-shop");
    await dk(["kill", mdbName]);
    await stack.up();
    expect((await mdbQuery("reader", "SELECT count(*) AS n FROM orders"))[0].n).toBe(2);
  });

  it("the preview summary flags a container's volumes as data-bearing when a deployment is removed", async () => {
    const without = config();
    delete (without.mariadb as Partial<typeof without.mariadb>).shop;
    await setConfig(stack, without);
    const events: PreviewEvent[] = [];
    await stack.preview({ onEvent: (e) => events.push(e as PreviewEvent) });
    const flags = summarizePreview("dkr", events).flags.filter((f) => f.kind === "data").map((f) => f.resource);
    expect(flags).toContain("shop-volumes");
    await setConfig(stack, config());
  });

  it("destroy keeps the volumes by default, and removes them when the stack allows data removal", async () => {
    await stack.destroy();
    expect(await ours("container")).toEqual([]);
    const kept = await ours("volume");
    expect(kept.length).toBeGreaterThanOrEqual(11);
    // Deployed again on the kept volumes: the data is there.
    await stack.setConfig("dbstack:allowDataRemoval", { value: "true" });
    await stack.up();
    expect((await pgQuery("ro", "SELECT count(*)::int AS n FROM items"))[0].n).toBe(5);
    await stack.destroy();
    expect(await ours("container")).toEqual([]);
    expect(await ours("volume")).toEqual([]);
  });
});
