import { spawnSync } from "child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { parseInstalledServer, renderInstallServer, type MariadbLocation } from "../../components/engines/mariadb/host";
import { renderConfigureInstance, renderCreateInstance, renderRemoveInstance, renderSystemdUnit, setGlobalValue } from "../../components/engines/mariadb/instanceScripts";
import { renderOptionFile, serverVariables, type OptionFileSpec } from "../../components/engines/mariadb/optionFile";
import { isRestartVariable, restartVariables } from "../../components/engines/mariadb/parameters";
import { renderPromote, renderStandby, renderStandbyStatus, renderReplicationSource } from "../../components/engines/mariadb/standbyScripts";
import { renderInstanceCa, renderInstanceTls, renderStandbyKey, renderSignStandbyCertificate } from "../../components/engines/mariadb/tls";
import { subjectAltName } from "../../components/tls/authority";
import { modeOf, runScript, tempDir } from "./support/run";

const LOC: MariadbLocation = { instance: "app", port: 3306 };
const PARAMS = [
  { name: "innodb_buffer_pool_size", value: "1G", reason: "half of the memory" },
  { name: "max_connections", value: "200", reason: "declared" },
  { name: "sql_mode", value: "STRICT_TRANS_TABLES,NO_ZERO_DATE", reason: "strict" },
];
const PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----";
const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
const PASSWORD = `it's "q" \\ $x &y; #z`;

const parses = (script: string) => spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
const spec = (over: Partial<OptionFileSpec> = {}): OptionFileSpec => ({
  loc: LOC,
  parameters: PARAMS,
  bindAddresses: ["127.0.0.1", "10.0.0.5"],
  requireSecureTransport: false,
  tls: true,
  ...over,
});

describe("renderInstallServer / parseInstalledServer", () => {
  it("installs the packages only when missing, quietly on stderr, and stops the distribution's server only after installing it", () => {
    const script = renderInstallServer();
    expect(parses(script).status).toBe(0);
    expect(script).toContain("apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client openssl; } >&2");
    expect(script).toContain("export DEBIAN_FRONTEND=noninteractive");
    const install = script.indexOf("apt-get install");
    const stop = script.indexOf("systemctl disable --now mariadb.service");
    expect(stop).toBeGreaterThan(install);
    expect(script.indexOf("\nfi\n", install)).toBeGreaterThan(stop); // inside the branch that installed
  });

  it("prints the facts of this host (MariaDB 10.11 is installed here)", () => {
    const r = runScript(renderInstallServer());
    expect(r.code, r.stderr).toBe(0);
    const facts = parseInstalledServer(r.stdout);
    expect(facts.version).toBe("10.11");
    expect(facts.cpus).toBeGreaterThan(0);
    expect(facts.memoryMb).toBeGreaterThan(100);
  });

  it("refuses output that is not the facts, quoting it", () => {
    expect(parseInstalledServer('noise\n{"version":"10.11","memoryMb":3925,"cpus":2}\n')).toEqual({ version: "10.11", memoryMb: 3925, cpus: 2 });
    expect(() => parseInstalledServer('{"version":10.11,"memoryMb":1,"cpus":1}')).toThrow(/unexpected host facts/);
    expect(() => parseInstalledServer("apt failed")).toThrow(/apt failed/);
  });
});

