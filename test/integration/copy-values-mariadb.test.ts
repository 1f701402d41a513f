import Database from "better-sqlite3";
import { type ChildProcess } from "child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot, mariadbRows, need, PG_BIN, pgRows, startScratchMariadb, startScratchPostgres, stopScratch, waitFor, which } from "./support/scratch";
import { copyDatabase } from "../../components/copy/copy";

// Values never become SQL text on the way into MariaDB (issue 19): hostile values from an SQLite
// file and from a PostgreSQL database are copied into a real MariaDB (this file's own ports, 73xx)
// and read back with MariaDB's own SQL (HEX, CAST), byte for byte, not with db:copy's verification.
// The server's general log shows what the client sent: no statement text the copy sent may hold a
// value (a LOAD DATA LOCAL stream or prepared statements' parameters carry them), with the
// server's local_infile on and off.
const PG_PORT = 7301;
const MDB_PORT = 7302;
const dir = mkdtempSync(join(tmpdir(), "dbstack-cs-values-"));
const quiet = { progress: false as const, backupDir: join(dir, "backups") };
const generalLog = join(dir, "mdb", "general.log");
let pg: ChildProcess | undefined;
let mdb: ChildProcess | undefined;
const pgUrl = (db: string) => `postgresql://postgres@127.0.0.1:${PG_PORT}/${db}`;
const mdbUrl = (db: string) => `mysql://root@127.0.0.1:${MDB_PORT}/${db}`;
const mdbQuery = (db: string | undefined, sql: string) => mariadbRows({ host: "127.0.0.1", port: MDB_PORT, user: "root", database: db }, sql);

/** A column name that is SQL if a writer ever pastes it unquoted. */
const HOSTILE_COLUMN = "a`b'); --";
const MARKERS = ["DROP TABLE", "LOAD_FILE", "zz-marker"];
const TEXTS = [
  "NaN",
  "Infinity",
  "-Infinity",
  "'); DROP TABLE v; --",
  "' , LOAD_FILE('/etc/shadow')",
  "back\\slash \\' \\0 \\n \\\\ end\\",
  "nul\u0000inside",
  "😀 𝄞 four-byte zz-marker",
  "",
  "\\N",
  "tab\tnew\nline\rcr",
];
const INTEGERS = ["9223372036854775807", "-9223372036854775807", "-9223372036854775808", "0", "1"];
const BLOBS = ["00", "000000", "", "ff00", "5c4e", "27"];
const REALS = [1.7976931348623157e308, 5e-324, 0.1, -2.5, 2 ** 53 + 2];
const ROWS = Math.max(TEXTS.length, INTEGERS.length, BLOBS.length, REALS.length);

/** Row `i` (1-based id) as the source holds it: each column cycles through its list. */
function row(i: number, withNul: boolean) {
  const raw = TEXTS[i % TEXTS.length];
  const text = withNul ? raw : raw.replace(/\u0000/g, "?");
  return {
    id: i + 1,
    t: text,
    i: INTEGERS[i % INTEGERS.length],
    b: Buffer.from(BLOBS[i % BLOBS.length], "hex"),
    r: REALS[i % REALS.length],
    h: `${text}|${i}`,
  };
}

beforeAll(async () => {
  need("PostgreSQL server (initdb)", PG_BIN !== undefined, "apt-get install postgresql-15", "copy MariaDB value tests");
  need("MariaDB server", which("mariadbd") && which("mariadb-install-db"), "apt-get install mariadb-server", "copy MariaDB value tests");
  if (isRoot) need("runuser", which("runuser"), "apt-get install util-linux", "copy MariaDB value tests");
  pg = startScratchPostgres(join(dir, "pg"), PG_PORT, "trust");
  mdb = startScratchMariadb(join(dir, "mdb"), MDB_PORT, [`--general-log-file=${generalLog}`]);
  await waitFor("PostgreSQL", () => pgRows(pgUrl("postgres"), "SELECT 1"), 60);
  await waitFor("MariaDB", () => mdbQuery(undefined, "SELECT 1"), 60);
  for (const from of ["sqlite", "pg"]) for (const mode of ["stream", "prepared"]) await mdbQuery(undefined, `CREATE DATABASE from_${from}_${mode} CHARACTER SET utf8mb4`);
  await pgRows(pgUrl("postgres"), "CREATE DATABASE src");

  const sqlite = new Database(join(dir, "hostile.db"));
  sqlite.defaultSafeIntegers(true);
  sqlite.exec(`CREATE TABLE v (id INTEGER PRIMARY KEY, t TEXT, i BIGINT, b BLOB, r REAL, "${HOSTILE_COLUMN}" TEXT)`);
  const insert = sqlite.prepare("INSERT INTO v VALUES (?, ?, ?, ?, ?, ?)");
  for (let i = 0; i < ROWS; i++) {
    const r = row(i, true);
    insert.run(r.id, r.t, BigInt(r.i), r.b, r.r, r.h);
  }
  sqlite.close();

  const c = new Client({ connectionString: pgUrl("src") });
  await c.connect();
  try {
    await c.query(`CREATE TABLE v (id integer PRIMARY KEY, t text, i bigint, b bytea, r double precision, "${HOSTILE_COLUMN}" text)`);
    for (let i = 0; i < ROWS; i++) {
      const r = row(i, false);
      await c.query("INSERT INTO v VALUES ($1, $2, $3, $4, $5, $6)", [r.id, r.t, r.i, r.b, r.r, r.h]);
    }
  } finally {
    await c.end();
  }
}, 180_000);

