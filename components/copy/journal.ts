/**
 * The copy's record in the target: a table `dbstack_copy_journal` holding one row per copy (its
 * id, the source's redacted URL, the target tables it creates, its state and its pre-copy backup).
 *
 * Why in the target and not in a local file: the target is what an interrupted copy leaves
 * half-written, and whoever runs the next copy (another machine, a CI job, the declared
 * `importFrom`) reaches the target, not the first run's disk. The row is written before any table
 * is created, so a copy killed at any later point leaves a `copying` row naming exactly the tables
 * it may have created; the next run drops those and copies again (or refuses, when asked to).
 * The row turns `verified` only after every table's checksum matched.
 *
 * The journal is dbstack's, not the application's: introspection leaves it out (introspect/index.ts),
 * so it is never copied, verified or compared.
 */
import type { EngineKind } from "../model/engineKind";
import type { Connection } from "./connections";
import { dialectFor } from "./dialects";

/** The journal table's name in every target. */
export const JOURNAL_TABLE = "dbstack_copy_journal";

/**
 * `copying`: written before the first table is created; the copy may have left any of its tables half-filled.
 * `failed`: the copy stopped with an error (its tables are still there, as unfinished as `copying`).
 * `verified`: every table's row count and checksum matched the source.
 * `restarted`: a later run found it unfinished and dropped its tables before copying again.
 * `rolled-back`: `--rollback` restored the target to this copy's pre-copy backup.
 */
export type JournalState = "copying" | "failed" | "verified" | "restarted" | "rolled-back";

/** One copy as the journal records it. */
export interface JournalEntry {
  id: string;
  /** The source URL with its password replaced by `***`. */
  source: string;
  /** The target tables this copy creates, in creation order (parents first). */
  tables: string[];
  /** The target's own tables (made by its migrations) this copy fills, parents first: a restart empties them, never drops them. */
  filled?: string[];
  state: JournalState;
  /** The directory of the pre-copy backup (safety.ts), when one was taken. */
  backup?: string;
  startedAt: string;
  finishedAt?: string;
  /** Why a `failed` copy stopped (passwords already redacted). */
  error?: string;
}

/** States in which a copy's tables may be half-written: the next run must deal with them. */
export const UNFINISHED_STATES: readonly JournalState[] = ["copying", "failed"];

/** The CREATE TABLE for the journal; portable SQL (VARCHAR keys, TEXT values, ISO-8601 text times) so one statement fits all three engines. */
export function renderJournalCreate(engine: EngineKind): string {
  const q = (s: string) => dialectFor(engine).quoteIdentifier(s);
  return [
    `CREATE TABLE IF NOT EXISTS ${q(JOURNAL_TABLE)} (`,
    `  ${q("id")} VARCHAR(64) NOT NULL PRIMARY KEY,`,
    `  ${q("source")} TEXT NOT NULL,`,
    `  ${q("tables")} TEXT NOT NULL,`,
    `  ${q("state")} VARCHAR(16) NOT NULL,`,
    `  ${q("backup")} TEXT,`,
    `  ${q("started_at")} VARCHAR(40) NOT NULL,`,
    `  ${q("finished_at")} VARCHAR(40),`,
    `  ${q("error")} TEXT`,
    `)`,
  ].join("\n");
}

/** The INSERT of a new entry, with its parameters (placeholders in the engine's style). */
export function renderJournalInsert(engine: EngineKind, entry: JournalEntry): { sql: string; params: unknown[] } {
  const d = dialectFor(engine);
  const cols = ["id", "source", "tables", "state", "backup", "started_at"];
  return {
    sql: `INSERT INTO ${d.quoteIdentifier(JOURNAL_TABLE)} (${cols.map((c) => d.quoteIdentifier(c)).join(", ")}) VALUES (${cols.map((_, i) => d.placeholder(i)).join(", ")})`,
    params: [entry.id, entry.source, renderJournalTables(entry), entry.state, entry.backup ?? null, entry.startedAt],
  };
}

/** The UPDATE that moves entry `id` to `state` (stamping finished_at, and the error for `failed`). */
export function renderJournalUpdate(engine: EngineKind, id: string, state: JournalState, at: string, error?: string): { sql: string; params: unknown[] } {
  const d = dialectFor(engine);
  const q = (s: string) => d.quoteIdentifier(s);
  const p = (i: number) => d.placeholder(i);
  return {
    sql: `UPDATE ${q(JOURNAL_TABLE)} SET ${q("state")} = ${p(0)}, ${q("finished_at")} = ${p(1)}, ${q("error")} = ${p(2)} WHERE ${q("id")} = ${p(3)}`,
    params: [state, at, error ?? null, id],
  };
}

