import Database from "better-sqlite3";
import { type ChildProcess } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot, mariadbRows, need, PG_BIN, pgRows, startScratchMariadb, startScratchPostgres, stopScratch, waitFor, which } from "./support/scratch";
import { copyDatabase, CopyRefusedError } from "../../components/copy/copy";

// Hostile values: an SQLite file (written the way applications write them, SQLite's type affinity
// letting any value into any column) with one column per value class the copy must name
// (components/copy/prescan/). Into a real PostgreSQL and MariaDB on this file's own ports (67xx):
// the copy refuses every class by id before writing anything, the dry run lists the same, and with
// every class allowed the target holds exactly what the report said, read back here with the
// target's own SQL (not with db:copy's verification).
const PG_PORT = 6711;
const MDB_PORT = 6712;
const dir = mkdtempSync(join(tmpdir(), "dbstack-cp-values-"));
const quiet = { progress: false as const, backupDir: join(dir, "backups") };
let pg: ChildProcess | undefined;
let mdb: ChildProcess | undefined;
const source = `sqlite://${join(dir, "hostile.db")}`;
const pgUrl = (db: string) => `postgresql://postgres@127.0.0.1:${PG_PORT}/${db}`;
const mdbUrl = (db: string) => `mysql://root@127.0.0.1:${MDB_PORT}/${db}`;
const mdbQuery = (db: string | undefined, sql: string) => mariadbRows({ host: "127.0.0.1", port: MDB_PORT, user: "root", database: db }, sql);

/** Column, its declared SQLite type, a clean value (SQL), a hostile value (SQL) and the class the copy must name. */
const COLUMNS: [string, string, string, string, string][] = [
  ["n_int", "INTEGER", "7", "2.5", "real-in-integer"],
  ["n_text", "INTEGER", "8", "'12a'", "text-in-number"],
  ["n_real", "REAL", "1.5", "'1,5'", "text-in-number"],
  ["n_dec", "DECIMAL(10,2)", "'12.34'", "'abc'", "text-in-number"],
  ["flag", "BOOLEAN", "1", "2", "not-boolean"],
  ["d", "DATE", "'2024-01-31'", "'2024-01-31junk'", "not-a-date"],
  ["d_time", "DATE", "'2024-02-01'", "'2024-01-31 12:34:56'", "date-with-time"],
  ["ts_jd", "DATETIME", "'2024-01-31 12:34:56'", "2460341.5", "julian-day"],
  ["ts_epoch", "DATETIME", "'2024-01-31 12:34:57'", "1706700000", "epoch-integer"],
  ["ts_off", "DATETIME", "'2024-01-31 12:34:58.5'", "'2024-01-31 12:34:56+02:00'", "offset"],
  ["ts_nano", "DATETIME", "'2024-01-31 12:34:59.123456'", "'2024-01-31 12:34:56.123456789'", "nanoseconds"],
  ["ts_bad", "DATETIME", "'2024-01-31 00:00:00'", "'yesterday'", "not-a-timestamp"],
  ["t_time", "TIME", "'12:30:00'", "'noon'", "not-a-time"],
  ["short", "VARCHAR(10)", "'abcdefghij'", "'abcdefghijk'", "too-long"],
  ["body", "TEXT", "'plain'", "CAST(X'61FF62' AS TEXT)", "invalid-utf8"],
  ["bin", "BLOB", "X'6869'", "'text'", "text-in-blob"],
];
const EXPECTED = [...COLUMNS.map(([c, , , , cls]) => `hostile.${c}:${cls}`), "child.parent_id:missing-parent"].sort();

beforeAll(async () => {
  need("PostgreSQL server (initdb)", PG_BIN !== undefined, "apt-get install postgresql-15", "copy value tests");
  need("MariaDB server", which("mariadbd") && which("mariadb-install-db"), "apt-get install mariadb-server", "copy value tests");
  if (isRoot) need("runuser", which("runuser"), "apt-get install util-linux", "copy value tests");
  pg = startScratchPostgres(join(dir, "pg"), PG_PORT, "trust");
  mdb = startScratchMariadb(join(dir, "mdb"), MDB_PORT);
  await waitFor("PostgreSQL", () => pgRows(pgUrl("postgres"), "SELECT 1"), 60);
  await waitFor("MariaDB", () => mdbQuery(undefined, "SELECT 1"), 60);
  for (const db of ["refused", "allowed", "partial"]) {
    await pgRows(pgUrl("postgres"), `CREATE DATABASE ${db}`);
    await mdbQuery(undefined, `CREATE DATABASE ${db} CHARACTER SET utf8mb4`);
  }
  const db = new Database(join(dir, "hostile.db"));
  db.pragma("foreign_keys = OFF"); // SQLite's default, which applications run with
  db.exec(`
    CREATE TABLE hostile (id INTEGER PRIMARY KEY, ${COLUMNS.map(([c, t]) => `${c} ${t}`).join(", ")});
    INSERT INTO hostile VALUES (1, ${COLUMNS.map((c) => c[2]).join(", ")});
    INSERT INTO hostile VALUES (2, ${COLUMNS.map((c) => c[3]).join(", ")});
    INSERT INTO hostile (id) VALUES (3);
    CREATE TABLE parent (id INTEGER PRIMARY KEY);
    CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
    INSERT INTO parent VALUES (1);
    INSERT INTO child VALUES (1, 1), (2, 99), (3, NULL);
  `);
  db.close();
}, 180_000);