afterAll(async () => {
  await stopScratch([pg, mdb], 20);
  rmSync(dir, { recursive: true, force: true });
});

/** The general log's entries of one kind (`Query`, `Prepare`, `Execute`) since it was switched on. */
function logged(kind: string): string[] {
  if (!existsSync(generalLog)) return [];
  // Entries start with a thread id and the kind; a statement spans lines until the next entry.
  const text = readFileSync(generalLog, "utf8");
  const entries = text.split(/\n(?=\s*(?:\d{6}\s+[\d:]+\s+)?\d+ [A-Z][a-z]+\t)/);
  return entries.filter((e) => new RegExp(`^\\s*(?:\\d{6}\\s+[\\d:]+\\s+)?\\d+ ${kind}\\t`).test(e));
}

const SOURCES = [
  { from: "SQLite", url: () => `sqlite://${join(dir, "hostile.db")}`, db: "from_sqlite", withNul: true },
  { from: "PostgreSQL", url: () => pgUrl("src"), db: "from_pg", withNul: false },
];
// local_infile on: the rows go as a LOAD DATA LOCAL stream; off (as on servers dbstack deploys): prepared INSERTs.
const MODES = [
  { mode: "stream", localInfile: 1 },
  { mode: "prepared", localInfile: 0 },
];

describe.each(SOURCES.flatMap((s) => MODES.map((m) => ({ ...s, ...m }))))("hostile values from $from into MariaDB ($mode)", ({ url, db, withNul, mode, localInfile }) => {
  it("arrive byte for byte, read back with MariaDB's own SQL, and no value is ever in a statement's text", async () => {
    const target = `${db}_${mode}`;
    await mdbQuery(undefined, `SET GLOBAL local_infile = ${localInfile}`);
    await mdbQuery(undefined, "SET GLOBAL general_log = 1");
    try {
      await copyDatabase({ from: url(), to: mdbUrl(target), ...quiet });
    } finally {
      await mdbQuery(undefined, "SET GLOBAL general_log = 0");
    }
    if (isRoot) chmodSync(generalLog, 0o644);

    const back = await mdbQuery(target, `SELECT CAST(id AS CHAR) AS id, HEX(t) AS t, CAST(i AS CHAR) AS i, HEX(b) AS b, CAST(r AS CHAR) AS r, HEX(\`${HOSTILE_COLUMN.replace(/`/g, "``")}\`) AS h FROM v ORDER BY v.id`);
    expect(back).toHaveLength(ROWS);
    for (let i = 0; i < ROWS; i++) {
      const want = row(i, withNul);
      const got = back[i];
      expect(got.id).toBe(String(want.id));
      expect(got.t).toBe(Buffer.from(want.t, "utf8").toString("hex").toUpperCase());
      expect(got.i).toBe(want.i);
      expect(got.b).toBe(want.b.toString("hex").toUpperCase());
      expect(Number(got.r)).toBe(want.r);
      expect(got.h).toBe(Buffer.from(want.h, "utf8").toString("hex").toUpperCase());
    }

    // What the client sent as statement text (Query, Prepare) never holds a value.
    const sent = [...logged("Query"), ...logged("Prepare")];
    expect(sent.length).toBeGreaterThan(0);
    for (const marker of MARKERS) expect(sent.filter((s) => s.includes(marker))).toEqual([]);
    const loads = logged("Query").filter((s) => s.includes("LOAD DATA LOCAL INFILE 'dbstack-copy-rows' INTO TABLE `v`"));
    const inserts = logged("Prepare").filter((s) => /INSERT INTO `v`/.test(s));
    if (mode === "stream") {
      expect(loads.length).toBeGreaterThan(0);
      expect(inserts).toEqual([]);
    } else {
      // The rows went as parameters of prepared INSERTs (the log prints those with the values filled in: Execute).
      expect(loads).toEqual([]);
      expect(inserts.length).toBeGreaterThan(0);
      expect(logged("Execute").some((s) => s.includes("zz-marker"))).toBe(true);
    }
    rmSync(generalLog, { force: true });
    await mdbQuery(undefined, "FLUSH GENERAL LOGS");
  });
});
