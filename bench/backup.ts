// npm run bench:backup -- [--rounds 3] [--size-mb 1024]
//
// dbstack's PostgreSQL backup and restore tools against the bare tools they wrap, on one
// PostgreSQL 15 cluster of the benchmark's own (pg_createcluster 15 bench_backup --port 5601, with
// dbstack's tuning for this host in conf.d, as a deployment would have it):
//
//   data     one database "app" owned by role "app", about --size-mb MB (pg_database_size) of
//            generated tables with mixed types: customers (bigint, text, char, timestamptz,
//            numeric, boolean) and orders (bigint, timestamptz, text, numeric, integer, uuid,
//            free text, jsonb) with a foreign key and two secondary indexes. Not pgbench: its
//            tables are mostly blank padding, which compresses to almost nothing and would hide
//            the cost of compression.
//   tools    `backup` and `restore` rendered by components/engines/postgres/backupScripts.ts from
//            the spec PostgresCluster passes for `backup: { dir }` with every other field at its
//            default (no GPG, no off-host copy, 30 days' retention), installed into a temp tools
//            directory by the component's own renderInstallTools (bench/lib/backupTools.ts).
//   backup   dbstack: `<tools>/backup` (globals, pg_dump, archive, 0600, retention), timed until it
//            exits; bare: `runuser -u postgres -- pg_dump --format=custom --dbname=app > FILE`,
//            the dump the tool wraps, with the same binary and socket.
//   restore  dbstack: `<tools>/restore app --into NEW FILE` with the backup of the same round;
//            bare: createdb -O app -T template0 NEW, then `pg_restore --exit-on-error --dbname=NEW
//            < FILE` (one job, as the tool runs it) from the bare dump of the same round.
//
// Each round runs dbstack then bare, the next round bare then dbstack (so a drift in the machine
// or the page cache falls on both alike), backups first, then restores. Before every timed step
// `sync` and a CHECKPOINT, so no step pays for the previous one's dirty pages. Every restored
// database is compared with the source (row counts, sums, indexes) before it is dropped: a
// restore that lost data cannot win.
//
// Output: stdout gets one line per timed step as it finishes ("backup dbstack round=1
// seconds=12.34 bytes=..."), the median per step and tool, and, after cleanup, exactly one line
//   backup_ratio=<dbstack/pg_dump> restore_ratio=<dbstack/pg_restore>
// (ratios of the medians). Progress goes to stderr. The cluster and the temp dir (tools, backups,
// dumps) are removed in every case, also on failure, Ctrl-C or SIGTERM.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "fs";
import { availableParallelism, tmpdir, totalmem } from "os";
import { join } from "path";
import { performance } from "perf_hooks";
import { parseArgs } from "util";
import { computeTuning, renderTuningConf } from "../components/engines/postgres/tuning";
import { renderBenchTools } from "./lib/backupTools";
import { adminSql, clusterLeftovers, clusterRegistered, ctlCluster, dropCluster, PG_VERSION, portProblem, SOCKET_DIR, type Ctx } from "./lib/pg";
import { run } from "./lib/proc";
import { benchOptions, watchInterrupts, wholeOption } from "./lib/start";
import { median } from "./lib/stats";

/** The benchmark's own cluster and port (no test or other bench uses 5601). */
const CLUSTER = "bench_backup";
const PORT = 5601;
const DATABASE = "app";
const OWNER = "app";
/** The deployment's name: backup files are bench-<UTC time>.tar.gz. */
const NAME = "bench";
/** The conf.d file with dbstack's tuning (pg_createcluster's postgresql.conf includes conf.d). */
const TUNING_CONF = `/etc/postgresql/${PG_VERSION}/${CLUSTER}/conf.d/05-dbstack-tuning.conf`;

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

interface Options {
  rounds: number;
  sizeMb: number;
}

const USAGE = `usage: npm run bench:backup -- [--rounds N] [--size-mb MB]
  defaults: --rounds 3 --size-mb 1024`;


function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string", default: "3" },
      "size-mb": { type: "string", default: "1024" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return undefined;
  return { rounds: wholeOption("rounds", values.rounds!, 1, 50), sizeMb: wholeOption("size-mb", values["size-mb"]!, 16, 100_000) };
}

/** The tables, without their secondary indexes (built after the load, as a restore does). */
const SCHEMA = `
CREATE TABLE customers (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL,
  country char(2) NOT NULL,
  created_at timestamptz NOT NULL,
  balance numeric(12,2) NOT NULL,
  active boolean NOT NULL
);
CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers (id),
  placed_at timestamptz NOT NULL,
  status text NOT NULL,
  total numeric(12,2) NOT NULL,
  quantity integer NOT NULL,
  reference uuid NOT NULL,
  note text,
  attributes jsonb NOT NULL
);`;

