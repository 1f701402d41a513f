import { execFileSync, spawnSync } from "child_process";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { renderBackupProbe, renderDrillProbe } from "../../components/backups/probe";
import { monitorPrivileges, renderMariadbMonitorAccount, renderMariadbStatusProbe } from "../../components/engines/mariadb/monitoring";
import { postgresStatusSql, renderPostgresMonitorAccount, renderPostgresStatusProbe } from "../../components/engines/postgres/monitoring";
import { renderMonitorRoleSql } from "../../components/engines/postgres/sql/roles";
import { renderSqliteStatusProbe } from "../../components/engines/sqlite/monitoring";
import { MONITOR_PASSWORD_ENV } from "../../components/model/monitoring";
import { parseProbeOutput } from "../../scripts/lib/status/probe";

const work = mkdtempSync(join(tmpdir(), "dbstack-st-probes-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Whether bash parses a script. */
function parses(script: string): boolean {
  return spawnSync("bash", ["-n"], { input: script }).status === 0;
}

describe("the monitoring accounts", () => {
  it("PostgreSQL: pg_monitor, no other attribute, read-only by default; the password comes from the environment only", () => {
    const sql = renderMonitorRoleSql("dbstack_monitor", "DBSTACK_MONITOR_PASSWORD", 5);
    expect(sql).toContain("ALTER ROLE \"dbstack_monitor\" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5");
    expect(sql).toContain('GRANT pg_monitor TO "dbstack_monitor";');
    expect(sql).toContain('ALTER ROLE "dbstack_monitor" SET default_transaction_read_only = on;');
    expect(sql).toContain("\\getenv dbstack_password DBSTACK_MONITOR_PASSWORD");
    expect(sql).not.toMatch(/GRANT (SELECT|ALL|INSERT|pg_read_all_data|pg_write)/);
    const script = renderPostgresMonitorAccount({ cluster: "main", port: 5432, version: 15 }, MONITOR_PASSWORD_ENV);
    expect(parses(script)).toBe(true);
  });

  it("MariaDB: PROCESS, REPLICATION CLIENT, SLAVE MONITOR and SELECT on performance_schema, nothing else; password through printf on stdin", () => {
    expect(monitorPrivileges("mariadb")).toEqual(["PROCESS", "REPLICATION CLIENT", "SLAVE MONITOR"]);
    const rendered = renderMariadbMonitorAccount({ instance: "shop", port: 3307 }, MONITOR_PASSWORD_ENV);
    expect(parses(rendered)).toBe(true);
    // The statements as the client receives them (the script quotes each for the shell).
    const script = rendered.replace(/'\\''/g, "'");
    expect(script).toContain("GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR ON *.* TO 'dbstack_monitor'@'127.0.0.1';");
    expect(script).toContain("GRANT SELECT ON performance_schema.* TO 'dbstack_monitor'@'localhost';");
    expect(script).toContain("REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'dbstack_monitor'@'127.0.0.1';");
    expect(script.match(/GRANT [A-Z ,]+ ON/g)!.every((g) => /^GRANT (PROCESS, REPLICATION CLIENT, SLAVE MONITOR|SELECT) ON$/.test(g))).toBe(true);
    expect(script).toContain("SET SESSION sql_log_off = 1, SESSION slow_query_log = 0;");
    expect(() => renderMariadbMonitorAccount({ instance: "shop", port: 3307 }, "X; rm -rf /")).toThrow(/passwordEnv/);
  });
});

describe("status probes", () => {
  it("PostgreSQL: logs in as dbstack_monitor over 127.0.0.1, the password only in PGPASSWORD of its own process", () => {
    const script = renderPostgresStatusProbe({ port: 6601, longTransactionSeconds: 300, backup: { dir: "/var/backups/x", prefix: "main" } });
    expect(parses(script)).toBe(true);
    expect(script).toContain("psql -X -q -At -h 127.0.0.1 -p 6601 -U dbstack_monitor -d postgres -f -");
    expect(script).toContain(`export PGPASSWORD="\${${MONITOR_PASSWORD_ENV}:-}"`);
    expect(script).toContain("backup_dir='/var/backups/x'");
    expect(postgresStatusSql(12.7)).toContain("interval '12 seconds'");
    expect(postgresStatusSql(-5)).toContain("interval '0 seconds'");
  });

  it("MariaDB: the password reaches the client in a 0600 option file of a private directory, never an argument", () => {
    const script = renderMariadbStatusProbe({ port: 6611, databases: ["shop"], longTransactionSeconds: 60 });
    expect(parses(script)).toBe(true);
    expect(script).toContain('--defaults-extra-file="$work/monitor.cnf"');
    expect(script).toContain("( umask 077; printf '[client]\\npassword=\"%s\"\\n' \"$pw\" > \"$work/monitor.cnf\" )");
    expect(script).not.toMatch(/-p"?\$|--password[= ]/);
    expect(script).toContain("INTERVAL 60 SECOND");
  });

  it("MariaDB: a replica's SHOW SLAVE STATUS and the database sizes reach status (a stand-in client on PATH)", () => {
    const bin = join(work, "fake-bin");
    const datadir = join(work, "datadir");
    mkdirSync(join(datadir, "shop"), { recursive: true });
    writeFileSync(join(datadir, "shop", "items.ibd"), "x".repeat(5000));
    mkdirSync(bin, { recursive: true });
    // The stand-in answers as the server would: the status JSON on stdin, the data directory, vertical replica status.
    writeFileSync(
      join(bin, "mariadb"),
      [
        "#!/bin/bash",
        `cp "\${1#--defaults-extra-file=}" ${JSON.stringify(join(work, "seen.cnf"))}; stat -c %a "\${1#--defaults-extra-file=}" > ${JSON.stringify(join(work, "seen.mode"))}`,
        'case " $* " in',
        `  *" --vertical "*) printf '*************************** 1. row ***************************\\n               Slave_IO_State: Waiting for master to send event\\n                  Master_Host: 10.0.0.1\\n             Slave_IO_Running: Yes\\n            Slave_SQL_Running: Yes\\n                Last_IO_Error: \\n        Seconds_Behind_Master: 3\\n' ;;`,
        `  *"SELECT @@datadir"*) echo ${JSON.stringify(datadir + "/")} ;;`,
        `  *) cat >/dev/null; echo '{"version": "10.11.6-MariaDB", "uptimeS": 9, "connections": 2, "maxConnections": 30, "readOnly": true, "longTransactions": null, "slowest": null}' ;;`,
        "esac",
      ].join("\n"),
      { mode: 0o755 },
    );
    const out = execFileSync("bash", ["-s"], {
      input: renderMariadbStatusProbe({ port: 6612, databases: ["shop", "gone"], longTransactionSeconds: 60 }),
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin`, [MONITOR_PASSWORD_ENV]: 's3cr\\"et' },
    });
    // The password, escaped for the option file, in a 0600 file the probe removes afterwards.
    expect(readFileSync(join(work, "seen.cnf"), "utf8")).toBe('[client]\npassword="s3cr\\\\\\"et"\n');
    expect(readFileSync(join(work, "seen.mode"), "utf8").trim()).toBe("600");
    const f = parseProbeOutput("mariadb", out, { now: new Date() });
    expect(f).toMatchObject({ reachable: true, role: "replica", lag: { bytes: null, seconds: 3, replicating: true }, connections: { used: 2, max: 30 } });
    expect(f.lag!.error).toBeUndefined();
    expect(f.databases).toEqual([{ name: "shop", bytes: expect.any(Number) }]);
    expect(f.databases![0].bytes).toBeGreaterThanOrEqual(5000);
  });

  it("refuses database names that are not identifiers before they reach a script", () => {
    expect(() => renderMariadbStatusProbe({ port: 1, databases: ["x'; rm -rf / #"], longTransactionSeconds: 1 })).toThrow(/databases/);
    expect(() => renderMariadbStatusProbe({ port: 1, databases: ["$(reboot)"], longTransactionSeconds: 1 })).toThrow(/databases/);
  });

  it("SQLite: reports the file, its WAL and quick_check on a read-only connection, for a path with shell metacharacters", () => {
    const dir = join(work, "it's $(touch pwned) `x`");
    mkdirSync(dir);
    const db = join(dir, "app.db");
    execFileSync("sqlite3", [db, "PRAGMA journal_mode=wal; CREATE TABLE t (x); INSERT INTO t VALUES (1);"]);
    const out = execFileSync("bash", ["-s"], { input: renderSqliteStatusProbe({ path: db, quickCheck: true }), encoding: "utf8", cwd: work });
    const f = parseProbeOutput("sqlite", out, { now: new Date() });
    expect(f).toMatchObject({ reachable: true, sqlite: { quickCheck: "ok" } });
    expect(f.sqlite!.bytes).toBeGreaterThan(0);
    expect(spawnSync("ls", [join(work, "pwned")]).status).not.toBe(0);
    expect(parseProbeOutput("sqlite", execFileSync("bash", ["-s"], { input: renderSqliteStatusProbe({ path: join(dir, "missing.db"), quickCheck: false }), encoding: "utf8" }), { now: new Date() })).toMatchObject({
      reachable: false,
      error: expect.stringContaining("no database file at"),
    });
  });

  it("the backup probe finds the newest backup of the deployment only, and the drill record", () => {
    const dir = join(work, "backups");
    mkdirSync(join(dir, "drills"), { recursive: true });
    const file = (name: string, at: number) => {
      writeFileSync(join(dir, name), "x".repeat(10));
      utimesSync(join(dir, name), at, at);
    };
    file("main-20261206T020000Z.sql.gz", 1765000000);
    file("main-20261207T020000Z.sql.gz", 1765090000);
    file("other-20261208T020000Z.sql.gz", 1765190000);
    writeFileSync(join(dir, "drills", "last.json"), '{\n  "ok": false,\n  "reason": "tab\\there"\n}\n');
    const out = execFileSync("bash", ["-c", `set -Eeuo pipefail\n${renderBackupProbe({ dir, prefix: "main" })}`], { encoding: "utf8" });
    expect(out).toContain("backup\t1765090000.0000000000\t10\tmain-20261207T020000Z.sql.gz\n");
    expect(out).toContain("backups\t2\n");
    const f = parseProbeOutput("sqlite", `file\t1\t1\n${out}`, { maxAgeHours: 36, now: new Date(1765090000_000 + 3_600_000) });
    expect(f.backup).toMatchObject({ count: 2, newest: { file: "main-20261207T020000Z.sql.gz", bytes: 10 } });
    expect(f.backup!.newest!.ageHours).toBeCloseTo(1, 3);
    expect(f.drill).toEqual({ ok: false, reason: "tab\there" });
    const none = execFileSync("bash", ["-c", renderBackupProbe({ dir: join(work, "nowhere"), prefix: "main" })], { encoding: "utf8" });
    expect(none).toBe("backup\tnone\n");
  });

  it("a point-in-time recovery drill's record is read from the repository (a path with shell characters stays a path)", () => {
    const repo = join(work, "pitr $(touch pwned) 'x'", "drills");
    mkdirSync(repo, { recursive: true });
    writeFileSync(join(repo, "last.json"), '{"ok": true, "reason": ""}\n');
    const out = execFileSync("bash", ["-c", renderDrillProbe(join(repo, "last.json"))], { cwd: work, encoding: "utf8" });
    expect(parseProbeOutput("sqlite", `file\t1\t1\n${out}`, { maxAgeHours: 36, now: new Date() }).drill).toEqual({ ok: true, reason: "" });
    expect(existsSync(join(work, "pwned"))).toBe(false);
    expect(execFileSync("bash", ["-c", renderDrillProbe(join(work, "none.json"))], { encoding: "utf8" })).toBe("");
  });
});
