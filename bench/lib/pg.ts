import { existsSync, readdirSync, readFileSync } from "fs";
import { createServer } from "net";
import { join } from "path";
import { run } from "./proc";

export const PG_VERSION = 15;
export const PG_BIN = `/usr/lib/postgresql/${PG_VERSION}/bin`;
export const SOCKET_DIR = "/var/run/postgresql";

/** How pgbench reaches a cluster. */
export type ConnectMode = "socket" | "tcp";

/** One cluster under test and how the benchmark connects to it. */
export interface Target {
  /** "default", "tuned", "pgtune" or "ceiling": the first word of the result lines. */
  label: string;
  cluster: string;
  port: number;
  database: string;
  mode: ConnectMode;
  /** tcp: the role pgbench logs in as, and its password (given to pgbench as PGPASSWORD). */
  user?: string;
  password?: string;
}

export interface Ctx {
  signal: AbortSignal;
}

/**
 * psql as the postgres superuser over the cluster's Unix socket (peer authentication, no
 * password, no network), SQL on stdin. For administration: creating the baseline's role and
 * database, SHOW, VACUUM and CHECKPOINT between runs.
 */
export async function adminSql(ctx: Ctx, port: number, database: string, sql: string, timeoutMs = 300_000): Promise<string> {
  const { stdout } = await run(
    "runuser",
    ["-u", "postgres", "--", `${PG_BIN}/psql`, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", SOCKET_DIR, "-p", String(port), "-d", database, "-f", "-"],
    { input: sql, timeoutMs, signal: ctx.signal },
  );
  return stdout.trim();
}

/**
 * The connection of a target as a program and its arguments, plus its environment: runuser as
 * postgres over the Unix socket, or TCP to 127.0.0.1 with TLS required and the password in
 * PGPASSWORD (never in argv, where ps would show it).
 */
function connection(t: Target, program: string): { file: string; args: string[]; env: Record<string, string> } {
  if (t.mode === "socket") {
    return { file: "runuser", args: ["-u", "postgres", "--", `${PG_BIN}/${program}`, "-h", SOCKET_DIR, "-p", String(t.port)], env: {} };
  }
  if (!t.user || !t.password) throw new Error(`${t.label}: tcp connections need a user and a password`);
  return {
    file: `${PG_BIN}/${program}`,
    args: ["-h", "127.0.0.1", "-p", String(t.port), "-U", t.user],
    env: { PGPASSWORD: t.password, PGSSLMODE: "require", PGCONNECT_TIMEOUT: "10" },
  };
}

/** Runs pgbench against a target's database with the given options. */
export async function pgbench(ctx: Ctx, t: Target, options: string[], timeoutMs: number): Promise<string> {
  const c = connection(t, "pgbench");
  const { stdout } = await run(c.file, [...c.args, ...options, t.database], { env: c.env, timeoutMs, signal: ctx.signal });
  return stdout;
}

/** Runs one query as the target's benchmark connection (to prove it works: TLS, password). */
export async function querySql(ctx: Ctx, t: Target, sql: string): Promise<string> {
  const c = connection(t, "psql");
  const { stdout } = await run(c.file, [...c.args, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", t.database, "-f", "-"], {
    input: sql,
    env: c.env,
    timeoutMs: 60_000,
    signal: ctx.signal,
  });
  return stdout.trim();
}

export interface RunStats {
  tps: number;
  latencyMs?: number;
  transactions?: number;
  failed?: number;
}

/** Reads pgbench's summary (PostgreSQL 15 format). */
export function parsePgbench(out: string): RunStats {
  const tps = /^tps = ([0-9.]+) \(without initial connection time\)$/m.exec(out);
  if (!tps) throw new Error(`no "tps = ..." line in pgbench's output:\n${out.trim().split("\n").slice(-15).join("\n")}`);
  const latency = /^latency average = ([0-9.]+) ms$/m.exec(out);
  const processed = /^number of transactions actually processed: (\d+)/m.exec(out);
  const failed = /^number of failed transactions: (\d+)/m.exec(out);
  return {
    tps: Number(tps[1]),
    latencyMs: latency ? Number(latency[1]) : undefined,
    transactions: processed ? Number(processed[1]) : undefined,
    failed: failed ? Number(failed[1]) : undefined,
  };
}

/** postgresql-common's directories of a cluster: configuration, data. */
export function clusterDirs(cluster: string): string[] {
  return [`/etc/postgresql/${PG_VERSION}/${cluster}`, `/var/lib/postgresql/${PG_VERSION}/${cluster}`];
}

/**
 * What is on disk of a cluster of this name: its configuration or data directory. Not from
 * pg_lsclusters, which fails as a whole while any other cluster on the host is half-created, and
 * which does not list a configuration directory that lost its postgresql.conf but kept conf.d
 * (pg_dropcluster leaves files it did not write there): pg_createcluster would reuse such a
 * directory, and its stale conf.d files would silently configure the new cluster.
 */
export function clusterLeftovers(cluster: string): string[] {
  return clusterDirs(cluster).filter((d) => existsSync(d));
}

/** Whether the cluster is registered (has its postgresql.conf), i.e. pg_dropcluster applies. */
export function clusterRegistered(cluster: string): boolean {
  return existsSync(`${clusterDirs(cluster)[0]}/postgresql.conf`);
}

/** The ports the clusters on this host are configured with (postgresql.conf), by cluster. */
function configuredPorts(): Map<number, string> {
  const ports = new Map<number, string>();
  const root = "/etc/postgresql";
  if (!existsSync(root)) return ports;
  for (const version of readdirSync(root)) {
    let clusters: string[];
    try {
      clusters = readdirSync(join(root, version));
    } catch {
      continue;
    }
    for (const cluster of clusters) {
      try {
        const conf = readFileSync(join(root, version, cluster, "postgresql.conf"), "utf8");
        const port = /^\s*port\s*=\s*'?(\d+)/m.exec(conf);
        if (port) ports.set(Number(port[1]), `${version}/${cluster}`);
      } catch {
        /* not a cluster directory */
      }
    }
  }
  return ports;
}

/** Why the port cannot be used for a new cluster, if it cannot. */
export async function portProblem(port: number): Promise<string | undefined> {
  const owner = configuredPorts().get(port);
  if (owner) return `port ${port} is configured for cluster ${owner}`;
  if (existsSync(`${SOCKET_DIR}/.s.PGSQL.${port}`)) return `a server already listens on ${SOCKET_DIR}/.s.PGSQL.${port}`;
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
  });
  return free ? undefined : `something already listens on 127.0.0.1:${port}`;
}