const CUSTOMERS = 200_000;
/** Orders inserted per statement while the database grows to its size. */
const ORDERS_BATCH = 250_000;

/** A batch of orders: a mix of repetitive and random values, as real rows have. */
const INSERT_ORDERS = `
INSERT INTO orders (customer_id, placed_at, status, total, quantity, reference, note, attributes)
SELECT 1 + floor(random() * ${CUSTOMERS})::bigint,
       timestamptz '2024-01-01' + random() * interval '700 days',
       (ARRAY['new', 'paid', 'shipped', 'delivered', 'returned'])[1 + floor(random() * 5)::int],
       round((random() * 900 + 5)::numeric, 2),
       1 + floor(random() * 20)::int,
       gen_random_uuid(),
       CASE WHEN random() < 0.6 THEN 'deliver to ' || md5(random()::text) || ', floor ' || floor(random() * 30)::int || '; call before arrival' END,
       jsonb_build_object('channel', (ARRAY['web', 'app', 'phone', 'store'])[1 + floor(random() * 4)::int],
                          'items', 1 + floor(random() * 9)::int,
                          'coupon', CASE WHEN random() < 0.2 THEN upper(substr(md5(random()::text), 1, 10)) END,
                          'gift', random() < 0.1)
FROM generate_series(1, ${ORDERS_BATCH});`;

/** What a faithful restore reproduces: row counts, sums over every column kind, the indexes. */
const FINGERPRINT = `SELECT concat_ws(' ',
  (SELECT count(*) FROM customers), (SELECT sum(balance) FROM customers), (SELECT count(*) FILTER (WHERE active) FROM customers),
  (SELECT count(*) FROM orders), (SELECT sum(total) FROM orders), (SELECT sum(quantity) FROM orders),
  (SELECT sum(length(note)) FROM orders), (SELECT count(*) FROM orders WHERE attributes ? 'coupon' AND attributes->>'coupon' IS NOT NULL),
  (SELECT max(reference::text) FROM orders),
  (SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'));`;

/** Creates the role, the database and its data: orders are added until the database has sizeMb. */
async function generate(ctx: Ctx, sizeMb: number): Promise<string> {
  await adminSql(ctx, PORT, "postgres", `CREATE ROLE ${OWNER} LOGIN;\nCREATE DATABASE ${DATABASE} OWNER ${OWNER};`);
  await adminSql(
    ctx,
    PORT,
    DATABASE,
    `SET ROLE ${OWNER};\n${SCHEMA}\nINSERT INTO customers SELECT g, 'Customer ' || g, 'customer' || g || '@example.com', (ARRAY['BR','PT','US','DE','FR','JP'])[1 + g % 6],
       timestamptz '2020-01-01' + (g % 1500) * interval '1 day', round((random() * 10000)::numeric, 2), g % 7 <> 0 FROM generate_series(1, ${CUSTOMERS}) g;`,
  );
  // The two secondary indexes, built after the load, add about an eighth: the tables are filled
  // to 88% of the size (one batch is ~57 MB, so the result lands within ~6% of --size-mb).
  const heapTarget = sizeMb * 0.88 * 1048576;
  for (;;) {
    const size = Number(await adminSql(ctx, PORT, DATABASE, "SELECT pg_database_size(current_database());"));
    if (size >= heapTarget) break;
    log(`data: ${Math.round(size / 1048576)} MB of ${sizeMb} MB`);
    await adminSql(ctx, PORT, DATABASE, `SET ROLE ${OWNER};\n${INSERT_ORDERS}`, 900_000);
  }
  await adminSql(
    ctx,
    PORT,
    DATABASE,
    `SET ROLE ${OWNER};\nCREATE INDEX orders_customer_id ON orders (customer_id);\nCREATE INDEX orders_placed_at ON orders (placed_at);\nRESET ROLE;\nVACUUM ANALYZE;`,
    900_000,
  );
  return adminSql(
    ctx,
    PORT,
    DATABASE,
    "SELECT pg_size_pretty(pg_database_size(current_database())) || ' (' || pg_database_size(current_database()) || ' bytes), ' || (SELECT count(*) FROM customers) || ' customers, ' || (SELECT count(*) FROM orders) || ' orders';",
  );
}

