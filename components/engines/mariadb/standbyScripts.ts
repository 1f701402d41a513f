import { scriptHeader, shellQuote } from "../../shell";
import {
  changeSourceSql,
  programs,
  quietSessionSql,
  replicaStatusColumns,
  replicaStatusSql,
  resetReplicaSql,
  seedDumpOptions,
  startReplicaSql,
  changeSourcePasswordSql,
  stopReplicaIoSql,
  stopReplicaSql,
  verifySourceSql,
  type Flavor,
} from "./flavor";
import { mariadbPaths, renderInstancePrelude, type MariadbLocation } from "./host";

/**
 * GTID replication between dbstack's instances: the replication accounts on the primary, the
 * seeding and start of a replica, its status for health checks, and promote.
 *
 * Order of steps for the orchestrator: primary configured with replication.role "primary"
 * (binary log and GTID on) -> renderReplicationSource on the primary -> replica created and
 * configured with role "replica" (read_only) -> renderStandby on the replica's host. Passwords
 * come from an environment variable the step sets, reach the server on stdin (printf is a shell
 * builtin: no process's argv holds them) and are never echoed.
 */

/** A string literal for MariaDB (backslash is an escape character there, unlike standard SQL). */
function mariadbString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** An environment variable name the scripts read a secret from. */
function envName(name: string, field: string): string {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`${field}: ${JSON.stringify(name)} is not an environment variable name`);
  return name;
}

/** The column of the status that holds the source's host: a replica that has one is configured. */
function sourceHostColumn(flavor: Flavor): string {
  return replicaStatusColumns(flavor).sourceHost;
}

/**
 * Shell: `sql_string <value>` prints the value as a MariaDB string literal (for a secret, built
 * in the shell, never on a command line); `status_field <column>` prints one column of the
 * replica status ("" when the instance is not a replica). awk reads the whole status rather than
 * exiting at the match: a client still writing would die of SIGPIPE, and pipefail would fail the
 * script with status 141.
 */
function renderStandbyFunctions(flavor: Flavor): string {
  return [
    "sql_string() { local s=$1; s=${s//\\\\/\\\\\\\\}; s=${s//\\'/\\'\\'}; printf \"'%s'\" \"$s\"; }",
    "status_field() {",
    `  mariadb_root --column-names -e ${shellQuote(`${replicaStatusSql(flavor)}\\G`)} | awk -v k="$1" '{ name = $0; sub(/^ +/, "", name); sub(/:.*/, "", name) } !found && name == k { i = index($0, ": "); print (i ? substr($0, i + 2) : ""); found = 1 }'`,
    "}",
  ].join("\n");
}

/** What the primary needs to know about its replicas. */
export interface ReplicationSourceSpec {
  /** The replication account's name (the same on every replica host). */
  user: string;
  /** The environment variable holding its password. */
  passwordEnv: string;
  /** The addresses the replicas connect from (one account per address; skip_name_resolve: addresses, not names). */
  standbyHosts: string[];
}

/**
 * On the primary: one replication account per replica host, REQUIRE SSL, with the privileges
 * replication and the seeding dump need (REPLICATION SLAVE; SELECT, SHOW VIEW, TRIGGER, EVENT,
 * LOCK TABLES, RELOAD and REPLICATION CLIENT for a consistent dump with its GTID position).
 * Idempotent: the password is set again each run (a rotated secret takes effect); accounts of
 * that user for hosts no longer declared are dropped.
 */
