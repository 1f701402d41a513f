// npm run bench:postgres -- [--scale 50] [--clients 8] [--threads 2] [--duration 60] [--warmup 5]
//                           [--connect socket|tcp] [--verbose]
//
// pgbench on two PostgreSQL 15 clusters on this machine, one after the other:
//   default  pg_createcluster 15 bench_default --port 5481, the distribution's configuration as
//            pg_createcluster writes it, started with pg_ctlcluster;
//   tuned    bench_tuned on port 5482, deployed by dbstack's PostgreSQL engine through the
//            Automation API on a throwaway stack (own file backend in a temp dir; workload oltp,
//            host facts read from this machine).
// Each: pgbench -i -s <scale> -q, then a read-write TPC-B run and a read-only (-S) run with the
// same clients, threads and duration, -M prepared and the same --random-seed. Before each timed
// run: a warm-up of the same kind, then VACUUM of branches and tellers, TRUNCATE of the history
// (what pgbench does before a run; the timed run gets -n) and a CHECKPOINT, so both clusters
// start it from the same state. Only the cluster under test runs; the other is stopped.
// fsync, synchronous_commit and full_page_writes must be on in both (checked with SHOW).
//
// Connections (--connect):
//   socket (default)  pgbench as postgres over each cluster's Unix socket (runuser; peer auth):
//                     the same path for both, with no TLS or password hashing in the measurement.
//                     The bench user's password from the stack outputs is still checked once,
//                     over TCP with TLS, to prove the deployment is usable as deployed.
//   tcp               pgbench over TCP to 127.0.0.1 with sslmode=require: as the bench user with
//                     the password from the stack outputs on the tuned cluster, and as a bench
//                     role with a generated password on the default one. Passwords reach pgbench
//                     only through PGPASSWORD.
//   Administration (VACUUM, CHECKPOINT, SHOW) always goes as postgres over the socket.
//
// Output: stdout gets one line per timed run as it finishes ("default rw tps=1234.5 ...") and,
// after cleanup, exactly one final line "tps_ratio_rw=<x> tps_ratio_ro=<y>" (tuned/default).
// Progress goes to stderr. The stack, both clusters and the temp dir are removed in every case,
// also on failure, Ctrl-C or SIGTERM. All traffic stays on local sockets and loopback.
import { randomBytes } from "crypto";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
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
import { run } from "./lib/proc";
import { deployTuned, teardownTuned, type TunedStack } from "./lib/tuned";

const DEFAULT = { cluster: "bench_default", port: 5481 };
const TUNED = { cluster: "bench_tuned", port: 5482 };
const DATABASE = "bench";
const USER = "bench";
/** The same pseudo-random sequence on both clusters. */
const RANDOM_SEED = "20250101";

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

interface Options {
  scale: number;
  clients: number;
  threads: number;
  duration: number;
  warmup: number;
  connect: ConnectMode;
  verbose: boolean;
}

