/**
 * Verification of a copy: per table, a row count and an order-independent content checksum,
 * computed in Node from rows streamed off each side, with every value first reduced to a
 * canonical text form that does not depend on the engine that stored it.
 *
 * Why in Node and not in SQL: the three engines have no common hash function, and each prints
 * the same value differently (PostgreSQL `t`, MariaDB `1`; `12.50` vs `12.5`; a timestamptz in
 * the session's zone vs a DATETIME in UTC). Reducing a value by the *source* column's type class
 * on both sides compares what the user stored, not how an engine spells it.
 *
 * Why a sum of per-row hashes: a sum (mod 2^128) does not depend on row order (the engines
 * return rows in any order) and, unlike XOR, two identical rows do not cancel each other.
 */
import * as crypto from "crypto";

/** One-shot SHA-1 of a string (crypto.hash where Node has it, 20.12+: no Hash object per row). */
const sha1: (data: string) => Buffer =
  typeof (crypto as { hash?: unknown }).hash === "function"
    ? (data) => (crypto as unknown as { hash(alg: string, data: string, enc: "buffer"): Buffer }).hash("sha1", data, "buffer")
    : (data) => crypto.createHash("sha1").update(data).digest();
import type { TypeClass } from "./schema";

/** How values of one column are reduced: the source column's type class, plus what the copy allowed. */
export interface CanonicalColumn {
  name: string;
  type: TypeClass;
  /**
   * NUL characters are dropped from text before comparing: set when the target is PostgreSQL
   * (its text types cannot hold NUL) and the user allowed that loss.
   */
  stripNul?: boolean;
}

/** A table's row count and content checksum (32 hex digits), as computed on one side. */
export interface TableChecksum {
  table: string;
  rows: number;
  checksum: string;
}

/** A table whose two sides differ: what each side holds. */
export interface TableDifference {
  table: string;
  source: TableChecksum;
  target: TableChecksum;
}

const MASK64 = (1n << 64n) - 1n;

/**
 * Accumulates the checksum of one table's rows, fed row by row (values in `columns` order) as
 * they stream by: the copy feeds it the source rows it transfers, so the source is read once.
 */
export class ChecksumAccumulator {
  private low = 0n;
  private high = 0n;
  private count = 0;

  constructor(
    readonly table: string,
    private readonly columns: readonly CanonicalColumn[],
  ) {}

  /** Adds one row (its values in the order of the columns given to the constructor). */
  add(row: readonly unknown[]): void {
    const digest = sha1(canonicalRow(row, this.columns));
    // Two independent 64-bit lanes: a 128-bit sum without 128-bit arithmetic per row.
    this.low = (this.low + digest.readBigUInt64LE(0)) & MASK64;
    this.high = (this.high + digest.readBigUInt64LE(8)) & MASK64;
    this.count++;
  }

  /** The row count and checksum of the rows added so far. */
  result(): TableChecksum {
    const hex = (n: bigint) => n.toString(16).padStart(16, "0");
    return { table: this.table, rows: this.count, checksum: hex(this.high) + hex(this.low) };
  }
}

/**
 * The canonical form of a row: each value as `N` (NULL) or `V<length>:<canonical text>`,
 * concatenated. The length prefix keeps `("ab","c")` and `("a","bc")` apart.
 */
export function canonicalRow(row: readonly unknown[], columns: readonly CanonicalColumn[]): string {
  let out = "";
  for (let i = 0; i < columns.length; i++) {
    const v = canonicalValue(row[i], columns[i].type, columns[i].stripNul);
    out += v === null ? "N" : `V${v.length}:${v}`;
  }
  return out;
}

/**
 * The canonical text of one value of a column of class `type`, or null for SQL NULL.
 * Accepts what any of the three drivers returns for that class (strings, numbers, bigints,
 * booleans, Buffers), so the same stored value gives the same text from every engine.
 */