export function renderReplicationSource(loc: MariadbLocation, r: ReplicationSourceSpec): string {
  const env = envName(r.passwordEnv, "replication.passwordEnv");
  const accounts = r.standbyHosts.map((h) => `${mariadbString(r.user)}@${mariadbString(h)}`);
  const privileges = "REPLICATION SLAVE, REPLICATION CLIENT, SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD";
  const keep = r.standbyHosts.length ? ` AND host NOT IN (${r.standbyHosts.map(mariadbString).join(", ")})` : "";
  return [
    scriptHeader(`Replication accounts on MariaDB instance ${loc.instance} for its replicas.`),
    renderInstancePrelude(loc),
    renderStandbyFunctions(loc.flavor ?? "mariadb"),
    'instance_running || { echo "instance $INSTANCE is not running" >&2; exit 1; }',
    `[ -n "\${${env}:-}" ] || { echo "${env} is not set (the replication password)" >&2; exit 1; }`,
    `pw=$(sql_string "$${env}")`,
    "{",
    "  # No statement of this session reaches the general or slow log: they carry the password.",
    `  printf '%s\\n' ${shellQuote(quietSessionSql(loc.flavor ?? "mariadb"))}`,
    ...accounts.flatMap((a) => [
      `  printf 'CREATE USER IF NOT EXISTS %s IDENTIFIED BY %s REQUIRE SSL;\\n' ${shellQuote(a)} "$pw"`,
      `  printf 'ALTER USER %s IDENTIFIED BY %s REQUIRE SSL;\\n' ${shellQuote(a)} "$pw"`,
      `  printf '%s\\n' ${shellQuote(`GRANT ${privileges} ON *.* TO ${a};`)}`,
    ]),
    "} | mariadb_root",
    "# Accounts of replica hosts no longer declared: a removed replica's address must not keep access.",
    `stale=$(mariadb_root -e ${shellQuote(`SELECT CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.user WHERE user = ${mariadbString(r.user)}${keep} ORDER BY host`)})`,
    'for account in $stale; do printf \'DROP USER %s;\\n\' "$account" | mariadb_root; echo "dropped replication account $account (its replica is no longer declared)"; done',
    `echo ${shellQuote(`replication accounts: ${accounts.join(", ") || "none"} (REQUIRE SSL)`)}`,
  ].join("\n");
}

/** A replica: where it is, where it replicates from, and with which account. */
export interface MariadbStandbySpec {
  loc: MariadbLocation;
  /** The primary, as this replica's host reaches it. */
  source: { host: string; port: number };
  /** The replication account (renderReplicationSource). */
  user: string;
  /** The environment variable holding its password. */
  passwordEnv: string;
  /** Default: the location's flavour, else "mariadb". */
  flavor?: Flavor;
  /**
   * Verify the primary's certificate against the deployment's CA ($TLS_DIR/ca.crt, which the
   * replica's configure step installed) and `source.host` against its names, for the seeding
   * dump and for replication. Default true; false only when the primary serves a certificate
   * that CA did not sign (then the connection is encrypted but the primary is not authenticated).
   */
  verifySource?: boolean;
}


/**
 * On the replica's host, after its instance exists and runs with the replica option file:
 * - already replicating (the status names a source): makes sure both threads run;
 * - otherwise seeds it from a consistent snapshot of the primary (mariadb-dump
 *   --single-transaction of all databases with routines, events and triggers, and the
 *   snapshot's GTID position; loaded without writing the replica's own binary log), points it at
 *   the primary positioned by GTID over TLS, and starts replication.
 * Then waits (at most 60 s) until both threads run, or fails with the replica's last errors.
 * An instance that holds databases of its own and is not a replica (a promoted one, or someone
 * else's) is never overwritten. An interrupted seed is started over (a marker file says so).
 * The password is in a 0600 defaults file of a private temporary directory, removed on exit.
 */
