/**
 * MariaDB for the hook runner (components/hooks/migrationRunner.ts).
 *
 * ## When a migration fails halfway
 * MariaDB's DDL is not transactional: every CREATE, ALTER, DROP or RENAME commits on its own
 * (an implicit commit), so a migration cannot be wrapped in one transaction the way PostgreSQL's
 * and SQLite's are. What dbstack does instead:
 * - A migration's SQL runs in one client session that stops at the first failing statement
 *   (the client without --force). The statements before it ran and stay applied; the failing
 *   statement did not take effect (each statement is atomic on InnoDB, DDL included since
 *   MariaDB 10.6); the statements after it did not run.
 * - The migration is NOT recorded in dbstack_migrations: the record is written in a second
 *   session, only after the whole migration succeeded.
 * - The deploy fails with `migration <id> failed: ERROR <code> (<state>) at line <n>: <message>`;
 *   line <n> is the line of the migration file where the failing statement starts. The message
 *   then says what stayed applied and how to recover.
 * - Recovery: the next deploy runs the whole migration again from its first statement. Either
 *   undo by hand what ran (the statements above line <n>) and fix the failing statement, or make
 *   the migration safe to run again over its own partial work (CREATE TABLE IF NOT EXISTS, ALTER
 *   TABLE ... ADD COLUMN IF NOT EXISTS, DROP ... IF EXISTS, CREATE OR REPLACE ...) and deploy. A
 *   migration that has not been recorded may be edited: its checksum is compared only once it is
 *   applied. Writing each migration idempotently from the start makes any failure a matter of
 *   fixing and redeploying.
 *
 * ## Who runs what
 * Migrations and declared checks are the user's SQL: they run as the database owner's account
 * (with its rights and no more) over the instance's Unix socket, as 'owner'@'localhost' (the
 * owner needs a host pattern that matches localhost: "localhost" or "%"). The password comes from
 * DBSTACK_OWNER_PASSWORD, or for the on-demand health tool from the owner's 0600 password file,
 * and reaches the client in a 0600 option file (--defaults-file) that the script deletes on exit,
 * never as an argument. The client runs with --binary-mode, which turns off every client
 * command except DELIMITER and \C in batch input (so `\!`, `system`, `source`, `tee`, `connect`
 * are SQL syntax errors, not commands), and with --sandbox as well, which refuses any client
 * command that touches files or runs programs. --sandbox does not cover `LOAD DATA LOCAL
 * INFILE` (the server asks the client for a file, which the client, as root, could read): every
 * client dbstack runs has --local-infile=0, and the server's option file says local_infile = OFF
 * unless `parameters` declares it. The migration's SQL reaches the client on stdin from a 0600
 * file, never inside the script. dbstack's own SQL (the deploy lock) runs as root.
 */
import { newestBackupCheck, type BackupAgeTarget } from "../../hooks/backupAge";
import type { HookDialect } from "../../hooks/dialect";
import { MIGRATIONS_TABLE } from "../../hooks/dialect";
import { renderOwnerLogin } from "../../hooks/ownerPassword";
import { shellQuote } from "../../shell";
import type { MariadbLocation } from "./host";
import { checkDatabaseName, checkUserName, quoteLiteral, renderSqlPrelude } from "./sql/identifiers";
import { lastDrillCheck, type DrillAgeTarget } from "../../hooks/drillAge";

export interface MariadbHookTarget extends MariadbLocation {
  /** The database the hook migrates and checks. */
  database: string;
  /** The user migrations and declared checks log in as (its account for localhost): the database's owner. */
  owner: string;
  /**
   * Where the on-demand health tool finds the owner's password (a 0600 file only root reads),
   * when DBSTACK_OWNER_PASSWORD is not in its environment. The deploy always passes it there.
   */
  ownerPasswordFile?: string;
  /**
   * Backup directory and file prefix, for the newest-backup age check; the cron file that runs
   * the backups, whose age tells how long "no backup yet" may last.
   */
  backup?: BackupAgeTarget;
  /** The last restore drill's result (PITR), for the check that warns on a failed or late drill. */
  drill?: DrillAgeTarget;
}

/** How long a deploy waits for another deploy's migration lock, in seconds. */
export const LOCK_WAIT_SECONDS = 120;

/**
 * The GET_LOCK name of a database's migrations. Lock names are server-wide and at most 64
 * characters: a fixed prefix and the MD5 of the database name fit any name.
 */
