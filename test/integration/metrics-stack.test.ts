import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { request as httpsRequest } from "https";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pulumiEnv } from "../../scripts/lib/env";
import { changes, sandbox, setConfig, upError, writeMigration } from "./harness";

// Issue 23, declared metrics: PostgreSQL with a standby and MariaDB with a replica on this
// machine, `metrics` on; a real Prometheus scrapes every exporter and node_exporter's textfile
// of status's figures. Owns: PostgreSQL ports 7101 (primary, cluster mxpgp) and 7102 (standby,
// mxpgs), MariaDB 7111 (mxmdp) and 7112 (mxmdr), exporters 7121/7122 (PostgreSQL) and
// 7131/7132 (MariaDB), a port held by another process 7141, Prometheus 7150, node_exporter
// 7160, stack it-mx-stack; an SQLite database (mxlite) in the sandbox.
const box = sandbox("mx-stack");
const STACK = "it-mx-stack";
const PG = { primary: 7101, standby: 7102, clusters: ["mxpgp", "mxpgs"], exporters: [7121, 7122] };
const MDB = { primary: 7111, replica: 7112, instances: ["mxmdp", "mxmdr"], exporters: [7131, 7132] };
const PROMETHEUS = 7150;
const NODE_EXPORTER = 7160;
/** A port the test holds with another process, to see an exporter refuse it. */
const TAKEN_PORT = 7141;
const prom = join(box.dir, "prometheus");
const textfileDir = join(box.dir, "textfile");
let stack: Stack;
const started: ChildProcess[] = [];

interface Targets {
  caCertificate?: string;
  job: string;
  username: string;
  scheme: string;
  targets: { member: string; target: string }[];
  scrapeConfig: string;
}
interface Deployment {
  metrics: Targets | null;
  metricsPassword: string | null;
  monitoring: { password: string };
}
let pg: Deployment;
let mdb: Deployment;

function metrics(on: boolean) {
  return (exporters: number[], standby: string, auth: "basic" | "tls" = "basic") => (on ? { metrics: { exporter: { port: exporters[0], standbyPorts: { [standby]: exporters[1] }, auth } } } : {});
}

function config(withMetrics = true) {
  const m = metrics(withMetrics);
  return {
    allowDataRemoval: true,
    postgres: {
      mxpg: {
        port: PG.primary,
        instanceName: PG.clusters[0],
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 30,
        databases: { app: { owner: "app", migrations: { dir: join(box.dir, "pg-migrations") } } },
        users: { app: { grants: { app: "owner" } } },
        backup: { dir: join(box.dir, "pg-backups"), retentionDays: 2 },
        standbys: { s1: { host: "local", address: "127.0.0.1", instanceName: PG.clusters[1], port: PG.standby } },
        toolsDir: join(box.dir, "pg-tools"),
        // PostgreSQL's exporters over TLS, MariaDB's over plain HTTP: both kinds in one Prometheus.
        ...m(PG.exporters, "s1", "tls"),
      },
    },
    mariadb: {
      mxmdb: {
        port: MDB.primary,
        instanceName: MDB.instances[0],
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 30,
        listenAddresses: ["127.0.0.1"],
        databases: { shop: { owner: "shop", migrations: { dir: join(box.dir, "mdb-migrations") } } },
        users: { shop: { grants: { shop: "owner" } } },
        standbys: { r1: { host: "local", address: "127.0.0.1", instanceName: MDB.instances[1], port: MDB.replica } },
        toolsDir: join(box.dir, "mdb-tools"),
        ...m(MDB.exporters, "r1"),
      },
    },
    sqlite: {
      mxlite: { path: join(box.dir, "sqlite", "app.db"), toolsDir: join(box.dir, "sqlite-tools"), migrations: { dir: join(box.dir, "sqlite-migrations") } },
    },
  };
}

