/**
 * Helpers of the tests that start throwaway PostgreSQL and MariaDB servers of their own (the data
 * copy tests): where PostgreSQL's binaries are, running its tools as the postgres OS user, a
 * clear failure naming what to install, waiting for a server, and one-shot queries.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "child_process";
import { chmodSync, chownSync, existsSync, mkdirSync } from "fs";
import * as mysql from "mysql2/promise";
import { join } from "path";
import { Client } from "pg";

/** The directory of initdb/pg_ctl of the newest installed PostgreSQL (15–17), if any. */
export const PG_BIN = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"].find((d) => existsSync(join(d, "initdb")));

export const isRoot = process.getuid?.() === 0;

/** Fails (never skips) when a tool the test needs is missing, naming what to install. */
export function need(what: string, ok: boolean, install: string, tests: string): void {
  if (!ok) throw new Error(`${what} is missing: install it (${install}) to run the ${tests}`);
}

/** Whether a command is on PATH. */
export function which(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Runs a PostgreSQL tool as the postgres OS user when we are root (initdb refuses root). */
export function asPostgres(cmd: string, args: string[]): Buffer {
  return isRoot ? execFileSync("runuser", ["-u", "postgres", "--", cmd, ...args], { stdio: "pipe" }) : execFileSync(cmd, args, { stdio: "pipe" });
}

/** Retries `probe` every 250 ms until it resolves; fails after `seconds` with its last error. */
export async function waitFor(what: string, probe: () => Promise<unknown>, seconds = 30): Promise<void> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    try {
      await probe();
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`${what} did not come up: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** One query on a PostgreSQL URL, on a connection of its own. */
export async function pgRows(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

/** One query on a MariaDB connection of its own (big numbers as strings, so nothing is rounded). */
export async function mariadbRows(options: mysql.ConnectionOptions, sql: string): Promise<Record<string, unknown>[]> {
  const c = await mysql.createConnection({ supportBigNumbers: true, bigNumberStrings: true, ...options });
  try {
    const [rows] = await c.query(sql);
    return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
  } finally {
    await c.end();
  }
}

/**
 * Starts a throwaway PostgreSQL in `dir` (its data and socket directory) on 127.0.0.1:`port`,
 * fsync off; `auth` is initdb's (trust everywhere, or trust on the socket and scram over TCP).
 * Returns the server process; stop it with stopScratch.
 */
export function startScratchPostgres(dir: string, port: number, auth: "trust" | "scram-over-tcp"): ChildProcess {
  mkdirSync(dir, { recursive: true });
  if (isRoot) {
    chmodSync(join(dir, ".."), 0o755);
    chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString().trim()), Number(execFileSync("id", ["-g", "postgres"]).toString().trim()));
  }
  const authArgs = auth === "trust" ? ["--auth=trust"] : ["--auth-local=trust", "--auth-host=scram-sha-256"];
  asPostgres(join(PG_BIN!, "initdb"), ["-D", join(dir, "data"), "-U", "postgres", ...authArgs, "-E", "UTF8", "--locale=C.UTF-8"]);
  const args = ["-D", join(dir, "data"), "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"];
  return isRoot ? spawn("runuser", ["-u", "postgres", "--", join(PG_BIN!, "postgres"), ...args], { stdio: "ignore" }) : spawn(join(PG_BIN!, "postgres"), args, { stdio: "ignore" });
}

/**
 * Starts a throwaway MariaDB in `dir` (data, socket `dir/sock`, pid, error log) on
 * 127.0.0.1:`port`, with `extra` server options; root logs in without a password.
 */
export function startScratchMariadb(dir: string, port: number, extra: string[] = []): ChildProcess {
  // Temporary tables in the server's own directory, not the machine's /tmp that every test shares.
  const env = { ...process.env, TMPDIR: dir };
  execFileSync("mariadb-install-db", ["--no-defaults", `--datadir=${join(dir, "data")}`, "--auth-root-authentication-method=normal", ...(isRoot ? ["--user=root"] : [])], { stdio: "pipe", env });
  return spawn(
    "mariadbd",
    [
      "--no-defaults",
      `--datadir=${join(dir, "data")}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      ...extra,
      `--socket=${join(dir, "sock")}`,
      `--pid-file=${join(dir, "pid")}`,
      `--log-error=${join(dir, "err")}`,
      "--innodb-flush-log-at-trx-commit=0",
      ...(isRoot ? ["--user=root"] : []),
    ],
    { stdio: "ignore", env },
  );
}

/** Stops scratch servers (SIGTERM, a clean shutdown), waiting at most `seconds` for each. */
export async function stopScratch(processes: (ChildProcess | undefined)[], seconds: number): Promise<void> {
  for (const p of processes) {
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, seconds * 1000))]);
    }
  }
}
