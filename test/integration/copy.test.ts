import Database from "better-sqlite3";
import { execFileSync, type ChildProcess } from "child_process";
import { existsSync, mkdtempSync, rmSync } from "fs";
import * as mysql from "mysql2/promise";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot, mariadbRows, need, PG_BIN, pgRows, startScratchMariadb, startScratchPostgres, stopScratch, waitFor, which } from "./support/scratch";
import { openSource } from "../../components/copy/connections";
import { checksumTables, copyDatabase, CopyRefusedError, renderPlan, type CopyResult } from "../../components/copy/copy";
import { introspect } from "../../components/copy/introspect";

// Real engines: a PostgreSQL 15 and a MariaDB server started here on this test's own ports, and
// SQLite files. A data set with every type class is generated in SQLite and copied along every
// ordered pair of engines; each copy verifies itself (row counts and checksums), and the test
// also checks that every copy of a table carries the same checksum as the original.
const PG_PORT = 5656;
const MDB_PORT = 3356;
const dir = mkdtempSync(join(tmpdir(), "dbstack-copy-"));
const quiet = { progress: false as const };
let pg: ChildProcess | undefined;
let mdb: ChildProcess | undefined;

const pgUrl = (db: string) => `postgresql://postgres@127.0.0.1:${PG_PORT}/${db}`;
const mdbUrl = (db: string) => `mysql://root@127.0.0.1:${MDB_PORT}/${db}`;
const sqliteUrl = (name: string) => `sqlite://${join(dir, name)}`;

const pgQuery = (db: string, sql: string) => pgRows(pgUrl(db), sql);
const mdbQuery = (db: string | undefined, sql: string) => mariadbRows({ host: "127.0.0.1", port: MDB_PORT, user: "root", database: db }, sql);

beforeAll(async () => {
  need("PostgreSQL server (initdb)", PG_BIN !== undefined, "apt-get install postgresql-15", "copy tests");
  need("MariaDB server", which("mariadbd") && which("mariadb-install-db"), "apt-get install mariadb-server", "copy tests");
  if (isRoot) need("runuser", which("runuser"), "apt-get install util-linux", "copy tests");

  pg = startScratchPostgres(join(dir, "pg"), PG_PORT, "trust");
  mdb = startScratchMariadb(join(dir, "mdb"), MDB_PORT);
  await waitFor("PostgreSQL", () => pgQuery("postgres", "SELECT 1"));
  await waitFor("MariaDB", () => mdbQuery(undefined, "SELECT 1"));
  for (const db of ["from_sqlite", "from_mariadb", "lossy", "dry", "seq", "nul", "dates", "dates_back", "onupd", "bad"]) await pgQuery("postgres", `CREATE DATABASE ${db}`);
  for (const db of ["from_sqlite", "from_pg", "lossy", "dry", "dates", "onupd", "onupd_back", "cases"]) await mdbQuery(undefined, `CREATE DATABASE ${db} CHARACTER SET utf8mb4`);
  generateDataSet(join(dir, "source.db"));
}, 120_000);

afterAll(async () => {
  await stopScratch([pg, mdb], 10);
  rmSync(dir, { recursive: true, force: true });
});

const MAX_NAME = "a_column_name_that_is_exactly_sixty_three_bytes_long_0123456789"; // 63 bytes: fits PostgreSQL and MariaDB

