import Database from "better-sqlite3";
import { spawn, spawnSync, type ChildProcess } from "child_process";
import { mkdtempSync, rmSync, statSync } from "fs";
import * as mysql from "mysql2/promise";
import { tmpdir } from "os";
import { join } from "path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot, mariadbRows, need, PG_BIN, pgRows, startScratchMariadb, startScratchPostgres, stopScratch, waitFor, which } from "./support/scratch";
import { openSource } from "../../components/copy/connections";
import { checksumTables } from "../../components/copy/copy";
import { introspect } from "../../components/copy/introspect";
import { JOURNAL_TABLE } from "../../components/copy/journal";

// The safety of a copy, through real engines and the real CLI: the pre-copy backup (pg_dump,
// mariadb-dump, SQLite's backup API), `--rollback`, and a copy killed with SIGKILL halfway that
// the next run finds in the target's journal and restarts. Both servers require passwords over
// TCP, so the backup tools only work when the password reaches them (PGPASSWORD, a defaults file).
const PG_PORT = 5671;
const MDB_PORT = 3371;
const dir = mkdtempSync(join(tmpdir(), "dbstack-copy-safety-"));
const backups = join(dir, "backups");
const PG_PW = "Pg#s3cret/pw!";
const MDB_PW = 'My"s3\\cret#pw';
let pg: ChildProcess | undefined;
let mdb: ChildProcess | undefined;

const pgUrl = (db: string) => `postgresql://postgres:${encodeURIComponent(PG_PW)}@127.0.0.1:${PG_PORT}/${db}`;
const mdbUrl = (db: string) => `mysql://app:${encodeURIComponent(MDB_PW)}@127.0.0.1:${MDB_PORT}/${db}`;
const sqliteUrl = (name: string) => `sqlite://${join(dir, name)}`;

const pgQuery = (db: string, sql: string) => pgRows(pgUrl(db), sql);

const mdbQuery = (db: string | undefined, sql: string, root = false) =>
  mariadbRows(
    { ...(root ? { socketPath: join(dir, "mdb", "sock"), user: "root" } : { host: "127.0.0.1", port: MDB_PORT, user: "app", password: MDB_PW }), database: db, bigNumberStrings: false },
    sql,
  );

