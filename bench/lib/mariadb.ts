/**
 * bench:mariadb's parts: the instances' option files (pure), sysbench's output parsed (pure), the
 * host facts read as a deploy reads them, and starting, querying and stopping a server.
 */
import { execFileSync, spawn, type ChildProcess } from "child_process";
import { chownSync, mkdirSync, writeFileSync } from "fs";
import { createServer } from "net";
import { join } from "path";
import { bytesOf } from "../../components/engines/mariadb/tuning";
import { gtidServerOptions } from "../../components/engines/mariadb/flavor";
import type { HostFacts } from "../../components/model/tuning";
import { childEnv, run } from "./proc";

/** One server variable of an option file. */
export interface OptionLine {
  name: string;
  value: string;
  /** Why, written as a comment after the value. */
  reason?: string;
}

/** One instance under test and where its files are. */
export interface Instance {
  /** "default", "tuned" or "ceiling": the first word of the result lines. */
  label: string;
  port: number;
  /** The instance's directory (option file, socket, pid file, error log, data directory). */
  dir: string;
  /** The server variables that make this instance what it is (besides the layout). */
  options: OptionLine[];
}

export interface InstanceFiles {
  cnf: string;
  dataDir: string;
  socket: string;
  pidFile: string;
  errorLog: string;
}

export function instanceFiles(inst: Instance): InstanceFiles {
  return {
    cnf: join(inst.dir, "my.cnf"),
    dataDir: join(inst.dir, "data"),
    socket: join(inst.dir, "mysqld.sock"),
    pidFile: join(inst.dir, "mysqld.pid"),
    errorLog: join(inst.dir, "error.log"),
  };
}

/**
 * What Debian's /etc/mysql/mariadb.conf.d/50-server.cnf sets that changes how the server runs;
 * everything else of the default instance is the server's compiled defaults (128M buffer pool,
 * 96M redo log, sync_binlog 0, ...). Its pid-file and basedir are layout, replaced per instance.
 */
export const DEBIAN_SERVER_CNF: OptionLine[] = [
  { name: "bind_address", value: "127.0.0.1", reason: "Debian: loopback only" },
  { name: "expire_logs_days", value: "10", reason: "Debian: binary logs kept 10 days" },
  { name: "character_set_server", value: "utf8mb4", reason: "Debian" },
  { name: "collation_server", value: "utf8mb4_general_ci", reason: "Debian" },
];

/**
 * Binary logging, the same on all three instances: what dbstack renders on a primary
 * (flavor.gtidServerOptions: server_id, log_bin, ROW format, GTID strict mode). A production
 * server has it on, for replicas and point-in-time recovery, and it changes the commit path (a
 * two-phase commit between InnoDB and the binary log), so a benchmark without it would measure a
 * server nobody runs.
 */
export function binlogOptions(): OptionLine[] {
  return Object.entries(gtidServerOptions("mariadb", 1)).map(([name, value]) => ({ name, value, reason: "binary log on, as on a primary" }));
}

/** The text of an instance's option file: its layout, then its variables, one per line. */
export function renderOptionFile(inst: Instance): string {
  const f = instanceFiles(inst);
  const line = (o: OptionLine) => (o.reason ? `${o.name} = ${o.value}  # ${o.reason.replace(/[\r\n#]+/g, " ").replace(/\s+/g, " ").trim()}` : `${o.name} = ${o.value}`);
  return [
    `# bench:mariadb, instance "${inst.label}". Read with --defaults-file (no other option file).`,
    "[mariadbd]",
    "user = mysql",
    `port = ${inst.port}`,
    `datadir = ${f.dataDir}`,
    `socket = ${f.socket}`,
    `pid_file = ${f.pidFile}`,
    `log_error = ${f.errorLog}`,
    ...inst.options.map(line),
    "",
  ].join("\n");
}

/** One sysbench run's figures. */
export interface SysbenchStats {
  tps: number;
  transactions: number;
  latencyAvgMs: number;
  latencyP95Ms?: number;
  /** Errors sysbench ignored (deadlocks, lock wait timeouts). */
  ignoredErrors: number;
}

/** The figures of `sysbench ... run` (1.0.x output); throws quoting the output when they are missing. */
export function parseSysbench(out: string): SysbenchStats {
  const tx = /^\s*transactions:\s+(\d+)\s+\(([0-9.]+) per sec\.\)/m.exec(out);
  const avg = /^\s*avg:\s+([0-9.]+)$/m.exec(out);
  if (!tx || !avg) throw new Error(`no transactions/latency figures in sysbench's output:\n${out.trim().split("\n").slice(-15).join("\n")}`);
  const p95 = /^\s*95th percentile:\s+([0-9.]+)$/m.exec(out);
  const ignored = /^\s*ignored errors:\s+(\d+)/m.exec(out);
  return {
    tps: Number(tx[2]),
    transactions: Number(tx[1]),
    latencyAvgMs: Number(avg[1]),
    latencyP95Ms: p95 ? Number(p95[1]) : undefined,
    ignoredErrors: ignored ? Number(ignored[1]) : 0,
  };
}

