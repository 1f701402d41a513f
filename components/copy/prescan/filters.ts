/**
 * The pre-scan's filter in SQLite's own SQL: per column, a condition true for every value
 * classifyValue (valueClasses.ts) might name, so the scan reads only those rows into this process
 * and the usual clean table costs one native scan, about as much as a count. The condition may
 * let clean values through (classifyValue decides those); it must never leave out one it would
 * name (test/unit/copy-value-classes.test.ts checks that on every kind of value).
 */
import type { TypeClass } from "../schema";

/** The condition (SQLite SQL) on the quoted column `q` bound for a column of class `t`. */
export function candidateCondition(q: string, t: TypeClass): string {
  const set = `${q} IS NOT NULL`;
  switch (t.kind) {
    case "integer":
      return `(${set} AND (typeof(${q}) <> 'integer'${rangeTest(q, t)}))`;
    case "float":
      return `(${set} AND (typeof(${q}) NOT IN ('integer', 'real') OR (typeof(${q}) = 'integer' AND (${q} > 9007199254740992 OR ${q} < -9007199254740992))))`;
    case "decimal":
      return `(${set} AND typeof(${q}) NOT IN ('integer', 'real'))`;
    case "boolean":
      return `(${set} AND (typeof(${q}) NOT IN ('integer', 'real') OR ${q} NOT IN (0, 1)))`;
    case "text":
      return `(${set} AND (typeof(${q}) <> 'text'${t.maxLength === undefined ? "" : ` OR length(${q}) > ${t.maxLength}`}))`;
    case "binary":
      return `(${set} AND typeof(${q}) <> 'blob')`;
    case "date":
      return `(${set} AND NOT (typeof(${q}) = 'text' AND ${q} GLOB '${DATE_GLOB}' AND ${q} >= '0001-01-01' AND date(${q}) IS ${q}))`;
    case "timestamp":
      return `(${set} AND NOT (typeof(${q}) = 'text' AND ${q} >= '0001-01-01' AND ${moment(q)} AND ${timestampTail(q, t)}))`;
    default:
      return set;
  }
}

const DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]";
const TIME_GLOB = "[0-9][0-9]:[0-9][0-9]:[0-9][0-9]";

/** The first 19 characters are `YYYY-MM-DD HH:MM:SS`, a real moment (strftime rewrites an impossible one, or gives NULL). */
function moment(q: string): string {
  return `(substr(${q}, 1, 19) GLOB '${DATE_GLOB} ${TIME_GLOB}' AND strftime('%Y-%m-%d %H:%M:%S', substr(${q}, 1, 19)) IS substr(${q}, 1, 19))`;
}

/**
 * What may follow the moment in a clean value: nothing, a fraction of 1 to 6 digits (when the
 * column keeps 6), and for an instant a `+HH:MM` / `-HH:MM` / `Z` zone after either.
 */
function timestampTail(q: string, t: Extract<TypeClass, { kind: "timestamp" }>): string {
  const fractions = ["", ...(t.fractionalDigits === undefined || t.fractionalDigits >= 6 ? [1, 2, 3, 4, 5, 6].map((n) => `.${"[0-9]".repeat(n)}`) : [])];
  const zones = t.withTimeZone ? ["", "[+-][0-9][0-9]:[0-9][0-9]", "Z"] : [""];
  const tails = fractions.flatMap((f) => zones.map((z) => f + z));
  const rest = `substr(${q}, 20)`;
  return `(${tails.map((tail) => (tail === "" ? `${rest} = ''` : `${rest} GLOB '${tail}'`)).join(" OR ")})`;
}

/** Text holding any character outside ASCII (every invalid UTF-8 byte reads as one): the only text that may be invalid UTF-8. */
export function nonAsciiCondition(q: string): string {
  return `(typeof(${q}) = 'text' AND ${q} GLOB '*[^\u0001-\u007f]*')`;
}

/** ` OR <outside the column's range>` for integer widths narrower than SQLite's 64 bits. */
function rangeTest(q: string, t: Extract<TypeClass, { kind: "integer" }>): string {
  if (t.unsigned) return t.bytes === 8 ? ` OR ${q} < 0` : ` OR ${q} < 0 OR ${q} > ${(2n ** BigInt(t.bytes * 8) - 1n).toString()}`;
  if (t.bytes === 8) return "";
  const half = 2n ** BigInt(t.bytes * 8 - 1);
  return ` OR ${q} < ${(-half).toString()} OR ${q} > ${(half - 1n).toString()}`;
}
