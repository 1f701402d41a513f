import { describe, expect, it } from "vitest";
import { splitRange } from "../../components/copy/parallelCopy";

describe("reader threads' rowid ranges", () => {
  it("cover every rowid from the first to the last exactly once, in contiguous ranges", () => {
    for (const [lo, hi, parts] of [[1n, 1n, 2], [1n, 2n, 2], [1n, 1_000_001n, 2], [-9223372036854775808n, 9223372036854775807n, 2], [5n, 7n, 4], [10n, 100n, 3]] as [bigint, bigint, number][]) {
      const ranges = splitRange(lo, hi, parts);
      expect(ranges.length).toBe(Math.min(parts, Number(hi - lo + 1n)));
      expect(ranges[0][0]).toBe(lo);
      expect(ranges[ranges.length - 1][1]).toBe(hi);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBe(ranges[i - 1][1] + 1n);
      for (const [a, b] of ranges) expect(a <= b).toBe(true);
    }
  });

  it("give nothing to read for an empty table", () => {
    expect(splitRange(1n, 0n, 2)).toEqual([]);
  });
});