/**
 * The host facts as a deploy reads them on an SSH host (components/targets/hostFacts.ts:
 * `nproc`, MemTotal of /proc/meminfo in whole MiB) with dbstack's default storage, ssd.
 */
export function hostFactsFrom(meminfo: string, nproc: string): HostFacts {
  const kb = /^MemTotal:\s+(\d+) kB$/m.exec(meminfo);
  const cpus = Number(nproc.trim());
  if (!kb || !(cpus > 0)) throw new Error(`cannot read the host facts (MemTotal ${kb ? kb[1] : "missing"}, nproc ${JSON.stringify(nproc.trim())})`);
  return { memoryMb: Math.floor(Number(kb[1]) / 1024), cpus, storage: "ssd" };
}

/**
 * Whether the server reports a variable as the option file set it: sizes compared in bytes,
 * ON/OFF as 1/0 (how SELECT @@x shows booleans), the rest case-insensitively.
 */
export function sameSetting(written: string, reported: string): boolean {
  const bytes = bytesOf(written);
  if (bytes !== undefined) return bytes === Number(reported);
  const norm = (v: string) => ({ on: "1", off: "0" } as Record<string, string>)[v.trim().toLowerCase()] ?? v.trim().toLowerCase();
  return norm(written) === norm(reported);
}

export interface Ctx {
  signal: AbortSignal;
}

/** SQL as root over the instance's socket (unix_socket authentication: no password); tab-separated rows. */
export async function sql(ctx: Ctx, inst: Instance, statements: string, timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run(
    "mariadb",
    ["--no-defaults", "--protocol=socket", `--socket=${instanceFiles(inst).socket}`, "-uroot", "--batch", "--skip-column-names"],
    { input: statements, timeoutMs, signal: ctx.signal },
  );
  return stdout.trim();
}

/** Something already listens on the port, or undefined. */
export async function portProblem(port: number): Promise<string | undefined> {
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
  });
  return free ? undefined : `something already listens on 127.0.0.1:${port}`;
}

/** Creates the instance's directory (owned by mysql) and option file, and its system tables. */
export async function initialise(ctx: Ctx, inst: Instance): Promise<void> {
  const f = instanceFiles(inst);
  mkdirSync(inst.dir, { recursive: true, mode: 0o750 });
  const { uid, gid } = mysqlIds();
  chownSync(inst.dir, uid, gid);
  writeFileSync(f.cnf, renderOptionFile(inst), { mode: 0o644 });
  // Root through unix_socket only, no test database: as dbstack initialises an instance.
  await run("mariadb-install-db", [`--defaults-file=${f.cnf}`, "--auth-root-authentication-method=socket", "--skip-test-db"], {
    timeoutMs: 180_000,
    signal: ctx.signal,
  });
}

/** The mysql account mariadbd switches to (user = mysql in the option file). */
function mysqlIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", "mysql"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "mysql"]).toString().trim());
  return { uid, gid };
}

/** A running server this process started. */
export interface Running {
  inst: Instance;
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * Starts mariadbd with the instance's option file (in its own process group, so a terminal's
 * Ctrl-C reaches only the benchmark, which then stops it) and waits until it answers.
 */
export async function start(ctx: Ctx, inst: Instance, timeoutMs = 180_000): Promise<Running> {
  const f = instanceFiles(inst);
  const child = spawn("mariadbd", [`--defaults-file=${f.cnf}`], { cwd: "/", env: childEnv(), stdio: "ignore", detached: true });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const running: Running = { inst, child, exited };
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone) throw new Error(`${inst.label}: mariadbd exited at start; see ${f.errorLog}`);
    if (ctx.signal.aborted) {
      await stop(running);
      throw new Error("interrupted");
    }
    try {
      await run("mariadb-admin", ["--no-defaults", "--protocol=socket", `--socket=${f.socket}`, "-uroot", "ping"], { timeoutMs: 10_000 });
      return running;
    } catch {
      if (Date.now() > deadline) {
        await stop(running);
        throw new Error(`${inst.label}: mariadbd did not answer within ${Math.round(timeoutMs / 1000)} s; see ${f.errorLog}`);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/**
 * Stops a server: SIGTERM (a normal shutdown: InnoDB's fast shutdown, the buffer pool's page list
 * dumped), SIGKILL after `graceMs`. Never throws; runs also after an abort.
 */
export async function stop(r: Running, graceMs = 120_000): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-r.child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), graceMs);
  await r.exited;
  clearTimeout(timer);
}

/** The arguments every sysbench command gets: the instance's socket, root, the bench database. */
export function sysbenchArgs(inst: Instance, o: { tables: number; tableSize: number; threads: number }): string[] {
  return [
    "--db-driver=mysql",
    `--mysql-socket=${instanceFiles(inst).socket}`,
    "--mysql-user=root",
    "--mysql-db=sbtest",
    `--tables=${o.tables}`,
    `--table-size=${o.tableSize}`,
    `--threads=${o.threads}`,
  ];
}

/** Runs sysbench (no shell); its output. */
export async function sysbench(ctx: Ctx, args: string[], timeoutMs: number): Promise<string> {
  const { stdout } = await run("sysbench", args, { timeoutMs, signal: ctx.signal });
  return stdout;
}
