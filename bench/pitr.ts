// npm run bench:pitr -- [--rounds 3] [--size-mb 1024] [--archive-timeout 15]
//
// dbstack's point-in-time recovery (pgBackRest) against bare pgBackRest with the same options, on
// a PostgreSQL 15 cluster of the benchmark's own (pg_createcluster 15 bench_pitr --port 6590):
//
//   data     one database "app", about --size-mb MB of generated mixed-type rows (orders: bigint,
//            timestamptz, text, numeric, integer, uuid, free text, jsonb) with two indexes.
//   setup    dbstack's setup step as a deployment with `pitr: { archiveTimeoutS }` renders it
//            (components/engines/postgres/pitrScripts.ts): the encrypted repository (a generated
//            secret in the environment), archive_command, the first full backup; the tools
//            installed by the component's own renderInstallTools.
//   backup   dbstack: `<tools>/pitr-backup full` (pgBackRest backup, then a restore point, the
//            figures of every database, a WAL switch, figures of expired backups removed);
//            bare: `pgbackrest --config=<the same file> --stanza=<the same> --type=full backup`.
//   restore  to the latest archived WAL, into a new directory, until the instance accepts writes:
//            dbstack: `<tools>/pitr-restore --to-latest --into DIR --port P`; bare: `pgbackrest
//            restore --pg1-path=DIR` with the same configuration, then the same minimal
//            postgresql.conf, `pg_ctl start -w` and waiting until recovery has ended (what a
//            restore to latest is before anyone can use it).
//   rpo      rows written continuously (one every 50 ms, each stamped with its commit time) for
//            2.5 archive timeouts, then the cluster is killed (`stop -m immediate`: no final
//            WAL switch); restore to latest; rpo_s = last acknowledged row's time minus the
//            newest restored row's time.
//
// Rounds alternate the order (dbstack first, then bare first). Every restored instance is
// compared with the source (row count and sums) before it is removed. stdout: one line per timed
// step, the medians, and, after cleanup, exactly one line
//   pitr_backup_ratio=<dbstack/bare> pitr_restore_ratio=<dbstack/bare> rpo_s=<measured>
// The cluster, the repository, the pgBackRest logs and the temp dir are removed in every case.
import { randomBytes } from "crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { performance } from "perf_hooks";
import { parseArgs } from "util";
import { PITR_CIPHER_VARIABLE, renderPitrBackup, renderPitrDrill, renderPitrRestore, renderPitrSetup, type PostgresPitrSpec } from "../components/engines/postgres/pitrScripts";
import { renderShippedScript } from "../components/targets/hostFiles";
import { renderInstallTools } from "../components/targets/tools";
import { adminSql, clusterLeftovers, clusterRegistered, ctlCluster, dropCluster, PG_BIN, PG_VERSION, portProblem, SOCKET_DIR, type Ctx } from "./lib/pg";
import { run } from "./lib/proc";
import { benchOptions, watchInterrupts, wholeOption } from "./lib/start";
import { median } from "./lib/stats";

const CLUSTER = "bench_pitr";
const PORT = 6590;
const RESTORE_PORT = 6591;
const DATABASE = "app";
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

interface Options {
  rounds: number;
  sizeMb: number;
  archiveTimeoutS: number;
}

const USAGE = `usage: npm run bench:pitr -- [--rounds N] [--size-mb MB] [--archive-timeout S]
  defaults: --rounds 3 --size-mb 1024 --archive-timeout 15`;

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string", default: "3" },
      "size-mb": { type: "string", default: "1024" },
      "archive-timeout": { type: "string", default: "15" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return undefined;
  return {
    rounds: wholeOption("rounds", values.rounds!, 1, 50),
    sizeMb: wholeOption("size-mb", values["size-mb"]!, 16, 100_000),
    archiveTimeoutS: wholeOption("archive-timeout", values["archive-timeout"]!, 5, 3600),
  };
}

