import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { candidateCondition, nonAsciiCondition } from "../../components/copy/prescan/filters";
import { declaredConversion } from "../../components/copy/prescan/declared";
import { toConversion } from "../../components/copy/prescan/scan";
import { classifyValue, isValidUtf8 } from "../../components/copy/prescan/valueClasses";
import type { Column, Table, TypeClass } from "../../components/copy/schema";

const INT8: TypeClass = { kind: "integer", bytes: 8 };
const TS: TypeClass = { kind: "timestamp", withTimeZone: false };

describe("value classes: every value a copy would change is named", () => {
  it("numbers: text, reals in integers, ranges and 2^53", () => {
    expect(classifyValue(5n, INT8)).toBeUndefined();
    expect(classifyValue(4, INT8)).toBeUndefined();
    expect(classifyValue(2.5, INT8)).toBe("real-in-integer");
    expect(classifyValue("12a", INT8)).toBe("text-in-number");
    expect(classifyValue(Buffer.from("x"), INT8)).toBe("blob-in-number");
    expect(classifyValue(40000n, { kind: "integer", bytes: 2 })).toBe("out-of-range");
    expect(classifyValue(-1n, { kind: "integer", bytes: 4, unsigned: true })).toBe("out-of-range");
    for (const s of ["abc", "1,5", ""]) expect(classifyValue(s, { kind: "float", bytes: 8 })).toBe("text-in-number");
    expect(classifyValue(1.5, { kind: "float", bytes: 8 })).toBeUndefined();
    expect(classifyValue(2n ** 60n, { kind: "float", bytes: 8 })).toBe("inexact-integer");
    expect(classifyValue("abc", { kind: "decimal", precision: 10, scale: 2 })).toBe("text-in-number");
  });

  it("booleans other than 0 and 1", () => {
    for (const v of [0n, 1n]) expect(classifyValue(v, { kind: "boolean" })).toBeUndefined();
    for (const v of [2n, -1n, 0.5, "", "maybe"]) expect(classifyValue(v, { kind: "boolean" })).toBe("not-boolean");
  });

  it("dates, times and timestamps that do not parse, carry a time, an offset or nanoseconds; Julian days and epochs", () => {
    const DATE: TypeClass = { kind: "date" };
    expect(classifyValue("2024-02-29", DATE)).toBeUndefined();
    expect(classifyValue("2023-02-29", DATE)).toBe("not-a-date");
    expect(classifyValue("2024-01-31junk", DATE)).toBe("not-a-date");
    expect(classifyValue("31/01/2024", DATE)).toBe("not-a-date");
    expect(classifyValue("2024-01-31 12:34:56", DATE)).toBe("date-with-time");
    expect(classifyValue(2460341.5, DATE)).toBe("julian-day");
    expect(classifyValue(1706700000n, DATE)).toBe("epoch-integer");
    expect(classifyValue("2024-01-31 12:34:56.123456", TS)).toBeUndefined();
    expect(classifyValue("2024-01-31T12:34:56", TS)).toBeUndefined();
    expect(classifyValue("2024-01-31", TS)).toBeUndefined();
    expect(classifyValue("2024-01-31 12:34:56+02:00", TS)).toBe("offset");
    expect(classifyValue("2024-01-31 12:34:56Z", TS)).toBe("offset");
    expect(classifyValue("2024-01-31 12:34:56+02:00", { kind: "timestamp", withTimeZone: true })).toBeUndefined(); // an instant: exact
    expect(classifyValue("2024-01-31 12:34:56.123456789", TS)).toBe("nanoseconds");
    expect(classifyValue("yesterday", TS)).toBe("not-a-timestamp");
    const DATETIME0: TypeClass = { kind: "timestamp", withTimeZone: false, fractionalDigits: 0 };
    expect(classifyValue("2024-01-31 12:34:56.120", DATETIME0)).toBe("fraction-digits");
    expect(classifyValue("2024-01-31 12:34:56.000", DATETIME0)).toBeUndefined();
    expect(classifyValue("2024-01-31 12:34:56.12", { ...DATETIME0, fractionalDigits: 2 })).toBeUndefined();
    expect(classifyValue("2024-01-31 25:00:00", TS)).toBe("not-a-timestamp");
    expect(classifyValue(2460341.25, TS)).toBe("julian-day");
    expect(classifyValue(1706700000000n, TS)).toBe("epoch-integer");
    expect(classifyValue("12:30:00", { kind: "time" })).toBeUndefined();
    expect(classifyValue("12h30", { kind: "time" })).toBe("not-a-time");
  });

  it("text: numbers, blobs, lengths counted in characters; JSON, UUID, blobs holding text; UTF-8", () => {
    const V3: TypeClass = { kind: "text", maxLength: 3 };
    expect(classifyValue("abc", V3)).toBeUndefined();
    expect(classifyValue("😀😀😀", V3)).toBeUndefined(); // 6 UTF-16 units, 3 characters
    expect(classifyValue("abcd", V3)).toBe("too-long");
    expect(classifyValue(1.0, V3)).toBe("number-in-text");
    expect(classifyValue(Buffer.from("a"), V3)).toBe("blob-in-text");
    expect(classifyValue("{", { kind: "json" })).toBe("not-json");
    expect(classifyValue("not-a-uuid", { kind: "uuid" })).toBe("not-a-uuid");
    expect(classifyValue("text", { kind: "binary" })).toBe("text-in-blob");
    expect(isValidUtf8(Buffer.from([0x61, 0xff]))).toBe(false);
    expect(isValidUtf8(Buffer.from("é", "utf8"))).toBe(true);
  });

  it("reports a class by id with its count, sample keys and what allowing it does", () => {
    const c = toConversion({ table: "m", column: "price", cls: "text-in-number", count: 2, samples: ["id=3", "id=9"] });
    expect(c.id).toBe("m.price:text-in-number");
    expect(c.message).toBe("2 values: text that is not a number in a number column, e.g. id=3; id=9; allowed, each is written as NULL");
    expect(c.lossy).toBe(true);
  });
});

