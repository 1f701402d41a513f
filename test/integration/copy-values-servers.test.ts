/**
 * The pre-scan of PostgreSQL and MariaDB sources (issue 19, point 3): values a server holds that
 * the target would change or reject are found in the source, before the first row is written,
 * and refused by id `<table>.<column>:<class>` with counts and sample row keys; allowed, each is
 * written as NULL and every other value moves exactly. One column per class, into tables the
 * target's "migrations" made (narrower than the source's) and into tables the copy creates;
 * checked with each target's own SQL, not with db:copy's verification.
 *
 * Owns: scratch PostgreSQL on 7313, scratch MariaDB on 7314.
 */
import { type ChildProcess } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot, mariadbRows, need, PG_BIN, pgRows, startScratchMariadb, startScratchPostgres, stopScratch, waitFor, which } from "./support/scratch";
import { copyDatabase, CopyRefusedError } from "../../components/copy/copy";

const PG_PORT = 7313;
const MDB_PORT = 7314;
const dir = mkdtempSync(join(tmpdir(), "dbstack-cs-servers-"));
const quiet = { progress: false as const, backupDir: join(dir, "backups") };
let pg: ChildProcess | undefined;
let mdb: ChildProcess | undefined;
const pgUrl = (db: string) => `postgresql://postgres@127.0.0.1:${PG_PORT}/${db}`;
const mdbUrl = (db: string) => `mysql://root@127.0.0.1:${MDB_PORT}/${db}`;
const mdbQuery = (db: string | undefined, sql: string) => mariadbRows({ host: "127.0.0.1", port: MDB_PORT, user: "root", database: db }, sql);
const text = (rows: Record<string, unknown>[]) => rows.map((r) => Object.values(r).map((v) => (v === null ? "NULL" : String(v))).join("|"));

/** PostgreSQL's readings: one row per class into MariaDB, and rows at the edges that fit exactly. */
const PG_SOURCE = [
  "CREATE TABLE readings (id integer PRIMARY KEY, label varchar(40), counter bigint, taken timestamptz, ratio double precision, code text)",
  "INSERT INTO readings VALUES (1, 'short', 5, '2024-01-31 12:00:00+00', 1.5, 'a')",
  "INSERT INTO readings VALUES (2, 'much longer than eight', 5, '2024-01-31 12:00:00+00', 2.5, 'b')", // label: too-long
  "INSERT INTO readings VALUES (3, 'ok', 3000000000, '2024-01-31 12:00:00+00', 0.5, 'c')", // counter: out-of-range
  "INSERT INTO readings VALUES (4, 'ok', 7, '10000-01-01 00:00:00+00', 0.25, 'd')", // taken: date-out-of-range
  "INSERT INTO readings VALUES (5, 'ok', 8, '2024-01-31 12:00:00+00', 'NaN', 'e')", // ratio: nonfinite->mariadb
  "INSERT INTO readings VALUES (6, 'Zoë ✓ 8c', 2147483647, '9999-12-31 23:59:59.999999+00', -2.5, repeat('k', 800))", // edges that fit; code: too-long as a MariaDB key
  "INSERT INTO readings VALUES (7, NULL, -2147483648, '2024-01-31 23:30:00-05', NULL, 'g')",
  "CREATE TABLE tags (code text PRIMARY KEY, n integer)",
  "INSERT INTO tags VALUES (repeat('x', 769), 1), ('fits', 2)", // code: too-long past the key's VARCHAR(768)
];
/** The MariaDB application's own table: narrower than PostgreSQL's. */
const MDB_MIGRATED = "CREATE TABLE readings (id INT PRIMARY KEY, label VARCHAR(8), counter INT, taken DATETIME(6), ratio DOUBLE, code VARCHAR(1000))";

