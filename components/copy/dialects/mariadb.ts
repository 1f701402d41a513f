/**
 * The copy's MariaDB dialect. Identifiers in backticks, string literals with backslashes escaped
 * (MariaDB reads them as escapes). Types: DECIMAL of at most 65 digits (30 after the point),
 * DATETIME(p) holding UTC for an instant (TIMESTAMP only covers 1970-2038; kept between MariaDBs),
 * VARCHAR/VARBINARY while a row fits 65535 bytes and a key 3072. One AUTO_INCREMENT column a
 * table, which needs an index starting with it; ON UPDATE CURRENT_TIMESTAMP kept. Tables are
 * utf8mb4 with the binary collation: PostgreSQL's and SQLite's unique constraints compare text
 * exactly, and a case-insensitive collation would refuse rows that differ only in case.
 * MariaDB's numbers hold neither NaN nor ±Infinity.
 */
import { quoteIdent } from "../../engines/mariadb/sql/identifiers";
import type { Connection } from "../connections";
import { introspectMariadb } from "../introspect/mariadb";
import { describeType, type Table, type TypeClass } from "../schema";
import { BARE_DEFAULT, checkLines, columnParts, generatedLines, createTable, keptName, primaryKeyLines, sizedIntegerType, sizedTextType, typeName, type Dialect, type NoteConversion, type TypeNames } from "./dialect";

/** MariaDB's longest VARCHAR in utf8mb4 characters, and the longest index key (3072 bytes) in them. */
const MAX_VARCHAR = 16383;
const KEY_CHARS = 768;
const KEY_BYTES = 3072;
/** Bytes a row's columns may take together (BLOB/TEXT bodies live outside it). */
const ROW_LIMIT = 65535;

/** Fractional second digits a DATETIME gets for a timestamp class (MariaDB stops at 6). */
function fsp(t: TypeClass): number {
  return t.kind === "timestamp" ? Math.min(t.fractionalDigits ?? 6, 6) : 6;
}

/** MariaDB's type names. */
const TYPE_NAMES: TypeNames = {
  integer: sizedIntegerType,
  boolean: () => "TINYINT(1)",
  decimal: (t) => (t.precision === undefined ? "DECIMAL(65,30)" : `DECIMAL(${t.precision},${t.scale ?? 0})`),
  float: (t) => (t.bytes === 4 ? "FLOAT" : "DOUBLE"),
  text: (t) => sizedTextType(t, "LONGTEXT"),
  binary: (t) => (t.maxLength === undefined ? "LONGBLOB" : `VARBINARY(${t.maxLength})`),
  date: () => "DATE",
  time: () => "TIME(6)",
  // withTimeZone only survives translation from MariaDB itself (see fitType).
  timestamp: (t) => `${t.withTimeZone ? "TIMESTAMP" : "DATETIME"}(${fsp(t)})`,
  json: () => "JSON",
  uuid: () => "UUID",
  other: keptName,
};

/** A string literal: quotes doubled, backslashes too (MariaDB treats them as escapes). */
function stringLiteral(value: string): string {
  return `'${value.replace(/'/g, "''").replace(/\\/g, "\\\\")}'`;
}

/**
 * Key columns (primary key, foreign keys on either side) must fit an index key, and
 * VARCHAR/VARBINARY columns share a 65535-byte row.
 */
