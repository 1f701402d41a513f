/**
 * The classes of source values a copy would change or the target would reject, as pure
 * functions of one value (as the source's driver returns it: bigint, number, string, Buffer)
 * and the column it goes into. An SQLite column holds any value whatever its declared type
 * (type affinity), so a REAL column can hold 'abc' and a DATE column a Julian-day number; the
 * pre-scan (scan.ts) runs every value through `classifyValue` before the first row is written,
 * and the copy refuses each class by id (`<table>.<column>:<class>`) unless the user allows it.
 * An allowed class is written exactly as `effect` says (declared.ts), and the verification
 * hashes the source's values through that same declared conversion, so any other change fails.
 */
import type { Column, TypeClass } from "../schema";

/** A class of values, with the sentence a user reads and what allowing it does. */
export interface ValueClass {
  /** The id's last part: `<table>.<column>:<name>`. */
  name: string;
  /** What the values are, e.g. "text in a number column". */
  what: string;
  /** What `--allow` does with each such value. */
  effect: string;
}

const NULLED = "each is written as NULL";

/** Every class, by name: differences as data, one place to read them all. */
export const VALUE_CLASSES = {
  "text-in-number": { name: "text-in-number", what: "text that is not a number in a number column", effect: NULLED },
  "blob-in-number": { name: "blob-in-number", what: "a blob in a number column", effect: NULLED },
  "real-in-integer": { name: "real-in-integer", what: "a real number in an integer column", effect: NULLED },
  "out-of-range": { name: "out-of-range", what: "an integer outside the target column's range", effect: NULLED },
  "inexact-integer": { name: "inexact-integer", what: "an integer beyond 2^53 in a floating-point column (it would be rounded)", effect: NULLED },
  "not-boolean": { name: "not-boolean", what: "a value other than 0 or 1 in a boolean column", effect: NULLED },
  "not-a-date": { name: "not-a-date", what: "text that is not a valid YYYY-MM-DD date in a date column", effect: NULLED },
  "date-with-time": { name: "date-with-time", what: "a date with a time of day in a date column (the time would be cut off)", effect: NULLED },
  "not-a-time": { name: "not-a-time", what: "text that is not a valid HH:MM[:SS[.ffffff]] time in a time column", effect: NULLED },
  "not-a-timestamp": { name: "not-a-timestamp", what: "text that is not a valid YYYY-MM-DD HH:MM[:SS[.ffffff]] timestamp", effect: NULLED },
  offset: { name: "offset", what: "a timestamp with a UTC offset in a column without time zone (the target would store another wall clock than written)", effect: NULLED },
  nanoseconds: { name: "nanoseconds", what: "a time with more than 6 fractional digits (the target keeps microseconds)", effect: "each is cut to 6 fractional digits (microseconds)" },
  "fraction-digits": { name: "fraction-digits", what: "a time with more fractional second digits than the target column keeps", effect: "each is cut to the target column's digits" },
  "julian-day": { name: "julian-day", what: "a real number in a date/time column (SQLite's functions read it as a Julian day)", effect: NULLED },
  "epoch-integer": { name: "epoch-integer", what: "an integer in a date/time column (seconds or milliseconds since 1970: no way to tell)", effect: NULLED },
  "number-in-text": { name: "number-in-text", what: "a number stored as a number in a text column (its text could differ from SQLite's)", effect: NULLED },
  "blob-in-text": { name: "blob-in-text", what: "a blob in a text column", effect: NULLED },
  "text-in-blob": { name: "text-in-blob", what: "text in a blob column (it would become its UTF-8 bytes)", effect: NULLED },
  "number-in-blob": { name: "number-in-blob", what: "a number in a blob column", effect: NULLED },
  "too-long": { name: "too-long", what: "text longer than the target column's length", effect: NULLED },
  "not-json": { name: "not-json", what: "text that is not valid JSON in a JSON column", effect: NULLED },
  "not-a-uuid": { name: "not-a-uuid", what: "text that is not a UUID in a UUID column", effect: NULLED },
  "invalid-utf8": { name: "invalid-utf8", what: "text that is not valid UTF-8", effect: "each invalid byte sequence is written as U+FFFD (the replacement character)" },
  "date-out-of-range": { name: "date-out-of-range", what: "a date or time outside the range the target column holds", effect: NULLED },
  "zero-date": { name: "zero-date", what: "a zero date or a date with a zero month or day (MariaDB holds them, no calendar has them)", effect: NULLED },
  "missing-parent": { name: "missing-parent", what: "a foreign key value with no row in the referenced table", effect: "the rows are copied as they are and the foreign key is not created on the target" },
} as const satisfies Record<string, ValueClass>;

export type ValueClassName = keyof typeof VALUE_CLASSES;

/** The id a user allows a class of a column with. */
export function valueClassId(table: string, column: string, cls: ValueClassName): string {
  return `${table}.${column}:${cls}`;
}

/**
 * The class of `value` bound for a target column of class `target`, or undefined when it copies
 * exactly. NULL is always exact. Invalid UTF-8 is found on the raw bytes (isValidUtf8), not here:
 * a driver hands text over already decoded.
 */