function dropServers(): void {
  for (const c of PG.clusters) {
    execFileSync("bash", ["-c", `pg_dropcluster --stop 15 ${c} 2>/dev/null; rm -rf /etc/postgresql/15/${c} /var/lib/postgresql/15/${c} /var/lib/postgresql/.dbstack-15-${c}.pgpass /var/lib/postgresql/.dbstack-15-${c}.creating`]);
  }
  for (const i of MDB.instances) {
    execFileSync("bash", ["-c", `mariadb-admin --no-defaults --protocol=socket --socket=/run/mysqld/dbstack-${i}.sock -uroot shutdown 2>/dev/null || true; sleep 1; rm -rf /etc/mysql/dbstack/${i} /var/lib/dbstack-mariadb/${i}`]);
  }
}

/** The exporters' directories this stack made (their ids start with the stack's host prefix). */
function exporterDirs(): string[] {
  const root = "/etc/dbstack/exporters";
  if (!existsSync(root)) return [];
  return execFileSync("bash", ["-c", `ls -d ${root}/dbstack-${STACK}-* 2>/dev/null || true`], { encoding: "utf8" }).split("\n").filter(Boolean);
}

/** Stops what the test started, by pid (and waits for it), and any exporter of this stack's (a failed destroy must not leave one running). */
async function stopOwnProcesses(): Promise<void> {
  await Promise.all(
    started.map(async (p) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    }),
  );
  for (const dir of exporterDirs()) {
    const pid = existsSync(join(dir, "supervisor.pid")) ? readFileSync(join(dir, "supervisor.pid"), "utf8").trim() : "";
    if (/^\d+$/.test(pid)) spawnSync("kill", ["-TERM", "--", `-${pid}`]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `npm run status` against the stack, asynchronously. */
function status(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "-s", "status", "--", "--stack", STACK, ...args], {
      env: { ...process.env, PULUMI_BACKEND_URL: box.backend, DBSTACK_PROJECT_DIR: box.projectDir, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes; the last error says why. */
async function until<T>(what: string, check: () => Promise<T | undefined>, deadlineMs = 180_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last = "";
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > end) throw new Error(`${what}: not so after ${deadlineMs / 1000} s ${last}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** One instant query to the test's Prometheus: the samples, by their labels. */
async function query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const res = await fetch(`http://127.0.0.1:${PROMETHEUS}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== "success") throw new Error(JSON.stringify(body));
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/**
 * A scrape of one exporter target, as Prometheus makes it (optionally with basic auth): over
 * HTTPS verified with `ca` (by default the deployment's CA for PostgreSQL's exporters, which
 * serve TLS), else plain HTTP.
 */
async function scrape(target: string, auth?: string, ca: string | undefined = PG.exporters.some((p) => target.endsWith(`:${p}`)) ? pg?.metrics?.caCertificate : undefined): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = auth ? { Authorization: `Basic ${Buffer.from(auth).toString("base64")}` } : {};
  if (ca === undefined) {
    const res = await fetch(`http://${target}/metrics`, { headers });
    return { status: res.status, body: await res.text() };
  }
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host, port, path: "/metrics", headers, ca, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** The pids whose command line matches `pattern` (pgrep -f). */
function pgrep(pattern: string): string[] {
  const r = spawnSync("pgrep", ["-f", "--", pattern], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean);
}

function spawnDaemon(cmd: string, args: string[], log: string): ChildProcess {
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  const append = (text: string | Buffer) => {
    if (existsSync(box.dir)) writeFileSync(log, text, { flag: "a" });
  };
  child.stderr!.on("data", append);
  child.on("error", (err) => append(`${cmd}: ${err.message}\n`));
  started.push(child);
  return child;
}

beforeAll(async () => {
  await stopOwnProcesses();
  dropServers();
  writeMigration(join(box.dir, "pg-migrations"), "0001_items.sql", "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\nINSERT INTO items (name) VALUES ('secret row');\n");
  writeMigration(join(box.dir, "sqlite-migrations"), "0001_notes.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n");
  writeMigration(join(box.dir, "mdb-migrations"), "0001_items.sql", "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL);\nINSERT INTO items (name) VALUES ('secret row');\n");
  stack = await box.stack(STACK, config());
  const up = await stack.up();
  expect(up.summary.result).toBe("succeeded");
  const outputs = await stack.outputs();
  pg = (outputs.postgres.value as Record<string, Deployment>).mxpg;
  mdb = (outputs.mariadb.value as Record<string, Deployment>).mxmdb;
}, 900_000);

afterAll(async () => {
  try {
    await stack?.destroy().catch(() => undefined);
  } finally {
    await stopOwnProcesses();
    dropServers();
    rmSync(box.dir, { recursive: true, force: true });
  }
}, 600_000);

describe("declared metrics", () => {
  it("outputs the scrape targets of every member, and a second up changes nothing", async () => {
    expect(mdb.metrics).toMatchObject({ scheme: "http" });
    expect(mdb.metrics!.caCertificate).toBeUndefined();
    expect(pg.metrics!.caCertificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(pg.metrics!.scrapeConfig).toContain('  tls_config:\n    ca_file: "/etc/prometheus/postgres-mxpg.ca.crt"\n');
    expect(pg.metrics).toMatchObject({
      job: "postgres-mxpg",
      scheme: "https",
      username: "prometheus",
      targets: [
        { member: "primary", target: `127.0.0.1:${PG.exporters[0]}` },
        { member: "s1", target: `127.0.0.1:${PG.exporters[1]}` },
      ],
    });
    expect(mdb.metrics!.targets.map((t) => t.target)).toEqual(MDB.exporters.map((p) => `127.0.0.1:${p}`));
    expect(pg.metrics!.scrapeConfig).toContain('- job_name: "postgres-mxpg"');
    expect(pg.metricsPassword).toMatch(/^[A-Za-z0-9]{32}$/);
    const again = await stack.up();
    expect(Object.keys(changes(again.summary)).filter((k) => k !== "same")).toEqual([]);
  });

  it("a real Prometheus scrapes every exporter and node_exporter's textfile: up, pg_up, mysql_up, replication lag, backup age", async () => {
    // dbstack's own figures, after a backup, for node_exporter's textfile collector.
    execFileSync(join(box.dir, "pg-tools", "backup"), { stdio: "ignore" });
    mkdirSync(textfileDir, { recursive: true });
    const st = await status("--textfile", join(textfileDir, "dbstack.prom"));
    expect(st.stderr).not.toContain(pg.monitoring.password);
    expect(readFileSync(join(textfileDir, "dbstack.prom"), "utf8")).toContain("dbstack_backup_age_seconds{");

    // Prometheus' config, rendered from the stack's outputs: each deployment's scrape_configs entry, its password in a 0600 file.
    mkdirSync(prom, { recursive: true });
    const entries = [pg, mdb].map((d) => {
      const file = join(prom, `${d.metrics!.job}.password`);
      writeFileSync(file, d.metricsPassword!, { mode: 0o600 });
      // The CA certificate of a TLS deployment, where its ca_file says (in the test's directory).
      if (d.metrics!.caCertificate) writeFileSync(join(prom, `${d.metrics!.job}.ca.crt`), d.metrics!.caCertificate);
      return d.metrics!.scrapeConfig.replace(`/etc/prometheus/${d.metrics!.job}.password`, file).replace(`/etc/prometheus/${d.metrics!.job}.ca.crt`, join(prom, `${d.metrics!.job}.ca.crt`));
    });
    writeFileSync(
      join(prom, "prometheus.yml"),
      ["global:", "  scrape_interval: 2s", "  scrape_timeout: 2s", "scrape_configs:", ...entries, "- job_name: node", "  static_configs:", `    - targets: ["127.0.0.1:${NODE_EXPORTER}"]`, ""].join("\n"),
    );
    expect(spawnSync("promtool", ["check", "config", join(prom, "prometheus.yml")], { encoding: "utf8" }).status).toBe(0);
    expect(existsSync("/usr/bin/prometheus"), "/usr/bin/prometheus is missing: install the Debian package prometheus").toBe(true);
    expect(existsSync("/usr/bin/prometheus-node-exporter"), "/usr/bin/prometheus-node-exporter is missing: install the Debian package prometheus-node-exporter").toBe(true);
    spawnDaemon("prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${NODE_EXPORTER}`, "--collector.disable-defaults", "--collector.textfile", `--collector.textfile.directory=${textfileDir}`], join(box.dir, "node-exporter.log"));
    spawnDaemon("prometheus", [`--config.file=${join(prom, "prometheus.yml")}`, `--storage.tsdb.path=${join(prom, "data")}`, `--web.listen-address=127.0.0.1:${PROMETHEUS}`], join(box.dir, "prometheus.log"));

    // Every target up: four exporters and node_exporter.
    const up = await until("every target up = 1", async () => {
      const r = await query("up");
      return r.length === 5 && r.every((s) => s.value === 1) ? r : undefined;
    });
    expect(up.map((s) => `${s.metric.job}/${s.metric.member ?? "-"}`).sort()).toEqual(["mariadb-mxmdb/primary", "mariadb-mxmdb/r1", "node/-", "postgres-mxpg/primary", "postgres-mxpg/s1"]);

    const pgUp = await until("pg_up", async () => ((await query("pg_up")).length === 2 ? query("pg_up") : undefined));
    expect(pgUp.map((s) => [s.metric.member, s.value]).sort()).toEqual([["primary", 1], ["s1", 1]]);
    const mysqlUp = await until("mysql_up", async () => ((await query("mysql_up")).length === 2 ? query("mysql_up") : undefined));
    expect(mysqlUp.map((s) => [s.metric.member, s.value]).sort()).toEqual([["primary", 1], ["r1", 1]]);

    // Replication lag: the standby's and the replica's, in seconds, present and sensible.
    const pgLag = await until("pg_replication_lag", async () => (await query('pg_replication_lag{member="s1"}'))[0]);
    expect(pgLag.value).toBeGreaterThanOrEqual(0);
    expect(pgLag.value).toBeLessThan(600);
    expect((await query('pg_replication_is_replica{member="s1"}'))[0].value).toBe(1);
    const bytes = await until("pg_stat_replication_pg_wal_lsn_diff", async () => (await query('pg_stat_replication_pg_wal_lsn_diff{member="primary"}'))[0]);
    expect(bytes.value).toBeGreaterThanOrEqual(0);
    const mdbLag = await until("mysql_slave_status_seconds_behind_master", async () => (await query('mysql_slave_status_seconds_behind_master{member="r1"}'))[0]);
    expect(mdbLag.value).toBeGreaterThanOrEqual(0);
    expect(mdbLag.value).toBeLessThan(600);

    // dbstack's figures through node_exporter: the backup just made is minutes old at most.
    const age = await until("dbstack_backup_age_seconds", async () => (await query('dbstack_backup_age_seconds{deployment="mxpg"}'))[0]);
    expect(age.metric).toMatchObject({ stack: STACK, engine: "postgres", member: "primary" });
    expect(age.value).toBeGreaterThanOrEqual(0);
    expect(age.value).toBeLessThan(3600);
    // The SQLite file's figures and every database's last post-deploy hook, through node_exporter.
    const file = await until("dbstack_sqlite_file_bytes", async () => (await query('dbstack_sqlite_file_bytes{deployment="mxlite"}'))[0]);
    expect(file.value).toBeGreaterThan(0);
    const checkpoint = (await query('dbstack_sqlite_last_checkpoint_timestamp_seconds{deployment="mxlite"}'))[0];
    expect(Math.abs(checkpoint.value * 1000 - statSync(join(box.dir, "sqlite", "app.db")).mtimeMs)).toBeLessThan(1500);
    const hooks = await query("dbstack_hook_last_ok");
    expect(hooks.map((s) => [s.metric.deployment, s.metric.member, s.metric.database, s.value]).sort()).toEqual([
      ["mxlite", "file", "mxlite", 1],
      ["mxmdb", "primary", "shop", 1],
      ["mxpg", "primary", "app", 1],
    ]);
    const hookAge = Date.now() / 1000 - (await query('dbstack_hook_last_timestamp_seconds{database="app"}'))[0].value;
    expect(hookAge).toBeGreaterThanOrEqual(0);
    expect(hookAge).toBeLessThan(3600);
    // What Prometheus answered, in the test's log (docs/status.md shows it).
    const line = (name: string, s: { metric: Record<string, string>; value: number }) =>
      `${name}{${Object.entries(s.metric).filter(([k]) => k !== "__name__").map(([k, v]) => `${k}="${v}"`).join(",")}} ${s.value}`;
    console.log([...up.map((s) => line("up", s)), line("pg_replication_lag", pgLag), line("pg_stat_replication_pg_wal_lsn_diff", bytes), line("mysql_slave_status_seconds_behind_master", mdbLag), line("dbstack_backup_age_seconds", age), line("dbstack_sqlite_file_bytes", file), line("dbstack_sqlite_last_checkpoint_timestamp_seconds", checkpoint), ...hooks.map((s) => line("dbstack_hook_last_ok", s))].join("\n"));
  });

  it("a scrape without the password, or with a wrong one, gets 401", async () => {
    for (const d of [pg, mdb]) {
      for (const t of d.metrics!.targets) {
        expect((await scrape(t.target)).status).toBe(401);
        expect((await scrape(t.target, `prometheus:${d.metricsPassword!.slice(1)}x`)).status).toBe(401);
        const ok = await scrape(t.target, `prometheus:${d.metricsPassword}`);
        expect(ok.status).toBe(200);
        expect(ok.body).toMatch(d === pg ? /^pg_up 1$/m : /^mysql_up 1$/m);
      }
    }
  });

  it("PostgreSQL's exporters serve only TLS, with their own key and a certificate of the deployment's CA: plain HTTP and an unknown CA fail", async () => {
    for (const t of pg.metrics!.targets) {
      // Plain HTTP to a TLS endpoint: no metrics (Go answers 400), with or without the password.
      const plain = await fetch(`http://${t.target}/metrics`, { headers: { Authorization: `Basic ${Buffer.from(`prometheus:${pg.metricsPassword}`).toString("base64")}` } }).then(async (r) => ({ status: r.status, body: await r.text() }), () => ({ status: 0, body: "" }));
      expect(plain.status).not.toBe(200);
      expect(plain.body).not.toContain("pg_up");
      // HTTPS that trusts only the system's CAs does not accept the exporter's certificate.
      await expect(scrape(t.target, `prometheus:${pg.metricsPassword}`, readFileSync("/etc/ssl/certs/ca-certificates.crt", "utf8"))).rejects.toThrow(/certificate/i);
    }
    const dir = exporterDirs().find((d) => d.endsWith("-postgres-mxpg-s1"))!;
    writeFileSync(join(box.dir, "pg-ca.crt"), pg.metrics!.caCertificate!);
    expect(execFileSync("openssl", ["verify", "-CAfile", join(box.dir, "pg-ca.crt"), join(dir, "tls.crt")], { encoding: "utf8" })).toMatch(/: OK/);
    expect(execFileSync("stat", ["-c", "%a %U", join(dir, "tls.key")], { encoding: "utf8" }).trim()).toBe("600 prometheus");
    expect(readFileSync(join(dir, "web.yml"), "utf8")).toContain("tls_server_config:");
    // MariaDB's exporters, declared without TLS, answer plain HTTP.
    expect(readFileSync(join(exporterDirs().find((d) => d.endsWith("-mariadb-mxmdb-r1"))!, "web.yml"), "utf8")).not.toContain("tls_server_config");
  });

  it("the exporters' passwords are not in ps, in the state in plaintext, or in any world-readable file", () => {
    const secrets = [pg.metricsPassword!, mdb.metricsPassword!, pg.monitoring.password, mdb.monitoring.password];
    const ps = execFileSync("ps", ["-eww", "-o", "args"], { encoding: "utf8" });
    expect(ps).toContain("prometheus-postgres-exporter");
    expect(ps).toContain("prometheus-mysqld-exporter");
    // Nor in any exporter's environment.
    const environ = pgrep("prometheus-(postgres|mysqld)-exporter")
      .map((p) => (existsSync(`/proc/${p}/environ`) ? readFileSync(`/proc/${p}/environ`, "utf8") : ""))
      .join("\n");
    const exported = execFileSync("pulumi", ["stack", "export", "--stack", STACK], {
      cwd: box.projectDir,
      encoding: "utf8",
      env: { ...process.env, ...pulumiEnv(STACK, { PULUMI_BACKEND_URL: box.backend }) },
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(exported).toContain("prometheus-postgres-exporter");
    for (const pw of secrets) {
      expect(ps).not.toContain(pw);
      expect(environ).not.toContain(pw);
      expect(exported).not.toContain(pw);
      const found = spawnSync("grep", ["-rlF", "--", pw, "/etc/dbstack/exporters", "/etc/postgresql/15", "/etc/mysql/dbstack", box.dir], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
      for (const f of found) expect(`${f} ${execFileSync("stat", ["-c", "%a", f], { encoding: "utf8" }).trim()}`).toMatch(/ [0-7]00$/);
    }
    for (const dir of exporterDirs()) expect(`${dir} ${execFileSync("stat", ["-c", "%a %U", dir], { encoding: "utf8" }).trim()}`).toMatch(/ 700 prometheus$/);
  });

  it("the exporters' account reads statistics, never an application table, and writes nothing", () => {
    const pgDir = exporterDirs().find((d) => d.endsWith("-postgres-mxpg-primary"))!;
    const pass = readFileSync(join(pgDir, "monitor.pass"), "utf8");
    const run = readFileSync(join(pgDir, "run"), "utf8");
    expect(run).toContain("export DATA_SOURCE_USER='dbstack_monitor'");
    const psql = (sql: string, db = "postgres") =>
      spawnSync("psql", ["-X", "-At", "-h", "127.0.0.1", "-p", String(PG.primary), "-U", "dbstack_monitor", "-d", db, "-c", sql], { encoding: "utf8", env: { ...process.env, PGPASSWORD: pass } });
    expect(psql("SELECT count(*) >= 0 FROM pg_stat_activity").stdout).toBe("t\n");
    expect(psql("SELECT name FROM items", "app").stderr).toMatch(/permission denied for database "app"/);
    expect(psql("CREATE TABLE public.mine (id int)").stderr).toMatch(/read-only transaction/);
    const cnf = exporterDirs().find((d) => d.endsWith("-mariadb-mxmdb-primary"))!;
    const mariadb = (sql: string) => spawnSync("mariadb", [`--defaults-file=${join(cnf, "my.cnf")}`, "--protocol=tcp", "--batch", "--skip-column-names", "-e", sql], { encoding: "utf8" });
    expect(mariadb("SELECT CURRENT_USER()").stdout).toMatch(/^dbstack_monitor@/);
    expect(mariadb("SELECT name FROM shop.items").stderr).toMatch(/denied/);
    expect(mariadb("INSERT INTO shop.items (name) VALUES ('x')").stderr).toMatch(/denied/);
  });

  it("an exporter that dies is started again by its supervisor", async () => {
    const pids = () => pgrep(`--web.listen-address=127.0.0.1:${PG.exporters[0]}`).join(" ");
    const before = pids();
    expect(before).toMatch(/^\d+$/);
    execFileSync("kill", ["-KILL", before]);
    const after = await until("a new exporter", async () => {
      const p = pids();
      return /^\d+$/.test(p) && p !== before ? p : undefined;
    }, 60_000);
    expect(after).not.toBe(before);
    await until("the new exporter answers", async () => ((await scrape(`127.0.0.1:${PG.exporters[0]}`, `prometheus:${pg.metricsPassword}`)).status === 200 ? true : undefined), 60_000);
  });

  it("a port another process holds fails the up naming metrics.exporter.port, and the running exporter is left as it was", async () => {
    const holder = spawn("python3", ["-m", "http.server", "--bind", "127.0.0.1", String(TAKEN_PORT)], { stdio: "ignore", cwd: box.dir });
    started.push(holder);
    try {
      await until("the port holder listens", async () => (await fetch(`http://127.0.0.1:${TAKEN_PORT}/`).then((r) => r.status).catch(() => undefined)) === 200 ? true : undefined, 60_000);
      const moved = config();
      (moved.postgres.mxpg as { metrics?: unknown }).metrics = { exporter: { port: PG.exporters[0], standbyPorts: { s1: TAKEN_PORT }, auth: "tls" } };
      await setConfig(stack, moved);
      const err = await upError(stack);
      expect(err).toMatch(new RegExp(`port: ${TAKEN_PORT} is already in use by another process: pid ${holder.pid} \\([^)]*python3 -m http\\.server[^)]*\\); the postgres_exporter \\S+-postgres-mxpg-s1 was left as it was \\(metrics\\.exporter\\.port\\)`));
      expect((await scrape(`127.0.0.1:${PG.exporters[1]}`, `prometheus:${pg.metricsPassword}`)).status).toBe(200);
    } finally {
      holder.kill("SIGTERM");
      await setConfig(stack, config());
    }
    const back = await stack.up();
    expect(back.summary.result).toBe("succeeded");
    expect((await scrape(`127.0.0.1:${PG.exporters[1]}`, `prometheus:${pg.metricsPassword}`)).status).toBe(200);
  });

  it("a hook that fails is recorded: status exits 1 naming the database, the textfile says dbstack_hook_last_ok 0; fixed, it is ok again", async () => {
    const bad = join(box.dir, "sqlite-migrations", "0002_broken.sql");
    writeMigration(join(box.dir, "sqlite-migrations"), "0002_broken.sql", "CREATE TABLE broken (;\n");
    try {
      expect(await upError(stack)).toMatch(/migration 0002_broken failed/);
      const st = await status("--deployment", "mxlite", "--textfile", join(textfileDir, "dbstack.prom"));
      expect(st.code).toBe(1);
      expect(st.stdout).toMatch(/✗ sqlite mxlite\/file: the last post-deploy hook of database mxlite failed \(\S+\), exit 1/);
      expect(readFileSync(join(textfileDir, "dbstack.prom"), "utf8")).toContain('dbstack_hook_last_ok{stack="it-mx-stack",engine="sqlite",deployment="mxlite",member="file",database="mxlite"} 0\n');
    } finally {
      rmSync(bad, { force: true });
    }
    expect((await stack.up()).summary.result).toBe("succeeded");
    const st = await status("--deployment", "mxlite", "--json");
    expect(st.code).toBe(0);
    expect((JSON.parse(st.stdout) as { members: { hooks?: { ok: boolean }[] }[] }).members[0].hooks).toEqual([expect.objectContaining({ database: "mxlite", ok: true, exitCode: 0 })]);
  });

  it("removing the declaration stops and removes the exporters; the servers stay", async () => {
    await setConfig(stack, config(false));
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(changes(up.summary).delete).toBeGreaterThanOrEqual(6); // four exporters, two passwords
    expect(exporterDirs()).toEqual([]);
    // The exporters' directory goes with the last exporter (unless another stack's are there).
    if (!execFileSync("bash", ["-c", "ls -A /etc/dbstack/exporters 2>/dev/null || true"], { encoding: "utf8" }).trim()) expect(existsSync("/etc/dbstack/exporters")).toBe(false);
    for (const port of [...PG.exporters, ...MDB.exporters]) await expect(scrape(`127.0.0.1:${port}`)).rejects.toThrow();
    const outputs = await stack.outputs();
    expect((outputs.postgres.value as Record<string, Deployment>).mxpg.metrics).toBeNull();
    const st = await status("--json");
    const report = JSON.parse(st.stdout) as { members: { member: string; reachable: boolean }[] };
    expect(report.members.every((m) => m.reachable)).toBe(true);
  });
});
