import type { HookDialect } from "../../hooks/dialect";
import { MIGRATIONS_TABLE } from "../../hooks/dialect";
import { STAMP_GLOB } from "../../backups/archive";
import { shellQuote } from "../../shell";
import { renderClusterPrelude, type ClusterLocation } from "./host";

export interface PostgresHookTarget extends ClusterLocation {
  /** The database the hook migrates and checks. */
  database: string;
  /** Its owner: migrations run as this role, so default privileges cover the tables they create. */
  owner: string;
  /** Standbys expected to be streaming from this cluster (health check). */
  expectedStandbys: number;
  /**
   * Backup directory and file prefix, for the newest-backup age check; the cron file that runs
   * the backups, whose age tells how long "no backup yet" may last.
   */
  backup?: { dir: string; prefix: string; maxAgeHours: number; cronFile: string };
}

/**
 * PostgreSQL for the hook runner: psql over the Unix socket as postgres with `SET ROLE` to the
 * database owner, a session-level advisory lock held for the whole hook by a psql coprocess
 * (so two deploys, from any machine, never migrate at once), and transactional DDL.
 */
export function postgresDialect(t: PostgresHookTarget): HookDialect {
  const role = `"${t.owner.replace(/"/g, '""')}"`;
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
      // As the superuser: pg_stat_replication hides its state column from other roles.
      sql: "RESET ROLE; SELECT count(*) || ' streaming, max replay lag ' || coalesce(max(replay_lag)::text, '0') FROM pg_stat_replication WHERE state = 'streaming'",
      match: `^${t.expectedStandbys} streaming`,
    },
  ];
  if (t.backup) {
    const glob = `${t.backup.prefix}-${STAMP_GLOB}.tar.gz*`;
    checks.push({
      name: "newest backup",
      shell: [
        `newest=$(find ${shellQuote(t.backup.dir)} -maxdepth 1 -type f -name ${shellQuote(glob)} -printf '%T@ %f\\n' 2>/dev/null | sort -n | tail -n 1)`,
        "if [ -z \"$newest\" ]; then",
        "  # No backup yet is fine only while the schedule is younger than the age limit.",
        `  installed=$(stat -c %Y ${shellQuote(t.backup.cronFile)} 2>/dev/null || date +%s)`,
        '  waited_h=$(( ($(date +%s) - installed) / 3600 ))',
        `  [ "$waited_h" -lt ${t.backup.maxAgeHours} ] || { echo "no backup since the schedule was installed \${waited_h}h ago (limit ${t.backup.maxAgeHours}h): check the backup log"; exit 1; }`,
        '  echo "no backup yet (schedule installed ${waited_h}h ago)"',
        "else",
        '  age_h=$(( ($(date +%s) - ${newest%%.*}) / 3600 ))',
        `  echo "\${newest#* } (\${age_h}h old)"; [ "$age_h" -lt ${t.backup.maxAgeHours} ] || { echo "newest backup is \${age_h}h old (limit ${t.backup.maxAgeHours}h)"; exit 1; }`,
        "fi",
      ].join("\n"),
    });
  }
  return {
    engine: "postgres",
    clientFunctions: [
      renderClusterPrelude(t),
      `DBNAME=${shellQuote(t.database)}`,
      `db_exec() { psql_su -d "$DBNAME" -c ${shellQuote(`SET ROLE ${role}`)} -f -; }`,
      `db_query() { psql_su -d "$DBNAME" -tA -c ${shellQuote(`SET ROLE ${role}`)} -c "$1" | cut -d'|' -f1; }`,
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
    transactionalDdl: true,
    begin: "BEGIN;",
    commit: "COMMIT;",
    nowUtc: "now()",
    builtinChecks: checks,
  };
}