export function classifyValue(value: unknown, target: TypeClass): ValueClassName | undefined {
  if (value === null || value === undefined) return undefined;
  switch (target.kind) {
    case "integer":
      return integerClass(value, target);
    case "decimal":
      return numberClass(value);
    case "float":
      if (typeof value === "bigint") return value > MAX_EXACT || value < -MAX_EXACT ? "inexact-integer" : undefined;
      return numberClass(value);
    case "boolean":
      return booleanClass(value);
    case "date":
      return temporalClass(value) ?? dateClass(value as string);
    case "time":
      return temporalClass(value) ?? (TIME.test(value as string) && validTime(value as string) ? fractionClass(value as string) : "not-a-time");
    case "timestamp":
      return temporalClass(value) ?? timestampClass(value as string, target.withTimeZone, target.fractionalDigits);
    case "text":
      return textClass(value, target.maxLength);
    case "json":
      return textClass(value, undefined) ?? (isJson(value as string) ? undefined : "not-json");
    case "uuid":
      return textClass(value, undefined) ?? (UUID.test(value as string) ? undefined : "not-a-uuid");
    case "binary":
      if (Buffer.isBuffer(value) || value instanceof Uint8Array) return undefined;
      return typeof value === "string" ? "text-in-blob" : "number-in-blob";
    case "other":
      return undefined;
  }
}

/**
 * The class a value of `source` is judged by on its way into `target`: the target's, except that a
 * timestamp stays an instant when either side is one (MariaDB keeps a timestamptz as its UTC wall
 * clock, and the copy writes and verifies it as the instant).
 */
export function judgedType(source: Column, target: Column): TypeClass {
  if (source.type.kind === "timestamp" && target.type.kind === "timestamp") return { ...target.type, withTimeZone: source.type.withTimeZone || target.type.withTimeZone };
  return target.type;
}

const MAX_EXACT = 2n ** 53n;

function integerClass(value: unknown, t: Extract<TypeClass, { kind: "integer" }>): ValueClassName | undefined {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) return "real-in-integer";
    value = BigInt(value);
  }
  if (typeof value === "string") return "text-in-number";
  if (typeof value !== "bigint") return "blob-in-number";
  const bits = BigInt(t.bytes * 8);
  const [min, max] = t.unsigned ? [0n, 2n ** bits - 1n] : [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n];
  return value < min || value > max ? "out-of-range" : undefined;
}

function numberClass(value: unknown): ValueClassName | undefined {
  if (typeof value === "bigint" || typeof value === "number") return undefined;
  return typeof value === "string" ? "text-in-number" : "blob-in-number";
}

function booleanClass(value: unknown): ValueClassName | undefined {
  if (value === 0n || value === 1n || value === 0 || value === 1) return undefined;
  return "not-boolean";
}

/** Numbers and blobs in a date/time column; undefined for text (classified by its form). */
function temporalClass(value: unknown): ValueClassName | undefined {
  if (typeof value === "string") return undefined;
  if (typeof value === "bigint") return "epoch-integer";
  if (typeof value === "number") return Number.isInteger(value) ? "epoch-integer" : "julian-day";
  return "not-a-timestamp";
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})/;
const TIME = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/;
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;
const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

function validDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1 || mo < 1 || mo > 12 || d < 1) return false;
  return d <= (mo === 2 && leap(y) ? 29 : DAYS_IN_MONTH[mo - 1]);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function leap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function validTime(s: string): boolean {
  const m = TIME.exec(s)!;
  return Number(m[1]) <= 23 && Number(m[2]) <= 59 && Number(m[3] ?? 0) <= 59;
}

function fractionClass(s: string): ValueClassName | undefined {
  const f = /\.(\d+)/.exec(s.slice(s.lastIndexOf(":")));
  return f && f[1].length > 6 ? "nanoseconds" : undefined;
}

function dateClass(s: string): ValueClassName | undefined {
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return validDate(s) ? undefined : "not-a-date";
  const m = TIMESTAMP.exec(s);
  return m && validDate(s) && (m[2] === undefined || validTime(m[2])) ? "date-with-time" : "not-a-date";
}

/** An offset is exact into an instant (timestamptz: stored and compared as the instant), not into a wall clock. */
function timestampClass(s: string, instant: boolean, digits: number | undefined): ValueClassName | undefined {
  const m = TIMESTAMP.exec(s);
  if (!m || !validDate(m[1]) || (m[2] !== undefined && !(TIME.test(m[2]) && validTime(m[2])))) return "not-a-timestamp";
  if (m[3] !== undefined && !instant) return "offset";
  if (m[2] === undefined) return undefined;
  return fractionClass(m[2]) ?? (digits !== undefined && digits < 6 && fractionDigits(m[2]) > digits ? "fraction-digits" : undefined);
}

/** The significant fractional digits of a time (trailing zeros do not count). */
function fractionDigits(time: string): number {
  const f = /\.(\d+)/.exec(time);
  return f ? f[1].replace(/0+$/, "").length : 0;
}

/** A time text with its fraction cut to `digits` (none at 0): what fraction-digits and nanoseconds do when allowed. */
export function cutFraction(value: string, digits: number): string {
  return value.replace(/\.(\d+)/, (_m, f: string) => (digits === 0 ? "" : `.${f.slice(0, digits)}`));
}

function textClass(value: unknown, maxLength: number | undefined): ValueClassName | undefined {
  if (typeof value === "bigint" || typeof value === "number") return "number-in-text";
  if (typeof value !== "string") return "blob-in-text";
  if (maxLength !== undefined && value.length > maxLength && codePoints(value) > maxLength) return "too-long";
  return undefined;
}

/** Characters as PostgreSQL and MariaDB count them (code points, not UTF-16 units). */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Whether raw text bytes are valid UTF-8 (what the target's text types demand). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