describe("declared conversion: an allowed class does exactly what was reported", () => {
  const col = (name: string, type: TypeClass): Column => ({ name, type, sourceType: "", nullable: true, autoIncrement: false });
  const t: Table = { name: "m", columns: [col("id", INT8), col("price", { kind: "float", bytes: 8 }), col("ok", { kind: "boolean" })], primaryKey: ["id"], indexes: [], foreignKeys: [] };
  const pair = { source: t, target: t };

  it("nulls only the allowed class of the allowed column, from SQLite only", () => {
    const declare = declaredConversion(pair, ["m.price:text-in-number"], "sqlite")!;
    expect(declare([1n, "abc", 2n])).toEqual([1n, null, 2n]);
    expect(declare([1n, 1.5, 1n])).toEqual([1n, 1.5, 1n]);
    expect(declaredConversion(pair, [], "sqlite")).toBeUndefined();
    const at: Column = col("at", { kind: "timestamp", withTimeZone: false, fractionalDigits: 0 });
    const times = { source: { ...t, columns: [col("at", { kind: "timestamp", withTimeZone: false })] }, target: { ...t, columns: [at] } };
    expect(declaredConversion(times, ["m.at:fraction-digits"], "sqlite")!(["2024-01-31 12:34:56.123456"])).toEqual(["2024-01-31 12:34:56"]);
    const nano = declaredConversion({ source: times.source, target: times.source }, ["m.at:nanoseconds"], "sqlite")!;
    expect(nano(["2024-01-31 12:34:56.123456789"])).toEqual(["2024-01-31 12:34:56.123456"]);
    expect(declaredConversion(pair, ["m.price:text-in-number"], "postgres")).toBeUndefined();
  });
});