export function migrationLockSql(database: string): string {
  return `CONCAT('${MIGRATIONS_TABLE}:', MD5(${quoteLiteral(database)}))`;
}

export function mariadbDialect(t: MariadbHookTarget): HookDialect {
  checkDatabaseName("database", t.database);
  checkUserName("owner", t.owner);
  const checks: HookDialect["builtinChecks"] = [
    { name: "select 1", sql: "SELECT 1", expect: "1" },
    { name: "version", sql: "SELECT VERSION()" },
    {
      name: "connections",
      sql:
        "SELECT CONCAT(VARIABLE_VALUE, ' of ', @@GLOBAL.max_connections, IF(VARIABLE_VALUE >= 0.9 * @@GLOBAL.max_connections, ' (over 90%)', ''))" +
        " FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED'",
      match: "^[0-9]+ of [0-9]+$",
    },
  ];
  if (t.backup) checks.push(newestBackupCheck(t.backup));
  if (t.drill) checks.push(lastDrillCheck(t.drill));
  return {
    engine: "mariadb",
    clientFunctions: [
      renderSqlPrelude(t),
      renderOwnerLogin({ database: t.database, owner: t.owner, noun: "user", ownerPasswordFile: t.ownerPasswordFile }),
      "# The password goes to the client in an option file only root can read, removed when the script exits.",
      'OWNER_CNF=$(mktemp)',
      `trap 'rm -f "$OWNER_CNF"' EXIT`,
      "# Option-file value syntax: inside double quotes, \\, \" and a newline are written with a backslash.",
      'owner_pw=${DBSTACK_OWNER_PASSWORD//"\\\\"/"\\\\\\\\"}',
      'owner_pw=${owner_pw//"\\""/"\\\\\\""}',
      "owner_pw=${owner_pw//$'\\n'/\"\\\\n\"}",
      'printf \'[client]\\npassword="%s"\\n\' "$owner_pw" > "$OWNER_CNF"',
      "unset owner_pw",
      "# --binary-mode: no client command but DELIMITER and \\C in piped SQL; --sandbox: none that reaches files or programs;",
      "# --local-infile=0: LOAD DATA LOCAL INFILE cannot make the client (root) send a host file to the server.",
      'mariadb_owner() { mariadb --defaults-file="$OWNER_CNF" --local-infile=0 --protocol=socket --socket="$SOCKET" --user="$OWNER" --database="$DBNAME" --binary-mode --sandbox --batch --skip-column-names "$@"; }',
      "db_exec() { mariadb_owner; }",
      "db_query() { mariadb_owner -e \"$1\" | cut -f1; }",
    ].join("\n"),
    acquireLock: [
      `# GET_LOCK, held by one root session (a coprocess) until this script exits and its stdin closes.`,
      "# -n: unbuffered, so the session's answer arrives while it stays open. Its stderr must not",
      "# hold the script's open: the caller waits for that pipe to close.",
      'coproc LOCK_SESSION { mariadb_root -n 2>&1; } 2>/dev/null',
      `echo ${shellQuote(`SELECT IF(GET_LOCK(${migrationLockSql(t.database)}, ${LOCK_WAIT_SECONDS}) = 1, 'locked', 'busy');`)} >&"\${LOCK_SESSION[1]}"`,
      "locked=no",
      `while read -r -t ${LOCK_WAIT_SECONDS + 10} line <&"\${LOCK_SESSION[0]}"; do case "$line" in locked) locked=yes; break ;; busy) break ;; esac; done`,
      `[ "$locked" = yes ] || { kill "$LOCK_SESSION_PID" 2>/dev/null; echo "another deploy has held the migration lock on $DBNAME for ${LOCK_WAIT_SECONDS}s" >&2; exit 1; }`,
    ].join("\n"),
    trackingTableDdl: `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (\n  id varchar(255) NOT NULL PRIMARY KEY,\n  checksum char(64) NOT NULL,\n  applied_at datetime NOT NULL\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;`,
    // The SQL as it is: --binary-mode and --sandbox, not a wrapper, keep the client from acting on it,
    // and the error's "at line N" is then the line of the migration file.
    migrationSql: (sql) => sql,
    transactionalDdl: false,
    begin: "START TRANSACTION;",
    commit: "COMMIT;",
    nowUtc: "UTC_TIMESTAMP()",
    builtinChecks: checks,
  };
}
