import { execFileSync, spawnSync } from "child_process";
import { mkdtempSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { installedVersionProblem } from "../../components/model/versionMatch";
import { mariadbEngine } from "../../components/engines/mariadb/engine";
import { renderAccountScript } from "../../components/engines/mariadb/sql/accounts";
import { renderStandby, renderReplicationSource } from "../../components/engines/mariadb/standbyScripts";
import { postgresEngine } from "../../components/engines/postgres/engine";
import { renderReplicationRoleSql, renderRoleSql } from "../../components/engines/postgres/sql/roles";
import { renderRemoveBackups } from "../../components/backups/backupSchedule";
import { renderRemoveInstance } from "../../components/engines/mariadb/instanceScripts";
import { renderDropDatabaseScript } from "../../components/engines/mariadb/sql/databases";
import { renderRemoveCluster } from "../../components/engines/postgres/clusterScripts";
import { parseStackConfig } from "../../stacks/config";
import { plaintextSecretProblems } from "../../stacks/secrets";

const mariadb = mariadbEngine({ flavor: "mariadb", requireSecureTransport: false });
const mysql = mariadbEngine({ flavor: "mysql", requireSecureTransport: false });
const ENGINES = { mariadb, mysql, postgres: postgresEngine };
type EngineName = keyof typeof ENGINES;

describe("parameter policy: parameters dbstack owns are refused, naming the field to use", () => {
  it.each([
    // MariaDB
    ["mariadb", "bind_address", "0.0.0.0", "listenAddresses"],
    ["mariadb", "port", "3307", "port"],
    ["mariadb", "datadir", "/srv/x", "dataDirectory"],
    ["mariadb", "innodb_data_home_dir", "/srv/x", "dataDirectory"],
    ["mariadb", "socket", "/tmp/s", "instanceName"],
    ["mariadb", "ssl_key", "/tmp/k", "tls"],
    ["mariadb", "ssl_cert", "/tmp/c", "tls"],
    ["mariadb", "tls_version", "TLSv1.0", "tls"],
    ["mariadb", "skip_ssl", "1", "tls"],
    ["mariadb", "require_secure_transport", "OFF", "requireSecureTransport"],
    ["mariadb", "server_id", "9", "standbys"],
    ["mariadb", "log_bin", "x", "standbys"],
    ["mariadb", "skip_log_bin", "1", "standbys"],
    ["mariadb", "disable_log_bin", "1", "standbys"],
    ["mariadb", "loose_bind_address", "0.0.0.0", "listenAddresses"],
    ["mariadb", "gtid_strict_mode", "OFF", "standbys"],
    ["mariadb", "read_only", "OFF", "standbys"],
    ["mariadb", "max_connections", "5000", "maxConnections"],
    ["mariadb", "user", "root", "the server runs as mysql"],
    // PostgreSQL (names are case-insensitive)
    ["postgres", "listen_addresses", "'*'", "listenAddresses"],
    ["postgres", "LISTEN_ADDRESSES", "'*'", "listenAddresses"],
    ["postgres", "port", "5433", "port"],
    ["postgres", "data_directory", "'/srv/x'", "dataDirectory"],
    ["postgres", "hba_file", "'/tmp/hba'", "allowedCidrs"],
    ["postgres", "ssl", "off", "tls"],
    ["postgres", "ssl_key_file", "'/tmp/k'", "tls"],
    ["postgres", "wal_level", "minimal", "standbys"],
    ["postgres", "primary_conninfo", "'host=x'", "standbys"],
    ["postgres", "max_connections", "500", "maxConnections"],
    ["postgres", "unix_socket_directories", "'/tmp'", "default socket"],
  ])("%s: %s=%s is refused, naming `%s`", (e, name, value, field) => {
    const engine = ENGINES[e as EngineName];
    const problem = engine.overridesProblem({ [name]: value }, []);
    expect(problem).toMatch(new RegExp(`^parameters\\.${name}`));
    expect(problem).toContain(field);
    // unsafeParameters cannot let an owned parameter through.
    expect(engine.overridesProblem({ [name]: value }, [])).toBe(problem);
  });
});

describe("parameter policy: unsafe parameters are refused unless unsafeParameters names them", () => {
  it.each([
    ["mariadb", "skip_grant_tables", "ON", "skip_grant_tables", "authentication"],
    ["mariadb", "loose_skip_grant_tables", "ON", "skip_grant_tables", "authentication"],
    ["mariadb", "disable_grant_tables", "1", "skip_grant_tables", "authentication"],
    ["mariadb", "enable_skip_grant_tables", "1", "skip_grant_tables", "authentication"],
    ["mariadb", "skip_networking", "ON", "skip_networking", "TCP"],
    ["mariadb", "plugin_load", "x.so", "plugin_load", "loads code"],
    ["mariadb", "plugin_load_add", "auth_ed25519", "plugin_load_add", "loads code"],
    ["mariadb", "loose_plugin_load_add", "x.so", "plugin_load_add", "loads code"],
    ["mariadb", "plugin_dir", "/tmp", "plugin_dir", "code"],
    ["mariadb", "init_file", "/tmp/x.sql", "init_file", "SQL"],
    ["mariadb", "init_connect", "SET @x=1", "init_connect", "SQL"],
    ["mariadb", "general_log", "ON", "general_log", "passwords"],
    ["mariadb", "enable_general_log", "1", "general_log", "passwords"],
    ["mariadb", "general_log_file", "/tmp/g.log", "general_log_file", "passwords"],
    ["mariadb", "local_infile", "ON", "local_infile", "LOAD DATA LOCAL"],
    ["mariadb", "skip_local_infile", "1", "local_infile", "LOAD DATA LOCAL"],
    ["mariadb", "secure_file_priv", "/", "secure_file_priv", "files"],
    ["mariadb", "allow_suspicious_udfs", "ON", "allow_suspicious_udfs", "libraries"],
    ["mysql", "general_log", "ON", "general_log", "passwords"],
    ["postgres", "shared_preload_libraries", "'evil'", "shared_preload_libraries", "evil"],
    ["postgres", "shared_preload_libraries", "'pg_stat_statements, /tmp/evil.so'", "shared_preload_libraries", "/tmp/evil.so"],
    ["postgres", "Session_Preload_Libraries", "'x'", "session_preload_libraries", "libraries"],
    ["postgres", "password_encryption", "md5", "password_encryption", "scram-sha-256"],
    ["postgres", "password_encryption", "'on'", "password_encryption", "scram-sha-256"],
    ["postgres", "archive_command", "'cp %p /x'", "archive_command", "shell command"],
    ["postgres", "dynamic_library_path", "'/tmp'", "dynamic_library_path", "code"],
  ])("%s: %s=%s is refused unless unsafeParameters names %s", (e, name, value, canonical, why) => {
    const engine = ENGINES[e as EngineName];
    const problem = engine.overridesProblem({ [name]: value }, []);
    expect(problem).toMatch(new RegExp(`^parameters\\.${name}`));
    expect(problem).toContain(why);
    expect(problem).toContain(`\`unsafeParameters\` lists "${canonical}"`);
    // Named in unsafeParameters (either spelling), it is accepted, with a warning for the reviewer.
    expect(engine.overridesProblem({ [name]: value }, [canonical])).toBeUndefined();
    expect(engine.overridesProblem({ [name]: value }, [name])).toBeUndefined();
    expect(engine.parameterWarnings({ [name]: value }, [canonical]).join("\n")).toContain(`parameters.${name}: accepted through unsafeParameters`);
  });

  it("accepts the known preload libraries and scram without unsafeParameters", () => {
    expect(postgresEngine.overridesProblem({ shared_preload_libraries: "'pg_stat_statements,auto_explain'" }, [])).toBeUndefined();
    expect(postgresEngine.overridesProblem({ password_encryption: "'scram-sha-256'" }, [])).toBeUndefined();
  });

  it("accepts ordinary tuning parameters", () => {
    expect(mariadb.overridesProblem({ long_query_time: "2", innodb_buffer_pool_size: "1G", sync_binlog: "0", skip_name_resolve: "ON" }, [])).toBeUndefined();
    expect(postgresEngine.overridesProblem({ work_mem: "8MB", shared_buffers: "160MB", log_connections: "on" }, [])).toBeUndefined();
  });

  it.each([
    ["mariadb", ["bind_address"], "MariaDB's unsafe parameters"],
    ["mariadb", ["general_logg"], "MariaDB's unsafe parameters"],
    ["postgres", ["work_mem"], "PostgreSQL's unsafe parameters"],
  ])("%s: refuses unsafeParameters %j, which names no unsafe parameter", (e, unsafe, message) => {
    const engine = ENGINES[e as EngineName];
    const problem = engine.overridesProblem({}, unsafe);
    expect(problem).toMatch(/^unsafeParameters: /);
    expect(problem).toContain(message);
  });

  it("puts the problem through validateServerArgs' ArgumentError unchanged (names the field)", async () => {
    const { validateServerArgs } = await import("../../components/deploy/validateServer");
    const args = { databases: [{ name: "app", owner: "app" }], users: [{ name: "app", grants: { app: "owner" as const } }], parameters: { skip_grant_tables: "ON" } };
    expect(() => validateServerArgs("main", args, mariadb)).toThrow(/^parameters\.skip_grant_tables: disables authentication/);
    expect(() => validateServerArgs("main", { ...args, unsafeParameters: ["skip_grant_tables"] }, mariadb)).not.toThrow();
  });
});

describe("parameter policy: statement logs are accepted with a warning about passwords", () => {
  it.each([
    ["postgres", "log_statement", "all"],
    ["postgres", "log_statement", "'ddl'"],
    ["postgres", "log_min_duration_statement", "0"],
    ["mariadb", "slow_query_log", "ON"],
  ])("%s: %s=%s", (e, name, value) => {
    const engine = ENGINES[e as EngineName];
    expect(engine.overridesProblem({ [name]: value }, [])).toBeUndefined();
    expect(engine.parameterWarnings({ [name]: value }, []).join("\n")).toMatch(new RegExp(`^parameters\\.${name}: .*secret`));
  });

  it("does not warn for statement logging that is off", () => {
    expect(postgresEngine.parameterWarnings({ log_statement: "none", log_min_duration_statement: "-1" }, [])).toEqual([]);
    expect(mariadb.parameterWarnings({ slow_query_log: "OFF" }, [])).toEqual([]);
  });
});

describe("password statements never reach a statement log", () => {
  const loc = { instance: "main", port: 3306, flavor: "mariadb" as const };
  const user = { name: "app", grants: {}, hosts: ["localhost", "10.0.0.%"], requireSsl: false, connectionLimit: 0 };
  /** The text piped into the client before the first statement carrying the password. */
  const beforePassword = (script: string, marker: RegExp) => script.slice(0, script.search(marker));

  it.each([
    ["MariaDB accounts", renderAccountScript(loc, user, "PW"), /IDENTIFIED BY/, "SET SESSION sql_log_off = 1, SESSION slow_query_log = 0;"],
    ["MySQL accounts", renderAccountScript({ ...loc, flavor: "mysql" }, user, "PW", "mysql"), /IDENTIFIED WITH/, "SET SESSION sql_log_off = 1, SESSION long_query_time = 31536000;"],
    ["MariaDB replication accounts", renderReplicationSource(loc, { user: "dbstack_replication", passwordEnv: "PW", standbyHosts: ["10.0.0.2"] }), /IDENTIFIED BY/, "sql_log_off = 1"],
  ])("%s: the session turns statement logging off before the password", (_what, script, marker, quiet) => {
    expect(beforePassword(script, marker)).toContain(quiet);
  });

  it("MariaDB replica: every CHANGE MASTER with the password follows sql_log_off in its session", () => {
    const script = renderStandby({ loc, source: { host: "10.0.0.1", port: 3306 }, user: "dbstack_replication", passwordEnv: "PW" });
    const lines = script.split("\n").filter((l) => l.includes('"$pw"'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toContain("sql_log_off = 1");
  });

  it.each([
    ["a login role", renderRoleSql({ name: "app", grants: {}, connectionLimit: -1 }, "PW")],
    ["the replication role", renderReplicationRoleSql("dbstack_replication", "PW")],
  ])("PostgreSQL %s: statement logging is off for the session before the password", (_what, sql) => {
    const before = sql.slice(0, sql.indexOf("PASSWORD :"));
    for (const s of ["SET log_statement = 'none';", "SET log_min_duration_statement = -1;", "SET log_min_error_statement = 'panic';"]) expect(before).toContain(s);
  });
});

describe("secrets in plaintext config: one rule for every secret field of every engine", () => {
  const SECRET = "s3cret-value-never-shown";
  const cases: Array<[string, Record<string, unknown>, string, string]> = [
    ["an SSH host's private key", { hosts: { db1: { address: "10.0.0.5", privateKey: SECRET } } }, "dbstack:hosts", "dbstack:hosts.db1.privateKey"],
    [
      "a PostgreSQL user's password",
      { postgres: { main: { databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" }, password: SECRET } } } } },
      "dbstack:postgres",
      "dbstack:postgres.main.users.app.password",
    ],
    [
      "a PostgreSQL TLS key",
      { postgres: { main: { databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } }, tls: { certificate: "CERT", privateKey: SECRET } } } },
      "dbstack:postgres",
      "dbstack:postgres.main.tls.privateKey",
    ],
    [
      "a MariaDB user's password",
      { mariadb: { main: { databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" }, password: SECRET } } } } },
      "dbstack:mariadb",
      "dbstack:mariadb.main.users.app.password",
    ],
    [
      "a MariaDB TLS key",
      { mariadb: { main: { databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } }, tls: { certificate: "CERT", privateKey: SECRET } } } },
      "dbstack:mariadb",
      "dbstack:mariadb.main.tls.privateKey",
    ],
  ];
  const raw = (config: Record<string, unknown>) => Object.fromEntries(Object.entries(config).map(([k, v]) => [`dbstack:${k}`, JSON.stringify(v)]));

  it.each(cases)("%s in plaintext is refused naming the key and field, never the value", (_what, config, key, field) => {
    const problems = plaintextSecretProblems(parseStackConfig(raw(config)), new Set());
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${key}: `));
    expect(problems[0]).toContain(field);
    expect(problems.join("\n")).not.toContain(SECRET);
  });

  it.each(cases)("%s set as a secret is accepted", (_what, config, key) => {
    expect(plaintextSecretProblems(parseStackConfig(raw(config)), new Set([key]))).toEqual([]);
  });

  it("accepts a config without secret fields, and names no certificate (public) as a secret", () => {
    const config = { mariadb: { main: { databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } } } } };
    expect(plaintextSecretProblems(parseStackConfig(raw(config)), new Set())).toEqual([]);
    const [problem] = plaintextSecretProblems(parseStackConfig(raw(cases[4][1])), new Set());
    expect(problem).not.toContain("tls.certificate");
  });
});

describe("a declared version the host does not run is an error naming `version`", () => {
  it.each([
    ["10.6", "10.11", "MariaDB"],
    ["10.1", "10.11", "MariaDB"],
    ["16", "15", "PostgreSQL"],
  ])("declared %s, installed %s", (declared, installed, title) => {
    const problem = installedVersionProblem(declared, installed, title, "this machine");
    expect(problem).toMatch(/^version: /);
    expect(problem).toContain(`declared "${declared}"`);
    expect(problem).toContain(`installed on this machine is ${installed}`);
  });

  it.each([
    [undefined, "10.11"],
    ["10.11", "10.11"],
    ["10.11", "10.11.19"],
    ["15", "15"],
  ])("declared %s, installed %s: no problem", (declared, installed) => {
    expect(installedVersionProblem(declared, installed, "X", "here")).toBeUndefined();
  });
});

describe("the preview's version probe (MariaDB) reads the installed server and says what installedVersionProblem says", () => {
  const bin = mkdtempSync(join(tmpdir(), "dbstack-unit-mdbver-"));
  writeFileSync(join(bin, "mariadbd"), "#!/bin/sh\necho 'mariadbd  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)'\n", { mode: 0o755 });
  const probe = (declared: string, path: string) => spawnSync("bash", ["-c", mariadb.renderVersionProbe({ instance: "x", port: 1, flavor: "mariadb" }, declared, "this machine")], { encoding: "utf8", env: { PATH: path }, stdio: ["ignore", "pipe", "pipe"] });

  it.each(["10.6", "11.4", "10.1"])("declared %s on a 10.11 host: fails with the message, naming `version`", (declared) => {
    const r = probe(declared, `${bin}:/usr/bin:/bin`);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(installedVersionProblem(declared, "10.11", "MariaDB", "this machine"));
  });

  it("declared 10.11 on a 10.11 host, or any version on a host without the server: passes", () => {
    expect(probe("10.11", `${bin}:/usr/bin:/bin`).status).toBe(0);
    const empty = mkdtempSync(join(tmpdir(), "dbstack-unit-mdbver-none-"));
    for (const tool of ["bash", "sed"]) symlinkSync(execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(), join(empty, tool));
    expect(probe("10.6", empty).status).toBe(0);
  });
});

describe("kept data on destroy: every kept-data message says to set allowDataRemoval and run up first", () => {
  it.each([
    ["PostgreSQL cluster", () => renderRemoveCluster({ version: 15, cluster: "main", port: 5432 }, false)],
    ["PostgreSQL database", () => postgresEngine.renderRemoveDatabase({ version: 15, cluster: "main", port: 5432 }, { name: "app", owner: "app" }, false)],
    ["MariaDB instance", () => renderRemoveInstance({ instance: "main", port: 3306, flavor: "mariadb" }, false)],
    ["MariaDB database", () => renderDropDatabaseScript({ instance: "main", port: 3306, flavor: "mariadb" }, "app", false)],
    ["backups", () => renderRemoveBackups("main", "/var/backups/x", ".tar", false)],
  ])("%s", (_what, render) => {
    expect(render()).toContain("set dbstack:allowDataRemoval to true and run up first, then destroy (destroy uses the value recorded at the last up)");
  });
});

describe("PostgreSQL: a cluster of the same name in another version fails its create step naming `version`", () => {
  it("runs the rendered check against a fake /etc/postgresql", async () => {
    const { renderCreateCluster } = await import("../../components/engines/postgres/clusterScripts");
    const script = renderCreateCluster({ version: 16, cluster: "itpolicyx", port: 5577 });
    // Only the check: the lines between `else` and pg_createcluster, with /etc/postgresql moved to a scratch root.
    const body = script.slice(script.indexOf("  for other in"), script.indexOf("  if ! out=$(pg_createcluster"));
    const { mkdtempSync, mkdirSync, writeFileSync } = await import("fs");
    const { spawnSync } = await import("child_process");
    const root = mkdtempSync("/tmp/dbstack-unit-pgver-");
    mkdirSync(`${root}/15/itpolicyx`, { recursive: true });
    writeFileSync(`${root}/15/itpolicyx/postgresql.conf`, "");
    const run = (cluster: string) =>
      spawnSync("bash", ["-c", `V=16; CLUSTER=${cluster}\n${body.replaceAll("/etc/postgresql/", `${root}/`)}\necho created`], { encoding: "utf8" });
    const clash = run("itpolicyx");
    expect(clash.status).toBe(1);
    expect(clash.stderr).toContain("version: PostgreSQL 16 is declared (or the newest installed), but cluster itpolicyx exists in PostgreSQL 15");
    expect(clash.stdout).not.toContain("created");
    expect(run("other").stdout).toContain("created");
  });

  it("the preview's version probe says the same, on a host without the declared version's packages", async () => {
    const root = mkdtempSync("/tmp/dbstack-unit-pgver-probe-");
    const { mkdirSync } = await import("fs");
    for (const d of ["15/itpolicyx", "16/itpolicyy"]) {
      mkdirSync(`${root}/${d}`, { recursive: true });
      writeFileSync(`${root}/${d}/postgresql.conf`, "");
    }
    const probe = (cluster: string, declared: string) =>
      spawnSync("bash", ["-c", postgresEngine.renderVersionProbe({ version: Number(declared), cluster, port: 5577 }, declared, "here").replaceAll("/etc/postgresql/", `${root}/`)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const clash = probe("itpolicyx", "16");
    expect(clash.status).toBe(1);
    expect(clash.stderr).toContain("version: PostgreSQL 16 is declared (or the newest installed), but cluster itpolicyx exists in PostgreSQL 15");
    expect(probe("itpolicyy", "16").status, "the cluster exists in the declared version").toBe(0);
    expect(probe("itpolicyz", "16").status, "no cluster of that name: the create step makes it").toBe(0);
  });
});