describe("renderOptionFile", () => {
  it("renders the instance's places, access, TLS and the tuned parameters with their reasons, deterministically", () => {
    const text = renderOptionFile(spec());
    expect(text).toBe(renderOptionFile(spec()));
    expect(text).toContain("[mysqld]");
    expect(text).toContain("datadir = /var/lib/dbstack-mariadb/app");
    expect(text).toContain("socket = /run/mysqld/dbstack-app.sock");
    expect(text).toContain("bind_address = 127.0.0.1,10.0.0.5");
    expect(text).toContain("skip_name_resolve = ON");
    expect(text).toContain("ssl_cert = /etc/mysql/dbstack/app/tls/server.crt");
    expect(text).toContain("ssl_ca = /etc/mysql/dbstack/app/tls/ca.crt");
    expect(text).toContain("# half of the memory\ninnodb_buffer_pool_size = 1G");
    expect(text).toMatch(/\[client\]\n.*\nsocket = \/run\/mysqld\/dbstack-app.sock/);
    expect(text).not.toContain("require_secure_transport");
    expect(text).not.toContain("log_bin");
  });

  it("turns on the binary log and GTID for replication, read_only on a replica", () => {
    const primary = serverVariables(renderOptionFile(spec({ replication: { role: "primary", serverId: 1 }, requireSecureTransport: true })));
    expect(primary).toMatchObject({ server_id: "1", log_bin: "binlog", binlog_format: "ROW", gtid_strict_mode: "ON", require_secure_transport: "ON" });
    expect(primary.read_only).toBeUndefined();
    expect(serverVariables(renderOptionFile(spec({ replication: { role: "replica", serverId: 2 } })))).toMatchObject({ server_id: "2", read_only: "ON" });
  });

  it("refuses what would break the instance, naming the field", () => {
    expect(() => renderOptionFile(spec({ parameters: [{ name: "port", value: "1", reason: "" }] }))).toThrow("parameters.port: set by dbstack from port");
    expect(() => renderOptionFile(spec({ parameters: [{ name: "Read-Only", value: "ON", reason: "" }] }))).toThrow(/parameters.Read-Only: set by dbstack/);
    expect(() => renderOptionFile(spec({ parameters: [{ name: "x\ny", value: "1", reason: "" }] }))).toThrow(/not a MariaDB variable name/);
    expect(() => renderOptionFile(spec({ parameters: [{ name: "init_connect", value: "a\n[client]", reason: "" }] }))).toThrow(/one line/);
    expect(() => renderOptionFile(spec({ tls: false, requireSecureTransport: true }))).toThrow(/requireSecureTransport: needs tls/);
    expect(() => renderOptionFile(spec({ bindAddresses: [] }))).toThrow(/bindAddresses/);
    expect(() => renderOptionFile(spec({ bindAddresses: ["1.2.3.4\nuser=root"] }))).toThrow(/bindAddresses/);
  });

  it("lets a parameter replace a default, and reads back values that need quoting", () => {
    const text = renderOptionFile(spec({ parameters: [{ name: "character_set_server", value: "latin1", reason: "legacy" }, { name: "init_connect", value: `SET NAMES utf8mb4 # "x"`, reason: "" }] }));
    const values = serverVariables(text);
    expect(values.character_set_server).toBe("latin1");
    expect(text.match(/^character_set_server/gm)).toHaveLength(1);
    expect(values.init_connect).toBe(`SET NAMES utf8mb4 # "x"`);
  });
});

describe("restartVariables", () => {
  it("has 10.11's static variables and not its dynamic ones", () => {
    const v = restartVariables("10.11.19");
    for (const name of ["innodb_flush_method", "innodb_log_buffer_size", "log_bin", "bind_address", "port", "ssl_cert", "user", "performance_schema"]) expect(v.has(name), name).toBe(true);
    for (const name of ["innodb_buffer_pool_size", "innodb_log_file_size", "max_connections", "innodb_io_capacity", "read_only", "require_secure_transport", "server_id"]) expect(v.has(name), name).toBe(false);
    expect(isRestartVariable("Innodb-Log-Buffer-Size")).toBe(true);
    expect(isRestartVariable("max_connections")).toBe(false);
    // Another version: cautious (those were static before 10.9/10.11 and in MySQL 8).
    expect(restartVariables("8.0").has("innodb_log_file_size")).toBe(true);
  });
});

