/**
 * Throwaway database instances for `npm run db:check`: an empty database on each engine, started
 * in a temporary directory, used for one migrations run and removed with everything in it.
 *
 * - SQLite: a file in a temporary directory.
 * - PostgreSQL (15, else the newest installed): initdb in a temporary directory (as the postgres OS
 *   user when we are root: initdb and postgres refuse to run as root), listening on 127.0.0.1 on a
 *   free port of the given range, password (scram-sha-256) authentication over TCP, the database
 *   `app`; stopped with pg_ctl's immediate mode (nothing to keep).
 * - MariaDB: mariadb-install-db + mariadbd in a temporary directory (as the mysql OS user when we are
 *   root), 127.0.0.1 on a free port, root reachable only through the socket as OS root, the user
 *   `app`@127.0.0.1 with a password and the database `app`, created by an --init-file that is
 *   deleted once the server is up.
 *
 * Passwords are random per instance, live only in this process (and, for MariaDB, in the init file
 * for the seconds of start-up: mode 0600 in a 0700 directory); they never reach a command line.
 * Every started instance is registered so stopAllThrowaways() can remove them on a signal.
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import { randomBytes } from "crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from "fs";
import { createServer } from "net";
import { tmpdir } from "os";
import { join } from "path";
import { sqliteCopyUrl, unknownEngine, type EngineKind } from "../../model/engineKind";
import { openConnection } from "../connections";

/** A running throwaway database. */
export interface Throwaway {
  engine: EngineKind;
  /** URL with the password, for this process and the migration command's environment only. */
  url: string;
  /** The URL without its password, for reports. */
  display: string;
  /** Stops the server (if any) and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

export interface ThrowawayOptions {
  /** TCP ports to choose from (the first free one is taken); empty: a free port the OS picks. PostgreSQL and MariaDB only. */
  ports: number[];
  /** Where the temporary directory goes; default the OS temp dir. */
  tmpRoot?: string;
}

/**
 * The ports `db:check` may use, by engine: none fixed, so each throwaway server takes a free port
 * the OS picks (two checks on one host, or a check beside a server on a well-known port, never
 * collide over a short fixed list).
 */
export const CHECK_PORTS: Record<EngineKind, number[]> = {
  postgres: [],
  mariadb: [],
  sqlite: [],
};

const live = new Set<Throwaway>();

/** Stops every throwaway instance still running (for signal handlers and test clean-up). */
export async function stopAllThrowaways(): Promise<void> {
  await Promise.all([...live].map((t) => t.stop().catch(() => undefined)));
}

/** True when nothing listens on 127.0.0.1:`port` (we could bind it ourselves). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function freePort(ports: number[]): Promise<number> {
  if (ports.length === 0) return osFreePort();
  for (const p of ports) if (await portIsFree(p)) return p;
  throw new Error(`no free port among ${ports.join(", ")}`);
}

/** A port free on 127.0.0.1 now, from the OS's ephemeral range (bound to port 0, then released). */
export function osFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1", exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("the OS gave no free port"))));
    });
  });
}

const isRoot = process.getuid?.() === 0;

