/**
 * What the copy library needs to know of one engine, as one table of members per engine
 * (dialects/postgres.ts, mariadb.ts, sqlite.ts): quoting, literals, the type mapping a
 * translation into it applies, its DDL, how values are written into it, the catalog and journal
 * SQL, and the facts about what it can hold. Shared code (translate.ts, ddl.ts, transfer.ts,
 * journal.ts, copy.ts) asks the dialect instead of testing which engine it has.
 */
import type { EngineKind } from "../../model/engineKind";
import type { Connection } from "../connections";
import type { Column, Schema, Table, TypeClass } from "../schema";

/** A default expression reduced to what can be said in every engine. */
export type NeutralDefault =
  | { kind: "number"; text: string }
  | { kind: "string"; value: string }
  | { kind: "bool"; value: boolean }
  | { kind: "now" }
  | { kind: "today" }
  | { kind: "timeNow" };

/** Records a conversion of a column's class: returns `to`, noting `why` (lossy or not). */
export type ChangeType = (to: TypeClass, lossy: boolean, why: string) => TypeClass;

/** Records a conversion by id for a table (column "" for the table itself). */
export type NoteConversion = (table: string, column: string, id: string, message: string, lossy: boolean) => void;

export interface Dialect {
  readonly kind: EngineKind;
  /** The engine's name in sentences: "PostgreSQL", "MariaDB", "SQLite". */
  readonly title: string;

  /** An identifier quoted for the engine (reserved words and mixed case survive); a NUL is refused. */
  quoteIdentifier(name: string): string;
  /** A string literal in the engine's syntax. */
  stringLiteral(value: string): string;
  /** The positional parameter `index` (0-based) of a statement. */
  placeholder(index: number): string;
  /** Integers and floats are all 64-bit whatever width a column declares. */
  readonly numbersIgnoreWidth: boolean;
  /** A primary key column may hold NULL unless declared NOT NULL (SQLite's legacy quirk). */
  readonly nullablePrimaryKeys: boolean;
  /** Every foreign key gets an index of its own, made by the engine. */
  readonly indexesForeignKeys: boolean;
  /** Whether `name` fits the engine's longest identifier. */
  identifierFits(name: string): boolean;
  /** The longest identifier, for messages ("63 bytes"). */
  readonly identifierLimit: string;
  /** Table and column names are compared without case: two names differing only in case are one. */
  readonly caseInsensitiveNames: boolean;
  /** Index names are per table (otherwise they share the schema's namespace with tables). */
  readonly indexNamesPerTable: boolean;
  /** Foreign key names are per table (otherwise per database). */
  readonly foreignKeyNamesPerTable: boolean;

  /** A source default with the engine's casts taken off (`'x'::text` -> `'x'`); unchanged when it has none. */
  stripDefaultCast(expr: string): string;
  /** A quoted default's body (quotes undoubled) as the engine means it; `expr` is the whole default. */
  stringDefault(body: string, expr: string): NeutralDefault;
  /** The default of a boolean column. */
  booleanDefault(value: boolean): string;
  /** The default "the current time" of a timestamp column of class `type`. */
  nowDefault(type: TypeClass): string;
  /** The default "today" of a date column. */
  readonly todayDefault: string;
  /** The default "the current time of day" of a time column. */
  readonly timeNowDefault: string;
  /** A default expression as the column syntax wants it (`DEFAULT ...`). */
  defaultClause(expr: string): string;

  /** The class a column of class `t` from `source` takes in this engine; `change` notes a conversion. */
  fitType(t: TypeClass, column: Column, source: EngineKind, change: ChangeType): TypeClass;
  /** Only a single-column INTEGER PRIMARY KEY is filled on insert (SQLite's rowid), and it is 64-bit. */
  readonly autoIncrementIsRowid: boolean;
  /** A table has at most one autoincrement column. */
  readonly oneAutoIncrementPerTable: boolean;
  /** The `ON UPDATE` clause a column of class `type` keeps, or undefined when the engine has none. */
  onUpdateClause(type: TypeClass): string | undefined;
  /** jsonb stays jsonb (elsewhere its normalised text is what arrives). */
  readonly keepsJsonb: boolean;
  /** RESTRICT is only a synonym of NO ACTION. */
  readonly restrictIsNoAction: boolean;
  /** Adjusts a translated table to the engine's per-table limits (key and row sizes); `referenced` are its columns other tables reference. */
  fitTable?(table: Table, referenced: Set<string>, note: NoteConversion): void;

