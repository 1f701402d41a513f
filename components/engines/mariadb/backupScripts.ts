/**
 * The backup, restore and maintenance tools of a MariaDB instance. Backups share every step after
 * the dump with the other engines (components/backups/archive.ts): compression, GPG, 0600 files,
 * the off-host copy, retention, failure logging.
 */
import { renderArchiveSteps, renderBackupPrelude, renderUnpackDump } from "../../backups/archive";
import type { BackupPolicy } from "../../backups/policy";
import { RESTORE_USAGE, renderConfirmOverwrite, renderPruneSafetyCopies, renderRestoreArgs } from "../../backups/restoreArgs";
import { scriptHeader, shellQuote } from "../../shell";
import { programs } from "./flavor";
import { renderInstancePrelude, type MariadbLocation } from "./host";
import { checkDatabaseName, quoteLiteral, renderGeneratedSql, renderSqlPrelude } from "./sql/identifiers";

export interface MariadbBackupSpec extends MariadbLocation {
  /** Deployment name: backup files are <name>-<UTC time>.tar.gz[.gpg]. */
  name: string;
  /** The databases dumped (each in its own file of the tar). */
  databases: string[];
  policy: BackupPolicy;
}

/** The collation the restore gives a database when the backup does not say (an older backup). */
const FALLBACK_COLLATION = "utf8mb4_unicode_ci";

/** Options of every database dump: consistent, complete, and safe to load with any client charset. */
const DUMP_OPTIONS = "--single-transaction --routines --triggers --events --hex-blob --default-character-set=utf8mb4";

/** Shell function `dump`: the flavour's dump program as root over the instance's socket. */
function dumpFunction(spec: MariadbLocation): string {
  return `dump() { ${programs(spec.flavor ?? "mariadb").dump} --no-defaults --protocol=socket --socket="$SOCKET" -uroot "$@"; }`;
}

function checkDatabases(spec: MariadbBackupSpec): void {
  spec.databases.forEach((db, i) => checkDatabaseName(`backup.databases[${i}]`, db));
}

/**
 * The backup: per database, `mariadb-dump --single-transaction` with routines, triggers and
 * events (a consistent InnoDB snapshot of that database, taken without locking its tables) and
 * its collation; then the server's users and grants (`--system=users`: CREATE USER with password
 * hashes, and GRANTs), for rebuilding accounts by hand after losing the server (dbstack converges
 * accounts itself, so restore does not load them). One tar per run, then the shared archive steps.
 * Each database is consistent in itself, not with the others (as with pg_dump per database).
 */
export function renderMariadbBackup(spec: MariadbBackupSpec): string {
  checkDatabases(spec);
  const flavor = spec.flavor ?? "mariadb";
  return [
    scriptHeader(`Backs up MariaDB instance ${spec.instance} (${spec.databases.join(", ")}) to ${spec.policy.dir}.`),
    renderInstancePrelude(spec),
    renderBackupPrelude(spec.name, spec.policy),
    'instance_running || fail "MariaDB instance $INSTANCE is not running (no answer on $SOCKET)"',
    dumpFunction(spec),
    'mkdir "$work/dump"',
    ...spec.databases.flatMap((db) => [
      `mariadb_root -e ${shellQuote(`SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${quoteLiteral(db)}`)} > "$work/dump/${db}.collation"`,
      `[ -s "$work/dump/${db}.collation" ] || fail ${shellQuote(`database ${db} does not exist`)}`,
      `dump ${DUMP_OPTIONS} ${shellQuote(db)} > "$work/dump/${db}.sql"`,
    ]),
    flavor === "mariadb"
      ? 'dump --system=users > "$work/dump/users.sql"'
      : "# mysqldump has no --system=users: accounts are dbstack's to re-create on the next deploy.",
    'tar -C "$work/dump" -cf "$work/snapshot.tar" .',
    renderArchiveSteps(spec.policy, "snapshot.tar", ".tar"),
  ].join("\n") + "\n";
}

/**
 * The restore: `restore DATABASE [--into NEW_DATABASE] [--yes] [BACKUP_FILE]` (default: the newest
 * backup of this deployment), the same command line as PostgreSQL's. Over an existing database it
 * asks at a terminal, or needs --yes.
 * - `--into NEW_DATABASE`: creates that database (it must not exist) with the original's
 *   collation and loads the dump into it. Only root can use it until grants are given: the
 *   deployment's grants script revokes privileges on databases the spec does not declare.
 * - Into the same database: MariaDB cannot rename a database, so the current one is first dumped
 *   in full to <dir>/<name>-before-restore-<UTC time>-<db>.sql.gz (0600, encrypted like the backups
 *   when they are; never expired by the backups' retention, never picked as "the newest backup";
 *   the restore keeps the newest SAFETY_COPIES_KEPT of each database's); then the
 *   database is dropped, created again with the backup's collation and loaded. Its grants are kept:
 *   MariaDB keys them by database name.
 * The dump is loaded with the client's --sandbox: nothing in a backup can run a client command.
 */
