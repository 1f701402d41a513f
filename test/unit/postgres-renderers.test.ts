import { spawn, spawnSync } from "child_process";
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from "fs";
import { createServer } from "net";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderAccessConf, renderHba, type AccessSpec } from "../../components/engines/postgres/access";
import { renderPostgresBackup, renderPostgresMaintenance, renderPostgresRestore, type PostgresBackupSpec } from "../../components/engines/postgres/backupScripts";
import { renderConfigureCluster, renderCreateCluster, renderRemoveCluster, type ClusterConfigFiles } from "../../components/engines/postgres/clusterScripts";
import { gexecLiteral, postgresDialect, type PostgresHookTarget } from "../../components/engines/postgres/dialect";
import { parseInstalledServer, renderClusterPrelude, renderInstallServer, type ClusterLocation } from "../../components/engines/postgres/host";
import type { DatabaseSpec, HostFacts, TuningSpec } from "../../components/engines/postgres/spec";
import { renderDatabaseSql } from "../../components/engines/postgres/sql/databases";
import { renderGrantsSql } from "../../components/engines/postgres/sql/grants";
import { renderReplicationRoleSql, renderRoleSql } from "../../components/engines/postgres/sql/roles";
import { renderAwaitStreaming, renderPromote, renderReplicationSlots, renderStandby, type StandbySpec } from "../../components/engines/postgres/standbyScripts";
import { renderSignStandbyCertificate, renderStandbyKey } from "../../components/engines/postgres/tls";
import { computeTuning, renderTuningConf } from "../../components/engines/postgres/tuning";
import { postgresUrls } from "../../components/engines/postgres/urls";
import { MIGRATIONS_TABLE } from "../../components/hooks/dialect";
import type { HealthCheck } from "../../components/hooks/healthChecks";
import { renderPostDeployHook } from "../../components/hooks/migrationRunner";
import { checksumOf, type Migration } from "../../components/hooks/migrations";
import { withHeredoc } from "../../components/shell";
import { stdinOf, tempDir } from "./support/run";
import type { ShippedScript } from "../../components/targets/hostFiles";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment scripts run in: this process's, without PG* variables that would redirect psql. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("PG")) env[key] = value;
  return { ...env, ...extra };
}

