import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawn, spawnSync } from "child_process";
import { existsSync, readdirSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, sandbox, setConfig, sqlite, writeMigration } from "./harness";
import { createTestHosts, type TestHosts } from "./support/hosts";

// `npm run db:copy -- --from postgres:<name>/<db> --stack <stack>`: a PostgreSQL deployed by the
// real Pulumi engine on an SSH host (network namespace cpysrc), listening only on the host's own
// loopback, copied to a local SQLite file through a port forward over the deploy's pinned SSH.
const box = sandbox("copyrefs");
const STACK = "refcopy";
const PG_PORT = 5695;
const CLUSTER = "cpyref";
const MARIADB_PORT = 3395;
const INSTANCE = "cpyrefm";
const migrations = join(box.dir, "migrations");
const mariadbMigrations = join(box.dir, "migrations-mariadb");
let hosts: TestHosts;
let stack: Stack;
let address: string;

function config(hostKey: string | undefined) {
  const h = hosts.host("cpysrc");
  return {
    allowDataRemoval: true,
    hosts: { src: { address: h.address, user: "deploy", sudo: true, privateKey: h.privateKey, ...(hostKey === undefined ? {} : { hostKey }) } },
    postgres: {
      main: {
        host: "src",
        port: PG_PORT,
        instanceName: CLUSTER,
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        listenAddresses: ["localhost"],
        databases: { app: { owner: "app", migrations: { dir: migrations } } },
        users: { app: { grants: { app: "owner" } }, ro: { grants: { app: "readonly" } } },
        toolsDir: join(box.dir, "tools"),
      },
    },
    // A MariaDB on the same host, also on its loopback only; the owner may log in from 127.0.0.1 (the forward).
    mariadb: {
      shop: {
        host: "src",
        port: MARIADB_PORT,
        instanceName: INSTANCE,
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        listenAddresses: ["127.0.0.1"],
        databases: { app: { owner: "app", migrations: { dir: mariadbMigrations } } },
        users: { app: { grants: { app: "owner" }, hosts: ["localhost", "127.0.0.1"] } },
        toolsDir: join(box.dir, "tools-mariadb"),
      },
    },
    // A local SQLite deployment, for a reference as --to.
    // In a directory of its own, which dbstack makes for the database's unprivileged owner.
    sqlite: { local: { path: join(box.dir, "local", "local.db"), toolsDir: join(box.dir, "tools-sqlite") } },
  };
}

/** db:copy as a user runs it, against the sandbox's backend and project (its Pulumi.<stack>.yaml). */
function dbCopy(args: string[]) {
  const r = spawnSync("npm", ["run", "-s", "db:copy", "--", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, PULUMI_BACKEND_URL: box.backend, DBSTACK_PROJECT_DIR: box.projectDir },
    timeout: 170_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/^npm warn.*\n/gm, "") };
}

/** psql as postgres on the host, over SSH (the only way in besides the forward). */
function onHost(sql: string): string {
  const script = `cd /; runuser -u postgres -- psql -X -tA -F '|' -h /var/run/postgresql -p ${PG_PORT} -d app -c ${JSON.stringify(sql)}`;
  return execFileSync("ssh", [...hosts.sshArgs(), `deploy@${address}`, "sudo -n bash -s"], { encoding: "utf8", input: script }).trim();
}

/** ssh processes forwarding to the test cluster's port, and forward directories left in tmp. */
function leftovers(): string[] {
  const ps = spawnSync("pgrep", ["-af", `127\\.0\\.0\\.1:[0-9]+:127\\.0\\.0\\.1:(${PG_PORT}|${MARIADB_PORT})`], { encoding: "utf8" }).stdout.trim();
  const dirs = readdirSync(tmpdir()).filter((d) => d.startsWith("dbstack-forward-") || d.startsWith("dbstack-copy-ca-"));
  return [...(ps ? ps.split("\n") : []), ...dirs];
}