export function renderMariadbRestore(spec: MariadbBackupSpec): string {
  const gpg = spec.policy.gpgRecipient;
  const safetyExt = gpg ? ".sql.gz.gpg" : ".sql.gz";
  const encrypt = gpg ? ` | gpg --batch --yes --trust-model always --recipient ${shellQuote(gpg)} --encrypt` : "";
  return [
    scriptHeader(`Restores a database of MariaDB instance ${spec.instance} from a backup in ${spec.policy.dir}.`),
    `# Usage: ${RESTORE_USAGE}`,
    renderSqlPrelude(spec),
    dumpFunction(spec),
    `NAME=${shellQuote(spec.name)}`,
    `DEST=${shellQuote(spec.policy.dir)}`,
    renderRestoreArgs(64),
    renderConfirmOverwrite(),
    renderPruneSafetyCopies(),
    renderUnpackDump(".sql", [".collation"]),
    `collation=$(cat "$work/dump/$db.collation" 2>/dev/null || true)`,
    `[[ "$collation" =~ ^utf8mb4_[a-z0-9_]+$ ]] || collation=${FALLBACK_COLLATION}`,
    'exists() { [ -n "$(sql_root -e "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = \'$1\'")" ]; }',
    'load_into() { mariadb_root --sandbox --database="$1" < "$work/dump/$db.sql"; }',
    'if [ -n "$into" ]; then',
    '  ! exists "$into" || { echo "database $into already exists: restore --into creates a new database; choose another name" >&2; exit 1; }',
    '  sql_root -e "CREATE DATABASE \\`$into\\` CHARACTER SET utf8mb4 COLLATE $collation"',
    '  load_into "$into"',
    '  echo "restored database $db from $backup into new database $into (only root may use it until it is granted)"',
    "else",
    '  if exists "$db"; then',
    '    confirm_overwrite "database $db"',
    `    safety="$DEST/$NAME-before-restore-$(date -u +%Y%m%dT%H%M%SZ)-$db${safetyExt}"`,
    `    dump ${DUMP_OPTIONS} "$db" | gzip -6${encrypt} > "$safety.partial"`,
    '    chmod 600 "$safety.partial"; mv "$safety.partial" "$safety"',
    '    echo "kept the current contents of $db in $safety"',
    "  fi",
    '  sql_root -e "DROP DATABASE IF EXISTS \\`$db\\`; CREATE DATABASE \\`$db\\` CHARACTER SET utf8mb4 COLLATE $collation"',
    '  load_into "$db"',
    '  echo "restored database $db from $backup"',
    `  prune_safety_copies "$DEST/$NAME-before-restore-"*"-$db"${shellQuote(safetyExt)}`,
    "fi",
  ].join("\n") + "\n";
}

/** OPTIMIZE only tables this small (bytes of data and indexes): the rebuild reads and writes all of it. */
export const OPTIMIZE_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Maintenance: ANALYZE TABLE on every table of the databases (mariadb-check --analyze), which
 * refreshes the optimizer's statistics: InnoDB samples a few pages per index, so it is cheap.
 * OPTIMIZE TABLE is different: on InnoDB it rebuilds the table (ALTER TABLE ... FORCE: a full
 * copy, the table's size again on disk, online but I/O-heavy). It pays only where deletes left
 * much free space, and it is cheap only for small tables; so it runs on base tables under
 * OPTIMIZE_MAX_BYTES whose free space is over 20% of their size and over 1 MiB, and on no others.
 * Those statements are generated by the server with each table name quoted, since table names
 * are the owner's and are not validated by dbstack.
 */
export function renderMariadbMaintenance(spec: MariadbLocation & { name: string; databases: string[] }): string {
  spec.databases.forEach((db, i) => checkDatabaseName(`databases[${i}]`, db));
  const list = spec.databases.map(quoteLiteral).join(", ");
  const optimize = [
    "SELECT CONCAT('OPTIMIZE TABLE `', REPLACE(TABLE_SCHEMA, '`', '``'), '`.`', REPLACE(TABLE_NAME, '`', '``'), '`;')",
    `  FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${list}) AND TABLE_TYPE = 'BASE TABLE'`,
    `   AND DATA_LENGTH + INDEX_LENGTH < ${OPTIMIZE_MAX_BYTES} AND DATA_FREE > 0.2 * (DATA_LENGTH + INDEX_LENGTH) AND DATA_FREE > 1048576`,
    "  ORDER BY TABLE_SCHEMA, TABLE_NAME;",
  ].join("\n");
  return [
    scriptHeader(`Maintenance of MariaDB instance ${spec.instance}: analyze, and optimize small fragmented tables.`),
    renderInstancePrelude(spec),
    'instance_running || { echo "$(date -u +%FT%TZ) MariaDB instance $INSTANCE is not running" >&2; exit 1; }',
    `sql_root() { mariadb_root --raw "$@"; }`,
    `mariadb-check --no-defaults --protocol=socket --socket="$SOCKET" -uroot --analyze --silent --databases ${spec.databases.map(shellQuote).join(" ")}`,
    "# OPTIMIZE prints one status row per table; only errors matter here.",
    renderGeneratedSql(optimize, "sql_root | { grep -E '\\berror\\b' >&2 || true; }"),
    'echo "$(date -u +%FT%TZ) analyze ok"',
  ].join("\n") + "\n";
}