export function canonicalValue(value: unknown, type: TypeClass, stripNul = false): string | null {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case "integer":
      return canonicalInteger(value);
    case "boolean":
      return canonicalBoolean(value) ? "1" : "0";
    case "decimal":
      return canonicalDecimal(decimalInput(value, type.scale));
    case "float":
      return canonicalFloat(value, type.bytes);
    case "text": {
      let s = asText(value);
      if (stripNul) s = s.replace(/\u0000/g, "");
      // CHAR(n): PostgreSQL pads with spaces, MariaDB strips them; neither is the user's data.
      return type.fixed ? s.replace(/ +$/, "") : s;
    }
    case "binary":
      return asBuffer(value).toString("hex");
    case "date":
      return canonicalDate(value);
    case "time":
      return canonicalTime(asText(value));
    case "timestamp":
      return type.withTimeZone ? canonicalInstant(value) : canonicalWallClock(value);
    case "json":
      return canonicalJson(asText(value));
    case "uuid":
      return asText(value).toLowerCase();
    case "other":
      return asText(value);
  }
}

/**
 * A decimal column's value as a driver gave it, with a JS number (SQLite keeps DECIMAL(p,s) values
 * as REAL) rounded to the declared scale: 0.37 - 300 is stored as -299.63000000000005, and the
 * digits past the scale are the float's noise, not the user's data (PostgreSQL and MariaDB round
 * them away on insert).
 */
export function decimalInput(value: unknown, scale: number | undefined): unknown {
  if (typeof value !== "number" || scale === undefined || !Number.isFinite(value) || Math.abs(value) >= 1e21) return value;
  return value.toFixed(Math.min(scale, 100));
}

const CANONICAL_INTEGER = /^(?:0|-?[1-9]\d{0,17})$/;

/** An integer as a base-10 string (never through a JS number: bigint extremes stay exact). */
export function canonicalInteger(value: unknown): string {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string" && CANONICAL_INTEGER.test(value)) return value;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error(`not an integer: ${value}`);
    return BigInt(value).toString();
  }
  if (typeof value === "boolean") return value ? "1" : "0";
  const s = asText(value).trim();
  if (/^[+-]?\d+$/.test(s)) return BigInt(s).toString();
  // SQLite may hold 5.0 in an INTEGER column that received a REAL: the integer it denotes.
  const d = canonicalDecimal(s);
  if (/^-?\d+$/.test(d)) return d;
  throw new Error(`not an integer: ${s}`);
}

/** True for the spellings of "true" the engines and SQLite applications use (1, t, true, y, yes, on). */
export function canonicalBoolean(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "bigint") return value !== 0n;
  if (Buffer.isBuffer(value)) return value.some((b) => b !== 0); // MariaDB BIT(1)
  const s = asText(value).trim().toLowerCase();
  if (["1", "t", "true", "y", "yes", "on"].includes(s)) return true;
  if (["0", "f", "false", "n", "no", "off", ""].includes(s)) return false;
  throw new Error(`not a boolean: ${JSON.stringify(s)}`);
}

/**
 * A decimal as the shortest plain digits that denote it: no exponent, no leading zeros, no
 * trailing fractional zeros, no "-0" (so `12.50`, `12.5` and the REAL 12.5 agree).
 */
export function canonicalDecimal(value: unknown): string {
  let s = typeof value === "number" ? String(value) : asText(value).trim();
  if (/^[+-]?(nan|inf|infinity)$/i.test(s)) return s.replace(/^\+/, "").toLowerCase().replace("infinity", "inf");
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(s);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) throw new Error(`not a decimal: ${JSON.stringify(s)}`);
  const negative = m[1] === "-";
  let digits = m[2] + (m[3] ?? "");
  let point = m[2].length + (m[4] ? parseInt(m[4], 10) : 0); // position of the decimal point in `digits`
  if (point < 0) {
    digits = "0".repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += "0".repeat(point - digits.length);
  const intPart = digits.slice(0, point).replace(/^0+/, "") || "0";
  const fracPart = digits.slice(point).replace(/0+$/, "");
  s = fracPart ? `${intPart}.${fracPart}` : intPart;
  if (s === "0") return "0";
  return negative ? `-${s}` : s;
}

/**
 * A float as the shortest decimal that reads back to the same float of its width: a 4-byte
 * float that went through a double (SQLite REAL, a driver's JS number) rounds back with fround.
 */
export function canonicalFloat(value: unknown, bytes: 4 | 8): string {
  let n = typeof value === "number" ? value : Number(typeof value === "bigint" ? value.toString() : asText(value).trim());
  if (Number.isNaN(n)) return "NaN";
  if (bytes === 4) n = Math.fround(n);
  return Object.is(n, -0) ? "0" : String(n);
}

