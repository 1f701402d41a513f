import { describe, expect, it } from "vitest";
import { renderPreparedInsert, ROWS_PER_STATEMENT, statementRows, statementSizes } from "../../components/copy/mariadbWriter";

describe("MariaDB's prepared INSERTs (values as parameters)", () => {
  it("hold only placeholders, one group per row, with the quoted names given", () => {
    const sql = renderPreparedInsert("`t``x`", "`a`, `b'); --`", 2, 3);
    expect(sql).toBe("INSERT INTO `t``x` (`a`, `b'); --`) VALUES (?, ?), (?, ?), (?, ?)");
  });

  it("stay within the binary protocol's 65535 parameters", () => {
    expect(statementRows(10)).toBe(ROWS_PER_STATEMENT);
    expect(statementRows(200) * 200).toBeLessThanOrEqual(65535);
    expect(statementRows(200)).toBe(256);
    expect(statementRows(65535)).toBe(1);
  });

  it("split any count into a few fixed sizes (so a table prepares a dozen statements at most)", () => {
    expect(statementSizes(0, 512)).toEqual([]);
    expect(statementSizes(1, 512)).toEqual([1]);
    expect(statementSizes(1500, 512)).toEqual([512, 512, 256, 128, 64, 16, 8, 4]);
    for (const n of [1, 7, 511, 512, 513, 5000, 20000, 20001]) {
      const sizes = statementSizes(n, 512);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(n);
      expect(sizes.every((s) => s <= 512 && (s & (s - 1)) === 0)).toBe(true);
    }
    const distinct = new Set(Array.from({ length: 2000 }, (_, n) => statementSizes(n, 512)).flat());
    expect(distinct.size).toBeLessThanOrEqual(10);
  });
});
