import { newestBackupCheck, type BackupAgeTarget } from "../../hooks/backupAge";
import { lastDrillCheck, type DrillAgeTarget } from "../../hooks/drillAge";
import type { HookDialect } from "../../hooks/dialect";
import { MIGRATIONS_TABLE } from "../../hooks/dialect";
import { renderOwnerLogin } from "../../hooks/ownerPassword";
import { shellQuote } from "../../shell";
import { renderClusterPrelude, type ClusterLocation } from "./host";

export interface PostgresHookTarget extends ClusterLocation {
  /** The database the hook migrates and checks. */
  database: string;
  /**
   * Its owner: migrations and declared checks log in as this role (with its own password), so
   * they have its rights and no more, and default privileges cover the tables they create.
   */
  owner: string;
  /**
   * Where the on-demand health tool finds the owner's password (a 0600 file only root reads),
   * when DBSTACK_OWNER_PASSWORD is not in its environment. The deploy always passes it there.
   */
  ownerPasswordFile?: string;
  /** Standbys expected to be streaming from this cluster (health check). */
  expectedStandbys: number;
  /**
   * Backup directory and file prefix, for the newest-backup age check; the cron file that runs
   * the backups, whose age tells how long "no backup yet" may last.
   */
  backup?: BackupAgeTarget;
  /** The last restore drill's result (PITR), for the check that warns on a failed or late drill. */
  drill?: DrillAgeTarget;
}

/**
 * PostgreSQL for the hook runner. Migrations and declared health checks are the user's SQL: they
 * run over a session logged in as the database owner (scram over the cluster's Unix socket, with
 * the owner's password from DBSTACK_OWNER_PASSWORD), never as the superuser with `SET ROLE`, so
 * `RESET ROLE` and `SET SESSION AUTHORIZATION` give nothing. psql never lexes the user's text:
 * a migration reaches it inside a dollar-quoted literal run with `\gexec`, a check as a `-c`
 * argument (which psql sends to the server as it is), so `\!`, `\o |cmd`, `\copy ... program`,
 * `\getenv` and `:variables` are SQL syntax errors, not client commands. dbstack's own SQL (the
 * advisory lock, the standby check that needs the superuser) runs as postgres over peer.
 */
