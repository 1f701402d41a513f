/**
 * Renders the target's DDL for translated tables (see translate.ts for the rules that produced
 * them): CREATE TABLE before the data, indexes and foreign keys after it, and the statements that
 * move sequences and AUTO_INCREMENT counters past the copied keys. Pure functions of their input;
 * every identifier is quoted by the target's dialect (dialects/), so reserved words and mixed case
 * survive; what differs per engine (type names, identity clauses, MariaDB's index prefixes,
 * SQLite's foreign keys inside CREATE TABLE) is the dialect's.
 */
import type { EngineKind } from "../model/engineKind";
import { dialectFor } from "./dialects";
import { foreignKeyClause } from "./dialects/dialect";
import type { Column, Table } from "./schema";

/** Quotes an identifier for the target (double quotes, backticks for MariaDB; inner ones doubled); a NUL is refused. */
export function quoteIdentifier(target: EngineKind, name: string): string {
  return dialectFor(target).quoteIdentifier(name);
}

/** The target's type name for a translated column's class. */
export function columnType(target: EngineKind, column: Column): string {
  return dialectFor(target).columnType(column);
}

/** CREATE TABLE statements (columns, NOT NULL, defaults, primary key, identity/AUTO_INCREMENT), in the tables' order. */
export function renderCreateTables(target: EngineKind, tables: Table[]): string[] {
  const d = dialectFor(target);
  return tables.map((t) => d.renderCreateTable(t));
}

/** Unique and other indexes, then foreign keys (where CREATE TABLE does not hold them): run after the data is in. */
export function renderConstraints(target: EngineKind, tables: Table[]): string[] {
  const d = dialectFor(target);
  const q = (n: string) => d.quoteIdentifier(n);
  const out = tables.flatMap((t) => t.indexes.map((ix) => d.renderIndex(t, ix)));
  if (!d.foreignKeysInCreateTable) {
    for (const t of tables) {
      for (const fk of t.foreignKeys) out.push(`ALTER TABLE ${q(t.name)} ADD CONSTRAINT ${q(fk.name ?? "")} ${foreignKeyClause(d, fk)}`);
    }
  }
  return out;
}

/**
 * Statements that move each autoincrement counter past the largest copied key: PostgreSQL
 * setval on the identity's sequence, MariaDB ALTER TABLE ... AUTO_INCREMENT, SQLite's
 * sqlite_sequence row. Run them one by one on one session.
 */
export function renderResetSequences(target: EngineKind, tables: Table[]): string[] {
  const d = dialectFor(target);
  return tables.flatMap((t) => t.columns.filter((c) => c.autoIncrement).flatMap((c) => d.renderResetSequence(t, c)));
}
