/**
 * `copyDatabase({ readerThreads })` is what the copy does: 0 (or 1) reads on this thread even for a
 * table large enough for the reader threads (parallelCopy.ts PARALLEL_MIN_ROWS), 2 reads on two;
 * the rows are the same either way. Scratch PostgreSQL on 7315.
 */
import Database from "better-sqlite3";
import { type ChildProcess } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { need, PG_BIN, pgRows, startScratchPostgres, stopScratch, waitFor } from "./support/scratch";
import { copyDatabase } from "../../components/copy/copy";
import { PARALLEL_MIN_ROWS } from "../../components/copy/parallelCopy";

const PG_PORT = 7315;
const dir = mkdtempSync(join(tmpdir(), "dbstack-cs-one-"));
const quiet = { progress: false as const, backupDir: join(dir, "backups") };
const pgUrl = (db: string) => `postgresql://postgres@127.0.0.1:${PG_PORT}/${db}`;
const source = join(dir, "big.db");
let pg: ChildProcess | undefined;

beforeAll(async () => {
  need("PostgreSQL server (initdb)", PG_BIN !== undefined, "apt-get install postgresql-15", "reader thread tests");
  pg = startScratchPostgres(join(dir, "pg"), PG_PORT, "trust");
  const db = new Database(source);
  db.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
  const insert = db.prepare("INSERT INTO items VALUES (?, ?)");
  db.transaction(() => {
    for (let i = 1; i <= PARALLEL_MIN_ROWS; i++) insert.run(i, `item ${i} ✓`);
  })();
  db.close();
  await waitFor("PostgreSQL", () => pgRows(pgUrl("postgres"), "SELECT 1"), 60);
  for (const d of ["one", "two"]) await pgRows(pgUrl("postgres"), `CREATE DATABASE ${d}`);
}, 300_000);

afterAll(async () => {
  await stopScratch([pg], 20);
  rmSync(dir, { recursive: true, force: true });
});

describe("readerThreads as asked", () => {
  it("0 reads on this thread, 2 on two, the same rows", async () => {
    const one = await copyDatabase({ from: `sqlite://${source}`, to: pgUrl("one"), readerThreads: 0, ...quiet });
    expect(one.transferred.map((t) => [t.table, t.rows, t.readers])).toEqual([["items", PARALLEL_MIN_ROWS, 1]]);
    const two = await copyDatabase({ from: `sqlite://${source}`, to: pgUrl("two"), readerThreads: 2, ...quiet });
    expect(two.transferred.map((t) => [t.table, t.rows, t.readers])).toEqual([["items", PARALLEL_MIN_ROWS, 2]]);
    const sums = async (d: string) => (await pgRows(pgUrl(d), "SELECT count(*)::int AS n, md5(string_agg(id || '|' || name, ',' ORDER BY id)) AS h FROM items"))[0];
    expect(await sums("one")).toEqual(await sums("two"));
  });
});
