/**
 * Reads an SQLite database's schema through PRAGMA table_info / index_list / index_info /
 * foreign_key_list. SQLite only has storage classes; a column's class comes from its declared
 * type: the names applications and ORMs use first (BOOLEAN, DATETIME, DECIMAL(p,s), JSON, ...),
 * then SQLite's own affinity rules (https://sqlite.org/datatype3.html#determination_of_column_affinity).
 */
import type { Connection } from "../connections";
import type { Column, ForeignKey, Index, Schema, Table, TypeClass, Unsupported } from "../schema";
import { parentsFirst } from "./order";

/** SQLite quotes identifiers with double quotes, doubling any inside. */
function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function args(declared: string): number[] {
  const m = /\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/.exec(declared);
  return m === null ? [] : [Number(m[1]), ...(m[2] === undefined ? [] : [Number(m[2])])];
}

/** The type class of an SQLite declared type (see the file header for the order of the rules). */
export function sqliteTypeClass(declared: string): TypeClass {
  const t = declared.trim().toUpperCase();
  const base = t.replace(/\(.*$/, "").trim();
  const unsigned = /\bUNSIGNED\b/.test(t);
  const [n, s] = args(t);
  const word = base.replace(/\s+UNSIGNED$/, "").trim();
  switch (word) {
    case "BOOLEAN":
    case "BOOL":
      return { kind: "boolean" };
    case "TINYINT":
      return n === 1 && !unsigned ? { kind: "boolean" } : { kind: "integer", bytes: 1, ...(unsigned ? { unsigned } : {}) };
    case "SMALLINT":
    case "INT2":
      return { kind: "integer", bytes: 2, ...(unsigned ? { unsigned } : {}) };
    case "MEDIUMINT":
    case "INT":
    case "INT4":
      return { kind: "integer", bytes: 4, ...(unsigned ? { unsigned } : {}) };
    case "INTEGER":
    case "BIGINT":
    case "INT8":
      return { kind: "integer", bytes: 8, ...(unsigned ? { unsigned } : {}) };
    case "DATE":
      return { kind: "date" };
    case "TIME":
      return { kind: "time" };
    case "DATETIME":
    case "TIMESTAMP":
    case "TIMESTAMP WITHOUT TIME ZONE":
      return { kind: "timestamp", withTimeZone: false, ...(n !== undefined ? { fractionalDigits: n } : {}) };
    case "TIMESTAMPTZ":
    case "TIMESTAMP WITH TIME ZONE":
      return { kind: "timestamp", withTimeZone: true, ...(n !== undefined ? { fractionalDigits: n } : {}) };
    case "DECIMAL":
    case "NUMERIC":
      return { kind: "decimal", ...(n !== undefined ? { precision: n, scale: s ?? 0 } : {}) };
    case "REAL":
    case "DOUBLE":
    case "DOUBLE PRECISION":
    case "FLOAT":
      return { kind: "float", bytes: 8 };
    case "JSON":
    case "JSONB":
      return { kind: "json" };
    case "UUID":
      return { kind: "uuid" };
    case "CHAR":
    case "CHARACTER":
    case "NCHAR":
      return { kind: "text", ...(n !== undefined ? { maxLength: n, fixed: true } : {}) };
    case "VARCHAR":
    case "CHARACTER VARYING":
    case "NVARCHAR":
    case "VARYING CHARACTER":
    case "NATIVE CHARACTER":
      return { kind: "text", ...(n !== undefined ? { maxLength: n } : {}) };
    case "TEXT":
    case "CLOB":
      return { kind: "text" };
    case "BLOB":
      return { kind: "binary" };
  }
  // SQLite's affinity rules, in its order.
  if (t.includes("INT")) return { kind: "integer", bytes: 8 };
  if (/CHAR|CLOB|TEXT/.test(t)) return { kind: "text" };
  if (t.includes("BLOB")) return { kind: "binary" };
  if (t === "") return { kind: "other", name: "(no declared type)" };
  if (/REAL|FLOA|DOUB/.test(t)) return { kind: "float", bytes: 8 };
  return { kind: "other", name: declared.trim() };
}

/** The column names a table's CREATE statement guards with CHECK (json_valid(col)): JSON stored as TEXT. */
export function jsonCheckedColumns(createSql: string): Set<string> {
  const out = new Set<string>();
  const re = /json_valid\s*\(\s*(?:"((?:[^"]|"")+)"|`((?:[^`]|``)+)`|\[([^\]]+)\]|([A-Za-z_][A-Za-z0-9_$]*))\s*\)/gi;
  for (let m = re.exec(createSql); m !== null; m = re.exec(createSql)) {
    out.add((m[1]?.replace(/""/g, '"') ?? m[2]?.replace(/``/g, "`") ?? m[3] ?? m[4]) as string);
  }
  return out;
}

