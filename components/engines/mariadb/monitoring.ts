/**
 * MariaDB's side of monitoring: the monitoring accounts on the primary (replication carries them
 * to every replica), and the read-only status probe run on each member's host. The probe logs in
 * as the monitoring account over 127.0.0.1; its password reaches the client in a 0600 option file
 * in a private temporary directory, never on a command line.
 *
 * The account may: PROCESS (every session, InnoDB's transactions), REPLICATION CLIENT and SLAVE
 * MONITOR (the binary log's and the replica's status), SELECT on performance_schema (statement
 * digests). It has no right on any database: it reads no table, writes nothing.
 *
 * What the probe prints (parsed by scripts/lib/status/probe.ts), one fact a line, tab-separated:
 *   server<TAB><one JSON object: version, uptime, connections, read_only, long transactions, ...>
 *   replica<TAB><field><TAB><value>    (SHOW SLAVE STATUS, on a replica)
 *   dbsize<TAB><database><TAB><bytes>  (the database's directory, measured on the host)
 *   down<TAB><why the server did not answer>
 * then the backup facts (backups/probe.ts) when backups are declared on this host.
 */
import { renderRecoveryFacts } from "../../backups/probe";
import { MONITOR_CONNECTION_LIMIT, MONITOR_PASSWORD_ENV, MONITOR_USER } from "../../model/monitoring";
import { scriptHeader, shellQuote } from "../../shell";
import { quietSessionSql, type Flavor } from "./flavor";
import { renderInstancePrelude, type MariadbLocation } from "./host";
import { checkDatabaseName } from "./sql/identifiers";

/** The hosts the monitoring account logs in from: the probe's TCP connection, and the socket. */
const MONITOR_HOSTS = ["127.0.0.1", "localhost"];

/** The privileges of the monitoring account, per flavour (SLAVE MONITOR is MariaDB 10.5+'s right to SHOW SLAVE STATUS). */
export function monitorPrivileges(flavor: Flavor): string[] {
  return flavor === "mariadb" ? ["PROCESS", "REPLICATION CLIENT", "SLAVE MONITOR"] : ["PROCESS", "REPLICATION CLIENT"];
}

/**
 * The script that creates or converges the monitoring accounts (password in `passwordEnv`, read
 * by bash and written with printf into the client's stdin), with exactly their privileges.
 */
export function renderMariadbMonitorAccount(loc: MariadbLocation, passwordEnv: string): string {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(passwordEnv)) throw new Error(`passwordEnv: ${JSON.stringify(passwordEnv)} is not an environment variable name`);
  const flavor = loc.flavor ?? "mariadb";
  const accounts = MONITOR_HOSTS.map((h) => `'${MONITOR_USER}'@'${h}'`);
  const options = `REQUIRE NONE WITH MAX_USER_CONNECTIONS ${MONITOR_CONNECTION_LIMIT}`;
  return [
    scriptHeader(`MariaDB instance ${loc.instance}: monitoring accounts ${MONITOR_USER} (PROCESS, REPLICATION CLIENT, SELECT on performance_schema).`),
    renderInstancePrelude(loc),
    'instance_running || { echo "MariaDB instance $INSTANCE is not running (no answer on $SOCKET)" >&2; exit 1; }',
    `[ -n "\${${passwordEnv}:-}" ] || { echo "${passwordEnv} is not set (the monitoring password)" >&2; exit 1; }`,
    `pw=\${${passwordEnv}//"\\\\"/"\\\\\\\\"}`,
    `pw="'\${pw//"'"/"''"}'"`,
    "{",
    "  # No statement of this session reaches the general or slow log: they carry the password.",
    `  printf '%s\\n' ${shellQuote(quietSessionSql(flavor))}`,
    ...accounts.flatMap((a) => [
      `  printf 'CREATE USER IF NOT EXISTS %s IDENTIFIED BY %s ${options};\\n' ${shellQuote(a)} "$pw"`,
      `  printf 'ALTER USER %s IDENTIFIED BY %s ${options};\\n' ${shellQuote(a)} "$pw"`,
      `  printf '%s\\n' ${shellQuote(`REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${a};`)}`,
      `  printf '%s\\n' ${shellQuote(`GRANT ${monitorPrivileges(flavor).join(", ")} ON *.* TO ${a};`)}`,
      `  printf '%s\\n' ${shellQuote(`GRANT SELECT ON performance_schema.* TO ${a};`)}`,
    ]),
    "} | mariadb_root",
    "unset pw",
    `echo ${shellQuote(`monitoring accounts ${accounts.join(", ")}: ${monitorPrivileges(flavor).join(", ")}, SELECT on performance_schema`)}`,
  ].join("\n");
}

/** What one member's status probe is rendered for. */
export interface MariadbStatusProbeSpec {
  port: number;
  /** The deployment's databases: their size is measured on the host (the account cannot see their tables). */
  databases: string[];
  longTransactionSeconds: number;
  backup?: { dir: string; prefix: string };
  /** The deployment's restore drill record (point-in-time recovery), looked at on the primary's host only. */
  drillRecord?: string;
}