/** Writes dirty pages out (the OS's and PostgreSQL's) so the next timed step starts clean. */
async function settle(ctx: Ctx): Promise<void> {
  await adminSql(ctx, PORT, "postgres", "CHECKPOINT;");
  await run("sync", [], { timeoutMs: 300_000, signal: ctx.signal });
}

/** Runs a program and returns its wall-clock seconds and output. */
async function timed(ctx: Ctx, file: string, args: string[]): Promise<{ seconds: number; stdout: string }> {
  const start = performance.now();
  const { stdout } = await run(file, args, { timeoutMs: 3_600_000, signal: ctx.signal });
  return { seconds: (performance.now() - start) / 1000, stdout };
}

/** The bare tools, as the dbstack scripts call them (the same binaries, socket and user). */
const BARE_DUMP = `runuser -u postgres -- pg_dump -h ${SOCKET_DIR} -p ${PORT} --format=custom --dbname=${DATABASE} > "$1"`;
const BARE_RESTORE = [
  `runuser -u postgres -- createdb -h ${SOCKET_DIR} -p ${PORT} --owner=${OWNER} --template=template0 "$2"`,
  `runuser -u postgres -- pg_restore -h ${SOCKET_DIR} -p ${PORT} --exit-on-error --dbname="$2" < "$1"`,
].join(" && ");

type Tool = "dbstack" | "bare";
type Step = "backup" | "restore";
const LABEL: Record<Step, Record<Tool, string>> = {
  backup: { dbstack: "dbstack", bare: "pg_dump" },
  restore: { dbstack: "dbstack", bare: "pg_restore" },
};