/** MariaDB's events: zero dates it holds (sql_mode without NO_ZERO_DATE), an unsigned top, a long note. */
const MDB_SOURCE = [
  "CREATE TABLE events (id INT PRIMARY KEY, day DATE, at DATETIME, big BIGINT UNSIGNED, note VARCHAR(50))",
  "SET SESSION sql_mode = ''",
  "INSERT INTO events VALUES (1, '2024-01-31', '2024-01-31 12:34:56', 5, 'fine')",
  "INSERT INTO events VALUES (2, '0000-00-00', '2024-01-31 00:00:00', 5, 'x')", // day: zero-date
  "INSERT INTO events VALUES (3, '2024-01-31', '2024-00-15 00:00:00', 5, 'x')", // at: zero-date
  "INSERT INTO events VALUES (4, '2024-01-31', '2024-01-31 00:00:00', 18446744073709551615, 'x')", // big: out-of-range
  "INSERT INTO events VALUES (5, '2024-01-31', '2024-01-31 00:00:00', 9223372036854775807, 'a note too long')", // note: too-long; big at the edge
  "INSERT INTO events VALUES (6, NULL, NULL, NULL, 'ten chars!')",
];
/** The PostgreSQL application's own table. */
const PG_MIGRATED = "CREATE TABLE events (id integer PRIMARY KEY, day date, at timestamp, big bigint, note varchar(10))";

beforeAll(async () => {
  need("PostgreSQL server (initdb)", PG_BIN !== undefined, "apt-get install postgresql-15", "server pre-scan tests");
  need("MariaDB server", which("mariadbd") && which("mariadb-install-db"), "apt-get install mariadb-server", "server pre-scan tests");
  if (isRoot) need("runuser", which("runuser"), "apt-get install util-linux", "server pre-scan tests");
  pg = startScratchPostgres(join(dir, "pg"), PG_PORT, "trust");
  mdb = startScratchMariadb(join(dir, "mdb"), MDB_PORT);
  await waitFor("PostgreSQL", () => pgRows(pgUrl("postgres"), "SELECT 1"), 60);
  await waitFor("MariaDB", () => mdbQuery(undefined, "SELECT 1"), 60);
  for (const db of ["src", "frommdb", "frommdbnew"]) await pgRows(pgUrl("postgres"), `CREATE DATABASE ${db}`);
  for (const db of ["msrc", "frompg", "frompgnew"]) await mdbQuery(undefined, `CREATE DATABASE ${db} CHARACTER SET utf8mb4`);
  for (const s of PG_SOURCE) await pgRows(pgUrl("src"), s);
  const c = await (await import("mysql2/promise")).createConnection({ host: "127.0.0.1", port: MDB_PORT, user: "root", database: "msrc" });
  try {
    for (const s of MDB_SOURCE) await c.query(s);
  } finally {
    await c.end();
  }
  await mdbQuery("frompg", MDB_MIGRATED);
  await pgRows(pgUrl("frommdb"), PG_MIGRATED);
}, 300_000);

afterAll(async () => {
  await stopScratch([pg, mdb], 20);
  rmSync(dir, { recursive: true, force: true });
});

/** The refusal of a copy, as its lines. */
async function refusal(from: string, to: string, tables?: string[]): Promise<string> {
  const err = await copyDatabase({ from, to, tables, ...quiet }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CopyRefusedError);
  return (err as Error).message;
}

