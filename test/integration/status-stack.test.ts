import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawn, spawnSync } from "child_process";
import { readdirSync, readFileSync, rmSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pulumiEnv } from "../../scripts/lib/env";
import { changes, sandbox, writeMigration } from "./harness";
import { createTestHosts, type TestHosts } from "./support/hosts";

// Issue 23: `npm run status` on a stack of PostgreSQL with a standby, MariaDB with a replica and
// an SQLite database, each primary and its standby on two SSH hosts; the monitoring accounts are
// least-privilege. Owns: test hosts st-p (primaries) and st-s (standbys), PostgreSQL ports 6601
// (primary, cluster stpgp) and 6602 (standby, stpgs), MariaDB ports 6611 (stmdp) and 6612
// (stmdr), stack it-st-stack.
const box = sandbox("st-stack");
const PG = { primary: 6601, standby: 6602, clusters: ["stpgp", "stpgs"] };
const MDB = { primary: 6611, replica: 6612, instances: ["stmdp", "stmdr"] };
const pgMigrations = join(box.dir, "pg-migrations");
const mdbMigrations = join(box.dir, "mdb-migrations");
const sqliteDb = join(box.dir, "sqlite", "app.db");
let hosts: TestHosts;
let stack: Stack;

function config() {
  const p = hosts.host("st-p");
  const s = hosts.host("st-s");
  return {
    allowDataRemoval: true,
    hosts: {
      primary: { address: p.address, privateKey: p.privateKey, hostKey: p.hostKey },
      standby: { address: s.address, privateKey: s.privateKey, hostKey: s.hostKey },
    },
    postgres: {
      stpg: {
        host: "primary",
        port: PG.primary,
        instanceName: PG.clusters[0],
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 30,
        listenAddresses: ["localhost", p.address],
        databases: { app: { owner: "app", migrations: { dir: pgMigrations } } },
        users: { app: { grants: { app: "owner" } } },
        backup: { dir: join(box.dir, "pg-backups"), retentionDays: 2 },
        standbys: { replica1: { host: "standby", address: s.address, instanceName: PG.clusters[1], port: PG.standby } },
        toolsDir: join(box.dir, "pg-tools"),
        slowQueryMs: 500,
      },
    },
    mariadb: {
      stmdb: {
        host: "primary",
        port: MDB.primary,
        instanceName: MDB.instances[0],
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 30,
        listenAddresses: ["127.0.0.1", p.address],
        databases: { shop: { owner: "shop", migrations: { dir: mdbMigrations } } },
        users: { shop: { grants: { shop: "owner" } } },
        standbys: { r1: { host: "standby", address: s.address, instanceName: MDB.instances[1], port: MDB.replica } },
        toolsDir: join(box.dir, "mdb-tools"),
        slowQueryMs: 500,
      },
    },
    sqlite: {
      stlite: { path: sqliteDb, toolsDir: join(box.dir, "sqlite-tools") },
    },
  };
}

