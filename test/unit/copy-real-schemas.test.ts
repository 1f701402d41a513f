import { describe, expect, it } from "vitest";
import { columnType } from "../../components/copy/ddl";
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
