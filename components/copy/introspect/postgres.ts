/**
 * Reads a PostgreSQL database's schema (the connection's current schema, normally `public`) from
 * pg_catalog: ordinary and partitioned tables, columns with format_type's spelling, identity and
 * serial columns, primary keys, unique and plain indexes (expression and partial indexes have no
 * column list to translate and are left out), and foreign keys with their actions.
 */
import type { Connection } from "../connections";
import type { Column, ForeignKey, Index, Schema, Table, TypeClass, Unsupported } from "../schema";
import { parentsFirst } from "./order";

/** The type class of a PostgreSQL column from its type name (pg_type.typname) and format_type text. */
export function postgresTypeClass(typname: string, formatted: string): TypeClass {
  const n = /\((\d+)(?:,(\d+))?\)/.exec(formatted);
  const p = n === null ? undefined : Number(n[1]);
  const s = n?.[2] === undefined ? undefined : Number(n[2]);
  switch (typname) {
    case "int2":
      return { kind: "integer", bytes: 2 };
    case "int4":
      return { kind: "integer", bytes: 4 };
    case "int8":
      return { kind: "integer", bytes: 8 };
    case "bool":
      return { kind: "boolean" };
    case "numeric":
      return p === undefined ? { kind: "decimal" } : { kind: "decimal", precision: p, scale: s ?? 0 };
    case "float4":
      return { kind: "float", bytes: 4 };
    case "float8":
      return { kind: "float", bytes: 8 };
    case "text":
    case "citext":
    case "name":
      return { kind: "text" };
    case "varchar":
      return p === undefined ? { kind: "text" } : { kind: "text", maxLength: p };
    case "bpchar":
      return { kind: "text", maxLength: p ?? 1, fixed: true };
    case "bytea":
      return { kind: "binary" };
    case "date":
      return { kind: "date" };
    case "time":
      return { kind: "time" };
    case "timestamp":
      return { kind: "timestamp", withTimeZone: false, fractionalDigits: p ?? 6 };
    case "timestamptz":
      return { kind: "timestamp", withTimeZone: true, fractionalDigits: p ?? 6 };
    case "json":
    case "jsonb":
      return { kind: "json" };
    case "uuid":
      return { kind: "uuid" };
    default:
      return { kind: "other", name: formatted };
  }
}

const FK_ACTIONS: Record<string, string | undefined> = { a: undefined, r: "RESTRICT", c: "CASCADE", n: "SET NULL", d: "SET DEFAULT" };

/** Reads every table of the connection's current schema. */
export async function introspectPostgres(conn: Connection): Promise<Schema> {
  const tableRows = await conn.query(
    `SELECT c.oid::int8 AS oid, c.relname AS name FROM pg_class c
     WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
     ORDER BY c.oid`,
  );
  const columnRows = await conn.query(
    `SELECT a.attrelid::int8 AS oid, a.attname AS name, a.attnum AS num,
            COALESCE(bt.typname, t.typname) AS typname,
            format_type(COALESCE(NULLIF(t.typbasetype, 0), a.atttypid), CASE WHEN t.typbasetype <> 0 THEN t.typtypmod ELSE a.atttypmod END) AS formatted,
            format_type(a.atttypid, a.atttypmod) AS source_type,
            a.attnotnull AS notnull, a.attidentity AS identity, a.attgenerated AS generated,
            pg_get_expr(d.adbin, d.adrelid) AS default_expr,
            pg_get_serial_sequence(quote_ident(c.relname), a.attname) AS serial_seq
     FROM pg_attribute a
     JOIN pg_class c ON c.oid = a.attrelid
     JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attrelid, a.attnum`,
  );
  const indexRows = await conn.query(
    `SELECT i.indrelid::int8 AS oid, ic.relname AS name, i.indisprimary AS primary, i.indisunique AS unique,
            array_to_json(ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord)) AS columns,
            i.indnatts AS natts
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
     WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind IN ('r', 'p')
       AND i.indexprs IS NULL AND i.indpred IS NULL
     ORDER BY ic.relname`,
  );
  const fkRows = await conn.query(
    `SELECT con.conrelid::int8 AS oid, con.conname AS name, rc.relname AS ref_table, con.confdeltype AS on_delete, con.confupdtype AS on_update,
            array_to_json(ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord)) AS columns,
            array_to_json(ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)) AS ref_columns
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class rc ON rc.oid = con.confrelid
     WHERE con.contype = 'f' AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
     ORDER BY con.conname`,
  );
  const unsupportedRows = await conn.query(
    `SELECT i.indrelid::int8 AS oid, ic.relname AS name, CASE WHEN i.indpred IS NOT NULL THEN 'partial index' ELSE 'expression index' END AS what,
            pg_get_indexdef(i.indexrelid) AS definition
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
     WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL)
     UNION ALL
     SELECT con.conrelid::int8, con.conname, 'check constraint', pg_get_constraintdef(con.oid)
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
     WHERE con.contype = 'c' AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
     UNION ALL
     SELECT a.attrelid::int8, a.attname, 'generated column', pg_get_expr(d.adbin, d.adrelid)
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attgenerated <> '' AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
     ORDER BY 2`,
  );
  const asList = (v: unknown): string[] => (typeof v === "string" ? (JSON.parse(v) as string[]) : (v as string[]));

  const tables: Table[] = tableRows.map((tr) => {
    const oid = String(tr.oid);
    const columns: Column[] = columnRows
      .filter((c) => String(c.oid) === oid && (c.generated === "" || c.generated === null))
      .map((c) => {
        const defaultExpr = c.default_expr === null ? undefined : String(c.default_expr);
        const serial = c.serial_seq !== null && defaultExpr !== undefined && /^nextval\(/i.test(defaultExpr);
        const autoIncrement = (c.identity !== "" && c.identity !== null) || serial;
        const column: Column = {
          name: String(c.name),
          type: postgresTypeClass(String(c.typname), String(c.formatted)),
          sourceType: String(c.source_type),
          nullable: c.notnull !== true,
          autoIncrement,
        };
        // A serial's nextval() is how PostgreSQL spells autoIncrement, not a default to carry over.
        if (defaultExpr !== undefined && !serial) column.default = defaultExpr;
        return column;
      });
    const mine = indexRows.filter((i) => String(i.oid) === oid);
    const pk = mine.find((i) => i.primary === true);
    const indexes: Index[] = mine
      .filter((i) => i.primary !== true)
      .map((i) => ({ name: String(i.name), columns: asList(i.columns).slice(0, Number(i.natts)), unique: i.unique === true }));
    const foreignKeys: ForeignKey[] = fkRows
      .filter((f) => String(f.oid) === oid)
      .map((f) => {
        const fk: ForeignKey = { name: String(f.name), columns: asList(f.columns), refTable: String(f.ref_table), refColumns: asList(f.ref_columns) };
        const onDelete = FK_ACTIONS[String(f.on_delete)];
        const onUpdate = FK_ACTIONS[String(f.on_update)];
        if (onDelete) fk.onDelete = onDelete;
        if (onUpdate) fk.onUpdate = onUpdate;
        return fk;
      });
    const unsupported: Unsupported[] = unsupportedRows
      .filter((u) => String(u.oid) === oid)
      .map((u) => ({ name: String(u.name), what: u.what as Unsupported["what"], definition: String(u.definition) }));
    const table: Table = { name: String(tr.name), columns, primaryKey: pk === undefined ? [] : asList(pk.columns), indexes, foreignKeys };
    if (unsupported.length > 0) table.unsupported = unsupported;
    return table;
  });
  return { engine: "postgres", tables: parentsFirst(tables) };
}
