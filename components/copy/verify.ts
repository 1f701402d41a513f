/**
 * Verification of a copy: per table, a row count and an order-independent content checksum,
 * with every value first reduced to a canonical text form that does not depend on the engine
 * that stored it.
 *
 * The source side is always hashed in Node, from the rows as the copy reads them. The target
 * side is hashed where it is cheapest while still being computed from what the target holds:
 * PostgreSQL computes it itself (renderPgChecksumQuery: the same canonical text built in SQL
 * from the stored columns, hashed with its own hashtextextended, summed by the server, so no row
 * travels back); MariaDB and SQLite targets are read back and hashed here as the source is.
 *
 * Why canonical text: each engine prints the same value differently (PostgreSQL `t`, MariaDB
 * `1`; `12.50` vs `12.5`; a timestamptz in the session's zone vs a DATETIME in UTC). Reducing a
 * value by the *source* column's type class on both sides compares what the user stored, not
 * how an engine spells it.
 *
 * Why this hash: PostgreSQL's hash_bytes_extended (Bob Jenkins' lookup3, 64 bits, seeded), which
 * the server exposes as hashtextextended(text, seed) and rowHash below reimplements bit for bit:
 * the one hash both sides can compute without an extension, and cheap enough that hashing is
 * not what a copy waits for. Two seeds give two independent 64-bit lanes. Before trusting the
 * server's function the copy checks it against this one on a sample (pgHashAgrees); a server
 * that disagrees (another byte order, a changed implementation) is read back instead.
 *
 * Why a sum of per-row hashes: a sum (two lanes mod 2^64) does not depend on row order (the
 * engines return rows in any order) and, unlike XOR, two identical rows do not cancel each other.
 */
import type { Column, TypeClass } from "./schema";

/** How values of one column are reduced: the source column's type class, plus what the copy allowed. */
export interface CanonicalColumn {
  name: string;
  type: TypeClass;
  /**
   * NUL characters are dropped from text before comparing: set when the target is PostgreSQL
   * (its text types cannot hold NUL) and the user allowed that loss.
   */
  stripNul?: boolean;
  /** PostgreSQL's infinity/-infinity are written as the latest/earliest time the target holds (allowed by the user): compared so. */
  clampInfinity?: boolean;
  /** Dates before year 1 (BC) are written as NULL (allowed by the user): compared so. */
  bcAsNull?: boolean;
  /** Numbers the target cannot hold (NaN, ±Infinity into MariaDB; NaN into SQLite) are written as NULL (allowed by the user): compared so. */
  unholdableAsNull?: (value: unknown) => boolean;
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

/** The two seeds of the checksum's lanes (any two distinct non-zero values; fixed, so both sides agree). */
export const HASH_SEEDS = [0x5eed1, 0x5eed2] as const;
const TWO32 = 4294967296;

/**
 * Accumulates the checksum of one table's rows, fed row by row (values in `columns` order) as
 * they stream by: the copy feeds it the source rows it transfers, so the source is read once.
 */
/** A ChecksumAccumulator's sums ([high, low] 32-bit halves per lane) and row count, as plain data a thread can post. */
export interface AccumulatorState {
  lanes: number[][];
  count: number;
}

export class ChecksumAccumulator {
  // One 64-bit lane per seed, each as [high, low] 32-bit halves in plain numbers (no BigInt per row).
  private readonly lanes = HASH_SEEDS.map(() => new Float64Array(2));
  private count = 0;

  constructor(
    readonly table: string,
    private readonly columns: readonly CanonicalColumn[],
  ) {}

  /** Adds one row (its values in the order of the columns given to the constructor). */
  add(row: readonly unknown[]): void {
    this.addCanonical(canonicalRow(row, this.columns));
  }

  /** Adds one row already in canonicalRow's form (the copy builds it while it renders the row for the target). */
  addCanonical(text: string): void {
    const len = encodeRow(text);
    for (let i = 0; i < HASH_SEEDS.length; i++) {
      hashBytesExtended(rowBytes.bytes, len, HASH_SEEDS[i]);
      const lane = this.lanes[i];
      lane[1] += hashOut[1];
      if (lane[1] >= TWO32) {
        lane[1] -= TWO32;
        lane[0]++;
      }
      lane[0] += hashOut[0];
      if (lane[0] >= TWO32) lane[0] -= TWO32;
    }
    this.count++;
  }