async function main(): Promise<number> {
  const parsed = benchOptions(parseOptions, USAGE, "pg_createcluster, runuser, and dbstack's tools", log);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  const interrupts = watchInterrupts(log);
  const ctx: Ctx = { signal: interrupts.signal };
  const check = interrupts.check;

  // mkdtemp makes it 0700: the backup directory inside it passes the tool's private-directory check.
  const temp = mkdtempSync(join(tmpdir(), "dbstack-bench-backup-"));
  const toolsDir = join(temp, "tools");
  const backupDir = join(temp, "backups");
  const bareDir = join(temp, "bare");
  mkdirSync(bareDir, { mode: 0o700 });
  let ours = false;
  const times: Record<Step, Record<Tool, number[]>> = { backup: { dbstack: [], bare: [] }, restore: { dbstack: [], bare: [] } };
  let failed = false;
  try {
    const left = clusterLeftovers(CLUSTER);
    if (left.length > 0) {
      throw new Error(
        `cluster ${PG_VERSION}/${CLUSTER} already exists or left files (${left.join(", ")}), from an earlier run?; remove it with: ` +
          `${clusterRegistered(CLUSTER) ? `pg_dropcluster --stop ${PG_VERSION} ${CLUSTER}; ` : ""}rm -rf ${left.join(" ")}`,
      );
    }
    const problem = await portProblem(PORT);
    if (problem) throw new Error(problem);

    log(`pg_createcluster ${PG_VERSION} ${CLUSTER} --port ${PORT}, with dbstack's tuning for this host (oltp, 100 connections)`);
    ours = true;
    await run("pg_createcluster", [String(PG_VERSION), CLUSTER, "--port", String(PORT)], { timeoutMs: 180_000, signal: ctx.signal });
    const tuning = computeTuning(
      { memoryMb: Math.floor(totalmem() / 1048576), cpus: availableParallelism(), storage: "ssd" },
      { workload: "oltp", maxConnections: 100, version: PG_VERSION, overrides: {} },
    );
    writeFileSync(TUNING_CONF, renderTuningConf(tuning), { mode: 0o644 });
    await ctlCluster(ctx, CLUSTER, "start");
    check();

    log(`generating about ${o.sizeMb} MB of mixed-type data in database ${DATABASE}`);
    log(`database ${DATABASE}: ${await generate(ctx, o.sizeMb)}`);
    const source = await adminSql(ctx, PORT, DATABASE, FINGERPRINT);
    check();

    await run("bash", ["-s"], {
      input: renderBenchTools({ name: NAME, version: PG_VERSION, cluster: CLUSTER, port: PORT, databases: [DATABASE], backupDir, toolsDir }),
      timeoutMs: 60_000,
      signal: ctx.signal,
    });
    log(`installed dbstack's backup and restore tools in ${toolsDir}; backups go to ${backupDir}`);

    const verify = async (db: string, what: string) => {
      const got = await adminSql(ctx, PORT, db, FINGERPRINT);
      if (got !== source) throw new Error(`${what}: database ${db} differs from ${DATABASE}:\n  source   ${source}\n  restored ${got}`);
      await adminSql(ctx, PORT, "postgres", `DROP DATABASE "${db}";`);
    };
    const record = (step: Step, tool: Tool, round: number, seconds: number, extra = "") => {
      times[step][tool].push(seconds);
      console.log(`${step} ${LABEL[step][tool]} round=${round} seconds=${seconds.toFixed(2)}${extra}`);
    };

    for (let round = 1; round <= o.rounds; round++) {
      const order: Tool[] = round % 2 === 1 ? ["dbstack", "bare"] : ["bare", "dbstack"];
      const bareFile = join(bareDir, `${DATABASE}-${round}.dump`);
      let backupFile = "";
      for (const tool of order) {
        await settle(ctx);
        check();
        if (tool === "dbstack") {
          const r = await timed(ctx, join(toolsDir, "backup"), []);
          const ok = /backup ok: (\S+) \((\d+) bytes\)/.exec(r.stdout);
          if (!ok) throw new Error(`dbstack backup: no "backup ok" line in its output:\n${r.stdout}`);
          backupFile = ok[1];
          const mode = statSync(backupFile).mode & 0o777;
          if (mode !== 0o600) throw new Error(`dbstack backup: ${backupFile} has mode ${mode.toString(8)}, not 600`);
          record("backup", tool, round, r.seconds, ` bytes=${ok[2]}`);
        } else {
          const r = await timed(ctx, "bash", ["-c", BARE_DUMP, "bare-dump", bareFile]);
          record("backup", tool, round, r.seconds, ` bytes=${statSync(bareFile).size}`);
        }
      }
      for (const tool of order) {
        await settle(ctx);
        check();
        const into = `${DATABASE}_r${round}_${tool}`;
        if (tool === "dbstack") {
          const r = await timed(ctx, join(toolsDir, "restore"), [DATABASE, "--into", into, backupFile]);
          record("restore", tool, round, r.seconds);
        } else {
          const r = await timed(ctx, "bash", ["-c", BARE_RESTORE, "bare-restore", bareFile, into]);
          record("restore", tool, round, r.seconds);
        }
        await verify(into, `${LABEL.restore[tool]} restore, round ${round}`);
      }
      // The files of this round are no longer needed: keep the disk use at one round's.
      rmSync(bareFile, { force: true });
      rmSync(backupFile, { force: true });
    }
    log(`every restored database matched the source (${source.split(" ").slice(0, 4).join(" ")} ...)`);
    for (const step of ["backup", "restore"] as const) {
      for (const tool of ["dbstack", "bare"] as const) {
        const xs = times[step][tool];
        console.log(`${step} ${LABEL[step][tool]} median_s=${median(xs).toFixed(2)} runs=${xs.map((x) => x.toFixed(2)).join(",")}`);
      }
    }
  } catch (err) {
    failed = true;
    log(`failed: ${(err as Error).message.trim().split("\n").slice(-20).join("\n")}`);
  } finally {
    await cleanup(ours, temp);
  }
  const interruptedExit = interrupts.exitCode();
  if (interruptedExit !== undefined) return interruptedExit;
  if (failed) return 1;
  const ratio = (step: Step) => (median(times[step].dbstack) / median(times[step].bare)).toFixed(2);
  console.log(`backup_ratio=${ratio("backup")} restore_ratio=${ratio("restore")}`);
  return 0;
}

/** Drops the cluster if this run created it, removes what pg_dropcluster leaves, and the temp dir. */
async function cleanup(ours: boolean, temp: string): Promise<void> {
  const step = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      log(`cleanup: ${what} failed: ${(err as Error).message.trim().split("\n").slice(-10).join("\n")}`);
    }
  };
  if (ours) {
    await step(`pg_dropcluster --stop ${PG_VERSION} ${CLUSTER}`, async () => {
      if (clusterRegistered(CLUSTER)) {
        await dropCluster(CLUSTER);
        log(`dropped cluster ${PG_VERSION}/${CLUSTER}`);
      }
      // The tuning file in conf.d, which pg_dropcluster leaves: this run created the directory.
      for (const dir of clusterLeftovers(CLUSTER)) {
        rmSync(dir, { recursive: true, force: true });
        log(`removed ${dir}`);
      }
    });
  }
  await step(`removing ${temp}`, async () => rmSync(temp, { recursive: true, force: true }));
  log("cleaned up: cluster and temp dir (tools, backups, dumps) removed");
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  },
);