/** A date as YYYY-MM-DD (a timestamp's date part when an engine returns one). */
export function canonicalDate(value: unknown): string {
  const s = asText(value).trim();
  const m = /^(-?\d{4,})-(\d{2})-(\d{2})/.exec(s);
  if (!m) throw new Error(`not a date: ${JSON.stringify(s)}`);
  return `${m[1]}-${m[2]}-${m[3]}`;
}

/** A time of day as HH:MM:SS[.fraction without trailing zeros]. */
export function canonicalTime(value: string): string {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?/.exec(value.trim());
  if (!m) throw new Error(`not a time: ${JSON.stringify(value)}`);
  return `${m[1].padStart(2, "0")}:${m[2]}:${m[3] ?? "00"}${fraction(m[4])}`;
}

/** The parts of a timestamp as engines print it; `offsetMinutes` undefined when it carries no zone. */
export interface TimestampParts {
  date: string;
  hour: number;
  minute: number;
  second: number;
  /** Fractional seconds digits, as written (up to microseconds in practice). */
  fraction: string;
  offsetMinutes?: number;
}

/**
 * Parses a timestamp as the engines and SQLite applications write it: `YYYY-MM-DD HH:MM[:SS[.f]]`
 * or with `T`, an optional `Z` / `+HH` / `+HH:MM` / `+HHMM` offset; a bare date is midnight.
 * A JS Date or a number (SQLite epoch seconds, or milliseconds when too large for seconds) is
 * an instant in UTC.
 */
export function parseTimestamp(value: unknown): TimestampParts {
  if (value instanceof Date) return parseTimestamp(value.toISOString());
  if (typeof value === "number" || typeof value === "bigint") {
    const n = Number(value);
    const ms = Math.abs(n) < 1e11 ? n * 1000 : n;
    const iso = new Date(Math.floor(ms)).toISOString();
    const micros = Math.round((ms - Math.floor(ms)) * 1000);
    const parts = parseTimestamp(iso);
    return micros ? { ...parts, fraction: parts.fraction.padEnd(3, "0") + String(micros).padStart(3, "0") } : parts;
  }
  const s = asText(value).trim();
  const fast = parseCommonTimestamp(s);
  if (fast) return fast;
  const m = /^(-?\d{4,}-\d{2}-\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(s);
  if (!m) throw new Error(`not a timestamp: ${JSON.stringify(s)}`);
  let offsetMinutes: number | undefined;
  if (m[6]) {
    if (m[6].toUpperCase() === "Z") offsetMinutes = 0;
    else {
      const sign = m[6][0] === "-" ? -1 : 1;
      const digits = m[6].slice(1).replace(":", "");
      offsetMinutes = sign * (parseInt(digits.slice(0, 2), 10) * 60 + parseInt(digits.slice(2) || "0", 10));
    }
  }
  return {
    date: m[1],
    hour: m[2] ? parseInt(m[2], 10) : 0,
    minute: m[3] ? parseInt(m[3], 10) : 0,
    second: m[4] ? parseInt(m[4], 10) : 0,
    fraction: (m[5] ?? "").replace(/0+$/, ""),
    offsetMinutes,
  };
}

/**
 * The common spellings without a regular expression (the copy parses every timestamp twice):
 * `YYYY-MM-DD HH:MM:SS`, then optionally `.f...`, then nothing, `Z`, `+HH`, `+HH:MM` or `+HHMM`.
 * Anything else returns undefined and takes the general path.
 */
function parseCommonTimestamp(s: string): TimestampParts | undefined {
  if (s.length < 19 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined;
  const sep = s.charCodeAt(10);
  if (sep !== 32 && sep !== 84) return undefined;
  const digitsAt = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) return false;
    }
    return true;
  };
  if (!digitsAt(0, 4) || !digitsAt(5, 7) || !digitsAt(8, 10) || !digitsAt(11, 13) || !digitsAt(14, 16) || !digitsAt(17, 19)) return undefined;
  let i = 19;
  let fraction = "";
  if (s.charCodeAt(i) === 46) {
    let j = i + 1;
    while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
    if (j === i + 1) return undefined;
    fraction = s.slice(i + 1, j);
    i = j;
  }
  let offsetMinutes: number | undefined;
  const rest = s.slice(i);
  if (rest === "Z" || rest === "z") offsetMinutes = 0;
  else if (rest !== "") {
    const m = /^([+-])(\d{2})(?::?(\d{2}))?$/.exec(rest);
    if (!m) return undefined;
    offsetMinutes = (m[1] === "-" ? -1 : 1) * (parseInt(m[2], 10) * 60 + parseInt(m[3] ?? "0", 10));
  }
  let end = fraction.length;
  while (end > 0 && fraction.charCodeAt(end - 1) === 48) end--;
  return {
    date: s.slice(0, 10),
    hour: parseInt(s.slice(11, 13), 10),
    minute: parseInt(s.slice(14, 16), 10),
    second: parseInt(s.slice(17, 19), 10),
    fraction: fraction.slice(0, end),
    offsetMinutes,
  };
}

