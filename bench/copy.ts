// npm run bench:copy -- [--rows 2000000] [--rounds 3] [--batch-rows 20000] [--pg-port 5657] [--mariadb-port 3357]
//
// Copies a generated SQLite data set into PostgreSQL with dbstack (copyDatabase: schema, data,
// constraints, counters AND verification, all in its time) and with pgloader (Debian package
// `pgloader`: schema, data, indexes, no verification), alternating (dbstack, pgloader, dbstack,
// ...) for --rounds rounds, each into a fresh database, so drift of the machine falls on both.
// Then SQLite -> MariaDB: dbstack against the bare `LOAD DATA INFILE` of the same rows into the
// same tables, alternating, --rounds rounds; and PostgreSQL -> SQLite once with dbstack.
//
// The data set: --rows rows over four tables with every mapped type: customers (10%: integer
// key, unicode text, booleans, decimals, doubles, timestamps with and without a zone, dates,
// blobs, a self-referencing foreign key), orders (50%: foreign key to customers, decimals,
// timestamps), events (35%: bigint, JSON-ish long text, blobs), tags (5%: short text, reserved-
// word column names). No NUL in text: PostgreSQL cannot store it (the copy would refuse).
//
// Servers: a PostgreSQL 15 on port 5657 and a MariaDB on port 3357 in a temp dir, removed at the
// end, also on failure or Ctrl-C. Output: one line per timed copy on stdout ("dbstack round=1
// rows/s=..."), the medians, and finally exactly two lines
//   copy_ratio=<dbstack rows/s / pgloader rows/s>
//   copy_mariadb_ratio=<dbstack rows/s / LOAD DATA rows/s>
// Progress goes to stderr.
import Database from "better-sqlite3";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "fs";
import * as mysql from "mysql2/promise";
import { tmpdir } from "os";
import { join } from "path";
import { Client } from "pg";
import { parseArgs } from "util";
import { copyDatabase } from "../components/copy/copy";
import { median } from "./lib/stats";

const { values: opts } = parseArgs({
  options: {
    // Where the benchmark's own servers listen (another run, or a test, may hold the defaults).
    "pg-port": { type: "string", default: "5657" },
    "mariadb-port": { type: "string", default: "3357" },
    rows: { type: "string", default: "2000000" },
    rounds: { type: "string", default: "3" },
    "batch-rows": { type: "string", default: "20000" },
  },
});
const PG_PORT = Number(opts["pg-port"]);
const MDB_PORT = Number(opts["mariadb-port"]);
const ROWS = Number(opts.rows);
const ROUNDS = Number(opts.rounds);
const BATCH = Number(opts["batch-rows"]);
const dir = mkdtempSync(join(tmpdir(), "dbstack-bench-copy-"));
const children: ChildProcess[] = [];
const PG_BIN = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"].find((d) => existsSync(join(d, "initdb")));
const isRoot = process.getuid?.() === 0;
const log = (s: string) => process.stderr.write(`${s}\n`);

function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  // Give the servers a moment to exit before their directories go.
  spawnSync("sleep", ["2"]);
  rmSync(dir, { recursive: true, force: true });
}
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});
process.on("SIGTERM", () => {
  cleanup();
  process.exit(143);
});

const pgUrl = (db: string) => `postgresql://postgres@127.0.0.1:${PG_PORT}/${db}`;