  /** The running sums and count, to hand to another thread's accumulator (absorb). */
  state(): AccumulatorState {
    return { lanes: this.lanes.map((l) => [l[0], l[1]]), count: this.count };
  }

  /** Adds the rows another accumulator of the same table summed (a worker thread's share of the rows): the sums are additive. */
  absorb(other: AccumulatorState): void {
    other.lanes.forEach(([high, low], i) => {
      const lane = this.lanes[i];
      lane[1] += low;
      if (lane[1] >= TWO32) {
        lane[1] -= TWO32;
        lane[0]++;
      }
      lane[0] += high;
      if (lane[0] >= TWO32) lane[0] -= TWO32;
    });
    this.count += other.count;
  }

  /** The row count and checksum of the rows added so far. */
  result(): TableChecksum {
    const hex = (n: number) => n.toString(16).padStart(8, "0");
    const [l1, l2] = this.lanes;
    return { table: this.table, rows: this.count, checksum: hex(l2[0]) + hex(l2[1]) + hex(l1[0]) + hex(l1[1]) };
  }
}

/**
 * A checksum from the two lane sums a database computed (sums of signed 64-bit hashes, as
 * decimal text of any size): reduced mod 2^64, it is the same text ChecksumAccumulator gives.
 */
export function checksumFromSums(table: string, rows: number, lane1: string | null, lane2: string | null): TableChecksum {
  const mod = (s: string | null) => {
    const m = 1n << 64n;
    return ((((s === null ? 0n : BigInt(s)) % m) + m) % m).toString(16).padStart(16, "0");
  };
  return { table, rows, checksum: mod(lane2) + mod(lane1) };
}

/** A growable byte buffer for the UTF-8 form of one canonical row, with a 32-bit view over the same memory. */
const rowBytes = { bytes: Buffer.alloc(0), words: new Int32Array(0) };
/** hashBytesExtended's result, as [high 32 bits, low 32 bits] (unsigned): no array allocated per call. */
const hashOut = new Float64Array(2);

/** Writes `text` as UTF-8 into rowBytes (growing it when needed); returns the byte length. */
function encodeRow(text: string): number {
  // A UTF-16 code unit takes at most 3 UTF-8 bytes.
  if (rowBytes.bytes.length < text.length * 3 + 12) {
    const ab = new ArrayBuffer(Math.max(1024, text.length * 6 + 24) & ~3);
    rowBytes.bytes = Buffer.from(ab);
    rowBytes.words = new Int32Array(ab);
  }
  return rowBytes.bytes.write(text, 0, "utf8");
}

/**
 * The 64-bit lookup3 hash of `bytes[0..len)` with a 32-bit `seed`, exactly as PostgreSQL's
 * hash_bytes_extended computes it on a little-endian machine (hashtextextended(text, seed) hashes
 * the text's UTF-8 bytes so). Result in hashOut. `bytes` starts at offset 0 of its ArrayBuffer,
 * so rowBytes.words reads its aligned 32-bit words.
 */
export function hashBytesExtended(bytes: Buffer, len: number, seed: number): void {
  const k = bytes;
  const w = rowBytes.bytes === bytes ? rowBytes.words : undefined;
  let a = (0x9e3779b9 + len + 3923095) | 0;
  let b = a;
  let c = a;
  // The seed's high half goes to a (zero here), its low half to b, then one mix: the loop's
  // first round, with no bytes taken.
  let seeding = seed !== 0;
  if (seeding) b = (b + seed) | 0;
  let i = 0;
  let rest = len;
  while (seeding || rest >= 12) {
    if (seeding) {
      seeding = false;
    } else {
      if (w !== undefined) {
        const j = i >> 2;
        a = (a + w[j]) | 0;
        b = (b + w[j + 1]) | 0;
        c = (c + w[j + 2]) | 0;
      } else {
        a = (a + (k[i] | (k[i + 1] << 8) | (k[i + 2] << 16) | (k[i + 3] << 24))) | 0;
        b = (b + (k[i + 4] | (k[i + 5] << 8) | (k[i + 6] << 16) | (k[i + 7] << 24))) | 0;
        c = (c + (k[i + 8] | (k[i + 9] << 8) | (k[i + 10] << 16) | (k[i + 11] << 24))) | 0;
      }
      i += 12;
      rest -= 12;
    }
    a = (a - c) | 0; a ^= (c << 4) | (c >>> 28); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 6) | (a >>> 26); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 8) | (b >>> 24); b = (b + a) | 0;
    a = (a - c) | 0; a ^= (c << 16) | (c >>> 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 19) | (a >>> 13); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 4) | (b >>> 28); b = (b + a) | 0;
  }
  // The last 0-11 bytes; the lowest byte of c is left for the length (lookup3's layout).
  if (rest >= 11) c = (c + (k[i + 10] << 24)) | 0;
  if (rest >= 10) c = (c + (k[i + 9] << 16)) | 0;
  if (rest >= 9) c = (c + (k[i + 8] << 8)) | 0;
  if (rest >= 8) b = (b + (k[i + 7] << 24)) | 0;
  if (rest >= 7) b = (b + (k[i + 6] << 16)) | 0;
  if (rest >= 6) b = (b + (k[i + 5] << 8)) | 0;
  if (rest >= 5) b = (b + k[i + 4]) | 0;
  if (rest >= 4) a = (a + (k[i + 3] << 24)) | 0;
  if (rest >= 3) a = (a + (k[i + 2] << 16)) | 0;
  if (rest >= 2) a = (a + (k[i + 1] << 8)) | 0;
  if (rest >= 1) a = (a + k[i]) | 0;
  c ^= b; c = (c - ((b << 14) | (b >>> 18))) | 0;
  a ^= c; a = (a - ((c << 11) | (c >>> 21))) | 0;
  b ^= a; b = (b - ((a << 25) | (a >>> 7))) | 0;
  c ^= b; c = (c - ((b << 16) | (b >>> 16))) | 0;
  a ^= c; a = (a - ((c << 4) | (c >>> 28))) | 0;
  b ^= a; b = (b - ((a << 14) | (a >>> 18))) | 0;
  c ^= b; c = (c - ((b << 24) | (b >>> 8))) | 0;
  hashOut[0] = b >>> 0;
  hashOut[1] = c >>> 0;
}