  /** The type name of a translated column. */
  columnType(column: Column): string;
  /** CREATE TABLE of a translated table. */
  renderCreateTable(table: Table): string;
  /** The statement creating one index of `table`. */
  renderIndex(table: Table, index: Table["indexes"][number]): string;
  /** Foreign keys are part of CREATE TABLE (none can be added later). */
  readonly foreignKeysInCreateTable: boolean;
  /** The statements moving `column`'s counter past the copied keys. */
  renderResetSequence(table: Table, column: Column): string[];
  /** Statements run on the target before loading and after it (e.g. foreign key enforcement off and on). */
  readonly loadStatements: { before: string[]; after: string[] };
  /** The query listing rows whose foreign keys point nowhere, when the engine cannot check them on creation. */
  readonly foreignKeyCheck?: string;
  /** The query listing the schema's sequences (column `name`); undefined when the engine has none. */
  readonly listSequencesSql?: string;
  /** The statement making sequence `name` hand out `next` on its next call. */
  renderSetSequence?(name: string, next: bigint): string;

  /** Reads the schema of the database behind `conn` (introspect/<engine>.ts). */
  introspect(conn: Connection): Promise<Schema>;
  /** The query listing every base table (column `name`), in name order. */
  readonly listTablesSql: string;
  /** Statements dropping `tables` (children first, as given), whatever foreign keys join them. */
  renderDropTables(tables: readonly string[]): string[];
  /** Statements opening a read-only, consistent snapshot. */
  readonly snapshotStatements: string[];
  /** The port a server listens on when a URL names none (0 for a database file). */
  readonly defaultPort: number;
  /** The environment variables the engine's own clients read for the server `url` names (host, port, user, database, password). */
  clientEnvironment?(url: URL): Record<string, string>;
  /** A cheap estimate of a table's rows (no scan). */
  estimateRows(conn: Connection, table: string): Promise<number>;
  /** A second connection may read a table while the first writes the next one. */
  readonly readsWhileWriting: boolean;

  /** Text cannot hold NUL characters. */
  readonly refusesNul: boolean;
  /** The condition true for a text column `q` (quoted) holding NUL; undefined when the engine's text cannot. */
  nulTest?(q: string): string;
  /** Dates can be infinity/-infinity and before year 1 (BC). */
  readonly holdsSpecialDates: boolean;
  /** Aggregates telling whether column `q` holds infinity (`inf<i>`) or a BC date (`bc<i>`); on the engine that can hold them. */
  specialDateProbes?(q: string, i: number): string[];
  /** Spellings of the non-finite numbers the engine's number columns cannot hold ('NaN', 'Infinity', '-Infinity'). */
  readonly unholdableNumbers: readonly string[];
  /** The condition true for a number column `q` holding one of `values`; undefined when the engine never holds them. */
  nonFiniteTest?(q: string, values: readonly string[]): string;

  /** How values of each class are handed to the engine's writer. */
  readonly values: {
    integer(text: string): unknown;
    boolean(value: boolean): unknown;
    float(value: number): unknown;
    binary(value: Buffer): unknown;
    /** What follows an instant's UTC text. */
    instantSuffix: string;
  };
  /** The server computes a table's checksum itself (verify.ts renderPgChecksumQuery) when its hash agrees with verify.ts's. */
  readonly checksumsInServer: boolean;
  /** The target's rows are loaded as COPY text (transfer.ts copyIntoPostgres) rather than by batches of converted rows. */
  readonly loadsCopyText: boolean;
}

/** A type class of one kind. */
type ClassOf<K extends TypeClass["kind"]> = Extract<TypeClass, { kind: K }>;

/** An engine's type name for each class kind: differences between engines as data. */
export type TypeNames = { [K in TypeClass["kind"]]: (t: ClassOf<K>, column: Column) => string };

/** The type name `names` gives a translated column's class. */
export function typeName(names: TypeNames, column: Column): string {
  const name = names[column.type.kind] as (t: TypeClass, column: Column) => string;
  return name(column.type, column);
}

/** The name of a class another engine's type had (translate keeps it only between the same engine). */
export const keptName = (t: ClassOf<"other">): string => t.name;

