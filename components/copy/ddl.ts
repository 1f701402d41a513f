/**
 * Renders the target's DDL for translated tables (see translate.ts for the rules that produced
 * them): CREATE TABLE before the data, indexes and foreign keys after it, and the statements that
 * move sequences and AUTO_INCREMENT counters past the copied keys. Pure functions of their input;
 * every identifier is quoted (double quotes, backticks for MariaDB), so reserved words and mixed
 * case survive.
 *
 * SQLite cannot add a foreign key to an existing table: its foreign keys are part of CREATE TABLE,
 * and whoever loads the data runs with `PRAGMA foreign_keys = OFF` and checks with
 * `PRAGMA foreign_key_check` afterwards (renderForeignKeyCheck).
 *
 * MariaDB tables are created utf8mb4 with the binary collation: PostgreSQL's and SQLite's unique
 * constraints compare text exactly, and a case-insensitive collation would refuse rows that differ
 * only in case.
 */
import { MARIADB_KEY_BYTES, mariadbFsp, stringLiteral } from "./translate";
import type { Column, CopyEngine, Table, TypeClass } from "./schema";

/** Quotes an identifier for the target: double quotes (backticks for MariaDB), inner ones doubled. */
export function quoteIdentifier(target: CopyEngine, name: string): string {
  if (name.includes("\0")) throw new Error(`identifier contains a NUL character: ${JSON.stringify(name)}`);
  return target === "mariadb" ? `\`${name.replace(/`/g, "``")}\`` : `"${name.replace(/"/g, '""')}"`;
}

const INT_NAMES: Record<CopyEngine, Record<number, string>> = {
  postgres: { 1: "smallint", 2: "smallint", 4: "integer", 8: "bigint" },
  mariadb: { 1: "TINYINT", 2: "SMALLINT", 4: "INT", 8: "BIGINT" },
  sqlite: { 1: "TINYINT", 2: "SMALLINT", 4: "INT", 8: "BIGINT" },
};

/** The target's type name for a translated column's class. */
export function columnType(target: CopyEngine, column: Column): string {
  const t: TypeClass = column.type;
  switch (t.kind) {
    case "integer": {
      const name = INT_NAMES[target][t.bytes];
      return t.unsigned && target !== "postgres" ? `${name} UNSIGNED` : name;
    }
    case "boolean":
      return target === "postgres" ? "boolean" : target === "mariadb" ? "TINYINT(1)" : "BOOLEAN";
    case "decimal":
      if (t.precision === undefined) return target === "postgres" ? "numeric" : target === "mariadb" ? "DECIMAL(65,30)" : "NUMERIC";
      return target === "postgres" ? `numeric(${t.precision},${t.scale ?? 0})` : `DECIMAL(${t.precision},${t.scale ?? 0})`;
    case "float":
      if (target === "postgres") return t.bytes === 4 ? "real" : "double precision";
      if (target === "mariadb") return t.bytes === 4 ? "FLOAT" : "DOUBLE";
      return "REAL";
    case "text":
      if (target === "postgres") return t.maxLength === undefined ? "text" : t.fixed ? `char(${t.maxLength})` : `varchar(${t.maxLength})`;
      if (t.maxLength === undefined) return target === "mariadb" ? "LONGTEXT" : "TEXT";
      return t.fixed && t.maxLength <= 255 ? `CHAR(${t.maxLength})` : `VARCHAR(${t.maxLength})`;
    case "binary":
      if (target === "postgres") return "bytea";
      if (target === "mariadb") return t.maxLength === undefined ? "LONGBLOB" : `VARBINARY(${t.maxLength})`;
      return "BLOB";
    case "date":
      return target === "postgres" ? "date" : "DATE";
    case "time":
      return target === "postgres" ? "time" : target === "mariadb" ? "TIME(6)" : "TIME";
    case "timestamp":
      if (target === "postgres") {
        const p = t.fractionalDigits === undefined ? "" : `(${Math.min(t.fractionalDigits, 6)})`;
        return t.withTimeZone ? `timestamp${p} with time zone` : `timestamp${p} without time zone`;
      }
      // withTimeZone only survives translation into MariaDB from MariaDB itself (see translate.ts).
      if (target === "mariadb") return `${t.withTimeZone ? "TIMESTAMP" : "DATETIME"}(${mariadbFsp(t)})`;
      return t.withTimeZone ? "TIMESTAMPTZ" : "TIMESTAMP";
    case "json":
      if (target === "postgres") return /^jsonb$/i.test(column.sourceType.trim()) ? "jsonb" : "json";
      return target === "mariadb" ? "JSON" : "TEXT";
    case "uuid":
      return target === "postgres" ? "uuid" : "UUID";
    case "other":
      // Only reaches here between the same engine (translate turns it into text otherwise).
      return t.name;
  }
}

