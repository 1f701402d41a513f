/** The server pre-scan's checks (prescan/serverScan.ts): which classes a pair of column types gets, in the source's SQL, names quoted. */
import { describe, expect, it } from "vitest";
import { readAllowedAsNull, serverChecks } from "../../components/copy/prescan/serverScan";
import type { Column, Table, TypeClass } from "../../components/copy/schema";
import type { TablePair } from "../../components/copy/transfer";

const col = (name: string, type: TypeClass): Column => ({ name, type, sourceType: "x", nullable: true, autoIncrement: false });
const table = (columns: Column[]): Table => ({ name: "t", columns, primaryKey: ["id"], foreignKeys: [], indexes: [] }) as unknown as Table;
const pair = (s: TypeClass, t: TypeClass, name = "c"): TablePair => ({ source: table([col(name, s)]), target: table([col(name, t)]) });

describe("server pre-scan checks", () => {
  it("text into a shorter column: too-long by characters, in each source's SQL", () => {
    expect(serverChecks("postgres", "mariadb", pair({ kind: "text" }, { kind: "text", maxLength: 768 }))).toEqual([{ column: "c", cls: "too-long", condition: 'char_length("c") > 768' }]);
    expect(serverChecks("mariadb", "postgres", pair({ kind: "text", maxLength: 50 }, { kind: "text", maxLength: 10 }))).toEqual([{ column: "c", cls: "too-long", condition: "CHAR_LENGTH(`c`) > 10" }]);
    expect(serverChecks("mariadb", "postgres", pair({ kind: "text", maxLength: 10 }, { kind: "text", maxLength: 10 }))).toEqual([]);
  });

  it("integers: only the bounds the target lacks", () => {
    expect(serverChecks("mariadb", "postgres", pair({ kind: "integer", bytes: 8, unsigned: true }, { kind: "integer", bytes: 8 }))).toEqual([{ column: "c", cls: "out-of-range", condition: "(`c` > 9223372036854775807)" }]);
    expect(serverChecks("postgres", "mariadb", pair({ kind: "integer", bytes: 8 }, { kind: "integer", bytes: 4 }))[0].condition).toBe('("c" < -2147483648 OR "c" > 2147483647)');
    expect(serverChecks("postgres", "mariadb", pair({ kind: "integer", bytes: 4 }, { kind: "integer", bytes: 8 }))).toEqual([]);
  });

  it("dates: zero dates out of MariaDB into engines without them; MariaDB's ranges for PostgreSQL's moments (infinity and BC left to their own ids)", () => {
    expect(serverChecks("mariadb", "postgres", pair({ kind: "date" }, { kind: "date" })).map((c) => c.cls)).toEqual(["zero-date"]);
    expect(serverChecks("mariadb", "mariadb", pair({ kind: "date" }, { kind: "date" }))).toEqual([]);
    const [range] = serverChecks("postgres", "mariadb", pair({ kind: "timestamp", withTimeZone: true }, { kind: "timestamp", withTimeZone: false, fractionalDigits: 6 }));
    expect(range.cls).toBe("date-out-of-range");
    expect(range.condition).toBe(`(isfinite("c") AND "c" >= TIMESTAMPTZ '0001-01-01 00:00:00+00' AND ("c" > TIMESTAMPTZ '9999-12-31 23:59:59.999999+00'))`);
    // MariaDB's TIMESTAMP: 1970-2038 UTC, a zero TIMESTAMP kept (MariaDB holds it).
    const [ts] = serverChecks("mariadb", "mariadb", pair({ kind: "timestamp", withTimeZone: false }, { kind: "timestamp", withTimeZone: true }));
    expect(ts.condition).toBe("(NOT (YEAR(`c`) = 0 OR MONTH(`c`) = 0 OR DAYOFMONTH(`c`) = 0) AND (`c` < '1970-01-01 00:00:01' OR `c` > '2038-01-19 03:14:07.999999'))");
  });

  it("nothing for SQLite sources (classified value by value) or same-class pairs", () => {
    expect(serverChecks("sqlite", "postgres", pair({ kind: "text" }, { kind: "text", maxLength: 1 }))).toEqual([]);
    expect(serverChecks("postgres", "postgres", pair({ kind: "float", bytes: 8 }, { kind: "float", bytes: 8 }))).toEqual([]);
  });

  it("quotes a hostile column name in every condition and in the read of an allowed class", () => {
    const name = 'x"; DROP TABLE t; --`';
    const [pg] = serverChecks("postgres", "mariadb", pair({ kind: "text" }, { kind: "text", maxLength: 5 }, name));
    expect(pg.condition).toBe('char_length("x""; DROP TABLE t; --`") > 5');
    const [my] = serverChecks("mariadb", "postgres", pair({ kind: "text" }, { kind: "text", maxLength: 5 }, name));
    expect(my.condition).toBe('CHAR_LENGTH(`x"; DROP TABLE t; --```) > 5');
    const [read] = readAllowedAsNull("mariadb", "postgres", [pair({ kind: "text" }, { kind: "text", maxLength: 5 }, name)], [`t.${name}:too-long`]);
    expect(read.source.columns[0].readAs).toBe('CASE WHEN CHAR_LENGTH(`x"; DROP TABLE t; --```) > 5 THEN NULL ELSE `x"; DROP TABLE t; --``` END');
    // Not allowed: read as it is.
    expect(readAllowedAsNull("mariadb", "postgres", [pair({ kind: "text" }, { kind: "text", maxLength: 5 }, name)], ["t.other:too-long"])[0].source.columns[0].readAs).toBeUndefined();
  });
});
