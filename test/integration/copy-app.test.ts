import Database from "better-sqlite3";
import { execFileSync, type ChildProcess } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot, mariadbRows, need, PG_BIN, pgRows, startScratchMariadb, startScratchPostgres, stopScratch, waitFor, which } from "./support/scratch";
import { copyDatabase, IntoSchemaError, TargetNotEmptyError } from "../../components/copy/copy";

// A real application moved the way a team moves it: its own Alembic migrations
// (test/fixtures/copy-app: a sequence-backed id, check constraints, a generated column with an
// index, varchar(256) unique keys) make its schema on SQLite, its own SQL fills it; then the same
// migrations run on a real PostgreSQL and MariaDB (this file's ports, 67xx), db:copy fills those
// tables, and the application inserts a new row through its own SQL. Values are compared with
// each engine's own SQL, not with db:copy's verification.
const PG_PORT = 6721;
const MDB_PORT = 6722;
const APP = resolve(__dirname, "../fixtures/copy-app");
const PYTHON = "/usr/bin/python3";
const dir = mkdtempSync(join(tmpdir(), "dbstack-cp-app-"));
const quiet = { progress: false as const, backupDir: join(dir, "backups") };
let pg: ChildProcess | undefined;
let mdb: ChildProcess | undefined;
const sqlitePath = join(dir, "app.db");
const source = `sqlite://${sqlitePath}`;
const pgUrl = (db: string) => `postgresql://postgres@127.0.0.1:${PG_PORT}/${db}`;
const mdbUrl = (db: string) => `mysql://root@127.0.0.1:${MDB_PORT}/${db}`;
const mdbQuery = (db: string | undefined, sql: string) => mariadbRows({ host: "127.0.0.1", port: MDB_PORT, user: "root", database: db }, sql);

