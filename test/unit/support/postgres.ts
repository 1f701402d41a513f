import { spawnSync } from "child_process";
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "fs";
import { createServer } from "net";
import { tmpdir } from "os";
import { join } from "path";

/** Where Debian's postgresql-15 package installs the server and client programs. */
export const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface PsqlOptions {
  /** Login role; the postgres superuser (peer authentication over the Unix socket) when omitted. */
  user?: string;
  /** Database; postgres when omitted. */
  db?: string;
  /** Extra environment of the psql process, e.g. PGPASSWORD or the variables a script reads with \getenv. */
  env?: Record<string, string>;
}

export interface PsqlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TestPostgres {
  port: number;
  /** The directory of the server's Unix socket (psql -h). */
  socket: string;
  /** The server's log: every statement (log_statement = all), to check what reaches it. */
  readonly log: () => string;
  /** Runs `sql` fed on stdin to `psql -X -v ON_ERROR_STOP=1`, as rendered scripts are run. */
  psql(sql: string, options?: PsqlOptions): PsqlResult;
  /** Like psql, but throws with psql's output when it fails; returns stdout trimmed. */
  query(sql: string, options?: PsqlOptions): string;
  stop(): void;
}

function run(command: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): PsqlResult {
  const r = spawnSync(command, args, { encoding: "utf8", ...options });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function mustRun(what: string, command: string, args: string[], options: { cwd?: string } = {}): string {
  const r = run(command, args, options);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

/** The environment psql runs in: this process's, without PG* variables that would redirect it. */
function psqlEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("PG")) env[key] = value;
  // No ~/.pgpass: a password comes from PGPASSWORD or nowhere.
  return { ...env, PGPASSFILE: join(dir, "no-pgpass"), PGCONNECT_TIMEOUT: "10", ...extra };
}

/**
 * Starts a throwaway PostgreSQL 15 server owned by the postgres Unix user: data directory and
 * Unix socket in a fresh temporary directory, TCP on 127.0.0.1 only, on a free port. Local
 * connections use peer authentication (the superuser, via runuser), TCP ones scram-sha-256.
 * Fails, rather than skips, when PostgreSQL 15 is not installed.
 */
export async function startPostgres(): Promise<TestPostgres> {
  for (const program of ["postgres", "initdb", "pg_ctl", "psql"]) {
    if (!existsSync(join(PG_BIN, program))) {
      throw new Error(
        `PostgreSQL 15 is not installed (${join(PG_BIN, program)} is missing): as root, apt-get install postgresql-15 postgresql-client-15`,
      );
    }
  }
  if (process.getuid?.() !== 0) throw new Error("the PostgreSQL tests run as root: they start the server as the postgres Unix user with runuser");
  const uid = Number(mustRun("id -u postgres", "id", ["-u", "postgres"]).trim());
  const gid = Number(mustRun("id -g postgres", "id", ["-g", "postgres"]).trim());

  const dir = mkdtempSync(join(tmpdir(), "dbstack-pg-"));
  const data = join(dir, "data");
  const socket = join(dir, "socket");
  const logFile = join(dir, "server.log");
  mkdirSync(socket);
  for (const path of [dir, socket]) chownSync(path, uid, gid);
  const asPostgres = (what: string, program: string, args: string[]) =>
    mustRun(what, "runuser", ["-u", "postgres", "--", join(PG_BIN, program), ...args], { cwd: dir });

  asPostgres("initdb", "initdb", ["-D", data, "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "-U", "postgres"]);
  const port = await freePort();
  appendFileSync(
    join(data, "postgresql.conf"),
    [
      "",
      "# dbstack test server",
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${socket}'`,
      "fsync = off",
      "synchronous_commit = off",
      "full_page_writes = off",
      "log_statement = 'all'",
      "shared_preload_libraries = 'pg_stat_statements'",
      "",
    ].join("\n"),
  );
  asPostgres("pg_ctl start", "pg_ctl", ["-D", data, "-l", logFile, "-w", "-t", "60", "start"]);

  let stopped = false;
  const psql = (sql: string, options: PsqlOptions = {}): PsqlResult => {
    const db = options.db ?? "postgres";
    const flags = ["-X", "-v", "ON_ERROR_STOP=1", "-w", "-A", "-t", "-p", String(port), "-d", db];
    if (options.user === undefined || options.user === "postgres") {
      return run("runuser", ["-u", "postgres", "--", join(PG_BIN, "psql"), ...flags, "-h", socket], {
        input: sql,
        env: psqlEnv(dir, options.env),
        cwd: dir,
      });
    }
    return run(join(PG_BIN, "psql"), [...flags, "-h", "127.0.0.1", "-U", options.user], { input: sql, env: psqlEnv(dir, options.env), cwd: dir });
  };
  return {
    port,
    socket,
    log: () => readFileSync(logFile, "utf8"),
    psql,
    query(sql, options) {
      const r = psql(sql, options);
      if (r.code !== 0) throw new Error(`psql as ${options?.user ?? "postgres"} on ${options?.db ?? "postgres"} failed (exit ${r.code}):\n${r.stderr}\nSQL:\n${sql}`);
      return r.stdout.trim();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      run("runuser", ["-u", "postgres", "--", join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], { cwd: dir });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