describe("instance lifecycle scripts", () => {
  it("create never initialises over an existing instance or someone's files, and keeps root on unix_socket only", () => {
    const script = renderCreateInstance(LOC);
    expect(parses(script).status).toBe(0);
    const guard = script.indexOf('if [ -d "$DATA_DIR/mysql" ] && [ ! -f "$marker" ]; then');
    expect(guard).toBeGreaterThan(0);
    expect(script.indexOf("exit 0", guard)).toBeLessThan(script.indexOf("mariadb-install-db"));
    expect(script).toContain("holds files but no MariaDB system tables");
    expect(script).toContain("--auth-root-authentication-method=socket --skip-test-db");
    expect(script).toContain("--no-defaults"); // the host's my.cnf never changes what is created
  });

  it("remove keeps the data unless allowed", () => {
    const keep = renderRemoveInstance(LOC, false);
    const drop = renderRemoveInstance(LOC, true);
    for (const s of [keep, drop]) expect(parses(s).status).toBe(0);
    expect(keep).not.toContain('rm -rf "$DATA_DIR"');
    expect(keep).toContain("kept its data in $DATA_DIR");
    expect(drop).toContain('rm -rf "$DATA_DIR" "$CONF_DIR"');
  });

  it("configure checks the file before applying, keeps the previous one, and renders SET GLOBAL only for dynamic variables", () => {
    const text = renderOptionFile(spec());
    const script = renderConfigureInstance(LOC, text, { names: ["10.0.0.5"] });
    expect(parses(script).status).toBe(0);
    expect(script).toContain(text);
    expect(script).toContain('cp -p "$CNF" "$CNF.dbstack-prev"');
    expect(script.indexOf("--help --verbose")).toBeLessThan(script.indexOf("if ! instance_running; then"));
    expect(script).toContain(`  innodb_buffer_pool_size) printf '%s\\n' 'SET GLOBAL innodb_buffer_pool_size = 1073741824;' ;;`);
    expect(script).toContain(`  sql_mode) printf '%s\\n' 'SET GLOBAL sql_mode = ''STRICT_TRANS_TABLES,NO_ZERO_DATE'';' ;;`.replace(/''/g, "'\\''"));
    expect(script).not.toMatch(/^ {2}bind_address\) printf/m);
    expect(script).toMatch(/^ {2}[a-z_|]*\|innodb_flush_method\|[a-z_|]*\) return 0 ;;$/m);
  });

  it("SET GLOBAL values: sizes in bytes, numbers and switches as they are, text quoted", () => {
    expect(setGlobalValue("128M")).toBe("134217728");
    expect(setGlobalValue("2g")).toBe("2147483648");
    expect(setGlobalValue("0.5")).toBe("0.5");
    expect(setGlobalValue("on")).toBe("ON");
    expect(setGlobalValue("O_DIRECT")).toBe("'O_DIRECT'");
    expect(setGlobalValue(`a'b\\c`)).toBe(`'a''b\\\\c'`);
  });

  it("the systemd unit restarts on failure and reads only the instance's option file", () => {
    const unit = renderSystemdUnit(LOC);
    expect(unit).toContain("Restart=on-failure");
    expect(unit).toContain("ExecStart=/usr/sbin/mariadbd --defaults-file=/etc/mysql/dbstack/app/my.cnf");
    expect(renderConfigureInstance(LOC, renderOptionFile(spec()))).toContain("dbstack-mariadb-$INSTANCE");
  });
});

