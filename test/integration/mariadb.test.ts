import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import { existsSync, readFileSync, rmSync } from "fs";
import { createConnection, type Connection } from "mysql2/promise";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { summarizePreview, type PreviewEvent } from "../../scripts/lib/previewSummary";
import { changes, sandbox, setConfig, writeMigration } from "./harness";
import { createTestHosts, type TestHosts } from "./support/hosts";

// A MariaDB primary and a GTID replica on two hosts reached over SSH (network namespaces with an
// sshd each; they share this machine's file system, so the two instances have different names).
// The primary is reached as a non-root user with sudo; the replica as root.
const box = sandbox("mariadb");
const PRIMARY_PORT = 3401;
const REPLICA_PORT = 3402;
const INSTANCES = ["itmdb", "itmdbrep"];
const migrations = join(box.dir, "migrations");
const backups = join(box.dir, "backups");
const tools = join(box.dir, "tools");
let hosts: TestHosts;
let stack: Stack;
let primary: string;
let replica: string;

function config(over: { parameters?: Record<string, string>; users?: Record<string, unknown> } = {}) {
  const p = hosts.host("mdbprimary");
  const s = hosts.host("mdbreplica");
  return {
    hosts: {
      primary: { address: p.address, user: "deploy", sudo: true, privateKey: p.privateKey, hostKey: p.hostKey },
      replica: { address: s.address, privateKey: s.privateKey, hostKey: s.hostKey },
    },
    mariadb: {
      main: {
        host: "primary",
        port: PRIMARY_PORT,
        instanceName: "itmdb",
        hostFacts: { memoryMb: 1024, cpus: 2, storage: "ssd" },
        maxConnections: 40,
        parameters: over.parameters ?? {},
        listenAddresses: ["127.0.0.1", p.address],
        databases: {
          app: {
            owner: "app",
            collation: "utf8mb4_unicode_ci",
            migrations: { dir: migrations },
            healthChecks: [{ name: "items table", sql: "SELECT count(*) >= 0 FROM items", expect: "1" }],
          },
        },
        users: over.users ?? {
          app: { grants: { app: "owner" }, hosts: ["localhost", "10.213.0.%"] },
          rw: { grants: { app: "readwrite" }, hosts: ["10.213.0.0/24"], requireSsl: true },
          ro: { grants: { app: "readonly" }, hosts: ["10.213.0.%"], connectionLimit: 5 },
        },
        backup: { dir: backups, retentionDays: 7 },
        standbys: { replica1: { host: "replica", address: s.address, instanceName: "itmdbrep", port: REPLICA_PORT } },
        toolsDir: tools,
      },
    },
  };
}

async function connect(user: string, where: "primary" | "replica" = "primary"): Promise<Connection> {
  const outputs = await stack.outputs();
  const url = new URL(outputs.mariadb.value.main.urls[user].app.mysql);
  return createConnection({
    host: where === "primary" ? primary : replica,
    port: where === "primary" ? PRIMARY_PORT : REPLICA_PORT,
    user,
    password: decodeURIComponent(url.password),
    database: "app",
    ssl: { rejectUnauthorized: false },
  });
}