export function postgresDialect(t: PostgresHookTarget): HookDialect {
  const checks: HookDialect["builtinChecks"] = [
    { name: "select 1", sql: "SELECT 1", expect: "1" },
    { name: "version", sql: "SHOW server_version" },
    {
      name: "connections",
      sql: "SELECT count(*) || ' of ' || current_setting('max_connections') || CASE WHEN count(*) >= 0.9 * current_setting('max_connections')::int THEN ' (over 90%)' ELSE '' END FROM pg_stat_activity",
      match: "^[0-9]+ of [0-9]+$",
    },
    {
      name: "streaming standbys",
      // As the superuser (dbstack's own SQL): pg_stat_replication hides its state column from other roles.
      shell: [
        `out=$(psql_su -d "$DBNAME" -tA -c ${shellQuote("SELECT count(*) || ' streaming, max replay lag ' || coalesce(max(replay_lag)::text, '0') FROM pg_stat_replication WHERE state = 'streaming'")})`,
        'echo "$out"',
        `case "$out" in ${shellQuote(`${t.expectedStandbys} streaming`)}*) ;; *) exit 1 ;; esac`,
      ].join("\n"),
    },
  ];
  if (t.patroni) checks.push(patroniMembersCheck(t.patroni.restUrl));
  if (t.backup) checks.push(newestBackupCheck(t.backup));
  if (t.drill) checks.push(lastDrillCheck(t.drill));
  return {
    engine: "postgres",
    clientFunctions: [
      renderClusterPrelude(t),
      renderOwnerLogin({ database: t.database, owner: t.owner, noun: "role", ownerPasswordFile: t.ownerPasswordFile }),
      "# As the owner, over the socket with scram (pg_hba: local all all scram-sha-256). The password is in",
      "# psql's environment only (readable by postgres and root, who have the data anyway), never an argument.",
      'psql_owner() { PGPASSWORD="$DBSTACK_OWNER_PASSWORD" runuser -u postgres -- psql -X -q -w -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$PORT" -U "$OWNER" -d "$DBNAME" "$@"; }',
      ...(t.patroni
        ? [
            "# A Patroni member that does not lead: the owner reaches the leader over TLS (verify-full against the deployment's CA).",
            "psql_owner() (",
            '  local name host port; read -r name host port <<<"$(ha_leader)" || { echo "no leader of the Patroni cluster is known to this member" >&2; return 1; }',
            '  if [ "$name" = "$HA_MEMBER" ]; then host=/var/run/postgresql; port=$PORT; else export PGSSLMODE=verify-full PGSSLROOTCERT="$HA_HOME/ca.crt"; fi',
            '  PGPASSWORD="$DBSTACK_OWNER_PASSWORD" exec runuser -u postgres -- psql -X -q -w -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U "$OWNER" -d "$DBNAME" "$@"',
            ")",
          ]
        : []),
      "db_exec() { psql_owner -f -; }",
      "# The leading space: psql runs a -c string that starts with a backslash as a meta-command.",
      "db_query() { psql_owner -tA -c \" $1\" | cut -d'|' -f1; }",
    ].join("\n"),
    acquireLock: [
      "# A session-level advisory lock, held by a psql coprocess until this script exits.",
      "# Its stderr must not hold the script's open: the caller waits for that pipe to close.",
      'coproc LOCK_SESSION { psql_su -d "$DBNAME" -tA 2>&1; } 2>/dev/null',
      `echo "SELECT pg_advisory_lock(hashtext('${MIGRATIONS_TABLE}')); SELECT 'locked';" >&"\${LOCK_SESSION[1]}"`,
      "locked=no",
      'while read -r -t 120 line <&"${LOCK_SESSION[0]}"; do [ "$line" = locked ] && { locked=yes; break; }; done',
      '[ "$locked" = yes ] || { kill "$LOCK_SESSION_PID" 2>/dev/null; echo "another deploy has held the migration lock on $DBNAME for 120s" >&2; exit 1; }',
    ].join("\n"),
    trackingTableDdl: `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (\n  id text PRIMARY KEY,\n  checksum text NOT NULL,\n  applied_at timestamptz NOT NULL\n);`,
    migrationSql: gexecLiteral,
    transactionalDdl: true,
    begin: "BEGIN;",
    commit: "COMMIT;",
    nowUtc: "now()",
    builtinChecks: checks,
  };
}

/**
 * `SELECT $tag$<sql>$tag$ \gexec`: psql's lexer sees one string literal (it interprets nothing
 * inside dollar quotes) and `\gexec` sends its value to the server as one query, unparsed. The
 * tag is one that does not occur in the SQL, so the literal cannot be closed early. Errors keep
 * the migration's own line numbers (LINE 3: ...) because the literal starts with its first byte.
 */
export function gexecLiteral(sql: string): string {
  let tag = "dbstack_sql";
  for (let i = 1; sql.includes(`$${tag}$`); i++) tag = `dbstack_sql_${i}`;
  return `SELECT $${tag}$${sql}$${tag}$ \\gexec`;
}

/**
 * With HA: each Patroni member (role, state, lag, timeline) on one line, from this member's Patroni;
 * fails unless one member leads and every other one streams or runs.
 */
function patroniMembersCheck(restUrl: string): HookDialect["builtinChecks"][number] {
  return {
    name: "patroni members",
    shell: [
      `out=$(curl -sf --max-time 5 --cacert "$HA_HOME/ca.crt" ${shellQuote(`${restUrl}/cluster`)}) || { echo "Patroni on this host does not answer"; exit 1; }`,
      `printf '%s' "$out" | jq -r '[.members[] | "member \\(.name) role=\\(.role) state=\\(.state) lag=\\(.lag // 0) timeline=\\(.timeline // "-")"] | join("; ")'`,
      `printf '%s' "$out" | jq -e '([.members[] | select(.role == "leader" and .state == "running")] | length == 1) and all(.members[]; .state == "running" or .state == "streaming")' >/dev/null`,
    ].join("\n"),
  };
}