/** The generated data set: every type class, FKs incl. a self-reference, NULLs, an empty table, awkward names. */
function generateDataSet(path: string) {
  const db = new Database(path);
  db.exec(`
    CREATE TABLE "Customers" (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      "Name" VARCHAR(100) NOT NULL,
      email VARCHAR(200) UNIQUE,
      active BOOLEAN,
      balance DECIMAL(12,2),
      score DOUBLE,
      big BIGINT,
      small SMALLINT,
      created_at TIMESTAMP,
      seen_at TIMESTAMPTZ,
      birthday DATE,
      avatar BLOB,
      bio TEXT,
      referrer_id INTEGER REFERENCES "Customers"(id),
      "${MAX_NAME}" INTEGER
    );
    CREATE TABLE "order" (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      "select" INTEGER NOT NULL,
      customer_id INTEGER NOT NULL REFERENCES "Customers"(id),
      total DECIMAL(10,2) NOT NULL,
      "Group" VARCHAR(20),
      placed_at TIMESTAMPTZ
    );
    CREATE INDEX order_customer ON "order"(customer_id);
    CREATE TABLE empty_things (id INTEGER PRIMARY KEY, label TEXT);
    CREATE TABLE nulls_everywhere (id INTEGER PRIMARY KEY, t TEXT, n DECIMAL(8,3), b BOOLEAN, ts TIMESTAMP, tz TIMESTAMPTZ, d DATE, bl BLOB, i BIGINT, f DOUBLE);
  `);
  const dst = [
    "2024-03-31 02:30:00", // EU spring-forward gap (a wall-clock time that does not exist in Europe)
    "2024-10-27 02:30:00.123456", // EU fall-back: happens twice
    "2024-03-10 02:30:00", // US gap
    "2024-11-03 01:30:00.5",
    "1999-12-31 23:59:59.999999",
  ];
  const instants = ["2024-03-31T00:59:59.999999+00:00", "2024-03-31T03:00:00+02:00", "2024-10-27T02:30:00+01:00", "2024-10-27 01:30:00Z", "2038-01-19 03:14:08+00:00"];
  const unicode = ["Zoë", "Ωμέγα", "日本語テキスト", "emoji 😀🎉", "e\u0301 combining", "tab\tnew\nline \\ back'slash\"", "RTL عربى"];
  const insertC = db.prepare(
    `INSERT INTO "Customers" (id, "Name", email, active, balance, score, big, small, created_at, seen_at, birthday, avatar, bio, referrer_id, "${MAX_NAME}") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
  );
  db.defaultSafeIntegers(true);
  const load = db.transaction(() => {
    for (let i = 1; i <= 2000; i++) {
      const nulls = i % 17 === 0; // a row of NULLs in every nullable column
      const big = i === 1 ? 9223372036854775807n : i === 2 ? -9223372036854775808n : BigInt(i) * 1000000007n;
      insertC.run(
        i,
        `${unicode[i % unicode.length]} #${i}`,
        nulls ? null : `user${i}@example.com`,
        nulls ? null : i % 2,
        nulls ? null : ((i * 37) % 100000) / 100 - 300,
        nulls ? null : i / 7,
        nulls ? null : big,
        nulls ? null : (i % 65535) - 32768,
        nulls ? null : dst[i % dst.length],
        nulls ? null : instants[i % instants.length],
        nulls ? null : `19${String(50 + (i % 50))}-0${1 + (i % 9)}-${String(1 + (i % 28)).padStart(2, "0")}`,
        nulls ? null : Buffer.from(Array.from({ length: i % 40 }, (_, k) => (k * i) % 256)),
        nulls ? null : i % 500 === 0 ? "long ✓ text ".repeat(20000) : `bio ${i}`,
        i > 10 && !nulls ? 1 + ((i * 7) % (i - 1)) : i === 5 ? 5 : null, // i=5 refers to itself
        nulls ? null : i,
      );
    }
    const insertO = db.prepare(`INSERT INTO "order" (id, "select", customer_id, total, "Group", placed_at) VALUES (?,?,?,?,?,?)`);
    for (let i = 1; i <= 3000; i++) {
      insertO.run(i, i % 3, 1 + (i % 2000), `${(i * 13) % 10000}.${String(i % 100).padStart(2, "0")}`, i % 5 === 0 ? null : `g${i % 7}`, instants[i % instants.length]);
    }
    const insertN = db.prepare(`INSERT INTO nulls_everywhere (id) VALUES (?)`);
    for (let i = 1; i <= 50; i++) insertN.run(i);
  });
  load();
  db.close();
}