afterAll(async () => {
  await stopScratch([pg, mdb], 20);
  rmSync(dir, { recursive: true, force: true });
});

const targets = [
  { engine: "PostgreSQL", url: pgUrl, tables: async (db: string) => (await pgRows(pgUrl(db), "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")).map((r) => String(r.name)) },
  { engine: "MariaDB", url: mdbUrl, tables: async (db: string) => (await mdbQuery(db, "SHOW TABLES")).map((r) => String(Object.values(r)[0])) },
];

describe.each(targets)("hostile SQLite values into $engine", ({ engine, url, tables }) => {
  it("the dry run and the copy name every class by id, with counts and row keys, and write nothing", async () => {
    const dry = await copyDatabase({ from: source, to: url("refused"), dryRun: true, ...quiet });
    expect(dry.plan.refused.map((c) => c.id).sort()).toEqual(EXPECTED);
    const nano = dry.plan.refused.find((c) => c.id === "hostile.ts_nano:nanoseconds")!;
    expect(nano.message).toMatch(/^1 value: .*e\.g\. id=2; allowed, each is cut to 6 fractional digits \(microseconds\)$/);
    expect(dry.plan.refused.find((c) => c.id === "child.parent_id:missing-parent")!.message).toContain("id=2");

    const err = await copyDatabase({ from: source, to: url("refused"), ...quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CopyRefusedError);
    expect((err as CopyRefusedError).refused.map((c) => c.id).sort()).toEqual(EXPECTED);
    for (const id of EXPECTED) expect((err as Error).message).toContain(id);
    expect(await tables("refused")).toEqual([]);
  });

  it("with every class allowed, writes exactly what the report said and keeps the clean row exact", async () => {
    const notes: string[] = [];
    await copyDatabase({ from: source, to: url("allowed"), allow: EXPECTED, ...quiet, progress: (l) => notes.push(l) });
    expect(notes.join("\n")).toContain("foreign key child (parent_id) -> parent is not created");
    const rows = await readBack(engine, "allowed");
    // The clean row, as the target's own SQL prints it (MariaDB's DATETIME(6) and TIME(6) print six digits).
    const us = engine === "PostgreSQL" ? "" : ".000000";
    expect(rows[1]).toEqual({
      n_int: "7", n_text: "8", n_real: "1.5", n_dec: "12.34", flag: engine === "PostgreSQL" ? "true" : "1",
      d: "2024-01-31", d_time: "2024-02-01", ts_jd: `2024-01-31 12:34:56${us}`, ts_epoch: `2024-01-31 12:34:57${us}`,
      ts_off: engine === "PostgreSQL" ? "2024-01-31 12:34:58.5" : "2024-01-31 12:34:58.500000", ts_nano: "2024-01-31 12:34:59.123456",
      ts_bad: `2024-01-31 00:00:00${us}`, t_time: `12:30:00${us}`, short: "abcdefghij", body: "plain", bin: "6869",
    });
    // The hostile row: NULL where the class says so; invalid UTF-8 with U+FFFD, nanoseconds cut, as reported.
    const hostile = Object.fromEntries(COLUMNS.map(([c]) => [c, null])) as Record<string, unknown>;
    hostile.body = "a\uFFFDb";
    hostile.ts_nano = "2024-01-31 12:34:56.123456"; // cut to microseconds, as reported
    expect(rows[2]).toEqual(hostile);
    expect(rows[3]).toEqual(Object.fromEntries(COLUMNS.map(([c]) => [c, null])));
    // The child row pointing nowhere is there, and so is every other row.
    const children = engine === "PostgreSQL" ? await pgRows(pgUrl("allowed"), "SELECT id::text AS id, parent_id::text AS p FROM child ORDER BY id") : await mdbQuery("allowed", "SELECT CAST(id AS CHAR) AS id, CAST(parent_id AS CHAR) AS p FROM child ORDER BY id");
    expect(children).toEqual([{ id: "1", p: "1" }, { id: "2", p: "99" }, { id: "3", p: null }]);
  });
});

it("a foreign key left out by --tables is named in the copy's normal output, not only by --dry-run", async () => {
  const lines: string[] = [];
  await copyDatabase({ from: source, to: pgUrl("partial"), tables: ["child"], ...quiet, progress: (l) => lines.push(l) });
  expect(lines).toContain("note: foreign key child (parent_id) -> parent is not created: parent is not copied");
  expect(await pgRows(pgUrl("partial"), "SELECT count(*)::int AS n FROM child")).toEqual([{ n: 3 }]);
});

/** The hostile table as the target's own SQL renders it, by id: every column as text (blobs as hex). */
async function readBack(engine: string, db: string): Promise<Record<number, Record<string, unknown>>> {
  const cols = COLUMNS.map(([c]) => c);
  const rows =
    engine === "PostgreSQL"
      ? await pgRows(pgUrl(db), `SELECT id, ${cols.map((c) => (c === "bin" ? `encode(${c}, 'hex') AS ${c}` : `${c}::text AS ${c}`)).join(", ")} FROM hostile ORDER BY id`)
      : await mdbQuery(db, `SELECT id, ${cols.map((c) => (c === "bin" ? `LOWER(HEX(${c})) AS ${c}` : `CAST(${c} AS CHAR) AS ${c}`)).join(", ")} FROM hostile ORDER BY id`);
  return Object.fromEntries(rows.map(({ id, ...rest }) => [Number(id), rest]));
}