export async function ctlCluster(ctx: Ctx, cluster: string, action: "start" | "stop"): Promise<void> {
  await run("pg_ctlcluster", [String(PG_VERSION), cluster, action], { timeoutMs: 180_000, signal: ctx.signal });
}

/** pg_dropcluster --stop; runs even when the benchmark was aborted (cleanup). */
export async function dropCluster(cluster: string): Promise<void> {
  await run("pg_dropcluster", ["--stop", String(PG_VERSION), cluster], { timeoutMs: 180_000 });
}

/** The durability settings: on in every durable cluster, off in the ceiling. */
export const DURABILITY = ["fsync", "synchronous_commit", "full_page_writes"] as const;

/** SHOWs the durability settings; throws naming every one that is not as `expected`. */
export async function checkDurability(ctx: Ctx, t: Target, expected: "on" | "off" = "on"): Promise<void> {
  const values: Record<string, string> = {};
  for (const name of DURABILITY) values[name] = await adminSql(ctx, t.port, t.database, `SHOW ${name};`);
  const wrong = DURABILITY.filter((n) => values[n] !== expected);
  if (wrong.length > 0) {
    throw new Error(
      `${t.label} cluster ${t.cluster}: ${wrong.map((n) => `${n} = ${values[n]}`).join(", ")}; the comparison needs fsync, synchronous_commit and full_page_writes ` +
        (expected === "on" ? "on in every durable cluster" : "off in the ceiling cluster"),
    );
  }
}

/** The settings that differ between the two clusters' configurations, for the log. */
const SUMMARY_SETTINGS = [
  "shared_buffers",
  "effective_cache_size",
  "work_mem",
  "wal_buffers",
  "max_wal_size",
  "checkpoint_timeout",
  "wal_compression",
  "random_page_cost",
  "jit",
  "huge_pages",
  "data_checksums",
  "max_connections",
  "fsync",
  "synchronous_commit",
  "full_page_writes",
];

export async function settingsSummary(ctx: Ctx, t: Target): Promise<string> {
  const sql = `SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY array_position(ARRAY[${SUMMARY_SETTINGS.map((s) => `'${s}'`).join(",")}], name::text))
    FROM pg_settings WHERE name IN (${SUMMARY_SETTINGS.map((s) => `'${s}'`).join(",")});`;
  return adminSql(ctx, t.port, t.database, sql);
}
