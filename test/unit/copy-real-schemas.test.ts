import { describe, expect, it } from "vitest";
import { columnType, renderCreateTables } from "../../components/copy/ddl";
import { dialectFor } from "../../components/copy/dialects";
import { translateExpression } from "../../components/copy/expressions";
import { generatedExpression } from "../../components/copy/introspect/sqlite";
import type { Column, Table, TypeClass } from "../../components/copy/schema";
import { translate } from "../../components/copy/translate";

// Issue 19, deliverable 2: schemas as real applications have them.

const col = (name: string, type: TypeClass): Column => ({ name, type, sourceType: "", nullable: false, autoIncrement: false });
const v = (n: number): TypeClass => ({ kind: "text", maxLength: n });
const table = (columns: Column[], primaryKey: string[]): Table => ({ name: "t", columns, primaryKey, indexes: [], foreignKeys: [] });

describe("MariaDB key lengths from the real limit (3072 bytes, utf8mb4 4 bytes a character)", () => {
  it("varchar(256) keys stay varchar(256) whenever the key's real width fits", () => {
    for (const t of [
      table([col("a", v(256))], ["a"]),
      table([col("id", { kind: "integer", bytes: 4 }), col("a", v(256)), col("b", v(256))], ["id", "a", "b"]),
      table([col("a", v(256)), col("b", v(256)), col("c", v(256))], ["a", "b", "c"]),
    ]) {
      const tr = translate({ engine: "sqlite", tables: [t] }, "mariadb");
      expect(tr.conversions.filter((c) => c.lossy)).toEqual([]);
      expect(tr.tables[0].columns.filter((c) => c.type.kind === "text").map((c) => columnType("mariadb", c))).toEqual(t.columns.filter((c) => c.type.kind === "text").map(() => "VARCHAR(256)"));
    }
  });

  it("a key wider than 3072 bytes is cut to its share, counting the other columns at their real width (lossy, by id)", () => {
    const t = table([col("id", { kind: "integer", bytes: 8 }), col("a", v(256)), col("b", v(256)), col("c", v(256))], ["id", "a", "b", "c"]);
    const tr = translate({ engine: "sqlite", tables: [t] }, "mariadb");
    // (3072 - 8) / 4 / 3 = 255.3: 255 characters each.
    expect(tr.conversions.filter((c) => c.lossy).map((c) => c.id)).toEqual(["t.a:text(256)->text(255)", "t.b:text(256)->text(255)", "t.c:text(256)->text(255)"]);
  });
});

describe("check constraints and generated columns carried over", () => {
  it("reads a generated column's expression from SQLite's CREATE TABLE, whatever its type's parentheses", () => {
    const sql = `CREATE TABLE ticket (\n\tid INTEGER NOT NULL, \n\ttitle VARCHAR(256) NOT NULL, \n\testimate NUMERIC(8, 2),\n\ttitle_key VARCHAR(256) GENERATED ALWAYS AS (lower(title)) STORED, \n\t"x y" INT AS (id * (2 + 1)),\n\tCONSTRAINT ck CHECK (id > 0))`;
    expect(generatedExpression(sql, "title_key")).toBe("lower(title)");
    expect(generatedExpression(sql, "x y")).toBe("id * (2 + 1)");
    expect(generatedExpression(sql, "title")).toBeUndefined();
  });

  it("re-spells an expression that means the same on the target, refuses one that may not", () => {
    const cols = ["priority", "text", "Title"];
    expect(translateExpression("CHECK (priority BETWEEN 1 AND 5)", cols, dialectFor("postgres"))).toBe('("priority" BETWEEN 1 AND 5)');
    expect(translateExpression("CHECK (length(text) > 0)", cols, dialectFor("mariadb"))).toBe("(CHAR_LENGTH(`text`) > 0)");
    expect(translateExpression("lower(title)", cols, dialectFor("postgres"))).toBe('lower("Title")');
    expect(translateExpression("priority IN (1, 2) AND text IS NOT NULL", cols, dialectFor("sqlite"))).toBe('"priority" IN(1, 2) AND "text" IS NOT NULL');
    expect(translateExpression("text = 'it''s'", cols, dialectFor("postgres"))).toBe(`"text" = 'it''s'`);
    for (const refused of ["priority / 2 > 1", "text || 'x' <> ''", "text LIKE 'a%'", "other > 1", "priority::int > 1", "(SELECT 1) = 1", "random() > 0"]) {
      expect(translateExpression(refused, cols, dialectFor("postgres")), refused).toBeUndefined();
    }
  });

  it("a generated column that cannot be carried takes its indexes with it, listed by id before any row moves", () => {
    const t: Table = {
      ...table([col("id", { kind: "integer", bytes: 8 }), col("title", v(50))], ["id"]),
      indexes: [{ name: "ix_key", columns: ["k"], unique: false }],
      unsupported: [{ name: "k", what: "generated column", expression: "title || 'x'", type: v(60) }],
    };
    const tr = translate({ engine: "sqlite", tables: [t] }, "postgres");
    expect(tr.conversions.filter((c) => c.lossy).map((c) => c.id)).toEqual(["t.k:generated-column", "t:ix_key:depends-on-dropped-column"]);
    expect(tr.tables[0].indexes).toEqual([]);
    const ok = translate({ engine: "sqlite", tables: [{ ...t, unsupported: [{ name: "k", what: "generated column", expression: "lower(title)", type: v(60) }] }] }, "postgres");
    expect(ok.conversions.filter((c) => c.lossy)).toEqual([]);
    expect(renderCreateTables("postgres", ok.tables)[0]).toContain('"k" varchar(60) GENERATED ALWAYS AS (lower("title")) STORED');
  });
});
