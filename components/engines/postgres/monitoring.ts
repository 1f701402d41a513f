/**
 * PostgreSQL's side of monitoring: the monitoring role on the primary (streaming replication
 * carries it to every standby), and the read-only status probe run on each member's host. The
 * probe logs in as the monitoring role over 127.0.0.1 (scram-sha-256, see access.ts), its
 * password in the environment of the probe's own process, never on a command line.
 *
 * What the probe prints (parsed by scripts/lib/status/probe.ts), one fact a line, tab-separated:
 *   server<TAB><one JSON object: version, role, uptime, connections, databases, lag, ...>
 *   down<TAB><why the server did not answer>
 * then the backup facts (backups/probe.ts) when backups are declared on this host.
 */
import { renderRecoveryFacts } from "../../backups/probe";
import { MONITOR_CONNECTION_LIMIT, MONITOR_PASSWORD_ENV, MONITOR_USER } from "../../model/monitoring";
import { scriptHeader, withHeredoc } from "../../shell";
import { renderClusterPrelude, type ClusterLocation } from "./host";
import { renderMonitorRoleSql } from "./sql/roles";

/** The script that creates or converges the monitoring role (password in `passwordEnv`). */
export function renderPostgresMonitorAccount(loc: ClusterLocation, passwordEnv: string): string {
  return [
    scriptHeader(`PostgreSQL cluster ${loc.cluster}: monitoring role ${MONITOR_USER} (pg_monitor).`),
    renderClusterPrelude(loc),
    'exec 8>"/run/lock/dbstack-postgres-$V-$CLUSTER.lock"',
    'flock -w 300 8 || { echo "another dbstack step on $V/$CLUSTER held its lock for 300s" >&2; exit 1; }',
    withHeredoc("psql_su -d postgres -f -", renderMonitorRoleSql(MONITOR_USER, passwordEnv, MONITOR_CONNECTION_LIMIT), "DBSTACK_SQL"),
    `echo "monitoring role ${MONITOR_USER}: pg_monitor, read-only"`,
  ].join("\n");
}

/**
 * With slow-query logging declared: the pg_stat_statements extension in the `postgres` database,
 * where the status probe reads the slowest statements of every database (the library is
 * preloaded by the configuration, slowQueryLog.ts).
 */
