import { renderShippedScript } from "../../components/targets/hostFiles";
import { spawn, spawnSync } from "child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BackupPolicy } from "../../components/backups/policy";
import { renderMariadbBackup, renderMariadbMaintenance, renderMariadbRestore } from "../../components/engines/mariadb/backupScripts";
import { mariadbDialect } from "../../components/engines/mariadb/dialect";
import type { MariadbLocation } from "../../components/engines/mariadb/host";
import { renderAccountScript, renderDropAccountScript, type MariadbUserSpec } from "../../components/engines/mariadb/sql/accounts";
import { renderDatabaseScript, renderDropDatabaseScript, type MariadbDatabaseSpec } from "../../components/engines/mariadb/sql/databases";
import { renderGrantsScript } from "../../components/engines/mariadb/sql/grants";
import { renderPostDeployHook } from "../../components/hooks/migrationRunner";
import { checksumOf, type Migration } from "../../components/hooks/migrations";

// MariaDB's users, databases, grants, backups and hooks, rendered by dbstack and run against a real
// MariaDB 10.11 server: a throwaway instance of this test's own (data in a temporary directory, TCP
// port 3321, the socket where dbstack's scripts look for instance "m2it").
const LOC: MariadbLocation = { instance: "m2it", port: 3321 };
const SOCKET = `/run/mysqld/dbstack-${LOC.instance}.sock`;
const PROGRAMS = ["mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin", "mariadb-dump", "mariadb-check"];

