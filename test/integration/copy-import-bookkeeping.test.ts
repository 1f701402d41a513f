/**
 * dbstack's own migration bookkeeping (`dbstack_migrations`) when the target's migrations ran first
 * (importFrom.schema "migrations" with `migrations: { dir }`): the copy fills the tables the
 * migrations made and leaves the target's dbstack_migrations as its hook wrote it (its own times and
 * checksums: an engine's variant of a file has another), refusing only when the target's migrations
 * are at other ids than the source's. A real SQLite source and a scratch PostgreSQL (port 7312),
 * through copyDatabase.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import type { ChildProcess } from "child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyDatabase, IntoSchemaError } from "../../components/copy/copy";
import { need, PG_BIN, pgRows, startScratchPostgres, stopScratch, waitFor } from "./support/scratch";

const dir = mkdtempSync(join(tmpdir(), "dbstack-cs-book-"));
const quiet = { progress: false as const, backupDir: join(dir, "backups") };
const ITEMS = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)";
const BOOK = "CREATE TABLE dbstack_migrations (id TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)";

const PG_PORT = 7312;
const pgUrl = (db: string) => `postgresql://postgres@127.0.0.1:${PG_PORT}/${db}`;
let pg: ChildProcess | undefined;

beforeAll(async () => {
  need("PostgreSQL server (initdb)", PG_BIN !== undefined, "apt-get install postgresql-15", "copy bookkeeping tests");
  pg = startScratchPostgres(join(dir, "pg"), PG_PORT, "trust");
  await waitFor("PostgreSQL", () => pgRows(pgUrl("postgres"), "SELECT 1"), 60);
  for (const db of ["migrated", "ahead"]) {
    await pgRows(pgUrl("postgres"), `CREATE DATABASE ${db}`);
    await pgRows(pgUrl(db), "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL)");
    await pgRows(pgUrl(db), "CREATE TABLE dbstack_migrations (id text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL)");
  }
}, 120_000);

afterAll(async () => {
  await stopScratch([pg], 20);
  rmSync(dir, { recursive: true, force: true });
});

/** A database file made by `sql`. */
function file(name: string, sql: string[]): string {
  const path = join(dir, name);
  const db = new Database(path);
  for (const s of sql) db.exec(s);
  db.close();
  return path;
}

function rows(path: string, sql: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).raw(true).all();
  } finally {
    db.close();
  }
}

const source = file("source.db", [ITEMS, BOOK, "INSERT INTO dbstack_migrations VALUES ('0001_items', 'sqlite-sum', '2024-01-01 00:00:00')", "INSERT INTO items (name) VALUES ('café'), ('Zoë''s'), ('x; DROP TABLE items; --')"]);

describe("copying into tables dbstack's own migrations made", () => {
  it("fills them and leaves the target's dbstack_migrations as its hook wrote it", async () => {
    await pgRows(pgUrl("migrated"), "INSERT INTO dbstack_migrations VALUES ('0001_items', 'target-sum', '2026-12-07 10:00:00+00')");
    const lines: string[] = [];
    const result = await copyDatabase({ from: `sqlite://${source}`, to: pgUrl("migrated"), ...quiet, progress: (l) => lines.push(l) });
    expect(lines.join("\n")).toContain("dbstack_migrations is left as the target's migrations wrote it (0001_items, the source's too)");
    expect(result.transferred.map((t) => [t.table, t.rows])).toEqual([["items", 3]]);
    const copied = await pgRows(pgUrl("migrated"), "SELECT id::int, name FROM items ORDER BY id");
    expect(copied.map((r) => [r.id, r.name])).toEqual(rows(source, "SELECT id, name FROM items ORDER BY id"));
    expect(await pgRows(pgUrl("migrated"), "SELECT id, checksum, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS at FROM dbstack_migrations")).toEqual([{ id: "0001_items", checksum: "target-sum", at: "2026-12-07 10:00:00" }]);
    // The serial moved past the copied keys: the application's next insert takes key 4.
    expect(await pgRows(pgUrl("migrated"), "INSERT INTO items (name) VALUES ('new') RETURNING id::int")).toEqual([{ id: 4 }]);
  });

  it("refuses, before anything is written, when the target's migrations are at other ids", async () => {
    await pgRows(pgUrl("ahead"), "INSERT INTO dbstack_migrations VALUES ('0001_items', 's', now()), ('0002_more', 's', now())");
    const err = await copyDatabase({ from: `sqlite://${source}`, to: pgUrl("ahead"), ...quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntoSchemaError);
    expect((err as Error).message).toContain("dbstack_migrations: the target's migrations are at 0001_items, 0002_more, the source's at 0001_items: migrate the target to the source's version first");
    expect(await pgRows(pgUrl("ahead"), "SELECT count(*)::int AS n FROM items")).toEqual([{ n: 0 }]);
  });
});
