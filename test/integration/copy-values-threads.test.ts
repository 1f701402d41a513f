import Database from "better-sqlite3";
import { type ChildProcess } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot, need, PG_BIN, pgRows, startScratchPostgres, stopScratch, waitFor, which } from "./support/scratch";
import { copyDatabase } from "../../components/copy/copy";

// SQLite -> PostgreSQL with reader threads (components/copy/parallelCopy.ts): the rows the threads
// read, render and hash arrive exactly as the one-thread copy writes them (read back here with
// PostgreSQL's own SQL, not db:copy's verification), a WAL-mode source still copies (on one
// thread), and a row the target refuses halfway fails the copy with PostgreSQL's error instead
// of hanging the threads. Its own PostgreSQL on port 7303.
const PG_PORT = 7303;
const dir = mkdtempSync(join(tmpdir(), "dbstack-cs-threads-"));
const quiet = { progress: false as const, backupDir: join(dir, "backups") };
let pg: ChildProcess | undefined;
const pgUrl = (db: string) => `postgresql://postgres@127.0.0.1:${PG_PORT}/${db}`;
const ROWS = 25_000;
const TEXTS = ["plain", "tab\there", "new\nline", "back\\slash", "\\N", "😀 𝄞", "'); DROP TABLE t; --", ""];

function makeSource(path: string, wal: boolean): void {
  const db = new Database(path);
  if (wal) db.pragma("journal_mode = WAL");
  db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, big BIGINT, txt TEXT, b BLOB, r REAL, d DECIMAL(12,2), at TIMESTAMP, code TEXT);
           CREATE TABLE empty (id INTEGER PRIMARY KEY, x TEXT)`);
  const insert = db.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  db.transaction(() => {
    for (let i = 1; i <= ROWS; i++) {
      const big = i % 3 === 0 ? 9223372036854775807n - BigInt(i) : -9223372036854775808n + BigInt(i);
        insert.run(i, big, `${TEXTS[i % TEXTS.length]} ${i}`, i % 5 ? Buffer.from([0, i & 255, 0]) : null, i / 7, `${i % 100000}.${String(i % 100).padStart(2, "0")}`, `2024-01-01 00:00:${String(i % 60).padStart(2, "0")}.${i % 1000}`, `c${i}`);
    }
  })();
  db.close();
}

/** The table as PostgreSQL's own SQL prints it, one text line per row, in key order. */
async function dump(db: string): Promise<string[]> {
  const rows = await pgRows(pgUrl(db), "SELECT concat_ws('|', id, big, txt, encode(b, 'hex'), r::text, d::text, at::text, code) AS line FROM t ORDER BY id");
  return rows.map((r) => String(r.line));
}

beforeAll(async () => {
  need("PostgreSQL server (initdb)", PG_BIN !== undefined, "apt-get install postgresql-15", "copy reader-thread tests");
  if (isRoot) need("runuser", which("runuser"), "apt-get install util-linux", "copy reader-thread tests");
  pg = startScratchPostgres(join(dir, "pg"), PG_PORT, "trust");
  await waitFor("PostgreSQL", () => pgRows(pgUrl("postgres"), "SELECT 1"), 60);
  for (const db of ["one", "two", "wal", "refused1", "refused2"]) await pgRows(pgUrl("postgres"), `CREATE DATABASE ${db}`);
  makeSource(join(dir, "source.db"), false);
  makeSource(join(dir, "wal.db"), true);
}, 180_000);

afterAll(async () => {
  await stopScratch([pg], 20);
  rmSync(dir, { recursive: true, force: true });
});

describe("SQLite -> PostgreSQL with reader threads", () => {
  it("writes exactly the rows the one-thread copy writes", async () => {
    const from = `sqlite://${join(dir, "source.db")}`;
    const one = await copyDatabase({ from, to: pgUrl("one"), readerThreads: 1, batchRows: 4000, ...quiet });
    const two = await copyDatabase({ from, to: pgUrl("two"), readerThreads: 2, batchRows: 4000, ...quiet });
    expect(two.transferred.map((t) => [t.table, t.rows])).toEqual(one.transferred.map((t) => [t.table, t.rows]));
    expect(two.verified).toEqual(one.verified);
    expect(one.transferred.map((t) => t.readers)).toEqual([1, 1]);
    expect(two.transferred.find((t) => t.table === "t")?.readers).toBe(2);
    const a = await dump("one");
    expect(a).toHaveLength(ROWS);
    expect(a[2]).toBe("3|9223372036854775804|back\\slash 3|000300|0.42857142857142855|3.03|2024-01-01 00:00:03.3|c3");
    expect(await dump("two")).toEqual(a);
  });

  it("copies a WAL-mode source too (on one thread: a second reader could see later commits)", async () => {
    const wal = await copyDatabase({ from: `sqlite://${join(dir, "wal.db")}`, to: pgUrl("wal"), readerThreads: 2, ...quiet });
    expect(wal.transferred.map((t) => t.readers)).toEqual([1, 1]);
    expect(await dump("wal")).toEqual(await dump("one"));
  });

  it.each([1, 2])("fails with PostgreSQL's own error when the target refuses a row halfway, without hanging (%i reader thread(s))", async (threads) => {
    const db = `refused${threads}`;
    // The application's migrations made the tables; a trigger of its own refuses the last source row.
    await pgRows(
      pgUrl(db),
      `CREATE TABLE t (id bigint PRIMARY KEY, big bigint, txt text, b bytea, r double precision, d numeric(12,2), at timestamp, code text);
       CREATE TABLE empty (id bigint PRIMARY KEY, x text);
       CREATE FUNCTION refuse_last() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id = ${ROWS} THEN RAISE EXCEPTION 'the application refuses row %', NEW.id; END IF; RETURN NEW; END $$;
       CREATE TRIGGER refuse_last BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION refuse_last();`,
    );
    const err = await copyDatabase({ from: `sqlite://${join(dir, "source.db")}`, to: pgUrl(db), readerThreads: threads, batchRows: 1_000_000, ...quiet }).catch((e: unknown) => e);
    expect(String(err)).toContain(`the application refuses row ${ROWS}`);
    expect(await pgRows(pgUrl(db), "SELECT count(*)::int AS n FROM t")).toEqual([{ n: 0 }]);
  });
});