let dir: string;
let server: ReturnType<typeof spawn> | undefined;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], input?: string | Buffer, env: Record<string, string> = {}): Run {
  const r = spawnSync(command, args, { input, encoding: "utf8", env: { ...process.env, ...env }, cwd: "/" });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a rendered script the way HostCommand does (bash -s, the script on stdin); throws with its output when it fails. */
function script(text: string, env: Record<string, string> = {}): string {
  const r = run("bash", ["-s"], text, env);
  if (r.code !== 0) throw new Error(`script failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Installs a rendered tool as an executable file and runs it with arguments, as an operator would. */
function runTool(name: string, text: string, args: string[]): Run {
  const path = join(dir, `${name}.sh`);
  writeFileSync(path, text, { mode: 0o700 });
  return run(path, args);
}

function tool(name: string, text: string, args: string[]): string {
  const r = runTool(name, text, args);
  if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** SQL as root over the socket; returns the output (tab-separated, no headers), trimmed. */
function root(sql: string, db?: string): string {
  const r = run("mariadb", ["--no-defaults", `--socket=${SOCKET}`, "-uroot", "--default-character-set=utf8mb4", "--batch", "--skip-column-names", ...(db ? [db] : []), "-e", sql]);
  if (r.code !== 0) throw new Error(`root SQL failed: ${r.stderr}\n${sql}`);
  return r.stdout.trim();
}

/** SQL as a user with its password (in a 0600 option file, as a client would keep it), over the socket or TCP. */
function as(user: string, password: string, sql: string, options: { db?: string; tcp?: boolean } = {}): Run {
  const cnf = join(dir, `client-${user}.cnf`);
  const value = password.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  writeFileSync(cnf, `[client]\npassword="${value}"\n`, { mode: 0o600 });
  const where = options.tcp ? ["--protocol=tcp", "--host=127.0.0.1", `--port=${LOC.port}`] : ["--protocol=socket", `--socket=${SOCKET}`];
  return run("mariadb", [`--defaults-file=${cnf}`, ...where, `-u${user}`, "--batch", "--skip-column-names", ...(options.db ? [options.db] : []), "-e", sql]);
}

function expectDenied(r: Run, error: RegExp): void {
  expect(r.code, `expected a refusal, got: ${r.stdout}`).not.toBe(0);
  expect(r.stderr).toMatch(error);
}

function expectOk(r: Run): string {
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

beforeAll(async () => {
  const missing = PROGRAMS.filter((p) => run("bash", ["-c", `command -v ${p}`]).code !== 0);
  if (missing.length > 0) {
    throw new Error(`MariaDB is not installed (${missing.join(", ")} not found): as root, apt-get install mariadb-server mariadb-client`);
  }
  if (process.getuid?.() !== 0) throw new Error("the MariaDB tests run as root: the server runs as the mysql user and root logs in over unix_socket");
  dir = mkdtempSync(join(tmpdir(), "dbstack-m2it-"));
  const uid = Number(run("id", ["-u", "mysql"]).stdout.trim());
  const gid = Number(run("id", ["-g", "mysql"]).stdout.trim());
  chownSync(dir, uid, gid);
  mkdirSync("/run/mysqld", { recursive: true });
  chownSync("/run/mysqld", uid, gid);
  const data = join(dir, "data");
  const install = run("mariadb-install-db", ["--no-defaults", "--user=mysql", `--datadir=${data}`, "--auth-root-authentication-method=socket", "--skip-test-db", `--tmpdir=${dir}`]);
  if (install.code !== 0) throw new Error(`mariadb-install-db failed:\n${install.stdout}${install.stderr}`);
  server = spawn(
    "mariadbd",
    [
      "--no-defaults",
      "--user=mysql",
      `--datadir=${data}`,
      `--port=${LOC.port}`,
      "--bind-address=127.0.0.1",
      "--skip-name-resolve",
      `--socket=${SOCKET}`,
      `--pid-file=${join(dir, "mariadbd.pid")}`,
      `--log-error=${join(dir, "error.log")}`,
      `--tmpdir=${dir}`,
      "--innodb-buffer-pool-size=32M",
      "--innodb-log-file-size=16M",
      "--innodb-flush-log-at-trx-commit=0",
      "--performance-schema=OFF",
      "--event-scheduler=OFF",
    ],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 300; i++) {
    if (run("mariadb-admin", ["--no-defaults", `--socket=${SOCKET}`, "-uroot", "ping"]).code === 0) return;
    if (server.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`mariadbd did not start: ${run("tail", ["-n", "20", join(dir, "error.log")]).stdout}`);
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    for (let i = 0; i < 200 && server.exitCode === null; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    if (server.exitCode === null) server.kill("SIGKILL");
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  rmSync(SOCKET, { force: true });
}, 30_000);

const DBS: MariadbDatabaseSpec[] = [
  { name: "app_db", collation: "utf8mb4_unicode_ci" },
  { name: "shop", collation: "utf8mb4_bin" },
];
const PW = {
  owner: `Own'er"\\pa$$ #1`,
  rw: `rw\\'; DROP USER root; --`,
  ro: `r"o\\\\'x`,
};
const owner: MariadbUserSpec = { name: "app_owner", grants: { app_db: "owner" }, hosts: ["localhost"], requireSsl: false, connectionLimit: 0 };
const rw: MariadbUserSpec = { name: "app_rw", grants: { app_db: "readwrite" }, hosts: ["localhost"], requireSsl: false, connectionLimit: 10 };
const ro: MariadbUserSpec = { name: "app_ro", grants: { app_db: "readonly", shop: "readonly" }, hosts: ["localhost", "127.0.0.0/8"], requireSsl: false, connectionLimit: 0 };

function converge(user: MariadbUserSpec, password: string): void {
  script(renderAccountScript(LOC, user, "DBSTACK_TEST_PASSWORD"), { DBSTACK_TEST_PASSWORD: password });
  script(renderGrantsScript(LOC, user, DBS));
}

describe("users, databases and grants", () => {
  beforeAll(() => {
    for (const db of DBS) script(renderDatabaseScript(LOC, db));
    converge(owner, PW.owner);
    converge(rw, PW.rw);
    converge(ro, PW.ro);
  });

  it("creates utf8mb4 databases with the declared collations", () => {
    expect(root("SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('app_db', 'shop') ORDER BY 1")).toBe(
      "app_db\tutf8mb4\tutf8mb4_unicode_ci\nshop\tutf8mb4\tutf8mb4_bin",
    );
  });

  it("lets each role do what it may and nothing more", () => {
    // owner: schema and data.
    expectOk(as("app_owner", PW.owner, "CREATE TABLE items (id int PRIMARY KEY, name varchar(40)); INSERT INTO items VALUES (1, 'one');", { db: "app_db" }));
    expectOk(as("app_owner", PW.owner, "CREATE VIEW v_items AS SELECT id FROM items; CREATE INDEX items_name ON items (name);", { db: "app_db" }));
    expectDenied(as("app_owner", PW.owner, "GRANT SELECT ON app_db.* TO app_rw@localhost"), /ERROR 1044|ERROR 1142|ERROR 1045|denied/);
    expectDenied(as("app_owner", PW.owner, "CREATE TABLE t (id int)", { db: "shop" }), /ERROR 1142|ERROR 1044/);
    // readwrite: data, not schema.
    expectOk(as("app_rw", PW.rw, "INSERT INTO items VALUES (2, 'two'); UPDATE items SET name = 'deux' WHERE id = 2;", { db: "app_db" }));
    expectDenied(as("app_rw", PW.rw, "CREATE TABLE t (id int)", { db: "app_db" }), /ERROR 1142 .*CREATE command denied/);
    expectDenied(as("app_rw", PW.rw, "DROP TABLE items", { db: "app_db" }), /ERROR 1142 .*DROP command denied/);
    // readonly: reads, over the socket and over TCP through its CIDR account.
    expect(expectOk(as("app_ro", PW.ro, "SELECT count(*) FROM items", { db: "app_db" }))).toBe("2");
    expect(expectOk(as("app_ro", PW.ro, "SELECT CURRENT_USER()", { tcp: true }))).toBe("app_ro@127.0.0.0/255.0.0.0");
    expectDenied(as("app_ro", PW.ro, "INSERT INTO items VALUES (3, 'three')", { db: "app_db" }), /ERROR 1142 .*INSERT command denied/);
    expectDenied(as("app_ro", PW.ro, "SELECT 1", { db: "mysql" }), /ERROR 1044/);
  });

  it("accepts passwords with quotes and backslashes, and rotates them", () => {
    const next = `n3w\\"pa'ss\\`;
    script(renderAccountScript(LOC, ro, "DBSTACK_TEST_PASSWORD"), { DBSTACK_TEST_PASSWORD: next });
    expectDenied(as("app_ro", PW.ro, "SELECT 1"), /ERROR 1045/);
    expectOk(as("app_ro", next, "SELECT 1"));
    script(renderAccountScript(LOC, ro, "DBSTACK_TEST_PASSWORD"), { DBSTACK_TEST_PASSWORD: PW.ro });
    expectOk(as("app_ro", PW.ro, "SELECT 1"));
  });

  it("is idempotent: a second run changes no grant", () => {
    const grants = () => root("SHOW GRANTS FOR 'app_ro'@'localhost'") + root("SHOW GRANTS FOR 'app_rw'@'localhost'");
    const before = grants();
    converge(ro, PW.ro);
    converge(rw, PW.rw);
    expect(grants()).toBe(before);
  });

  it("revokes what is narrowed or removed, and privileges granted by hand", () => {
    root("GRANT SELECT ON *.* TO 'app_rw'@'localhost'; GRANT DROP ON app_db.* TO 'app_rw'@'localhost' WITH GRANT OPTION; GRANT ALTER ON app_db.items TO 'app_rw'@'localhost'");
    converge({ ...rw, grants: { app_db: "readonly" } }, PW.rw);
    expectDenied(as("app_rw", PW.rw, "INSERT INTO items VALUES (4, 'four')", { db: "app_db" }), /INSERT command denied/);
    expectDenied(as("app_rw", PW.rw, "SELECT count(*) FROM mysql.user"), /SELECT command denied/);
    expectDenied(as("app_rw", PW.rw, "ALTER TABLE items ADD COLUMN x int", { db: "app_db" }), /ALTER command denied/);
    expect(expectOk(as("app_rw", PW.rw, "SELECT count(*) FROM items", { db: "app_db" }))).toBe("2");
    expect(root("SHOW GRANTS FOR 'app_rw'@'localhost'")).not.toMatch(/GRANT OPTION|ON \*\.\* TO .*SELECT|SELECT.* ON \*\.\*/);

    // ro loses shop and its TCP account.
    converge({ ...ro, grants: { app_db: "readonly" }, hosts: ["localhost"] }, PW.ro);
    expectDenied(as("app_ro", PW.ro, "SELECT 1", { db: "shop" }), /ERROR 1044/);
    expectDenied(as("app_ro", PW.ro, "SELECT 1", { tcp: true }), /1045|1130 - Host '127.0.0.1' is not allowed/);
    expect(root("SELECT Host FROM mysql.user WHERE User = 'app_ro'")).toBe("localhost");

    // Back to the declared spec.
    converge(rw, PW.rw);
    converge(ro, PW.ro);
    expectOk(as("app_rw", PW.rw, "INSERT INTO items VALUES (5, 'five'); DELETE FROM items WHERE id = 5;", { db: "app_db" }));
  });

  it("drops every account of a removed user; keeps a removed database unless data removal is allowed", () => {
    root("CREATE USER 'gone'@'localhost' IDENTIFIED BY 'x'; CREATE USER 'gone'@'10.1.%' IDENTIFIED BY 'x'; CREATE DATABASE scratch; GRANT SELECT ON scratch.* TO 'gone'@'localhost'");
    script(renderDropAccountScript(LOC, "gone"));
    expect(root("SELECT count(*) FROM mysql.user WHERE User = 'gone'")).toBe("0");
    expect(script(renderDropDatabaseScript(LOC, "scratch", false))).toContain("dbstack:allowDataRemoval");
    expect(root("SHOW DATABASES LIKE 'scratch'")).toBe("scratch");
    root("GRANT SELECT ON scratch.* TO 'app_ro'@'localhost'");
    script(renderDropDatabaseScript(LOC, "scratch", true));
    expect(root("SHOW DATABASES LIKE 'scratch'")).toBe("");
    expect(root("SELECT count(*) FROM mysql.db WHERE Db = 'scratch'")).toBe("0");
  });
});

describe("backup and restore", () => {
  let policy: BackupPolicy;
  const spec = () => ({ ...LOC, name: "m2it-app", databases: ["app_db", "shop"], policy });
  const TABLES = ["items", "notes", "audit"];
  const fingerprint = (db: string) =>
    TABLES.map((t) => `${t}:${root(`SELECT count(*) FROM ${t}`, db)}:${root(`CHECKSUM TABLE ${t}`, db).split("\t")[1]}`).join(" ");

  beforeAll(() => {
    policy = { schedule: "0 2 * * *", dir: join(dir, "backups"), retentionDays: 7 };
    root(
      [
        "CREATE TABLE notes (id int AUTO_INCREMENT PRIMARY KEY, body text, data blob) ENGINE=InnoDB",
        "CREATE TABLE audit (id int AUTO_INCREMENT PRIMARY KEY, note_id int, at datetime(6))",
        "CREATE TRIGGER notes_audit AFTER INSERT ON notes FOR EACH ROW INSERT INTO audit (note_id, at) VALUES (NEW.id, '2026-01-01 00:00:00')",
        "CREATE PROCEDURE count_notes() SELECT count(*) FROM notes",
        "INSERT INTO notes (body, data) VALUES ('olá 🐘 \\\\ '' \" \\t', X'00FF10'), ('second', NULL)",
        "INSERT INTO notes (body, data) SELECT CONCAT('row ', seq), UNHEX(MD5(seq)) FROM seq_1_to_500",
      ].join(";\n"),
      "app_db",
    );
  });

  it("backs up into one 0600 tar and restores into a new database with identical row counts and checksums", () => {
    expect(script(renderMariadbBackup(spec()))).toMatch(/backup ok: .*m2it-app-\d{8}T\d{6}Z\.tar\.gz/);
    const files = readdirSync(policy.dir).filter((f) => f.endsWith(".tar.gz"));
    expect(files).toHaveLength(1);
    expect(statSync(join(policy.dir, files[0])).mode & 0o777).toBe(0o600);
    const listing = run("tar", ["-tzf", join(policy.dir, files[0])]).stdout.split("\n").sort();
    expect(listing).toEqual(expect.arrayContaining(["./app_db.sql", "./shop.sql", "./users.sql", "./app_db.collation"]));
    expect(run("bash", ["-c", `tar -xzOf ${join(policy.dir, files[0])} ./users.sql`]).stdout).toContain("CREATE USER `app_ro`@`localhost`");

    const before = fingerprint("app_db");
    const restore = renderMariadbRestore(spec());
    expect(tool("restore", restore, ["app_db", "--into", "app_copy"])).toContain("into new database app_copy");
    expect(fingerprint("app_copy")).toBe(before);
    expect(root("SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'app_copy'")).toBe("utf8mb4_unicode_ci");
    expect(root("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'app_copy'")).toBe("notes_audit");
    expect(root("CALL count_notes()", "app_copy")).toBe("502");
    // --into never overwrites.
    const again = runTool("restore", restore, ["app_db", "--into", "app_copy"]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("database app_copy already exists");
  });

  it("restores into the same database, keeping its current contents in a 0600 dump first", () => {
    const before = fingerprint("app_db");
    root("DELETE FROM notes WHERE id > 10; DELETE FROM items; DROP PROCEDURE count_notes", "app_db");
    const changed = fingerprint("app_db");
    // Without a terminal, a restore over the database needs --yes: nothing changes without it.
    const unconfirmed = runTool("restore", renderMariadbRestore(spec()), ["app_db"]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("run it again with --yes to go on, or restore beside it with --into NEW_DATABASE; nothing changed");
    expect(fingerprint("app_db")).toBe(changed);
    // Three older safety dumps of app_db: the restore keeps the newest three, its own among them.
    const older = ["20000101T000000Z", "20000102T000000Z", "20000103T000000Z"].map((t) => join(policy.dir, `m2it-app-before-restore-${t}-app_db.sql.gz`));
    for (const f of older) writeFileSync(f, "", { mode: 0o600 });
    const out = tool("restore", renderMariadbRestore(spec()), ["app_db", "--yes"]);
    expect(out).toMatch(/kept the current contents of app_db in .*m2it-app-before-restore-\d{8}T\d{6}Z-app_db\.sql\.gz/);
    expect(out).toContain(`removed an older safety copy (3 are kept): ${older[0]}`);
    expect(fingerprint("app_db")).toBe(before);
    expect(root("CALL count_notes()", "app_db")).toBe("502");
    const safety = readdirSync(policy.dir).filter((f) => f.includes("-before-restore-")).sort();
    expect(safety).toHaveLength(3);
    expect(safety.slice(0, 2)).toEqual(older.slice(1).map((f) => f.split("/").pop()));
    expect(statSync(join(policy.dir, safety[2])).mode & 0o777).toBe(0o600);
    // The grants on the database survive: they are kept by name.
    expect(expectOk(as("app_ro", PW.ro, "SELECT count(*) FROM items", { db: "app_db" }))).toBe("2");
  });

  it("runs maintenance", () => {
    expect(script(renderMariadbMaintenance({ ...LOC, name: "m2it-app", databases: ["app_db", "shop"] }))).toContain("analyze ok");
  });

  it("fails, logged and non-zero, when a database is missing", () => {
    const r = run("bash", ["-s"], renderMariadbBackup({ ...spec(), databases: ["app_db", "missing_db"] }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("dbstack backup of m2it-app failed: database missing_db does not exist");
  });
});

describe("post-deploy hook", () => {
  const marker = () => join(dir, "escaped");
  const migration = (id: string, sql: string): Migration => ({ id, sql, checksum: checksumOf(sql) });
  const hook = (migrations: Migration[], backup = false) =>
    renderPostDeployHook({
      subject: "mariadb database app_db",
      dialect: mariadbDialect({
        ...LOC,
        database: "app_db",
        owner: "app_owner",
        backup: backup ? { dir: join(dir, "backups"), prefix: "m2it-app", maxAgeHours: 26, cronFile: "/nonexistent" } : undefined,
      }),
      migrations: { kind: "sql", migrations },
      healthChecks: [{ name: "who", sql: "SELECT CURRENT_USER()", expect: "app_owner@localhost" }],
    });
  // The hook with its shipped files on stdin, as HostCommand sends it.
  const deploy = (migrations: Migration[], backup = false) => {
    const h = hook(migrations, backup);
    return run("bash", ["-s"], renderShippedScript(h.files, h.script), { DBSTACK_OWNER_PASSWORD: PW.owner });
  };
  const recorded = () => root("SELECT id FROM dbstack_migrations ORDER BY id", "app_db").split("\n").filter(Boolean);
  const tables = () => root("SHOW TABLES", "app_db").split("\n");

  const first = migration("0001_accounts", "CREATE TABLE accounts (id int PRIMARY KEY);\nINSERT INTO accounts VALUES (1);\n");
  const half = migration(
    "0002_half",
    "CREATE TABLE ledger (id int PRIMARY KEY);\nINSERT INTO ledger VALUES (1);\nCREATE TABLE accounts (id int PRIMARY KEY);\nCREATE TABLE journal (id int);\n",
  );

  it("applies migrations as the owner, then runs the checks", () => {
    const r = deploy([first], true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("applied migration 0001_accounts");
    expect(r.stdout).toMatch(/who: app_owner@localhost/);
    expect(r.stdout).toMatch(/newest backup: m2it-app-\d{8}T\d{6}Z\.tar\.gz \(0h old\)/);
    expect(recorded()).toEqual(["0001_accounts"]);
    // A second deploy applies nothing.
    expect(deploy([first]).stdout).toContain("migrations: 0 applied, 1 in total");
  });

  it("stops a migration that fails halfway, as documented: earlier statements stay, nothing is recorded", () => {
    const r = deploy([first, half]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("migration 0002_half failed:");
    expect(r.stderr).toContain("ERROR 1050 (42S01) at line 3: Table 'accounts' already exists");
    expect(r.stderr).toContain("migration 0002_half is not recorded as applied. mariadb DDL is not transactional");
    expect(r.stderr).toContain("The next deploy runs the whole migration again");
    expect(tables()).toContain("ledger");
    expect(tables()).not.toContain("journal");
    expect(root("SELECT count(*) FROM ledger", "app_db")).toBe("1");
    expect(recorded()).toEqual(["0001_accounts"]);

    // Recovery as the message says: make it safe to run over its own partial work, deploy again.
    const fixed = migration(
      "0002_half",
      "CREATE TABLE IF NOT EXISTS ledger (id int PRIMARY KEY);\nINSERT IGNORE INTO ledger VALUES (1);\nCREATE TABLE IF NOT EXISTS journal (id int);\n",
    );
    const again = deploy([first, fixed]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("applied migration 0002_half");
    expect(recorded()).toEqual(["0001_accounts", "0002_half"]);
    expect(tables()).toContain("journal");
  });

  it.each([
    ["backslash form", "\\! touch MARKER"],
    ["long form", "system touch MARKER"],
    ["after a statement", "SELECT 1; \\! touch MARKER"],
  ])("runs no client command from a migration (%s)", (_what, line) => {
    rmSync(marker(), { force: true });
    const evil = migration("0003_evil", `CREATE TABLE IF NOT EXISTS evil (id int);\n${line.replace("MARKER", marker())}\n`);
    const r = deploy([evil]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("migration 0003_evil failed:");
    expect(existsSync(marker())).toBe(false);
    expect(recorded()).not.toContain("0003_evil");
  });
});
