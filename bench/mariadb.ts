// npm run bench:mariadb -- [--rounds 2] [--seconds 30] [--threads 8] [--warmup 5]
//                          [--tables 8] [--table-size 250000]
//
// sysbench oltp_read_write and oltp_read_only on three MariaDB instances on this machine, side by
// side, one running at a time (the machine has 2 cores):
//   default  port 3331: the distribution's configuration: the server's compiled defaults plus what
//            Debian's /etc/mysql/mariadb.conf.d/50-server.cnf sets that matters (bench/lib/mariadb.ts,
//            DEBIAN_SERVER_CNF);
//   tuned    port 3332: dbstack's computeTuning (components/engines/mariadb/tuning.ts) for this
//            host, its facts read as a deploy reads them (MemTotal of /proc/meminfo, nproc, storage
//            ssd), workload oltp, 100 connections;
//   ceiling  port 3333: the tuned configuration with durability off (innodb_flush_log_at_trx_commit
//            0, sync_binlog 0, innodb_doublewrite 0): what no durable configuration can beat here.
// All three have binary logging on, configured alike (what dbstack renders on a primary): a
// production server has it for replicas and point-in-time recovery, and it puts a two-phase commit
// between InnoDB and the binary log on every transaction, so a benchmark without it measures a
// server nobody runs. Each instance has its own directory under a temp dir (data directory made
// by mariadb-install-db, option file read with --defaults-file and nothing else, socket, error log),
// gets `sysbench prepare` once, and is stopped whenever another one runs.
//
// Each round runs default, tuned, ceiling in turn (drift of the machine falls on all three alike):
// start it, check its variables (the option file's values in effect; durability on in default and
// tuned, off in ceiling), `sysbench prewarm` (tables and indexes into the buffer pool: a server in
// service has its working set cached), then for read-only and then read-write (in that order, so
// the read-only run does not pay for the read-write run's dirty pages and undo) a warm-up of
// --warmup seconds and a timed run of --seconds, all with --threads, then stop it.
//
// Output: stdout gets one line per timed run ("tuned rw round=1 tps=..."), one line per instance
// and workload with the mean over the rounds, and, after cleanup, exactly one final line
//   tps_ratio_rw=<tuned/default> tps_ratio_ro=<...> ceiling_rw=<tuned/ceiling> ceiling_ro=<...>
// Progress goes to stderr. The servers and the temp dir are removed in every case, also on
// failure, Ctrl-C or SIGTERM. Traffic stays on Unix sockets.
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { availableParallelism } from "os";
import { join } from "path";
import { parseArgs } from "util";
import { bytesOf, computeTuning } from "../components/engines/mariadb/tuning";
import type { TunedParameters } from "../components/model/tuning";
import {
  binlogOptions,
  DEBIAN_SERVER_CNF,
  hostFactsFrom,
  initialise,
  parseSysbench,
  portProblem,
  sameSetting,
  sql,
  start,
  stop,
  sysbench,
  sysbenchArgs,
  type Ctx,
  type Instance,
  type OptionLine,
  type Running,
} from "./lib/mariadb";
import { run } from "./lib/proc";
import { benchOptions, watchInterrupts, wholeOption } from "./lib/start";

// The benchmark's own ports (3331-3333): the MariaDB tests use other ones.
const PORTS = { default: 3331, tuned: 3332, ceiling: 3333 };
/** The ceiling's overrides: durability off, the rest of dbstack's tuning unchanged. */
const DURABILITY_OFF = { innodb_flush_log_at_trx_commit: "0", sync_binlog: "0", innodb_doublewrite: "0" };
const WORKLOAD = "oltp";
const MAX_CONNECTIONS = 100;
/** The same pseudo-random sequence on every instance and in every round. */
const RAND_SEED = "20250101";
/** Rough size of one sysbench row with its indexes (measured: 233MB for 8 x 100000 rows). */
const BYTES_PER_ROW = 300;

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

interface Options {
  rounds: number;
  seconds: number;
  threads: number;
  warmup: number;
  tables: number;
  tableSize: number;
}

const USAGE = `usage: npm run bench:mariadb -- [--rounds N] [--seconds S] [--threads T] [--warmup S] [--tables N] [--table-size ROWS]
  defaults: --rounds 2 --seconds 30 --threads 8 --warmup 5 --tables 8 --table-size 250000`;


function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string", default: "2" },
      seconds: { type: "string", default: "30" },
      threads: { type: "string", default: "8" },
      warmup: { type: "string", default: "5" },
      tables: { type: "string", default: "8" },
      "table-size": { type: "string", default: "250000" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return undefined;
  return {
    rounds: wholeOption("rounds", values.rounds!, 1, 100),
    seconds: wholeOption("seconds", values.seconds!, 1, 3_600),
    // Below max_connections of every instance (the default's is 151), with room for the admin client.
    threads: wholeOption("threads", values.threads!, 1, 90),
    warmup: wholeOption("warmup", values.warmup!, 0, 600),
    tables: wholeOption("tables", values.tables!, 1, 100),
    tableSize: wholeOption("table-size", values["table-size"]!, 1_000, 100_000_000),
  };
}