export function renderStandby(spec: MariadbStandbySpec): string {
  const flavor = spec.flavor ?? spec.loc.flavor ?? "mariadb";
  const env = envName(spec.passwordEnv, "replication.passwordEnv");
  const cols = replicaStatusColumns(flavor);
  const p = programs(flavor);
  const placeholder = "@@DBSTACK_PASSWORD@@";
  const verify = spec.verifySource ?? true;
  const caFile = `${mariadbPaths(spec.loc).tlsDir}/ca.crt`;
  const [changeBefore, changeAfter] = changeSourceSql(flavor, {
    host: spec.source.host,
    port: spec.source.port,
    user: spec.user,
    passwordSql: placeholder,
    ssl: true,
  }).split(placeholder);
  const dump = [
    p.dump,
    '--defaults-file="$work/source.cnf"',
    `--host=${shellQuote(spec.source.host)}`,
    `--port=${spec.source.port}`,
    "--ssl",
    ...(verify ? ['--ssl-ca="$TLS_DIR/ca.crt"', "--ssl-verify-server-cert"] : []),
    "--single-transaction --all-databases --routines --events --triggers",
    ...seedDumpOptions(flavor),
    "--flush-privileges",
    // The position is the dump's (SET GLOBAL gtid_slave_pos); the primary's own table must not overwrite it.
    ...(flavor === "mariadb" ? ["--ignore-table=mysql.gtid_slave_pos"] : []),
  ].join(" ");
  return [
    scriptHeader(`Replica ${spec.loc.instance} of ${spec.source.host}:${spec.source.port} (GTID replication over TLS).`),
    renderInstancePrelude(spec.loc),
    renderStandbyFunctions(flavor),
    'instance_running || { echo "instance $INSTANCE is not running: its configure step (with the replica option file) runs first" >&2; exit 1; }',
    'marker="$CONF_DIR/seed-incomplete"',
    ...(verify ? ['[ -s "$TLS_DIR/ca.crt" ] || { echo "replica $INSTANCE has no CA certificate in $TLS_DIR to verify its source with: its configure step installs it (tls)" >&2; exit 1; }'] : []),
    `source_host=$(status_field ${sourceHostColumn(flavor)})`,
    'if [ -n "$source_host" ] && [ ! -f "$marker" ]; then',
    '  echo "replica $INSTANCE already replicates from $source_host"',
    "  # The declared password, again: a re-generated one (a stack re-created over kept data) reaches a replica that already follows.",
    `  if [ -n "\${${env}:-}" ]; then`,
    `    pw=$(sql_string "$${env}")`,
    `    { echo ${shellQuote(quietSessionSql(flavor))}; echo ${shellQuote(stopReplicaSql(flavor))}; printf '%s%s%s\\n' ${changeSourcePasswordSql(flavor, placeholder).split(placeholder).map(shellQuote).join(' "$pw" ')}; } | mariadb_root`,
    "  fi",
    `  if [ "$(status_field ${cols.io})" != Yes ] || [ "$(status_field ${cols.sql})" != Yes ]; then echo ${shellQuote(startReplicaSql(flavor))} | mariadb_root; fi`,
    "else",
    '  if [ ! -f "$marker" ]; then',
    "    own=$(mariadb_root -e \"SELECT GROUP_CONCAT(SCHEMA_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')\")",
    '    if [ -n "$own" ] && [ "$own" != NULL ]; then',
    '      echo "instance $INSTANCE is not a replica and holds databases of its own ($own): dbstack will not overwrite it with a copy of the primary (a promoted replica stays a primary; remove the instance to re-create the replica)" >&2',
    "      exit 1",
    "    fi",
    "  fi",
    `  [ -n "\${${env}:-}" ] || { echo "${env} is not set (the replication password)" >&2; exit 1; }`,
    '  touch "$marker"',
    "  work=$(mktemp -d); trap 'rm -rf \"$work\"' EXIT",
    `  pw_option=$${env}; pw_option=\${pw_option//\\\\/\\\\\\\\}; pw_option=\${pw_option//\\"/\\\\\\"}`,
    `  (umask 077; printf '[client]\\nuser=%s\\npassword="%s"\\n' ${shellQuote(spec.user)} "$pw_option" > "$work/source.cnf")`,
    `  printf '%s\\n' ${shellQuote(stopReplicaSql(flavor))} ${shellQuote(resetReplicaSql(flavor))} | mariadb_root`,
    "  # Loaded without writing the replica's binary log: those would be GTIDs of its own, which",
    "  # gtid_strict_mode refuses to mix with the primary's.",
    `  if ! { echo "SET SESSION sql_log_bin = 0;"; ${dump}; } | mariadb_root; then`,
    `    echo ${shellQuote(`seeding replica ${spec.loc.instance} from ${spec.source.host}:${spec.source.port} failed (see above); the next run starts over`)} >&2; exit 1`,
    "  fi",
    `  pw=$(sql_string "$${env}")`,
    `  printf '%s\\n%s%s%s\\n' ${shellQuote(quietSessionSql(flavor))} ${shellQuote(changeBefore)} "$pw" ${shellQuote(changeAfter)} | mariadb_root`,
    ...(verify ? [`  echo ${shellQuote(verifySourceSql(flavor, mariadbString(caFile)))} | mariadb_root`] : []),
    `  echo ${shellQuote(startReplicaSql(flavor))} | mariadb_root`,
    '  rm -f "$marker"',
    '  echo "seeded replica $INSTANCE from a consistent snapshot of the primary (GTID $(mariadb_root -e \'SELECT @@gtid_slave_pos\'))"',
    "fi",
    "for _ in $(seq 1 60); do",
    `  io=$(status_field ${cols.io}); sql=$(status_field ${cols.sql})`,
    `  if [ "$io" = Yes ] && [ "$sql" = Yes ]; then echo "replica $INSTANCE replicates from ${spec.source.host.replace(/[^A-Za-z0-9.:_-]/g, "")}:${spec.source.port} (io=Yes sql=Yes lag=$(status_field ${cols.lag}))"; exit 0; fi`,
    "  sleep 1",
    "done",
    'echo "replica $INSTANCE does not replicate after 60s (io=$io sql=$sql):" >&2',
    "for f in Last_IO_Error Last_SQL_Error; do echo \"  $f: $(status_field $f)\" >&2; done",
    "exit 1",
  ].join("\n");
}