/** The status query: one JSON object (MariaDB 10.5+'s JSON_ARRAYAGG). */
export function mariadbStatusSql(longTransactionSeconds: number): string {
  const long = Math.max(0, Math.floor(longTransactionSeconds));
  const status = (name: string) => `(SELECT VARIABLE_VALUE + 0 FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '${name}')`;
  return [
    "SELECT JSON_OBJECT(",
    "  'version', VERSION(),",
    `  'uptimeS', ${status("UPTIME")},`,
    `  'connections', ${status("THREADS_CONNECTED")},`,
    "  'maxConnections', @@GLOBAL.max_connections,",
    "  'readOnly', @@GLOBAL.read_only = 1,",
    "  'dataDir', @@GLOBAL.datadir,",
    "  'longTransactions', (SELECT JSON_ARRAYAGG(JSON_OBJECT('pid', t.trx_mysql_thread_id, 'user', p.USER, 'database', p.DB, 'state', IF(p.COMMAND = 'Sleep', 'idle in transaction', 'active'),",
    `    'seconds', TIMESTAMPDIFF(SECOND, t.trx_started, NOW()))) FROM information_schema.INNODB_TRX t LEFT JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE t.trx_started < NOW() - INTERVAL ${long} SECOND),`,
    "  'slowest', (SELECT JSON_ARRAYAGG(JSON_OBJECT('query', LEFT(REGEXP_REPLACE(d.DIGEST_TEXT, '\\\\s+', ' '), 200), 'calls', d.COUNT_STAR, 'meanMs', ROUND(d.AVG_TIMER_WAIT / 1e9, 1), 'maxMs', ROUND(d.MAX_TIMER_WAIT / 1e9, 1)))",
    "    FROM (SELECT * FROM performance_schema.events_statements_summary_by_digest WHERE DIGEST_TEXT IS NOT NULL ORDER BY MAX_TIMER_WAIT DESC LIMIT 5) d)",
    ");",
  ].join("\n");
}

/**
 * The read-only status probe of one member (see the file's comment). Exits 0 whether or not the
 * server answers: a server that does not is a `down` line, for status to report.
 */
export function renderMariadbStatusProbe(spec: MariadbStatusProbeSpec): string {
  spec.databases.forEach((db) => checkDatabaseName("databases", db));
  const client = `mariadb --defaults-extra-file="$work/monitor.cnf" --local-infile=0 --protocol=tcp -h 127.0.0.1 -P ${spec.port} -u ${MONITOR_USER} --connect-timeout=5`;
  return [
    scriptHeader(`MariaDB status probe on port ${spec.port} (read-only, as ${MONITOR_USER}).`),
    "cd /",
    'if ! command -v mariadb >/dev/null 2>&1; then printf \'down\\tthe mariadb client is not installed on %s (package mariadb-client)\\n\' "$(hostname)"; exit 0; fi',
    "work=$(mktemp -d); trap 'rm -rf \"$work\"' EXIT",
    `pw=\${${MONITOR_PASSWORD_ENV}:-}; unset ${MONITOR_PASSWORD_ENV}`,
    'pw=${pw//\\\\/\\\\\\\\}; pw=${pw//\\"/\\\\\\"}',
    "( umask 077; printf '[client]\\npassword=\"%s\"\\n' \"$pw\" > \"$work/monitor.cnf\" )",
    "unset pw",
    `monitor() { ${client} --batch --raw --skip-column-names "$@"; }`,
    "# Vertical output needs the column names: its own client line.",
    `monitor_vertical() { ${client} --vertical "$@"; }`,
    `if out=$(printf '%s\\n' ${shellQuote(mariadbStatusSql(spec.longTransactionSeconds))} | monitor 2>&1); then`,
    "  printf 'server\\t%s\\n' \"$(printf '%s' \"$out\" | tr -d '\\n')\"",
    "  monitor_vertical -e 'SHOW SLAVE STATUS' 2>/dev/null | awk -F': ' '/^ *(Slave_IO_Running|Slave_SQL_Running|Seconds_Behind_Master|Master_Host|Last_IO_Error|Last_SQL_Error|Gtid_IO_Pos):/ { v = $0; sub(/^[^:]*: ?/, \"\", v); k = $0; sub(/^ +/, \"\", k); sub(/:.*$/, \"\", k); printf \"replica\\t%s\\t%s\\n\", k, v }' || true",
    "  datadir=$(monitor -e 'SELECT @@datadir' 2>/dev/null || true)",
    ...spec.databases.map((db) => `  if [ -n "$datadir" ] && [ -d "$datadir"/${shellQuote(db)} ]; then printf 'dbsize\\t%s\\t%s\\n' ${shellQuote(db)} "$(du -sb "$datadir"/${shellQuote(db)} | cut -f1)"; fi`),
    "else",
    "  printf 'down\\t%s\\n' \"$(printf '%s' \"$out\" | tr '\\n\\t' '  ' | cut -c1-400)\"",
    "fi",
    ...renderRecoveryFacts(spec),
  ].join("\n");
}