/** Removes this file's PostgreSQL cluster and MariaDB instance, also those a crashed earlier run left. */
function dropTestCluster(): void {
  execFileSync("bash", ["-c", `pg_dropcluster --stop 15 ${CLUSTER} 2>/dev/null; rm -rf /etc/postgresql/15/${CLUSTER} /var/lib/postgresql/15/${CLUSTER} /var/lib/postgresql/.dbstack-15-${CLUSTER}.pgpass`]);
  execFileSync("bash", [
    "-c",
    `pid=$(cat /run/mysqld/dbstack-${INSTANCE}.pid 2>/dev/null); pkill -f "[d]bstack/${INSTANCE}/my.cnf" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 1; ` +
      `rm -rf /etc/mysql/dbstack/${INSTANCE} /var/lib/dbstack-mariadb/${INSTANCE} /run/mysqld/dbstack-${INSTANCE}.*; true`,
  ]);
}

let password = "";

beforeAll(async () => {
  dropTestCluster();
  hosts = await createTestHosts(["cpysrc", "cpydst"], { sudoUser: "deploy" });
  address = hosts.host("cpysrc").address;
  writeMigration(
    migrations,
    "0001_items.sql",
    [
      "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2), note text);",
      "INSERT INTO items (name, price, note) SELECT 'item ' || g, g * 1.25, CASE WHEN g % 3 = 0 THEN NULL ELSE 'nota ' || g END FROM generate_series(1, 500) g;",
      "INSERT INTO items (name, price, note) VALUES ('ação ☃ 日本', NULL, 'tab\there');",
      "",
    ].join("\n"),
  );
  writeMigration(
    mariadbMigrations,
    "0001_orders.sql",
    [
      "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(100) NOT NULL, note TEXT NULL);",
      "INSERT INTO orders (customer, note) VALUES ('Zoë', NULL), ('日本', 'línea'), ('plain', 'x');",
      "",
    ].join("\n"),
  );
  stack = await box.stack(STACK, config(hosts.host("cpysrc").hostKey));
  const up = await stack.up();
  password = decodeURIComponent(new URL(up.outputs.postgres.value.main.urls.app.app.postgresql).password);
  expect(leftovers()).toEqual([]);
});

afterAll(async () => {
  try {
    // The deploy's own pin again (a test below declares a wrong one), so destroy can reach the host.
    if (stack) {
      await setConfig(stack, config(hosts.host("cpysrc").hostKey));
      await stack.destroy();
    }
  } finally {
    dropTestCluster();
    await hosts?.destroy();
    rmSync(box.dir, { recursive: true, force: true });
  }
});

