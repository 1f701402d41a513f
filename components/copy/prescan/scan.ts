/**
 * The pre-scan: before the first row is written, every value of the source is classified
 * (valueClasses.ts) against the column it goes into, and every foreign key is checked for rows
 * that reference nothing. Each class found becomes a lossy conversion `<table>.<column>:<class>`
 * with its count, up to three sample row keys and what `--allow` does, so the copy refuses (or
 * the dry run lists) all of them at once instead of failing halfway.
 *
 * It runs inside the source's snapshot (the caller opens it), so it sees the rows the copy moves.
 * Values of SQLite sources are classified one by one; PostgreSQL and MariaDB hold values of the
 * declared type, so their checks follow from the pair of column types (serverScan.ts), in the
 * source's SQL. Foreign keys are checked on every source.
 */
import type { EngineKind } from "../../model/engineKind";
import type { Connection } from "../connections";
import { dialectFor } from "../dialects";
import type { Conversion, ForeignKey, Table } from "../schema";
import type { TablePair } from "../transfer";
import { candidateCondition, nonAsciiCondition } from "./filters";
import { scanServerValues } from "./serverScan";
import { classifyValue, isValidUtf8, judgedType, VALUE_CLASSES, valueClassId, type ValueClassName } from "./valueClasses";

/** Sample row keys kept per class. */
const SAMPLES = 3;

/** One class found in one column: how many values, and the keys of the first rows holding one. */
export interface Finding {
  table: string;
  /** The column, or the foreign key's columns joined by ",". */
  column: string;
  cls: ValueClassName;
  count: number;
  samples: string[];
}

/** Every finding of the pre-scan as a lossy conversion (the id a user allows). */
export async function prescan(source: Connection, pairs: readonly TablePair[], targetEngine?: EngineKind): Promise<Conversion[]> {
  const findings: Finding[] = [];
  for (const pair of pairs) {
    if (source.engine === "sqlite") {
      findings.push(...(await scanValues(source, pair)));
      findings.push(...invalidUtf8(source, pair.source));
    }
    // A server's values, by the pair of column types (serverScan.ts).
    if (targetEngine !== undefined) findings.push(...(await scanServerValues(source, pair, targetEngine)));
    for (const fk of pair.source.foreignKeys) {
      const f = await missingParents(source, pair.source, fk);
      if (f) findings.push(f);
    }
  }
  return findings.map(toConversion);
}

/** The conversion a finding is refused (or allowed) as. */
export function toConversion(f: Finding): Conversion {
  const cls = VALUE_CLASSES[f.cls];
  const rows = f.samples.length ? `, e.g. ${f.samples.join("; ")}` : "";
  return {
    id: valueClassId(f.table, f.column, f.cls),
    table: f.table,
    column: f.column,
    message: `${f.count} value${f.count === 1 ? "" : "s"}: ${cls.what}${rows}; allowed, ${cls.effect}`,
    lossy: true,
  };
}

/**
 * Classifies every value of one SQLite table against its target column: SQLite itself keeps the
 * rows no class can touch (filters.ts), the rows left are classified here, value by value.
 */
async function scanValues(source: Connection, pair: TablePair): Promise<Finding[]> {
  if (source.native.engine !== "sqlite") return [];
  const found = new Map<string, Finding>();
  const types = pair.target.columns.map((c, i) => judgedType(pair.source.columns[i], c));
  const q = (n: string) => dialectFor("sqlite").quoteIdentifier(n);
  const keyed = pair.source.primaryKey.length > 0;
  const where = pair.source.columns.map((c, i) => candidateCondition(q(c.name), types[i])).join(" OR ");
  const select = `SELECT ${keyed ? "" : "rowid, "}${pair.source.columns.map((c) => q(c.name)).join(", ")} FROM ${q(pair.source.name)} WHERE ${where || "0"}`;
  const stmt = source.native.db.prepare(select);
  stmt.raw(true);
  stmt.safeIntegers(true);
  const keyOf = keyed ? rowKey(pair.source) : (row: readonly unknown[]) => `rowid=${String(row[0])}`;
  const offset = keyed ? 0 : 1;
  for (const raw of stmt.iterate() as IterableIterator<unknown[]>) {
    const row = offset ? raw.slice(offset) : raw;
    for (let i = 0; i < types.length; i++) {
      const cls = classifyValue(row[i], types[i]);
      if (cls === undefined) continue;
      const column = pair.source.columns[i].name;
      const k = `${column}\u0000${cls}`;
      let f = found.get(k);
      if (!f) found.set(k, (f = { table: pair.source.name, column, cls, count: 0, samples: [] }));
      f.count++;
      if (f.samples.length < SAMPLES) f.samples.push(keyOf(keyed ? row : raw));
    }
  }
  return [...found.values()];
}