/** Every table on `conn` (the journal included), as the engine names them. */
export async function listTables(conn: Connection): Promise<string[]> {
  return (await conn.query(dialectFor(conn.engine).listTablesSql)).map((r) => String(r.name ?? r.NAME ?? r.TABLE_NAME));
}

/** Whether the journal table exists on `conn`. */
export async function journalExists(conn: Connection): Promise<boolean> {
  return (await listTables(conn)).includes(JOURNAL_TABLE);
}

/** Every entry of the target's journal, oldest first; none when the table does not exist. */
export async function readJournal(conn: Connection): Promise<JournalEntry[]> {
  if (!(await journalExists(conn))) return [];
  const q = (s: string) => dialectFor(conn.engine).quoteIdentifier(s);
  const rows = await conn.query(
    `SELECT ${["id", "source", "tables", "state", "backup", "started_at", "finished_at", "error"].map(q).join(", ")} FROM ${q(JOURNAL_TABLE)} ORDER BY ${q("started_at")}, ${q("id")}`,
  );
  return rows.map((r) => ({
    id: String(r.id),
    source: String(r.source),
    ...parseJournalTables(String(r.tables)),
    state: String(r.state) as JournalState,
    backup: r.backup == null ? undefined : String(r.backup),
    startedAt: String(r.started_at),
    finishedAt: r.finished_at == null ? undefined : String(r.finished_at),
    error: r.error == null ? undefined : String(r.error),
  }));
}

/** The journal's unfinished entries (a killed or failed copy), oldest first. */
export async function unfinishedCopies(conn: Connection): Promise<JournalEntry[]> {
  return (await readJournal(conn)).filter((e) => UNFINISHED_STATES.includes(e.state));
}

/** Creates the journal when missing and records `entry` (state `copying`): the first write a copy makes. */
export async function beginJournal(conn: Connection, entry: JournalEntry): Promise<void> {
  await conn.query(renderJournalCreate(conn.engine));
  const { sql, params } = renderJournalInsert(conn.engine, entry);
  await conn.query(sql, params);
}

/** Moves entry `id` to `state`. */
export async function markJournal(conn: Connection, id: string, state: JournalState, error?: string): Promise<void> {
  const { sql, params } = renderJournalUpdate(conn.engine, id, state, new Date().toISOString(), error);
  await conn.query(sql, params);
}

/**
 * The statements that drop `tables` (those that exist) on `engine`, children first, whatever
 * foreign keys join them: PostgreSQL with CASCADE, MariaDB with its foreign key checks off for the
 * session, SQLite with PRAGMA foreign_keys off (it checks them on DROP otherwise).
 */
export function renderDropTables(engine: EngineKind, tables: readonly string[]): string[] {
  return tables.length === 0 ? [] : dialectFor(engine).renderDropTables([...tables].reverse());
}

/** Runs renderDropTables on `conn`. */
export async function dropTables(conn: Connection, tables: readonly string[]): Promise<void> {
  for (const sql of renderDropTables(conn.engine, tables)) await conn.query(sql);
}

/** The `tables` column: the created tables as a JSON list (as before filling existed), or `{ "created": [...], "filled": [...] }` when the copy fills tables. */
export function renderJournalTables(entry: Pick<JournalEntry, "tables" | "filled">): string {
  return entry.filled?.length ? JSON.stringify({ created: entry.tables, filled: entry.filled }) : JSON.stringify(entry.tables);
}

/** The `tables` column read back (either form of renderJournalTables). */
export function parseJournalTables(text: string): Pick<JournalEntry, "tables" | "filled"> {
  const v = JSON.parse(text) as string[] | { created: string[]; filled: string[] };
  return Array.isArray(v) ? { tables: v } : { tables: v.created, filled: v.filled };
}

/**
 * The statements emptying `tables` (the target's own, filled by an unfinished copy), children
 * first: DELETE, which every engine runs whatever foreign keys point at the table from tables
 * already emptied.
 */
export function renderEmptyTables(engine: EngineKind, tables: readonly string[]): string[] {
  const q = (n: string) => dialectFor(engine).quoteIdentifier(n);
  return [...tables].reverse().map((t) => `DELETE FROM ${q(t)}`);
}

/** A copy id: sortable by time, unique enough for one target (time plus random). */
export function newCopyId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${Math.random().toString(36).slice(2, 10)}`;
}