/** A wall-clock timestamp (no time zone) as `YYYY-MM-DD HH:MM:SS[.f]`; an offset, if any, is ignored. */
export function canonicalWallClock(value: unknown): string {
  const p = parseTimestamp(value);
  return formatParts(p.date, p.hour, p.minute, p.second, p.fraction);
}

/**
 * An instant as `YYYY-MM-DD HH:MM:SS[.f]Z` in UTC. A value without an offset is taken as UTC:
 * that is how the copy reads and writes instants (sessions in UTC; MariaDB DATETIME and SQLite
 * text hold UTC).
 */
export function canonicalInstant(value: unknown): string {
  const p = parseTimestamp(value);
  const utc = toUtc(p);
  return `${formatParts(utc.date, utc.hour, utc.minute, utc.second, p.fraction)}Z`;
}

/** Shifts parsed parts to UTC (calendar arithmetic in UTC, so no local zone or DST is involved). */
export function toUtc(p: TimestampParts): { date: string; hour: number; minute: number; second: number } {
  if (!p.offsetMinutes) return p;
  const [y, mo, d] = splitDate(p.date);
  const dt = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  dt.setUTCFullYear(y, mo - 1, d);
  dt.setUTCHours(p.hour, p.minute - p.offsetMinutes, p.second, 0);
  const year = dt.getUTCFullYear();
  const date = `${year < 0 ? "-" : ""}${String(Math.abs(year)).padStart(4, "0")}-${pad2(dt.getUTCMonth() + 1)}-${pad2(dt.getUTCDate())}`;
  return { date, hour: dt.getUTCHours(), minute: dt.getUTCMinutes(), second: dt.getUTCSeconds() };
}

function splitDate(date: string): [number, number, number] {
  const m = /^(-?\d+)-(\d+)-(\d+)$/.exec(date)!;
  return [parseInt(m[1], 10), parseInt(m[2], 10), parseInt(m[3], 10)];
}

function formatParts(date: string, hour: number, minute: number, second: number, frac: string): string {
  return `${date} ${pad2(hour)}:${pad2(minute)}:${pad2(second)}${fraction(frac)}`;
}

/** JSON with keys sorted and no insignificant whitespace (PostgreSQL jsonb reorders keys); invalid JSON as is. */
export function canonicalJson(value: string): string {
  try {
    return JSON.stringify(sortKeys(JSON.parse(value)));
  } catch {
    return value;
  }
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

function fraction(digits: string | undefined): string {
  const d = (digits ?? "").replace(/0+$/, "");
  return d ? `.${d}` : "";
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function asBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  // SQLite lets an application store text in a BLOB column: its UTF-8 bytes are what it holds.
  return Buffer.from(asText(value), "utf8");
}

/** Compares two sides' checksums, table by table, and returns the tables that differ. */
export function compareChecksums(source: readonly TableChecksum[], target: readonly TableChecksum[]): TableDifference[] {
  const byName = new Map(target.map((t) => [t.table, t]));
  const out: TableDifference[] = [];
  for (const s of source) {
    const t = byName.get(s.table) ?? { table: s.table, rows: 0, checksum: "(missing)" };
    if (t.rows !== s.rows || t.checksum !== s.checksum) out.push({ table: s.table, source: s, target: t });
  }
  return out;
}