/** A default expression as the target's column syntax wants it: SQLite and MariaDB need parentheses around expressions. */
function defaultClause(target: CopyEngine, expr: string): string {
  if (target === "postgres") return `DEFAULT ${expr}`;
  const literal = /^([-+]?\d+(\.\d+)?([eE][-+]?\d+)?|'(?:[^']|'')*'|NULL|TRUE|FALSE|CURRENT_TIMESTAMP|CURRENT_DATE|CURRENT_TIME|X'[0-9A-Fa-f]*')$/i.test(expr);
  const mariadbNow = target === "mariadb" && /^current_timestamp(\(\d*\))?$/i.test(expr);
  return literal || mariadbNow || /^\(.*\)$/s.test(expr) ? `DEFAULT ${expr}` : `DEFAULT (${expr})`;
}

function isSqliteRowid(table: Table, column: Column): boolean {
  return column.autoIncrement && table.primaryKey.length === 1 && table.primaryKey[0] === column.name && column.type.kind === "integer";
}

function columnDefinition(target: CopyEngine, table: Table, column: Column): string {
  const q = (n: string) => quoteIdentifier(target, n);
  const parts = [q(column.name)];
  if (target === "sqlite" && isSqliteRowid(table, column)) {
    // SQLite fills only this exact spelling; AUTOINCREMENT keeps sqlite_sequence so keys are never reused.
    parts.push("INTEGER PRIMARY KEY AUTOINCREMENT");
    return parts.join(" ");
  }
  parts.push(columnType(target, column));
  if (target === "postgres" && column.autoIncrement) parts.push("GENERATED BY DEFAULT AS IDENTITY");
  if (!column.nullable) parts.push("NOT NULL");
  if (column.default !== undefined) parts.push(defaultClause(target, column.default));
  if (target === "mariadb" && column.autoIncrement) parts.push("AUTO_INCREMENT");
  // Only translate.ts sets it, and only into MariaDB (the one engine with the clause).
  if (target === "mariadb" && column.onUpdate !== undefined) parts.push(`ON UPDATE ${column.onUpdate}`);
  if (target === "sqlite" && column.type.kind === "json") parts.push(`CHECK (json_valid(${q(column.name)}))`);
  return parts.join(" ");
}

function foreignKeyClause(target: CopyEngine, fk: Table["foreignKeys"][number]): string {
  const q = (n: string) => quoteIdentifier(target, n);
  const list = (cols: string[]) => cols.map(q).join(", ");
  let sql = `FOREIGN KEY (${list(fk.columns)}) REFERENCES ${q(fk.refTable)} (${list(fk.refColumns)})`;
  if (fk.onDelete) sql += ` ON DELETE ${fk.onDelete}`;
  if (fk.onUpdate) sql += ` ON UPDATE ${fk.onUpdate}`;
  return sql;
}

/** CREATE TABLE statements (columns, NOT NULL, defaults, primary key, identity/AUTO_INCREMENT), in the tables' order. */
export function renderCreateTables(target: CopyEngine, tables: Table[]): string[] {
  const q = (n: string) => quoteIdentifier(target, n);
  return tables.map((t) => {
    const lines = t.columns.map((c) => columnDefinition(target, t, c));
    const rowid = target === "sqlite" && t.columns.some((c) => isSqliteRowid(t, c));
    if (t.primaryKey.length > 0 && !rowid) lines.push(`PRIMARY KEY (${t.primaryKey.map(q).join(", ")})`);
    if (target === "mariadb") {
      // AUTO_INCREMENT needs an index that starts with the column.
      for (const c of t.columns) if (c.autoIncrement && t.primaryKey[0] !== c.name) lines.push(`KEY (${q(c.name)})`);
    }
    if (target === "sqlite") {
      for (const fk of t.foreignKeys) lines.push(`CONSTRAINT ${q(fk.name ?? "")} ${foreignKeyClause(target, fk)}`);
    }
    const suffix = target === "mariadb" ? " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin" : "";
    return `CREATE TABLE ${q(t.name)} (\n  ${lines.join(",\n  ")}\n)${suffix}`;
  });
}