/** Runs a rendered script the way HostCommand does (`bash -s`, script on stdin), with arguments for tools. */
function sh(script: string | ShippedScript, options: { args?: string[]; env?: Record<string, string> } = {}): Run {
  const r = spawnSync("bash", ["-s", "--", ...(options.args ?? [])], {
    input: stdinOf(script),
    env: cleanEnv(options.env),
    encoding: "utf8",
    timeout: 170_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like sh, without blocking the event loop (for tests that run another process alongside). */
function shAsync(script: string | ShippedScript, env: Record<string, string> = {}, timeoutMs = 50_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-s"], { env: cleanEnv(env), stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdinOf(script));
  });
}

/** Like sh, but fails the test with the script's output when it exits non-zero. */
function mustSh(what: string, script: string | ShippedScript, options: { args?: string[]; env?: Record<string, string> } = {}): string {
  const r = sh(script, options);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

/** `bash -n`: the script parses. */
function bashSyntax(script: string): Run {
  const r = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The non-comment, non-blank lines of a config file, split into whitespace-separated fields. */
function hbaRows(hba: string): string[][] {
  return hba
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"))
    .map((line) => line.trim().split(/\s+/));
}

function confValues(conf: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of conf.split("\n")) {
    const m = /^([a-z_]+) = (.*)$/.exec(line);
    if (m) values[m[1]] = m[2];
  }
  return values;
}

const ACCESS: AccessSpec = {
  listenAddresses: ["localhost", "10.0.0.5"],
  allowedCidrs: ["10.0.0.0/24", "192.168.10.0/24", "fd00:1::/64"],
  replicationCidrs: ["10.0.0.7/32", "fd00::7/128"],
  replicationUser: "dbstack_replication",
};

const LOC: ClusterLocation = { version: 15, cluster: "main", port: 5432 };

const TUNING_HOST: HostFacts = { memoryMb: 4096, cpus: 2, storage: "ssd" };
const TUNING_SPEC: TuningSpec = { workload: "mixed", maxConnections: 100, version: 15, overrides: {} };

function files(access: AccessSpec = ACCESS, hasStandbys = true, host = TUNING_HOST, spec = TUNING_SPEC): ClusterConfigFiles {
  return { tuningConf: renderTuningConf(computeTuning(host, spec)), accessConf: renderAccessConf(access, hasStandbys), hba: renderHba(access) };
}

const MIGRATIONS: Migration[] = [
  { id: "0001_create_users", sql: "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE);\n" },
  { id: "0002_add_name", sql: "ALTER TABLE users ADD COLUMN name text;\n" },
].map((m) => ({ ...m, checksum: checksumOf(m.sql) }));

function hookTarget(overrides: Partial<PostgresHookTarget> = {}): PostgresHookTarget {
  return { ...LOC, database: "app", owner: "app", expectedStandbys: 0, ...overrides };
}

const BACKUP_SPEC: PostgresBackupSpec = {
  ...LOC,
  name: "main",
  databases: ["app", "reports"],
  policy: { schedule: "0 2 * * *", dir: "/var/backups/dbstack/main", retentionDays: 30 },
};

const STANDBY_SPEC: StandbySpec = {
  version: 15,
  cluster: "main",
  port: 5432,
  slot: "dbstack_replica1",
  primaryHost: "10.0.0.5",
  primaryPort: 5432,
  replicationUser: "dbstack_replication",
};

// ---------------------------------------------------------------------------------------------
// Text: pg_hba.conf, access conf, URLs, host facts
// ---------------------------------------------------------------------------------------------

describe("renderHba", () => {
  const rows = hbaRows(renderHba(ACCESS));

  it("has no trust anywhere", () => {
    expect(renderHba(ACCESS)).not.toMatch(/trust/i);
    expect(renderHba({ ...ACCESS, allowedCidrs: [], replicationCidrs: [] })).not.toMatch(/trust/i);
  });

  it("uses scram-sha-256 on every TCP line, and peer only for postgres over the Unix socket", () => {
    const tcp = rows.filter((r) => r[0].startsWith("host"));
    expect(tcp.length).toBe(2 + ACCESS.allowedCidrs.length + ACCESS.replicationCidrs.length);
    for (const row of tcp) expect(row.at(-1), row.join(" ")).toBe("scram-sha-256");
    for (const row of rows) expect(row.at(-1), row.join(" ")).toMatch(/^(scram-sha-256|peer)$/);
    expect(rows.filter((r) => r.at(-1) === "peer")).toEqual([["local", "all", "postgres", "peer"]]);
    // Only loopback may connect without TLS.
    expect(rows.filter((r) => r[0] === "host").map((r) => r[3])).toEqual(["127.0.0.1/32", "::1/128"]);
    expect(rows.map((r) => r[0]).every((t) => ["local", "host", "hostssl"].includes(t))).toBe(true);
  });

  it("lets the allowed networks in over TLS only, to every database but replication", () => {
    for (const cidr of ACCESS.allowedCidrs) {
      expect(rows.filter((r) => r.includes(cidr))).toEqual([["hostssl", "all", "all", cidr, "scram-sha-256"]]);
    }
  });

  it("has replication lines only for the replication user and the standbys' addresses", () => {
    const replication = rows.filter((r) => r[1] === "replication");
    expect(replication).toEqual(ACCESS.replicationCidrs.map((cidr) => ["hostssl", "replication", "dbstack_replication", cidr, "scram-sha-256"]));
    // "all" in the database column does not match replication connections: no other line grants it.
    expect(rows.filter((r) => r[2] === "dbstack_replication")).toEqual(replication);
  });

  it("has no replication line without standbys and no remote line without allowed networks", () => {
    const local = hbaRows(renderHba({ ...ACCESS, allowedCidrs: [], replicationCidrs: [] }));
    expect(local.filter((r) => r[1] === "replication")).toEqual([]);
    expect(local.filter((r) => r[0] === "hostssl")).toEqual([]);
    expect(local).toHaveLength(4);
  });

  it("puts the peer line for postgres first (first match wins)", () => {
    expect(rows[0]).toEqual(["local", "all", "postgres", "peer"]);
  });

  it("keeps the columns apart for names and networks longer than their padding", () => {
    const long = hbaRows(renderHba({ ...ACCESS, replicationUser: "a_rather_long_replication_role", replicationCidrs: ["fd00:abcd:ef01:2345::7/128"] }));
    expect(long.find((r) => r[1] === "replication")).toEqual(["hostssl", "replication", "a_rather_long_replication_role", "fd00:abcd:ef01:2345::7/128", "scram-sha-256"]);
  });

  it("is deterministic", () => {
    expect(renderHba(structuredClone(ACCESS))).toBe(renderHba(structuredClone(ACCESS)));
  });
});

describe("renderAccessConf", () => {
  it("sets the listen addresses, TLS on and SCRAM password hashing", () => {
    const v = confValues(renderAccessConf(ACCESS, false));
    expect(v.listen_addresses).toBe("'localhost,10.0.0.5'");
    expect(v.ssl).toBe("on");
    expect(v.password_encryption).toBe("'scram-sha-256'");
    // The certificate and key files are named by 06-dbstack-tls.conf, with the host's own paths (tls.ts).
    expect(v).not.toHaveProperty("ssl_cert_file");
    expect(v).not.toHaveProperty("ssl_key_file");
    expect(v.ssl_min_protocol_version).toBe("'TLSv1.2'");
  });

  it("has replication settings only with standbys", () => {
    const without = confValues(renderAccessConf(ACCESS, false));
    for (const name of ["wal_level", "max_wal_senders", "max_replication_slots", "max_slot_wal_keep_size", "hot_standby"]) {
      expect(without, name).not.toHaveProperty(name);
    }
    const withStandbys = confValues(renderAccessConf(ACCESS, true));
    expect(withStandbys).toMatchObject({
      wal_level: "replica",
      max_wal_senders: "10",
      max_replication_slots: "10",
      max_slot_wal_keep_size: "'10GB'",
      hot_standby: "on",
    });
  });

  it("is deterministic", () => {
    expect(renderAccessConf(structuredClone(ACCESS), true)).toBe(renderAccessConf(structuredClone(ACCESS), true));
  });
});

describe("postgresUrls", () => {
  it("percent-encodes the user, the password and the database", () => {
    const urls = postgresUrls({ user: "app user", password: "p@ss:w/rd?#%& +", host: "db.example.com", port: 5433, database: "my/db" });
    expect(urls.postgresql).toBe("postgresql://app%20user:p%40ss%3Aw%2Frd%3F%23%25%26%20%2B@db.example.com:5433/my%2Fdb?sslmode=require");
    const parsed = new URL(urls.postgresql);
    expect(decodeURIComponent(parsed.username)).toBe("app user");
    expect(decodeURIComponent(parsed.password)).toBe("p@ss:w/rd?#%& +");
    expect(parsed.hostname).toBe("db.example.com");
    expect(parsed.port).toBe("5433");
    expect(decodeURIComponent(parsed.pathname.slice(1))).toBe("my/db");
    expect(parsed.searchParams.get("sslmode")).toBe("require");
  });

  it("brackets an IPv6 host, once", () => {
    expect(postgresUrls({ user: "u", password: "p", host: "fd00::5", port: 5432, database: "d" }).postgresql).toBe("postgresql://u:p@[fd00::5]:5432/d?sslmode=require");
    expect(postgresUrls({ user: "u", password: "p", host: "[::1]", port: 5432, database: "d" }).postgresql).toBe("postgresql://u:p@[::1]:5432/d?sslmode=require");
    expect(postgresUrls({ user: "u", password: "p", host: "10.0.0.5", port: 5432, database: "d" }).postgresql).toBe("postgresql://u:p@10.0.0.5:5432/d?sslmode=require");
  });

  it("gives the SQLAlchemy psycopg 3 flavour with the same rest", () => {
    const urls = postgresUrls({ user: "app", password: "s3cret", host: "fd00::5", port: 5432, database: "app" });
    expect(urls.psycopg).toBe("postgresql+psycopg://app:s3cret@[fd00::5]:5432/app?sslmode=require");
    expect(urls.psycopg.replace(/^postgresql\+psycopg:/, "postgresql:")).toBe(urls.postgresql);
  });

  it("always requires TLS; the verify-full flavours verify the server, with the CA file when one is named", () => {
    const urls = postgresUrls({ user: "a", password: "b", host: "h", port: 1, database: "c" });
    expect(urls.postgresql.endsWith("?sslmode=require")).toBe(true);
    expect(urls.psycopg.endsWith("?sslmode=require")).toBe(true);
    expect(urls.postgresqlVerifyFull).toBe("postgresql://a:b@h:1/c?sslmode=verify-full");
    expect(urls.psycopgVerifyFull).toBe("postgresql+psycopg://a:b@h:1/c?sslmode=verify-full");
    const named = postgresUrls({ user: "a", password: "b", host: "h", port: 1, database: "c", caCertificateFile: "/etc/ssl/dbstack ca.crt" });
    expect(named.postgresqlVerifyFull).toBe("postgresql://a:b@h:1/c?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Fdbstack%20ca.crt");
    expect(new URL(named.postgresqlVerifyFull).searchParams.get("sslrootcert")).toBe("/etc/ssl/dbstack ca.crt");
    expect(named.postgresql).toBe(urls.postgresql);
  });
});

describe("parseInstalledServer", () => {
  it("parses the facts line", () => {
    expect(parseInstalledServer('{"version":15,"memoryMb":3925,"cpus":2}')).toEqual({ version: 15, memoryMb: 3925, cpus: 2 });
    expect(parseInstalledServer('{"version":16,"memoryMb":1024,"cpus":8}\n')).toEqual({ version: 16, memoryMb: 1024, cpus: 8 });
  });

  it("reads the last line, after whatever the install printed", () => {
    expect(parseInstalledServer('Reading package lists...\nSetting up postgresql-15\n{"version":15,"memoryMb":2048,"cpus":4}\n')).toEqual({
      version: 15,
      memoryMb: 2048,
      cpus: 4,
    });
  });

  it.each([
    ["garbage", "E: Unable to locate package postgresql-99"],
    ["an empty output", ""],
    ["truncated JSON", '{"version":15,"memoryMb":'],
  ])("throws on %s", (_what, stdout) => {
    expect(() => parseInstalledServer(stdout)).toThrow();
  });

  it.each([
    ['{"version":15,"memoryMb":0,"cpus":2}'],
    ['{"version":15,"memoryMb":4096,"cpus":-1}'],
    ['{"version":15.5,"memoryMb":4096,"cpus":2}'],
    ['{"version":"15","memoryMb":4096,"cpus":2}'],
    ['{"memoryMb":4096,"cpus":2}'],
    ["42"],
  ])("throws naming the facts on %s", (stdout) => {
    expect(() => parseInstalledServer(stdout)).toThrow(`unexpected host facts from the server install step: ${stdout}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Text: rendered scripts
// ---------------------------------------------------------------------------------------------

const RENDERERS: [string, () => string][] = [
  ["renderInstallServer(15)", () => renderInstallServer(15)],
  ["renderInstallServer(default)", () => renderInstallServer(undefined)],
  ["renderClusterPrelude", () => renderClusterPrelude({ ...LOC, dataDirectory: "/srv/pg data/it's" })],
  ["renderCreateCluster", () => renderCreateCluster(structuredClone(LOC))],
  ["renderCreateCluster(default version, data directory)", () => renderCreateCluster({ cluster: "main", port: 5433, dataDirectory: "/srv/pg/main" })],
  ["renderConfigureCluster", () => renderConfigureCluster(structuredClone(LOC), files())],
  ["renderRemoveCluster(keep)", () => renderRemoveCluster(structuredClone(LOC), false)],
  ["renderRemoveCluster(allowDataRemoval)", () => renderRemoveCluster(structuredClone(LOC), true)],
  ["renderPostgresBackup", () => renderPostgresBackup(structuredClone(BACKUP_SPEC))],
  [
    "renderPostgresBackup(gpg, off-host)",
    () => renderPostgresBackup({ ...BACKUP_SPEC, policy: { ...BACKUP_SPEC.policy, gpgRecipient: "ops@example.com", offHostCommand: `rsync "$BACKUP_FILE" backup:/srv/` } }),
  ],
  ["renderPostgresRestore", () => renderPostgresRestore(structuredClone(BACKUP_SPEC))],
  ["renderPostgresMaintenance", () => renderPostgresMaintenance({ ...LOC, name: "main" })],
  ["renderStandby", () => renderStandby(structuredClone(STANDBY_SPEC))],
  ["renderStandby(IPv6 primary)", () => renderStandby({ ...STANDBY_SPEC, primaryHost: "fd00::5" })],
  ["renderPromote", () => renderPromote(structuredClone(LOC))],
  ["renderReplicationSlots", () => renderReplicationSlots(structuredClone(LOC), ["dbstack_replica1", "dbstack_replica2"])],
  ["renderReplicationSlots(none)", () => renderReplicationSlots(structuredClone(LOC), [])],
  ["renderAwaitStreaming", () => renderAwaitStreaming()],
  [
    "renderPostDeployHook(postgresDialect, migrations)",
    () =>
      renderPostDeployHook({
        subject: "database app",
        dialect: postgresDialect(hookTarget({ backup: { dir: "/var/backups/dbstack/main", prefix: "main", maxAgeHours: 36, cronFile: "/etc/cron.d/dbstack-main-backup" } })),
        migrations: { kind: "sql", migrations: structuredClone(MIGRATIONS) },
        healthChecks: [{ name: "users table", sql: "SELECT count(*) >= 0 FROM users", expect: "t" }],
      }).script,
  ],
  [
    "renderPostDeployHook(postgresDialect, command)",
    () =>
      renderPostDeployHook({
        subject: "database app",
        dialect: postgresDialect(hookTarget()),
        migrations: { kind: "command", command: "alembic upgrade head", workdir: "/srv/app" },
        healthChecks: [],
      }).script,
  ],
  ["renderPostDeployHook(postgresDialect, checks only)", () => renderPostDeployHook({ subject: "database app", dialect: postgresDialect(hookTarget()), healthChecks: [] }).script],
];

describe("rendered scripts (text)", () => {
  it.each(RENDERERS)("%s is deterministic", (_name, render) => {
    expect(render()).toBe(render());
  });

  it.each(RENDERERS)("%s passes bash -n", (_name, render) => {
    const r = bashSyntax(render());
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("renderInstallServer installs the requested major version without a default cluster, and prints the facts as JSON", () => {
    const script = renderInstallServer(16);
    expect(script).toContain("apt-get install -y -qq --no-install-recommends postgresql-16 openssl");
    expect(script).toContain("[ -x /usr/lib/postgresql/16/bin/postgres ]");
    expect(script).toContain("echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf");
    // Only the facts reach stdout: apt's output goes to stderr.
    expect(script).toMatch(/apt-get install[^\n]*; } >&2/);
    expect(renderInstallServer(undefined)).toContain("--no-install-recommends postgresql openssl");
  });

  describe("renderRemoveCluster", () => {
    /** The lines that run commands: comments and echoed messages removed. */
    const commands = (script: string) =>
      script
        .split("\n")
        .filter((line) => !line.trimStart().startsWith("#"))
        .map((line) => line.replace(/echo "[^"]*"/g, 'echo "…"'))
        .join("\n");

    it("stops the cluster and keeps its data unless allowDataRemoval", () => {
      const keep = renderRemoveCluster(LOC, false);
      expect(commands(keep)).not.toContain("pg_dropcluster");
      // The only file removed is dbstack's host lock, never data or configuration.
      expect(commands(keep).split("\n").filter((l) => /\brm\b/.test(l))).toEqual(['rm -f "/run/lock/dbstack-postgres-$V-$CLUSTER.lock" # the host lock of dbstack\'s steps']);
      expect(commands(keep)).toContain('pg_ctlcluster "$V" "$CLUSTER" stop');
      expect(keep).toContain("to delete it, set dbstack:allowDataRemoval to true and run up first, then destroy");
    });

    it("drops the cluster with allowDataRemoval", () => {
      const remove = renderRemoveCluster(LOC, true);
      expect(commands(remove)).toContain('pg_dropcluster --stop "$V" "$CLUSTER"');
    });
  });

  describe("renderConfigureCluster", () => {
    const script = renderConfigureCluster(LOC, files());
    const lines = script.split("\n");

    it("writes the tuning, access and pg_hba files it is given", () => {
      expect(script).toContain('"$CONF_DIR/conf.d/10-dbstack-tuning.conf"');
      expect(script).toContain('"$CONF_DIR/conf.d/05-dbstack-access.conf"');
      // Access is written before tuning, whose declared overrides must win.
      expect(script.indexOf("05-dbstack-access.conf")).toBeLessThan(script.indexOf("10-dbstack-tuning.conf"));
      expect(script).toContain('"$CONF_DIR/pg_hba.conf"');
      expect(script).toContain(renderHba(ACCESS));
      expect(script).toContain(renderAccessConf(ACCESS, true));
    });

    it("makes postgresql.conf include conf.d (a minimal createcluster.conf leaves it out) and fails unless the server runs dbstack's certificate and conf.d", () => {
      expect(script).toContain(`include_dir = 'conf.d'`);
      // The include is added before PostgreSQL checks the new files (postgresql.conf is kept aside with them).
      expect(script.indexOf("include_dir = 'conf.d'")).toBeLessThan(script.indexOf("-C port"));
      expect(script).toContain("SELECT current_setting('ssl_cert_file')");
      expect(script).toContain('[ "$running_cert" != "$TLS_DIR/server.crt" ]');
      expect(script.indexOf("running_cert=")).toBeGreaterThan(script.indexOf("wait_until_serving\n"));
    });

    it("decides a restart from pg_settings.pending_restart or a changed port, and never restarts unconditionally", () => {
      expect(script).toContain("FROM pg_settings WHERE pending_restart");
      const restarts = lines.map((l, i) => [l, i] as const).filter(([l]) => /pg_ctl_cluster restart/.test(l));
      expect(restarts).toHaveLength(2);
      const branchOf = (at: number) =>
        lines.slice(0, at).map((l) => l.trim()).filter((l) => l.startsWith("if ") || l.startsWith("elif ") || l === "fi" || l.startsWith("else")).at(-1);
      // One restart is for a server still on another port than the declared one.
      expect(branchOf(restarts[0][1])).toBe('elif [ -n "$live_port" ] && [ "$live_port" != "$PORT" ]; then');
      const [, at] = restarts[1];
      // The other is inside `if [ -n "$pending" ]`, after a reload that set $pending.
      expect(branchOf(at)).toBe('if [ -n "$pending" ]; then');
      const reload = lines.findIndex((l) => l.includes("pg_ctl_cluster reload"));
      const pending = lines.findIndex((l) => l.includes("pending=$("));
      expect(reload).toBeGreaterThan(0);
      expect(reload).toBeLessThan(pending);
      expect(pending).toBeLessThan(at);
    });

    it("uses a given certificate, else issues one from the cluster's CA when none is valid for the names", () => {
      expect(script).toContain('if [ -n "${DBSTACK_TLS_CERT:-}" ]; then');
      expect(script).toContain('if [ ! -s "$TLS_DIR/server.crt" ] || [ "$(cat "$TLS_DIR/server.names" 2>/dev/null)" != "$want" ]');
      expect(script).toContain('chmod 0600 "$TLS_DIR/server.key"');
      expect(script.indexOf("06-dbstack-tls.conf")).toBeLessThan(script.indexOf("# Apply: start"));
    });
  });

  describe("renderPostgresBackup", () => {
    const script = renderPostgresBackup(BACKUP_SPEC);

    it("dumps each database with pg_dump --format=custom, plus the globals with pg_dumpall --globals-only", () => {
      const dumps = script.split("\n").filter((l) => l.includes("pg_dump "));
      expect(dumps).toEqual(
        ["app", "reports"].map(
          (db) => `runuser -u postgres -- pg_dump -h /var/run/postgresql -p "$PORT" --format=custom --compress=1 --dbname='${db}' > "$work/dump/${db}.dump"`,
        ),
      );
      const globals = script.split("\n").filter((l) => l.includes("pg_dumpall"));
      expect(globals).toEqual(['runuser -u postgres -- pg_dumpall -h /var/run/postgresql -p "$PORT" --globals-only > "$work/dump/globals.sql"']);
      expect(script).not.toMatch(/pg_dumpall(?! [^\n]*--globals-only)/);
    });

    it("archives through the shared steps: 0600, retention in minutes, only its own backups", () => {
      expect(script).toContain('chmod 600 "$file"');
      expect(script).toContain(`-mmin +${30 * 24 * 60}`);
      expect(script).toContain('-name "$NAME-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.tar.gz*"');
      expect(script).toContain("NAME='main'");
    });
  });

  describe("renderStandby", () => {
    const script = renderStandby(STANDBY_SPEC);
    const lines = script.split("\n");
    const index = (needle: string) => {
      const i = lines.findIndex((l) => l.includes(needle));
      expect(i, needle).toBeGreaterThanOrEqual(0);
      return i;
    };

    it("never overwrites a cluster without standby.signal unless it was created by this run", () => {
      const signal = index('if [ -f "$DATA_DIR/standby.signal" ]; then');
      const fresh = index('elif [ "$fresh" = yes ]; then');
      const refuse = lines.findIndex((l, i) => i > fresh && l === "else");
      const end = lines.findIndex((l, i) => i > refuse && l === "fi");
      expect(signal).toBeLessThan(fresh);
      expect(refuse).toBeGreaterThan(fresh);
      // The only deletion and the clone are in the fresh branch.
      const deletes = lines.map((l, i) => [l, i] as const).filter(([l]) => /-delete|\brm\b|pg_basebackup/.test(l) && !l.includes("echo"));
      expect(deletes.length).toBeGreaterThanOrEqual(2);
      for (const [line, i] of deletes) {
        expect(i > fresh && i < refuse, line).toBe(true);
      }
      expect(lines.slice(refuse, end).join("\n")).toContain("dbstack will not overwrite it");
      expect(lines.slice(refuse, end).join("\n")).toContain("exit 1");
      // fresh=yes only right after pg_createcluster made the cluster, or when an earlier clone
      // left its incomplete-clone marker.
      expect(lines.filter((l) => l.includes("fresh=yes"))).toEqual(["  fresh=yes", '[ -f "$marker" ] && fresh=yes']);
      expect(lines[index("fresh=yes") - 2]).toBe("if ! cluster_exists; then");
    });

    it("keeps the replication password out of command lines: a 0600 passfile from the environment", () => {
      expect(script).toContain('install -o postgres -g postgres -m 0600 /dev/null "$pass.dbstack-tmp"');
      expect(script).toContain('"$DBSTACK_REPLICATION_PASSWORD" > "$pass.dbstack-tmp"');
      // Written on every run, also when the standby already follows (a re-generated password reaches it).
      const follows = script.indexOf('if [ -f "$DATA_DIR/standby.signal" ]; then');
      expect(script.slice(follows, script.indexOf("already follows its primary")).trim().split("\n")[1].trim()).toBe("write_passfile");
      expect(script).toContain("--no-password");
      expect(script).toContain("sslmode=require");
      expect(script).toContain("-S 'dbstack_replica1'");
    });
  });

  it("renderPromote refuses a cluster that is not a standby", () => {
    expect(renderPromote(LOC)).toContain('[ -f "$DATA_DIR/standby.signal" ] || { echo "$V/$CLUSTER is not a standby" >&2; exit 1; }');
  });

  it("renderReplicationSlots creates missing slots and drops only inactive dbstack_ slots of removed standbys", () => {
    const script = renderReplicationSlots(LOC, ["dbstack_a", "dbstack_b"]);
    expect(script).toContain("SELECT pg_create_physical_replication_slot('dbstack_a') WHERE NOT EXISTS");
    expect(script).toContain("SELECT pg_create_physical_replication_slot('dbstack_b') WHERE NOT EXISTS");
    expect(script).toContain("slot_name LIKE 'dbstack\\_%' AND NOT active AND slot_name NOT IN ('dbstack_a', 'dbstack_b')");
    expect(renderReplicationSlots(LOC, [])).toContain("slot_name LIKE 'dbstack\\_%' AND NOT active\"");
  });
});

describe("postgresDialect (text)", () => {
  const dialect = postgresDialect(hookTarget({ expectedStandbys: 2, backup: { dir: "/var/backups/dbstack/main", prefix: "main", maxAgeHours: 36, cronFile: "/etc/cron.d/dbstack-main-backup" } }));
  const rendered = renderPostDeployHook({
    subject: "database app",
    dialect,
    migrations: { kind: "sql", migrations: MIGRATIONS },
    healthChecks: [],
  });
  const hook = rendered.script;

  it("wraps each migration in BEGIN/COMMIT with its INSERT into dbstack_migrations, the SQL inside a \\gexec literal", () => {
    expect(MIGRATIONS_TABLE).toBe("dbstack_migrations");
    for (const m of MIGRATIONS) {
      expect(rendered.files[`migration-${m.id}.sql`]).toBe(
        `BEGIN;\nSELECT $dbstack_sql$${m.sql}$dbstack_sql$ \\gexec\nINSERT INTO dbstack_migrations (id, checksum, applied_at) VALUES ('${m.id}', '${m.checksum}', now());\nCOMMIT;\n`,
      );
    }
    expect(dialect.transactionalDdl).toBe(true);
    expect(dialect.trackingTableDdl).toContain("CREATE TABLE IF NOT EXISTS dbstack_migrations");
  });

  it("gexecLiteral picks a dollar-quote tag the SQL does not contain, so the literal cannot close early", () => {
    expect(gexecLiteral("SELECT 1;\n")).toBe("SELECT $dbstack_sql$SELECT 1;\n$dbstack_sql$ \\gexec");
    const hostile = "SELECT 1; $dbstack_sql$ \\! id\n$dbstack_sql_1$; \\! id";
    expect(gexecLiteral(hostile)).toBe(`SELECT $dbstack_sql_2$${hostile}$dbstack_sql_2$ \\gexec`);
    // A body with $$ or other tags keeps the default.
    expect(gexecLiteral("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;")).toContain("$dbstack_sql$CREATE FUNCTION");
  });

  it("runs migrations and checks logged in as the database owner over the Unix socket, never SET ROLE", () => {
    expect(dialect.clientFunctions).toContain("OWNER='app'");
    expect(dialect.clientFunctions).toContain(
      `psql_owner() { PGPASSWORD="$DBSTACK_OWNER_PASSWORD" runuser -u postgres -- psql -X -q -w -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$PORT" -U "$OWNER" -d "$DBNAME" "$@"; }`,
    );
    expect(dialect.clientFunctions).toContain("db_exec() { psql_owner -f -; }");
    expect(dialect.clientFunctions).toContain(`db_query() { psql_owner -tA -c " $1" | cut -d'|' -f1; }`);
    expect(dialect.clientFunctions).toContain("DBNAME='app'");
    expect(hook).not.toMatch(/SET ROLE|RESET ROLE|SESSION AUTHORIZATION/);
    expect(postgresDialect(hookTarget({ owner: "it's" })).clientFunctions).toContain(`OWNER='it'\\''s'`);
  });

  it("takes the owner's password from the environment, or from the tool's password file", () => {
    expect(dialect.clientFunctions).toContain(`[ -n "\${DBSTACK_OWNER_PASSWORD:-}" ] || { echo 'the password of role app is needed: set DBSTACK_OWNER_PASSWORD' >&2; exit 1; }`);
    const tool = postgresDialect(hookTarget({ ownerPasswordFile: "/usr/local/lib/dbstack/main/app.password" })).clientFunctions;
    expect(tool).toContain(`  DBSTACK_OWNER_PASSWORD=$(cat '/usr/local/lib/dbstack/main/app.password')`);
    // Never on a command line: the one place it is expanded is psql's environment.
    expect(hook.split("\n").filter((line) => line.includes("$DBSTACK_OWNER_PASSWORD"))).toEqual([
      `psql_owner() { PGPASSWORD="$DBSTACK_OWNER_PASSWORD" runuser -u postgres -- psql -X -q -w -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$PORT" -U "$OWNER" -d "$DBNAME" "$@"; }`,
    ]);
  });

  it("takes a session-level pg_advisory_lock held by a coprocess, before any migration", () => {
    expect(dialect.acquireLock).toContain('coproc LOCK_SESSION { psql_su -d "$DBNAME" -tA 2>&1; }');
    expect(dialect.acquireLock).toContain("SELECT pg_advisory_lock(hashtext('dbstack_migrations'))");
    expect(hook.indexOf("pg_advisory_lock")).toBeLessThan(hook.indexOf('db_exec < "$DBSTACK_FILES/tracking-table.sql"'));
    // No lock without migrations: health checks alone need none.
    expect(renderPostDeployHook({ subject: "x", dialect, healthChecks: [] }).script).not.toContain("pg_advisory_lock");
  });

  it("has the built-in health checks: select 1, version, connections, streaming standbys, newest backup", () => {
    const checks = dialect.builtinChecks;
    expect(checks.map((c) => c.name)).toEqual(["select 1", "version", "connections", "streaming standbys", "newest backup"]);
    expect(checks[0]).toMatchObject({ sql: "SELECT 1", expect: "1" });
    expect(checks[1]).toMatchObject({ sql: "SHOW server_version" });
    expect(checks[2]).toMatchObject({ match: "^[0-9]+ of [0-9]+$" });
    expect((checks[2] as HealthCheck).sql).toContain("pg_stat_activity");
    // dbstack's own SQL as the superuser (pg_stat_replication hides its state from other roles).
    const standbys = (checks[3] as { shell: string }).shell;
    expect(standbys).toContain(`out=$(psql_su -d "$DBNAME" -tA -c 'SELECT count(*) || '\\'' streaming`);
    expect(standbys).toContain("pg_stat_replication WHERE state = '\\''streaming'\\''");
    expect(standbys).toContain(`case "$out" in '2 streaming'*) ;; *) exit 1 ;; esac`);
    const backup = checks[4] as { shell: string };
    expect(backup.shell).toContain("find '/var/backups/dbstack/main' -maxdepth 1 -type f -name 'main-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.tar.gz*'");
    expect(backup.shell).toContain("-lt 36 ]");
    expect(hook).toContain("health check newest backup failed");
  });

  it("has no newest-backup check without a backup spec", () => {
    expect(postgresDialect(hookTarget()).builtinChecks.map((c) => c.name)).toEqual(["select 1", "version", "connections", "streaming standbys"]);
    expect((postgresDialect(hookTarget()).builtinChecks[3] as { shell: string }).shell).toContain(`case "$out" in '0 streaming'*)`);
  });
});

describe("postgres newest-backup health check (run with bash, no server)", () => {
  function check(dir: string, prefix = "main", maxAgeHours = 36, cronFile = join(dir, "no-such-cron-file")): Run {
    const c = postgresDialect(hookTarget({ backup: { dir, prefix, maxAgeHours, cronFile } })).builtinChecks.find((x) => x.name === "newest backup") as { shell: string };
    return sh(`set -euo pipefail\n${c.shell}\n`);
  }
  const stamp = (hoursAgo: number) => new Date(Date.now() - hoursAgo * 3600_000).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  function backupFile(dir: string, name: string, hoursAgo: number): string {
    const file = join(dir, name);
    writeFileSync(file, "x");
    const t = (Date.now() - hoursAgo * 3600_000) / 1000;
    utimesSync(file, t, t);
    return file;
  }

  it("says there is no backup yet in an empty directory, and passes", () => {
    const r = check(tempDir());
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("no backup yet (schedule installed 0h ago)");
  });

  it("fails when no backup was taken for longer than the limit since the schedule was installed", () => {
    const dir = tempDir();
    const cron = backupFile(dir, "cron-entry", 40);
    const r = check(dir, "main", 36, cron);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain("no backup since the schedule was installed 40h ago (limit 36h)");
    expect(check(dir, "main", 48, cron).code).toBe(0);
  });

  it("prints the newest backup and its age, ignoring the backup log", () => {
    const dir = tempDir();
    backupFile(dir, `main-${stamp(30)}.tar.gz`, 30);
    // The name once: stamp() read twice could fall on two sides of a second.
    const newest = `main-${stamp(2)}.tar.gz`;
    backupFile(dir, newest, 2);
    backupFile(dir, "main-backup.log", 0);
    const r = check(dir);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${newest} (2h old)`);
  });

  it("fails when the newest backup is older than maxAgeHours", () => {
    const dir = tempDir();
    backupFile(dir, `main-${stamp(72)}.tar.gz.gpg`, 72);
    const r = check(dir);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain("newest backup is 72h old (limit 36h)");
  });

  // Regression test, fixed bug (components/engines/postgres/dialect.ts): the check's glob is "<prefix>-*", not
  // "<prefix>-<STAMP_GLOB>.tar.gz*" as the backup's own retention and restore use, so in a shared
  // backup directory the fresh backup of deployment "main-logs" hides that "main" has none.
  it("counts only its own deployment's backups in a shared directory", () => {
    const dir = tempDir();
    backupFile(dir, `main-${stamp(72)}.tar.gz`, 72);
    backupFile(dir, `main-logs-${stamp(1)}.tar.gz`, 1);
    const r = check(dir);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain("newest backup is 72h old (limit 36h)");
  });
});

// ---------------------------------------------------------------------------------------------
// Real runs: a cluster made with pg_createcluster on a free port 5490-5499
// ---------------------------------------------------------------------------------------------

const PG15 = "/usr/lib/postgresql/15/bin";
const PREFIX = "dbunit";

function requirePostgres15(): void {
  const missing = [
    `${PG15}/postgres`,
    `${PG15}/pg_basebackup`,
    "/usr/bin/pg_createcluster",
    "/usr/bin/pg_ctlcluster",
    "/usr/bin/pg_dropcluster",
    "/usr/bin/pg_lsclusters",
  ].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(`PostgreSQL 15 with postgresql-common is not installed (missing ${missing.join(", ")}): as root, apt-get install postgresql-15`);
  }
  if (spawnSync("bash", ["-c", "command -v openssl && command -v runuser"]).status !== 0) throw new Error("openssl and runuser are needed");
  if (process.getuid?.() !== 0) throw new Error("the PostgreSQL cluster tests run as root (pg_createcluster, runuser)");
}

interface ClusterRow {
  version: string;
  cluster: string;
  port: number;
  status: string;
  dataDirectory: string;
}

function lsclusters(): ClusterRow[] {
  const out = spawnSync("pg_lsclusters", ["-h"], { encoding: "utf8" }).stdout ?? "";
  return out
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      const [version, cluster, port, status, , dataDirectory] = l.trim().split(/\s+/);
      return { version, cluster, port: Number(port), status, dataDirectory };
    });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Free ports in 5490-5499: not bound, and not assigned to any cluster (even a stopped one). */
async function freePorts(count: number): Promise<number[]> {
  const taken = new Set(lsclusters().map((c) => c.port));
  const start = Math.floor(Math.random() * 10);
  const ports: number[] = [];
  for (let i = 0; i < 10 && ports.length < count; i++) {
    const port = 5490 + ((start + i) % 10);
    if (!taken.has(port) && (await portIsFree(port))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`need ${count} free ports in 5490-5499, found ${ports.join(", ") || "none"}`);
  return ports;
}

/** Drops clusters left behind by earlier runs of this file whose process is gone. */
function dropStaleClusters(): void {
  for (const c of lsclusters()) {
    const m = new RegExp(`^${PREFIX}(\\d+)[a-z]?$`).exec(c.cluster);
    if (!m || Number(m[1]) === process.pid) continue;
    let alive = true;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      alive = false;
    }
    if (!alive) dropCluster({ version: Number(c.version), cluster: c.cluster, port: 0 });
  }
}

/** Drops a test cluster and the config files pg_dropcluster leaves (dbstack's conf.d). */
function dropCluster(loc: ClusterLocation): void {
  const version = String(loc.version ?? 15);
  if (lsclusters().some((c) => c.cluster === loc.cluster)) spawnSync("pg_dropcluster", ["--stop", version, loc.cluster]);
  spawnSync("rm", ["-rf", `/etc/postgresql/${version}/${loc.cluster}`, `/var/lib/postgresql/${version}/${loc.cluster}`, `/var/lib/postgresql/.dbstack-${version}-${loc.cluster}.pgpass`]);
}

/** psql as postgres over the cluster's socket: -tA output, trimmed. Throws on failure. */
function pq(loc: ClusterLocation, sql: string, db = "postgres"): string {
  const r = spawnSync("runuser", ["-u", "postgres", "--", `${PG15}/psql`, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-h", "/var/run/postgresql", "-p", String(loc.port), "-d", db], {
    input: sql,
    env: cleanEnv(),
    cwd: "/",
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`psql on ${loc.cluster}/${db} failed:\n${r.stderr}\nSQL: ${sql}`);
  return r.stdout.trim();
}

/** Runs rendered psql SQL as the components do: the prelude, then psql_su with the SQL on stdin. */
function psqlScript(loc: ClusterLocation, sql: string, env: Record<string, string> = {}): string {
  return mustSh("psql script", `set -euo pipefail\n${renderClusterPrelude(loc)}\n${withHeredoc("psql_su -d postgres -f -", sql, "DBSTACK_SQL")}\n`, { env });
}

function startTime(loc: ClusterLocation): string {
  return pq(loc, "SELECT pg_postmaster_start_time()");
}

async function waitFor(what: string, probe: () => boolean, seconds = 30): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    if (probe()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${seconds}s waiting for ${what}`);
}

describe("against a real cluster (pg_createcluster on a free port in 5490-5499)", () => {
  let primary: ClusterLocation;
  let standby: ClusterLocation;
  let broken: ClusterLocation;
  let ipv6: ClusterLocation;
  const access: AccessSpec = { listenAddresses: ["localhost", "::1"], allowedCidrs: [], replicationCidrs: [], replicationUser: "dbstack_replication" };
  const small: HostFacts = { memoryMb: 512, cpus: 2, storage: "ssd" };
  const appDb: DatabaseSpec = { name: "app", owner: "app", encoding: "UTF8", locale: "C.UTF-8", dateStyle: "ISO, MDY", timeZone: "UTC", extensions: [] };
  const PASSWORD = "p@ss:w/rd?#%&= ü'\"x";
  const REPLICATION_PASSWORD = "Repl1cationPassw0rd";
  const backupDir = () => join(workDir, "backups");
  let workDir: string;
  const configure = (loc: ClusterLocation, a: AccessSpec, hasStandbys: boolean, host: HostFacts = small, overrides: Record<string, string> = {}, env: Record<string, string> = {}) =>
    sh(renderConfigureCluster(loc, files(a, hasStandbys, host, { ...TUNING_SPEC, maxConnections: 50, overrides })), { env });

  beforeAll(async () => {
    requirePostgres15();
    dropStaleClusters();
    const [p, s, b, v6] = await freePorts(4);
    primary = { version: 15, cluster: `${PREFIX}${process.pid}`, port: p };
    standby = { version: 15, cluster: `${PREFIX}${process.pid}s`, port: s };
    broken = { version: 15, cluster: `${PREFIX}${process.pid}f`, port: b };
    ipv6 = { version: 15, cluster: `${PREFIX}${process.pid}v`, port: v6 };
    workDir = spawnSync("mktemp", ["-d", "/tmp/dbstack-pgunit-XXXXXX"], { encoding: "utf8" }).stdout.trim();
  });

  afterAll(() => {
    for (const loc of [standby, broken, ipv6, primary]) {
      if (!loc) continue;
      dropCluster(loc);
      spawnSync("rm", ["-f", `/var/lib/postgresql/.dbstack-15-${loc.cluster}.pgpass`]);
    }
    if (workDir) spawnSync("rm", ["-rf", workDir]);
  });

  it("renderInstallServer finds the installed server and prints this host's facts", () => {
    // PostgreSQL 15, pg_createcluster and openssl are present (requirePostgres15): nothing is installed.
    for (const version of [15, undefined]) {
      const r = sh(renderInstallServer(version));
      expect(r.code, r.stderr).toBe(0);
      const facts = parseInstalledServer(r.stdout);
      expect(facts.version).toBe(15);
      expect(facts.memoryMb).toBeGreaterThan(0);
      expect(facts.cpus).toBe(Number(spawnSync("nproc", { encoding: "utf8" }).stdout.trim()));
    }
  });

  it("the prelude resolves the default version and fails clearly for a missing one", () => {
    expect(mustSh("prelude", `${renderClusterPrelude({ cluster: "x", port: 1 })}\necho "$V $CONF_DIR $DATA_DIR"`).trim()).toBe(
      "15 /etc/postgresql/15/x /var/lib/postgresql/15/x",
    );
    const r = sh(`${renderClusterPrelude({ version: 11, cluster: "x", port: 1 })}\necho unreachable`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("PostgreSQL 11 is not installed on");
    expect(r.stdout).toBe("");
  });

  it("renderCreateCluster creates the cluster once, and leaves it alone the second time", () => {
    const first = mustSh("create", renderCreateCluster(primary));
    expect(first.trim()).toBe(`created cluster 15/${primary.cluster} on port ${primary.port}, data in /var/lib/postgresql/15/${primary.cluster}`);
    const row = lsclusters().find((c) => c.cluster === primary.cluster)!;
    expect(row).toMatchObject({ version: "15", port: primary.port, status: "down" });
    const again = mustSh("create again", renderCreateCluster(primary));
    expect(again.trim()).toBe(`cluster 15/${primary.cluster} exists`);
  }, 60_000);

  it("renderConfigureCluster starts a stopped cluster with the rendered files, TLS and SCRAM", () => {
    const r = configure(primary, access, false);
    expect(r.stderr).not.toContain("FATAL");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`issued a TLS certificate for 15/${primary.cluster} signed by its CA (DNS:localhost,IP:127.0.0.1,IP:::1)`);
    expect(r.stdout).toContain(`started 15/${primary.cluster}`);
    expect(r.stdout).toMatch(/running 15\.\d+ .* since /);
    expect(pq(primary, "SHOW ssl")).toBe("on");
    expect(pq(primary, "SHOW password_encryption")).toBe("scram-sha-256");
    expect(pq(primary, "SHOW listen_addresses")).toBe("localhost,::1");
    expect(pq(primary, "SHOW shared_buffers")).toBe("128MB");
    expect(pq(primary, "SHOW max_connections")).toBe("50");
    // PostgreSQL reads the rendered pg_hba.conf without an error, and it has no trust rule.
    expect(pq(primary, "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL")).toBe("0");
    expect(pq(primary, "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'")).toBe("0");
    expect(pq(primary, "SELECT count(*) FROM pg_hba_file_rules")).toBe("4");
    // The key and the CA's key are outside the data directory (pg_basebackup copies that to standbys).
    const conf = `/etc/postgresql/15/${primary.cluster}`;
    expect(statSync(`${conf}/dbstack-tls/server.key`).mode & 0o777).toBe(0o600);
    expect(statSync(`${conf}/dbstack-ca/ca.key`).mode & 0o777).toBe(0o600);
    expect(statSync(`${conf}/dbstack-ca/ca.key`).uid).toBe(0);
    expect(statSync(`${conf}/dbstack-ca`).mode & 0o777).toBe(0o700);
    expect(existsSync(`/var/lib/postgresql/15/${primary.cluster}/dbstack-server.key`)).toBe(false);
    expect(pq(primary, "SHOW ssl_key_file")).toBe(`${conf}/dbstack-tls/server.key`);
    expect(mustSh("verify", `openssl verify -CAfile ${conf}/dbstack-ca/ca.crt ${conf}/dbstack-tls/server.crt`).trim()).toBe(`${conf}/dbstack-tls/server.crt: OK`);
    expect(statSync(`/etc/postgresql/15/${primary.cluster}/pg_hba.conf`).mode & 0o777).toBe(0o640);
    expect(readFileSync(`/etc/postgresql/15/${primary.cluster}/pg_hba.conf`, "utf8")).toBe(renderHba(access));
  }, 90_000);

  it("renderConfigureCluster reloads without a restart when nothing needs one", () => {
    const before = startTime(primary);
    const same = configure(primary, access, false);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toContain(`reloaded 15/${primary.cluster} (no changed parameter needs a restart)`);
    expect(same.stdout).not.toContain("restarting");
    expect(same.stdout).not.toContain("issued a TLS certificate");
    // A reloadable change: applied by the reload, still no restart.
    const workMem = configure(primary, access, false, small, { work_mem: "7MB" });
    expect(workMem.code, workMem.stderr).toBe(0);
    expect(workMem.stdout).toContain("no changed parameter needs a restart");
    expect(pq(primary, "SHOW work_mem")).toBe("7MB");
    expect(startTime(primary)).toBe(before);
  }, 90_000);

  it("renderConfigureCluster restarts when pg_settings.pending_restart says so, naming the parameters", () => {
    const before = startTime(primary);
    const r = configure(primary, access, false, { ...small, memoryMb: 1024 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`restarting 15/${primary.cluster}: changed parameters need a restart: .*shared_buffers`));
    expect(pq(primary, "SHOW shared_buffers")).toBe("256MB");
    expect(pq(primary, "SELECT count(*) FROM pg_settings WHERE pending_restart")).toBe("0");
    expect(startTime(primary)).not.toBe(before);
  }, 90_000);

  it("renderConfigureCluster installs a given certificate and key from the environment", () => {
    const crt = join(workDir, "given.crt");
    const key = join(workDir, "given.key");
    mustSh("openssl", `openssl req -new -x509 -days 2 -nodes -newkey rsa:2048 -subj /CN=given.example -keyout ${key} -out ${crt} 2>/dev/null`);
    const r = configure(primary, access, false, { ...small, memoryMb: 1024 }, {}, {
      DBSTACK_TLS_CERT: readFileSync(crt, "utf8").trimEnd(),
      DBSTACK_TLS_KEY: readFileSync(key, "utf8").trimEnd(),
    });
    expect(r.code, r.stderr).toBe(0);
    const tls = `/etc/postgresql/15/${primary.cluster}/dbstack-tls`;
    expect(readFileSync(`${tls}/server.crt`, "utf8")).toBe(readFileSync(crt, "utf8"));
    expect(statSync(`${tls}/server.key`).mode & 0o777).toBe(0o600);
    expect(statSync(`${tls}/server.key`).uid).toBe(Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim()));
    // Back to the cluster's own certificate: issued again for the same key, signed by the CA.
    const back = configure(primary, access, false, { ...small, memoryMb: 1024 });
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain("issued a TLS certificate");
  }, 90_000);

  it("roles and databases from the SQL renderers; postgresUrls connect over TLS with a password that needs encoding", () => {
    psqlScript(primary, renderRoleSql({ name: "app", grants: { app: "owner" }, connectionLimit: -1 }, "DBSTACK_PASSWORD_APP"), { DBSTACK_PASSWORD_APP: PASSWORD });
    psqlScript(primary, renderDatabaseSql(appDb));
    psqlScript(primary, renderGrantsSql({ name: "app", grants: { app: "owner" }, connectionLimit: -1 }, [appDb]));
    for (const host of ["127.0.0.1", "::1"]) {
      const url = postgresUrls({ user: "app", password: PASSWORD, host, port: primary.port, database: "app" }).postgresql;
      const r = spawnSync(`${PG15}/psql`, ["-X", "-tA", "-w", url, "-c", "SELECT current_user || ' ' || current_database() || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"], {
        env: cleanEnv({ PGPASSFILE: "/nonexistent", PGCONNECT_TIMEOUT: "10" }),
        encoding: "utf8",
      });
      expect(r.stderr, url).toBe("");
      expect(r.stdout.trim()).toBe("app app true");
    }
    // verify-full: the certificate is signed by the cluster's CA and names 127.0.0.1 and ::1.
    const ca = `/etc/postgresql/15/${primary.cluster}/dbstack-ca/ca.crt`;
    for (const host of ["127.0.0.1", "::1", "localhost"]) {
      const url = postgresUrls({ user: "app", password: PASSWORD, host, port: primary.port, database: "app", caCertificateFile: ca }).postgresqlVerifyFull;
      const r = spawnSync(`${PG15}/psql`, ["-X", "-tA", "-w", url, "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"], {
        env: cleanEnv({ PGPASSFILE: "/nonexistent", PGCONNECT_TIMEOUT: "10" }),
        encoding: "utf8",
      });
      expect(r.stderr, url).toBe("");
      expect(r.stdout.trim()).toBe("t");
    }
    // ...and refuses a CA that did not sign it.
    const other = join(workDir, "other-ca.crt");
    mustSh("other CA", `openssl req -x509 -new -nodes -newkey rsa:2048 -days 1 -subj /CN=other -keyout ${other}.key -out ${other} 2>/dev/null`);
    const refused = spawnSync(
      `${PG15}/psql`,
      ["-X", "-tA", "-w", postgresUrls({ user: "app", password: PASSWORD, host: "127.0.0.1", port: primary.port, database: "app", caCertificateFile: other }).postgresqlVerifyFull, "-c", "SELECT 1"],
      { env: cleanEnv({ PGPASSFILE: "/nonexistent" }), encoding: "utf8" },
    );
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/certificate verify failed/);
    // A wrong password is refused (scram-sha-256, not trust).
    const wrong = postgresUrls({ user: "app", password: "wrong", host: "127.0.0.1", port: primary.port, database: "app" }).postgresql;
    const r = spawnSync(`${PG15}/psql`, ["-X", "-tA", "-w", wrong, "-c", "SELECT 1"], { env: cleanEnv({ PGPASSFILE: "/nonexistent" }), encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("password authentication failed");
  }, 60_000);

  describe("the post-deploy hook with postgresDialect", () => {
    const hook = (migrations: Migration[] | undefined, healthChecks: HealthCheck[] = [], target: Partial<PostgresHookTarget> = {}) =>
      sh(
        renderPostDeployHook({
          subject: "database app",
          dialect: postgresDialect({ ...primary, database: "app", owner: "app", expectedStandbys: 0, ...target }),
          migrations: migrations && { kind: "sql", migrations },
          healthChecks,
        }),
        { env: { DBSTACK_OWNER_PASSWORD: PASSWORD } },
      );
    const m = (id: string, sql: string): Migration => ({ id, sql, checksum: checksumOf(sql) });
    /** Every migration applied so far in this describe (the escapes add theirs after these). */
    const ALL = () => [...MIGRATIONS, m("0003_broken", "CREATE TABLE notes (body text);\n")];

    it("applies migrations once, as the owner, and prints the health checks", () => {
      const first = hook(MIGRATIONS, [{ name: "users table", sql: "SELECT count(*) FROM users", expect: "0" }]);
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      expect(first.stdout).toContain("applied migration 0001_create_users\napplied migration 0002_add_name\nmigrations: 2 applied, 2 in total\n");
      expect(first.stdout).toMatch(
        /health checks:\n {2}select 1: 1\n {2}version: 15\.\d+ \(Debian[^\n]*\)\n {2}connections: \d+ of 50\n {2}streaming standbys: 0 streaming, max replay lag 0\n {2}users table: 0\n$/,
      );
      expect(pq(primary, "SELECT tableowner FROM pg_tables WHERE tablename IN ('users', 'dbstack_migrations') ORDER BY tablename", "app")).toBe("app\napp");
      expect(pq(primary, "SELECT id || ' ' || checksum FROM dbstack_migrations ORDER BY id", "app")).toBe(MIGRATIONS.map((x) => `${x.id} ${x.checksum}`).join("\n"));
      expect(pq(primary, "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'users'", "app")).toBe("id,email,name");

      const second = hook(MIGRATIONS);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toContain("migrations: 0 applied, 2 in total");
      expect(second.stdout).not.toContain("applied migration");
    }, 60_000);

    it("refuses a migration edited after it was applied, before applying anything else", () => {
      const edited = [m("0001_create_users", MIGRATIONS[0].sql + "-- edited\n"), MIGRATIONS[1], m("0003_notes", "CREATE TABLE notes (body text);\n")];
      const r = hook(edited);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`migration 0001_create_users was edited after it was applied (applied checksum ${MIGRATIONS[0].checksum}, file now ${edited[0].checksum})`);
      expect(pq(primary, "SELECT count(*) FROM pg_tables WHERE tablename = 'notes'", "app")).toBe("0");
    }, 60_000);

    it("rolls back a failing migration (its DDL and its record), names it, and applies it once fixed", () => {
      const broken3 = m("0003_broken", "CREATE TABLE notes (body text);\nINSERT INTO nope VALUES (1);\n");
      const r = hook([...MIGRATIONS, broken3]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("migration 0003_broken failed");
      expect(r.stderr).toContain('relation "nope" does not exist');
      expect(pq(primary, "SELECT count(*) FROM pg_tables WHERE tablename = 'notes'", "app")).toBe("0");
      expect(pq(primary, "SELECT count(*) FROM dbstack_migrations WHERE id = '0003_broken'", "app")).toBe("0");

      const fixed = hook([...MIGRATIONS, m("0003_broken", "CREATE TABLE notes (body text);\n")]);
      expect(fixed.code, fixed.stderr).toBe(0);
      expect(fixed.stdout).toContain("migrations: 1 applied, 3 in total");
      expect(pq(primary, "SELECT tableowner FROM pg_tables WHERE tablename = 'notes'", "app")).toBe("app");
    }, 60_000);

    it("waits for the advisory lock another deploy holds, then proceeds", async () => {
      // The other deploy: a session that takes the same lock and keeps it for 4 seconds.
      const holder = spawn(
        "runuser",
        ["-u", "postgres", "--", `${PG15}/psql`, "-X", "-q", "-tA", "-h", "/var/run/postgresql", "-p", String(primary.port), "-d", "app",
          "-c", `SELECT pg_advisory_lock(hashtext('${MIGRATIONS_TABLE}'))`, "-c", "SELECT pg_sleep(4)"],
        { env: cleanEnv(), cwd: "/", stdio: "ignore" },
      );
      const exited = new Promise((r) => holder.on("exit", r));
      await waitFor("the lock holder", () => pq(primary, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted", "app") === "1");
      const started = Date.now();
      const r = await shAsync(
        renderPostDeployHook({
          subject: "database app",
          dialect: postgresDialect({ ...primary, database: "app", owner: "app", expectedStandbys: 0 }),
          migrations: { kind: "sql", migrations: MIGRATIONS },
          healthChecks: [],
        }),
        { DBSTACK_OWNER_PASSWORD: PASSWORD },
      );
      const waited = Date.now() - started;
      await exited;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("migrations: 0 applied, 2 in total");
      expect(waited).toBeGreaterThan(2000);
      // The hook's lock session ends with the hook.
      await waitFor("the hook's lock session to end", () => pq(primary, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", "app") === "0");
    }, 60_000);

    it("fails on a declared check or a missing standby, naming the check", () => {
      const check = hook(undefined, [{ name: "has users", sql: "SELECT count(*) FROM users", expect: "1" }]);
      expect(check.code).not.toBe(0);
      expect(check.stderr).toContain("health check has users failed: expected 1, got 0");
      const standbys = hook(undefined, [], { expectedStandbys: 1 });
      expect(standbys.code).not.toBe(0);
      expect(standbys.stderr).toContain("health check streaming standbys failed: 0 streaming");
    }, 60_000);

    // Issue 7, point 2: a migration or a check has the owner's rights and no more.
    describe("escapes", () => {
      const marker = () => join(workDir, `escape-${Math.random().toString(36).slice(2)}`);
      const applied = () => pq(primary, "SELECT string_agg(id, ',' ORDER BY id) FROM dbstack_migrations", "app");

      it("a migration runs logged in as the owner: current_user, session_user and rolsuper say so", () => {
        const who = "DO $$ BEGIN RAISE EXCEPTION 'running as % (session %, superuser %)', current_user, session_user, (SELECT rolsuper FROM pg_roles WHERE rolname = session_user); END $$;\n";
        const r = hook([...ALL(), m("0005_who", who)]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("running as app (session app, superuser f)");
      }, 60_000);

      it("psql's \\! in a migration is an SQL syntax error: no shell runs, the migration is rolled back and named", () => {
        const file = marker();
        const before = applied();
        const r = hook([...ALL(), m("0005_shell", `CREATE TABLE escaped (x int);\n\\! id > ${file}\n\\o |id > ${file}\nSELECT 1;\n`)]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("migration 0005_shell failed");
        expect(r.stderr).toContain('syntax error at or near "\\"');
        expect(r.stderr).toContain(`LINE 2: \\! id > ${file}`);
        expect(existsSync(file)).toBe(false);
        expect(pq(primary, "SELECT count(*) FROM pg_tables WHERE tablename = 'escaped'", "app")).toBe("0");
        expect(applied()).toBe(before);
      }, 60_000);

      it("a migration that closes the dollar quote it is wrapped in still cannot reach psql", () => {
        const file = marker();
        const r = hook([...ALL(), m("0005_quote", `SELECT 1;\n$dbstack_sql$ \\gexec\n\\! id > ${file}\nSELECT $dbstack_sql$\n`)]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("migration 0005_quote failed");
        expect(existsSync(file)).toBe(false);
      }, 60_000);

      it("RESET ROLE and SET SESSION AUTHORIZATION give nothing: a superuser-only statement fails the migration", () => {
        const reset = hook([...ALL(), m("0005_reset", "RESET ROLE;\nCREATE TABLE r AS SELECT current_user AS u;\nCREATE ROLE dbstack_escaped LOGIN;\n")]);
        expect(reset.code).not.toBe(0);
        expect(reset.stderr).toContain("migration 0005_reset failed");
        expect(reset.stderr).toContain("permission denied to create role");
        const session = hook([...ALL(), m("0005_session", "SET SESSION AUTHORIZATION postgres;\n")]);
        expect(session.code).not.toBe(0);
        expect(session.stderr).toContain("permission denied to set session authorization");
        const superuser = hook([...ALL(), m("0005_superuser", "ALTER ROLE app SUPERUSER;\n")]);
        expect(superuser.code).not.toBe(0);
        expect(superuser.stderr).toContain("must be superuser to alter superuser roles or change superuser attribute");
        expect(pq(primary, "SELECT rolsuper FROM pg_roles WHERE rolname = 'app'")).toBe("f");
        expect(pq(primary, "SELECT count(*) FROM pg_roles WHERE rolname = 'dbstack_escaped'")).toBe("0");
      }, 60_000);

      it("the hook's environment is out of reach: \\getenv is SQL, COPY ... PROGRAM needs a superuser", () => {
        const file = marker();
        const env = { DBSTACK_OWNER_PASSWORD: PASSWORD, PULUMI_CONFIG_PASSPHRASE: "canary-passphrase" };
        const run = (sql: string) =>
          sh(renderPostDeployHook({ subject: "database app", dialect: postgresDialect({ ...primary, database: "app", owner: "app", expectedStandbys: 0 }), migrations: { kind: "sql", migrations: [...ALL(), m("0005_env", sql)] }, healthChecks: [] }), { env });
        const getenv = run("\\getenv p PULUMI_CONFIG_PASSPHRASE\nCREATE TABLE leaked AS SELECT :'p' AS v;\n");
        expect(getenv.code).not.toBe(0);
        expect(getenv.stderr).toContain('syntax error at or near "\\"');
        const program = run(`COPY (SELECT 1) TO PROGRAM 'env > ${file}';\n`);
        expect(program.code).not.toBe(0);
        expect(program.stderr).toMatch(/must be superuser or have privileges of the pg_execute_server_program role|permission denied/);
        const read = run("CREATE TABLE leaked AS SELECT pg_read_file('/proc/self/environ') AS v;\n");
        expect(read.code).not.toBe(0);
        expect(read.stderr).toContain("permission denied for function pg_read_file");
        expect(existsSync(file)).toBe(false);
        expect(pq(primary, "SELECT count(*) FROM pg_tables WHERE tablename = 'leaked'", "app")).toBe("0");
      }, 60_000);

      it("a declared check is SQL too: \\! at its start or inside is an error, and no shell runs", () => {
        const file = marker();
        for (const sql of [`\\! id > ${file}`, `SELECT 1 \\! id > ${file}`, `SELECT 1; \\o |id > ${file}`]) {
          const r = hook(undefined, [{ name: "sneaky", sql }]);
          expect(r.code, sql).not.toBe(0);
          expect(r.stderr).toContain("health check sneaky failed");
        }
        const reset = hook(undefined, [{ name: "who", sql: "RESET ROLE; SELECT current_user || ' ' || (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)" }]);
        expect(reset.code, reset.stderr).toBe(0);
        expect(reset.stdout).toContain("who: app false");
        expect(existsSync(file)).toBe(false);
      }, 60_000);

      it("without the owner's password the hook stops before running anything, and says why", () => {
        const r = sh(renderPostDeployHook({ subject: "database app", dialect: postgresDialect({ ...primary, database: "app", owner: "app", expectedStandbys: 0 }), migrations: { kind: "sql", migrations: ALL() }, healthChecks: [] }));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("the password of role app is needed: set DBSTACK_OWNER_PASSWORD");
        const wrong = sh(renderPostDeployHook({ subject: "database app", dialect: postgresDialect({ ...primary, database: "app", owner: "app", expectedStandbys: 0 }), healthChecks: [] }), { env: { DBSTACK_OWNER_PASSWORD: "wrong" } });
        expect(wrong.code).not.toBe(0);
        expect(wrong.stderr).toContain('password authentication failed for user "app"');
      }, 60_000);
    });
  });

  describe("backup and restore", () => {
    const spec = (): PostgresBackupSpec => ({ ...primary, name: "unitbk", databases: ["app"], policy: { schedule: "0 2 * * *", dir: backupDir(), retentionDays: 30 } });
    let backupFile: string;

    it("backs up the globals and each database to a 0600 tar.gz", () => {
      pq(primary, "INSERT INTO users (email) VALUES ('before@example.com')", "app");
      const out = mustSh("backup", renderPostgresBackup(spec()));
      const m = /backup ok: (\S+) \(\d+ bytes\)/.exec(out);
      expect(m, out).not.toBeNull();
      backupFile = m![1];
      expect(backupFile).toMatch(new RegExp(`^${backupDir()}/unitbk-\\d{8}T\\d{6}Z\\.tar\\.gz$`));
      expect(statSync(backupFile).mode & 0o777).toBe(0o600);
      const listing = spawnSync("tar", ["-tzf", backupFile], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).sort();
      expect(listing).toEqual(["./", "./app.dump", "./globals.sql"]);
      const globals = spawnSync("bash", ["-c", `tar -xzOf '${backupFile}' ./globals.sql`], { encoding: "utf8" }).stdout;
      expect(globals).toContain("CREATE ROLE app;");
      // pg_restore recognises the custom format.
      const dump = spawnSync("bash", ["-c", `tar -xzOf '${backupFile}' ./app.dump | ${PG15}/pg_restore --list`], { encoding: "utf8" });
      expect(dump.status, dump.stderr).toBe(0);
      expect(dump.stdout).toContain("TABLE public users app");
      // Compressed once cheaply by pg_dump (level 1), since the archive's gzip compresses it all again.
      expect(dump.stdout).toMatch(/^;\s+Compression: 1$/m);
      expect(spawnSync("bash", ["-c", `ls -A '${backupDir()}'`], { encoding: "utf8" }).stdout.trim()).toBe(backupFile.split("/").pop());
    }, 90_000);

    it("restores into a new database, then in place keeping the current one aside", () => {
      pq(primary, "INSERT INTO users (email) VALUES ('after@example.com')", "app");
      // A role the source database grants CONNECT to: the copy must grant it too, and no more.
      pq(primary, "CREATE ROLE unitbk_reader LOGIN");
      pq(primary, "GRANT CONNECT ON DATABASE app TO unitbk_reader");
      const restore = renderPostgresRestore(spec());
      const into = mustSh("restore --into", restore, { args: ["app", "--into", "app_copy"] });
      expect(into).toContain(`restored database app from ${backupFile} into new database app_copy`);
      expect(pq(primary, "SELECT string_agg(email, ',') FROM users", "app_copy")).toBe("before@example.com");
      expect(pq(primary, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app_copy'")).toBe("app");
      const acl = (db: string) => pq(primary, `SELECT datacl::text FROM pg_database WHERE datname = '${db}'`);
      expect(acl("app_copy")).toBe(acl("app"));
      expect(acl("app_copy")).toContain("unitbk_reader=c/app");
      expect(pq(primary, "SELECT has_database_privilege('public', 'app_copy', 'CONNECT')")).toBe("f");
      expect(pq(primary, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'app_copy'")).toBe(
        `dbstack restore: app from ${backupFile.split("/").pop()}`,
      );

      // Over the live database: without a terminal, nothing happens without --yes.
      const unconfirmed = sh(restore, { args: ["app"] });
      expect(unconfirmed.code).toBe(2);
      expect(unconfirmed.stderr).toContain(`restore replaces database app with ${backupFile}: run it again with --yes`);
      expect(pq(primary, "SELECT string_agg(email, ',' ORDER BY email) FROM users", "app")).toBe("after@example.com,before@example.com");
      // Three older safety copies of app exist (one without the restore's mark, which is not the restore's to drop).
      const mark = "dbstack restore: app: set aside by a restore";
      for (const [name, marked] of [["app_before_restore_20000101000000", true], ["app_before_restore_20000102000000", true], ["app_before_restore_20000103000000", true], ["app_before_restore_19990101000000", false]] as const) {
        pq(primary, `CREATE DATABASE "${name}"`);
        if (marked) pq(primary, `COMMENT ON DATABASE "${name}" IS '${mark}'`);
      }

      const inPlace = mustSh("restore", restore, { args: ["app", "--yes"] });
      expect(inPlace).toContain("dropped an older safety copy (3 are kept): app_before_restore_20000101000000");
      const left = pq(primary, "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'app\\_before\\_restore\\_%'");
      expect(left.split(",").slice(0, 3)).toEqual(["app_before_restore_19990101000000", "app_before_restore_20000102000000", "app_before_restore_20000103000000"]);
      expect(left.split(",")).toHaveLength(4);
      const aside = /the previous one is kept as (app_before_restore_\d{14})/.exec(inPlace);
      expect(aside, inPlace).not.toBeNull();
      expect(pq(primary, "SELECT string_agg(email, ',' ORDER BY email) FROM users", "app")).toBe("before@example.com");
      expect(pq(primary, "SELECT string_agg(email, ',' ORDER BY email) FROM users", aside![1])).toBe("after@example.com,before@example.com");
      expect(pq(primary, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'")).toBe("app");
      // The migrations' record came back with the data: the hook applies nothing.
      expect(pq(primary, "SELECT count(*) FROM dbstack_migrations", "app")).toBe("3");
      for (const db of ["app_copy", aside![1], "app_before_restore_20000102000000", "app_before_restore_20000103000000", "app_before_restore_19990101000000"]) pq(primary, `DROP DATABASE "${db}"`);
      pq(primary, "REVOKE CONNECT ON DATABASE app FROM unitbk_reader");
      pq(primary, "DROP ROLE unitbk_reader");
    }, 90_000);

    it("restore refuses a bad database name and a database the backup does not hold", () => {
      const restore = renderPostgresRestore(spec());
      const bad = sh(restore, { args: ["App; DROP"] });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("usage: restore DATABASE [--into NEW_DATABASE] [--yes] [BACKUP_FILE]");
      const unknown = sh(restore, { args: ["app", "--force"] });
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain("restore: unknown option --force");
      const missing = sh(restore, { args: ["reports"] });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("has no dump of database reports");
    }, 60_000);

    it("the newest-backup health check reports the backup, and fails when it is too old", () => {
      // As the on-demand tool runs: the owner's password from its root-only file, not the environment.
      const passwordFile = join(workDir, "app.password");
      writeFileSync(passwordFile, PASSWORD, { mode: 0o600 });
      const target = { ...primary, database: "app", owner: "app", expectedStandbys: 0, ownerPasswordFile: passwordFile, backup: { dir: backupDir(), prefix: "unitbk", maxAgeHours: 36, cronFile: "/nonexistent/cron" } };
      const run = () => sh(renderPostDeployHook({ subject: "database app", dialect: postgresDialect(target), healthChecks: [] }));
      const fresh = run();
      expect(fresh.code, fresh.stderr).toBe(0);
      expect(fresh.stdout).toContain(`  newest backup: ${backupFile.split("/").pop()} (0h old)\n`);
      const old = (Date.now() - 72 * 3600_000) / 1000;
      utimesSync(backupFile, old, old);
      const stale = run();
      expect(stale.code).not.toBe(0);
      expect(stale.stderr).toContain("health check newest backup failed: ");
      expect(stale.stderr).toContain("newest backup is 72h old (limit 36h)");
    }, 60_000);

    it("maintenance vacuums and analyzes every database", () => {
      const out = mustSh("maintenance", renderPostgresMaintenance({ ...primary, name: "unitbk" }));
      expect(out).toMatch(/vacuum and analyze ok/);
      expect(pq(primary, "SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'users'", "app")).toBe("t");
    }, 60_000);
  });

  describe("replication: slots, a standby, promotion", () => {
    const replicationAccess = (): AccessSpec => ({ ...access, replicationCidrs: ["127.0.0.1/32"] });
    // The standby verifies the primary (sslmode=verify-full) against the CA the primary's configure step made.
    const primaryCa = () => readFileSync(`/etc/postgresql/${primary.version}/${primary.cluster}/dbstack-ca/ca.crt`, "utf8");
    const standbySpec = (): StandbySpec => ({ ...standby, slot: "dbstack_replica1", primaryHost: "127.0.0.1", primaryPort: primary.port, replicationUser: "dbstack_replication", caCertificate: primaryCa() });

    it("renderReplicationSlots converges the dbstack_ slots and leaves other slots alone", () => {
      pq(primary, "SELECT pg_create_physical_replication_slot('keepme')");
      expect(mustSh("slots", renderReplicationSlots(primary, ["dbstack_a", "dbstack_b"])).trim()).toBe("slots: dbstack_a, dbstack_b, keepme");
      expect(mustSh("slots again", renderReplicationSlots(primary, ["dbstack_a", "dbstack_b"])).trim()).toBe("slots: dbstack_a, dbstack_b, keepme");
      expect(mustSh("slots fewer", renderReplicationSlots(primary, ["dbstack_a"])).trim()).toBe("slots: dbstack_a, keepme");
      expect(mustSh("slots none", renderReplicationSlots(primary, [])).trim()).toBe("slots: keepme");
      pq(primary, "SELECT pg_drop_replication_slot('keepme')");
      expect(mustSh("slots empty", renderReplicationSlots(primary, [])).trim()).toBe("slots: none");
    }, 60_000);

    it("with a standby, the primary's configuration reloads (PostgreSQL 15's defaults already allow replication)", () => {
      const r = configure(primary, replicationAccess(), true, { ...small, memoryMb: 1024 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("no changed parameter needs a restart");
      expect(pq(primary, "SHOW max_slot_wal_keep_size")).toBe("10GB");
      expect(pq(primary, "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL")).toBe("0");
      expect(pq(primary, "SELECT user_name FROM pg_hba_file_rules WHERE database = '{replication}'")).toBe("{dbstack_replication}");
      psqlScript(primary, renderReplicationRoleSql("dbstack_replication", "DBSTACK_REPLICATION_PASSWORD"), { DBSTACK_REPLICATION_PASSWORD: REPLICATION_PASSWORD });
      expect(mustSh("slots", renderReplicationSlots(primary, ["dbstack_replica1"])).trim()).toBe("slots: dbstack_replica1");
    }, 90_000);

    it("renderStandby refuses to overwrite a cluster that holds its own data (no standby.signal)", () => {
      // The primary itself, as if it were the standby's cluster: it exists and is no standby.
      const r = sh(renderStandby({ ...standbySpec(), ...primary }), { env: { DBSTACK_REPLICATION_PASSWORD: REPLICATION_PASSWORD } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("exists and is not a standby (promoted, or holding its own data): dbstack will not overwrite it");
      expect(pq(primary, "SELECT count(*) FROM users", "app")).toBe("1");
    }, 60_000);

    it("renderStandby clones the primary; the configured standby streams and follows", async () => {
      const clone = sh(renderStandby(standbySpec()), { env: { DBSTACK_REPLICATION_PASSWORD: REPLICATION_PASSWORD } });
      expect(clone.code, clone.stderr).toBe(0);
      expect(clone.stdout).toContain(`cloned the primary into /var/lib/postgresql/15/${standby.cluster}`);
      const data = `/var/lib/postgresql/15/${standby.cluster}`;
      expect(existsSync(`${data}/standby.signal`)).toBe(true);
      const pass = `/var/lib/postgresql/.dbstack-15-${standby.cluster}.pgpass`;
      expect(statSync(pass).mode & 0o777).toBe(0o600);
      expect(readFileSync(pass, "utf8")).toBe(`127.0.0.1:${primary.port}:*:dbstack_replication:${REPLICATION_PASSWORD}\n`);
      expect(readFileSync(`${data}/postgresql.auto.conf`, "utf8")).not.toContain(REPLICATION_PASSWORD);

      const sAccess = { ...replicationAccess(), listenAddresses: ["localhost"] };
      // TLS as the component does it: the standby makes its key, the primary's CA signs its public key.
      const publicKey = mustSh("standby key", renderStandbyKey(standby));
      expect(publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      expect(mustSh("standby key again", renderStandbyKey(standby))).toBe(publicKey);
      const certificate = mustSh("sign", renderSignStandbyCertificate(primary, { name: "replica1", publicKey, names: ["127.0.0.2", "localhost"] })).trimEnd();
      const sFiles = { ...files(sAccess, true, { ...small, memoryMb: 1024 }, { ...TUNING_SPEC, maxConnections: 50 }), tls: { names: ["127.0.0.2", "localhost"], certificate } };
      const config = sh(`${renderConfigureCluster(standby, sFiles)}\n${renderAwaitStreaming()}`);
      expect(config.code, config.stderr).toBe(0);
      const [pConf, sConf] = [primary, standby].map((c) => `/etc/postgresql/15/${c.cluster}`);
      // Its own key, not the primary's; no key in the cloned data directory; no CA on the standby.
      expect(readFileSync(`${sConf}/dbstack-tls/server.key`, "utf8")).not.toBe(readFileSync(`${pConf}/dbstack-tls/server.key`, "utf8"));
      expect(spawnSync("bash", ["-c", `ls ${data} | grep -c 'key' || true`], { encoding: "utf8" }).stdout.trim()).toBe("0");
      expect(existsSync(`${sConf}/dbstack-ca`)).toBe(false);
      expect(mustSh("verify", `openssl verify -CAfile ${pConf}/dbstack-ca/ca.crt ${sConf}/dbstack-tls/server.crt`).trim()).toContain("OK");
      expect(mustSh("san", `openssl x509 -in ${sConf}/dbstack-tls/server.crt -noout -ext subjectAltName`)).toContain("IP Address:127.0.0.2, DNS:localhost");
      expect(config.stdout).toContain(`standby 15/${standby.cluster} is streaming from its primary`);
      expect(pq(standby, "SELECT pg_is_in_recovery()")).toBe("t");
      expect(pq(primary, "SELECT slot_name || ' ' || active FROM pg_replication_slots")).toBe("dbstack_replica1 true");
      expect(pq(primary, "SELECT ssl FROM pg_stat_ssl JOIN pg_stat_replication USING (pid)")).toBe("t");

      pq(primary, "INSERT INTO users (email) VALUES ('replicated@example.com')", "app");
      await waitFor("the row on the standby", () => pq(standby, "SELECT count(*) FROM users WHERE email = 'replicated@example.com'", "app") === "1");

      // The primary's hook sees the standby streaming.
      const hook = sh(renderPostDeployHook({ subject: "database app", dialect: postgresDialect({ ...primary, database: "app", owner: "app", expectedStandbys: 1 }), healthChecks: [] }), {
        env: { DBSTACK_OWNER_PASSWORD: PASSWORD },
      });
      expect(hook.code, hook.stderr).toBe(0);
      expect(hook.stdout).toMatch(/streaming standbys: 1 streaming, max replay lag /);

      const again = sh(renderStandby(standbySpec()), { env: { DBSTACK_REPLICATION_PASSWORD: REPLICATION_PASSWORD } });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout.trim()).toBe(`standby 15/${standby.cluster} already follows its primary`);
    }, 120_000);

    // Regression test, fixed bug (components/engines/postgres/cluster.ts + access.ts): 20-dbstack-access.conf is
    // included after 10-dbstack-tuning.conf, so with standbys a declared `parameters` override of
    // max_slot_wal_keep_size (or max_wal_senders, max_replication_slots, wal_level, hot_standby,
    // listen_addresses, ssl...) is silently replaced by the access file's value.
    it("a declared parameter override wins over the access file's replication settings", () => {
      const r = configure(primary, replicationAccess(), true, { ...small, memoryMb: 1024 }, { max_slot_wal_keep_size: "50GB" });
      expect(r.code, r.stderr).toBe(0);
      expect(pq(primary, "SHOW max_slot_wal_keep_size")).toBe("50GB");
    }, 90_000);

    it("renderPromote makes the standby a primary; renderStandby then never overwrites it", () => {
      const promoted = sh(renderPromote(standby));
      expect(promoted.code, promoted.stderr).toBe(0);
      expect(promoted.stdout).toContain(`promoted 15/${standby.cluster}: it now accepts writes`);
      expect(pq(standby, "SELECT pg_is_in_recovery()")).toBe("f");
      pq(standby, "CREATE TABLE after_failover (x int)", "app");

      const reclone = sh(renderStandby(standbySpec()), { env: { DBSTACK_REPLICATION_PASSWORD: REPLICATION_PASSWORD } });
      expect(reclone.code).toBe(1);
      expect(reclone.stderr).toContain("dbstack will not overwrite it");
      expect(pq(standby, "SELECT count(*) FROM pg_tables WHERE tablename = 'after_failover'", "app")).toBe("1");

      const twice = sh(renderPromote(standby));
      expect(twice.code).toBe(1);
      expect(twice.stderr).toContain(`15/${standby.cluster} is not a standby`);
    }, 90_000);

    it("renderRemoveCluster keeps a stopped cluster's data by default and drops it with allowDataRemoval", () => {
      const keep = sh(renderRemoveCluster(standby, false));
      expect(keep.code, keep.stderr).toBe(0);
      expect(keep.stderr).toContain(`kept its data in /var/lib/postgresql/15/${standby.cluster}`);
      expect(lsclusters().find((c) => c.cluster === standby.cluster)).toMatchObject({ status: "down" });
      expect(existsSync(`/var/lib/postgresql/15/${standby.cluster}/PG_VERSION`)).toBe(true);

      const remove = sh(renderRemoveCluster(standby, true));
      expect(remove.code, remove.stderr).toBe(0);
      expect(remove.stderr).toContain("deleted PostgreSQL cluster");
      expect(lsclusters().find((c) => c.cluster === standby.cluster)).toBeUndefined();
      expect(existsSync(`/var/lib/postgresql/15/${standby.cluster}`)).toBe(false);
      // Idempotent: a second destroy of a gone cluster succeeds.
      expect(sh(renderRemoveCluster(standby, true)).code).toBe(0);
      // The removed standby's slot is now inactive: the slots step drops it.
      expect(mustSh("slots", renderReplicationSlots(primary, [])).trim()).toBe("slots: none");
    }, 90_000);

    // Regression test, fixed bug (components/engines/postgres/clusterScripts.ts renderRemoveCluster / standbyScripts.ts):
    // the standby's passfile holding the replication password outlives the destroyed standby.
    it("destroying a standby with allowDataRemoval also deletes its replication passfile", () => {
      expect(lsclusters().find((c) => c.cluster === standby.cluster)).toBeUndefined();
      expect(existsSync(`/var/lib/postgresql/.dbstack-15-${standby.cluster}.pgpass`)).toBe(false);
    });

    it("a failed first clone fails the step with pg_basebackup's error", () => {
      const spec = { ...broken, slot: "dbstack_broken", primaryHost: "127.0.0.1", primaryPort: broken.port, replicationUser: "dbstack_replication" };
      const r = sh(renderStandby(spec), { env: { DBSTACK_REPLICATION_PASSWORD: REPLICATION_PASSWORD } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("pg_basebackup from the primary failed");
    }, 60_000);

    // Regression test, fixed bug (components/engines/postgres/standbyScripts.ts, renderStandby): after a failed first
    // clone (primary unreachable, wrong password, slot missing), the cluster exists with an empty
    // data directory and no standby.signal, so every later deploy refuses it as "promoted, or
    // holding its own data" instead of retrying the clone.
    it("retries the clone after a failed first attempt", () => {
      const spec = { ...broken, slot: "dbstack_broken", primaryHost: "127.0.0.1", primaryPort: broken.port, replicationUser: "dbstack_replication" };
      const r = sh(renderStandby(spec), { env: { DBSTACK_REPLICATION_PASSWORD: REPLICATION_PASSWORD } });
      expect(r.stderr).not.toContain("dbstack will not overwrite it");
      expect(r.stderr).toContain("pg_basebackup from the primary failed");
    }, 60_000);

    // The passfile line is not escaped for an IPv6 host ("::1:5432:*:..."); libpq's matching
    // takes a ':' in the file as a literal while the host still has characters, so it matches.
    it("clones from a primary reached at an IPv6 address", () => {
      try {
        const r0 = configure(primary, { ...replicationAccess(), replicationCidrs: ["127.0.0.1/32", "::1/128"] }, true, { ...small, memoryMb: 1024 });
        expect(r0.code, r0.stderr).toBe(0);
        expect(mustSh("slots", renderReplicationSlots(primary, ["dbstack_v6"])).trim()).toBe("slots: dbstack_v6");
        const spec = { ...ipv6, slot: "dbstack_v6", primaryHost: "::1", primaryPort: primary.port, replicationUser: "dbstack_replication", caCertificate: primaryCa() };
        const r = sh(renderStandby(spec), { env: { DBSTACK_REPLICATION_PASSWORD: REPLICATION_PASSWORD } });
        expect(r.stderr).not.toContain("no password supplied");
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`cloned the primary into /var/lib/postgresql/15/${ipv6.cluster}`);
        expect(readFileSync(`/var/lib/postgresql/15/${ipv6.cluster}/postgresql.auto.conf`, "utf8")).toContain("host=::1 port=");
      } finally {
        dropCluster(ipv6);
        spawnSync("rm", ["-f", `/var/lib/postgresql/.dbstack-15-${ipv6.cluster}.pgpass`]);
        sh(renderReplicationSlots(primary, []));
      }
    }, 90_000);
  });

  it("renderRemoveCluster without allowDataRemoval stops the primary and keeps its data", () => {
    const r = sh(renderRemoveCluster(primary, false));
    expect(r.code, r.stderr).toBe(0);
    expect(lsclusters().find((c) => c.cluster === primary.cluster)).toMatchObject({ status: "down" });
    expect(existsSync(`/var/lib/postgresql/15/${primary.cluster}/base`)).toBe(true);
    // Started again, the data is all there.
    mustSh("start", `pg_ctlcluster 15 ${primary.cluster} start`);
    expect(pq(primary, "SELECT count(*) FROM users", "app")).toBe("2");
    const drop = sh(renderRemoveCluster(primary, true));
    expect(drop.code, drop.stderr).toBe(0);
    expect(lsclusters().find((c) => c.cluster === primary.cluster)).toBeUndefined();
  }, 90_000);
});