function fitTable(table: Table, referenced: Set<string>, note: NoteConversion): void {
  const keyCols = new Set<string>([...table.primaryKey, ...table.foreignKeys.flatMap((f) => f.columns), ...[...referenced]]);
  const textKeys = table.columns.filter((c) => keyCols.has(c.name) && (c.type.kind === "text" || c.type.kind === "binary"));
  // A composite primary key shares one key's 3072 bytes between its columns, each at its real
  // width (utf8mb4: 4 bytes a character): VARCHAR(256) keys fit as they are whenever the sum does.
  const pk = table.columns.filter((c) => table.primaryKey.includes(c.name));
  const pkText = pk.filter((c) => c.type.kind === "text");
  const pkOtherBytes = pk.filter((c) => c.type.kind !== "text").reduce((n, c) => n + keyBytes(c.type), 0);
  const pkFits = pkText.every((c) => c.type.kind === "text" && c.type.maxLength !== undefined) && pkText.reduce((n, c) => n + 4 * (c.type.kind === "text" ? c.type.maxLength ?? 0 : 0), 0) + pkOtherBytes <= KEY_BYTES;
  const perKeyChars = pkText.length === 0 ? KEY_CHARS : Math.floor((KEY_BYTES - pkOtherBytes) / 4 / pkText.length);
  for (const c of textKeys) {
    const t = c.type;
    const inPk = table.primaryKey.includes(c.name);
    const limit = inPk ? perKeyChars : KEY_CHARS;
    if (inPk && pkFits) continue;
    if (t.kind === "text" && (t.maxLength === undefined || t.maxLength > limit)) {
      const to: TypeClass = { kind: "text", maxLength: limit };
      note(table.name, c.name, `${describeType(t)}->${describeType(to)}`, `${table.name}.${c.name} is a key column: MariaDB keys hold ${limit} characters at most here (3072 bytes, 4 a character), so it becomes VARCHAR(${limit}); longer values fail the copy`, true);
      c.type = to;
    } else if (t.kind === "binary" && (t.maxLength === undefined || t.maxLength > KEY_BYTES)) {
      const to: TypeClass = { kind: "binary", maxLength: KEY_BYTES };
      note(table.name, c.name, `${describeType(t)}->${describeType(to)}`, `${table.name}.${c.name} is a key column: MariaDB keys hold ${KEY_BYTES} bytes, so it becomes VARBINARY(${KEY_BYTES}); longer values fail the copy`, true);
      c.type = to;
    }
  }
  // The row limit counts every column: LONGTEXT/LONGBLOB and numbers take up to 12 bytes (DECIMAL up to 32), NULL flags 1.
  const others = table.columns.filter((c) => !((c.type.kind === "text" || c.type.kind === "binary") && c.type.maxLength !== undefined));
  let budget = ROW_LIMIT - 1 - others.reduce((sum, c) => sum + (c.type.kind === "decimal" ? 32 : 12), 0);
  // Key columns first: they must stay VARCHAR to be indexable.
  const ordered = [...table.columns].sort((a, b) => Number(keyCols.has(b.name)) - Number(keyCols.has(a.name)));
  for (const c of ordered) {
    const t = c.type;
    if ((t.kind !== "text" && t.kind !== "binary") || t.maxLength === undefined) continue;
    const bytes = (t.kind === "text" ? t.maxLength * 4 : t.maxLength) + 2;
    const tooLong = t.kind === "text" ? t.maxLength > MAX_VARCHAR : false;
    if (!tooLong && (bytes <= budget || keyCols.has(c.name))) {
      budget -= bytes;
      continue;
    }
    const to: TypeClass = { kind: t.kind };
    note(table.name, c.name, `${describeType(t)}->${describeType(to)}`, `${table.name}.${c.name} becomes ${t.kind === "text" ? "LONGTEXT" : "LONGBLOB"} in MariaDB (VARCHAR stops at ${MAX_VARCHAR} characters and a row at 65535 bytes): its length limit of ${t.maxLength} is no longer enforced`, false);
    c.type = to;
  }
}

/** The bytes a non-text column takes in an InnoDB key: its real width (MariaDB's storage sizes). */
function keyBytes(t: TypeClass): number {
  switch (t.kind) {
    case "integer":
      return t.bytes;
    case "boolean":
      return 1;
    case "float":
      return t.bytes;
    case "date":
      return 3;
    case "time":
      return 6;
    case "timestamp":
      return 8;
    case "decimal":
      return Math.ceil((t.precision ?? 65) / 2) + 1;
    case "binary":
      return t.maxLength ?? KEY_BYTES;
    case "uuid":
      return 36 * 4;
    default:
      return 32;
  }
}

