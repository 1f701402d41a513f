import { describe, expect, it } from "vitest";
import {
  canonicalDecimal,
  canonicalInstant,
  canonicalRow,
  canonicalValue,
  canonicalWallClock,
  ChecksumAccumulator,
  checksumFromSums,
  compareChecksums,
  hashTextExtended,
  HASH_SEEDS,
  pgHashAgrees,
  PG_HASH_SAMPLES,
  renderPgChecksumQuery,
  type CanonicalColumn,
} from "../../components/copy/verify";
import { canonicalColumns, escapeCopy, LossyValueError, pgRowRenderer, renderCopyText, rowConverter, toTargetValue, utcTimestampBase } from "../../components/copy/transfer";
import type { Table, TypeClass } from "../../components/copy/schema";

const INT8: TypeClass = { kind: "integer", bytes: 8 };
const BOOL: TypeClass = { kind: "boolean" };
const DEC: TypeClass = { kind: "decimal", precision: 12, scale: 2 };
const TS: TypeClass = { kind: "timestamp", withTimeZone: false };
const TSTZ: TypeClass = { kind: "timestamp", withTimeZone: true };

describe("canonical form: the same stored value reads the same from every engine", () => {
  it("integers: bigint extremes stay exact whether a driver returns a string, a BigInt or a number", () => {
    expect(canonicalValue("9223372036854775807", INT8)).toBe("9223372036854775807");
    expect(canonicalValue(9223372036854775807n, INT8)).toBe("9223372036854775807");
    expect(canonicalValue(-9223372036854775808n, INT8)).toBe("-9223372036854775808");
    expect(canonicalValue(42, INT8)).toBe("42");
    expect(canonicalValue("42", INT8)).toBe(canonicalValue(42n, INT8));
  });

  it("booleans: PostgreSQL true, MariaDB 1, SQLite 1n and 'true' text agree; false likewise", () => {
    const trues = [true, 1, 1n, "t", "true", "1"].map((v) => canonicalValue(v, BOOL));
    const falses = [false, 0, 0n, "f", "false", "0"].map((v) => canonicalValue(v, BOOL));
    expect(new Set(trues)).toEqual(new Set(["1"]));
    expect(new Set(falses)).toEqual(new Set(["0"]));
  });

  it("decimals: scale padding, a REAL from SQLite and exponent notation give the same digits; no float rounding", () => {
    expect(canonicalDecimal("12.50")).toBe("12.5");
    expect(canonicalDecimal(12.5)).toBe("12.5");
    expect(canonicalDecimal("0012.500")).toBe("12.5");
    expect(canonicalDecimal("-0.00")).toBe("0");
    expect(canonicalDecimal("1e+21")).toBe("1000000000000000000000");
    expect(canonicalDecimal("1.5E-3")).toBe("0.0015");
    expect(canonicalDecimal("12345678901234567890.123456789")).toBe("12345678901234567890.123456789");
    expect(canonicalDecimal("-7")).toBe("-7");
    expect(() => canonicalDecimal("abc")).toThrow(/not a decimal/);
  });

  it("floats: the exact bits, whatever the spelling; a 4-byte float read back through a double matches its text", () => {
    const f4: TypeClass = { kind: "float", bytes: 4 };
    const f8: TypeClass = { kind: "float", bytes: 8 };
    expect(canonicalValue(Math.fround(1.1), f4)).toBe(canonicalValue("1.1", f4));
    // float8send(1.1::float8) in PostgreSQL: what the server computes for its side.
    expect(canonicalValue(1.1, f8)).toBe("3ff199999999999a");
    expect(canonicalValue("1.1e0", f8)).toBe(canonicalValue(1.1, f8));
    expect(canonicalValue(1.1, f8)).not.toBe(canonicalValue(1.1000000000000003, f8));
    expect(canonicalValue(-0, f8)).toBe("0");
    expect(canonicalValue("NaN", f8)).toBe("NaN");
  });

  it("text: unicode is kept; CHAR padding is not data; NUL is dropped only when that loss was allowed", () => {
    const text: TypeClass = { kind: "text" };
    expect(canonicalValue("Ünïcødé 😀", text)).toBe("Ünïcødé 😀");
    expect(canonicalValue("ab  ", { kind: "text", maxLength: 4, fixed: true })).toBe("ab");
    expect(canonicalValue("ab  ", text)).toBe("ab  ");
    expect(canonicalValue("a\u0000b", text)).toBe("a\u0000b");
    expect(canonicalValue("a\u0000b", text, true)).toBe("ab");
  });

  it("blobs: a Buffer and SQLite text in a BLOB column compare by bytes", () => {
    const bin: TypeClass = { kind: "binary" };
    expect(canonicalValue(Buffer.from([0, 255, 16]), bin)).toBe("00ff10");
    expect(canonicalValue("AB", bin)).toBe(canonicalValue(Buffer.from("AB"), bin));
  });

  it("timestamps with a time zone: the same instant in any offset or spelling is one UTC text", () => {
    const a = canonicalInstant("2024-03-31 01:30:00+00");
    expect(canonicalInstant("2024-03-31T03:30:00+02:00")).toBe(a);
    expect(canonicalInstant("2024-03-31 01:30:00.000000")).toBe(a); // MariaDB DATETIME/TIMESTAMP read in UTC
    expect(canonicalInstant("2024-03-30T20:30:00-0500")).toBe(a);
    expect(canonicalInstant("2024-03-31 01:30:00Z")).toBe(a);
    expect(a).toBe("2024-03-31 01:30:00Z");
    expect(canonicalInstant("2024-01-01 00:00:00.123450+01")).toBe("2023-12-31 23:00:00.12345Z");
    // Years below 100 are not read as 19xx.
    expect(canonicalInstant("0050-01-01 00:30:00+01")).toBe("0049-12-31 23:30:00Z");
  });

  it("timestamps without a time zone: a wall-clock time at a DST gap is kept as written, fractions normalised", () => {
    expect(canonicalValue("2024-03-31 02:30:00", TS)).toBe("2024-03-31 02:30:00");
    expect(canonicalValue("2024-03-31T02:30:00.500000", TS)).toBe("2024-03-31 02:30:00.5");
    expect(canonicalWallClock("2024-10-27 02:59:59.999999")).toBe("2024-10-27 02:59:59.999999");
  });

  it("dates, times, JSON and UUIDs", () => {
    expect(canonicalValue("2024-02-29", { kind: "date" })).toBe("2024-02-29");
    expect(canonicalValue("7:05:00.000", { kind: "time" })).toBe("07:05:00");
    expect(canonicalValue('{"b": 1, "a": [1, {"d": 2, "c": 3}]}', { kind: "json" })).toBe('{"a":[1,{"c":3,"d":2}],"b":1}');
    expect(canonicalValue({ b: 1, a: 2 }, { kind: "json" })).toBe('{"a":2,"b":1}'); // pg's parsed jsonb
    expect(canonicalValue("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", { kind: "uuid" })).toBe("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  });

  it("rows: NULL differs from an empty string and from the text 'NULL'; values cannot run into each other", () => {
    const cols: CanonicalColumn[] = [
      { name: "a", type: { kind: "text" } },
      { name: "b", type: { kind: "text" } },
    ];
    const forms = [[null, "x"], ["", "x"], ["NULL", "x"], ["ab", "c"], ["a", "bc"]].map((r) => canonicalRow(r, cols));
    expect(new Set(forms).size).toBe(forms.length);
  });
});

describe("checksums: order-independent, duplicate-sensitive, name the table that differs", () => {
  const cols: CanonicalColumn[] = [
    { name: "id", type: INT8 },
    { name: "price", type: DEC },
    { name: "at", type: TSTZ },
  ];
  const sum = (rows: unknown[][]) => {
    const acc = new ChecksumAccumulator("items", cols);
    rows.forEach((r) => acc.add(r));
    return acc.result();
  };

  it("the same rows in another order and in another engine's spelling give the same checksum", () => {
    const pg = sum([
      ["1", "12.50", "2024-03-31 01:30:00+00"],
      ["2", null, null],
    ]);
    const mariadb = sum([
      [2n, null, null],
      [1n, "12.5", "2024-03-31 01:30:00.000000"],
    ]);
    expect(mariadb).toEqual(pg);
    expect(pg.rows).toBe(2);
    expect(pg.checksum).toMatch(/^[0-9a-f]{32}$/);
  });

  it("a duplicated row, a changed value or a missing row changes it", () => {
    const base = sum([["1", "1", null]]);
    expect(sum([["1", "1", null], ["1", "1", null]]).checksum).not.toBe(base.checksum);
    expect(sum([["1", "1.01", null]]).checksum).not.toBe(base.checksum);
    expect(sum([]).checksum).not.toBe(base.checksum);
  });

  it("compareChecksums names each table that differs, including one missing on the target", () => {
    const a = { table: "a", rows: 1, checksum: "x" };
    const b = { table: "b", rows: 2, checksum: "y" };
    const diff = compareChecksums([a, b], [a, { ...b, checksum: "z" }]);
    expect(diff.map((d) => d.table)).toEqual(["b"]);
    expect(compareChecksums([a], []).map((d) => d.target.checksum)).toEqual(["(missing)"]);
  });
});

describe("PostgreSQL's infinity and BC dates are never read as ordinary dates", () => {
  const DATE: TypeClass = { kind: "date" };

  it("a BC date keeps its era (as PostgreSQL spells it), infinity stays infinity", () => {
    expect(canonicalValue("0044-03-15 BC", DATE)).toBe("0044-03-15 BC");
    expect(canonicalValue("0044-03-15 BC", DATE)).not.toBe(canonicalValue("0044-03-15", DATE));
    expect(canonicalValue("0044-03-15 12:00:00 BC", TS)).toBe("0044-03-15 12:00:00 BC");
    // An instant across New Year of 1 BC: 00:30 at +01 is 23:30 UTC on the last day of 2 BC.
    expect(canonicalValue("0001-01-01 00:30:00+01 BC", TSTZ)).toBe("0002-12-31 23:30:00 BCZ");
    expect(canonicalValue("infinity", DATE)).toBe("infinity");
    expect(canonicalValue("-infinity", TSTZ)).toBe("-infinity");
  });

  it("into PostgreSQL they are written as PostgreSQL reads them", () => {
    expect(toTargetValue("0044-03-15 BC", DATE, "postgres")).toBe("0044-03-15 BC");
    expect(toTargetValue("0044-03-15 12:00:00+00 BC", TSTZ, "postgres")).toBe("0044-03-15 12:00:00+00 BC");
    expect(toTargetValue("0044-03-15 12:00:00 BC", TS, "postgres")).toBe("0044-03-15 12:00:00 BC");
    expect(toTargetValue("infinity", TSTZ, "postgres")).toBe("infinity");
  });

  it("into SQLite or MariaDB they are refused by id; allowed, infinity is clamped and BC becomes NULL, and both sides compare so", () => {
    const c = (name: string, type: TypeClass) => ({ name, type, sourceType: "", nullable: true, autoIncrement: false });
    const t: Table = { name: "spans", columns: [c("d", DATE), c("tz", TSTZ)], primaryKey: [], indexes: [], foreignKeys: [] };
    const pair = { source: t, target: t };
    expect(() => rowConverter(pair, "sqlite")(["infinity", null])).toThrow(/--allow spans\.d:infinity->sqlite/);
    expect(() => rowConverter(pair, "mariadb")([null, "0044-03-15 12:00:00+00 BC"])).toThrow(/--allow spans\.tz:bc->mariadb/);
    const allow = ["spans.d:infinity->sqlite", "spans.tz:bc->sqlite", "spans.tz:infinity->sqlite"];
    const convert = rowConverter(pair, "sqlite", allow);
    expect(convert(["infinity", "0044-03-15 12:00:00+00 BC"])).toEqual(["9999-12-31", null]);
    expect(convert(["-infinity", "infinity"])).toEqual(["0001-01-01", "9999-12-31 23:59:59.999999+00:00"]);
    // The source's checksum (with the allowed conversions) equals the checksum of what the target then holds.
    const cols = canonicalColumns(pair, "sqlite", allow);
    const source = new ChecksumAccumulator("spans", cols);
    const target = new ChecksumAccumulator("spans", cols);
    for (const row of [["infinity", "0044-03-15 12:00:00+00 BC"], ["-infinity", "infinity"]]) {
      source.add(row);
      target.add(convert(row));
    }
    expect(target.result()).toEqual(source.result());
  });
});

describe("the row hash is PostgreSQL's hashtextextended, so the server can checksum its own side", () => {
  // Printed by PostgreSQL 15: SELECT hashtextextended(t COLLATE "C", seed).
  const server: [string, number, string][] = [
    ["", 0, "-6939563903564495251"],
    ["", 388817, "-5903594821834219432"],
    ["a", 388818, "-7146219665848760771"],
    ["dbstack", 0, "8301548909608959653"],
    ["Zoë Ωμέγα 日本語 😀", 388817, "2461100853492851875"],
    ["0123456789ab", 388818, "645657352259499002"],
    ["0123456789abcdefghijklmnopqrstuvw", 0, "-3787419154109005392"],
  ];

  it("hashTextExtended gives the server's values (empty, short, multi-byte, whole and partial 12-byte blocks)", () => {
    for (const [text, seed, expected] of server) expect(hashTextExtended(text, seed)).toBe(expected);
    expect(HASH_SEEDS).toEqual([388817, 388818]);
  });

  it("pgHashAgrees accepts a server that hashes as we do and refuses one that does not", () => {
    const mine = PG_HASH_SAMPLES.flatMap((t) => HASH_SEEDS.map((seed) => hashTextExtended(t, seed)));
    expect(pgHashAgrees(mine)).toBe(true);
    expect(pgHashAgrees(mine.map((h, i) => (i === 3 ? "1" : h)))).toBe(false);
    expect(pgHashAgrees(mine.slice(1))).toBe(false);
  });

  it("the server's lane sums (signed, any size) give the accumulator's checksum", () => {
    const cols: CanonicalColumn[] = [
      { name: "id", type: INT8 },
      { name: "name", type: { kind: "text" } },
    ];
    const rows = [["1", "Zoë"], ["2", null], ["3", "日本語"], ["3", "日本語"]];
    const acc = new ChecksumAccumulator("t", cols);
    rows.forEach((r) => acc.add(r));
    const lane = (seed: number) => rows.reduce((sum, r) => sum + BigInt(hashTextExtended(canonicalRow(r, cols), seed)), 0n).toString();
    expect(checksumFromSums("t", rows.length, lane(HASH_SEEDS[0]), lane(HASH_SEEDS[1]))).toEqual(acc.result());
    expect(checksumFromSums("t", 0, null, null)).toEqual(new ChecksumAccumulator("t", cols).result());
  });

  it("renderPgChecksumQuery builds every column's canonical text in SQL, or gives up (JSON) so the rows are read back", () => {
    const col = (name: string, type: TypeClass) => ({ source: { name, type }, target: { name, type } });
    const q = (n: string) => `"${n}"`;
    const sql = renderPgChecksumQuery("t", [col("b", BOOL), col("p", DEC), col("at", TSTZ), col("f", { kind: "float", bytes: 8 }), col("c", { kind: "text", maxLength: 3, fixed: true })], q)!;
    expect(sql).toContain(`CASE WHEN "b" THEN '1' WHEN NOT "b" THEN '0' END`);
    expect(sql).toContain(`trim_scale("p")::text`);
    expect(canonicalValue("NaN", DEC)).toBe("NaN"); // as trim_scale(x)::text prints it
    expect(canonicalValue("-infinity", DEC)).toBe("-Infinity");
    expect(sql).toContain(`("at" AT TIME ZONE 'UTC')::text || 'Z'`);
    expect(sql).toContain(`encode(float8send("f"::float8), 'hex')`);
    expect(sql).toContain(`rtrim("c"::text, ' ')`);
    expect(sql).toContain(`hashtextextended(r, 388817)`);
    expect(renderPgChecksumQuery("t", [col("id", INT8), col("doc", { kind: "json" })], q)).toBeUndefined();
  });
});

describe("values written to the target", () => {
  it("timestamps already in UTC (or without a zone) skip parsing, with the same result", () => {
    expect(utcTimestampBase("2020-01-01 00:01:01.000")).toBe("2020-01-01 00:01:01");
    expect(utcTimestampBase("2020-01-01 00:01:01.120+00:00")).toBe("2020-01-01 00:01:01.12");
    expect(utcTimestampBase("2020-01-01 00:01:01Z")).toBe("2020-01-01 00:01:01");
    expect(utcTimestampBase("2020-01-01 00:01:01+01:00")).toBeUndefined();
    expect(utcTimestampBase("2020-01-01T00:01:01")).toBeUndefined();
    expect(utcTimestampBase("2020-01-01 00:01")).toBeUndefined();
    expect(utcTimestampBase("0044-03-15 12:00:00 BC")).toBeUndefined();
  });

  it("into PostgreSQL, the one-pass renderer writes what rowConverter + renderCopyText write and hashes what canonicalRow hashes", () => {
    const c = (name: string, type: TypeClass) => ({ name, type, sourceType: "", nullable: true, autoIncrement: false });
    const source: Table = {
      name: "mixed",
      columns: [
        c("id", INT8),
        c("ok", BOOL),
        c("price", DEC),
        c("f", { kind: "float", bytes: 8 }),
        c("name", { kind: "text" }),
        c("code", { kind: "text", maxLength: 4, fixed: true }),
        c("blob", { kind: "binary" }),
        c("day", { kind: "date" }),
        c("at", TSTZ),
        c("wall", TS),
        c("doc", { kind: "json" }),
        c("u", { kind: "uuid" }),
        c("big", { kind: "integer", bytes: 8, unsigned: true }),
      ],
      primaryKey: [],
      indexes: [],
      foreignKeys: [],
    };
    // The unsigned BIGINT becomes numeric(20,0) in PostgreSQL: a pair whose classes differ.
    const target: Table = { ...source, columns: source.columns.map((col) => (col.name === "big" ? { ...col, type: { kind: "decimal", precision: 20, scale: 0 } } : col)) };
    const pair = { source, target };
    const rows: unknown[][] = [
      [1n, 1n, -299.63000000000005, 0.1, "tab\there\nZoë \\ 😀", "ab  ", Buffer.from([0, 255]), "2024-02-29", "2024-03-31T03:30:00.250+02:00", "2024-03-31 02:30:00", '{"b":1,"a":2}', "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "18446744073709551615"],
      [null, null, null, null, null, null, null, null, null, null, null, null, null],
      [9223372036854775807n, "false", "12.50", -0, "", "x", "text in a blob", "1999-12-31", "2024-01-01 00:00:00Z", "2024-10-27 02:59:59.999999+01:00", "[]", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 0n],
      [2n, 0n, 7, 1e300, "x", null, null, "2020-01-01", "2020-01-01 00:01:01.000", "2020-01-01 00:01:01.120+00:00", null, null, null],
      [3n, 1n, "-0.5", NaN, "y", null, null, "2020-01-01", "2020-01-01 00:01:01.5+0000", "2020-01-01 00:01:01Z", null, null, null],
    ];
    const cols = source.columns.map((col) => ({ name: col.name, type: col.type }));
    const fused = new ChecksumAccumulator("mixed", cols);
    const render = pgRowRenderer(pair);
    const lines = rows.map((r) => `${render(r, fused)}\n`).join("");
    const plain = new ChecksumAccumulator("mixed", cols);
    rows.forEach((r) => plain.add(r));
    expect(lines).toBe(renderCopyText(rows.map(rowConverter(pair, "postgres"))));
    expect(fused.result()).toEqual(plain.result());
    expect(() => render(["1", null, null, null, "a\u0000b", null, null, null, null, null, null, null, null], fused)).toThrow(/--allow mixed\.name:nul->postgres/);
  });

  it("PostgreSQL COPY text escapes backslash, tab, newline and carriage return, and writes NULL as \\N", () => {
    expect(escapeCopy("a\\b\tc\nd\re")).toBe("a\\\\b\\tc\\nd\\re");
    expect(renderCopyText([["1", null, "x\ty"], ["2", "", "\\N"]])).toBe("1\t\\N\tx\\ty\n2\t\t\\\\N\n");
  });

  it("integers never go through a JS number; decimals stay strings; booleans take the target's form", () => {
    expect(toTargetValue("9223372036854775807", INT8, "sqlite")).toBe(9223372036854775807n);
    expect(toTargetValue(9223372036854775807n, INT8, "postgres")).toBe("9223372036854775807");
    expect(toTargetValue(12.5, DEC, "mariadb")).toBe("12.5");
    expect(toTargetValue(1n, BOOL, "postgres")).toBe("t");
    expect(toTargetValue(true, BOOL, "mariadb")).toBe(1);
    expect(toTargetValue(Buffer.from([1, 2]), { kind: "binary" }, "postgres")).toBe("\\x0102");
  });

  it("instants are written in UTC in each target's spelling; wall-clock times as written", () => {
    expect(toTargetValue("2024-03-31T03:30:00.25+02:00", TSTZ, "postgres")).toBe("2024-03-31 01:30:00.25+00");
    expect(toTargetValue("2024-03-31 01:30:00+00", TSTZ, "mariadb")).toBe("2024-03-31 01:30:00");
    expect(toTargetValue("2024-03-31 01:30:00+00", TSTZ, "sqlite")).toBe("2024-03-31 01:30:00+00:00");
    expect(toTargetValue("2024-03-31 02:30:00", TS, "postgres")).toBe("2024-03-31 02:30:00");
  });

  it("text with NUL bound for PostgreSQL is refused, naming the id that allows it; allowed, the NUL is dropped", () => {
    const table: Table = {
      name: "notes",
      columns: [{ name: "body", type: { kind: "text" }, sourceType: "TEXT", nullable: true, autoIncrement: false }],
      primaryKey: [],
      indexes: [],
      foreignKeys: [],
    };
    const pair = { source: table, target: table };
    expect(() => rowConverter(pair, "postgres")(["a\u0000b"])).toThrow(LossyValueError);
    expect(() => rowConverter(pair, "postgres")(["a\u0000b"])).toThrow(/--allow notes\.body:nul->postgres/);
    expect(rowConverter(pair, "postgres", ["notes.body:nul->postgres"])(["a\u0000b"])).toEqual(["ab"]);
    expect(rowConverter(pair, "mariadb")(["a\u0000b"])).toEqual(["a\u0000b"]);
  });
});

describe("NaN and ±Infinity into engines that cannot hold them", () => {
  const c = (name: string, type: TypeClass) => ({ name, type, sourceType: "", nullable: true, autoIncrement: false });
  const FLOAT: TypeClass = { kind: "float", bytes: 8 };
  const NUMERIC: TypeClass = { kind: "decimal" } as TypeClass;
  const t: Table = { name: "m", columns: [c("f", FLOAT), c("n", NUMERIC)], primaryKey: [], indexes: [], foreignKeys: [] };
  const pair = { source: t, target: t };

  it.each([
    ["mariadb", ["NaN", null], /--allow m\.f:nonfinite->mariadb/],
    ["mariadb", ["Infinity", null], /--allow m\.f:nonfinite->mariadb/],
    ["mariadb", [Number.NEGATIVE_INFINITY, null], /--allow m\.f:nonfinite->mariadb/],
    ["mariadb", [null, "NaN"], /--allow m\.n:nonfinite->mariadb/],
    ["mariadb", [null, "-Infinity"], /--allow m\.n:nonfinite->mariadb/],
    ["sqlite", [Number.NaN, null], /--allow m\.f:nonfinite->sqlite/],
  ])("into %s, %j is refused by id before any writer sees it", (target, row, message) => {
    expect(() => rowConverter(pair, target as "mariadb" | "sqlite")(row)).toThrow(message);
  });

  it("allowed, they are written as NULL, and both sides compare so", () => {
    const allow = ["m.f:nonfinite->mariadb", "m.n:nonfinite->mariadb"];
    const convert = rowConverter(pair, "mariadb", allow);
    expect(convert(["NaN", "Infinity"])).toEqual([null, null]);
    expect(convert([1.5, "2.50"])).toEqual([1.5, "2.5"]);
    const cols = canonicalColumns(pair, "mariadb", allow);
    const source = new ChecksumAccumulator("m", cols);
    const target = new ChecksumAccumulator("m", cols);
    for (const row of [["NaN", "Infinity"], [1.5, "2.50"]]) {
      source.add(row);
      target.add(convert(row));
    }
    expect(target.result()).toEqual(source.result());
  });

  it("into PostgreSQL, and ±Infinity into SQLite, they are kept", () => {
    expect(rowConverter(pair, "postgres")(["NaN", "Infinity"])).toEqual(["NaN", "Infinity"]);
    expect(rowConverter(pair, "sqlite")([Number.POSITIVE_INFINITY, null])).toEqual([Number.POSITIVE_INFINITY, null]);
  });
});
