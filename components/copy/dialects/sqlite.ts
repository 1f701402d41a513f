/**
 * The copy's SQLite dialect. Types are names with an affinity: integers are all 64-bit and
 * signed, REAL is 8 bytes, a decimal of more than 15 digits is kept exactly as TEXT (NUMERIC
 * affinity keeps 15), JSON is TEXT checked with json_valid. Only a single-column INTEGER PRIMARY
 * KEY is filled on insert (`AUTOINCREMENT` keeps sqlite_sequence, so keys are never reused).
 *
 * SQLite cannot add a foreign key to an existing table: its foreign keys are part of CREATE
 * TABLE, the load runs with `PRAGMA foreign_keys = OFF` and `PRAGMA foreign_key_check` checks
 * afterwards. Names are compared without case. REAL holds ±Infinity but stores a NaN as NULL.
 */
import { quoteIdent } from "../../engines/postgres/sql/identifiers";
import type { Connection } from "../connections";
import { introspectSqlite } from "../introspect/sqlite";
import type { Column, Table } from "../schema";
import { BARE_DEFAULT, checkLines, columnParts, generatedLines, createIndex, createTable, foreignKeyClause, keptName, primaryKeyLines, sizedIntegerType, sizedTextType, standardLiteral, typeName, type Dialect, type TypeNames } from "./dialect";

/** SQLite's type names (each with the affinity the values need). */
const TYPE_NAMES: TypeNames = {
  integer: sizedIntegerType,
  boolean: () => "BOOLEAN",
  decimal: (t) => (t.precision === undefined ? "NUMERIC" : `DECIMAL(${t.precision},${t.scale ?? 0})`),
  float: () => "REAL",
  text: (t) => sizedTextType(t, "TEXT"),
  binary: () => "BLOB",
  date: () => "DATE",
  time: () => "TIME",
  timestamp: (t) => (t.withTimeZone ? "TIMESTAMPTZ" : "TIMESTAMP"),
  json: () => "TEXT",
  uuid: () => "UUID",
  other: keptName,
};

/** Whether `column` is the table's rowid alias: its sole, integer, autoincrement primary key. */
function isRowid(table: Table, column: Column): boolean {
  return column.autoIncrement && table.primaryKey.length === 1 && table.primaryKey[0] === column.name && column.type.kind === "integer";
}