function osIds(user: string): { uid: number; gid: number } {
  const uid = spawnSync("id", ["-u", user], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", user], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) throw new Error(`OS user ${user} is missing (install the server package that creates it)`);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Runs a program (as `user` through runuser when we are root), failing with its output. */
function must(what: string, program: string, args: string[], user?: string, env?: Record<string, string>): void {
  const [cmd, argv] = isRoot && user !== undefined ? ["runuser", ["-u", user, "--", program, ...args]] : [program, args];
  const r = spawnSync(cmd, argv, { encoding: "utf8", cwd: "/", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${`${r.stdout}${r.stderr}`.trim().split("\n").slice(-15).join("\n")}`);
}

/**
 * When we are root the servers run as their own OS user, which must reach the instance directory:
 * a private TMPDIR (mode 0700 somewhere up the path) would fail deep inside initdb otherwise.
 */
function mustReach(user: string, dir: string): void {
  if (!isRoot) return;
  const r = spawnSync("runuser", ["-u", user, "--", "test", "-w", dir], { stdio: "ignore", cwd: "/" });
  if (r.status !== 0) throw new Error(`the OS user ${user} cannot reach ${dir}: point TMPDIR at a directory every user can traverse (e.g. /tmp)`);
}

function which(program: string): boolean {
  return spawnSync("bash", ["-c", `command -v ${program}`], { stdio: "ignore" }).status === 0;
}

/** The PostgreSQL server binaries: 15 first (what the stack deploys), else the newest installed. */
export function postgresBin(): string | undefined {
  return ["15", "17", "16", "14", "13"].map((v) => `/usr/lib/postgresql/${v}/bin`).find((d) => existsSync(join(d, "initdb")));
}

async function waitUntil(what: string, probe: () => Promise<void>, alive: () => boolean, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await probe();
      return;
    } catch (err) {
      last = err;
      if (!alive()) break;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  throw new Error(`${what} did not start: ${(last as Error | undefined)?.message ?? ""}\n${log()}`);
}

function tailFile(path: string): string {
  const r = spawnSync("tail", ["-n", "15", path], { encoding: "utf8" });
  return r.status === 0 ? r.stdout : "";
}

/** Starts an empty throwaway database of `engine` (see the file header). */
export async function startThrowaway(engine: EngineKind, options: ThrowawayOptions): Promise<Throwaway> {
  const dir = mkdtempSync(join(options.tmpRoot ?? tmpdir(), `dbcheck-${engine}-`));
  const password = randomBytes(18).toString("hex");
  let stopServer: () => Promise<void> = async () => undefined;
  let stopped = false;
  const handle: Throwaway = {
    engine,
    url: "",
    display: "",
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await stopServer();
      } finally {
        rmSync(dir, { recursive: true, force: true });
        live.delete(handle);
      }
    },
  };
  live.add(handle);
  try {
    switch (engine) {
      case "sqlite":
        handle.url = sqliteCopyUrl(join(dir, "app.db"));
        handle.display = handle.url;
        break;
      case "postgres": {
        const r = await startPostgres(dir, password, options.ports);
        stopServer = r.stop;
        handle.url = `postgresql://postgres:${password}@127.0.0.1:${r.port}/app`;
        handle.display = `postgresql://postgres:***@127.0.0.1:${r.port}/app`;
        break;
      }
      case "mariadb": {
        const r = await startMariadb(dir, password, options.ports);
        stopServer = r.stop;
        handle.url = `mysql://app:${password}@127.0.0.1:${r.port}/app`;
        handle.display = `mysql://app:***@127.0.0.1:${r.port}/app`;
        break;
      }
      default:
        return unknownEngine(engine);
    }
    return handle;
  } catch (err) {
    await handle.stop().catch(() => undefined);
    throw err;
  }
}

async function startPostgres(dir: string, password: string, ports: number[]): Promise<{ port: number; stop: () => Promise<void> }> {
  const bin = postgresBin();
  if (bin === undefined) throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: as root, apt-get install postgresql-15");
  if (isRoot && !which("runuser")) throw new Error("runuser is missing (apt-get install util-linux): PostgreSQL cannot run as root");
  const data = join(dir, "data");
  const pwfile = join(dir, "pwfile");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (isRoot) {
    const { uid, gid } = osIds("postgres");
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
    mustReach("postgres", dir);
  }
  try {
    must("initdb", join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256", `--pwfile=${pwfile}`, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], "postgres");
  } finally {
    rmSync(pwfile, { force: true });
  }
  const port = await freePort(ports);
  // A throwaway server: durability off, small memory, only 127.0.0.1, its socket in its own directory.
  appendFileSync(join(data, "postgresql.conf"), `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 32MB\nmax_connections = 20\n`);
  let started = false;
  const stop = async () => {
    if (!started && !existsSync(join(data, "postmaster.pid"))) return;
    try {
      must("pg_ctl stop", join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"], "postgres");
    } catch {
      // Already gone, or pg_ctl could not stop it: the pid file names the postmaster.
      const pid = Number(spawnSync("head", ["-n", "1", join(data, "postmaster.pid")], { encoding: "utf8" }).stdout.trim());
      if (pid > 0) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
    }
  };
  try {
    must("pg_ctl start", join(bin, "pg_ctl"), ["-D", data, "-l", join(dir, "log"), "-w", "-t", "60", "start"], "postgres");
    started = true;
    const admin = await openConnection(`postgresql://postgres:${password}@127.0.0.1:${port}/postgres`);
    try {
      await admin.query("CREATE DATABASE app ENCODING 'UTF8' TEMPLATE template0");
    } finally {
      await admin.close();
    }
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${tailFile(join(dir, "log"))}`.trim());
  }
  return { port, stop };
}

async function startMariadb(dir: string, password: string, ports: number[]): Promise<{ port: number; stop: () => Promise<void> }> {
  const missing = ["mariadbd", "mariadb-install-db"].filter((p) => !which(p));
  if (missing.length > 0) throw new Error(`MariaDB is not installed (${missing.join(", ")} not found): as root, apt-get install mariadb-server`);
  const data = join(dir, "data");
  const user = isRoot ? ["--user=mysql"] : [];
  if (isRoot) {
    const { uid, gid } = osIds("mysql");
    chownSync(dir, uid, gid);
    mustReach("mysql", dir);
  }
  // Root only through the socket, as OS root: nobody reaches this server without a password over TCP.
  // MariaDB's temporary files go to TMPDIR, which may be private to us: its own directory instead.
  must("mariadb-install-db", "mariadb-install-db", ["--no-defaults", ...user, `--datadir=${data}`, "--auth-root-authentication-method=socket", "--skip-test-db"], undefined, { TMPDIR: dir });
  const init = join(dir, "init.sql");
  writeFileSync(
    init,
    [
      "CREATE DATABASE app CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;",
      `CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '${password}';`,
      "GRANT ALL PRIVILEGES ON app.* TO 'app'@'127.0.0.1';",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  if (isRoot) {
    const { uid, gid } = osIds("mysql");
    chownSync(init, uid, gid);
  }
  chmodSync(dir, 0o700);
  const port = await freePort(ports);
  const errLog = join(dir, "error.log");
  const child: ChildProcess = spawn(
    "mariadbd",
    [
      "--no-defaults", ...user, `--datadir=${data}`, `--port=${port}`, "--bind-address=127.0.0.1", "--skip-name-resolve",
      `--socket=${join(dir, "sock")}`, `--pid-file=${join(dir, "pid")}`, `--log-error=${errLog}`, `--init-file=${init}`, `--tmpdir=${dir}`,
      "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M", "--innodb-flush-log-at-trx-commit=0", "--performance-schema=OFF",
      "--skip-log-bin", "--max-connections=20",
    ],
    { stdio: "ignore", env: { ...process.env, TMPDIR: dir } },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000))]);
    if (!done) {
      child.kill("SIGKILL");
      await exited;
    }
  };
  try {
    await waitUntil(
      "mariadbd",
      async () => {
        const c = await openConnection(`mysql://app:${password}@127.0.0.1:${port}/app`);
        await c.close();
      },
      () => child.exitCode === null,
      60_000,
      () => tailFile(errLog),
    );
  } catch (err) {
    await stop();
    throw err;
  } finally {
    rmSync(init, { force: true });
  }
  return { port, stop };
}
