import { spawnSync } from "child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import type { BackupPolicy } from "../../components/backups/policy";
import { renderMariadbBackup, renderMariadbMaintenance, renderMariadbRestore } from "../../components/engines/mariadb/backupScripts";
import { mariadbDialect, migrationLockSql } from "../../components/engines/mariadb/dialect";
import { renderAccountScript, renderDropAccountScript, type MariadbUserSpec } from "../../components/engines/mariadb/sql/accounts";
import { renderDatabaseScript, renderDropDatabaseScript, type MariadbDatabaseSpec } from "../../components/engines/mariadb/sql/databases";
import { checkGrants, renderGrantsScript, ROLE_PRIVILEGES } from "../../components/engines/mariadb/sql/grants";
import {
  accountHost,
  checkCollation,
  checkDatabaseName,
  checkHostPattern,
  checkUserName,
  grantTarget,
  quoteIdent,
  quoteLiteral,
} from "../../components/engines/mariadb/sql/identifiers";
import { mariadbUrls } from "../../components/engines/mariadb/urls";
import { renderPostDeployHook } from "../../components/hooks/migrationRunner";
import { shellQuote } from "../../components/shell";
import { ArgumentError } from "../../components/validate";
import { tempDir } from "./support/run";

const LOC = { instance: "unit", port: 3329 };
const DBS: MariadbDatabaseSpec[] = [
  { name: "app_db", collation: "utf8mb4_unicode_ci" },
  { name: "reports", collation: "utf8mb4_bin" },
];
const user = (grants: MariadbUserSpec["grants"], overrides: Partial<MariadbUserSpec> = {}): MariadbUserSpec => ({
  name: "app",
  grants,
  hosts: ["localhost", "10.0.0.0/24"],
  requireSsl: false,
  connectionLimit: 0,
  ...overrides,
});
const POLICY: BackupPolicy = { schedule: "0 2 * * *", dir: "/var/backups/dbstack-mariadb/app", retentionDays: 14 };
const HOSTILE = ["x`; DROP DATABASE app; --", "Robert'); --", "App", "a b", "a-b", "", "1abc", "naïve", "a\0b", "a\nb", "$x", "a;b", "a\\b"];

function errorOf(fn: () => void): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