describe("the pre-scan's SQL filter never leaves out a value a class would name", () => {
  const VALUES = [
    null, 0n, 1n, 2n, -1n, 40000n, -40000n, 2n ** 60n, -(2n ** 60n), 9223372036854775807n, 0.5, 1.0, 2460341.5, 1e300, "", "abc", "1,5", "12",
    "2024-01-31", "2024-02-30", "0000-01-01", "2024-01-31junk", "2024-01-31 12:34:56", "2024-01-31 12:34:56.5", "2024-01-31 12:34:56.123456",
    "2024-01-31 12:34:56.1234567", "2024-01-31 24:00:00", "2024-01-31T12:34:56", "2024-01-31 12:34:56+02:00", "2024-13-01 00:00:00", "12:30:00",
    "2024-01-31 12:34:56Z", "2024-01-31 12:34:56.000+00:00", "2024-01-31 12:34:56.1234567+00:00", "2024-01-31 12:34:56+2", "2024-01-31 12:34:56 junk",
    "{}", "{", "a".repeat(11), "😀".repeat(10), Buffer.from("hi"), Buffer.alloc(0),
  ];
  const TYPES: TypeClass[] = [
    INT8, { kind: "integer", bytes: 2 }, { kind: "integer", bytes: 4, unsigned: true }, { kind: "integer", bytes: 8, unsigned: true },
    { kind: "float", bytes: 8 }, { kind: "decimal", precision: 10, scale: 2 }, { kind: "boolean" }, { kind: "date" }, { kind: "time" },
    TS, { kind: "timestamp", withTimeZone: true }, { kind: "timestamp", withTimeZone: false, fractionalDigits: 0 }, { kind: "text" }, { kind: "text", maxLength: 10 },
    { kind: "binary" }, { kind: "json" }, { kind: "uuid" },
  ];

  it("on every kind of value SQLite can hold, for every class of target column", () => {
    const db = new Database(":memory:");
    db.exec("CREATE TABLE v (x)"); // no affinity: each value keeps its storage class
    const insert = db.prepare("INSERT INTO v VALUES (?)");
    db.defaultSafeIntegers(true);
    for (const value of VALUES) insert.run(value);
    for (const t of TYPES) {
      const rows = db.prepare(`SELECT x, ${candidateCondition('"x"', t)} AS hit FROM v`).all() as { x: unknown; hit: unknown }[];
      for (const r of rows) {
        if (classifyValue(r.x, t) !== undefined) expect(Number(r.hit), `${JSON.stringify(t)} ${String(r.x)}`).toBe(1);
      }
      // And it filters: clean values mostly stay in SQLite.
      expect(rows.some((r) => Number(r.hit) === 0), JSON.stringify(t)).toBe(t.kind === "time" || t.kind === "json" || t.kind === "uuid" ? rows.some((r) => r.x === null) : true);
    }
    db.close();
  });

  it("text that may be invalid UTF-8 (any byte outside ASCII) is never left out of the UTF-8 check", () => {
    const db = new Database(":memory:");
    const rows = db
      .prepare(`SELECT hex(CAST(x AS BLOB)) AS h, ${nonAsciiCondition('"x"')} AS hit FROM (SELECT CAST(X'61FF62' AS TEXT) AS x UNION ALL SELECT CAST(X'80' AS TEXT) UNION ALL SELECT CAST(X'61C3' AS TEXT) UNION ALL SELECT CAST(X'EDA080' AS TEXT) UNION ALL SELECT CAST(X'C0AF' AS TEXT) UNION ALL SELECT 'plain' UNION ALL SELECT 'café')`)
      .all() as { h: string; hit: number }[];
    for (const r of rows) expect(r.hit, r.h).toBe(isValidUtf8(Buffer.from(r.h, "hex")) && /^([0-7][0-9A-F])*$/.test(r.h) ? 0 : 1);
    db.close();
  });
});
