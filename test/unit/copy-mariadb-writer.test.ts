import { describe, expect, it } from "vitest";
import { loadField, renderLoadData, renderLoadRows, STREAM_NAME, streamFactory } from "../../components/copy/mariadbLoadData";
import { renderPreparedInsert, ROWS_PER_STATEMENT, statementRows, statementSizes } from "../../components/copy/mariadbWriter";
import type { Table } from "../../components/copy/schema";

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

describe("MariaDB's LOAD DATA LOCAL stream (values as data)", () => {
  const table = {
    name: "t`x",
    columns: [
      { name: "id", type: { kind: "integer", bytes: 8 }, sourceType: "", nullable: false, autoIncrement: false },
      { name: "b'); --", type: { kind: "binary" }, sourceType: "", nullable: true, autoIncrement: false },
      { name: "txt", type: { kind: "text" }, sourceType: "", nullable: true, autoIncrement: false },
    ],
    primaryKey: ["id"],
    foreignKeys: [],
    indexes: [],
  } as unknown as Table;

  it("names only its own stream, quotes every identifier and unhexes binary columns", () => {
    expect(renderLoadData(table)).toBe(
      "LOAD DATA LOCAL INFILE 'dbstack-copy-rows' INTO TABLE `t``x` CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (`id`, @v1, `txt`) SET `b'); --` = UNHEX(@v1)",
    );
  });

  it("escapes every character the stream's format gives a meaning, and nothing else", () => {
    const rows = [
      ["9223372036854775807", Buffer.from([0, 0x5c, 0x0a]), "a\\b\tc\nd\re\0f"],
      ["-1", null, "\\N"],
      ["0", Buffer.alloc(0), "' , LOAD_FILE('/etc/shadow') 😀"],
      ["1", null, null],
    ];
    expect(renderLoadRows(rows)).toBe(
      "9223372036854775807\t005c0a\ta\\\\b\\tc\\nd\\re\\0f\n" + "-1\t\\N\t\\\\N\n" + "0\t\t' , LOAD_FILE('/etc/shadow') 😀\n" + "1\t\\N\t\\N\n",
    );
    expect(loadField(1.5)).toBe("1.5");
    expect(loadField(5e-324)).toBe("5e-324");
  });

  it("serves the rows only for its own name: any other file the server asks for is refused", async () => {
    const factory = streamFactory(Buffer.from("1\tx\n"));
    const chunks: Buffer[] = [];
    for await (const c of factory(STREAM_NAME)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("1\tx\n");
    const refused = factory("/etc/shadow");
    await expect(
      (async () => {
        for await (const c of refused) chunks.push(c as Buffer);
      })(),
    ).rejects.toThrow(/asked for the local file "\/etc\/shadow"; the copy only sends its own rows/);
  });
});