describe("identifiers", () => {
  it.each(HOSTILE)("rejects the database and user name %j, naming the field and the value", (value) => {
    for (const check of [checkDatabaseName, checkUserName]) {
      const e = errorOf(() => check("users.x.name", value));
      expect(e).toBeInstanceOf(ArgumentError);
      expect(e.message.startsWith("users.x.name: ")).toBe(true);
      expect(e.message).toContain(JSON.stringify(value));
    }
  });

  it("accepts plain names and keeps dbstack_ and the server's own names out", () => {
    expect(() => checkDatabaseName("databases", "a".repeat(64))).not.toThrow();
    expect(() => checkDatabaseName("databases", "a".repeat(65))).toThrow(ArgumentError);
    expect(() => checkUserName("users", "a".repeat(32))).not.toThrow();
    expect(() => checkUserName("users", "a".repeat(33))).toThrow(ArgumentError);
    expect(() => checkUserName("users", "dbstack_replication")).toThrow(/users: names starting with dbstack_ are kept for dbstack/);
    expect(() => checkDatabaseName("databases", "dbstack_x")).toThrow(/databases: names starting with dbstack_/);
    for (const db of ["mysql", "information_schema", "performance_schema", "sys"]) expect(() => checkDatabaseName("databases", db)).toThrow(/MariaDB itself needs/);
    for (const u of ["root", "mysql"]) expect(() => checkUserName("users", u)).toThrow(/account of the server itself/);
  });

  it("accepts the host patterns a user declares and renders CIDR in MariaDB's netmask form", () => {
    for (const host of ["localhost", "%", "10.0.0.%", "192.168.1.20", "10.0.0.0/24", "0.0.0.0/0", "::1", "app.example.com", "%.example.com"]) {
      expect(() => checkHostPattern("users.app.hosts[0]", host)).not.toThrow();
    }
    expect(accountHost("10.0.0.0/24")).toBe("10.0.0.0/255.255.255.0");
    expect(accountHost("172.16.0.0/12")).toBe("172.16.0.0/255.240.0.0");
    expect(accountHost("10.1.2.3/32")).toBe("10.1.2.3/255.255.255.255");
    expect(accountHost("10.0.0.%")).toBe("10.0.0.%");
  });

  it.each(["10.0.0.1/24", "10.0.0.0/33", "300.0.0.1", "10.0.0", "host'); --", "a b", "Host.Example", "%'@'%", "10.0.0.%/8", ""])(
    "rejects the host pattern %j, naming the field",
    (host) => {
      const e = errorOf(() => checkHostPattern("users.app.hosts[1]", host));
      expect(e).toBeInstanceOf(ArgumentError);
      expect(e.message).toMatch(/^users\.app\.hosts\[1\]: /);
    },
  );

  it("explains a CIDR with host bits set", () => {
    expect(() => checkHostPattern("h", "10.0.0.7/24")).toThrow("write the network address (e.g. 10.0.0.0/24)");
  });

  it("accepts utf8mb4 collations only", () => {
    expect(() => checkCollation("c", "utf8mb4_unicode_ci")).not.toThrow();
    expect(() => checkCollation("c", "utf8mb4_uca1400_ai_ci")).not.toThrow();
    for (const bad of ["latin1_swedish_ci", "utf8_general_ci", "utf8mb4_bin; DROP", "UTF8MB4_BIN"]) {
      expect(() => checkCollation("databases.app.collation", bad)).toThrow(/^databases\.app\.collation: expected a collation of character set utf8mb4/);
    }
  });

  it("quotes identifiers with backticks and literals for a backslash-escaping sql_mode", () => {
    expect(quoteIdent("app")).toBe("`app`");
    expect(quoteIdent("x`; DROP")).toBe("`x``; DROP`");
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral("a\\'b")).toBe("'a\\\\''b'");
    expect(() => quoteLiteral("a\0b")).toThrow(/NUL/);
    // _ is a wildcard in database-level grants: escaped, so app_db never also means appXdb.
    expect(grantTarget("app_db")).toBe("`app\\_db`.*");
  });
});

/** Installs stub `mariadb` and `mariadb-admin` that log their arguments and stdin, and runs `script` with them. */
function runWithStubClient(script: string, env: Record<string, string>) {
  const dir = tempDir();
  const bin = join(dir, "bin");
  mkdirSync(bin);
  // mariadb reads SQL on stdin; mariadb-admin never does (it must not eat the script bash reads from stdin).
  for (const [program, readsStdin] of [["mariadb", true], ["mariadb-admin", false]] as const) {
    writeFileSync(join(bin, program), `#!/bin/bash\nprintf '%s\\n' "$0 $*" >> ${dir}/argv\n${readsStdin ? `cat >> ${dir}/stdin\n` : ""}exit 0\n`);
    chmodSync(join(bin, program), 0o755);
  }
  const r = spawnSync("bash", ["-s"], { input: script, env: { PATH: `${bin}:${process.env.PATH}`, ...env }, encoding: "utf8" });
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), "utf8");
    } catch {
      return "";
    }
  };
  return { code: r.status, stderr: r.stderr, argv: read("argv"), stdin: read("stdin") };
}

