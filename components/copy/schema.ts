/**
 * The engine-neutral schema a data copy works with: what introspection reads from a source
 * (SQLite, PostgreSQL, MariaDB), what translation turns into a target's DDL, and what the
 * transfer and the verification walk. Types are reduced to classes with the facts that decide
 * whether a conversion loses anything (length, precision, time zone); every engine's own type
 * name is kept beside it for the messages a user reads.
 */

import type { EngineKind } from "../model/engineKind";

/** A column's type, reduced to what every engine can say about it. */
export type TypeClass =
  | { kind: "integer"; bytes: 1 | 2 | 4 | 8; unsigned?: boolean }
  | { kind: "boolean" }
  | { kind: "decimal"; precision?: number; scale?: number }
  | { kind: "float"; bytes: 4 | 8 }
  | { kind: "text"; maxLength?: number; fixed?: boolean }
  | { kind: "binary"; maxLength?: number }
  | { kind: "date" }
  | { kind: "time" }
  /** A timestamp; `withTimeZone` when the engine stores an instant (timestamptz), not a wall-clock time. */
  | { kind: "timestamp"; withTimeZone: boolean; fractionalDigits?: number }
  | { kind: "json" }
  | { kind: "uuid" }
  /** Anything else: copied as text only when the user allows it by name. */
  | { kind: "other"; name: string };

/** A short, readable spelling of a class for conversion ids and messages, e.g. "decimal(40,2)", "text(100)". */
export function describeType(t: TypeClass): string {
  switch (t.kind) {
    case "integer":
      return `${t.unsigned ? "unsigned " : ""}int${t.bytes * 8}`;
    case "decimal":
      return t.precision === undefined ? "decimal" : `decimal(${t.precision},${t.scale ?? 0})`;
    case "float":
      return `float${t.bytes * 8}`;
    case "text":
      return t.maxLength === undefined ? "text" : `${t.fixed ? "char" : "text"}(${t.maxLength})`;
    case "binary":
      return t.maxLength === undefined ? "binary" : `binary(${t.maxLength})`;
    case "timestamp":
      return t.withTimeZone ? "timestamptz" : "timestamp";
    case "other":
      return t.name;
    default:
      return t.kind;
  }
}


export interface Column {
  name: string;
  type: TypeClass;
  /** The type as the source engine names it, e.g. "character varying(100)", "TINYINT(1)", "TEXT". */
  sourceType: string;
  nullable: boolean;
  /** The default as an SQL expression of the source engine; undefined when none. */
  default?: string;
  /**
   * MariaDB's `ON UPDATE <expression>` (in practice CURRENT_TIMESTAMP): the column is set on every
   * UPDATE of the row. Read by introspect/mariadb.ts; kept only into MariaDB (a listed conversion
   * elsewhere).
   */
  onUpdate?: string;
  /** Filled by the engine on insert: serial/identity, AUTO_INCREMENT, SQLite's INTEGER PRIMARY KEY AUTOINCREMENT (or rowid alias). */
  autoIncrement: boolean;
  /**
   * How the copy reads the column from its source instead of as it is: an SQL expression of the
   * source engine (prescan/serverScan.ts: NULL for the values of an allowed class). Default: the column.
   */
  readAs?: string;
}

export interface ForeignKey {
  name?: string;
  columns: string[];
  refTable: string;
  refColumns: string[];
  onDelete?: string;
  onUpdate?: string;
}

export interface Index {
  name: string;
  columns: string[];
  unique: boolean;
}

export interface Table {
  name: string;
  columns: Column[];
  /** Primary key columns, in key order; empty when the table has none. */
  primaryKey: string[];
  /** Unique constraints and indexes other than the primary key. */
  indexes: Index[];
  foreignKeys: ForeignKey[];
  /**
   * What introspection saw but the copy does not recreate: expression and partial indexes,
   * generated columns, CHECK constraints. Translation reports each as a lossy conversion.
   */
  unsupported?: Unsupported[];
  /** CHECK constraints carried over (translate.ts): their names and expressions in the target's SQL. */
  checks?: { name: string; expression: string }[];
  /** Generated (computed, stored) columns carried over: the target computes them; the copy never writes them. */
  generated?: GeneratedColumn[];
}

/** A stored generated column as the target creates it. */
export interface GeneratedColumn {
  name: string;
  type: TypeClass;
  /** The expression in the target's SQL. */
  expression: string;
}

/** An object of a source table the copy does not recreate on the target. */
export interface Unsupported {
  /** Its name: the index's, the column's or the constraint's. */
  name: string;
  what: "expression index" | "partial index" | "generated column" | "check constraint";
  /** Its definition in the source engine's SQL, for the message a user reads. */
  definition?: string;
  /** A generated column's expression alone (the source engine's SQL), when introspection could read it. */
  expression?: string;
  /** A generated column's type class, when introspection could read it. */
  type?: TypeClass;
}

export interface Schema {
  engine: EngineKind;
  /** Tables in an order where every referenced table precedes the tables that reference it (self-references aside). */
  tables: Table[];
}

/**
 * A conversion that may lose or change data (a lossy one), found by translation: the copy refuses
 * it unless the user allows it by its `id` (`--allow <id>`), and the dry run lists it.
 */
export interface Conversion {
  /** Stable id a user names to allow it, e.g. "events.payload:json->text" or "items.price:decimal(40,2)->decimal(38,2)". */
  id: string;
  table: string;
  column: string;
  /** What happens, in a sentence a user reads. */
  message: string;
  lossy: boolean;
}