export const sqliteDialect: Dialect = {
  kind: "sqlite",
  title: "SQLite",
  // Standard SQL's double quotes, as PostgreSQL's.
  quoteIdentifier: quoteIdent,
  stringLiteral: standardLiteral,
  placeholder: () => "?",
  numbersIgnoreWidth: true,
  nullablePrimaryKeys: true,
  indexesForeignKeys: false,
  identifierFits: () => true,
  identifierLimit: "no limit",
  caseInsensitiveNames: true,
  indexNamesPerTable: false,
  foreignKeyNamesPerTable: false,

  stripDefaultCast: (expr) => expr,
  stringDefault: (body) => ({ kind: "string", value: body }),
  booleanDefault: (value) => (value ? "1" : "0"),
  nowDefault: () => "CURRENT_TIMESTAMP",
  todayDefault: "CURRENT_DATE",
  timeNowDefault: "CURRENT_TIME",
  // Expressions need parentheses.
  defaultClause: (expr) => (BARE_DEFAULT.test(expr) || /^\(.*\)$/s.test(expr) ? `DEFAULT ${expr}` : `DEFAULT (${expr})`),

  fitType(t, _column, _source, change) {
    switch (t.kind) {
      case "integer":
        if (t.unsigned && t.bytes === 8) {
          return change({ kind: "integer", bytes: 8 }, true, "SQLite integers are signed 64-bit; values above 9223372036854775807 fail the copy");
        }
        return t;
      case "decimal":
        if (t.precision === undefined || t.precision > 15) {
          return change({ kind: "text" }, false, "SQLite's NUMERIC affinity keeps only 15 significant digits, so the exact decimal is stored as TEXT");
        }
        return t;
      case "float":
        return { kind: "float", bytes: 8 };
      default:
        return t;
    }
  },
  autoIncrementIsRowid: true,
  oneAutoIncrementPerTable: false,
  onUpdateClause: () => undefined,
  keepsJsonb: false,
  restrictIsNoAction: false,

  columnType: (column) => typeName(TYPE_NAMES, column),
  renderCreateTable(table) {
    const lines = table.columns.map((c) => {
      // SQLite fills only this exact spelling; AUTOINCREMENT keeps sqlite_sequence so keys are never reused.
      if (isRowid(table, c)) return `${quoteIdent(c.name)} INTEGER PRIMARY KEY AUTOINCREMENT`;
      const parts = columnParts(sqliteDialect, c);
      if (c.type.kind === "json") parts.push(`CHECK (json_valid(${quoteIdent(c.name)}))`);
      return parts.join(" ");
    });
    lines.push(...generatedLines(sqliteDialect, table));
    if (!table.columns.some((c) => isRowid(table, c))) lines.push(...primaryKeyLines(sqliteDialect, table));
    lines.push(...checkLines(sqliteDialect, table));
    for (const fk of table.foreignKeys) lines.push(`CONSTRAINT ${quoteIdent(fk.name ?? "")} ${foreignKeyClause(sqliteDialect, fk)}`);
    return createTable(sqliteDialect, table, lines);
  },
  renderIndex: (table, ix) => createIndex(sqliteDialect, table, ix),
  foreignKeysInCreateTable: true,
  renderResetSequence(table, column) {
    if (!isRowid(table, column)) return [];
    const name = standardLiteral(table.name);
    return [
      `DELETE FROM sqlite_sequence WHERE name = ${name}`,
      `INSERT INTO sqlite_sequence (name, seq) SELECT ${name}, COALESCE(MAX(${quoteIdent(column.name)}), 0) FROM ${quoteIdent(table.name)}`,
    ];
  },
  // Rows may reference later rows (self-references): enforcement is off while loading, checked after.
  loadStatements: { before: ["PRAGMA foreign_keys = OFF"], after: ["PRAGMA foreign_keys = ON"] },
  foreignKeyCheck: "PRAGMA foreign_key_check",

  introspect: introspectSqlite,
  listTablesSql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
  // PRAGMA foreign_keys off: SQLite checks them on DROP otherwise.
  renderDropTables: (tables) => ["PRAGMA foreign_keys = OFF", ...tables.map((t) => `DROP TABLE IF EXISTS ${quoteIdent(t)}`), "PRAGMA foreign_keys = ON"],
  // A deferred read transaction: its snapshot (WAL) or shared lock (rollback journal) holds until COMMIT.
  snapshotStatements: ["BEGIN"],
  defaultPort: 0,
  async estimateRows(conn: Connection, table: string) {
    const [r] = await conn.query(`SELECT max(rowid) - min(rowid) + 1 AS n FROM ${quoteIdent(table)}`);
    return Number(r?.n ?? 0);
  },
  // A reader holds a lock the writer's next commit waits for, and it shares this thread anyway.
  readsWhileWriting: false,

  refusesNul: false,
  // Compared as bytes: SQLite's text functions stop at a NUL.
  nulTest: (q) => `instr(CAST(${q} AS BLOB), x'00') > 0`,
  holdsSpecialDates: false,
  unholdableNumbers: ["NaN"],
  // SQLite holds ±Infinity (a REAL beyond every finite double), never NaN.
  nonFiniteTest: (q, values) => (values.includes("Infinity") ? `typeof(${q}) = 'real' AND abs(${q}) > 1.7976931348623157e308` : "0"),

  values: {
    integer: (text) => BigInt(text),
    boolean: (value) => (value ? 1 : 0),
    float: (value) => value,
    binary: (value) => value,
    instantSuffix: "+00:00",
  },
  checksumsInServer: false,
  loadsCopyText: false,
};
