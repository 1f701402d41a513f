/**
 * Reads a MariaDB database's schema (the connection's current database) from information_schema.
 * MariaDB spellings that hide a class: TINYINT(1) is a boolean (what BOOLEAN creates), JSON is a
 * LONGTEXT guarded by CHECK (json_valid(col)), DATETIME is a wall-clock time while TIMESTAMP stores
 * an instant (converted to UTC on write), MEDIUMINT is stored as a 4-byte integer elsewhere.
 * Index prefix lengths are not kept: the translation decides its own.
 */
import type { Connection } from "../connections";
import type { Column, ForeignKey, Index, Schema, Table, TypeClass, Unsupported } from "../schema";
import { parentsFirst } from "./order";

/** The type class of a MariaDB column from information_schema.COLUMNS' DATA_TYPE and COLUMN_TYPE. */
export function mariadbTypeClass(dataType: string, columnType: string, json = false): TypeClass {
  const t = dataType.toLowerCase();
  const full = columnType.toLowerCase();
  const unsigned = /\bunsigned\b/.test(full);
  const n = /\((\d+)(?:,(\d+))?\)/.exec(full);
  const p = n === null ? undefined : Number(n[1]);
  const s = n?.[2] === undefined ? undefined : Number(n[2]);
  const u = unsigned ? { unsigned: true } : {};
  if (json) return { kind: "json" };
  switch (t) {
    case "tinyint":
      return p === 1 && !unsigned ? { kind: "boolean" } : { kind: "integer", bytes: 1, ...u };
    case "bool":
    case "boolean":
      return { kind: "boolean" };
    case "smallint":
      return { kind: "integer", bytes: 2, ...u };
    case "mediumint":
    case "int":
    case "integer":
      return { kind: "integer", bytes: 4, ...u };
    case "bigint":
      return { kind: "integer", bytes: 8, ...u };
    case "year":
      return { kind: "integer", bytes: 2 };
    case "bit":
      return p === 1 ? { kind: "boolean" } : { kind: "other", name: columnType };
    case "decimal":
    case "numeric":
      return { kind: "decimal", precision: p ?? 10, scale: s ?? 0 };
    case "float":
      return { kind: "float", bytes: 4 };
    case "double":
    case "real":
      return { kind: "float", bytes: 8 };
    case "char":
      return { kind: "text", maxLength: p ?? 1, fixed: true };
    case "varchar":
      return { kind: "text", maxLength: p ?? 1 };
    // The TEXT family's limits are in bytes, not characters: no character limit to carry over.
    case "tinytext":
    case "text":
    case "mediumtext":
    case "longtext":
      return { kind: "text" };
    case "binary":
    case "varbinary":
      return { kind: "binary", maxLength: p ?? 1 };
    case "tinyblob":
    case "blob":
    case "mediumblob":
    case "longblob":
      return { kind: "binary" };
    case "date":
      return { kind: "date" };
    case "time":
      return { kind: "time" };
    case "datetime":
      return { kind: "timestamp", withTimeZone: false, fractionalDigits: p ?? 0 };
    case "timestamp":
      return { kind: "timestamp", withTimeZone: true, fractionalDigits: p ?? 0 };
    case "json":
      return { kind: "json" };
    case "uuid":
      return { kind: "uuid" };
    default:
      return { kind: "other", name: columnType };
  }
}

/**
 * MariaDB's COLUMN_DEFAULT: NULL (the word) when the default is NULL, a quoted literal for strings
 * and an expression such as current_timestamp() otherwise (MariaDB 10.2.7+).
 */
function defaultOf(raw: unknown): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  const v = String(raw);
  return v.toUpperCase() === "NULL" ? undefined : v;
}