/** A row's key as a user finds it again: its primary key's values. */
function rowKey(table: Table): (row: readonly unknown[]) => string {
  const idx = table.primaryKey.map((k) => table.columns.findIndex((c) => c.name === k));
  return (row) => idx.map((i) => `${table.columns[i].name}=${String(row[i])}`).join(",");
}

/** Text values of an SQLite table whose bytes are not valid UTF-8 (the driver would hand them over with U+FFFD). */
function invalidUtf8(source: Connection, table: Table): Finding[] {
  if (source.native.engine !== "sqlite") return [];
  const db = source.native.db;
  db.function("dbstack_bad_utf8", { deterministic: true }, (b: unknown) => (Buffer.isBuffer(b) && !isValidUtf8(b) ? 1 : 0));
  const q = (n: string) => dialectFor("sqlite").quoteIdentifier(n);
  // SQLite keeps the pure-ASCII text (always valid); only the rest reaches the check here.
  const bad = (c: string) => `(${nonAsciiCondition(q(c))} AND dbstack_bad_utf8(CAST(${q(c)} AS BLOB)))`;
  // CASE, not AND: SQLite evaluates both sides of an AND inside an expression, and the check
  // must run only on the text the filter lets through.
  const sums = table.columns.map((c, i) => `COALESCE(SUM(CASE WHEN ${nonAsciiCondition(q(c.name))} THEN dbstack_bad_utf8(CAST(${q(c.name)} AS BLOB)) ELSE 0 END), 0) AS u${i}`);
  const counts = db.prepare(`SELECT ${sums.join(", ")} FROM ${q(table.name)}`).get() as Record<string, number>;
  const out: Finding[] = [];
  table.columns.forEach((c, i) => {
    const count = Number(counts[`u${i}`]);
    if (!count) return;
    const keys = table.primaryKey.length ? table.primaryKey : ["rowid"];
    const sample = db.prepare(`SELECT ${keys.map(q).join(", ")} FROM ${q(table.name)} WHERE ${bad(c.name)} LIMIT ${SAMPLES}`).raw(true).all() as unknown[][];
    out.push({ table: table.name, column: c.name, cls: "invalid-utf8", count, samples: sample.map((r) => keys.map((k, j) => `${k}=${String(r[j])}`).join(",")) });
  });
  return out;
}

/** The rows of `table` whose foreign key `fk` (all its columns set) matches no row of the referenced table. */
async function missingParents(source: Connection, table: Table, fk: ForeignKey): Promise<Finding | undefined> {
  const d = dialectFor(source.engine);
  const q = (n: string) => d.quoteIdentifier(n);
  const set = fk.columns.map((c) => `c.${q(c)} IS NOT NULL`).join(" AND ");
  const match = fk.columns.map((c, i) => `p.${q(fk.refColumns[i])} = c.${q(c)}`).join(" AND ");
  const where = `${set} AND NOT EXISTS (SELECT 1 FROM ${q(fk.refTable)} p WHERE ${match})`;
  const [r] = await source.query(`SELECT COUNT(*) AS n FROM ${q(table.name)} c WHERE ${where}`);
  const count = Number(r.n);
  if (!count) return undefined;
  const keys = table.primaryKey.length ? table.primaryKey : fk.columns;
  const sample = await source.query(`SELECT ${keys.map((k, i) => `c.${q(k)} AS k${i}`).join(", ")} FROM ${q(table.name)} c WHERE ${where} LIMIT ${SAMPLES}`);
  return {
    table: table.name,
    column: fk.columns.join(","),
    cls: "missing-parent",
    count,
    samples: sample.map((s) => keys.map((k, i) => `${k}=${String(s[`k${i}`])}`).join(",")),
  };
}