export function renderPostgresStatementStatistics(loc: ClusterLocation): string {
  return [
    scriptHeader(`PostgreSQL cluster ${loc.cluster}: pg_stat_statements for the slowest statements.`),
    renderClusterPrelude(loc),
    'exec 8>"/run/lock/dbstack-postgres-$V-$CLUSTER.lock"',
    'flock -w 300 8 || { echo "another dbstack step on $V/$CLUSTER held its lock for 300s" >&2; exit 1; }',
    withHeredoc("psql_su -d postgres -f -", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;\n", "DBSTACK_SQL"),
    'echo "pg_stat_statements: in database postgres"',
  ].join("\n");
}

/** What one member's status probe is rendered for. */
export interface StatusProbeSpec {
  port: number;
  /** Transactions open longer than this many seconds are listed. */
  longTransactionSeconds: number;
  /** The deployment's backups, looked at on the primary's host only. */
  backup?: { dir: string; prefix: string };
  /** The deployment's restore drill record (point-in-time recovery), looked at on the primary's host only. */
  drillRecord?: string;
}

/**
 * The status query: one JSON object. Functions that fail on a standby (pg_current_wal_lsn) or
 * on a primary (the receive/replay positions) are only called on the side they work on.
 */
export function postgresStatusSql(longTransactionSeconds: number): string {
  const long = Math.max(0, Math.floor(longTransactionSeconds));
  return [
    "\\set ON_ERROR_STOP 1",
    "-- The slowest statements are the others': this probe's own are left out.",
    "-- The view errors unless the library is loaded: both the extension and the library, or no slowest statements.",
    "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_stat_statements') AND current_setting('shared_preload_libraries') ~ 'pg_stat_statements' AS has_pgss \\gset",
    "\\if :has_pgss",
    "SELECT coalesce(json_agg(s), '[]'::json) AS slowest FROM (SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query, calls, round(mean_exec_time::numeric, 1) AS \"meanMs\", round(max_exec_time::numeric, 1) AS \"maxMs\" FROM pg_stat_statements WHERE userid <> (SELECT oid FROM pg_roles WHERE rolname = current_user) ORDER BY max_exec_time DESC LIMIT 5) s \\gset",
    "\\else",
    "\\set slowest null",
    "\\endif",
    "SELECT json_build_object(",
    "  'version', current_setting('server_version'),",
    "  'role', CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE 'primary' END,",
    "  'uptimeS', floor(extract(epoch FROM now() - pg_postmaster_start_time()))::bigint,",
    "  'connections', (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),",
    "  'maxConnections', current_setting('max_connections')::int,",
    "  'databases', (SELECT json_agg(json_build_object('name', datname, 'bytes', pg_database_size(oid)) ORDER BY datname) FROM pg_database WHERE NOT datistemplate AND datallowconn),",
    "  'lagBytes', CASE WHEN pg_is_in_recovery() THEN coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0) END,",
    "  'lagSeconds', CASE WHEN pg_is_in_recovery() THEN CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END END,",
    "  'streaming', CASE WHEN pg_is_in_recovery() THEN (SELECT count(*) > 0 FROM pg_stat_wal_receiver WHERE status = 'streaming') END,",
    "  'replicas', CASE WHEN NOT pg_is_in_recovery() THEN (SELECT coalesce(json_agg(json_build_object('name', application_name, 'address', host(client_addr), 'state', state, 'lagBytes', pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 'lagSeconds', extract(epoch FROM replay_lag))), '[]'::json) FROM pg_stat_replication) END,",
    "  'pendingRestart', (SELECT coalesce(json_agg(name ORDER BY name), '[]'::json) FROM pg_settings WHERE pending_restart),",
    `  'longTransactions', (SELECT coalesce(json_agg(json_build_object('pid', pid, 'user', usename, 'database', datname, 'state', state, 'seconds', floor(extract(epoch FROM now() - xact_start))) ORDER BY xact_start), '[]'::json) FROM pg_stat_activity WHERE backend_type = 'client backend' AND xact_start IS NOT NULL AND pid <> pg_backend_pid() AND now() - xact_start > interval '${long} seconds'),`,
    "  'slowest', :'slowest'::json",
    ");",
  ].join("\n");
}

/**
 * The read-only status probe of one member (see the file's comment). Exits 0 whether or not the
 * server answers: a server that does not is a `down` line, for status to report.
 */
export function renderPostgresStatusProbe(spec: StatusProbeSpec): string {
  return [
    scriptHeader(`PostgreSQL status probe on port ${spec.port} (read-only, as ${MONITOR_USER}).`),
    "cd /",
    `export PGPASSWORD="\${${MONITOR_PASSWORD_ENV}:-}"`,
    `unset ${MONITOR_PASSWORD_ENV}`,
    "export PGCONNECT_TIMEOUT=5 PGAPPNAME=dbstack-status PGSSLMODE=prefer",
    'if ! command -v psql >/dev/null 2>&1; then printf \'down\\tpsql is not installed on %s (package postgresql-client)\\n\' "$(hostname)"; exit 0; fi',
    `if out=$(${withHeredoc(`psql -X -q -At -h 127.0.0.1 -p ${spec.port} -U ${MONITOR_USER} -d postgres -f - 2>&1`, postgresStatusSql(spec.longTransactionSeconds), "DBSTACK_SQL")}`,
    "); then",
    "  printf 'server\\t%s\\n' \"$(printf '%s' \"$out\" | tr -d '\\n')\"",
    "else",
    "  printf 'down\\t%s\\n' \"$(printf '%s' \"$out\" | tr '\\n\\t' '  ' | cut -c1-400)\"",
    "fi",
    ...renderRecoveryFacts(spec),
  ].join("\n");
}