/** `npm run status` against the sandbox's stack, as a user runs it (asynchronously: vitest's worker must stay responsive). */
function status(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "-s", "status", "--", "--stack", "it-st-stack", ...args], {
      env: { ...process.env, PULUMI_BACKEND_URL: box.backend, DBSTACK_PROJECT_DIR: box.projectDir, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A command in the primaries' namespace (its servers listen on its loopback), password in the environment. */
function inPrimary(cmd: string[], env: Record<string, string>): { code: number; out: string } {
  const r = spawnSync("ip", ["netns", "exec", hosts.host("st-p").namespace, ...cmd], { encoding: "utf8", env: { ...process.env, ...env } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function dropServers(): void {
  for (const c of PG.clusters) {
    execFileSync("bash", ["-c", `pg_dropcluster --stop 15 ${c} 2>/dev/null; rm -rf /etc/postgresql/15/${c} /var/lib/postgresql/15/${c} /var/lib/postgresql/.dbstack-15-${c}.pgpass`]);
  }
  for (const i of MDB.instances) {
    execFileSync("bash", ["-c", `mariadb-admin --no-defaults --protocol=socket --socket=/run/mysqld/dbstack-${i}.sock -uroot shutdown 2>/dev/null || true; sleep 1; rm -rf /etc/mysql/dbstack/${i} /var/lib/dbstack-mariadb/${i}`]);
  }
}

let monitorPasswords: { postgres: string; mariadb: string };

beforeAll(async () => {
  dropServers();
  hosts = await createTestHosts(["st-p", "st-s"]);
  writeMigration(pgMigrations, "0001_items.sql", "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\nINSERT INTO items (name) VALUES ('secret row');\n");
  writeMigration(mdbMigrations, "0001_items.sql", "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL);\nINSERT INTO items (name) VALUES ('secret row');\n");
  stack = await box.stack("it-st-stack", config());
  const up = await stack.up();
  expect(up.summary.result).toBe("succeeded");
  const outputs = await stack.outputs();
  monitorPasswords = {
    postgres: (outputs.postgres.value as { stpg: { monitoring: { password: string } } }).stpg.monitoring.password,
    mariadb: (outputs.mariadb.value as { stmdb: { monitoring: { password: string } } }).stmdb.monitoring.password,
  };
}, 900_000);

afterAll(async () => {
  try {
    await stack?.destroy().catch(() => undefined);
  } finally {
    dropServers();
    await hosts?.destroy();
    rmSync(box.dir, { recursive: true, force: true });
  }
}, 600_000);

describe("status of a whole stack", () => {
  it("a second up with the monitoring accounts and slow-query logging changes nothing", async () => {
    const again = await stack.up();
    expect(Object.keys(changes(again.summary)).filter((k) => k !== "same")).toEqual([]);
  });


  it("shows every member with its role, version, connections and lag, and exits 0 when all is well", async () => {
    const r = await status("--json");
    expect(r.stderr).not.toContain(monitorPasswords.postgres);
    const report = JSON.parse(r.stdout) as { members: { engine: string; deployment: string; member: string; reachable: boolean; role?: string; version?: string; connections?: { used: number; max: number }; lag?: { replicating: boolean; seconds: number | null }; databases?: { name: string; bytes: number }[]; sqlite?: { bytes: number } }[]; problems: string[] };
    const m = (engine: string, member: string) => report.members.find((x) => x.engine === engine && x.member === member)!;
    expect(report.problems.filter((p) => !/backup/.test(p))).toEqual([]);
    expect(m("postgres", "primary")).toMatchObject({ reachable: true, role: "primary", connections: { max: 30 } });
    expect(m("postgres", "primary").version).toMatch(/^15\./);
    expect(m("postgres", "primary").databases!.find((d) => d.name === "app")!.bytes).toBeGreaterThan(1_000_000);
    expect(m("postgres", "replica1")).toMatchObject({ reachable: true, role: "standby", lag: { replicating: true } });
    expect(m("mariadb", "primary")).toMatchObject({ reachable: true, role: "primary" });
    expect(m("mariadb", "r1")).toMatchObject({ reachable: true, role: "replica", lag: { replicating: true, seconds: 0 } });
    expect(m("mariadb", "primary").databases!.map((d) => d.name)).toEqual(["shop"]);
    expect(m("sqlite", "file")).toMatchObject({ reachable: true });

    const screen = await status();
    // The screen as a user sees it, in the test's log (docs/status.md shows one).
    console.log(screen.stdout);
    expect(screen.stdout).toMatch(/postgres stpg[\s\S]*primary\s+up\s+primary[\s\S]*replica1\s+up\s+standby/);
    expect(screen.stdout).toMatch(/mariadb stmdb[\s\S]*r1\s+up\s+replica/);
    expect(screen.stdout).not.toMatch(/\u001b\[/); // plain in a pipe
  });

  it("reports the deployment's backup and drill: none yet is a problem only after the bound; a run backup is listed", async () => {
    execFileSync(join(box.dir, "pg-tools", "backup"), { stdio: "ignore" });
    const r = await status("--json", "--deployment", "stpg");
    const report = JSON.parse(r.stdout) as { members: { member: string; backup?: { newest?: { file: string; ageHours: number }; count: number }; drill?: unknown }[]; problems: string[] };
    const primary = report.members.find((x) => x.member === "primary")!;
    expect(primary.backup!.newest!.file).toMatch(/^stpg-/);
    expect(primary.backup!.newest!.ageHours).toBeLessThan(1);
    expect(primary.drill).toBeNull();
    expect(report.members.map((x) => x.member)).toEqual(["primary", "replica1"]);
    expect(r.code).toBe(0);
    expect((await status()).stdout).toContain("drill no drill declared");
  });

  it("exits non-zero when a drill failed, naming the deployment", async () => {
    const drills = join(box.dir, "pg-backups", "drills");
    execFileSync("bash", ["-c", `mkdir -p ${drills} && printf '%s' '{"deployment":"stpg","engine":"postgres","startedAt":"2026-01-01T00:00:00Z","durationS":3,"backup":"x","backupAgeH":1,"recoveryPoint":null,"ok":false,"reason":"row count differs"}' > ${drills}/last.json`]);
    try {
      const r = await status("--deployment", "stpg");
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("postgres stpg/primary: last restore drill failed (2026-01-01T00:00:00Z): row count differs");
    } finally {
      rmSync(drills, { recursive: true, force: true });
    }
  });

  it("exits non-zero naming the standby when it is stopped", async () => {
    execFileSync("pg_ctlcluster", ["15", PG.clusters[1], "stop", "-m", "fast"]);
    try {
      const r = await status();
      console.log(r.stdout);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/replica1\s+DOWN/);
      expect(r.stdout).toMatch(/postgres stpg\/replica1 on root@10\.213\.0\.\d+: down/);
      expect(r.stdout).not.toMatch(/postgres stpg\/primary.*down/);
    } finally {
      execFileSync("pg_ctlcluster", ["15", PG.clusters[1], "start"]);
    }
  });
});

describe("declared slow-query logging", () => {
  it("a statement slower than slowQueryMs is in the server's log and among status's slowest statements", async () => {
    execFileSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-q", "-h", "/var/run/postgresql", "-p", String(PG.primary), "-d", "postgres", "-c", "SELECT pg_sleep(0.8)"], { cwd: "/" });
    execFileSync("mariadb", ["--no-defaults", "--protocol=socket", `--socket=/run/mysqld/dbstack-${MDB.instances[0]}.sock`, "-uroot", "-e", "SELECT SLEEP(0.8)"]);
    const r = await status("--json");
    const report = JSON.parse(r.stdout) as { members: { engine: string; member: string; slowest?: { query: string; maxMs: number }[] }[] };
    const slowest = (engine: string) => report.members.find((m) => m.engine === engine && m.member === "primary")!.slowest ?? [];
    expect(slowest("postgres").find((q) => /pg_sleep/.test(q.query))!.maxMs).toBeGreaterThanOrEqual(800);
    expect(slowest("mariadb").find((q) => /SLEEP/i.test(q.query))!.maxMs).toBeGreaterThanOrEqual(800);
    const screen = (await status("--deployment", "stpg")).stdout;
    expect(screen).toMatch(/primary: slowest statements:\n.*ms max.*pg_sleep/);
    expect(readFileSync(`/var/log/postgresql/postgresql-15-${PG.clusters[0]}.log`, "utf8")).toMatch(/duration: \d+\.\d+ ms\s+statement: SELECT pg_sleep\(0\.8\)/);
    expect(readFileSync(`/var/lib/dbstack-mariadb/${MDB.instances[0]}/dbstack-slow.log`, "utf8")).toContain("SELECT SLEEP(0.8)");
    // The replica, which takes its primary's parameters, logs in its own data directory.
    expect(readFileSync(`/var/lib/dbstack-mariadb/${MDB.instances[1]}/dbstack-slow.log`, "utf8")).not.toContain("SELECT SLEEP(0.8)");
  });

  it("rotates the MariaDB slow log with logrotate, in a rule logrotate accepts", () => {
    const rules = readdirSync("/etc/logrotate.d").filter((f) => f.endsWith("-mariadb-stmdb-slow-log"));
    expect(rules).toHaveLength(1);
    const rule = join("/etc/logrotate.d", rules[0]);
    expect(readFileSync(rule, "utf8")).toContain(`/var/lib/dbstack-mariadb/${MDB.instances[0]}/dbstack-slow.log {`);
    const check = spawnSync("logrotate", ["-d", rule], { encoding: "utf8" });
    expect(`${check.status} ${check.stderr}`).not.toMatch(/error/i);
    expect(check.status).toBe(0);
  });
});

describe("the monitoring accounts are least-privilege", () => {
  /** Each statement its own -c: its own transaction. */
  const psql = (sql: string | string[], database = "postgres") =>
    inPrimary(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", String(PG.primary), "-U", "dbstack_monitor", "-d", database, ...[sql].flat().flatMap((c) => ["-c", c])], { PGPASSWORD: monitorPasswords.postgres });
  const mariadb = (sql: string) =>
    inPrimary(["mariadb", "--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", String(MDB.primary), "-u", "dbstack_monitor", "--batch", "--skip-column-names", "-e", sql], { MYSQL_PWD: monitorPasswords.mariadb });

  it("PostgreSQL: reads statistics, never an application table, and writes nothing", () => {
    expect(psql("SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = 'app' OR backend_type <> 'client backend'")).toMatchObject({ code: 0, out: "t\n" });
    expect(psql("SELECT pg_database_size('app') > 0")).toMatchObject({ code: 0, out: "t\n" });
    // The application's database refuses it outright: no table there can be read or written.
    expect(psql("SELECT name FROM items", "app").out).toMatch(/permission denied for database "app"/);
    expect(psql("CREATE TABLE public.mine (id int)").out).toMatch(/read-only transaction/);
    expect(psql(["SET default_transaction_read_only = off", "CREATE TABLE public.mine (id int)"]).out).toMatch(/permission denied for schema public/);
    expect(psql("SELECT pg_read_file('/etc/passwd')").out).toMatch(/permission denied/);
    expect(psql("SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = current_user")).toMatchObject({ out: "f\n" });
  });

  it("MariaDB: sees sessions and replication, never an application table, and writes nothing", () => {
    expect(mariadb("SELECT COUNT(*) > 0 FROM information_schema.PROCESSLIST")).toMatchObject({ code: 0, out: "1\n" });
    expect(mariadb("SELECT name FROM shop.items").out).toMatch(/denied/);
    expect(mariadb("INSERT INTO shop.items (name) VALUES ('x')").out).toMatch(/denied/);
    expect(mariadb("CREATE DATABASE mine").out).toMatch(/denied/);
    expect(mariadb("SELECT LOAD_FILE('/etc/passwd')").out).toMatch(/^NULL\n$/);
  });

  it("keeps the passwords out of the state in plaintext and out of world-readable files", () => {
    const exported = execFileSync("pulumi", ["stack", "export", "--stack", "it-st-stack"], {
      cwd: box.projectDir,
      encoding: "utf8",
      env: { ...process.env, ...pulumiEnv("it-st-stack", { PULUMI_BACKEND_URL: box.backend }) },
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(exported).toContain("dbstack_monitor");
    for (const pw of Object.values(monitorPasswords)) {
      expect(exported).not.toContain(pw);
      const found = spawnSync("grep", ["-rlF", "--", pw, box.dir, "/etc/postgresql/15", "/etc/mysql/dbstack"], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
      for (const f of found) expect(`${f} ${execFileSync("stat", ["-c", "%a", f], { encoding: "utf8" }).trim()}`).toMatch(/ [0-7]00$/);
    }
  });
});