/** Reads every base table of the connection's current database. */
export async function introspectMariadb(conn: Connection): Promise<Schema> {
  const tableRows = await conn.query(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY CREATE_TIME, TABLE_NAME",
  );
  const columnRows = await conn.query(
    `SELECT TABLE_NAME AS tbl, COLUMN_NAME AS name, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type, IS_NULLABLE AS nullable,
            COLUMN_DEFAULT AS dflt, EXTRA AS extra, IS_GENERATED AS is_generated, GENERATION_EXPRESSION AS generation
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`,
  );
  const checkRows = await conn.query(
    "SELECT TABLE_NAME AS tbl, CONSTRAINT_NAME AS name, CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()",
  );
  const indexRows = await conn.query(
    `SELECT TABLE_NAME AS tbl, INDEX_NAME AS name, NON_UNIQUE AS non_unique, COLUMN_NAME AS col, SEQ_IN_INDEX AS seq
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
  );
  const fkRows = await conn.query(
    `SELECT k.TABLE_NAME AS tbl, k.CONSTRAINT_NAME AS name, k.COLUMN_NAME AS col, k.REFERENCED_TABLE_NAME AS ref_table,
            k.REFERENCED_COLUMN_NAME AS ref_col, r.UPDATE_RULE AS on_update, r.DELETE_RULE AS on_delete
     FROM information_schema.KEY_COLUMN_USAGE k
     JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
     WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
     ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
  );
  const tables: Table[] = tableRows.map((tr) => {
    const name = String(tr.name);
    const jsonCols = new Set(
      checkRows
        .filter((c) => c.tbl === name)
        .map((c) => /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(String(c.clause).trim())?.[1]?.replace(/``/g, "`"))
        .filter((c): c is string => c !== undefined),
    );
    const columns: Column[] = columnRows
      .filter((c) => c.tbl === name && (c.is_generated === "NEVER" || c.is_generated === null || c.is_generated === undefined))
      .map((c) => {
        const colName = String(c.name);
        const column: Column = {
          name: colName,
          type: mariadbTypeClass(String(c.data_type), String(c.column_type), jsonCols.has(colName)),
          sourceType: String(c.column_type),
          nullable: c.nullable === "YES",
          autoIncrement: /auto_increment/i.test(String(c.extra ?? "")),
        };
        const dflt = defaultOf(c.dflt);
        if (dflt !== undefined) column.default = dflt;
        // EXTRA says "on update current_timestamp(6)" for ON UPDATE CURRENT_TIMESTAMP(6).
        const onUpdate = /\bon update (.+)$/i.exec(String(c.extra ?? ""))?.[1]?.trim();
        if (onUpdate) column.onUpdate = onUpdate;
        return column;
      });
    const byIndex = new Map<string, { unique: boolean; cols: string[] }>();
    for (const r of indexRows.filter((i) => i.tbl === name)) {
      const entry = byIndex.get(String(r.name)) ?? { unique: Number(r.non_unique) === 0, cols: [] };
      entry.cols.push(String(r.col));
      byIndex.set(String(r.name), entry);
    }
    const primaryKey = byIndex.get("PRIMARY")?.cols ?? [];
    const indexes: Index[] = [...byIndex.entries()]
      .filter(([n, e]) => n !== "PRIMARY" && e.cols.every((c) => c !== "null"))
      .map(([n, e]) => ({ name: n, columns: e.cols, unique: e.unique }));
    const byFk = new Map<string, Record<string, unknown>[]>();
    for (const r of fkRows.filter((f) => f.tbl === name)) byFk.set(String(r.name), [...(byFk.get(String(r.name)) ?? []), r]);
    const action = (v: unknown) => (v === undefined || v === null || v === "NO ACTION" ? undefined : String(v));
    const foreignKeys: ForeignKey[] = [...byFk.entries()].map(([fkName, rows]) => {
      const fk: ForeignKey = { name: fkName, columns: rows.map((r) => String(r.col)), refTable: String(rows[0].ref_table), refColumns: rows.map((r) => String(r.ref_col)) };
      const onDelete = action(rows[0].on_delete);
      const onUpdate = action(rows[0].on_update);
      if (onDelete && onDelete !== "RESTRICT") fk.onDelete = onDelete;
      if (onUpdate && onUpdate !== "RESTRICT") fk.onUpdate = onUpdate;
      return fk;
    });
    const unsupported: Unsupported[] = [
      ...columnRows
        .filter((c) => c.tbl === name && c.is_generated === "ALWAYS")
        .map((c) => ({ name: String(c.name), what: "generated column" as const, definition: String(c.generation ?? "") })),
      ...checkRows
        .filter((c) => c.tbl === name && !/^json_valid\(`((?:[^`]|``)+)`\)$/i.test(String(c.clause).trim()))
        .map((c) => ({ name: String(c.name), what: "check constraint" as const, definition: String(c.clause) })),
    ];
    const table: Table = { name, columns, primaryKey, indexes, foreignKeys };
    if (unsupported.length > 0) table.unsupported = unsupported;
    return table;
  });
  return { engine: "mariadb", tables: parentsFirst(tables) };
}