async function pg(db: string, sql: string) {
  const c = new Client({ connectionString: pgUrl(db) });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

async function mdb(sql: string) {
  const c = await mysql.createConnection({ host: "127.0.0.1", port: MDB_PORT, user: "root" });
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function mdbRows(sql: string): Promise<Record<string, unknown>[]> {
  const c = await mysql.createConnection({ host: "127.0.0.1", port: MDB_PORT, user: "root" });
  try {
    const [rows] = await c.query(sql);
    return rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

async function waitFor(probe: () => Promise<unknown>) {
  for (let i = 0; ; i++) {
    try {
      return await probe();
    } catch (err) {
      if (i > 120) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function startServers() {
  if (!PG_BIN) throw new Error("PostgreSQL server missing: apt-get install postgresql-15");
  const pgDir = join(dir, "pg");
  execFileSync("mkdir", ["-p", pgDir]);
  const asPg = (cmd: string, args: string[]) => (isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]) as [string, string[]];
  if (isRoot) {
    execFileSync("chmod", ["755", dir]);
    chownSync(pgDir, Number(execFileSync("id", ["-u", "postgres"]).toString()), Number(execFileSync("id", ["-g", "postgres"]).toString()));
  }
  execFileSync(...asPg(join(PG_BIN, "initdb"), ["-D", join(pgDir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]), { stdio: "ignore" });
  // Durability as a server in service has it (fsync on): both tools pay the same for it.
  children.push(spawn(...asPg(join(PG_BIN, "postgres"), ["-D", join(pgDir, "data"), "-p", String(PG_PORT), "-k", pgDir, "-c", "listen_addresses=127.0.0.1", "-c", "max_wal_size=4GB"]), { stdio: "ignore" }));
  const mdbDir = join(dir, "mdb");
  execFileSync("mariadb-install-db", ["--no-defaults", `--datadir=${join(mdbDir, "data")}`, "--auth-root-authentication-method=normal", ...(isRoot ? ["--user=root"] : [])], { stdio: "ignore" });
  children.push(
    spawn(
      "mariadbd",
      ["--no-defaults", `--datadir=${join(mdbDir, "data")}`, `--port=${MDB_PORT}`, "--bind-address=127.0.0.1", `--socket=${join(mdbDir, "sock")}`, "--innodb-buffer-pool-size=512M", ...(isRoot ? ["--user=root"] : [])],
      { stdio: "ignore" },
    ),
  );
  await waitFor(() => pg("postgres", "SELECT 1"));
  await waitFor(() => mdb("SELECT 1"));
}

/** Writes the data set into a new SQLite file; returns the number of rows. */
function generate(path: string): number {
  const db = new Database(path);
  db.pragma("journal_mode = OFF");
  db.pragma("synchronous = OFF");
  db.exec(`
    CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(100) NOT NULL, active BOOLEAN NOT NULL,
      balance DECIMAL(12,2), score DOUBLE, created_at TIMESTAMP, seen_at TIMESTAMPTZ, birthday DATE, avatar BLOB,
      referrer_id INTEGER REFERENCES customers(id));
    CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, customer_id INTEGER NOT NULL REFERENCES customers(id),
      total DECIMAL(10,2) NOT NULL, quantity SMALLINT, placed_at TIMESTAMPTZ NOT NULL, note TEXT);
    CREATE TABLE events (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), big BIGINT, payload TEXT, digest BLOB, at TIMESTAMP);
    CREATE TABLE tags (id INTEGER PRIMARY KEY, "order" INTEGER REFERENCES orders(id), "select" VARCHAR(30), "Label" TEXT);
    CREATE INDEX orders_customer ON orders(customer_id);
  `);
  const nc = Math.max(1, Math.floor(ROWS * 0.1));
  const no = Math.floor(ROWS * 0.5);
  const ne = Math.floor(ROWS * 0.35);
  const nt = ROWS - nc - no - ne;
  const words = ["Zoë", "Ωμέγα", "日本語", "emoji 😀", "naïve café", "plain", "tab\tand\nnewline", "back\\slash"];
  const ic = db.prepare("INSERT INTO customers VALUES (?,?,?,?,?,?,?,?,?,?)");
  const io = db.prepare("INSERT INTO orders VALUES (?,?,?,?,?,?)");
  const ie = db.prepare("INSERT INTO events VALUES (?,?,?,?,?,?)");
  const it = db.prepare('INSERT INTO tags VALUES (?,?,?,?)');
  const ts = (i: number) => new Date(Date.UTC(2020, 0, 1) + i * 61_000).toISOString().replace("T", " ").replace("Z", "");
  db.transaction(() => {
    for (let i = 1; i <= nc; i++) {
      ic.run(i, `${words[i % 8]} ${i}`, i % 2, `${i % 100000}.${String(i % 100).padStart(2, "0")}`, i / 7, ts(i), `${ts(i * 3)}+00:00`, `1990-0${1 + (i % 9)}-1${i % 9}`, Buffer.from([i & 255, (i >> 8) & 255, 0, 7]), i > 1 ? 1 + (i % (i - 1)) : null);
    }
    for (let i = 1; i <= no; i++) io.run(i, 1 + (i % nc), `${i % 10000}.${String(i % 100).padStart(2, "0")}`, i % 1000, `${ts(i)}+00:00`, i % 3 ? null : `note ${words[i % 8]}`);
    for (let i = 1; i <= ne; i++) ie.run(i, 1 + (i % nc), BigInt(i) * 4_000_000_007n, `{"kind":"e${i % 13}","n":${i},"text":"${"x".repeat(i % 50)}"}`, Buffer.alloc(16, i & 255), ts(i));
    for (let i = 1; i <= nt; i++) it.run(i, 1 + (i % Math.max(1, no)), `s${i % 97}`, words[i % 8]);
  })();
  db.close();
  return nc + no + ne + nt;
}

async function main() {
  if (spawnSync("sh", ["-c", "command -v pgloader"]).status !== 0) throw new Error("pgloader missing: apt-get install pgloader");
  await startServers();
  const source = join(dir, "source.db");
  log(`generating ${ROWS} rows in ${source} ...`);
  const rows = generate(source);
  const dbstack: number[] = [];
  const pgloader: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const a = `dbstack_${round}`;
    await pg("postgres", `CREATE DATABASE ${a}`);
    let t = Date.now();
    const result = await copyDatabase({ from: `sqlite://${source}`, to: pgUrl(a), batchRows: BATCH, progress: false });
    const ds = (Date.now() - t) / 1000;
    log(`dbstack round=${round} phases: ${Object.entries(result.phases).map(([k, v]) => `${k}=${v.toFixed(2)}s`).join(" ")}`);
    dbstack.push(rows / ds);
    console.log(`dbstack round=${round} seconds=${ds.toFixed(2)} rows/s=${Math.round(rows / ds)} (verification included)`);
    await pg("postgres", `DROP DATABASE ${a}`);

    const b = `pgloader_${round}`;
    await pg("postgres", `CREATE DATABASE ${b}`);
    t = Date.now();
    const r = spawnSync("pgloader", [`sqlite://${source}`, pgUrl(b)], { encoding: "utf8" });
    const ps = (Date.now() - t) / 1000;
    if (r.status !== 0) throw new Error(`pgloader failed: ${r.stderr || r.stdout}`);
    const loaded = Number((await pg(b, "SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM orders) + (SELECT count(*) FROM events) + (SELECT count(*) FROM tags) AS n"))[0].n);
    if (loaded !== rows) throw new Error(`pgloader loaded ${loaded} rows of ${rows}`);
    pgloader.push(rows / ps);
    console.log(`pgloader round=${round} seconds=${ps.toFixed(2)} rows/s=${Math.round(rows / ps)}`);
    await pg("postgres", `DROP DATABASE ${b}`);
  }
  console.log(`dbstack median rows/s=${Math.round(median(dbstack))}; pgloader median rows/s=${Math.round(median(pgloader))}`);

  const { dbstack: toMariadb, bare } = await mariadbRounds(source, rows);
  await pg("postgres", "CREATE DATABASE back");
  await copyDatabase({ from: `sqlite://${source}`, to: pgUrl("back"), batchRows: BATCH, progress: false });
  const t = Date.now();
  await copyDatabase({ from: pgUrl("back"), to: `sqlite://${join(dir, "back.db")}`, batchRows: BATCH, progress: false });
  const s = (Date.now() - t) / 1000;
  console.log(`postgres->sqlite seconds=${s.toFixed(2)} rows/s=${Math.round(rows / s)} (verification included)`);
  console.log(`copy_ratio=${(median(dbstack) / median(pgloader)).toFixed(3)}`);
  console.log(`copy_mariadb_ratio=${(median(toMariadb) / median(bare)).toFixed(3)}`);
}

const TABLES = ["customers", "orders", "events", "tags"];

/**
 * SQLite -> MariaDB: db:copy (schema, data, constraints, counters and verification, all timed)
 * against the bare load of the same rows into the same tables — `LOAD DATA INFILE` of the files
 * MariaDB itself wrote from db:copy's first result (`SELECT ... INTO OUTFILE`, not timed), into
 * `CREATE TABLE ... LIKE` copies (keys and indexes, no foreign keys), alternating, --rounds rounds.
 */
async function mariadbRounds(source: string, rows: number): Promise<{ dbstack: number[]; bare: number[] }> {
  const dbstack: number[] = [];
  const bare: number[] = [];
  const outfile = (table: string) => join(dir, `mariadb-${table}.tsv`);
  for (let round = 1; round <= ROUNDS; round++) {
    const a = `dbstack_${round}`;
    await mdb(`CREATE DATABASE ${a} CHARACTER SET utf8mb4`);
    let t = Date.now();
    await copyDatabase({ from: `sqlite://${source}`, to: `mysql://root@127.0.0.1:${MDB_PORT}/${a}`, batchRows: BATCH, progress: false });
    const ds = (Date.now() - t) / 1000;
    dbstack.push(rows / ds);
    console.log(`sqlite->mariadb dbstack round=${round} seconds=${ds.toFixed(2)} rows/s=${Math.round(rows / ds)} (verification included)`);
    if (round === 1) for (const table of TABLES) await mdb(`SELECT * FROM ${a}.\`${table}\` INTO OUTFILE '${outfile(table)}'`);

    const b = `bare_${round}`;
    await mdb(`CREATE DATABASE ${b} CHARACTER SET utf8mb4`);
    t = Date.now();
    for (const table of TABLES) await mdb(`CREATE TABLE ${b}.\`${table}\` LIKE ${a}.\`${table}\``);
    for (const table of TABLES) await mdb(`LOAD DATA INFILE '${outfile(table)}' INTO TABLE ${b}.\`${table}\``);
    const bs = (Date.now() - t) / 1000;
    const [loaded] = await mdbRows(`SELECT ${TABLES.map((x) => `(SELECT count(*) FROM ${b}.\`${x}\`)`).join(" + ")} AS n`);
    if (Number(loaded.n) !== rows) throw new Error(`LOAD DATA loaded ${String(loaded.n)} rows of ${rows}`);
    bare.push(rows / bs);
    console.log(`sqlite->mariadb load-data round=${round} seconds=${bs.toFixed(2)} rows/s=${Math.round(rows / bs)}`);
    await mdb(`DROP DATABASE ${a}`);
    await mdb(`DROP DATABASE ${b}`);
  }
  console.log(`sqlite->mariadb dbstack median rows/s=${Math.round(median(dbstack))}; LOAD DATA median rows/s=${Math.round(median(bare))}`);
  return { dbstack, bare };
}

main().then(
  () => {
    cleanup();
    process.exit(0);
  },
  (err: Error) => {
    log(`bench:copy: ${err.message}`);
    cleanup();
    process.exit(1);
  },
);