const SCHEMA = `CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id bigint NOT NULL, placed_at timestamptz NOT NULL,
  status text NOT NULL, total numeric(12,2) NOT NULL, quantity integer NOT NULL, reference uuid NOT NULL, note text, attributes jsonb NOT NULL);
CREATE TABLE ticks (n bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());`;
const INSERT_ORDERS = `INSERT INTO orders (customer_id, placed_at, status, total, quantity, reference, note, attributes)
SELECT 1 + floor(random() * 200000)::bigint, timestamptz '2024-01-01' + random() * interval '700 days',
       (ARRAY['new', 'paid', 'shipped', 'delivered', 'returned'])[1 + floor(random() * 5)::int], round((random() * 900 + 5)::numeric, 2),
       1 + floor(random() * 20)::int, gen_random_uuid(),
       CASE WHEN random() < 0.6 THEN 'deliver to ' || md5(random()::text) || ', floor ' || floor(random() * 30)::int END,
       jsonb_build_object('channel', (ARRAY['web', 'app', 'phone', 'store'])[1 + floor(random() * 4)::int], 'items', 1 + floor(random() * 9)::int, 'gift', random() < 0.1)
FROM generate_series(1, 250000);`;
const FINGERPRINT = "SELECT concat_ws(' ', (SELECT count(*) FROM orders), (SELECT sum(total) FROM orders), (SELECT sum(quantity) FROM orders), (SELECT max(reference::text) FROM orders))";

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

/** The bare restore's start: the same minimal configuration pitr-restore writes, pg_ctl, recovery's end. */
const BARE_START = [
  'd=$1; p=$2',
  `printf "listen_addresses = ''\\nunix_socket_directories = '${SOCKET_DIR}'\\narchive_mode = off\\nshared_buffers = 128MB\\nport = %s\\nhba_file = '%s/pg_hba.conf'\\nident_file = '%s/pg_ident.conf'\\n" "$p" "$d" "$d" > "$d/postgresql.conf"`,
  "printf 'local all postgres peer\\nlocal all all peer\\n' > \"$d/pg_hba.conf\"; : > \"$d/pg_ident.conf\"",
  `ctl=$(runuser -u postgres -- ${PG_BIN}/pg_controldata "$d")`,
  'for s in max_connections:max_connections max_worker_processes:max_worker_processes max_wal_senders:max_wal_senders max_prepared_transactions:max_prepared_xacts max_locks_per_transaction:max_locks_per_xact; do printf "%s = %s\\n" "${s%%:*}" "$(sed -n "s/^${s#*:} setting: *//p" <<<"$ctl")" >> "$d/postgresql.conf"; done',
  'chown postgres:postgres "$d/postgresql.conf" "$d/pg_hba.conf" "$d/pg_ident.conf"',
  `runuser -u postgres -- ${PG_BIN}/pg_ctl -D "$d" -l "$d/log" -w -t 3600 start >/dev/null`,
  `until [ "$(runuser -u postgres -- psql -X -tA -h ${SOCKET_DIR} -p "$p" -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do sleep 0.2; done`,
].join("\n");