/** PostgreSQL's hashtextextended(text, seed) of `text`, as the signed 64-bit decimal the server prints. */
export function hashTextExtended(text: string, seed: number): string {
  const len = encodeRow(text);
  hashBytesExtended(rowBytes.bytes, len, seed);
  return BigInt.asIntN(64, (BigInt(hashOut[0]) << 32n) | BigInt(hashOut[1])).toString();
}

/**
 * The canonical form of a row: each value as `N` (NULL) or `<canonical text>:<its UTF-8 byte
 * length>;`, concatenated. The length keeps `("ab","c")` and `("a","bc")` apart (read from the
 * right, every value's end and length are known); it follows the value because PostgreSQL
 * builds the same text with octet_length() (renderPgChecksumQuery).
 */
export function canonicalRow(row: readonly unknown[], columns: readonly CanonicalColumn[]): string {
  let out = "";
  for (let i = 0; i < columns.length; i++) {
    const col = columns[i];
    out += canonicalField(canonicalValue(row[i], col.type, col.stripNul, col), col.type);
  }
  return out;
}

/** One value's part of canonicalRow: `N`, or the canonical text (of a value of class `type`) with its byte length. */
export function canonicalField(v: string | null, type: TypeClass): string {
  if (v === null) return "N";
  return `${v}:${ASCII_KINDS.has(type.kind) ? v.length : Buffer.byteLength(v, "utf8")};`;
}

/** Classes whose canonical text is ASCII by construction (digits, signs, hex): their length is their byte length. */
const ASCII_KINDS = new Set<string>(["integer", "boolean", "decimal", "float", "binary", "date", "time", "timestamp"]);