type Mode = "rw" | "ro";
type Results = Record<string, Record<Mode, number[]>>;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

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

/** Says so when other work competes for the CPUs while nothing of the benchmark runs. */
async function warnIfBusy(when: string): Promise<void> {
  const busy = await cpuBusy(1000);
  if (busy > 0.1) log(`warning: ${Math.round(busy * 100)}% of the CPUs busy with other work ${when}: the results will be noisy`);
}

/** The tuned variables as option lines. */
function asOptions(params: TunedParameters): OptionLine[] {
  return params.map((p) => ({ name: p.name, value: p.value, reason: p.reason }));
}

/**
 * Checks that the server runs with the option file's values (a later line or a typo would not
 * be), and the durability it should have. Throws naming each mismatch.
 */
async function checkVariables(ctx: Ctx, inst: Instance, durable: boolean): Promise<void> {
  const layout = new Set(["bind_address", "expire_logs_days", "log_bin"]); // not readable as written (paths, renamed)
  const checked = inst.options.filter((o) => !layout.has(o.name));
  const durability = ["innodb_flush_log_at_trx_commit", "sync_binlog", "innodb_doublewrite"];
  const names = [...checked.map((o) => o.name), ...durability, "log_bin"];
  const row = (await sql(ctx, inst, `SELECT ${names.map((n) => `@@GLOBAL.${n}`).join(", ")};`)).split("\t");
  const actual = Object.fromEntries(names.map((n, i) => [n, row[i]]));
  const wrong = checked.filter((o) => !sameSetting(o.value, actual[o.name])).map((o) => `${o.name} is ${actual[o.name]}, not ${o.value}`);
  if (actual.log_bin !== "1") wrong.push("log_bin is off");
  const expected = durable ? "1" : "0";
  // The default instance keeps the compiled sync_binlog = 0: not durable for the binary log, but
  // that is the distribution's default, which is what it measures.
  for (const n of durability) if (!(inst.label === "default" && n === "sync_binlog") && actual[n] !== expected) wrong.push(`${n} is ${actual[n]}, expected ${expected}`);
  if (wrong.length) throw new Error(`${inst.label}: ${wrong.join("; ")}`);
}