/** TINYINT, SMALLINT, INT or BIGINT by width, UNSIGNED when the class is (MariaDB's names, which SQLite reads too). */
export function sizedIntegerType(t: ClassOf<"integer">): string {
  const name = { 1: "TINYINT", 2: "SMALLINT", 4: "INT", 8: "BIGINT" }[t.bytes];
  return t.unsigned ? `${name} UNSIGNED` : name;
}

/** VARCHAR(n), or CHAR(n) for a fixed length up to 255; `unbounded` when the class has no limit. */
export function sizedTextType(t: ClassOf<"text">, unbounded: string): string {
  if (t.maxLength === undefined) return unbounded;
  return t.fixed && t.maxLength <= 255 ? `CHAR(${t.maxLength})` : `VARCHAR(${t.maxLength})`;
}

/** A standard SQL string literal: single quotes, inner ones doubled. */
export function standardLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Default expressions every engine accepts bare after DEFAULT (literals and the current date/time keywords). */
export const BARE_DEFAULT = /^([-+]?\d+(\.\d+)?([eE][-+]?\d+)?|'(?:[^']|'')*'|NULL|TRUE|FALSE|CURRENT_TIMESTAMP|CURRENT_DATE|CURRENT_TIME|X'[0-9A-Fa-f]*')$/i;

/** The name, type and the common clauses of a column (`afterType` between the type and NOT NULL). */
export function columnParts(d: Dialect, column: Column, afterType: string[] = []): string[] {
  const parts = [d.quoteIdentifier(column.name), d.columnType(column), ...afterType];
  if (!column.nullable) parts.push("NOT NULL");
  if (column.default !== undefined) parts.push(d.defaultClause(column.default));
  return parts;
}

/** `FOREIGN KEY (...) REFERENCES ... (...)` with its actions. */
export function foreignKeyClause(d: Dialect, fk: Table["foreignKeys"][number]): string {
  const q = (n: string) => d.quoteIdentifier(n);
  const list = (cols: string[]) => cols.map(q).join(", ");
  let sql = `FOREIGN KEY (${list(fk.columns)}) REFERENCES ${q(fk.refTable)} (${list(fk.refColumns)})`;
  if (fk.onDelete) sql += ` ON DELETE ${fk.onDelete}`;
  if (fk.onUpdate) sql += ` ON UPDATE ${fk.onUpdate}`;
  return sql;
}

/** `CREATE TABLE name (\n  line,\n  line\n)suffix`. */
export function createTable(d: Dialect, table: Table, lines: string[], suffix = ""): string {
  return `CREATE TABLE ${d.quoteIdentifier(table.name)} (\n  ${lines.join(",\n  ")}\n)${suffix}`;
}

/** The PRIMARY KEY line of a table, when it has a key. */
export function primaryKeyLines(d: Dialect, table: Table): string[] {
  return table.primaryKey.length > 0 ? [`PRIMARY KEY (${table.primaryKey.map((c) => d.quoteIdentifier(c)).join(", ")})`] : [];
}

/** The lines of a table's stored generated columns (one spelling all three engines take); after the plain columns. */
export function generatedLines(d: Dialect, table: Table): string[] {
  return (table.generated ?? []).map((g) => `${d.quoteIdentifier(g.name)} ${d.columnType({ name: g.name, type: g.type, sourceType: "", nullable: true, autoIncrement: false })} GENERATED ALWAYS AS (${g.expression}) STORED`);
}

/** The lines of a table's CHECK constraints; after every column (SQLite wants table constraints last). */
export function checkLines(d: Dialect, table: Table): string[] {
  return (table.checks ?? []).map((c) => `CONSTRAINT ${d.quoteIdentifier(c.name)} CHECK (${c.expression})`);
}

/** `CREATE [UNIQUE] INDEX name ON table (columns)`. */
export function createIndex(d: Dialect, table: Table, ix: Table["indexes"][number]): string {
  const q = (n: string) => d.quoteIdentifier(n);
  return `CREATE ${ix.unique ? "UNIQUE " : ""}INDEX ${q(ix.name)} ON ${q(table.name)} (${ix.columns.map(q).join(", ")})`;
}

/** Whether the spellings name NaN, and ±Infinity, for a value as a writer gets it. */
export function isUnholdable(values: readonly string[], value: unknown): boolean {
  const text = typeof value === "number" ? String(value) : typeof value === "string" ? value.trim() : "";
  const nan = /^[-+]?nan$/i.test(text);
  const inf = /^[-+]?inf(inity)?$/i.test(text);
  return (values.includes("NaN") && nan) || (values.includes("Infinity") && inf);
}