describe("accounts", () => {
  const PASSWORD = `p'a"s\\s&w$(id)\`rd`;

  it("creates and converges one account per host, with the password on the client's stdin only", () => {
    const script = renderAccountScript(LOC, user({ app_db: "owner" }, { requireSsl: true, connectionLimit: 25 }), "DBSTACK_PW_APP");
    expect(script).not.toContain("p'a");
    const r = runWithStubClient(script, { DBSTACK_PW_APP: PASSWORD });
    expect(r.code).toBe(0);
    expect(r.argv).not.toContain("p'a");
    // Escaped for a literal: backslash doubled, quote doubled; the rest verbatim.
    const literal = `'p''a"s\\\\s&w$(id)\`rd'`;
    for (const host of ["localhost", "10.0.0.0/255.255.255.0"]) {
      expect(r.stdin).toContain(`CREATE USER IF NOT EXISTS 'app'@'${host}' IDENTIFIED BY ${literal} REQUIRE SSL WITH MAX_USER_CONNECTIONS 25;`);
      expect(r.stdin).toContain(`ALTER USER 'app'@'${host}' IDENTIFIED BY ${literal} REQUIRE SSL WITH MAX_USER_CONNECTIONS 25;`);
    }
    expect(r.stdin).toContain("FROM mysql.user WHERE User = 'app' AND Host NOT IN ('localhost', '10.0.0.0/255.255.255.0')");
  });

  it("fails before touching anything when the password variable is empty", () => {
    const r = runWithStubClient(renderAccountScript(LOC, user({}), "DBSTACK_PW_APP"), { DBSTACK_PW_APP: "" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("environment variable DBSTACK_PW_APP is empty or not set: it must hold the password of user app");
    expect(r.stdin).toBe("");
  });

  it("renders REQUIRE NONE and the MySQL 8 flavour's authentication plugin", () => {
    const script = renderAccountScript(LOC, user({}), "PW", "mysql");
    expect(script).toContain("IDENTIFIED WITH caching_sha2_password BY ");
    expect(script).toContain("REQUIRE NONE WITH MAX_USER_CONNECTIONS 0;");
  });

  it("rejects bad specs naming the field", () => {
    expect(() => renderAccountScript(LOC, user({}, { hosts: [] }), "PW")).toThrow(/^users\.app\.hosts: expected at least one host pattern/);
    expect(() => renderAccountScript(LOC, user({}, { hosts: ["10.0.0.0/24", "10.0.0.0/255.255.255.0"] }), "PW")).toThrow(ArgumentError);
    expect(() => renderAccountScript(LOC, user({}, { connectionLimit: -1 }), "PW")).toThrow(/^users\.app\.connectionLimit: /);
    expect(() => renderAccountScript(LOC, user({}, { name: "x'y" }), "PW")).toThrow(/^users: /);
    expect(() => renderAccountScript(LOC, user({}), "PW; rm -rf /")).toThrow(/^passwordEnv: /);
    expect(() => renderAccountScript(LOC, user({ "a`b": "owner" }), "PW")).toThrow(/^users\.app\.grants: /);
  });

  it("drops every account of a user, whatever its host, and ends its sessions", () => {
    const script = renderDropAccountScript(LOC, "app");
    expect(script).toContain("SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user WHERE User = 'app' ORDER BY Host;");
    expect(script).toContain("KILL CONNECTION");
    expect(() => renderDropAccountScript(LOC, "root")).toThrow(ArgumentError);
  });
});

describe("databases", () => {
  it("creates utf8mb4 with the declared collation and converges it", () => {
    const script = renderDatabaseScript(LOC, DBS[1]);
    expect(script).toContain("CREATE DATABASE IF NOT EXISTS `reports` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;");
    expect(script).toContain("ALTER DATABASE `reports` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;");
    expect(() => renderDatabaseScript(LOC, { name: "app", collation: "latin1_bin" })).toThrow(/^databases\.app\.collation: /);
  });

  it("keeps a database that left the spec unless data removal is allowed", () => {
    const kept = renderDropDatabaseScript(LOC, "app_db", false);
    expect(kept).not.toMatch(/DROP DATABASE/);
    expect(kept).toContain("dbstack:allowDataRemoval");
    const dropped = renderDropDatabaseScript(LOC, "app_db", true);
    expect(dropped).toContain("DROP DATABASE IF EXISTS `app_db`;");
    expect(dropped).toContain("TABLE_SCHEMA IN ('app\\\\_db', 'app_db')");
  });
});

describe("grants", () => {
  it("gives each role exactly its privileges, never GRANT OPTION, on every account", () => {
    const script = renderGrantsScript(LOC, user({ app_db: "owner", reports: "readonly" }), DBS);
    for (const host of ["localhost", "10.0.0.0/255.255.255.0"]) {
      expect(script).toContain(`GRANT ${ROLE_PRIVILEGES.owner.join(", ")} ON \`app\\_db\`.* TO 'app'@'${host}';`);
      expect(script).toContain(`GRANT SELECT, SHOW VIEW ON \`reports\`.* TO 'app'@'${host}';`);
    }
    expect(script).not.toMatch(/WITH GRANT OPTION/);
    expect(ROLE_PRIVILEGES.owner).toEqual(expect.arrayContaining(["CREATE", "DROP", "ALTER", "TRIGGER", "EVENT", "CREATE ROUTINE", "LOCK TABLES"]));
    expect(ROLE_PRIVILEGES.readwrite).toEqual(["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "SHOW VIEW"]);
    expect(ROLE_PRIVILEGES.readonly).toEqual(["SELECT", "SHOW VIEW"]);
  });

  it("revokes, from what the server holds, whatever is not declared: narrowing keeps only the narrower set", () => {
    const wide = renderGrantsScript(LOC, user({ app_db: "owner", reports: "readwrite" }), DBS);
    const narrow = renderGrantsScript(LOC, user({ app_db: "readonly" }), DBS);
    expect(narrow).toContain("FROM information_schema.SCHEMA_PRIVILEGES");
    expect(narrow).toContain("GRANTEE IN ('''app''@''localhost''', '''app''@''10.0.0.0/255.255.255.0''')");
    expect(narrow).toContain("(TABLE_SCHEMA, PRIVILEGE_TYPE) NOT IN (('app\\\\_db', 'SELECT'), ('app\\\\_db', 'SHOW VIEW'))");
    expect(narrow).not.toContain("ON `reports`");
    expect(wide).toContain("('app\\\\_db', 'CREATE')");
    for (const source of ["USER_PRIVILEGES", "TABLE_PRIVILEGES", "COLUMN_PRIVILEGES", "IS_GRANTABLE = 'YES'"]) expect(narrow).toContain(source);
    // No grant at all: nothing is granted, everything is revoked.
    const none = renderGrantsScript(LOC, user({}), DBS);
    expect(none).not.toMatch(/^GRANT /m);
    expect(none).toContain("WHERE GRANTEE IN (");
    expect(none).not.toContain("NOT IN ((");
  });

  it("is deterministic", () => {
    const render = () => renderGrantsScript(LOC, structuredClone(user({ app_db: "owner" })), structuredClone(DBS));
    expect(render()).toBe(render());
  });

  it("rejects a grant on an undeclared database, naming users.<u>.grants.<db>", () => {
    expect(() => checkGrants(user({ ghost: "readonly" }), DBS)).toThrow('users.app.grants.ghost: database "ghost" is not declared in databases');
    expect(() => checkGrants(user({}), [...DBS, DBS[0]])).toThrow("databases.app_db: declared twice");
  });
});

describe("backup, restore and maintenance tools", () => {
  const spec = { ...LOC, name: "mariadb-unit-app", databases: ["app_db", "reports"], policy: POLICY };

  it("dumps each database consistently with routines, triggers and events, plus users and grants, into one tar", () => {
    const script = renderMariadbBackup(spec);
    for (const db of spec.databases) {
      expect(script).toContain(`dump --single-transaction --routines --triggers --events --hex-blob --default-character-set=utf8mb4 '${db}' > "$work/dump/${db}.sql"`);
    }
    expect(script).toContain('dump --system=users > "$work/dump/users.sql"');
    expect(script).toContain('tar -C "$work/dump" -cf "$work/snapshot.tar" .');
    expect(script).toContain('file="$DEST/$NAME-$stamp.tar.gz"');
    expect(script).toContain('chmod 600 "$file"');
    expect(script).toContain('instance_running || fail "MariaDB instance');
    expect(() => renderMariadbBackup({ ...spec, databases: ["a;b"] })).toThrow(/^backup\.databases\[0\]: /);
  });

  it("encrypts the restore's safety dump when backups are encrypted", () => {
    const plain = renderMariadbRestore(spec);
    expect(plain).toContain("# Usage: restore DATABASE [--into NEW_DATABASE] [--yes] [BACKUP_FILE]");
    expect(plain).toContain("mariadb_root --sandbox --database=");
    expect(plain).toContain("-before-restore-");
    expect(plain).not.toContain("gpg --batch --yes");
    const encrypted = renderMariadbRestore({ ...spec, policy: { ...POLICY, gpgRecipient: "ops@example.com" } });
    expect(encrypted).toContain("| gzip -6 | gpg --batch --yes --trust-model always --recipient 'ops@example.com' --encrypt");
    expect(encrypted).toContain(".sql.gz.gpg");
  });

  it("refuses a bad database name on the restore command line", () => {
    const script = renderMariadbRestore(spec).replace(/^instance_running .*$/m, "").replace(/^cd \/$/m, "");
    const r = spawnSync("bash", ["-c", script, "restore", "x`y"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("usage: restore DATABASE [--into NEW_DATABASE] [--yes] [BACKUP_FILE]");
    // --into without a name is refused, not taken for a restore over the database itself.
    const noName = spawnSync("bash", ["-c", script, "restore", "app_db", "--into"], { encoding: "utf8" });
    expect(noName.status).toBe(2);
    expect(noName.stderr).toContain("--into: not a valid database name");
  });

  it("analyzes with mariadb-check and optimizes only small fragmented tables", () => {
    const script = renderMariadbMaintenance(spec);
    expect(script).toContain("--analyze --silent --databases 'app_db' 'reports'");
    expect(script).toContain("DATA_LENGTH + INDEX_LENGTH < 268435456 AND DATA_FREE > 0.2 * (DATA_LENGTH + INDEX_LENGTH)");
  });
});

describe("hook dialect", () => {
  const target = { ...LOC, database: "app_db", owner: "app", ownerPasswordFile: "/etc/dbstack/app.pw" };

  it("logs in as the owner with the password in a 0600 option file, and lets the client run no command", () => {
    const d = mariadbDialect(target);
    expect(d.engine).toBe("mariadb");
    expect(d.transactionalDdl).toBe(false);
    expect(d.clientFunctions).toContain('--defaults-file="$OWNER_CNF"');
    expect(d.clientFunctions).toContain("--binary-mode --sandbox");
    expect(d.clientFunctions).toContain("OWNER_CNF=$(mktemp)");
    expect(d.clientFunctions).not.toMatch(/--password|-p"|MYSQL_PWD/);
    expect(migrationLockSql("app_db")).toBe("CONCAT('dbstack_migrations:', MD5('app_db'))");
    expect(d.acquireLock).toContain(shellQuote(`SELECT IF(GET_LOCK(${migrationLockSql("app_db")}, 120) = 1, 'locked', 'busy');`));
    expect(d.builtinChecks.map((c) => c.name)).toEqual(["select 1", "version", "connections"]);
    expect(mariadbDialect({ ...target, backup: { dir: "/b", prefix: "p", maxAgeHours: 26, cronFile: "/etc/cron.d/x" } }).builtinChecks.map((c) => c.name)).toContain(
      "newest backup",
    );
    expect(() => mariadbDialect({ ...target, owner: "root" })).toThrow(ArgumentError);
  });

  it("writes the password file so the client reads back exactly the password", () => {
    const d = mariadbDialect(target);
    const dir = tempDir();
    const out = join(dir, "cnf");
    const prelude = d.clientFunctions.replace(/^instance_running .*$/m, "");
    const password = `a"b\\c'd#e f`;
    const r = spawnSync("bash", ["-c", `set -eu\n${prelude}\nstat -c %a "$OWNER_CNF" > ${out}.mode\ncp "$OWNER_CNF" ${out}`], {
      env: { ...process.env, DBSTACK_OWNER_PASSWORD: password },
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    expect(readFileSync(`${out}.mode`, "utf8").trim()).toBe("600");
    expect(readFileSync(out, "utf8")).toBe('[client]\npassword="a\\"b\\\\c\'d#e f"\n');
  });

  it("records a migration only after all of it ran, in a second session, with a recovery message", () => {
    const rendered = renderPostDeployHook({
      subject: "mariadb database app_db",
      dialect: mariadbDialect(target),
      migrations: { kind: "sql", migrations: [{ id: "0001_init", checksum: "c".repeat(64), sql: "CREATE TABLE a (id int);\n" }] },
      healthChecks: [],
    });
    const hook = rendered.script;
    // The migration alone in its file, as written (so "at line N" is the file's line); the record in another.
    expect(rendered.files["migration-0001_init.sql"]).toBe("CREATE TABLE a (id int);\n");
    expect(rendered.files["migration-0001_init.record.sql"]).toMatch(/^INSERT INTO dbstack_migrations \(id, checksum, applied_at\) VALUES \('0001_init'/);
    const migration = hook.indexOf('db_exec < "$DBSTACK_FILES/migration-0001_init.sql"');
    const record = hook.indexOf('db_exec < "$DBSTACK_FILES/migration-0001_init.record.sql"');
    expect(migration).toBeGreaterThan(0);
    // The record is in its own db_exec, after the migration's session ended.
    expect(record).toBeGreaterThan(migration);
    expect(hook).toContain("migration 0001_init is not recorded as applied. mariadb DDL is not transactional");
    expect(hook).not.toContain("START TRANSACTION;");
  });
});

describe("urls", () => {
  it("percent-encodes user and password, and adds TLS verification when a CA file is given", () => {
    const plain = mariadbUrls({ user: "app", password: "p@ss:w/rd?#&", host: "db.example.com", port: 3306, database: "app_db" });
    expect(plain.mysql).toBe("mysql://app:p%40ss%3Aw%2Frd%3F%23%26@db.example.com:3306/app_db");
    expect(plain.mysqlPymysql).toBe("mysql+pymysql://app:p%40ss%3Aw%2Frd%3F%23%26@db.example.com:3306/app_db?charset=utf8mb4");
    expect(plain.mariadb).toBe("mariadb://app:p%40ss%3Aw%2Frd%3F%23%26@db.example.com:3306/app_db");
    const tls = mariadbUrls({ user: "app", password: "x", host: "::1", port: 3307, database: "app_db", caCertificateFile: "/etc/ssl/dbstack ca.pem" });
    expect(tls.mysql).toBe("mysql://app:x@[::1]:3307/app_db?ssl-mode=VERIFY_IDENTITY&ssl-ca=%2Fetc%2Fssl%2Fdbstack%20ca.pem");
    expect(tls.mysqlPymysql).toBe("mysql+pymysql://app:x@[::1]:3307/app_db?charset=utf8mb4&ssl_ca=%2Fetc%2Fssl%2Fdbstack%20ca.pem&ssl_check_hostname=true");
    expect(tls.mariadb).toBe("mariadb://app:x@[::1]:3307/app_db?sslMode=verify-full&serverSslCert=%2Fetc%2Fssl%2Fdbstack%20ca.pem");
    expect(tls.mariadbConnector).toBe("mariadb+mariadbconnector://app:x@[::1]:3307/app_db?ssl_ca=%2Fetc%2Fssl%2Fdbstack%20ca.pem&ssl_verify_cert=true");
  });
});