async function main(): Promise<number> {
  const parsed = benchOptions(parseOptions, USAGE, "pg_createcluster, pgbackrest, runuser", log);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  const interrupts = watchInterrupts(log);
  const ctx: Ctx = { signal: interrupts.signal };
  const check = interrupts.check;
  const temp = mkdtempSync(join(tmpdir(), "dbstack-bench-pitr-"));
  const toolsDir = join(temp, "tools");
  const spec: PostgresPitrSpec = {
    version: PG_VERSION,
    cluster: CLUSTER,
    port: PORT,
    name: "bench",
    stanza: "dbstack-bench-pitr",
    confFile: join(temp, "etc", "pgbackrest.conf"),
    dir: join(temp, "repo"),
    archiveTimeoutS: o.archiveTimeoutS,
    retentionFull: 99,
    encrypt: true,
    databases: [DATABASE],
    drillHistory: 30,
  };
  const sh = (script: string, args: string[] = [], env: Record<string, string> = {}, timeoutMs = 3_600_000) => run("bash", ["-c", script, "bench", ...args], { timeoutMs, signal: ctx.signal, env });
  const pgb = `runuser -u postgres -- pgbackrest --config=${spec.confFile} --stanza=${spec.stanza}`;
  const times = { backup: { dbstack: [] as number[], bare: [] as number[] }, restore: { dbstack: [] as number[], bare: [] as number[] } };
  let rpo = NaN;
  let ours = false;
  let failed = false;
  try {
    const left = clusterLeftovers(CLUSTER);
    if (left.length > 0) throw new Error(`cluster ${PG_VERSION}/${CLUSTER} already exists or left files (${left.join(", ")}); remove it with: pg_dropcluster --stop ${PG_VERSION} ${CLUSTER}; rm -rf ${left.join(" ")}`);
    for (const p of [PORT, RESTORE_PORT]) {
      const problem = await portProblem(p);
      if (problem) throw new Error(problem);
    }
    ours = true;
    await run("pg_createcluster", [String(PG_VERSION), CLUSTER, "--port", String(PORT)], { timeoutMs: 180_000, signal: ctx.signal });
    await ctlCluster(ctx, CLUSTER, "start");
    // temp is 0700 root: postgres must reach the repository and its configuration under it.
    await sh(`chmod 711 ${temp}`);
    await adminSql(ctx, PORT, "postgres", `CREATE DATABASE ${DATABASE};`);
    await adminSql(ctx, PORT, DATABASE, SCHEMA);
    for (;;) {
      const size = Number(await adminSql(ctx, PORT, DATABASE, "SELECT pg_database_size(current_database());"));
      if (size >= o.sizeMb * 0.9 * 1048576) break;
      log(`data: ${Math.round(size / 1048576)} MB of ${o.sizeMb} MB`);
      await adminSql(ctx, PORT, DATABASE, INSERT_ORDERS, 900_000);
      check();
    }
    await adminSql(ctx, PORT, DATABASE, "CREATE INDEX ON orders (customer_id); CREATE INDEX ON orders (placed_at); VACUUM ANALYZE;", 900_000);
    log(`database ${DATABASE}: ${await adminSql(ctx, PORT, DATABASE, "SELECT pg_size_pretty(pg_database_size(current_database()))")}`);
    const source = await adminSql(ctx, PORT, DATABASE, FINGERPRINT);

    const install = renderInstallTools(toolsDir, [
      ["pitr-backup", renderPitrBackup(spec)],
      ["pitr-restore", renderPitrRestore(spec)],
      ["pitr-drill", renderPitrDrill(spec)],
    ]);
    await run("bash", ["-s"], { input: renderShippedScript(install.files, install.script).toString("utf8"), timeoutMs: 60_000, signal: ctx.signal });
    log("dbstack's setup step: encrypted repository, archiving, first full backup");
    await run("bash", ["-s"], { input: renderPitrSetup(spec, toolsDir), timeoutMs: 3_600_000, signal: ctx.signal, env: { [PITR_CIPHER_VARIABLE]: randomBytes(32).toString("hex") } });
    check();

    const settle = async () => {
      await adminSql(ctx, PORT, "postgres", "CHECKPOINT;");
      await run("sync", [], { timeoutMs: 300_000, signal: ctx.signal });
    };
    const verifyAndRemove = async (dir: string, what: string) => {
      const got = await adminSql(ctx, RESTORE_PORT, DATABASE, FINGERPRINT);
      await sh(`runuser -u postgres -- ${PG_BIN}/pg_ctl -D "$1" -m immediate stop >/dev/null; rm -rf "$1"`, [dir]);
      if (got !== source) throw new Error(`${what}: the restored database differs:\n  source   ${source}\n  restored ${got}`);
    };
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 === 1 ? (["dbstack", "bare"] as const) : (["bare", "dbstack"] as const);
      for (const tool of order) {
        await settle();
        check();
        const s = await timed(() => (tool === "dbstack" ? run(join(toolsDir, "pitr-backup"), ["full"], { timeoutMs: 3_600_000, signal: ctx.signal }) : sh(`${pgb} --log-level-console=warn --type=full backup`)));
        times.backup[tool].push(s);
        console.log(`backup ${tool} round=${round} seconds=${s.toFixed(2)}`);
      }
      for (const tool of order) {
        await settle();
        check();
        const dir = join(temp, `restored-${round}-${tool}`);
        const s = await timed(() =>
          tool === "dbstack"
            ? run(join(toolsDir, "pitr-restore"), ["--to-latest", "--into", dir, "--port", String(RESTORE_PORT)], { timeoutMs: 3_600_000, signal: ctx.signal })
            : sh(`install -d -o postgres -g postgres -m 0700 "$1" && ${pgb} --log-level-console=warn --pg1-path="$1" --type=default restore && ${BARE_START}`, [dir, String(RESTORE_PORT)]),
        );
        times.restore[tool].push(s);
        console.log(`restore ${tool} round=${round} seconds=${s.toFixed(2)}`);
        await verifyAndRemove(dir, `${tool} restore, round ${round}`);
      }
    }

    log(`rpo: writing a row every 50 ms for ${(o.archiveTimeoutS * 2.5).toFixed(0)} s, then killing the cluster`);
    const n = Math.ceil((o.archiveTimeoutS * 2.5) / 0.05);
    await adminSql(ctx, PORT, DATABASE, Array.from({ length: n }, (_, i) => `INSERT INTO ticks (n) VALUES (${i + 1}); SELECT pg_sleep(0.05);`).join("\n"), 3_600_000);
    const lastAck = Number(await adminSql(ctx, PORT, DATABASE, "SELECT extract(epoch FROM max(at)) FROM ticks"));
    await run("pg_ctlcluster", [String(PG_VERSION), CLUSTER, "stop", "-m", "immediate"], { timeoutMs: 180_000, signal: ctx.signal });
    const dir = join(temp, "restored-rpo");
    await run(join(toolsDir, "pitr-restore"), ["--to-latest", "--into", dir, "--port", String(RESTORE_PORT)], { timeoutMs: 3_600_000, signal: ctx.signal });
    const restored = Number(await adminSql(ctx, RESTORE_PORT, DATABASE, "SELECT coalesce(extract(epoch FROM max(at)), 0) FROM ticks"));
    rpo = lastAck - restored;
    console.log(`rpo lost_s=${rpo.toFixed(2)} archive_timeout_s=${o.archiveTimeoutS}`);
    await sh(`runuser -u postgres -- ${PG_BIN}/pg_ctl -D "$1" -m immediate stop >/dev/null; rm -rf "$1"`, [dir]);
    for (const step of ["backup", "restore"] as const) {
      for (const tool of ["dbstack", "bare"] as const) console.log(`${step} ${tool} median_s=${median(times[step][tool]).toFixed(2)} runs=${times[step][tool].map((x) => x.toFixed(2)).join(",")}`);
    }
  } catch (err) {
    failed = true;
    log(`failed: ${(err as Error).message.trim().split("\n").slice(-20).join("\n")}`);
  } finally {
    await cleanup(ours, temp, spec.stanza);
  }
  const interruptedExit = interrupts.exitCode();
  if (interruptedExit !== undefined) return interruptedExit;
  if (failed) return 1;
  const ratio = (step: "backup" | "restore") => (median(times[step].dbstack) / median(times[step].bare)).toFixed(2);
  console.log(`pitr_backup_ratio=${ratio("backup")} pitr_restore_ratio=${ratio("restore")} rpo_s=${rpo.toFixed(1)}`);
  return 0;
}