function sqliteQuery(name: string, sql: string): Record<string, unknown>[] {
  const db = new Database(join(dir, name), { readonly: true });
  try {
    return db.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

/** Every line any CLI run printed: none may hold a password. */
const printed: string[] = [];

/** Runs the real CLI (`npx ts-node --transpile-only scripts/db-copy.ts`), URLs in the environment as a user would pass secrets. */
function cli(args: string[], env: { from?: string; to: string }): { code: number; out: string } {
  const r = spawnSync("npx", ["ts-node", "--transpile-only", "scripts/db-copy.ts", ...args], {
    env: { ...process.env, DBSTACK_COPY_FROM: env.from ?? "", DBSTACK_COPY_TO: env.to },
    encoding: "utf8",
    timeout: 170_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  printed.push(out);
  return { code: r.status ?? -1, out };
}

beforeAll(async () => {
  need("PostgreSQL server (initdb)", PG_BIN !== undefined, "apt-get install postgresql-15", "copy safety tests");
  need("pg_dump and pg_restore", which("pg_dump") && which("pg_restore"), "apt-get install postgresql-client", "copy safety tests");
  need("MariaDB server and client", which("mariadbd") && which("mariadb-install-db") && which("mariadb-dump") && which("mariadb"), "apt-get install mariadb-server mariadb-client", "copy safety tests");
  if (isRoot) need("runuser", which("runuser"), "apt-get install util-linux", "copy safety tests");

  // PostgreSQL: trust on its private socket only (to set the password), scram over TCP.
  const pgDir = join(dir, "pg");
  pg = startScratchPostgres(pgDir, PG_PORT, "scram-over-tcp");
  const pgSocket = new Client({ host: pgDir, port: PG_PORT, user: "postgres", database: "postgres" });
  await waitFor("PostgreSQL", async () => {
    const c = new Client({ host: pgDir, port: PG_PORT, user: "postgres", database: "postgres" });
    await c.connect();
    await c.end();
  });
  await pgSocket.connect();
  await pgSocket.query(`ALTER ROLE postgres PASSWORD '${PG_PW.replace(/'/g, "''")}'`);
  for (const db of ["keep", "fresh", "killed"]) await pgSocket.query(`CREATE DATABASE ${db}`);
  await pgSocket.end();

  // MariaDB: root (no password) over its socket for set-up; the copy connects as `app` with a password over TCP.
  // --skip-name-resolve: the client host is 127.0.0.1 as such, so 'app'@'127.0.0.1' is the account that matches.
  mdb = startScratchMariadb(join(dir, "mdb"), MDB_PORT, ["--skip-name-resolve"]);
  await waitFor("MariaDB", () => mdbQuery(undefined, "SELECT 1", true));
  await mdbQuery(undefined, `CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '${MDB_PW.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`, true);
  for (const db of ["keep", "killed"]) {
    await mdbQuery(undefined, `CREATE DATABASE ${db} CHARACTER SET utf8mb4`, true);
    await mdbQuery(undefined, `GRANT ALL ON ${db}.* TO 'app'@'127.0.0.1'`, true);
  }

  // Sources: a small one with a foreign key, and one large enough to be killed while it moves.
  const small = new Database(join(dir, "small.db"));
  small.exec(`
    CREATE TABLE authors (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);
    CREATE TABLE books (id INTEGER PRIMARY KEY AUTOINCREMENT, author_id INTEGER NOT NULL REFERENCES authors(id), title VARCHAR(200), price DECIMAL(8,2));
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) INSERT INTO authors (name) SELECT 'author ' || i || ' ✓' FROM n;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) INSERT INTO books (author_id, title, price) SELECT 1 + i % 50, 'book ' || i, i * 1.25 FROM n;
  `);
  small.close();
  const big = new Database(join(dir, "big.db"));
  big.exec(`
    CREATE TABLE tags (id INTEGER PRIMARY KEY, tag TEXT NOT NULL);
    CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, tag_id INTEGER REFERENCES tags(id), n BIGINT NOT NULL, label VARCHAR(300), amount DECIMAL(12,2), at TIMESTAMP);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) INSERT INTO tags SELECT i, 'tag ' || i FROM n;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
      INSERT INTO events (tag_id, n, label, amount, at)
      SELECT 1 + i % 100, i * 7919, 'événement ' || i || ' ' || substr('abcdefghijklmnopqrstuvwxyz0123456789', 1 + i % 30) || printf('%.120c', '·'),
             (i % 100000) / 100.0, datetime(1700000000 + i * 61, 'unixepoch')
      FROM n;
  `);
  big.close();

  // Pre-existing targets: each holds an unrelated table with rows the rollback must keep.
  await pgQuery("keep", "CREATE TABLE keep_me (id int PRIMARY KEY, note text); INSERT INTO keep_me VALUES (1, 'first'), (2, 'zweite ✓'), (3, NULL)");
  await mdbQuery("keep", "CREATE TABLE keep_me (id int PRIMARY KEY, note text); ");
  await mdbQuery("keep", "INSERT INTO keep_me VALUES (1, 'first'), (2, 'zweite ✓'), (3, NULL)");
  const keep = new Database(join(dir, "keep.db"));
  keep.exec("CREATE TABLE keep_me (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO keep_me VALUES (1, 'first'), (2, 'zweite ✓'), (3, NULL);");
  keep.close();
}, 180_000);

afterAll(async () => {
  await stopScratch([pg, mdb], 15);
  rmSync(dir, { recursive: true, force: true });
});

const KEEP_ROWS = [
  { id: 1, note: "first" },
  { id: 2, note: "zweite ✓" },
  { id: 3, note: null },
];

/** The one backup file under the target's backup directory, checked private (dir 0700, file 0600). */
function backupFileFrom(out: string): string {
  const m = /backed up the target to (\S+)/.exec(out);
  expect(m, out).not.toBeNull();
  const file = m![1];
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(join(file, "..")).mode & 0o777).toBe(0o700);
  expect(statSync(join(file, "..", "backup.json")).mode & 0o777).toBe(0o600);
  expect(statSync(file).size).toBeGreaterThan(0);
  return file;
}

describe("a copy into an existing database is backed up first, and --rollback restores it", () => {
  const cases: { name: string; to: string; tables: () => Promise<string[]>; keep: () => Promise<Record<string, unknown>[]>; dump: RegExp }[] = [
    {
      name: "postgres",
      to: pgUrl("keep"),
      tables: async () => (await pgQuery("keep", "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((r) => String(r.tablename)),
      keep: () => pgQuery("keep", "SELECT id, note FROM keep_me ORDER BY id"),
      dump: /\/postgres-127\.0\.0\.1-5671-keep\/[^/]+\/target\.dump$/,
    },
    {
      name: "mariadb",
      to: mdbUrl("keep"),
      tables: async () => (await mdbQuery("keep", "SHOW TABLES")).map((r) => String(Object.values(r)[0])).sort(),
      keep: () => mdbQuery("keep", "SELECT id, note FROM keep_me ORDER BY id"),
      dump: /\/mariadb-127\.0\.0\.1-3371-keep\/[^/]+\/target\.sql$/,
    },
    {
      name: "sqlite",
      to: sqliteUrl("keep.db"),
      tables: async () => sqliteQuery("keep.db", "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1").map((r) => String(r.name)),
      keep: async () => sqliteQuery("keep.db", "SELECT id, note FROM keep_me ORDER BY id"),
      dump: /\/sqlite-keep\.db-[0-9a-f]{12}\/[^/]+\/target\.sqlite$/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: backup file (0600), copy, --rollback: the copied tables are gone and the unrelated rows are as they were`, async () => {
      const copy = cli(["--backup-dir", backups], { from: sqliteUrl("small.db"), to: c.to });
      expect(copy.code, copy.out).toBe(0);
      const file = backupFileFrom(copy.out);
      expect(file).toMatch(c.dump);
      expect(copy.out).toContain("undo with: npm run db:copy -- --rollback");
      expect(await c.tables()).toEqual(["authors", "books", JOURNAL_TABLE, "keep_me"]);
      // The application changes its own table after the copy: the rollback returns it to the backup's state.
      if (c.name === "postgres") await pgQuery("keep", "DELETE FROM keep_me WHERE id = 1");

      const back = cli(["--rollback", "--backup-dir", backups], { to: c.to });
      expect(back.code, back.out).toBe(0);
      expect(back.out).toMatch(/rolled back \w+ \S+ to its state of \d{4}-\d\d-\d\dT[\d:.]+Z \(before copy /);
      expect(back.out).toContain(`restored from ${file}`);
      expect(await c.tables()).toEqual(["keep_me"]);
      expect(await c.keep()).toEqual(KEEP_ROWS);

      // Nothing left to roll back to: a clear refusal, and the target untouched.
      const again = cli(["--rollback", "--backup-dir", backups], { to: c.to });
      expect(again.code).toBe(1);
      expect(again.out).toMatch(/no pre-copy backup of \S+ to roll back to/);
      expect(await c.keep()).toEqual(KEEP_ROWS);
    }, 120_000);
  }

  it("an empty target (a PostgreSQL database without tables, a new SQLite file) gets a record and no dump; its rollback drops the copied tables", async () => {
    const copy = cli(["--backup-dir", backups], { from: sqliteUrl("small.db"), to: pgUrl("fresh") });
    expect(copy.code, copy.out).toBe(0);
    expect(copy.out).toMatch(/the target has no tables: recorded that in \S+postgres-127\.0\.0\.1-5671-fresh\//);
    const back = cli(["--rollback", "--backup-dir", backups], { to: pgUrl("fresh") });
    expect(back.code, back.out).toBe(0);
    expect(back.out).toContain(`dropped the copied table(s): authors, books, ${JOURNAL_TABLE}`);
    expect(await pgQuery("fresh", "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual([]);

    // An SQLite file the copy creates: the same, and the file stays (emptied).
    const created = cli(["--backup-dir", backups], { from: sqliteUrl("small.db"), to: sqliteUrl("new.db") });
    expect(created.code, created.out).toBe(0);
    expect(created.out).toContain("the target has no tables: recorded that in");
    const undo = cli(["--rollback", "--backup-dir", backups], { to: sqliteUrl("new.db") });
    expect(undo.code, undo.out).toBe(0);
    expect(undo.out).toContain("the target did not exist");
    expect(sqliteQuery("new.db", "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")).toEqual([]);
  }, 60_000);
});

/**
 * Starts the CLI copy of big.db into `to` and SIGKILLs it (the whole process group: npx and node)
 * while the rows of `events` move: once its progress says it is copying `events` and the target
 * shows committed rows of it (`committed` counts them). Waiting for a rows/s progress line instead
 * would depend on the copy being slower than its 2 s progress interval. Returns what it printed.
 */
async function copyAndKill(to: string, committed: () => Promise<number>): Promise<string> {
  const child = spawn("npx", ["ts-node", "--transpile-only", "scripts/db-copy.ts", "--backup-dir", backups, "--batch-rows", "2000"], {
    env: { ...process.env, DBSTACK_COPY_FROM: sqliteUrl("big.db"), DBSTACK_COPY_TO: to },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  let ended = false;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      ended = true;
      resolve();
    }),
  );
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const until = Date.now() + 120_000;
  for (;;) {
    if (ended) throw new Error(`the copy ended before it could be killed halfway; it printed:\n${out}`);
    if (Date.now() > until) throw new Error(`no rows of events moved in 120 s; the copy printed:\n${out}`);
    if (out.includes("copying events ...") && (await committed().catch(() => 0)) > 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(-child.pid!, "SIGKILL");
  await exited;
  printed.push(out);
  return out;
}

/** The source's per-table checksums, as a copy verifies them (each table read with its own types). */
async function sourceChecksums(url: string, targetEngine: "postgres" | "mariadb"): Promise<Record<string, string>> {
  const source = await openSource(url);
  try {
    const schema = await introspect(source);
    const sums = await checksumTables(source, schema.tables.map((t) => ({ source: t, target: t })), [], targetEngine);
    return Object.fromEntries(sums.map((s) => [s.table, `${s.rows} ${s.checksum}`]));
  } finally {
    await source.close();
  }
}

/** The checksums a CLI run printed in its verification table. */
function printedChecksums(out: string): Record<string, string> {
  return Object.fromEntries([...out.matchAll(/^(tags|events) +(\d+) +([0-9a-f]{32})$/gm)].map((m) => [m[1], `${m[2]} ${m[3]}`]));
}

describe("a copy killed halfway is found by the next run, which restarts it cleanly", () => {
  it("into postgres: SIGKILL while rows move, then a re-run drops the half-copied tables, copies again and verifies", async () => {
    const to = pgUrl("killed");
    const out = await copyAndKill(to, async () => Number((await pgQuery("killed", "SELECT count(*)::int AS n FROM events"))[0].n));
    expect(out).toMatch(/backed up the target|the target has no tables/);
    const journal = await pgQuery("killed", `SELECT id, state, tables FROM ${JOURNAL_TABLE}`);
    expect(journal.map((r) => r.state)).toEqual(["copying"]);
    const [{ n }] = await pgQuery("killed", "SELECT count(*)::int AS n FROM events");
    expect(Number(n)).toBeGreaterThan(0);
    expect(Number(n)).toBeLessThan(300000); // killed halfway indeed

    const again = cli(["--backup-dir", backups], { from: sqliteUrl("big.db"), to });
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain(`found an unfinished copy ${journal[0].id}`);
    expect(again.out).toContain("dropping its tables tags, events and copying again");
    expect(again.out).toContain("verified (row counts and checksums match)");
    expect(printedChecksums(again.out)).toEqual(await sourceChecksums(sqliteUrl("big.db"), "postgres"));
    expect(await pgQuery("killed", "SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM events")).toEqual([{ n: 300000, d: 300000 }]);
    expect((await pgQuery("killed", `SELECT state FROM ${JOURNAL_TABLE} ORDER BY started_at`)).map((r) => r.state)).toEqual(["restarted", "verified"]);
  }, 170_000);

  it("into mariadb: SIGKILL while rows move; --refuse-unfinished names --rollback; a plain re-run restarts and verifies", async () => {
    const to = mdbUrl("killed");
    await copyAndKill(to, async () => Number((await mdbQuery("killed", "SELECT count(*) AS n FROM events"))[0].n));
    const journal = await mdbQuery("killed", `SELECT id, state FROM ${JOURNAL_TABLE}`);
    expect(journal.map((r) => r.state)).toEqual(["copying"]);
    expect(Number((await mdbQuery("killed", "SELECT count(*) AS n FROM events"))[0].n)).toBeLessThan(300000);

    const refused = cli(["--backup-dir", backups, "--refuse-unfinished"], { from: sqliteUrl("big.db"), to });
    expect(refused.code).toBe(1);
    expect(refused.out).toContain(`unfinished copy (killed or failed before verification):`);
    expect(refused.out).toContain("npm run db:copy -- --rollback");
    expect(refused.out).toContain("without --refuse-unfinished");

    const again = cli(["--backup-dir", backups], { from: sqliteUrl("big.db"), to });
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain(`found an unfinished copy ${journal[0].id}`);
    expect(printedChecksums(again.out)).toEqual(await sourceChecksums(sqliteUrl("big.db"), "mariadb"));
    expect(await mdbQuery("killed", "SELECT count(*) AS n FROM events")).toEqual([{ n: 300000 }]);
  }, 170_000);

  it("--rollback after a kill: the half-copied tables go and the existing table is restored (mariadb)", async () => {
    const to = mdbUrl("keep");
    await copyAndKill(to, async () => Number((await mdbQuery("keep", "SELECT count(*) AS n FROM events"))[0].n));
    expect((await mdbQuery("keep", "SHOW TABLES")).map((r) => String(Object.values(r)[0])).sort()).toEqual([JOURNAL_TABLE, "events", "keep_me", "tags"]);
    const back = cli(["--rollback", "--backup-dir", backups], { to });
    expect(back.code, back.out).toBe(0);
    expect(back.out).toContain(`dropped the copied table(s): tags, events, ${JOURNAL_TABLE}`);
    expect((await mdbQuery("keep", "SHOW TABLES")).map((r) => String(Object.values(r)[0]))).toEqual(["keep_me"]);
    expect(await mdbQuery("keep", "SELECT id, note FROM keep_me ORDER BY id")).toEqual(KEEP_ROWS);
  }, 120_000);

  it("no password appeared in anything the CLI printed", () => {
    expect(printed.length).toBeGreaterThan(8);
    const all = printed.join("\n");
    for (const secret of [PG_PW, encodeURIComponent(PG_PW), MDB_PW, encodeURIComponent(MDB_PW)]) expect(all).not.toContain(secret);
    expect(all).toContain("postgres:***@");
  });
});