/** The checksums of the tables at `copyUrl`, each value read with the type classes the original at `originalUrl` declares. */
async function checksumsAs(originalUrl: string, copyUrl: string): Promise<Record<string, string>> {
  const original = await openSource(originalUrl);
  const copy = await openSource(copyUrl);
  try {
    const [o, c] = [await introspect(original), await introspect(copy)];
    const pairs = o.tables.map((t) => ({ source: t, target: c.tables.find((x) => x.name === t.name)! }));
    const sums = await checksumTables(copy, pairs, [], copy.engine);
    return Object.fromEntries(sums.map((v) => [v.table.toLowerCase(), `${v.rows}:${v.checksum}`]));
  } finally {
    await original.close();
    await copy.close();
  }
}

function checksums(result: CopyResult): Record<string, string> {
  return Object.fromEntries(result.verified.map((v) => [v.table.toLowerCase(), `${v.rows}:${v.checksum}`]));
}

describe("db:copy between every ordered pair of engines", () => {
  const results: Record<string, CopyResult> = {};

  it("sqlite -> postgres, sqlite -> mariadb, postgres -> sqlite, postgres -> mariadb, mariadb -> sqlite, mariadb -> postgres: each verified", async () => {
    const copies: [string, string, string][] = [
      ["sqlite->postgres", sqliteUrl("source.db"), pgUrl("from_sqlite")],
      ["sqlite->mariadb", sqliteUrl("source.db"), mdbUrl("from_sqlite")],
      ["postgres->sqlite", pgUrl("from_sqlite"), sqliteUrl("from_pg.db")],
      ["postgres->mariadb", pgUrl("from_sqlite"), mdbUrl("from_pg")],
      ["mariadb->sqlite", mdbUrl("from_sqlite"), sqliteUrl("from_mariadb.db")],
      ["mariadb->postgres", mdbUrl("from_sqlite"), pgUrl("from_mariadb")],
    ];
    for (const [name, from, to] of copies) {
      try {
        results[name] = await copyDatabase({ from, to, ...quiet });
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`);
      }
      expect(Object.fromEntries(results[name].transferred.map((t) => [t.table, t.rows]))).toEqual({ Customers: 2000, order: 3000, empty_things: 0, nulls_everywhere: 50 });
    }
    // The original's checksums, as every copy of it saw them: identical along every path.
    const original = checksums(results["sqlite->postgres"]);
    expect(Object.keys(original).sort()).toEqual(["customers", "empty_things", "nulls_everywhere", "order"]);
    for (const name of ["sqlite->mariadb", "postgres->sqlite", "postgres->mariadb"]) expect({ name, sums: checksums(results[name]) }).toEqual({ name, sums: original });
    // MariaDB keeps an instant as a DATETIME in UTC, so its own schema reads those columns as wall
    // clocks and its checksums differ; both copies from it agree with each other, and the data
    // that went sqlite -> mariadb -> postgres/sqlite, read with the original's types, is the original.
    expect(checksums(results["mariadb->postgres"])).toEqual(checksums(results["mariadb->sqlite"]));
    expect(await checksumsAs(sqliteUrl("source.db"), pgUrl("from_mariadb"))).toEqual(original);
    expect(await checksumsAs(sqliteUrl("source.db"), sqliteUrl("from_mariadb.db"))).toEqual(original);
  }, 110_000);

  it("the copied values read back exactly: bigint extremes, unicode, a DST-gap wall clock, an instant, bytes", async () => {
    const [row] = await pgQuery("from_mariadb", `SELECT big::text AS big, "Name", created_at::text AS created_at, seen_at AT TIME ZONE 'UTC' AS seen_utc, encode(avatar, 'hex') AS avatar FROM "Customers" WHERE id = 1`);
    expect(row.big).toBe("9223372036854775807");
    const sqlite = new Database(join(dir, "from_pg.db"), { readonly: true });
    sqlite.defaultSafeIntegers(true);
    const back = sqlite.prepare(`SELECT big, "Name", created_at, balance FROM "Customers" WHERE id = 2`).get() as Record<string, unknown>;
    sqlite.close();
    expect(back.big).toBe(-9223372036854775808n);
    expect(back.Name).toBe("日本語テキスト #2");
    expect(back.created_at).toBe("2024-03-10 02:30:00");
    const [m] = await mdbQuery("from_pg", "SELECT `Name`, CAST(created_at AS CHAR) AS created_at FROM `Customers` WHERE id = 3");
    expect(m.Name).toBe("emoji 😀🎉 #3");
    expect(String(m.created_at)).toMatch(/^2024-11-03 01:30:00\.5/);
  });

  it("autoincrement counters continue after the copied maximum on every target", async () => {
    await pgQuery("from_sqlite", `INSERT INTO "Customers" ("Name") VALUES ('new')`);
    expect((await pgQuery("from_sqlite", `SELECT max(id)::int AS id FROM "Customers"`))[0].id).toBe(2001);
    await mdbQuery("from_sqlite", "INSERT INTO `order` (`select`, customer_id, total) VALUES (1, 1, 1.00)");
    expect(Number((await mdbQuery("from_sqlite", "SELECT max(id) AS id FROM `order`"))[0].id)).toBe(3001);
    const sqlite = new Database(join(dir, "from_mariadb.db"));
    const info = sqlite.prepare(`INSERT INTO "Customers" ("Name") VALUES ('new')`).run();
    sqlite.close();
    expect(Number(info.lastInsertRowid)).toBe(2001);
  });

  it("foreign keys (incl. the self-reference) and the unique index exist on the targets", async () => {
    await expect(pgQuery("from_mariadb", `INSERT INTO "order" ("select", customer_id, total) VALUES (1, 999999, 1)`)).rejects.toThrow(/foreign key/);
    await expect(pgQuery("from_mariadb", `UPDATE "Customers" SET referrer_id = 999999 WHERE id = 3`)).rejects.toThrow(/foreign key/);
    await expect(mdbQuery("from_pg", "INSERT INTO `Customers` (`Name`, email) VALUES ('dup', 'user3@example.com')")).rejects.toThrow(/Duplicate/);
  });
});

describe("refusals and the dry run", () => {
  it("a lossy conversion is refused by default, naming its id, and passes when allowed", async () => {
    // PostgreSQL numeric without precision has no exact MariaDB DECIMAL.
    await pgQuery("lossy", "CREATE TABLE prices (id int PRIMARY KEY, amount numeric)");
    await pgQuery("lossy", "INSERT INTO prices VALUES (1, 12.345), (2, NULL), (3, -99999.5)");
    const refused = await copyDatabase({ from: pgUrl("lossy"), to: mdbUrl("lossy"), ...quiet }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CopyRefusedError);
    const ids = (refused as CopyRefusedError).refused.map((c) => c.id);
    expect(ids.length).toBeGreaterThan(0);
    expect((refused as Error).message).toContain(ids[0]);
    expect((refused as Error).message).toMatch(/--allow/);
    expect(await mdbQuery("lossy", "SHOW TABLES")).toEqual([]); // nothing written
    const ok = await copyDatabase({ from: pgUrl("lossy"), to: mdbUrl("lossy"), allow: ids, ...quiet });
    expect(ok.verified.map((v) => v.rows)).toEqual([3]);
  });

  it("a text value with NUL bound for PostgreSQL is refused before anything is written; allowed, the NUL is dropped", async () => {
    const path = join(dir, "nul.db");
    const db = new Database(path);
    db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
    db.prepare("INSERT INTO notes VALUES (1, ?), (2, 'plain')").run("a\u0000b");
    db.close();
    const refused = await copyDatabase({ from: `sqlite://${path}`, to: pgUrl("nul"), ...quiet }).catch((e: unknown) => e);
    expect((refused as Error).message).toContain("notes.body:nul->postgres");
    expect(await pgQuery("nul", "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual([]);
    await copyDatabase({ from: `sqlite://${path}`, to: pgUrl("nul"), allow: ["notes.body:nul->postgres"], ...quiet });
    expect(await pgQuery("nul", "SELECT body FROM notes ORDER BY id")).toEqual([{ body: "ab" }, { body: "plain" }]);
  });

  it("a value that cannot be copied mid-table is refused by id before the first row is written, naming its row", async () => {
    const path = join(dir, "bad.db");
    const db = new Database(path);
    db.exec("CREATE TABLE counts (id INTEGER PRIMARY KEY, n INTEGER)");
    const insert = db.prepare("INSERT INTO counts VALUES (?, ?)");
    db.transaction(() => {
      for (let i = 1; i <= 2500; i++) insert.run(i, i === 2400 ? "twelve" : i); // SQLite keeps the text in an INTEGER column
    })();
    db.close();
    const err = await copyDatabase({ from: `sqlite://${path}`, to: pgUrl("bad"), batchRows: 5000, ...quiet }).catch((e: unknown) => e);
    // The pre-scan finds it before the first row is written: refused by id, naming the row.
    expect((err as Error).message).toContain("counts.n:text-in-number: 1 value: text that is not a number in a number column, e.g. id=2400");
    expect(await pgQuery("bad", "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual([]);
  });

  it("PostgreSQL's infinity and BC dates: exact into PostgreSQL; refused into MariaDB and SQLite, and when allowed clamped / NULL, verified", async () => {
    await pgQuery("dates", "CREATE TABLE spans (id int PRIMARY KEY, d date, ts timestamp, tz timestamptz, doc json)");
    await pgQuery(
      "dates",
      `INSERT INTO spans VALUES
        (1, 'infinity', '-infinity', 'infinity', '{"b": 1,  "a": 12345678901234567890123, "b": 2}'),
        (2, '0044-03-15 BC', '0044-03-15 12:00:00 BC', '0001-01-01 00:30:00+01 BC', '[1, 2]'),
        (3, '2024-02-29', '2024-03-31 02:30:00', '2024-03-31 01:30:00+00', NULL)`,
    );
    // Into PostgreSQL: every value as it was (the server's own checksum agrees with the source's).
    const back = await copyDatabase({ from: pgUrl("dates"), to: pgUrl("dates_back"), ...quiet });
    expect(back.verified.map((v) => v.rows)).toEqual([3]);
    expect(await pgQuery("dates_back", "SELECT d::text, ts::text, tz::text, doc::text FROM spans ORDER BY id")).toEqual(await pgQuery("dates", "SELECT d::text, ts::text, tz::text, doc::text FROM spans ORDER BY id"));

    for (const [target, url] of [["sqlite", sqliteUrl("dates.db")], ["mariadb", mdbUrl("dates")]] as const) {
      const refused = await copyDatabase({ from: pgUrl("dates"), to: url, ...quiet }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(CopyRefusedError);
      const ids = (refused as CopyRefusedError).refused.map((c) => c.id).sort();
      expect(ids).toEqual([`spans.d:bc->${target}`, `spans.d:infinity->${target}`, `spans.ts:bc->${target}`, `spans.ts:infinity->${target}`, `spans.tz:bc->${target}`, `spans.tz:infinity->${target}`]);
      const ok = await copyDatabase({ from: pgUrl("dates"), to: url, allow: ids, ...quiet });
      expect(ok.verified.map((v) => v.rows)).toEqual([3]);
    }
    const db = new Database(join(dir, "dates.db"), { readonly: true });
    const rows = db.prepare("SELECT d, ts, doc FROM spans ORDER BY id").all() as Record<string, unknown>[];
    db.close();
    expect(rows[0]).toEqual({ d: "9999-12-31", ts: "0001-01-01 00:00:00", doc: '{"b": 1,  "a": 12345678901234567890123, "b": 2}' });
    expect(rows[1].d).toBeNull(); // 44 BC: not 44 AD
    expect((await mdbQuery("dates", "SELECT CAST(d AS CHAR) AS d, CAST(tz AS CHAR) AS tz FROM spans WHERE id = 1"))[0]).toEqual({ d: "9999-12-31", tz: "9999-12-31 23:59:59.999999" });
  });

  it("NaN and ±Infinity: exact into PostgreSQL; refused into MariaDB (NaN into SQLite) by id before anything is written; allowed, NULL, verified", async () => {
    await pgQuery("postgres", "CREATE DATABASE nonfinite");
    await pgQuery("postgres", "CREATE DATABASE nonfinite_back");
    await mdbQuery(undefined, "CREATE DATABASE nonfinite CHARACTER SET utf8mb4");
    await pgQuery("nonfinite", "CREATE TABLE m (id int PRIMARY KEY, f float8, n numeric)");
    await pgQuery("nonfinite", "INSERT INTO m VALUES (1, 'NaN', 'NaN'), (2, 'Infinity', '-Infinity'), (3, 1.5, 2.25)");
    const back = await copyDatabase({ from: pgUrl("nonfinite"), to: pgUrl("nonfinite_back"), ...quiet });
    expect(back.verified.map((v) => v.rows)).toEqual([3]);
    expect(await pgQuery("nonfinite_back", "SELECT f::text, n::text FROM m ORDER BY id")).toEqual(await pgQuery("nonfinite", "SELECT f::text, n::text FROM m ORDER BY id"));

    const refused = await copyDatabase({ from: pgUrl("nonfinite"), to: mdbUrl("nonfinite"), ...quiet }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CopyRefusedError);
    const ids = (refused as CopyRefusedError).refused.map((c) => c.id).sort();
    // (Besides the unbounded numeric's own conversion into DECIMAL.)
    expect(ids.filter((id) => id.includes("nonfinite"))).toEqual(["m.f:nonfinite->mariadb", "m.n:nonfinite->mariadb"]);
    // Found before anything was written: no table on the target (the value never reached an INSERT's text).
    expect(await mdbQuery("nonfinite", "SHOW TABLES")).toEqual([]);
    const ok = await copyDatabase({ from: pgUrl("nonfinite"), to: mdbUrl("nonfinite"), allow: ids, ...quiet });
    expect(ok.verified.map((v) => v.rows)).toEqual([3]);
    expect(await mdbQuery("nonfinite", "SELECT id, f, CAST(n AS CHAR) AS n FROM m ORDER BY id")).toEqual([
      { id: 1, f: null, n: null },
      { id: 2, f: null, n: null },
      { id: 3, f: 1.5, n: expect.stringMatching(/^2\.250*$/) },
    ]);

    const intoSqlite = await copyDatabase({ from: pgUrl("nonfinite"), to: sqliteUrl("nonfinite.db"), ...quiet }).catch((e: unknown) => e);
    expect(intoSqlite).toBeInstanceOf(CopyRefusedError);
    expect((intoSqlite as CopyRefusedError).refused.map((c) => c.id).filter((id) => id.includes("nonfinite")).sort()).toEqual(["m.f:nonfinite->sqlite", "m.n:nonfinite->sqlite"]);
  });

  it("MariaDB's ON UPDATE CURRENT_TIMESTAMP is refused into PostgreSQL and kept into MariaDB", async () => {
    await mdbQuery("onupd", "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), changed DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))");
    await mdbQuery("onupd", "INSERT INTO items (id, name) VALUES (1, 'a')");
    const refused = await copyDatabase({ from: mdbUrl("onupd"), to: pgUrl("onupd"), ...quiet }).catch((e: unknown) => e);
    expect((refused as CopyRefusedError).refused.map((c) => c.id)).toEqual(["items.changed:on-update"]);
    await copyDatabase({ from: mdbUrl("onupd"), to: mdbUrl("onupd_back"), ...quiet });
    const [create] = await mdbQuery("onupd_back", "SHOW CREATE TABLE items");
    expect(String(create["Create Table"])).toMatch(/on update current_timestamp\(6\)/i);
  });

  it("tables differing only in case are refused into MariaDB, naming both; allowed, the second is renamed and verified", async () => {
    await pgQuery("lossy", 'CREATE TABLE "Users" (id int PRIMARY KEY)');
    await pgQuery("lossy", "CREATE TABLE users (id int PRIMARY KEY, \"Name\" text, name text)");
    await pgQuery("lossy", "INSERT INTO \"Users\" VALUES (1); INSERT INTO users VALUES (2, 'A', 'a')");
    const plan = await copyDatabase({ from: pgUrl("lossy"), to: mdbUrl("cases"), tables: ["Users", "users"], dryRun: true, ...quiet });
    expect(plan.plan.refused.map((c) => c.id)).toEqual(["users:case-collision", "users.name:case-collision"]);
    expect(renderPlan(plan.plan).join("\n")).toContain(`tables "Users" and "users" differ only in case`);
    await copyDatabase({ from: pgUrl("lossy"), to: mdbUrl("cases"), tables: ["Users", "users"], allow: ["users:case-collision", "users.name:case-collision"], ...quiet });
    expect(await mdbQuery("cases", "SELECT id, `Name`, name_2 FROM users_2")).toEqual([{ id: 2, Name: "A", name_2: "a" }]);
  });

  it("the dry run prints tables, rows and conversions and writes nothing (not even a new SQLite file)", async () => {
    const plan = await copyDatabase({ from: sqliteUrl("source.db"), to: mdbUrl("dry"), dryRun: true, ...quiet });
    expect(plan.dryRun).toBe(true);
    expect(plan.plan.tables.map((t) => [t.source, t.rows])).toEqual([
      ["Customers", 2000],
      ["order", 3000],
      ["empty_things", 0],
      ["nulls_everywhere", 50],
    ]);
    const text = renderPlan(plan.plan).join("\n");
    expect(text).toMatch(/Customers\s+Customers\s+2000/);
    expect(text).toMatch(/conversions/);
    expect(await mdbQuery("dry", "SHOW TABLES")).toEqual([]);
    await copyDatabase({ from: sqliteUrl("source.db"), to: pgUrl("dry"), dryRun: true, ...quiet });
    expect(await pgQuery("dry", "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual([]);
    await copyDatabase({ from: pgUrl("from_sqlite"), to: sqliteUrl("never.db"), dryRun: true, ...quiet });
    expect(existsSync(join(dir, "never.db"))).toBe(false);
  });

  it("a target table that already holds rows is refused, naming it", async () => {
    await expect(copyDatabase({ from: sqliteUrl("source.db"), to: pgUrl("from_sqlite"), ...quiet })).rejects.toThrow(/Customers \(2001 rows\)/);
  });

  it("the CLI takes URLs from DBSTACK_COPY_FROM/TO and never prints the password", () => {
    const out = execFileSync("npx", ["ts-node", "--transpile-only", "scripts/db-copy.ts", "--dry-run"], {
      env: { ...process.env, DBSTACK_COPY_FROM: sqliteUrl("source.db"), DBSTACK_COPY_TO: `postgresql://postgres:s3cretpw@127.0.0.1:${PG_PORT}/dry` },
      encoding: "utf8",
    });
    expect(out).toMatch(/dry run: nothing was written/);
    expect(out).toContain("postgres:***@");
    expect(out).not.toContain("s3cretpw");
  });
});