async function cleanup(ours: boolean, temp: string, stanza: string): Promise<void> {
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      log(`cleanup: ${what} failed: ${(err as Error).message.trim().split("\n").slice(-5).join("\n")}`);
    }
  };
  for (const d of existsSync(temp) ? readdirSync(temp).filter((f) => f.startsWith("restored-")) : []) {
    await step(`stopping ${d}`, () => run("runuser", ["-u", "postgres", "--", `${PG_BIN}/pg_ctl`, "-D", join(temp, d), "-m", "immediate", "stop"], { timeoutMs: 60_000 }).catch(() => undefined));
  }
  if (ours) {
    await step(`pg_dropcluster --stop ${PG_VERSION} ${CLUSTER}`, async () => {
      if (clusterRegistered(CLUSTER)) await dropCluster(CLUSTER);
      for (const dir of clusterLeftovers(CLUSTER)) rmSync(dir, { recursive: true, force: true });
    });
  }
  await step("pgBackRest's logs", async () => {
    for (const f of readdirSync("/var/log/pgbackrest").filter((x) => x.startsWith(`${stanza}-`))) rmSync(join("/var/log/pgbackrest", f), { force: true });
  });
  await step(`removing ${temp}`, async () => rmSync(temp, { recursive: true, force: true }));
  log("cleaned up: cluster, repository, logs and temp dir removed");
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  },
);