async function query(user: string, sql: string, where: "primary" | "replica" = "primary"): Promise<Record<string, unknown>[]> {
  const c = await connect(user, where);
  try {
    const [rows] = await c.query(sql);
    return rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

async function uptime(): Promise<number> {
  return Number((await query("app", "SHOW GLOBAL STATUS LIKE 'Uptime'"))[0].Value);
}

/** Runs a script as root on the primary's host, through SSH as the sudo user (script on stdin). */
function onPrimary(script: string): string {
  return execFileSync("ssh", [...hosts.sshArgs(), `deploy@${primary}`, "sudo -n bash -s"], { encoding: "utf8", input: script });
}

/** Stops and removes this file's instances, also those a crashed earlier run left (their data is throwaway). */
function dropTestInstances(): void {
  for (const i of INSTANCES) {
    execFileSync("bash", [
      "-c",
      `pid=$(cat /run/mysqld/dbstack-${i}.pid 2>/dev/null); pkill -f "[d]bstack/${i}/my.cnf" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 1; ` +
        `rm -rf /etc/mysql/dbstack/${i} /var/lib/dbstack-mariadb/${i} /run/mysqld/dbstack-${i}.*; true`,
    ]);
  }
}

beforeAll(async () => {
  if (!existsSync("/usr/sbin/mariadbd")) throw new Error("mariadbd is missing: install the Debian package mariadb-server (apt-get install mariadb-server mariadb-client)");
  dropTestInstances();
  hosts = await createTestHosts(["mdbprimary", "mdbreplica"], { sudoUser: "deploy" });
  primary = hosts.host("mdbprimary").address;
  replica = hosts.host("mdbreplica").address;
  writeMigration(migrations, "0001_items.sql", "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL);\n");
  stack = await box.stack("mdb", config());
});

afterAll(async () => {
  try {
    await stack?.destroy();
  } finally {
    dropTestInstances();
    await hosts?.destroy();
    rmSync(box.dir, { recursive: true, force: true });
  }
});

describe("MariaDB primary and replica on two SSH hosts", () => {
  it("rejects invalid MariaDB config at preview, naming the key, before touching anything", async () => {
    const bad = await box.stack("mdbbad", {
      mariadb: { x: { databases: { app: { owner: "app", collation: "latin1_swedish_ci" } }, users: { app: { grants: { app: "owner" }, hosts: ["10.0.0.0/33"] } } } },
    });
    await expect(bad.preview()).rejects.toThrow(/dbstack:mariadb\.x\.databases\.app\.collation: expected a utf8mb4 collation/);
    await bad.workspace.removeStack("mdbbad");
  });

  it("up creates the instance, database, accounts, grants, replica and backups", async () => {
    const result = await stack.up();
    const out = result.outputs.mariadb.value.main;
    expect(out.configReport).toContain("started");
    expect(out.hookReports.app).toContain("applied migration 0001_items");
    expect(out.urls.app.app.mysql).toMatch(new RegExp(`^mysql://app:[A-Za-z0-9]{32}@${primary.replace(/\./g, "\\.")}:${PRIMARY_PORT}/app`));
    expect(out.urls.app.app.mysqlPymysql).toMatch(/^mysql\+pymysql:\/\//);
    expect(out.urls.app.app.mariadb).toMatch(/^mariadb:\/\//);
    expect(out.caCertificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it("initialises securely: no anonymous users, no remote root, no test database", () => {
    const socket = `/run/mysqld/dbstack-itmdb.sock`;
    const users = onPrimary(`mariadb --no-defaults -uroot --socket=${socket} -N -e "SELECT CONCAT(user,'@',host) FROM mysql.user ORDER BY 1"`);
    expect(users).not.toMatch(/^@/m);
    expect(users).not.toMatch(/^root@(?!localhost$)/m);
    const dbs = onPrimary(`mariadb --no-defaults -uroot --socket=${socket} -N -e "SHOW DATABASES"`);
    expect(dbs.split("\n")).not.toContain("test");
    // root logs in through the socket only, never with a password over TCP.
    expect(() => onPrimary(`mariadb --no-defaults -uroot -h 127.0.0.1 -P ${PRIMARY_PORT} --password= -e "SELECT 1" 2>&1`)).toThrow();
  });

  it("keeps every password out of the state in plaintext", async () => {
    const urls = (await stack.outputs()).mariadb.value.main.urls as Record<string, Record<string, { mysql: string }>>;
    const passwords = Object.values(urls).map((dbs) => decodeURIComponent(new URL(Object.values(dbs)[0].mysql).password));
    expect(passwords).toHaveLength(3);
    const state = readFileSync(join(box.dir, "state", ".pulumi", "stacks", "dbstack", "mdb.json"), "utf8");
    expect(state).toContain("ciphertext");
    for (const pw of passwords) expect(state).not.toContain(pw);
  });

  it("each user can do what its grant allows and nothing more", async () => {
    await query("app", "INSERT INTO items (name) VALUES ('a'), ('b')");
    await query("rw", "INSERT INTO items (name) VALUES ('c')");
    expect((await query("ro", "SELECT count(*) AS n FROM items"))[0].n).toBe(3);
    await expect(query("ro", "INSERT INTO items (name) VALUES ('x')")).rejects.toThrow(/command denied/);
    await expect(query("rw", "CREATE TABLE sneaky (x int)")).rejects.toThrow(/command denied/);
    await expect(query("ro", "DROP TABLE items")).rejects.toThrow(/command denied/);
    // rw is declared with REQUIRE SSL: without TLS it is refused.
    const url = new URL((await stack.outputs()).mariadb.value.main.urls.rw.app.mysql);
    await expect(createConnection({ host: primary, port: PRIMARY_PORT, user: "rw", password: decodeURIComponent(url.password), database: "app" })).rejects.toThrow(/Access denied/);
  });

  it("a write on the primary reaches the replica, which is read-only", async () => {
    await query("app", "INSERT INTO items (name) VALUES ('replicated')");
    let seen = 0;
    for (let i = 0; i < 30 && seen === 0; i++) {
      seen = Number((await query("ro", "SELECT count(*) AS n FROM items WHERE name = 'replicated'", "replica"))[0].n);
      if (seen === 0) await new Promise((r) => setTimeout(r, 500));
    }
    expect(seen).toBe(1);
    await expect(query("app", "INSERT INTO items (name) VALUES ('no')", "replica")).rejects.toThrow(/read-only|READ-ONLY|read_only/);
  });

  it("backup, then restore into a new database, gives identical row counts and checksums", async () => {
    const out = onPrimary(`${tools}/backup`);
    expect(out).toMatch(/main-\d{8}T\d{6}Z\.tar\.gz/);
    onPrimary(`${tools}/restore app --into app_restored`);
    const socket = `/run/mysqld/dbstack-itmdb.sock`;
    const sums = onPrimary(
      `for d in app app_restored; do mariadb --no-defaults -uroot --socket=${socket} -N -e "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, name ORDER BY id))) FROM $d.items"; done`,
    );
    const [a, b] = sums.trim().split("\n");
    expect(a).toMatch(/^4:[0-9a-f]{32}$/);
    expect(b).toBe(a);
  });

  it("a second up reports zero changes", async () => {
    const result = await stack.up();
    expect(Object.keys(changes(result.summary))).toEqual(["same"]);
  });

  it("a dynamic change keeps the server's uptime; a static one restarts it, and the preview says so", async () => {
    await setConfig(stack, config({ parameters: { long_query_time: "2" } }));
    let result = await stack.up();
    expect(result.outputs.mariadb.value.main.configReport).toContain("SET GLOBAL");
    const after = await uptime();
    expect(after).toBeGreaterThan(3);
    expect(Number((await query("app", "SELECT @@GLOBAL.long_query_time AS v"))[0].v)).toBe(2);

    await setConfig(stack, config({ parameters: { long_query_time: "2", innodb_log_buffer_size: "32M" } }));
    const events: PreviewEvent[] = [];
    await stack.preview({ onEvent: (e) => events.push(e as PreviewEvent) });
    const flags = summarizePreview("mdb", events).flags.filter((f) => f.kind === "restart");
    expect(flags.map((f) => f.message).join("\n")).toContain("innodb_log_buffer_size");
    result = await stack.up();
    expect(result.outputs.mariadb.value.main.configReport).toContain("restart");
    expect(await uptime()).toBeLessThan(after);
  });

  it("narrowing a grant revokes it; removing a user drops its accounts", async () => {
    await setConfig(
      stack,
      config({
        parameters: { long_query_time: "2", innodb_log_buffer_size: "32M" },
        users: { app: { grants: { app: "owner" }, hosts: ["localhost", "10.213.0.%"] }, rw: { grants: { app: "readonly" }, hosts: ["10.213.0.0/24"], requireSsl: true } },
      }),
    );
    await stack.up();
    await expect(query("rw", "INSERT INTO items (name) VALUES ('denied')")).rejects.toThrow(/command denied/);
    const users = onPrimary(`mariadb --no-defaults -uroot --socket=/run/mysqld/dbstack-itmdb.sock -N -e "SELECT DISTINCT user FROM mysql.user WHERE user IN ('app','rw','ro') ORDER BY 1"`);
    expect(users.trim().split("\n")).toEqual(["app", "rw"]);
  });

  it("promote makes the replica writable", async () => {
    const out = execFileSync("ssh", [...hosts.sshArgs(), `root@${replica}`, `${tools}-replica1/promote`], { encoding: "utf8" });
    expect(out.length).toBeGreaterThan(0);
    await query("app", "INSERT INTO items (name) VALUES ('after failover')", "replica");
    expect(Number((await query("app", "SELECT count(*) AS n FROM items WHERE name = 'after failover'", "replica"))[0].n)).toBe(1);
  });

  it("destroy keeps the data directories and the backups by default", async () => {
    await stack.destroy();
    expect(existsSync("/var/lib/dbstack-mariadb/itmdb/mysql")).toBe(true);
    expect(existsSync("/var/lib/dbstack-mariadb/itmdbrep/mysql")).toBe(true);
    expect(execFileSync("bash", ["-c", `ls ${backups}`], { encoding: "utf8" })).toMatch(/main-\d{8}T\d{6}Z\.tar\.gz/);
  });
});