describe("db:copy from a deployment named in a stack, through SSH", () => {
  it("the database is not reachable from here except through SSH", async () => {
    await expect(
      new Client({ host: address, port: PG_PORT, user: "app", database: "app", password, connectionTimeoutMillis: 3000 }).connect(),
    ).rejects.toThrow(/ECONNREFUSED|timeout/);
  });

  it("copies postgres:main/app to a local SQLite file: rows equal, no password shown, forward closed", () => {
    const target = join(box.dir, "copy.db");
    const r = dbCopy(["--from", "postgres:main/app", "--to", `sqlite://${target}`, "--stack", STACK]);
    expect(r.stderr).toContain(`db:copy: from postgres main/app as app through ssh deploy@${address} (forwarded to 127.0.0.1:`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/verified \(row counts and checksums match\)/);
    expect(r.stdout).toMatch(/items\s+\|?\s*501\b/);
    expect(`${r.stdout}${r.stderr}`).not.toContain(password);

    const rowsSql = "SELECT id || '|' || name || '|' || coalesce(CAST(CAST(price * 100 AS integer) AS text), '-') || '|' || coalesce(note, '<null>') FROM items ORDER BY id";
    const source = onHost(rowsSql);
    const copied = sqlite(target, rowsSql);
    expect(source.split("\n")).toHaveLength(501);
    expect(copied).toBe(source);
    expect(copied).toContain("ação ☃ 日本");
    expect(leftovers()).toEqual([]);
  });

  it("@user copies as that user, with the keys recorded in the stack's state when config declares none", async () => {
    // No hostKey in config: the pin is the SshHostKeys record in the state (pulumi stack export).
    await setConfig(stack, config(undefined));
    const target = join(box.dir, "ro.db");
    const r = dbCopy(["--from", "postgres:main/app@ro", "--to", `sqlite://${target}`, "--stack", STACK, "--tables", "items"]);
    expect(r.stderr).toContain("from postgres main/app as ro through ssh");
    expect(r.code).toBe(0);
    expect(sqlite(target, "SELECT count(*) FROM items")).toBe("501");
  });

  it("copies mariadb:shop/app (TLS verified against the deployment's CA) through the same kind of forward", () => {
    const target = join(box.dir, "shop.db");
    const r = dbCopy(["--from", "mariadb:shop/app", "--to", `sqlite://${target}`, "--stack", STACK, "--tables", "orders"]);
    expect(r.stderr).toContain(`db:copy: from mariadb shop/app as app through ssh deploy@${address} (forwarded to 127.0.0.1:`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("ssl-mode=VERIFY_IDENTITY");
    expect(sqlite(target, "SELECT id || '|' || customer || '|' || coalesce(note, '<null>') FROM orders ORDER BY id")).toBe("1|Zoë|<null>\n2|日本|línea\n3|plain|x");
    expect(leftovers()).toEqual([]);
  });

  it("copies into a deployment named with --to (sqlite:local, the stack's own SQLite file)", () => {
    const r = dbCopy(["--from", "postgres:main/app", "--to", "sqlite:local", "--stack", STACK, "--tables", "items"]);
    expect(r.stderr).toContain(`db:copy: to sqlite local (${join(box.dir, "local", "local.db")})`);
    expect(r.code).toBe(0);
    expect(sqlite(join(box.dir, "local", "local.db"), "SELECT count(*), sum(length(name)) FROM items")).toBe(onHost("SELECT count(*), sum(length(name)) FROM items"));
  });

  it("a failing copy still closes the forward", () => {
    const r = dbCopy(["--from", "postgres:main/app", "--to", `sqlite://${join(box.dir, "fail.db")}`, "--stack", STACK, "--tables", "no_such_table"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("through ssh");
    expect(`${r.stdout}${r.stderr}`).not.toContain(password);
    expect(leftovers()).toEqual([]);
  });

  it("a copy killed while the forward is open leaves no ssh and no key file behind", async () => {
    // The endpoints opened as db:copy opens them, held open until the process is killed.
    const code = `require("./scripts/lib/deploymentRefs").openEndpoints("postgres:main/app", "sqlite:///dev/null", { stack: ${JSON.stringify(STACK)} })
      .then(() => { process.stdout.write("open\\n"); setInterval(() => undefined, 1000); }, (e) => { console.error(e.message); process.exit(1); });`;
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", code], {
      cwd: ROOT,
      env: { ...process.env, PULUMI_BACKEND_URL: box.backend, DBSTACK_PROJECT_DIR: box.projectDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on("exit", (_code, signal) => r(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d) => String(d).includes("open") && resolve());
      child.on("exit", () => reject(new Error(`the endpoints did not open: ${stderr}`)));
    });
    expect(leftovers()).toHaveLength(3); // ssh, its key directory, the CA's directory
    child.kill("SIGTERM");
    expect(await exited).toBe("SIGTERM");
    // ssh gets SIGTERM from the handler; give it a moment to go.
    for (let i = 0; i < 50 && leftovers().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(leftovers()).toEqual([]);
  });

  it("a reference to a missing database is a clear error listing what the stack has", () => {
    const r = dbCopy(["--from", "postgres:main/nope", "--to", `sqlite://${join(box.dir, "x.db")}`, "--stack", STACK]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('db:copy: postgres:main/nope: postgres main has no database "nope" (databases: app)');
    const other = dbCopy(["--from", "mariadb:nope/app", "--to", `sqlite://${join(box.dir, "x.db")}`, "--stack", STACK]);
    expect(other.stderr).toContain(`db:copy: mariadb:nope/app: no mariadb deployment "nope" in stack ${STACK}; it has: postgres:main/app, mariadb:shop/app, sqlite:local`);
  });

  it("a wrong host key is refused before connecting: nothing copied, nothing left open", async () => {
    // Another host's key (as if someone else answered at the address).
    await setConfig(stack, config(hosts.host("cpydst").hostKey));
    const target = join(box.dir, "refused.db");
    const r = dbCopy(["--from", "postgres:main/app", "--to", `sqlite://${target}`, "--stack", STACK]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refused SSH host ${address}: the key it presents does not match the key declared in dbstack:hosts.src.hostKey. Nothing was sent to the host.`);
    expect(r.stderr).not.toContain("from postgres main/app");
    expect(existsSync(target)).toBe(false);
    expect(`${r.stdout}${r.stderr}`).not.toContain(password);
    expect(leftovers()).toEqual([]);
  });
});
