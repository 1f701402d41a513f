/**
 * The pre-scan of a server source (PostgreSQL, MariaDB): a server holds values of each column's
 * declared type, so what the target would change or reject is decided by the pair of column
 * types, and found with the source's own SQL, in the copy's snapshot, in one pass per table (a
 * SUM per check, then up to three sample row keys per class found):
 * - `too-long`: text longer than the target column's length (a narrower column the application's
 *   migrations made, or MariaDB's key VARCHAR);
 * - `out-of-range`: an integer outside the target column's range (MariaDB's BIGINT UNSIGNED past
 *   PostgreSQL's bigint, PostgreSQL's bigint into an INT);
 * - `date-out-of-range`: a date or time past what the target column holds (MariaDB's DATETIME ends
 *   with year 9999, its TIMESTAMP covers 1970-2038 UTC);
 * - `zero-date`: MariaDB's 0000-00-00 and dates with a zero month or day, into an engine without them.
 * (NaN/±Infinity, PostgreSQL's infinity and BC dates, and NUL in text have their own ids: see
 * transfer.ts findValueConversions.) Allowed, each value is read as NULL by the same condition
 * (readAllowedAsNull), so the rows hashed for the verification are the ones written.
 */
import type { EngineKind } from "../../model/engineKind";
import type { Connection } from "../connections";
import { dialectFor } from "../dialects";
import { standardLiteral } from "../dialects/dialect";
import type { Column, TypeClass } from "../schema";
import type { TablePair } from "../transfer";
import type { Finding } from "./scan";
import { valueClassId, type ValueClassName } from "./valueClasses";

/** What a server source's SQL says for the checks. */
interface SourceSql {
  /** Characters of a text value. */
  charLength(q: string): string;
  /** A date/time value compared with a UTC literal ('YYYY-MM-DD[ HH:MM:SS.ffffff]') of the same kind. */
  moment(q: string, type: TypeClass): { value: string; literal: (utc: string) => string; finite?: string };
  /** True for a zero date (or zero month or day), where the engine holds them. */
  zeroDate?(q: string): string;
  /** What locates a row of a table without a primary key, as text, and its name. */
  rowLocator?: { expression: string; name: string };
}

/** Per source engine (SQLite sources are classified value by value: scan.ts). */
const SOURCE_SQL: Partial<Record<EngineKind, SourceSql>> = {
  postgres: {
    charLength: (q) => `char_length(${q})`,
    moment: (q, t) => ({
      value: q,
      literal: (utc) => `${t.kind === "date" ? "DATE" : t.kind === "timestamp" && t.withTimeZone ? "TIMESTAMPTZ" : "TIMESTAMP"} ${standardLiteral(t.kind === "timestamp" && t.withTimeZone ? `${utc}+00` : utc)}`,
      // infinity and BC dates are their own classes (infinity->, bc->).
      finite: `isfinite(${q}) AND ${q} >= ${t.kind === "date" ? "DATE '0001-01-01'" : t.kind === "timestamp" && t.withTimeZone ? "TIMESTAMPTZ '0001-01-01 00:00:00+00'" : "TIMESTAMP '0001-01-01 00:00:00'"}`,
    }),
    rowLocator: { expression: "ctid::text", name: "ctid" },
  },
  mariadb: {
    charLength: (q) => `CHAR_LENGTH(${q})`,
    // The copy's session runs in UTC (connections.ts), so a TIMESTAMP reads as its UTC wall clock.
    moment: (q) => ({ value: q, literal: (utc) => `'${utc}'` }),
    zeroDate: (q) => `(YEAR(${q}) = 0 OR MONTH(${q}) = 0 OR DAYOFMONTH(${q}) = 0)`,
  },
};

/** The UTC range a target column of a date/time class holds, where narrower than any source's (by target engine). */
const MOMENT_RANGES: Partial<Record<EngineKind, (t: TypeClass) => { min?: string; max: string } | undefined>> = {
  mariadb: (t) =>
    t.kind === "date"
      ? { max: "9999-12-31" }
      : t.kind === "timestamp" && t.withTimeZone
        ? { min: "1970-01-01 00:00:01", max: "2038-01-19 03:14:07.999999" }
        : t.kind === "timestamp"
          ? { max: "9999-12-31 23:59:59.999999" }
          : undefined,
};

/** Engines whose date columns hold zero dates (a copy between two of them keeps them). */
const HOLDS_ZERO_DATES: readonly EngineKind[] = ["mariadb"];

/** One check of one column: the class it finds and the source SQL condition true for exactly those values. */
export interface ServerCheck {
  column: string;
  cls: ValueClassName;
  condition: string;
}

/** The checks of one pair: what its source values may hold that its target columns do not. Pure. */
export function serverChecks(sourceEngine: EngineKind, targetEngine: EngineKind, pair: TablePair): ServerCheck[] {
  const sql = SOURCE_SQL[sourceEngine];
  if (sql === undefined) return [];
  const q = (n: string) => dialectFor(sourceEngine).quoteIdentifier(n);
  const out: ServerCheck[] = [];
  pair.source.columns.forEach((s, i) => {
    const t = pair.target.columns[i];
    for (const [cls, condition] of columnConditions(sql, q(s.name), s.type, t.type, sourceEngine, targetEngine)) out.push({ column: s.name, cls, condition });
  });
  return out;
}