describe("PostgreSQL into MariaDB: values MariaDB would change or reject are refused by id before the first row", () => {
  it("names each class with its count and sample keys; the dry run lists the same; nothing is written", async () => {
    const message = await refusal(pgUrl("src"), mdbUrl("frompg"), ["readings"]);
    expect(message).toContain("readings.label:too-long: 1 value: text longer than the target column's length, e.g. id=2; allowed, each is written as NULL");
    expect(message).toContain("readings.counter:out-of-range: 1 value: an integer outside the target column's range, e.g. id=3");
    expect(message).toContain("readings.taken:date-out-of-range: 1 value: a date or time outside the range the target column holds, e.g. id=4");
    expect(message).toContain("readings.ratio:nonfinite->mariadb");
    // Exactly these: the edges that fit (8 characters with ä and ✓, the INT range, 9999-12-31 23:59:59.999999 UTC) are not named.
    expect(message.split("\n").filter((l) => l.startsWith("  ")).map((l) => l.trim().split(":").slice(0, 2).join(":").split(" ")[0]).sort()).toEqual(
      ["readings.counter:out-of-range", "readings.label:too-long", "readings.ratio:nonfinite->mariadb", "readings.taken:date-out-of-range"],
    );
    const dry = await copyDatabase({ from: pgUrl("src"), to: mdbUrl("frompg"), tables: ["readings"], dryRun: true, ...quiet });
    expect(dry.plan.refused.map((c) => c.id).sort()).toEqual(["readings.counter:out-of-range", "readings.label:too-long", "readings.ratio:nonfinite->mariadb", "readings.taken:date-out-of-range"]);
    expect(String((await mdbQuery("frompg", "SELECT COUNT(*) AS n FROM readings"))[0].n)).toBe("0");
  });

  it("allowed, writes each named value as NULL and every other value exactly", async () => {
    const allow = ["readings.counter:out-of-range", "readings.label:too-long", "readings.ratio:nonfinite->mariadb", "readings.taken:date-out-of-range"];
    await copyDatabase({ from: pgUrl("src"), to: mdbUrl("frompg"), tables: ["readings"], allow, ...quiet });
    expect(text(await mdbQuery("frompg", "SELECT id, label, counter, DATE_FORMAT(taken, '%Y-%m-%d %H:%i:%s.%f') AS taken, CAST(ratio AS CHAR) AS ratio, LENGTH(code) AS code FROM readings ORDER BY id"))).toEqual([
      "1|short|5|2024-01-31 12:00:00.000000|1.5|1",
      "2|NULL|5|2024-01-31 12:00:00.000000|2.5|1",
      "3|ok|NULL|2024-01-31 12:00:00.000000|0.5|1",
      "4|ok|7|NULL|0.25|1",
      "5|ok|8|2024-01-31 12:00:00.000000|NULL|1",
      "6|Zoë ✓ 8c|2147483647|9999-12-31 23:59:59.999999|-2.5|800",
      "7|NULL|-2147483648|2024-02-01 04:30:00.000000|NULL|1",
    ]);
  });

  it("into a table the copy creates: a text key longer than MariaDB's key VARCHAR is named besides the type change", async () => {
    const message = await refusal(pgUrl("src"), mdbUrl("frompgnew"), ["tags"]);
    expect(message).toContain(`tags.code:too-long: 1 value: text longer than the target column's length, e.g. code=${"x".repeat(32)}…(769 characters); allowed, each is written as NULL`);
    expect(await mdbQuery("frompgnew", "SHOW TABLES")).toEqual([]);
  });
});

describe("MariaDB into PostgreSQL: values PostgreSQL would reject are refused by id before the first row", () => {
  it("names zero dates, an unsigned value past bigint and a long note; nothing is written", async () => {
    const message = await refusal(mdbUrl("msrc"), pgUrl("frommdb"));
    expect(message).toContain("events.day:zero-date: 1 value: a zero date or a date with a zero month or day (MariaDB holds them, no calendar has them), e.g. id=2; allowed, each is written as NULL");
    expect(message).toContain("events.at:zero-date: 1 value:");
    expect(message).toContain("e.g. id=3");
    expect(message).toContain("events.big:out-of-range: 1 value: an integer outside the target column's range, e.g. id=4");
    expect(message).toContain("events.note:too-long: 1 value: text longer than the target column's length, e.g. id=5");
    expect(message.split("\n").filter((l) => l.startsWith("  "))).toHaveLength(4);
    expect(await pgRows(pgUrl("frommdb"), "SELECT count(*)::int AS n FROM events")).toEqual([{ n: 0 }]);
  });

  it("allowed, writes each named value as NULL and every other value exactly", async () => {
    await copyDatabase({ from: mdbUrl("msrc"), to: pgUrl("frommdb"), allow: ["events.day:zero-date", "events.at:zero-date", "events.big:out-of-range", "events.note:too-long"], ...quiet });
    expect(text(await pgRows(pgUrl("frommdb"), "SELECT id, day::text, at::text, big::text, note FROM events ORDER BY id"))).toEqual([
      "1|2024-01-31|2024-01-31 12:34:56|5|fine",
      "2|NULL|2024-01-31 00:00:00|5|x",
      "3|2024-01-31|NULL|5|x",
      "4|2024-01-31|2024-01-31 00:00:00|NULL|x",
      "5|2024-01-31|2024-01-31 00:00:00|9223372036854775807|NULL",
      "6|NULL|NULL|NULL|ten chars!",
    ]);
  });

  it("into tables the copy creates, zero dates are still named (PostgreSQL's date has no year 0)", async () => {
    const message = await refusal(mdbUrl("msrc"), pgUrl("frommdbnew"));
    expect(message).toContain("events.day:zero-date");
    expect(message).toContain("events.at:zero-date");
    expect(message).not.toContain("events.big:out-of-range"); // numeric(20,0) holds it
    expect(await pgRows(pgUrl("frommdbnew"), "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).toEqual([{ n: 0 }]);
  });
});