/**
 * The canonical text of one value of a column of class `type`, or null for SQL NULL.
 * Accepts what any of the three drivers returns for that class (strings, numbers, bigints,
 * booleans, Buffers), so the same stored value gives the same text from every engine.
 */
export function canonicalValue(
  value: unknown,
  type: TypeClass,
  stripNul = false,
  dates: { clampInfinity?: boolean; bcAsNull?: boolean; unholdableAsNull?: (value: unknown) => boolean } = {},
): string | null {
  if (value === null || value === undefined) return null;
  if ((type.kind === "float" || type.kind === "decimal") && dates.unholdableAsNull?.(value)) return null;
  if ((type.kind === "date" || type.kind === "timestamp") && typeof value === "string") {
    const special = specialDate(value);
    if (special === "bc" && dates.bcAsNull) return null;
    if (special === "infinity" || special === "-infinity") {
      if (!dates.clampInfinity) return special;
      value = clampedInfinity(special, type);
    }
  }
  switch (type.kind) {
    case "integer":
      return canonicalInteger(value);
    case "boolean":
      return canonicalBoolean(value) ? "1" : "0";
    case "decimal":
      return decimalText(canonicalDecimal(decimalInput(value, type.scale)));
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
 * A canonical decimal as a value's canonical text: the special values spelled as PostgreSQL
 * prints them (NaN, Infinity, -Infinity), so the server's trim_scale(x)::text is the same text.
 */
export function decimalText(d: string): string {
  return d === "nan" ? "NaN" : d === "inf" ? "Infinity" : d === "-inf" ? "-Infinity" : d;
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
 * A float as the 16 hex digits of its IEEE double (big-endian), `0` for zero of either sign and
 * `NaN` for any NaN: exact, and what PostgreSQL's float8send() gives, so the server can compute
 * it (each engine prints floats with its own exponent rules). A 4-byte float that went through a
 * double (SQLite REAL, a driver's JS number) is rounded back to its width with fround first.
 */
export function canonicalFloat(value: unknown, bytes: 4 | 8): string {
  let n = typeof value === "number" ? value : Number(typeof value === "bigint" ? value.toString() : asText(value).trim());
  if (Number.isNaN(n)) return "NaN";
  if (bytes === 4) n = Math.fround(n);
  if (n === 0) return "0";
  floatView.setFloat64(0, n);
  return floatView.getUint32(0).toString(16).padStart(8, "0") + floatView.getUint32(4).toString(16).padStart(8, "0");
}

const floatView = new DataView(new ArrayBuffer(8));

/** A date as YYYY-MM-DD (a timestamp's date part when an engine returns one). */
export function canonicalDate(value: unknown): string {
  const s = asText(value).trim();
  const m = /^(-?\d{4,})-(\d{2})-(\d{2})/.exec(s);
  if (!m) throw new Error(`not a date: ${JSON.stringify(s)}`);
  // PostgreSQL spells years before 1 with a BC suffix (DateStyle ISO); never read as the AD year.
  return `${m[1]}-${m[2]}-${m[3]}${BC_SUFFIX.test(s) ? " BC" : ""}`;
}

const BC_SUFFIX = /\sBC$/i;

/**
 * What is special about a date or timestamp as PostgreSQL prints it: `infinity`, `-infinity`, or
 * `bc` (a year before 1, printed with a BC suffix); undefined for an ordinary one.
 */
export function specialDate(value: string): "infinity" | "-infinity" | "bc" | undefined {
  const last = value.charCodeAt(value.length - 1);
  // Cheap first test (every ordinary value ends in a digit or a zone): 'y' of infinity, 'C'/'c' of BC.
  if (last !== 121 && last !== 89 && last !== 67 && last !== 99) return undefined;
  const s = value.trim().toLowerCase();
  if (s === "infinity" || s === "+infinity") return "infinity";
  if (s === "-infinity") return "-infinity";
  return BC_SUFFIX.test(s) ? "bc" : undefined;
}

/** The value infinity/-infinity is written as where a target cannot hold it: its latest/earliest time. */
export function clampedInfinity(which: "infinity" | "-infinity", type: TypeClass): string {
  if (type.kind === "date") return which === "infinity" ? "9999-12-31" : "0001-01-01";
  return which === "infinity" ? "9999-12-31 23:59:59.999999" : "0001-01-01 00:00:00";
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
  /** A year before 1, as PostgreSQL prints it: `date` holds the BC year (0044 for 44 BC). */
  bc?: boolean;
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
  const m = /^(-?\d{4,}-\d{2}-\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?(\s+BC)?$/i.exec(s);
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
    ...(m[7] ? { bc: true } : {}),
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
  return formatParts(p.date, p.hour, p.minute, p.second, p.fraction) + (p.bc ? " BC" : "");
}

/**
 * An instant as `YYYY-MM-DD HH:MM:SS[.f]Z` in UTC. A value without an offset is taken as UTC:
 * that is how the copy reads and writes instants (sessions in UTC; MariaDB DATETIME and SQLite
 * text hold UTC).
 */
export function canonicalInstant(value: unknown): string {
  const p = parseTimestamp(value);
  const utc = toUtc(p);
  return `${formatParts(utc.date, utc.hour, utc.minute, utc.second, p.fraction)}${utc.bc ? " BC" : ""}Z`;
}

/** Shifts parsed parts to UTC (calendar arithmetic in UTC, so no local zone or DST is involved). */
export function toUtc(p: TimestampParts): { date: string; hour: number; minute: number; second: number; bc?: boolean } {
  if (!p.offsetMinutes) return p;
  const [y, mo, d] = splitDate(p.date);
  const dt = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999. BC years count back
  // from 1 BC = year 0 (astronomical numbering), so a shift across New Year stays right.
  dt.setUTCFullYear(p.bc ? 1 - y : y, mo - 1, d);
  dt.setUTCHours(p.hour, p.minute - p.offsetMinutes, p.second, 0);
  let year = dt.getUTCFullYear();
  const bc = p.bc === true && year <= 0;
  if (p.bc) year = year <= 0 ? 1 - year : year;
  const date = `${year < 0 ? "-" : ""}${String(Math.abs(year)).padStart(4, "0")}-${pad2(dt.getUTCMonth() + 1)}-${pad2(dt.getUTCDate())}`;
  return { date, hour: dt.getUTCHours(), minute: dt.getUTCMinutes(), second: dt.getUTCSeconds(), ...(bc ? { bc } : {}) };
}

function splitDate(date: string): [number, number, number] {
  const m = /^(-?\d+)-(\d+)-(\d+)$/.exec(date)!;
  return [parseInt(m[1], 10), parseInt(m[2], 10), parseInt(m[3], 10)];
}

export function formatParts(date: string, hour: number, minute: number, second: number, frac: string): string {
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

/** A value as text: strings as they are, Buffers as UTF-8, objects (pg's parsed JSON) as JSON. */
export function asText(value: unknown): string {
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

/** One column for renderPgChecksumQuery: how the source's values are reduced, and the column the target holds them in. */
export interface PgChecksumColumn {
  source: CanonicalColumn;
  target: Pick<Column, "name" | "type">;
}

/**
 * The SQL expression that gives, on PostgreSQL, canonicalValue's text for a value the source
 * held as `source` and the target stores in column `ident` of class `target`; undefined when
 * there is none (JSON, whose canonical form is JavaScript's serialisation; a type kept as is).
 * The session must use TimeZone UTC and DateStyle ISO (connections.ts sets both).
 */
export function pgCanonicalExpression(source: TypeClass, target: TypeClass, ident: string): string | undefined {
  switch (source.kind) {
    case "integer":
      return target.kind === "integer" || (target.kind === "decimal" && target.scale === 0) ? `${ident}::text` : undefined;
    case "boolean":
      return target.kind === "boolean" ? `CASE WHEN ${ident} THEN '1' WHEN NOT ${ident} THEN '0' END` : undefined; // NULL stays NULL
    case "decimal":
      // trim_scale drops the trailing zeros numeric(p,s) prints; NaN/Infinity print as decimalText spells them.
      return target.kind === "decimal" ? `trim_scale(${ident})::text` : undefined;
    case "float":
      return target.kind === "float" && target.bytes >= source.bytes
        ? `CASE WHEN ${ident} = 0 THEN '0' WHEN ${ident} = 'NaN' THEN 'NaN' ELSE encode(float8send(${ident}::float8), 'hex') END`
        : undefined;
    case "text":
      if (target.kind !== "text") return undefined;
      // canonicalValue strips CHAR(n)'s trailing spaces; bpchar's cast to text does too.
      return source.fixed ? `rtrim(${ident}::text, ' ')` : target.fixed ? undefined : `${ident}::text`;
    case "binary":
      return target.kind === "binary" ? `encode(${ident}, 'hex')` : undefined;
    case "date":
    case "time":
    case "uuid":
      return target.kind === source.kind ? `${ident}::text` : undefined;
    case "timestamp":
      if (target.kind !== "timestamp" || target.withTimeZone !== source.withTimeZone) return undefined;
      // infinity stays infinity (canonicalValue's spelling); BC prints its suffix before the Z, as canonicalInstant does.
      return source.withTimeZone ? `CASE WHEN isfinite(${ident}) THEN (${ident} AT TIME ZONE 'UTC')::text || 'Z' ELSE ${ident}::text END` : `${ident}::text`;
    case "other":
      return target.kind === "text" ? `${ident}::text` : undefined;
    case "json":
      return undefined;
  }
}

/**
 * A query that makes PostgreSQL compute a table's row count and the two lane sums of the
 * checksum from the rows it holds (columns `n`, `h1`, `h2`; checksumFromSums turns them into a
 * TableChecksum), building canonicalRow's text in SQL; undefined when a column has no
 * pgCanonicalExpression. `quote` quotes identifiers.
 */
export function renderPgChecksumQuery(table: string, columns: readonly PgChecksumColumn[], quote: (name: string) => string): string | undefined {
  if (columns.length === 0) return undefined;
  const exprs: string[] = [];
  for (const c of columns) {
    // No NUL can reach PostgreSQL text, so a stripNul column needs nothing more here.
    const e = pgCanonicalExpression(c.source.type, c.target.type, quote(c.target.name));
    if (e === undefined) return undefined;
    exprs.push(e);
  }
  const inner = exprs.map((e, i) => `${e} AS c${i}`).join(", ");
  const row = exprs.map((_, i) => `coalesce(c${i} || ':' || octet_length(c${i}) || ';', 'N')`).join(", ");
  // OFFSET 0 keeps the inner query from being flattened, so each canonical text is computed once.
  // COLLATE "C": hashtextextended hashes the bytes (a nondeterministic collation would hash a sort key).
  return [
    `SELECT count(*) AS n, sum(hashtextextended(r, ${HASH_SEEDS[0]}))::text AS h1, sum(hashtextextended(r, ${HASH_SEEDS[1]}))::text AS h2`,
    `FROM (SELECT concat(${row}) COLLATE "C" AS r FROM (SELECT ${inner} FROM ${quote(table)} OFFSET 0) AS s) AS q`,
  ].join("\n");
}

/** Texts whose hashes pgHashAgrees compares: ASCII, multi-byte UTF-8, and every tail length of lookup3's 12-byte blocks. */
export const PG_HASH_SAMPLES = ["", "a", "dbstack", "Zoë Ωμέγα 日本語 😀", "0123456789ab", "0123456789abcdefghijklmnopqrstuvw"];

/**
 * Whether a server's hashtextextended agrees with hashTextExtended on PG_HASH_SAMPLES (`server`
 * holds its results, as text, for seeds HASH_SEEDS[0] then [1], sample by sample).
 */
export function pgHashAgrees(server: readonly string[]): boolean {
  const mine = PG_HASH_SAMPLES.flatMap((t) => HASH_SEEDS.map((seed) => hashTextExtended(t, seed)));
  return mine.length === server.length && mine.every((h, i) => h === server[i]);
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
