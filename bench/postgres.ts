// npm run bench:postgres -- [--scale 50] [--clients 8] [--threads 2] [--duration 60] [--warmup 5]
//                           [--rounds 2] [--connect socket|tcp] [--verbose]
//
// pgbench on four PostgreSQL 15 clusters on this machine, one running at a time:
//   default  pg_createcluster 15 bench_default --port 5481, the distribution's configuration as
//            pg_createcluster writes it, started with pg_ctlcluster;
//   tuned    bench_tuned on port 5482, deployed by dbstack's PostgreSQL engine through the
//            Automation API on a throwaway stack (own file backend in a temp dir; workload oltp,
//            100 connections, host facts read from this machine);
//   pgtune   bench_pgtune on port 5483: pg_createcluster as for default, plus a conf.d file with
//            PGTune's settings for the same host (bench/lib/pgtune.ts: DB type oltp, this
//            machine's memory and CPUs as dbstack reads them, SSD, the same max_connections);
//   ceiling  bench_ceiling on port 5484, deployed by dbstack on the same stack with the same
//            tuning plus fsync, synchronous_commit and full_page_writes off: what no durable
//            configuration can beat on this machine.
// Each cluster gets pgbench -i -s <scale> -q once. Then, for each round, the clusters in turn
// (default tuned pgtune ceiling, default tuned pgtune ceiling, ...: drift on the machine falls
// on all four alike): start it, a read-write TPC-B run, then a read-only (-S) run with the same
// clients, threads and duration, -M prepared and the same --random-seed, stop it. After each
// start the pgbench tables and indexes are loaded into shared_buffers with pg_prewarm (a server
// in service has its working set cached; a restarted one would be measured cold). Before each
// timed run: a warm-up of the same kind, then VACUUM of branches and tellers, TRUNCATE of the
// history (what pgbench does before a run; the timed run gets -n) and a CHECKPOINT, so every
// cluster starts it from the same state. Only the cluster under test runs; the others are
// stopped. fsync, synchronous_commit and full_page_writes are checked with SHOW: on in default,
// tuned and pgtune, off in ceiling.
//
// Connections (--connect):
//   socket (default)  pgbench as postgres over each cluster's Unix socket (runuser; peer auth):
//                     the same path for all, with no TLS or password hashing in the measurement.
//                     The bench user's password from the stack outputs is still checked once per
//                     dbstack cluster, over TCP with TLS, to prove the deployment is usable.
//   tcp               pgbench over TCP to 127.0.0.1 with sslmode=require: as the bench user with
//                     the password from the stack outputs on the dbstack clusters, and as a bench
//                     role with a generated password on default and pgtune. Passwords reach
//                     pgbench only through PGPASSWORD.
//   Administration (VACUUM, CHECKPOINT, SHOW) always goes as postgres over the socket.
//
// Output: stdout gets one line per timed run as it finishes ("default rw round=1 tps=1234.5 ..."),
// one line per cluster and workload with the mean over the rounds, and, after cleanup, exactly
// one final line
//   tps_ratio_rw=<tuned/default> tps_ratio_ro=<...> pgtune_rw=<tuned/pgtune> pgtune_ro=<...>
//   ceiling_rw=<tuned/ceiling> ceiling_ro=<...>
// (on one line; means over the rounds). Progress goes to stderr. The stack, all four clusters and
// the temp dir are removed in every case, also on failure, Ctrl-C or SIGTERM. All traffic stays
// on local sockets and loopback.
import { randomBytes } from "crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { availableParallelism, tmpdir, totalmem } from "os";
import { join } from "path";
import { parseArgs } from "util";
import { ensurePulumiOnPath } from "../scripts/lib/env";
import { ephemeralStackName } from "../scripts/lib/ephemeralNames";
import {
  adminSql,
  checkDurability,
  clusterLeftovers,
  clusterRegistered,
  ctlCluster,
  dropCluster,
  parsePgbench,
  pgbench,
  PG_VERSION,
  portProblem,
  querySql,
  settingsSummary,
  type ConnectMode,
  type Ctx,
  type Target,
} from "./lib/pg";
import { renderPgtuneConf, type PgtuneInput } from "./lib/pgtune";
import { run } from "./lib/proc";
import { benchOptions, UsageError, watchInterrupts, wholeOption } from "./lib/start";
import { deployTuned, teardownTuned, TUNED_MAX_CONNECTIONS, type TunedStack } from "./lib/tuned";

