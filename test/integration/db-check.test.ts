import Database from "better-sqlite3";
import { spawn, spawnSync } from "child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startThrowaway, type Throwaway } from "../../components/copy/check/throwaway";
import { applySqlText } from "../../components/copy/check/apply";

// `npm run db:check` through the real command line against real SQLite, PostgreSQL 15 and MariaDB
// 10.11. The command starts its own throwaway servers on ports the OS picks, their directories in
// its TMPDIR (one of ours); this file's live databases (for --source/--target) use 5689 and 3389.
// After every run no server of the command may be running and no instance directory (dbcheck-*)
// may be left in its TMPDIR.

const ROOT = resolve(__dirname, "../..");

let dir: string;
let cliTmp: string;
const live: Throwaway[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real command (from `cwd`, as `npm --prefix <dbstack> run db:check` would from an application's directory). */
function cli(args: string[], options: { env?: Record<string, string>; cwd?: string; onSpawn?: (pid: number) => void } = {}): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn("npx", ["--prefix", ROOT, "ts-node", "--transpile-only", join(ROOT, "scripts/db-check.ts"), ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, TMPDIR: cliTmp, DBSTACK_CHECK_SOURCE: "", DBSTACK_CHECK_TARGET: "", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    child.on("close", (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** The command's throwaway servers running right now: processes whose command line names its TMPDIR. */
function listening(): string[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ");
      } catch {
        return "";
      }
    })
    .filter((c) => cliTmp !== undefined && c.includes(cliTmp) && /postgres|mariadbd/.test(c));
}

function migrations(name: string, files: Record<string, string>): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const [f, sql] of Object.entries(files)) writeFileSync(join(d, f), sql);
  return d;
}

/** users + orders in the engines' own words for the key column, everything else shared. */
const PORTABLE = {
  "001_users.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, name VARCHAR(100), created_at TIMESTAMP NOT NULL);\n",
  "001_users.sqlite.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(200) NOT NULL UNIQUE, name VARCHAR(100), active BOOLEAN NOT NULL DEFAULT 1, created_at DATETIME NOT NULL);\n",
  "001_users.postgres.sql": "CREATE TABLE users (id SERIAL PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, name VARCHAR(100), active BOOLEAN NOT NULL DEFAULT true, created_at TIMESTAMP(0) NOT NULL);\n",
  "001_users.mariadb.sql": "CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, name VARCHAR(100), active BOOLEAN NOT NULL DEFAULT 1, created_at DATETIME NOT NULL);\n",
  "002_orders.sql": [
    "CREATE TABLE orders (",
    "  id INTEGER NOT NULL PRIMARY KEY,",
    "  user_id INTEGER NOT NULL,",
    "  total DECIMAL(12,2) NOT NULL,",
    "  note TEXT,",
    "  placed_on DATE NOT NULL,",
    "  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
    ");",
    "CREATE INDEX orders_placed_on ON orders (placed_on);",
    "",
  ].join("\n"),
};

beforeAll(async () => {
  for (const p of ["ss", "sqlite3", "psql", "mariadb"]) {
    if (spawnSync("bash", ["-c", `command -v ${p}`]).status !== 0) throw new Error(`${p} is missing: apt-get install iproute2 sqlite3 postgresql-client-15 mariadb-client`);
  }
  dir = mkdtempSync(join(tmpdir(), "db-check-test-"));
  cliTmp = join(dir, "cli-tmp");
  mkdirSync(cliTmp);
  // The servers run as the postgres and mysql OS users: they must reach their directories.
  chmodSync(dir, 0o755);
}, 60_000);

afterEach(() => {
  // What every run must leave behind: no server on the command's ports, no temporary directory.
  expect(listening()).toEqual([]);
  expect(readdirSync(cliTmp).filter((f) => f.startsWith("dbcheck-"))).toEqual([]);
});

afterAll(async () => {
  for (const t of live) await t.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("npm run db:check --migrations", () => {
  it("a portable migrations directory is compatible on all three engines (exit 0), with the report listing them", async () => {
    const r = await cli(["--migrations", migrations("portable", PORTABLE)]);
    expect(r.stderr).not.toContain("Error");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("engines: sqlite, postgres, mariadb");
    expect(r.stdout).toMatch(/\n {2}sqlite {4}ok {2}applied 001_users\.sqlite\.sql, 002_orders\.sql; 2 tables: users, orders/);
    expect(r.stdout).toMatch(/\n {2}postgres {2}ok {2}applied 001_users\.postgres\.sql, 002_orders\.sql; 2 tables/);
    expect(r.stdout).toMatch(/\n {2}mariadb {3}ok {2}applied 001_users\.mariadb\.sql, 002_orders\.sql; 2 tables/);
    expect(r.stdout).toContain("postgres vs mariadb: 2 tables on both, no differences");
    expect(r.stdout).not.toContain("ERROR");
    expect(r.stdout.trimEnd().split("\n").pop()).toMatch(/^COMPATIBLE on sqlite, postgres, mariadb/);
  }, 240_000);

  it("a PostgreSQL-only array column is an error naming the table, the column and the engines (exit 1)", async () => {
    const d = migrations("pg-array", {
      ...PORTABLE,
      "003_items.sql": "CREATE TABLE items (id INTEGER NOT NULL PRIMARY KEY, labels TEXT);\n",
      "003_items.postgres.sql": "CREATE TABLE items (id INTEGER NOT NULL PRIMARY KEY, labels text[]);\n",
    });
    const r = await cli(["--migrations", d]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("sqlite vs postgres: 3 tables on both, 1 error");
    expect(r.stdout).toContain("  items\n    ERROR   items.labels: TEXT on sqlite vs text[] on postgres: different type classes");
    expect(r.stdout).toContain("postgres vs mariadb: 3 tables on both, 1 error");
    expect(r.stdout).toContain("ERROR   items.labels: text[] on postgres vs text on mariadb");
    expect(r.stdout).toContain("sqlite vs mariadb: 3 tables on both, 0 errors, 2 warnings");
    expect(r.stdout.trimEnd().split("\n").pop()).toBe("NOT COMPATIBLE: 2 errors, 4 warnings");
  }, 240_000);

  it("a migration that fails on one engine names the engine, the file and the engine's error (exit 1)", async () => {
    const d = migrations("jsonb", { ...PORTABLE, "003_events.sql": "CREATE TABLE events (\n  id INTEGER NOT NULL PRIMARY KEY,\n  payload jsonb NOT NULL\n);\n" });
    const r = await cli(["--migrations", d, "--engines", "postgres,mariadb"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("engines: postgres, mariadb");
    expect(r.stdout).toMatch(/\n {2}postgres {2}ok {2}applied 001_users\.postgres\.sql, 002_orders\.sql, 003_events\.sql; 3 tables/);
    expect(r.stdout).toMatch(/\n {2}mariadb {3}FAILED at 003_events\.sql \(mysql:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/app\)\n\s+MariaDB error: Unknown data type: 'jsonb'\n/);
    expect(r.stdout).toContain("applied before it: 001_users.mariadb.sql, 002_orders.sql");
    expect(r.stdout.trimEnd().split("\n").pop()).toBe("NOT COMPATIBLE: migrations failed on mariadb (003_events.sql)");
  }, 240_000);

  it("a misnamed migration file or an unknown engine is bad usage (exit 2) and starts nothing", async () => {
    const d = migrations("misnamed", { "001_a.sql": "CREATE TABLE a (id INTEGER);\n", "schema.sql": "CREATE TABLE b (id INTEGER);\n" });
    const r = await cli(["--migrations", d]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("migration file schema.sql: name must look like 0001_create_users.sql, or 0001_create_users.<engine>.sql for one engine");
    const e = await cli(["--migrations", d, "--engines", "sqlite,oracle"]);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('unknown engine "oracle"');
    expect(e.stderr).toContain("usage:");
  }, 60_000);
});

describe("npm run db:check --command", () => {
  const MIGRATE = [
    "set -euo pipefail",
    'echo "$DBSTACK_ENGINE ${DATABASE_URL%%://*}" >> engines.log',
    'case "$DBSTACK_ENGINE" in',
    '  sqlite) sqlite3 -bail "$DBSTACK_SQLITE_PATH" < schema.sql ;;',
    "  postgres) psql -X -q -v ON_ERROR_STOP=1 -f schema.sql ;;",
    '  mariadb) mariadb --protocol=tcp -h "$MYSQL_HOST" -P "$MYSQL_TCP_PORT" -u "$MYSQL_USER" "$MYSQL_DATABASE" < schema.sql ;;',
    "esac",
    "",
  ].join("\n");

  it("runs the command once per engine with the database in its environment, from the directory it was started in", async () => {
    const d = join(dir, "cmd");
    mkdirSync(d);
    writeFileSync(join(d, "migrate.sh"), MIGRATE);
    writeFileSync(join(d, "schema.sql"), "CREATE TABLE notes (id INTEGER NOT NULL PRIMARY KEY, title VARCHAR(100) NOT NULL, body TEXT);\nCREATE INDEX notes_title ON notes (title);\n");
    const r = await cli(["--command", "bash migrate.sh"], { cwd: d });
    expect(r.code).toBe(0);
    expect(readFileSync(join(d, "engines.log"), "utf8")).toBe("sqlite sqlite\npostgres postgresql\nmariadb mysql\n");
    expect(r.stdout).toMatch(/\n {2}mariadb {3}ok {2}ran the command; 1 table: notes \(mysql:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/app\)/);
    expect(r.stdout).toContain("postgres vs mariadb: 1 table on both, no differences");
    // The rowid SQLite fills for an INTEGER PRIMARY KEY is worth a warning, not a failure.
    expect(r.stdout).toContain("WARNING notes.id is an INTEGER PRIMARY KEY that SQLite fills itself, but postgres does not");
  }, 240_000);

  it("a failing command is reported with its output and the engine (exit 1)", async () => {
    const d = join(dir, "cmd-fail");
    mkdirSync(d);
    writeFileSync(join(d, "migrate.sh"), MIGRATE);
    writeFileSync(join(d, "schema.sql"), "CREATE TABLE t (id INTEGER PRIMARY KEY, at TIMESTAMPTZ NOT NULL);\n");
    const r = await cli(["--command", "bash migrate.sh", "--engines", "postgres,mariadb"], { cwd: d });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/mariadb {3}FAILED at bash migrate\.sh/);
    expect(r.stdout).toMatch(/command exited 1 against mysql:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/app:\n[\s\S]*ERROR \d+ \(\w+\) at line 1: Unknown data type: 'TIMESTAMPTZ'/);
  }, 240_000);

  it("a signal mid-run ends the command and removes the throwaway server; the password was never on a command line", async () => {
    const d = join(dir, "cmd-signal");
    mkdirSync(d);
    writeFileSync(join(d, "migrate.sh"), '[ "$DBSTACK_ENGINE" = postgres ] || exit 0\n(umask 077; echo "$PGPASSWORD" > password)\necho $$ > pid\nexec sleep 120\n');
    let cliPid = 0;
    const running = cli(["--command", "bash migrate.sh", "--engines", "sqlite,postgres"], { cwd: d, onSpawn: (pid) => (cliPid = pid) });
    for (let i = 0; i < 600 && !existsSync(join(d, "pid")); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300));
    const password = readFileSync(join(d, "password"), "utf8").trim();
    const sleeper = Number(readFileSync(join(d, "pid"), "utf8"));
    expect(password.length).toBeGreaterThan(16);
    const commandLines = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8");
      } catch {
        return "";
      }
    });
    expect(commandLines.filter((c) => c.includes(password))).toEqual([]);
    expect(listening().some((c) => c.includes("postgres"))).toBe(true);
    process.kill(-cliPid, "SIGINT"); // what Ctrl-C does: the whole foreground group
    const r = await running;
    expect(r.stderr).toContain("SIGINT: removing throwaway instances");
    expect(r.code).not.toBe(0);
    // The command (sleep) is gone, not left behind orphaned (a zombie awaiting its reaper counts as gone).
    const alive = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${sleeper}/stat`, "utf8"));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive()).toBe(false);
  }, 240_000);
});

describe("npm run db:check --source/--target (live databases)", () => {
  let source: string;
  let pg: Throwaway;
  let my: Throwaway;

  beforeAll(async () => {
    const ownTmp = join(dir, "live");
    mkdirSync(ownTmp);
    pg = await startThrowaway("postgres", { ports: [5689], tmpRoot: ownTmp });
    live.push(pg);
    my = await startThrowaway("mariadb", { ports: [3389], tmpRoot: ownTmp });
    live.push(my);
    source = join(dir, "app.db");
    const db = new Database(source);
    db.exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(200) NOT NULL UNIQUE, vip BOOLEAN NOT NULL DEFAULT 0);
             CREATE TABLE invoices (id INTEGER PRIMARY KEY AUTOINCREMENT, customer_id INTEGER NOT NULL REFERENCES customers(id), amount DECIMAL(10,2) NOT NULL, issued DATE);`);
    db.close();
    // The target as a copy would leave it: PostgreSQL complete...
    await applySqlText(pg.url, `CREATE TABLE customers (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, email varchar(200) NOT NULL UNIQUE, vip boolean NOT NULL DEFAULT false);
      CREATE TABLE invoices (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id), amount numeric(10,2) NOT NULL, issued date);`);
    // ... MariaDB missing a column and with an amount that holds no cents.
    await applySqlText(my.url, `CREATE TABLE customers (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, vip BOOLEAN NOT NULL DEFAULT 0);
      CREATE TABLE invoices (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id BIGINT NOT NULL, amount INT NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers(id));`);
  }, 120_000);

  it("a target that holds the source's schema is compatible (exit 0), URLs taken from the environment", async () => {
    const r = await cli([], { env: { DBSTACK_CHECK_SOURCE: `sqlite://${source}`, DBSTACK_CHECK_TARGET: pg.url } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("engines: source (sqlite), target (postgres)");
    expect(r.stdout).toContain("source (sqlite) vs target (postgres): 2 tables on both, no differences");
    expect(r.stdout).not.toContain(new URL(pg.url).password);
  }, 60_000);

  it("a target missing a column and holding integers for decimals fails (exit 1) naming table and column", async () => {
    const r = await cli(["--source", `sqlite://${source}`], { env: { DBSTACK_CHECK_TARGET: my.url } });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("  invoices\n");
    expect(r.stdout).toContain("ERROR   invoices.issued (DATE) exists on source (sqlite) but not on target (mariadb)");
    expect(r.stdout).toContain("ERROR   invoices.amount: DECIMAL(10,2) on source (sqlite) vs int(11) [int32] on target (mariadb): integer vs decimal with a fraction");
    expect(r.stdout.trimEnd().split("\n").pop()).toMatch(/^NOT COMPATIBLE: 2 errors/);
  }, 60_000);
});