/** MariaDB's index part for a column: LONGTEXT/LONGBLOB and long VARCHARs of a plain index get a prefix that fits a 3072-byte key. */
function mariadbIndexPart(table: Table, column: string, unique: boolean, textColumns: number, otherColumns: number): string {
  const q = (n: string) => quoteIdentifier("mariadb", n);
  const c = table.columns.find((x) => x.name === column);
  const t = c?.type;
  if (unique || t === undefined || (t.kind !== "text" && t.kind !== "binary")) return q(column);
  // Up to 32 bytes for each non-text column of the key; the rest is shared by the text ones (4 bytes a character).
  const bytes = Math.floor((MARIADB_KEY_BYTES - 32 * otherColumns) / Math.max(1, textColumns));
  const limit = t.kind === "text" ? Math.floor(bytes / 4) : bytes;
  return t.maxLength === undefined || t.maxLength > limit ? `${q(column)}(${limit})` : q(column);
}

/** Unique and other indexes, then foreign keys (PostgreSQL, MariaDB): run after the data is in. */
export function renderConstraints(target: CopyEngine, tables: Table[]): string[] {
  const q = (n: string) => quoteIdentifier(target, n);
  const out: string[] = [];
  for (const t of tables) {
    for (const ix of t.indexes) {
      if (target === "mariadb") {
        const textColumns = ix.columns.filter((c) => ["text", "binary"].includes(t.columns.find((x) => x.name === c)?.type.kind ?? "")).length;
        const parts = ix.columns.map((c) => mariadbIndexPart(t, c, ix.unique, textColumns, ix.columns.length - textColumns)).join(", ");
        out.push(`ALTER TABLE ${q(t.name)} ADD ${ix.unique ? "UNIQUE " : ""}INDEX ${q(ix.name)} (${parts})`);
      } else {
        out.push(`CREATE ${ix.unique ? "UNIQUE " : ""}INDEX ${q(ix.name)} ON ${q(t.name)} (${ix.columns.map(q).join(", ")})`);
      }
    }
  }
  if (target !== "sqlite") {
    for (const t of tables) {
      for (const fk of t.foreignKeys) out.push(`ALTER TABLE ${q(t.name)} ADD CONSTRAINT ${q(fk.name ?? "")} ${foreignKeyClause(target, fk)}`);
    }
  }
  return out;
}

/** SQLite only: the query that lists rows whose foreign keys point nowhere (empty when the data is consistent). */
export function renderForeignKeyCheck(): string {
  return "PRAGMA foreign_key_check";
}

/**
 * Statements that move each autoincrement counter past the largest copied key: PostgreSQL
 * setval on the identity's sequence, MariaDB ALTER TABLE ... AUTO_INCREMENT (a literal, so it is
 * prepared from the table's maximum), SQLite's sqlite_sequence row. Run them one by one on one
 * session.
 */
export function renderResetSequences(target: CopyEngine, tables: Table[]): string[] {
  const q = (n: string) => quoteIdentifier(target, n);
  const out: string[] = [];
  for (const t of tables) {
    for (const c of t.columns.filter((x) => x.autoIncrement)) {
      if (target === "postgres") {
        out.push(
          `SELECT setval(pg_get_serial_sequence(${stringLiteral("postgres", q(t.name))}, ${stringLiteral("postgres", c.name)}), COALESCE((SELECT MAX(${q(c.name)}) FROM ${q(t.name)}), 0) + 1, false)`,
        );
      } else if (target === "mariadb") {
        const alter = stringLiteral("mariadb", `ALTER TABLE ${q(t.name)} AUTO_INCREMENT = `);
        out.push(
          `SET @dbstack_next = (SELECT COALESCE(MAX(${q(c.name)}), 0) + 1 FROM ${q(t.name)})`,
          `SET @dbstack_sql = CONCAT(${alter}, @dbstack_next)`,
          "PREPARE dbstack_stmt FROM @dbstack_sql",
          "EXECUTE dbstack_stmt",
          "DEALLOCATE PREPARE dbstack_stmt",
        );
      } else if (isSqliteRowid(t, c)) {
        const name = stringLiteral("sqlite", t.name);
        out.push(
          `DELETE FROM sqlite_sequence WHERE name = ${name}`,
          `INSERT INTO sqlite_sequence (name, seq) SELECT ${name}, COALESCE(MAX(${q(c.name)}), 0) FROM ${q(t.name)}`,
        );
      }
    }
  }
  return out;
}