/** The CHECK (...) clauses of a CREATE TABLE statement, each with its balanced parentheses. */
export function checkClauses(createSql: string): string[] {
  const out: string[] = [];
  const re = /\bCHECK\s*\(/gi;
  for (let m = re.exec(createSql); m !== null; m = re.exec(createSql)) {
    let depth = 0;
    let i = m.index + m[0].length - 1;
    let quote: string | undefined;
    for (; i < createSql.length; i++) {
      const ch = createSql[i];
      if (quote !== undefined) {
        if (ch === quote) quote = undefined;
      } else if (ch === "'" || ch === '"' || ch === "`") quote = ch;
      else if (ch === "(") depth++;
      else if (ch === ")" && --depth === 0) break;
    }
    out.push(createSql.slice(m.index, i + 1));
  }
  return out;
}

/** The expression of generated column `name` in a CREATE TABLE (`name type [GENERATED ALWAYS] AS (expr)`), balanced parentheses and quotes respected. */
export function generatedExpression(createSql: string, name: string): string | undefined {
  const quoted = `(?:"${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"|\\b${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b)`;
  const m = new RegExp(`[(,]\\s*${quoted}(?:[^,()]|\\([^()]*\\))*?\\bAS\\s*\\(`, "i").exec(createSql);
  if (!m) return undefined;
  const open = m.index + m[0].length - 1;
  return balanced(createSql, open);
}

/** The text inside the parentheses that open at `open`, or undefined when they never close. */
function balanced(sql: string, open: number): string | undefined {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < sql.length; i++) {
    const ch = sql[i];
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"' || ch === "`") quote = ch;
    else if (ch === "(") depth++;
    else if (ch === ")" && --depth === 0) return sql.slice(open + 1, i);
  }
  return undefined;
}

/** The name a CHECK clause was given (`CONSTRAINT name CHECK (...)`), when it has one. */
function checkName(createSql: string, clause: string): string | undefined {
  const at = createSql.indexOf(clause);
  const m = /CONSTRAINT\s+("(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]|[A-Za-z_][A-Za-z0-9_]*)\s*$/i.exec(createSql.slice(0, at));
  if (!m) return undefined;
  const n = m[1];
  return /^["`[]/.test(n) ? n.slice(1, -1) : n;
}

/** Reads every user table of the SQLite database (sqlite_* internal tables excluded). */
export async function introspectSqlite(conn: Connection): Promise<Schema> {
  const listed = await conn.query(
    "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid",
  );
  const tables: Table[] = [];
  for (const row of listed) {
    const name = String(row.name);
    const createSql = String(row.sql ?? "");
    const jsonColumns = jsonCheckedColumns(createSql);
    const info = await conn.query(`PRAGMA table_info(${q(name)})`);
    const pkCols = info
      .filter((c) => Number(c.pk) > 0)
      .sort((a, b) => Number(a.pk) - Number(b.pk))
      .map((c) => String(c.name));
    const columns: Column[] = info.map((c) => {
      const declared = String(c.type ?? "");
      const colName = String(c.name);
      // A single-column INTEGER PRIMARY KEY is the rowid: SQLite fills it on insert.
      const rowidAlias = pkCols.length === 1 && pkCols[0] === colName && declared.trim().toUpperCase() === "INTEGER";
      const type = jsonColumns.has(colName) ? ({ kind: "json" } as const) : sqliteTypeClass(declared);
      const column: Column = {
        name: colName,
        type,
        sourceType: declared === "" ? "(none)" : declared,
        nullable: Number(c.notnull) === 0 && !rowidAlias,
        autoIncrement: rowidAlias,
      };
      if (c.dflt_value !== null && c.dflt_value !== undefined && String(c.dflt_value).toUpperCase() !== "NULL") column.default = String(c.dflt_value);
      return column;
    });
    const unsupported: Unsupported[] = [];
    for (const c of await conn.query(`PRAGMA table_xinfo(${q(name)})`)) {
      // hidden 2 and 3: VIRTUAL and STORED generated columns (table_info leaves them out).
      if (Number(c.hidden) === 2 || Number(c.hidden) === 3) {
        const expression = generatedExpression(createSql, String(c.name));
        unsupported.push({ name: String(c.name), what: "generated column", ...(expression === undefined ? {} : { expression, definition: `AS (${expression})`, type: sqliteTypeClass(String(c.type ?? "")) }) });
      }
    }
    checkClauses(createSql)
      .filter((clause) => !/^CHECK\s*\(\s*json_valid\s*\([^()]*\)\s*\)$/i.test(clause))
      .forEach((clause, i) => unsupported.push({ name: checkName(createSql, clause) ?? `check${i + 1}`, what: "check constraint", definition: clause }));
    const indexSql = async (ix: string) => String((await conn.query("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", [ix]))[0]?.sql ?? "");
    const indexes: Index[] = [];
    for (const ix of await conn.query(`PRAGMA index_list(${q(name)})`)) {
      if (ix.origin === "pk") continue;
      if (Number(ix.partial) === 1) {
        unsupported.push({ name: String(ix.name), what: "partial index", definition: await indexSql(String(ix.name)) });
        continue;
      }
      const cols = await conn.query(`PRAGMA index_info(${q(String(ix.name))})`);
      // An expression index (cid -2) has no column to translate.
      if (cols.some((c) => c.name === null || Number(c.cid) < 0)) {
        unsupported.push({ name: String(ix.name), what: "expression index", definition: await indexSql(String(ix.name)) });
        continue;
      }
      indexes.push({ name: String(ix.name), columns: cols.sort((a, b) => Number(a.seqno) - Number(b.seqno)).map((c) => String(c.name)), unique: Number(ix.unique) === 1 });
    }
    indexes.sort((a, b) => a.name.localeCompare(b.name));
    const fkRows = await conn.query(`PRAGMA foreign_key_list(${q(name)})`);
    const byId = new Map<number, Record<string, unknown>[]>();
    for (const r of fkRows) byId.set(Number(r.id), [...(byId.get(Number(r.id)) ?? []), r]);
    const foreignKeys: ForeignKey[] = [];
    for (const [, rows] of [...byId.entries()].sort((a, b) => a[0] - b[0])) {
      rows.sort((a, b) => Number(a.seq) - Number(b.seq));
      const refTable = String(rows[0].table);
      let refColumns = rows.map((r) => (r.to === null ? "" : String(r.to)));
      if (refColumns.some((c) => c === "")) {
        // REFERENCES parent without columns means the parent's primary key.
        const parentInfo = await conn.query(`PRAGMA table_info(${q(refTable)})`);
        refColumns = parentInfo.filter((c) => Number(c.pk) > 0).sort((a, b) => Number(a.pk) - Number(b.pk)).map((c) => String(c.name));
      }
      const action = (v: unknown) => (v === undefined || v === null || v === "NO ACTION" ? undefined : String(v));
      const fk: ForeignKey = { columns: rows.map((r) => String(r.from)), refTable, refColumns };
      const onDelete = action(rows[0].on_delete);
      const onUpdate = action(rows[0].on_update);
      if (onDelete) fk.onDelete = onDelete;
      if (onUpdate) fk.onUpdate = onUpdate;
      foreignKeys.push(fk);
    }
    tables.push({ name, columns, primaryKey: pkCols, indexes, foreignKeys, ...(unsupported.length > 0 ? { unsupported } : {}) });
  }
  return { engine: "sqlite", tables: parentsFirst(tables) };
}