/**
 * `promote`, on the replica's host: lets the SQL thread apply what it already received (at most
 * 30 s), stops replication and forgets the source (RESET SLAVE ALL), and makes the instance
 * writable (read_only OFF, with SET GLOBAL and in its option file). Says what it did.
 */
export function renderPromote(loc: MariadbLocation): string {
  const flavor = loc.flavor ?? "mariadb";
  const cols = replicaStatusColumns(flavor);
  return [
    scriptHeader(`Promotes MariaDB replica ${loc.instance} to a primary (failover).`),
    renderInstancePrelude(loc),
    renderStandbyFunctions(flavor),
    'instance_running || { echo "instance $INSTANCE is not running" >&2; exit 1; }',
    `source_host=$(status_field ${sourceHostColumn(flavor)})`,
    '[ -n "$source_host" ] || { echo "instance $INSTANCE is not a replica" >&2; exit 1; }',
    `echo ${shellQuote(stopReplicaIoSql(flavor))} | mariadb_root`,
    "# What was received is applied before the source is forgotten.",
    "for _ in $(seq 1 30); do",
    `  [ "$(status_field ${cols.sql})" = Yes ] || break`,
    `  case "$(status_field ${cols.sqlState})" in *"read all relay log"*) break ;; esac`,
    "  sleep 1",
    "done",
    `printf '%s\\n' ${shellQuote(stopReplicaSql(flavor))} ${shellQuote(resetReplicaSql(flavor))} "SET GLOBAL read_only = OFF;" | mariadb_root`,
    "# The option file too, so a restart keeps it writable (the next `up` renders it from the stack).",
    '[ -f "$CNF" ] && sed -i -E "s/^read_only[[:space:]]*=.*/read_only = OFF/" "$CNF"',
    'echo "promoted $INSTANCE: stopped replication from $source_host and forgot it (RESET SLAVE ALL); read_only is OFF (also in $CNF): it now accepts writes"',
  ].join("\n");
}

/**
 * Health check of a replica: prints `io=Yes sql=Yes lag=0` (lag in seconds, NULL when unknown)
 * and exits non-zero when a replication thread is not running or the instance is no replica.
 */
export function renderStandbyStatus(loc: MariadbLocation): string {
  const flavor = loc.flavor ?? "mariadb";
  const cols = replicaStatusColumns(flavor);
  return [
    scriptHeader(`Replication status of MariaDB replica ${loc.instance}.`),
    renderInstancePrelude(loc),
    renderStandbyFunctions(flavor),
    "# A server that does not answer reads as threads not running (and fails the check).",
    `io=$(status_field ${cols.io} || true); sql=$(status_field ${cols.sql} || true); lag=$(status_field ${cols.lag} || true)`,
    'echo "io=${io:-No} sql=${sql:-No} lag=${lag:-NULL}"',
    '[ "$io" = Yes ] && [ "$sql" = Yes ]',
  ].join("\n");
}