/** The [class, condition] pairs of one column. */
function columnConditions(sql: SourceSql, q: string, s: TypeClass, t: TypeClass, sourceEngine: EngineKind, targetEngine: EngineKind): [ValueClassName, string][] {
  const out: [ValueClassName, string][] = [];
  if (s.kind === "text" && t.kind === "text" && t.maxLength !== undefined && (s.maxLength === undefined || s.maxLength > t.maxLength)) {
    out.push(["too-long", `${sql.charLength(q)} > ${t.maxLength}`]);
  }
  if (s.kind === "integer" && t.kind === "integer") {
    const [sMin, sMax] = integerRange(s);
    const [tMin, tMax] = integerRange(t);
    const outside = [...(sMin < tMin ? [`${q} < ${tMin}`] : []), ...(sMax > tMax ? [`${q} > ${tMax}`] : [])];
    if (outside.length) out.push(["out-of-range", `(${outside.join(" OR ")})`]);
  }
  const temporal = (k: TypeClass["kind"]) => k === "date" || k === "timestamp";
  if (temporal(s.kind) && temporal(t.kind)) {
    const zero = sql.zeroDate?.(q);
    if (zero !== undefined && !HOLDS_ZERO_DATES.includes(targetEngine)) out.push(["zero-date", zero]);
    const range = MOMENT_RANGES[targetEngine]?.(t);
    // What the source column holds at most (the same table: MariaDB's own limits); no bound where it holds no more than the target.
    const held = MOMENT_RANGES[sourceEngine]?.(s);
    if (range !== undefined) {
      const m = sql.moment(q, s);
      const cut = (v: string) => (s.kind === "date" ? v.slice(0, 10) : v);
      const below = range.min !== undefined && (held?.min === undefined || held.min < range.min) ? [`${m.value} < ${m.literal(cut(range.min))}`] : [];
      const above = held === undefined || held.max > range.max ? [`${m.value} > ${m.literal(cut(range.max))}`] : [];
      const guards = [...(m.finite ? [m.finite] : []), ...(zero !== undefined ? [`NOT ${zero}`] : [])];
      if (below.length + above.length > 0) out.push(["date-out-of-range", `(${[...guards, `(${[...below, ...above].join(" OR ")})`].join(" AND ")})`]);
    }
  }
  return out;
}

/** An integer class's range. */
function integerRange(t: Extract<TypeClass, { kind: "integer" }>): [bigint, bigint] {
  const bits = BigInt(t.bytes * 8);
  return t.unsigned ? [0n, 2n ** bits - 1n] : [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n];
}

/** Sample row keys kept per class. */
const SAMPLES = 3;

/** What one server table's checks find: per class and column, the count and sample keys. One SUM pass, then samples. */
export async function scanServerValues(source: Connection, pair: TablePair, targetEngine: EngineKind): Promise<Finding[]> {
  const checks = serverChecks(source.engine, targetEngine, pair);
  if (checks.length === 0) return [];
  const d = dialectFor(source.engine);
  const from = d.quoteIdentifier(pair.source.name);
  const [sums] = await source.query(`SELECT ${checks.map((c, i) => `SUM(CASE WHEN ${c.condition} THEN 1 ELSE 0 END) AS f${i}`).join(", ")} FROM ${from}`);
  const locator = SOURCE_SQL[source.engine]?.rowLocator;
  const keys = pair.source.primaryKey.length ? pair.source.primaryKey.map((k) => ({ expression: d.quoteIdentifier(k), name: k })) : locator ? [locator] : [];
  const findings: Finding[] = [];
  for (let i = 0; i < checks.length; i++) {
    const count = Number(sums?.[`f${i}`] ?? 0);
    if (!count) continue;
    const c = checks[i];
    const sample = keys.length ? await source.query(`SELECT ${keys.map((k, j) => `${k.expression} AS k${j}`).join(", ")} FROM ${from} WHERE ${c.condition} ORDER BY ${keys.map((k) => k.expression).join(", ")} LIMIT ${SAMPLES}`) : [];
    findings.push({ table: pair.source.name, column: c.column, cls: c.cls, count, samples: sample.map((r) => keys.map((k, j) => `${k.name}=${shortKey(String(r[`k${j}`]))}`).join(",")) });
  }
  return findings;
}

/** A key value as a sample names it: a long one (a text key past MariaDB's key length) cut, with its length. */
function shortKey(v: string): string {
  const chars = [...v];
  return chars.length <= 40 ? v : `${chars.slice(0, 32).join("")}…(${chars.length} characters)`;
}

/**
 * `pairs` with each source column that has an allowed class read as NULL where that class's
 * condition holds (Column.readAs): what the refusal said `--allow` does, done by the same SQL that
 * found the values. Columns without an allowed class are read as they are.
 */
export function readAllowedAsNull(sourceEngine: EngineKind, targetEngine: EngineKind, pairs: readonly TablePair[], allow: readonly string[]): TablePair[] {
  if (allow.length === 0 || SOURCE_SQL[sourceEngine] === undefined) return [...pairs];
  const allowed = new Set(allow);
  const q = (n: string) => dialectFor(sourceEngine).quoteIdentifier(n);
  return pairs.map((pair) => {
    const nulled = new Map<string, string[]>();
    for (const c of serverChecks(sourceEngine, targetEngine, pair)) {
      if (allowed.has(valueClassId(pair.source.name, c.column, c.cls))) nulled.set(c.column, [...(nulled.get(c.column) ?? []), c.condition]);
    }
    if (nulled.size === 0) return pair;
    const columns: Column[] = pair.source.columns.map((c) => {
      const conditions = nulled.get(c.name);
      return conditions === undefined ? c : { ...c, readAs: `CASE WHEN ${conditions.join(" OR ")} THEN NULL ELSE ${q(c.name)} END` };
    });
    return { ...pair, source: { ...pair.source, columns } };
  });
}