// The benchmark's own ports (5481-5484): no test uses them (tests use 5432-5434, 5460, 5471-5473,
// 5490, 5499, 5521, 5522, 5563), so a bench can run beside a test run.
const DEFAULT = { label: "default", cluster: "bench_default", port: 5481 };
const TUNED = { label: "tuned", cluster: "bench_tuned", port: 5482 };
const PGTUNE = { label: "pgtune", cluster: "bench_pgtune", port: 5483 };
const CEILING = { label: "ceiling", cluster: "bench_ceiling", port: 5484 };
/** The order of the runs in every round. */
const CLUSTERS = [DEFAULT, TUNED, PGTUNE, CEILING];
/** Created with pg_createcluster (the others are deployed by dbstack). */
const PLAIN = [DEFAULT, PGTUNE];
/** The ceiling's overrides: durability off, the rest of dbstack's tuning unchanged. */
const DURABILITY_OFF = { fsync: "off", synchronous_commit: "off", full_page_writes: "off" };
/** The conf.d file of the pgtune cluster (pg_createcluster's postgresql.conf includes conf.d). */
const PGTUNE_CONF = `/etc/postgresql/${PG_VERSION}/${PGTUNE.cluster}/conf.d/pgtune.conf`;
const DATABASE = "bench";
const USER = "bench";
/** The same pseudo-random sequence on every cluster and in every round. */
const RANDOM_SEED = "20250101";

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

interface Options {
  scale: number;
  clients: number;
  threads: number;
  duration: number;
  warmup: number;
  rounds: number;
  connect: ConnectMode;
  verbose: boolean;
}

const USAGE = `usage: npm run bench:postgres -- [--scale N] [--clients N] [--threads N] [--duration SECONDS] [--warmup SECONDS] [--rounds N] [--connect socket|tcp] [--verbose]
  defaults: --scale 50 --clients 8 --threads 2 --duration 60 --warmup 5 --rounds 2 --connect socket`;

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: "string", default: "50" },
      clients: { type: "string", default: "8" },
      threads: { type: "string", default: "2" },
      duration: { type: "string", default: "60" },
      warmup: { type: "string", default: "5" },
      rounds: { type: "string", default: "2" },
      connect: { type: "string", default: "socket" },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return undefined;
  const opts: Options = {
    scale: wholeOption("scale", values.scale!, 1, 10_000),
    clients: wholeOption("clients", values.clients!, 1, 90),
    threads: wholeOption("threads", values.threads!, 1, 90),
    duration: wholeOption("duration", values.duration!, 1, 3_600),
    warmup: wholeOption("warmup", values.warmup!, 0, 600),
    rounds: wholeOption("rounds", values.rounds!, 1, 100),
    connect: values.connect as ConnectMode,
    verbose: values.verbose!,
  };
  if (opts.connect !== "socket" && opts.connect !== "tcp") throw new UsageError(`--connect: expected socket or tcp, got ${JSON.stringify(values.connect)}`);
  if (opts.threads > opts.clients) throw new UsageError(`--threads (${opts.threads}) must not exceed --clients (${opts.clients})`);
  return opts;
}


type Mode = "rw" | "ro";
/** TPS of every timed run, by cluster label and workload, in round order. */
type Results = Record<string, Record<Mode, number[]>>;

/** The share of all CPUs busy over `ms` (from /proc/stat). */
async function cpuBusy(ms: number): Promise<number> {
  const sample = () => {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
  };
  const a = sample();
  await new Promise((r) => setTimeout(r, ms));
  const b = sample();
  return b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : 0;
}

/**
 * Says so when other work competes for this machine's CPUs (sampled for 2 s while nothing of the
 * benchmark runs): the numbers are then noise.
 */
async function warnIfBusy(when: string): Promise<void> {
  const busy = await cpuBusy(2000);
  if (busy > 0.1) log(`warning: ${Math.round(busy * 100)}% of the CPUs busy with other work ${when}: the machine is not quiet, the results will be noisy`);
}

/** Creates the target's pgbench tables (the cluster is running). */
async function initialize(ctx: Ctx, t: Target, o: Options): Promise<void> {
  if (ctx.signal.aborted) throw new Error("interrupted");
  log(`${t.label}: pgbench -i -s ${o.scale}`);
  await pgbench(ctx, t, ["-i", "-s", String(o.scale), "-q"], (300 + 10 * o.scale) * 1000);
}

