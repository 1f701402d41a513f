import { spawnSync } from "child_process";
import { existsSync, readFileSync } from "fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mariadbPaths, type MariadbLocation } from "../../components/engines/mariadb/host";
import { renderConfigureInstance, renderCreateInstance, renderRemoveInstance } from "../../components/engines/mariadb/instanceScripts";
import { renderOptionFile, type OptionFileSpec } from "../../components/engines/mariadb/optionFile";
import { renderPromote, renderStandby, renderStandbyStatus, renderReplicationSource } from "../../components/engines/mariadb/standbyScripts";
import { renderInstanceCa, renderStandbyKey, renderSignStandbyCertificate } from "../../components/engines/mariadb/tls";
import type { TunedParameter } from "../../components/model/tuning";

// The rendered instance scripts, run with bash as root against a real MariaDB 10.11 on this
// machine: a primary (port 3311) and a replica (port 3312), supervised by mariadbd-safe (no
// systemd here).
const PRIMARY: MariadbLocation = { instance: "m1primary", port: 3311 };
const REPLICA: MariadbLocation = { instance: "m1replica", port: 3312 };
// A password with every character that could break out of SQL, an option file or the shell.
const REPLICATION_PASSWORD = `it's "q" \\ $x &y; #z`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, env: Record<string, string> = {}): Run {
  const r = spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(script: string, env: Record<string, string> = {}): string {
  const r = run(script, env);
  expect(r.code, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** One query as root over the instance's socket; the result's rows, tab-separated. */
function query(loc: MariadbLocation, sql: string, columnNames = false): string {
  const r = spawnSync("mariadb", ["--no-defaults", `--socket=${mariadbPaths(loc).socket}`, "-uroot", "--batch", columnNames ? "--column-names" : "--skip-column-names"], {
    input: sql,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`${sql}: ${r.stderr}`);
  return r.stdout.trim();
}

const uptime = (loc: MariadbLocation) => Number(query(loc, "SHOW GLOBAL STATUS LIKE 'Uptime'").split("\t")[1]);

const BASE: TunedParameter[] = [
  { name: "innodb_buffer_pool_size", value: "64M", reason: "small test instance" },
  { name: "innodb_log_file_size", value: "16M", reason: "small test instance" },
  { name: "max_connections", value: "50", reason: "test" },
  { name: "performance_schema", value: "OFF", reason: "test: less memory" },
];

function optionFile(loc: MariadbLocation, over: Partial<OptionFileSpec> = {}): string {
  return renderOptionFile({ loc, parameters: BASE, bindAddresses: ["127.0.0.1"], requireSecureTransport: false, tls: true, ...over });
}

const primaryFile = (parameters: TunedParameter[] = BASE) =>
  optionFile(PRIMARY, { parameters, requireSecureTransport: true, replication: { role: "primary", serverId: 1 } });
const PRIMARY_TLS = { names: ["localhost", "127.0.0.1"] };

describe("MariaDB instance scripts on a real server", () => {
  beforeAll(() => {
    const found = spawnSync("bash", ["-c", "command -v mariadbd && command -v mariadb-install-db && command -v mariadb-dump"], { encoding: "utf8" });
    if (found.status !== 0) throw new Error("mariadbd, mariadb-install-db or mariadb-dump is missing: install mariadb-server and mariadb-client (apt-get install mariadb-server mariadb-client)");
    for (const loc of [PRIMARY, REPLICA]) run(renderRemoveInstance(loc, true));
  });

  afterAll(() => {
    for (const loc of [PRIMARY, REPLICA]) run(renderRemoveInstance(loc, true));
  });

  it("creates an instance once, secure from the first start", () => {
    expect(ok(renderCreateInstance(PRIMARY))).toContain("created instance m1primary");
    expect(ok(renderCreateInstance(PRIMARY))).toContain("instance m1primary exists");
    expect(ok(renderConfigureInstance(PRIMARY, primaryFile(), PRIMARY_TLS)).trim()).toBe("started m1primary");
    expect(query(PRIMARY, "SELECT COUNT(*) FROM mysql.user WHERE user = ''")).toBe("0");
    expect(query(PRIMARY, "SELECT GROUP_CONCAT(DISTINCT host) FROM mysql.user WHERE user = 'root'")).toBe("localhost");
    expect(query(PRIMARY, "SHOW DATABASES").split("\n")).not.toContain("test");
    expect(query(PRIMARY, "SELECT priv LIKE '%unix_socket%' AND JSON_VALUE(priv, '$.authentication_string') = 'invalid' FROM mysql.global_priv WHERE user = 'root'")).toBe("1");
    // No root account for the network: refused.
    const tcp = spawnSync("mariadb", ["--no-defaults", "-h127.0.0.1", "-P3311", "-uroot", "--ssl", "-e", "SELECT 1"], { encoding: "utf8", input: "" });
    expect(tcp.status).not.toBe(0);
    expect(tcp.stderr).toMatch(/is not allowed to connect|Access denied/);
    expect(query(PRIMARY, "SELECT @@have_ssl, @@require_secure_transport, @@log_bin, @@server_id")).toBe("YES\t1\t1\t1");
    // The supervisor runs detached from the step, outlives it, and restarts a crashed server.
    expect(run(`pgrep -f 'mariadbd-safe --defaults-file=${mariadbPaths(PRIMARY).configFile}'`).code).toBe(0);
    const crashed = Number(readFileSync(mariadbPaths(PRIMARY).pidFile, "utf8").trim());
    process.kill(crashed, "SIGKILL");
    let restarted = false;
    for (let i = 0; i < 60 && !restarted; i++) {
      spawnSync("sleep", ["0.5"]);
      const pid = existsSync(mariadbPaths(PRIMARY).pidFile) ? Number(readFileSync(mariadbPaths(PRIMARY).pidFile, "utf8").trim()) : 0;
      restarted = pid > 0 && pid !== crashed && run(`mariadb-admin --no-defaults --socket=${mariadbPaths(PRIMARY).socket} -uroot ping`).code === 0;
    }
    expect(restarted).toBe(true);
  });

  it("applies a dynamic change with SET GLOBAL (uptime kept) and a static one with a restart (uptime reset); a second run changes nothing", async () => {
    expect(ok(renderConfigureInstance(PRIMARY, primaryFile(), PRIMARY_TLS)).trim()).toBe("unchanged");
    await new Promise((r) => setTimeout(r, 2500));
    const before = uptime(PRIMARY);
    const dynamic = BASE.map((p) => (p.name === "max_connections" ? { ...p, value: "60" } : p));
    const out = ok(renderConfigureInstance(PRIMARY, primaryFile(dynamic), PRIMARY_TLS));
    console.log(`dynamic change: ${out.trim()} (uptime ${before} -> ${uptime(PRIMARY)})`);
    expect(out.trim()).toBe("applied with SET GLOBAL: max_connections (no restart)");
    expect(query(PRIMARY, "SELECT @@max_connections")).toBe("60");
    expect(uptime(PRIMARY)).toBeGreaterThanOrEqual(before);

    const beforeStatic = uptime(PRIMARY);
    const withStatic = [...dynamic, { name: "innodb_log_buffer_size", value: "32M", reason: "test" }];
    const restart = ok(renderConfigureInstance(PRIMARY, primaryFile(withStatic), PRIMARY_TLS));
    console.log(`static change: ${restart.trim()} (uptime ${beforeStatic} -> ${uptime(PRIMARY)})`);
    expect(restart.trim()).toBe("restarting m1primary: changed variables need a restart: innodb_log_buffer_size");
    expect(uptime(PRIMARY)).toBeLessThan(beforeStatic);
    expect(query(PRIMARY, "SELECT @@innodb_log_buffer_size, @@max_connections")).toBe(`${32 * 1024 * 1024}\t60`);
    expect(ok(renderConfigureInstance(PRIMARY, primaryFile(withStatic), PRIMARY_TLS)).trim()).toBe("unchanged");
  });

  it("rejects an unknown variable and a bad value, naming them, and keeps the previous file and server", () => {
    const cnf = mariadbPaths(PRIMARY).configFile;
    const applied = readFileSync(cnf, "utf8");
    const bad = [...BASE, { name: "max_connectionz", value: "60", reason: "typo" }, { name: "innodb_flush_log_at_trx_commit", value: "always", reason: "bad" }];
    const r = run(renderConfigureInstance(PRIMARY, primaryFile(bad), PRIMARY_TLS));
    console.log(`bad variable: exit ${r.code}\n${r.stderr.trim()}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("parameters.max_connectionz: MariaDB has no such variable (a typo?)");
    expect(r.stderr).toContain("parameters.innodb_flush_log_at_trx_commit: invalid value always");
    expect(readFileSync(cnf, "utf8")).toBe(applied);
    expect(existsSync(`${cnf}.dbstack-pending`)).toBe(false);
    expect(query(PRIMARY, "SELECT @@max_connections")).toBe("60");
  });

  it("seeds a replica from the primary over TLS, replicates a write, reports its status, and promote makes it writable", () => {
    const env = { DBSTACK_REPLICATION_PASSWORD: REPLICATION_PASSWORD };
    query(PRIMARY, "CREATE DATABASE m1app; CREATE TABLE m1app.items (id INT PRIMARY KEY, name VARCHAR(40)); INSERT INTO m1app.items VALUES (1, 'before seed');");
    const source = { user: "m1repl", passwordEnv: "DBSTACK_REPLICATION_PASSWORD", standbyHosts: ["127.0.0.1", "10.9.9.9"] };
    ok(renderReplicationSource(PRIMARY, source), env);
    // A replica host no longer declared loses its account.
    expect(ok(renderReplicationSource(PRIMARY, { ...source, standbyHosts: ["127.0.0.1"] }), env)).toContain("dropped replication account 'm1repl'@'10.9.9.9'");
    expect(query(PRIMARY, "SELECT GROUP_CONCAT(host) FROM mysql.user WHERE user = 'm1repl'")).toBe("127.0.0.1");

    // TLS: the replica's own key; the primary's CA signs its public key.
    const ca = ok(renderInstanceCa(PRIMARY));
    const publicKey = ok(renderStandbyKey(REPLICA));
    expect(publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const certificate = ok(renderSignStandbyCertificate(PRIMARY, { name: "m1replica", publicKey, names: ["localhost", "127.0.0.1"] }));
    expect(certificate).toMatch(/^-----BEGIN CERTIFICATE-----/);

    ok(renderCreateInstance(REPLICA));
    const replicaFile = optionFile(REPLICA, { replication: { role: "replica", serverId: 2 } });
    expect(ok(renderConfigureInstance(REPLICA, replicaFile, { names: ["localhost", "127.0.0.1"], certificate, caCertificate: ca })).trim()).toBe("started m1replica");
    const replica = { loc: REPLICA, source: { host: "127.0.0.1", port: PRIMARY.port }, user: "m1repl", passwordEnv: "DBSTACK_REPLICATION_PASSWORD" };
    const seeded = ok(renderStandby(replica), env);
    console.log(`replica: ${seeded.trim()}`);
    expect(seeded).toContain("seeded replica m1replica from a consistent snapshot of the primary");
    expect(seeded).toContain("replica m1replica replicates from 127.0.0.1:3311 (io=Yes sql=Yes");
    expect(query(REPLICA, "SELECT name FROM m1app.items")).toBe("before seed");
    expect(query(REPLICA, "SELECT @@read_only")).toBe("1");
    // The primary has require_secure_transport (a connection without TLS would be refused), and
    // the replica verified the primary's certificate against the deployment's CA.
    expect(query(REPLICA, "SHOW SLAVE STATUS\\G", true).match(/Master_SSL_(Allowed|Verify_Server_Cert|CA_File): (.*)/g)).toEqual([
      "Master_SSL_Allowed: Yes",
      `Master_SSL_CA_File: ${mariadbPaths(REPLICA).tlsDir}/ca.crt`,
      "Master_SSL_Verify_Server_Cert: Yes",
    ]);

    query(PRIMARY, "INSERT INTO m1app.items VALUES (2, 'after seed');");
    let rows = "";
    for (let i = 0; i < 50 && rows !== "2"; i++) {
      rows = query(REPLICA, "SELECT COUNT(*) FROM m1app.items");
      if (rows !== "2") spawnSync("sleep", ["0.2"]);
    }
    expect(rows).toBe("2");
    const status = ok(renderStandbyStatus(REPLICA));
    console.log(`status: ${status.trim()}`);
    expect(status.trim()).toMatch(/^io=Yes sql=Yes lag=\d+$/);
    expect(ok(renderStandby(replica), env)).toContain("replica m1replica already replicates from 127.0.0.1");

    const promoted = ok(renderPromote(REPLICA));
    console.log(`promote: ${promoted.trim()}`);
    expect(promoted).toContain("promoted m1replica");
    expect(query(REPLICA, "SELECT @@read_only")).toBe("0");
    expect(readFileSync(mariadbPaths(REPLICA).configFile, "utf8")).toMatch(/^read_only = OFF$/m);
    const after = run(renderStandbyStatus(REPLICA));
    expect(after.code).not.toBe(0);
    expect(after.stdout.trim()).toBe("io=No sql=No lag=NULL");
    query(REPLICA, "INSERT INTO m1app.items VALUES (3, 'on the promoted replica');");
    expect(query(REPLICA, "SELECT COUNT(*) FROM m1app.items")).toBe("3");
    // A promoted replica holds data of its own: a later replica step refuses to overwrite it.
    const again = run(renderStandby(replica), env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("will not overwrite it");
  });

  it("remove stops the instance and keeps its data directory unless data removal is allowed", () => {
    const r = run(renderRemoveInstance(REPLICA, false));
    expect(r.code, r.stderr).toBe(0);
    console.log(`remove: ${r.stderr.trim()}`);
    expect(r.stderr).toContain("kept its data in /var/lib/dbstack-mariadb/m1replica");
    expect(existsSync("/var/lib/dbstack-mariadb/m1replica/m1app/items.ibd")).toBe(true);
    expect(run(`mariadb-admin --no-defaults --socket=${mariadbPaths(REPLICA).socket} -uroot ping`).code).not.toBe(0);
    expect(run(`pgrep -f 'mariadbd-safe --defaults-file=${mariadbPaths(REPLICA).configFile}'`).code).not.toBe(0);
    const gone = run(renderRemoveInstance(REPLICA, true));
    expect(gone.code, gone.stderr).toBe(0);
    expect(existsSync("/var/lib/dbstack-mariadb/m1replica")).toBe(false);
    expect(existsSync(mariadbPaths(REPLICA).configDir)).toBe(false);
  });
});