describe("TLS scripts", () => {
  it("parse; the CA key is root's in a 0700 directory; each step prints only public material", () => {
    for (const s of [renderInstanceCa(LOC), renderStandbyKey(LOC), renderSignStandbyCertificate(LOC, { name: "r1", publicKey: PUBLIC_KEY, names: ["10.0.0.6"] })]) {
      expect(parses(s).status).toBe(0);
      expect(s).not.toMatch(/(>|-keyout|-out)\s*"\$DATA_DIR/);
    }
    expect(renderInstanceCa(LOC)).toContain('install -d -o root -g root -m 0700 "$CA_DIR"');
    expect(renderInstanceCa(LOC).trim().split("\n").pop()).toBe('cat "$CA_DIR/ca.crt"');
    expect(renderStandbyKey(LOC).trim().split("\n").pop()).toBe('public_key_of_key "$TLS_DIR/server.key"');
    expect(renderSignStandbyCertificate(LOC, { name: "r1", publicKey: PUBLIC_KEY, names: ["10.0.0.6", "db.example"] })).toContain(
      `issue_certificate "$work/host.pub" "$work/host.crt" '10.0.0.6' 'IP:10.0.0.6,DNS:db.example'`,
    );
  });

  it("a replica installs the certificate it was given with the CA certificate, never a CA; a given certificate wins", () => {
    expect(() => renderInstanceTls({ names: ["10.0.0.6"], certificate: CERT })).toThrow(/caCertificate/);
    const replica = renderInstanceTls({ names: ["10.0.0.6"], certificate: CERT, caCertificate: CERT });
    expect(replica).not.toContain("\n  ensure_ca");
    expect(renderInstanceTls({ names: ["10.0.0.5"] })).toContain("\n  ensure_ca");
    expect(replica.indexOf("DBSTACK_TLS_CERT")).toBeLessThan(replica.indexOf(CERT));
    expect(() => subjectAltName(["db1,DNS:evil"])).toThrow(/expected a host name or IP address/);
  });

  it("the CA signs a replica's key for real, and the certificate names its addresses", () => {
    const dir = tempDir();
    // The authority's functions with this temporary layout (as root, install -o mysql works here).
    const ca = runScript(renderInstanceCa(LOC).replace(/^CA_DIR=.*$/m, `CA_DIR=${dir}/ca`).replace(/^CONF_DIR=.*$/m, `CONF_DIR=${dir}`));
    expect(ca.code, ca.stderr).toBe(0);
    expect(modeOf(statSync(`${dir}/ca/ca.key`))).toBe(0o600);
    const key = runScript(renderStandbyKey(LOC).replace(/^TLS_DIR=.*$/m, `TLS_DIR=${dir}/tls`).replace(/^CONF_DIR=.*$/m, `CONF_DIR=${dir}`));
    expect(key.code, key.stderr).toBe(0);
    expect(key.stdout).not.toContain("PRIVATE");
    const signed = runScript(renderSignStandbyCertificate(LOC, { name: "r1", publicKey: key.stdout, names: ["10.0.0.6", "db.example"] }).replace(/^CA_DIR=.*$/m, `CA_DIR=${dir}/ca`));
    expect(signed.code, signed.stderr).toBe(0);
    writeFileSync(`${dir}/r1.crt`, signed.stdout);
    const text = spawnSync("openssl", ["x509", "-in", `${dir}/r1.crt`, "-noout", "-text"], { encoding: "utf8" }).stdout;
    expect(text).toContain("IP Address:10.0.0.6, DNS:db.example");
    expect(spawnSync("openssl", ["verify", "-CAfile", `${dir}/ca/ca.crt`, `${dir}/r1.crt`]).status).toBe(0);
  });
});

/**
 * Fakes of the client programs that record their command lines (and what reached them on stdin),
 * so a test can show a secret never is on a command line.
 */
function fakeClients(): { dir: string; env: Record<string, string> } {
  const dir = tempDir();
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const write = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\nprintf '%s\\n' "$0 $*" >> "${dir}/argv"\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  write("mariadb-admin", "exit 0");
  write(
    "mariadb",
    [
      'for a in "$@"; do q=$a; done',
      'if [[ " $* " == *" -e "* ]]; then',
      '  case "$q" in',
      `    *"SHOW SLAVE STATUS"*) [ -f "${dir}/replicating" ] && printf '   Master_Host: 127.0.0.1\\n  Slave_IO_Running: Yes\\n Slave_SQL_Running: Yes\\n Seconds_Behind_Master: 0\\n'; true ;;`,
      "    *SCHEMATA*) echo NULL ;;",
      "    *gtid_slave_pos*) echo 0-1-5 ;;",
      "  esac",
      "else",
      `  cat >> "${dir}/stdin"; grep -q "CHANGE MASTER" "${dir}/stdin" && touch "${dir}/replicating"; true`,
      "fi",
    ].join("\n"),
  );
  write("mariadb-dump", [`for a in "$@"; do case "$a" in --defaults-file=*) cp -p "\${a#--defaults-file=}" "${dir}/dump-defaults" ;; esac; done`, 'echo "SELECT 1;"'].join("\n"));
  return { dir, env: { PATH: `${bin}:${process.env.PATH}`, DBSTACK_REPLICATION_PASSWORD: PASSWORD } };
}

const ESCAPED = `'it''s "q" \\\\ $x &y; #z'`;

describe("replication scripts", () => {
  it("the primary's accounts: REQUIRE SSL, the password on stdin only, stale hosts dropped", () => {
    const script = renderReplicationSource(LOC, { user: "repl", passwordEnv: "DBSTACK_REPLICATION_PASSWORD", standbyHosts: ["10.0.0.6", "10.0.0.7"] });
    expect(parses(script).status).toBe(0);
    const { dir, env } = fakeClients();
    const r = runScript(script, env);
    expect(r.code, r.stderr).toBe(0);
    const stdin = readFileSync(`${dir}/stdin`, "utf8");
    expect(stdin).toContain(`CREATE USER IF NOT EXISTS 'repl'@'10.0.0.6' IDENTIFIED BY ${ESCAPED} REQUIRE SSL;`);
    expect(stdin).toContain("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD ON *.* TO 'repl'@'10.0.0.7';");
    expect(readFileSync(`${dir}/argv`, "utf8")).not.toContain("it's");
    expect(r.stdout + r.stderr).not.toContain("it's");
    expect(() => renderReplicationSource(LOC, { user: "repl", passwordEnv: "X; rm -rf /", standbyHosts: [] })).toThrow(/not an environment variable name/);
  });

  it("a replica is seeded with the password in a 0600 defaults file removed afterwards, never on a command line", () => {
    const replica = { loc: LOC, source: { host: "10.0.0.5", port: 3306 }, user: "repl", passwordEnv: "DBSTACK_REPLICATION_PASSWORD" };
    const { dir, env } = fakeClients();
    writeFileSync(`${dir}/ca.crt`, CERT);
    const script = renderStandby(replica).replace(/^CONF_DIR=.*$/m, `CONF_DIR=${dir}`).replace(/^TLS_DIR=.*$/m, `TLS_DIR=${dir}`);
    expect(parses(script).status).toBe(0);
    const r = runScript(script, env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("seeded replica app from a consistent snapshot of the primary (GTID 0-1-5)");
    expect(r.stdout).toContain("replica app replicates from 10.0.0.5:3306 (io=Yes sql=Yes lag=0)");
    const argv = readFileSync(`${dir}/argv`, "utf8");
    expect(argv).not.toContain("it's");
    expect(argv).toMatch(/mariadb-dump --defaults-file=\S+ --host='?10.0.0.5'? --port=3306 --ssl --ssl-ca=\S+\/ca.crt --ssl-verify-server-cert --single-transaction --all-databases --routines --events --triggers --gtid --master-data=1/);
    expect(modeOf(statSync(`${dir}/dump-defaults`))).toBe(0o600);
    expect(readFileSync(`${dir}/dump-defaults`, "utf8")).toBe(`[client]\nuser=repl\npassword="it's \\"q\\" \\\\ $x &y; #z"\n`);
    const defaultsPath = /--defaults-file=(\S+)/.exec(argv)?.[1] ?? "";
    expect(existsSync(defaultsPath)).toBe(false);
    const stdin = readFileSync(`${dir}/stdin`, "utf8");
    expect(stdin).toContain("SET SESSION sql_log_bin = 0;\nSELECT 1;");
    expect(stdin).toContain(`CHANGE MASTER TO MASTER_HOST='10.0.0.5', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD=${ESCAPED}, MASTER_SSL=1, MASTER_USE_GTID=slave_pos`);
    expect(stdin).toContain("CHANGE MASTER TO MASTER_SSL_CA='/etc/mysql/dbstack/app/tls/ca.crt', MASTER_SSL_VERIFY_SERVER_CERT=1;");
    expect(r.stdout + r.stderr).not.toContain("it's");
    const unverified = renderStandby({ ...replica, verifySource: false });
    expect(unverified).not.toContain("verify");
    expect(unverified).toContain("--ssl");

    // Already replicating: nothing is seeded again.
    const again = runScript(script, env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("replica app already replicates from 127.0.0.1");
    expect(readFileSync(`${dir}/argv`, "utf8").match(/mariadb-dump/g)).toHaveLength(1);
    // ... but the declared password is set again (a re-generated one reaches a replica that already follows).
    expect(readFileSync(`${dir}/stdin`, "utf8")).toContain(`STOP SLAVE;\nCHANGE MASTER TO MASTER_PASSWORD=${ESCAPED};`);
  });

  it("promote and status parse; status fails when a thread is not running", () => {
    expect(parses(renderPromote(LOC)).status).toBe(0);
    expect(renderPromote(LOC)).toContain("RESET SLAVE ALL;");
    const { env } = fakeClients();
    const r = runScript(renderStandbyStatus(LOC), env);
    expect(r.stdout.trim()).toBe("io=No sql=No lag=NULL");
    expect(r.code).not.toBe(0);
  });
});