/** Runs the application (or Alembic) with DATABASE_URL in SQLAlchemy's flavour; returns its stdout. */
function app(url: string, args: string[]): string {
  return execFileSync(PYTHON, args, { cwd: APP, env: { ...process.env, DATABASE_URL: url }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
const migrate = (url: string) => app(url, ["-m", "alembic", "-c", "alembic.ini", "upgrade", "head"]);
const SA = {
  sqlite: `sqlite:///${sqlitePath}`,
  postgres: (db: string) => `postgresql+psycopg2://postgres@127.0.0.1:${PG_PORT}/${db}`,
  mariadb: (db: string) => `mysql+pymysql://root@127.0.0.1:${MDB_PORT}/${db}?charset=utf8mb4`,
};

beforeAll(async () => {
  need("PostgreSQL server (initdb)", PG_BIN !== undefined, "apt-get install postgresql-15", "copy application tests");
  need("MariaDB server", which("mariadbd") && which("mariadb-install-db"), "apt-get install mariadb-server", "copy application tests");
  if (isRoot) need("runuser", which("runuser"), "apt-get install util-linux", "copy application tests");
  let python = true;
  try {
    execFileSync(PYTHON, ["-c", "import alembic, sqlalchemy, pymysql, psycopg2"], { stdio: "pipe" });
  } catch {
    python = false;
  }
  need("Alembic with SQLAlchemy, PyMySQL and psycopg2", python, "apt-get install python3-alembic python3-sqlalchemy python3-pymysql python3-psycopg2", "copy application tests");
  pg = startScratchPostgres(join(dir, "pg"), PG_PORT, "trust");
  mdb = startScratchMariadb(join(dir, "mdb"), MDB_PORT);
  await waitFor("PostgreSQL", () => pgRows(pgUrl("postgres"), "SELECT 1"), 60);
  await waitFor("MariaDB", () => mdbQuery(undefined, "SELECT 1"), 60);
  for (const db of ["migrated", "mismatch", "created"]) {
    await pgRows(pgUrl("postgres"), `CREATE DATABASE ${db}`);
    await mdbQuery(undefined, `CREATE DATABASE ${db} CHARACTER SET utf8mb4`);
  }
  migrate(SA.sqlite);
  app(SA.sqlite, ["app.py", "fill", "40"]);
}, 300_000);

afterAll(async () => {
  await stopScratch([pg, mdb], 20);
  rmSync(dir, { recursive: true, force: true });
});

/** The application's rows as SQLite holds them, normalised for comparison. */
function sourceRows(): Record<string, string[]> {
  const db = new Database(sqlitePath, { readonly: true });
  try {
    return {
      project: db.prepare("SELECT id, slug, name, created_at FROM project ORDER BY id").raw(true).all().map((r) => (r as unknown[]).map(String).join("|")),
      ticket: db.prepare("SELECT id, project_id, title, priority, printf('%.2f', estimate), done, due FROM ticket ORDER BY id").raw(true).all().map((r) => (r as unknown[]).map((v) => (v === null ? "NULL" : String(v))).join("|")),
      label: db.prepare("SELECT id, ticket_id, text FROM label ORDER BY id").raw(true).all().map((r) => (r as unknown[]).map(String).join("|")),
    };
  } finally {
    db.close();
  }
}

const targets = [
  {
    engine: "PostgreSQL",
    to: pgUrl,
    sa: SA.postgres,
    allow: [] as string[],
    rows: async (db: string) => {
      const q = (sql: string) => pgRows(pgUrl(db), sql).then((rs) => rs.map((r) => Object.values(r).map((v) => (v === null ? "NULL" : String(v))).join("|")));
      return {
        project: await q("SELECT id, slug, name, to_char(created_at, 'YYYY-MM-DD HH24:MI:SS.US') FROM project ORDER BY id"),
        ticket: await q("SELECT id, project_id, title, priority, estimate::text, CASE WHEN done THEN 1 ELSE 0 END, due::text FROM ticket ORDER BY id"),
        label: await q("SELECT id, ticket_id, text FROM label ORDER BY id"),
      };
    },
    query: (db: string, sql: string) => pgRows(pgUrl(db), sql),
  },
  {
    engine: "MariaDB",
    to: mdbUrl,
    sa: SA.mariadb,
    // SQLAlchemy's DateTime is DATETIME (whole seconds) on MariaDB: the app's microseconds cannot move as they are.
    allow: ["project.created_at:fraction-digits"],
    rows: async (db: string) => {
      const q = (sql: string) => mdbQuery(db, sql).then((rs) => rs.map((r) => Object.values(r).map((v) => (v === null ? "NULL" : String(v))).join("|")));
      return {
        project: await q("SELECT id, slug, name, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f') FROM project ORDER BY id"),
        ticket: await q("SELECT id, project_id, title, priority, CAST(estimate AS CHAR), done, CAST(due AS CHAR) FROM ticket ORDER BY id"),
        label: await q("SELECT id, ticket_id, text FROM label ORDER BY id"),
      };
    },
    query: (db: string, sql: string) => mdbQuery(db, sql),
  },
];

describe.each(targets)("an Alembic application moved from SQLite into $engine, migrations first", ({ engine, to, sa, allow, rows, query }) => {
  it("db:copy fills the tables the migrations made, leaves alembic_version alone, and the app inserts a new row after", async () => {
    migrate(sa("migrated"));
    // Without the allowance MariaDB's whole-second DATETIME is refused by id before anything is written.
    if (allow.length) {
      const refused = await copyDatabase({ from: source, to: to("migrated"), ...quiet }).catch((e: unknown) => e);
      expect((refused as Error).message).toContain("project.created_at:fraction-digits: 40 values");
      expect(String((await query("migrated", "SELECT COUNT(*) AS n FROM ticket"))[0].n)).toBe("0");
    }
    const lines: string[] = [];
    const result = await copyDatabase({ from: source, to: to("migrated"), allow, ...quiet, progress: (l) => lines.push(l) });
    expect(lines.join("\n")).toContain("alembic_version is left as the target's migrations wrote it (0002, the source's too)");
    expect(lines.join("\n")).toContain("ticket.title_key is generated: the target computes it");
    expect(result.transferred.map((t) => [t.table, t.rows]).sort()).toEqual([["label", 200], ["project", 40], ["ticket", 200]]);

    const src = sourceRows();
    const dst = await rows("migrated");
    const cut = (s: string) => (engine === "MariaDB" ? s.replace(/\.\d+$/, ".000000") : s);
    expect(dst.project).toEqual(src.project.map((r) => { const f = r.split("|"); f[3] = cut(f[3].length === 19 ? `${f[3]}.000000` : f[3]); return f.join("|"); }));
    expect(dst.ticket).toEqual(src.ticket);
    expect(dst.label).toEqual(src.label);
    expect(await query("migrated", "SELECT version_num FROM alembic_version")).toEqual([{ version_num: "0002" }]);

    // The application's own insert: its sequence-backed id continues after the copied ones; the generated column is computed.
    expect(app(sa("migrated"), ["app.py", "add", "Brand New Ticket"]).trim()).toBe("201 brand new ticket");
  });

  it("a target whose tables cannot take the rows is refused, by table and column, before anything is written", async () => {
    migrate(sa("mismatch"));
    await query("mismatch", "ALTER TABLE label DROP CONSTRAINT ck_label_text");
    await query("mismatch", "ALTER TABLE label DROP COLUMN text");
    await query("mismatch", "ALTER TABLE label ADD COLUMN note VARCHAR(10) NOT NULL");
    const err = await copyDatabase({ from: source, to: to("mismatch"), allow, ...quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntoSchemaError);
    expect((err as Error).message).toMatch(/label: .*text/);
    expect((err as Error).message).toMatch(/label: .*note/);
    expect(String((await query("mismatch", "SELECT COUNT(*) AS n FROM project"))[0].n)).toBe("0");

    // A table holding rows is never written into.
    await query("mismatch", "INSERT INTO project (slug, name, created_at) VALUES ('x', 'x', '2024-01-01 00:00:00')");
    const full = await copyDatabase({ from: source, to: to("mismatch"), allow, tables: ["project"], ...quiet }).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(TargetNotEmptyError);
    expect((full as Error).message).toContain("project (1 rows)");
  });
});

describe.each(targets)("the same application moved into $engine with db:copy creating the tables", ({ engine, to, sa, rows, query }) => {
  it("checks and the generated column are re-created, every row moves, and the app inserts a new row after", async () => {
    const result = await copyDatabase({ from: source, to: to("created"), ...quiet });
    // Nothing of the schema is refused: checks translated, the generated column and its index re-created.
    expect(result.plan.conversions.filter((c) => c.lossy)).toEqual([]);
    const src = sourceRows();
    const dst = await rows("created");
    expect(dst.ticket).toEqual(src.ticket);
    expect(dst.label).toEqual(src.label);
    expect(dst.project).toEqual(src.project.map((r) => { const f = r.split("|"); f[3] = f[3].length === 19 ? `${f[3]}.000000` : f[3]; return f.join("|"); }));
    expect(await query("created", "SELECT version_num FROM alembic_version")).toEqual([{ version_num: "0002" }]);
    // The target computes the generated column with its own lower(), and refuses what the checks forbid.
    const keys = await query("created", "SELECT COUNT(*) AS n FROM ticket WHERE title_key = LOWER(title)");
    expect(String(keys[0].n)).toBe("200");
    await expect(query("created", "UPDATE ticket SET priority = 9 WHERE id = 1")).rejects.toThrow(/ck_ticket_priority/);
    await expect(query("created", "UPDATE label SET text = '' WHERE id = 1")).rejects.toThrow(/ck_label_text/);
    // The application's own inserts, through the schema db:copy made: counters continue after the copied keys.
    expect(app(sa("created"), ["app.py", "label", "fresh"]).trim()).toBe("201");
    if (engine === "PostgreSQL") {
      // PostgreSQL names the identity's sequence ticket_id_seq, the name the application's Sequence asks for.
      expect(app(sa("created"), ["app.py", "add", "Brand New Ticket"]).trim()).toBe("201 brand new ticket");
    } else {
      // MariaDB keeps AUTO_INCREMENT, and SQLite had no sequence to copy: an application whose model names a
      // Sequence needs its migrations first on MariaDB (the test above), and says so plainly here.
      expect(() => app(sa("created"), ["app.py", "add", "Brand New Ticket"])).toThrow(/Unknown SEQUENCE: 'ticket_id_seq'/);
    }
  });
});