/** An index's part for a column: LONGTEXT/LONGBLOB and long VARCHARs of a plain index get a prefix that fits a 3072-byte key. */
function indexPart(table: Table, column: string, unique: boolean, textColumns: number, otherColumns: number): string {
  const c = table.columns.find((x) => x.name === column);
  const t = c?.type;
  if (unique || t === undefined || (t.kind !== "text" && t.kind !== "binary")) return quoteIdent(column);
  // Up to 32 bytes for each non-text column of the key; the rest is shared by the text ones (4 bytes a character).
  const bytes = Math.floor((KEY_BYTES - 32 * otherColumns) / Math.max(1, textColumns));
  const limit = t.kind === "text" ? Math.floor(bytes / 4) : bytes;
  return t.maxLength === undefined || t.maxLength > limit ? `${quoteIdent(column)}(${limit})` : quoteIdent(column);
}

export const mariadbDialect: Dialect = {
  kind: "mariadb",
  title: "MariaDB",
  quoteIdentifier: quoteIdent,
  stringLiteral,
  placeholder: () => "?",
  numbersIgnoreWidth: false,
  nullablePrimaryKeys: false,
  indexesForeignKeys: true,
  identifierFits: (name) => [...name].length <= 64,
  identifierLimit: "64 characters",
  // Column names (and, where lower_case_table_names is set, table names).
  caseInsensitiveNames: true,
  indexNamesPerTable: true,
  foreignKeyNamesPerTable: false,

  stripDefaultCast: (expr) => expr,
  stringDefault: (body) => ({ kind: "string", value: body.replace(/\\(.)/gs, (_, c: string) => ({ n: "\n", t: "\t", r: "\r", "0": "\0" })[c] ?? c) }),
  booleanDefault: (value) => (value ? "1" : "0"),
  nowDefault: (type) => `current_timestamp(${fsp(type)})`,
  todayDefault: "(curdate())",
  timeNowDefault: "(curtime(6))",
  defaultClause: (expr) => (BARE_DEFAULT.test(expr) || /^current_timestamp(\(\d*\))?$/i.test(expr) || /^\(.*\)$/s.test(expr) ? `DEFAULT ${expr}` : `DEFAULT (${expr})`),

  fitType(t, _column, source, change) {
    switch (t.kind) {
      case "decimal":
        if (t.precision === undefined) {
          return change({ kind: "decimal", precision: 65, scale: 30 }, true, "MariaDB's DECIMAL needs a precision (65 digits, 30 after the point at most); values that do not fit fail the copy");
        }
        if (t.precision > 65 || (t.scale ?? 0) > 30) {
          return change({ kind: "decimal", precision: Math.min(t.precision, 65), scale: Math.min(t.scale ?? 0, 30) }, true, "MariaDB's DECIMAL stops at 65 digits, 30 after the point; values that do not fit fail the copy, digits beyond the scale are rounded");
        }
        return t;
      case "timestamp":
        if (t.withTimeZone && source === "mariadb") return { ...t, fractionalDigits: fsp(t) };
        if (t.withTimeZone) {
          return change({ kind: "timestamp", withTimeZone: false, fractionalDigits: fsp(t) }, false, "stored as the UTC wall-clock time in DATETIME (MariaDB's TIMESTAMP only covers 1970-2038); the application must read it as UTC");
        }
        return { kind: "timestamp", withTimeZone: false, fractionalDigits: fsp(t) };
      default:
        return t;
    }
  },
  autoIncrementIsRowid: false,
  oneAutoIncrementPerTable: true,
  onUpdateClause: (type) => (type.kind === "timestamp" ? `current_timestamp(${fsp(type)})` : undefined),
  keepsJsonb: false,
  // MariaDB has no RESTRICT of its own: NO ACTION there, checked at once, row by row, never deferred.
  restrictIsNoAction: true,
  fitTable,

  columnType: (column) => typeName(TYPE_NAMES, column),
  renderCreateTable(table) {
    const lines = table.columns.map((c) => {
      const parts = columnParts(mariadbDialect, c);
      if (c.autoIncrement) parts.push("AUTO_INCREMENT");
      // Only translate.ts sets it, and only into MariaDB (the one engine with the clause).
      if (c.onUpdate !== undefined) parts.push(`ON UPDATE ${c.onUpdate}`);
      return parts.join(" ");
    });
    lines.push(...generatedLines(mariadbDialect, table));
    lines.push(...primaryKeyLines(mariadbDialect, table));
    lines.push(...checkLines(mariadbDialect, table));
    // AUTO_INCREMENT needs an index that starts with the column.
    for (const c of table.columns) if (c.autoIncrement && table.primaryKey[0] !== c.name) lines.push(`KEY (${quoteIdent(c.name)})`);
    return createTable(mariadbDialect, table, lines, " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
  },
  renderIndex(table, ix) {
    const textColumns = ix.columns.filter((c) => ["text", "binary"].includes(table.columns.find((x) => x.name === c)?.type.kind ?? "")).length;
    const parts = ix.columns.map((c) => indexPart(table, c, ix.unique, textColumns, ix.columns.length - textColumns)).join(", ");
    return `ALTER TABLE ${quoteIdent(table.name)} ADD ${ix.unique ? "UNIQUE " : ""}INDEX ${quoteIdent(ix.name)} (${parts})`;
  },
  foreignKeysInCreateTable: false,
  // ALTER TABLE ... AUTO_INCREMENT takes a literal, so it is prepared from the table's maximum.
  renderResetSequence(table, column) {
    const alter = stringLiteral(`ALTER TABLE ${quoteIdent(table.name)} AUTO_INCREMENT = `);
    return [
      `SET @dbstack_next = (SELECT COALESCE(MAX(${quoteIdent(column.name)}), 0) + 1 FROM ${quoteIdent(table.name)})`,
      `SET @dbstack_sql = CONCAT(${alter}, @dbstack_next)`,
      "PREPARE dbstack_stmt FROM @dbstack_sql",
      "EXECUTE dbstack_stmt",
      "DEALLOCATE PREPARE dbstack_stmt",
    ];
  },
  loadStatements: { before: [], after: [] },
  listSequencesSql: "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'SEQUENCE'",
  renderSetSequence: (name, next) => `SELECT SETVAL(${quoteIdent(name)}, ${next.toString()}, 0)`,

  introspect: introspectMariadb,
  listTablesSql: "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1",
  renderDropTables: (tables) => ["SET FOREIGN_KEY_CHECKS = 0", ...tables.map((t) => `DROP TABLE IF EXISTS ${quoteIdent(t)}`), "SET FOREIGN_KEY_CHECKS = 1"],
  snapshotStatements: ["SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"],
  defaultPort: 3306,
  clientEnvironment(u) {
    const env: Record<string, string> = { MYSQL_HOST: u.hostname, MYSQL_TCP_PORT: u.port || String(mariadbDialect.defaultPort), MYSQL_USER: decodeURIComponent(u.username), MYSQL_DATABASE: decodeURIComponent(u.pathname.replace(/^\//, "")) };
    if (u.password) env.MYSQL_PWD = decodeURIComponent(u.password);
    return env;
  },
  async estimateRows(conn: Connection, table: string) {
    const [r] = await conn.query("SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", [table]);
    return Number(r?.n ?? r?.N ?? 0);
  },
  readsWhileWriting: true,

  refusesNul: false,
  nulTest: (q) => `INSTR(CAST(${q} AS BINARY), X'00') > 0`,
  holdsSpecialDates: false,
  // DOUBLE and DECIMAL hold neither (values go as parameters of prepared INSERTs, never as SQL text: mariadbWriter.ts).
  unholdableNumbers: ["NaN", "Infinity", "-Infinity"],

  values: {
    integer: (text) => text,
    boolean: (value) => (value ? 1 : 0),
    // A parameter of a prepared INSERT (mariadbWriter.ts); MariaDB's DOUBLE holds no NaN or Infinity, so none may arrive here.
    float: (value) => {
      if (!Number.isFinite(value)) throw new Error(`${String(value)} is not a number MariaDB holds; the pre-scan should have refused it`);
      return value;
    },
    binary: (value) => value,
    // Bare: the session's zone is UTC.
    instantSuffix: "",
  },
  checksumsInServer: false,
  loadsCopyText: false,
};