async function main(): Promise<number> {
  const parsed = benchOptions(parseOptions, USAGE, "mariadbd runs as mysql; root logs in through unix_socket", log);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  const interrupts = watchInterrupts(log);
  const ctx: Ctx = { signal: interrupts.signal };
  const check = interrupts.check;

  const temp = mkdtempSync("/tmp/dbstack-bench-mariadb-");
  let running: Running | undefined;
  const results: Results = {};
  let failed = false;
  const started = Date.now();
  try {
    // mariadbd runs as mysql: it must reach the instance directories.
    await run("chmod", ["0755", temp], { timeoutMs: 10_000 });
    for (const port of Object.values(PORTS)) {
      const problem = await portProblem(port);
      if (problem) throw new Error(problem);
    }
    const version = /\b(\d+\.\d+)\.\d+-MariaDB/.exec((await run("mariadbd", ["--version"], { timeoutMs: 10_000 })).stdout)?.[1];
    if (!version) throw new Error("mariadbd --version does not name a MariaDB version");
    const facts = hostFactsFrom(readFileSync("/proc/meminfo", "utf8"), (await run("nproc", [], { timeoutMs: 10_000 })).stdout);
    const spec = { workload: WORKLOAD, maxConnections: MAX_CONNECTIONS, version, overrides: {} } as const;
    const tuned = computeTuning(facts, { ...spec, overrides: {} });
    const ceiling = computeTuning(facts, { ...spec, overrides: DURABILITY_OFF });
    log(`MariaDB ${version}; host facts ${JSON.stringify(facts)} (nproc; os.availableParallelism ${availableParallelism()}); workload ${WORKLOAD}, ${MAX_CONNECTIONS} connections`);
    const poolBytes = bytesOf(tuned.find((p) => p.name === "innodb_buffer_pool_size")?.value ?? "");
    const pool = poolBytes === undefined ? undefined : Math.round(poolBytes / 1048576);
    const dataMb = Math.round((o.tables * o.tableSize * BYTES_PER_ROW) / 1048576);
    log(`data: ${o.tables} tables x ${o.tableSize} rows, about ${dataMb}MB; the tuned buffer pool holds ${pool ? `${pool}MB` : "it"}, the default one 128MB`);

    const instances: Instance[] = [
      { label: "default", port: PORTS.default, dir: join(temp, "default"), options: [...DEBIAN_SERVER_CNF, ...binlogOptions()] },
      { label: "tuned", port: PORTS.tuned, dir: join(temp, "tuned"), options: [...DEBIAN_SERVER_CNF, ...binlogOptions(), ...asOptions(tuned)] },
      { label: "ceiling", port: PORTS.ceiling, dir: join(temp, "ceiling"), options: [...DEBIAN_SERVER_CNF, ...binlogOptions(), ...asOptions(ceiling)] },
    ];
    log(`tuned: ${tuned.map((p) => `${p.name}=${p.value}`).join(" ")}`);
    log(`ceiling: the same with ${Object.entries(DURABILITY_OFF).map(([k, v]) => `${k}=${v}`).join(" ")}`);
    log(`${o.rounds} round(s), ${o.threads} threads, ${o.seconds} s per timed run after a ${o.warmup} s warm-up`);

    // 1. Each instance: install, start, check, prepare the tables once, stop.
    for (const inst of instances) {
      log(`${inst.label}: mariadb-install-db, then sysbench prepare (port ${inst.port})`);
      await initialise(ctx, inst);
      running = await start(ctx, inst);
      await checkVariables(ctx, inst, inst.label !== "ceiling");
      await sql(ctx, inst, "CREATE DATABASE sbtest;");
      await sysbench(ctx, ["oltp_read_write", ...sysbenchArgs(inst, { ...o, threads: Math.min(o.tables, 2) }), "prepare"], 30 * 60_000);
      await stop(running);
      running = undefined;
      check();
    }

    // 2. Rounds: default, tuned, ceiling, default, tuned, ceiling, ...
    for (let round = 1; round <= o.rounds; round++) {
      for (const inst of instances) {
        await warnIfBusy(`before ${inst.label} (round ${round})`);
        running = await start(ctx, inst);
        await checkVariables(ctx, inst, inst.label !== "ceiling");
        const common = sysbenchArgs(inst, o);
        await sysbench(ctx, ["oltp_read_write", ...common, "prewarm"], 30 * 60_000);
        // Read-only first: after a read-write run the page cleaner and purge keep working on what it
        // left (dirty pages, undo), and the doublewrite buffer the ceiling lacks would weigh on a
        // read-only run measured then. Each start begins clean (a normal shutdown flushes the pool).
        for (const mode of ["ro", "rw"] as const) {
          const test = mode === "rw" ? "oltp_read_write" : "oltp_read_only";
          if (o.warmup > 0) await sysbench(ctx, [test, ...common, `--time=${o.warmup}`, `--rand-seed=${RAND_SEED}`, "run"], (o.warmup + 120) * 1000);
          log(`${inst.label} ${mode} round ${round}: ${o.seconds} s`);
          const stats = parseSysbench(await sysbench(ctx, [test, ...common, `--time=${o.seconds}`, `--rand-seed=${RAND_SEED}`, "run"], (o.seconds + 120) * 1000));
          (results[inst.label] ??= { rw: [], ro: [] })[mode].push(stats.tps);
          console.log(
            `${inst.label} ${mode} round=${round} tps=${stats.tps.toFixed(1)} latency_ms=${stats.latencyAvgMs.toFixed(2)}` +
              `${stats.latencyP95Ms !== undefined ? ` p95_ms=${stats.latencyP95Ms.toFixed(2)}` : ""} transactions=${stats.transactions} ignored_errors=${stats.ignoredErrors}`,
          );
        }
        await stop(running);
        running = undefined;
        check();
      }
    }
    for (const inst of instances) {
      for (const mode of ["rw", "ro"] as const) {
        const tps = results[inst.label][mode];
        console.log(`${inst.label} ${mode} mean_tps=${mean(tps).toFixed(1)} rounds=${tps.map((x) => x.toFixed(1)).join(",")}`);
      }
    }
  } catch (err) {
    failed = true;
    log(`failed: ${(err as Error).message.trim().split("\n").slice(-20).join("\n")}`);
  } finally {
    if (running) await stop(running);
    rmSync(temp, { recursive: true, force: true });
    log(`cleaned up: servers stopped, ${temp} removed (${Math.round((Date.now() - started) / 1000)} s in all)`);
  }
  const interruptedExit = interrupts.exitCode();
  if (interruptedExit !== undefined) return interruptedExit;
  if (failed) return 1;
  const ratio = (mode: Mode, other: string) => (mean(results.tuned[mode]) / mean(results[other][mode])).toFixed(2);
  console.log(`tps_ratio_rw=${ratio("rw", "default")} tps_ratio_ro=${ratio("ro", "default")} ceiling_rw=${ratio("rw", "ceiling")} ceiling_ro=${ratio("ro", "ceiling")}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  },
);