const USAGE = `usage: npm run bench:postgres -- [--scale N] [--clients N] [--threads N] [--duration SECONDS] [--warmup SECONDS] [--connect socket|tcp] [--verbose]
  defaults: --scale 50 --clients 8 --threads 2 --duration 60 --warmup 5 --connect socket`;

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: "string", default: "50" },
      clients: { type: "string", default: "8" },
      threads: { type: "string", default: "2" },
      duration: { type: "string", default: "60" },
      warmup: { type: "string", default: "5" },
      connect: { type: "string", default: "socket" },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return undefined;
  const whole = (flag: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`--${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
    return n;
  };
  const opts: Options = {
    scale: whole("scale", values.scale!, 1, 10_000),
    clients: whole("clients", values.clients!, 1, 90),
    threads: whole("threads", values.threads!, 1, 90),
    duration: whole("duration", values.duration!, 1, 3_600),
    warmup: whole("warmup", values.warmup!, 0, 600),
    connect: values.connect as ConnectMode,
    verbose: values.verbose!,
  };
  if (opts.connect !== "socket" && opts.connect !== "tcp") throw new UsageError(`--connect: expected socket or tcp, got ${JSON.stringify(values.connect)}`);
  if (opts.threads > opts.clients) throw new UsageError(`--threads (${opts.threads}) must not exceed --clients (${opts.clients})`);
  return opts;
}

class UsageError extends Error {}

type Mode = "rw" | "ro";
type Results = Record<string, Partial<Record<Mode, number>>>;

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

/** Initializes the target's pgbench tables, then runs the read-write and read-only workloads. */
async function benchmark(ctx: Ctx, t: Target, o: Options, results: Results): Promise<void> {
  if (ctx.signal.aborted) throw new Error("interrupted");
  await warnIfBusy(`before benchmarking ${t.label}`);
  log(`${t.label}: pgbench -i -s ${o.scale}`);
  await pgbench(ctx, t, ["-i", "-s", String(o.scale), "-q"], (300 + 10 * o.scale) * 1000);
  for (const mode of ["rw", "ro"] as const) {
    const common = ["-n", "-c", String(o.clients), "-j", String(o.threads), "-M", "prepared", `--random-seed=${RANDOM_SEED}`, ...(mode === "ro" ? ["-S"] : [])];
    if (o.warmup > 0) {
      log(`${t.label} ${mode}: warm-up ${o.warmup} s`);
      await pgbench(ctx, t, [...common, "-T", String(o.warmup)], (o.warmup + 120) * 1000);
    }
    await adminSql(ctx, t.port, t.database, "VACUUM pgbench_branches;\nVACUUM pgbench_tellers;\nTRUNCATE pgbench_history;\nCHECKPOINT;");
    log(`${t.label} ${mode}: ${o.duration} s, ${o.clients} clients, ${o.threads} threads`);
    const stats = parsePgbench(await pgbench(ctx, t, [...common, "-T", String(o.duration)], (o.duration + 120) * 1000));
    if (stats.failed) throw new Error(`${t.label} ${mode}: ${stats.failed} transactions failed`);
    (results[t.label] ??= {})[mode] = stats.tps;
    const extra = [stats.latencyMs !== undefined ? `latency_ms=${stats.latencyMs.toFixed(3)}` : "", stats.transactions !== undefined ? `transactions=${stats.transactions}` : ""];
    console.log([`${t.label} ${mode} tps=${stats.tps.toFixed(1)}`, ...extra.filter(Boolean)].join(" "));
  }
}

async function main(): Promise<number> {
  let opts: Options | undefined;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!opts) {
    console.log(USAGE);
    return 0;
  }
  const o = opts;
  if (process.getuid?.() !== 0) {
    log("must run as root (pg_createcluster, runuser, and dbstack's local target)");
    return 1;
  }

  const abort = new AbortController();
  const ctx: Ctx = { signal: abort.signal };
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return log(`${signal} again: still cleaning up, please wait`);
    interrupted = signal;
    log(`${signal}: stopping, then cleaning up`);
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const check = () => {
    if (interrupted) throw new Error(`interrupted by ${interrupted}`);
  };

  const temp = mkdtempSync(join(tmpdir(), "dbstack-bench-"));
  const stack: TunedStack = { name: ephemeralStackName("bench", new Date()), backend: join(temp, "state"), created: false };
  // Clusters this run created (or was creating): only those are dropped on the way out.
  const ours = new Set<string>();
  const results: Results = {};
  let failed = false;
  try {
    ensurePulumiOnPath();
    for (const c of [DEFAULT, TUNED]) {
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
    log(`scale ${o.scale}, ${o.clients} clients, ${o.threads} threads, ${o.duration} s per run (warm-up ${o.warmup} s), connections: ${o.connect}`);

    // 1. Baseline: the distribution's configuration, nothing changed.
    log(`default: pg_createcluster ${PG_VERSION} ${DEFAULT.cluster} --port ${DEFAULT.port}`);
    ours.add(DEFAULT.cluster);
    await run("pg_createcluster", [String(PG_VERSION), DEFAULT.cluster, "--port", String(DEFAULT.port)], { timeoutMs: 180_000, signal: ctx.signal });
    await ctlCluster(ctx, DEFAULT.cluster, "start");
    // The same database and owner as on the tuned cluster; in tcp mode the role gets a password.
    const defaultPassword = o.connect === "tcp" ? randomBytes(24).toString("hex") : undefined;
    await adminSql(
      ctx,
      DEFAULT.port,
      "postgres",
      `CREATE ROLE ${USER} LOGIN${defaultPassword ? ` PASSWORD '${defaultPassword}'` : ""};\nCREATE DATABASE ${DATABASE} OWNER ${USER};`,
    );
    check();

    // 2. Tuned: dbstack's engine on a throwaway stack.
    log(`tuned: deploying ${TUNED.cluster} with dbstack on stack ${stack.name} (backend file://${stack.backend})`);
    ours.add(TUNED.cluster);
    const deployed = await deployTuned(
      stack,
      { port: TUNED.port, clusterName: TUNED.cluster, database: DATABASE, user: USER, toolsDir: join(temp, "tools") },
      { signal: ctx.signal, timeoutMs: 20 * 60_000, verbose: o.verbose, log },
    );
    log(`tuned: ${deployed.configReport.trim().split("\n").join("; ")}`);
    check();

    const targets: Target[] = [
      { label: "default", cluster: DEFAULT.cluster, port: DEFAULT.port, database: DATABASE, mode: o.connect, user: USER, password: defaultPassword },
      { label: "tuned", cluster: TUNED.cluster, port: TUNED.port, database: DATABASE, mode: o.connect, user: USER, password: deployed.password },
    ];
    // The bench user's password works over TLS on loopback, as the stack outputs say.
    const tls = await querySql(ctx, { ...targets[1], mode: "tcp" }, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();");
    if (tls !== "t") throw new Error(`tuned: the bench user's connection over TCP is not encrypted (pg_stat_ssl.ssl = ${JSON.stringify(tls)})`);
    log("tuned: the bench user logs in over TCP with TLS using the password from the stack outputs");
    for (const t of targets) {
      await checkDurability(ctx, t);
      if (t.mode === "tcp" && (await querySql(ctx, t, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();")) !== "t") {
        throw new Error(`${t.label}: the benchmark connection is not encrypted`);
      }
      log(`${t.label}: ${await settingsSummary(ctx, t)}`);
    }
    log("fsync, synchronous_commit and full_page_writes are on in both clusters");

    // 3. One cluster at a time: the other is stopped so it takes no CPU or I/O.
    await ctlCluster(ctx, TUNED.cluster, "stop");
    await benchmark(ctx, targets[0], o, results);
    check();
    await ctlCluster(ctx, DEFAULT.cluster, "stop");
    await ctlCluster(ctx, TUNED.cluster, "start");
    await checkDurability(ctx, targets[1]);
    await benchmark(ctx, targets[1], o, results);
    check();
  } catch (err) {
    failed = true;
    log(`failed: ${(err as Error).message.trim().split("\n").slice(-20).join("\n")}`);
  } finally {
    await cleanup(stack, ours, temp);
  }
  if (interrupted) return interrupted === "SIGINT" ? 130 : 143;
  if (failed) return 1;
  const ratio = (mode: Mode) => (results.tuned[mode]! / results.default[mode]!).toFixed(2);
  console.log(`tps_ratio_rw=${ratio("rw")} tps_ratio_ro=${ratio("ro")}`);
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
  // The stack first: its destroy drops bench_tuned (allowDataRemoval) the way dbstack does.
  await step(`destroying stack ${stack.name}`, () => teardownTuned(stack, { timeoutMs: 10 * 60_000, log }));
  for (const cluster of [TUNED.cluster, DEFAULT.cluster]) {
    if (!ours.has(cluster)) continue;
    await step(`pg_dropcluster --stop ${PG_VERSION} ${cluster}`, async () => {
      if (clusterRegistered(cluster)) {
        await dropCluster(cluster);
        log(`dropped cluster ${PG_VERSION}/${cluster}${cluster === TUNED.cluster && stack.created ? " (the stack's destroy had left it)" : ""}`);
      }
      // What pg_dropcluster leaves (dbstack's conf.d files): this run created these directories.
      for (const dir of clusterLeftovers(cluster)) {
        rmSync(dir, { recursive: true, force: true });
        log(`removed ${dir}`);
      }
    });
  }
  // dbstack's per-cluster lock file (its scripts take it with flock).
  if (ours.has(TUNED.cluster)) rmSync(`/run/lock/dbstack-postgres-${PG_VERSION}-${TUNED.cluster}.lock`, { force: true });
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