/**
 * Loads the pgbench tables and indexes into shared_buffers (as far as they fit) right after a
 * start: each round restarts the cluster (one runs at a time), and a server in service runs with
 * its working set cached, so the large-buffer configurations must not be measured cold. The same
 * for every cluster; with the default 128MB it only cycles the buffers.
 */
async function prewarm(ctx: Ctx, t: Target): Promise<void> {
  await adminSql(
    ctx,
    t.port,
    t.database,
    "CREATE EXTENSION IF NOT EXISTS pg_prewarm;\nSELECT sum(pg_prewarm(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname LIKE 'pgbench\\_%' AND c.relkind IN ('r', 'i');",
  );
}

/** One round on one target (the cluster is running): the read-write, then the read-only workload. */
async function benchmark(ctx: Ctx, t: Target, o: Options, round: number, results: Results): Promise<void> {
  await prewarm(ctx, t);
  await warnIfBusy(`before benchmarking ${t.label} (round ${round})`);
  for (const mode of ["rw", "ro"] as const) {
    if (ctx.signal.aborted) throw new Error("interrupted");
    const common = ["-n", "-c", String(o.clients), "-j", String(o.threads), "-M", "prepared", `--random-seed=${RANDOM_SEED}`, ...(mode === "ro" ? ["-S"] : [])];
    if (o.warmup > 0) {
      log(`${t.label} ${mode}: warm-up ${o.warmup} s`);
      await pgbench(ctx, t, [...common, "-T", String(o.warmup)], (o.warmup + 120) * 1000);
    }
    await adminSql(ctx, t.port, t.database, "VACUUM pgbench_branches;\nVACUUM pgbench_tellers;\nTRUNCATE pgbench_history;\nCHECKPOINT;");
    log(`${t.label} ${mode} round ${round}: ${o.duration} s, ${o.clients} clients, ${o.threads} threads`);
    const stats = parsePgbench(await pgbench(ctx, t, [...common, "-T", String(o.duration)], (o.duration + 120) * 1000));
    if (stats.failed) throw new Error(`${t.label} ${mode}: ${stats.failed} transactions failed`);
    (results[t.label] ??= { rw: [], ro: [] })[mode].push(stats.tps);
    const extra = [stats.latencyMs !== undefined ? `latency_ms=${stats.latencyMs.toFixed(3)}` : "", stats.transactions !== undefined ? `transactions=${stats.transactions}` : ""];
    console.log([`${t.label} ${mode} round=${round} tps=${stats.tps.toFixed(1)}`, ...extra.filter(Boolean)].join(" "));
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * PGTune's input for this host: what dbstack's tuning reads on the local target
 * (components/targets/hostFacts.ts: total memory in whole MiB, available CPUs), its default
 * storage (ssd), workload oltp and the same max_connections.
 */
function pgtuneInput(): PgtuneInput {
  return {
    version: PG_VERSION,
    dbType: "oltp",
    memoryMb: Math.floor(totalmem() / 1048576),
    cpus: availableParallelism(),
    maxConnections: TUNED_MAX_CONNECTIONS,
    storage: "ssd",
  };
}

async function main(): Promise<number> {
  const parsed = benchOptions(parseOptions, USAGE, "pg_createcluster, runuser, and dbstack's local target", log);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  const interrupts = watchInterrupts(log);
  const ctx: Ctx = { signal: interrupts.signal };
  const check = interrupts.check;

  const temp = mkdtempSync(join(tmpdir(), "dbstack-bench-"));
  const stack: TunedStack = { name: ephemeralStackName("bench", new Date()), backend: join(temp, "state"), created: false };
  // Clusters this run created (or was creating): only those are dropped on the way out.
  const ours = new Set<string>();
  const results: Results = {};
  let failed = false;
  try {
    ensurePulumiOnPath();
    for (const c of CLUSTERS) {
      const left = clusterLeftovers(c.cluster);
      if (left.length > 0) {
        throw new Error(
          `cluster ${PG_VERSION}/${c.cluster} already exists or left files (${left.join(", ")}), from an earlier run?; remove it with: ` +
            `${clusterRegistered(c.cluster) ? `pg_dropcluster --stop ${PG_VERSION} ${c.cluster}; ` : ""}rm -rf ${left.join(" ")}`,
        );
      }
      const problem = await portProblem(c.port);
      if (problem) throw new Error(problem);
    }
    log(
      `scale ${o.scale}, ${o.clients} clients, ${o.threads} threads, ${o.duration} s per run (warm-up ${o.warmup} s), ${o.rounds} round(s), connections: ${o.connect}`,
    );

    // 1. default and pgtune: pg_createcluster; pgtune also gets PGTune's settings in conf.d.
    const pgtune = pgtuneInput();
    const passwords: Record<string, string | undefined> = {};
    for (const c of PLAIN) {
      log(`${c.label}: pg_createcluster ${PG_VERSION} ${c.cluster} --port ${c.port}`);
      ours.add(c.cluster);
      await run("pg_createcluster", [String(PG_VERSION), c.cluster, "--port", String(c.port)], { timeoutMs: 180_000, signal: ctx.signal });
      if (c === PGTUNE) {
        writeFileSync(PGTUNE_CONF, renderPgtuneConf(pgtune), { mode: 0o644 });
        log(`pgtune: wrote ${PGTUNE_CONF} for ${JSON.stringify(pgtune)}`);
      }
      await ctlCluster(ctx, c.cluster, "start");
      // The same database and owner as on the dbstack clusters; in tcp mode the role gets a password.
      const password = o.connect === "tcp" ? randomBytes(24).toString("hex") : undefined;
      passwords[c.label] = password;
      await adminSql(ctx, c.port, "postgres", `CREATE ROLE ${USER} LOGIN${password ? ` PASSWORD '${password}'` : ""};\nCREATE DATABASE ${DATABASE} OWNER ${USER};`);
      check();
    }
    // Every PGTune setting is in effect from its file (a later file or a typo would not be).
    const names = renderPgtuneConf(pgtune)
      .split("\n")
      .filter((l) => /^[a-z_]+ = /.test(l))
      .map((l) => l.split(" ")[0]);
    const notFromFile = await adminSql(
      ctx,
      PGTUNE.port,
      "postgres",
      `SELECT coalesce(string_agg(name || ' from ' || coalesce(sourcefile, source), ', '), '') FROM pg_settings
        WHERE name IN (${names.map((n) => `'${n}'`).join(",")}) AND coalesce(sourcefile, '') <> '${PGTUNE_CONF}';`,
    );
    if (notFromFile) throw new Error(`pgtune: settings not taken from ${PGTUNE_CONF}: ${notFromFile}`);
    if (Number(await adminSql(ctx, PGTUNE.port, "postgres", `SELECT count(*) FROM pg_settings WHERE sourcefile = '${PGTUNE_CONF}';`)) !== names.length) {
      throw new Error(`pgtune: not all ${names.length} settings of ${PGTUNE_CONF} are in effect`);
    }

    // 2. tuned and ceiling: dbstack's engine on one throwaway stack.
    log(`tuned, ceiling: deploying ${TUNED.cluster} and ${CEILING.cluster} with dbstack on stack ${stack.name} (backend file://${stack.backend})`);
    ours.add(TUNED.cluster);
    ours.add(CEILING.cluster);
    const deployed = await deployTuned(
      stack,
      {
        clusters: [
          { name: TUNED.label, port: TUNED.port, instanceName: TUNED.cluster, toolsDir: join(temp, "tools-tuned") },
          { name: CEILING.label, port: CEILING.port, instanceName: CEILING.cluster, toolsDir: join(temp, "tools-ceiling"), parameters: DURABILITY_OFF },
        ],
        database: DATABASE,
        user: USER,
      },
      { signal: ctx.signal, timeoutMs: 20 * 60_000, verbose: o.verbose, log },
    );
    for (const c of [TUNED, CEILING]) {
      log(`${c.label}: ${deployed[c.label].configReport.trim().split("\n").join("; ")}`);
      passwords[c.label] = deployed[c.label].password;
    }
    check();

    const targets: Target[] = CLUSTERS.map((c) => ({
      label: c.label,
      cluster: c.cluster,
      port: c.port,
      database: DATABASE,
      mode: o.connect,
      user: USER,
      password: passwords[c.label],
    }));
    for (const t of targets) {
      // The bench user's password works over TLS on loopback, as the stack outputs say.
      if (t.label === TUNED.label || t.label === CEILING.label) {
        const tls = await querySql(ctx, { ...t, mode: "tcp" }, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();");
        if (tls !== "t") throw new Error(`${t.label}: the bench user's connection over TCP is not encrypted (pg_stat_ssl.ssl = ${JSON.stringify(tls)})`);
        log(`${t.label}: the bench user logs in over TCP with TLS using the password from the stack outputs`);
      }
      await checkDurability(ctx, t, t.label === CEILING.label ? "off" : "on");
      if (t.mode === "tcp" && (await querySql(ctx, t, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();")) !== "t") {
        throw new Error(`${t.label}: the benchmark connection is not encrypted`);
      }
      log(`${t.label}: ${await settingsSummary(ctx, t)}`);
    }
    log("fsync, synchronous_commit and full_page_writes are on in default, tuned and pgtune, off in ceiling");

    // 3. One cluster at a time: the others are stopped so they take no CPU, I/O or memory.
    for (const t of targets) await ctlCluster(ctx, t.cluster, "stop");
    for (const t of targets) {
      await ctlCluster(ctx, t.cluster, "start");
      await initialize(ctx, t, o);
      await ctlCluster(ctx, t.cluster, "stop");
      check();
    }
    for (let round = 1; round <= o.rounds; round++) {
      for (const t of targets) {
        await ctlCluster(ctx, t.cluster, "start");
        await checkDurability(ctx, t, t.label === CEILING.label ? "off" : "on");
        await benchmark(ctx, t, o, round, results);
        await ctlCluster(ctx, t.cluster, "stop");
        check();
      }
    }
    for (const t of targets) {
      for (const mode of ["rw", "ro"] as const) {
        const tps = results[t.label][mode];
        console.log(`${t.label} ${mode} mean_tps=${mean(tps).toFixed(1)} rounds=${tps.map((x) => x.toFixed(1)).join(",")}`);
      }
    }
  } catch (err) {
    failed = true;
    log(`failed: ${(err as Error).message.trim().split("\n").slice(-20).join("\n")}`);
  } finally {
    await cleanup(stack, ours, temp);
  }
  const interruptedExit = interrupts.exitCode();
  if (interruptedExit !== undefined) return interruptedExit;
  if (failed) return 1;
  const ratio = (mode: Mode, other: string) => (mean(results.tuned[mode]) / mean(results[other][mode])).toFixed(2);
  console.log(
    `tps_ratio_rw=${ratio("rw", "default")} tps_ratio_ro=${ratio("ro", "default")} ` +
      `pgtune_rw=${ratio("rw", "pgtune")} pgtune_ro=${ratio("ro", "pgtune")} ` +
      `ceiling_rw=${ratio("rw", "ceiling")} ceiling_ro=${ratio("ro", "ceiling")}`,
  );
  return 0;
}

/** Every step runs whatever failed before it; problems are reported, not thrown. */
async function cleanup(stack: TunedStack, ours: Set<string>, temp: string): Promise<void> {
  const step = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      log(`cleanup: ${what} failed: ${(err as Error).message.trim().split("\n").slice(-10).join("\n")}`);
    }
  };
  const dbstackClusters = [TUNED.cluster, CEILING.cluster];
  // The stack first: its destroy drops bench_tuned and bench_ceiling (allowDataRemoval) the way
  // dbstack does.
  await step(`destroying stack ${stack.name}`, () => teardownTuned(stack, { timeoutMs: 10 * 60_000, log }));
  for (const { cluster } of CLUSTERS) {
    if (!ours.has(cluster)) continue;
    await step(`pg_dropcluster --stop ${PG_VERSION} ${cluster}`, async () => {
      if (clusterRegistered(cluster)) {
        await dropCluster(cluster);
        log(`dropped cluster ${PG_VERSION}/${cluster}${dbstackClusters.includes(cluster) && stack.created ? " (the stack's destroy had left it)" : ""}`);
      }
      // What pg_dropcluster leaves (dbstack's conf.d files, the pgtune file): this run created these directories.
      for (const dir of clusterLeftovers(cluster)) {
        rmSync(dir, { recursive: true, force: true });
        log(`removed ${dir}`);
      }
    });
  }
  // dbstack's per-cluster lock files (its scripts take them with flock).
  for (const cluster of dbstackClusters) if (ours.has(cluster)) rmSync(`/run/lock/dbstack-postgres-${PG_VERSION}-${cluster}.lock`, { force: true });
  await step(`removing ${temp}`, async () => rmSync(temp, { recursive: true, force: true }));
  log("cleaned up: stack, clusters and temp dir removed");
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  },
);
