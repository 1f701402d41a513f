import { renderArchiveSteps, renderBackupPrelude, renderUnpackDump } from "../../backups/archive";
import type { BackupPolicy } from "../../backups/policy";
import { RESTORE_USAGE, SAFETY_COPIES_KEPT, renderConfirmOverwrite, renderRestoreArgs } from "../../backups/restoreArgs";
import { scriptHeader, shellQuote, withHeredoc } from "../../shell";
import { renderClusterPrelude, type ClusterLocation } from "./host";
import { renderDumpWithFigures, renderKeepFigures } from "./dumpDrill";

export interface PostgresBackupSpec extends ClusterLocation {
  /** Deployment name: backup files are <name>-<UTC time>.tar.gz[.gpg]. */
  name: string;
  databases: string[];
  policy: BackupPolicy;
}

/**
 * zlib level of the custom-format dumps inside the archive. The shared archive steps gzip the
 * whole tar again, so the dumps need only to be made small cheaply: measured on a 1 GB database
 * of mixed types (bench/backup.ts), pg_dump's default level 6 spent 12.8 s of CPU where level 1
 * spent 4.9 s, and the archive's gzip then costs about the same on either (it cannot shrink
 * deflated data: 4.4 s on level 6's 242 MB, 4.9 s on level 1's 274 MB). With level 6 the tool
 * paid for two full compressions and took 1.2x (profiled) to 1.85x (bench:backup, busy host) a
 * bare `pg_dump -Fc`; with level 1 it took 0.89x, for backups ~13% larger. Level 0 (one
 * compression, by the archive's gzip) was no faster: gzip over the raw 764 MB dump cost 15.6 s
 * of CPU and runs after the dump, not beside it.
 */
export const DUMP_COMPRESSION_LEVEL = 1;

/**
 * The backup: `pg_dumpall --globals-only` (roles, without passwords' plaintext: PostgreSQL keeps
 * only SCRAM verifiers) and `pg_dump --format=custom` per database, in one tar, then the shared
 * archive steps (compress, encrypt, 0600, off-host copy, retention).
 */
export function renderPostgresBackup(spec: PostgresBackupSpec): string {
  return [
    scriptHeader(`Backs up PostgreSQL cluster ${spec.cluster} (${spec.databases.join(", ")}) to ${spec.policy.dir}.`),
    renderClusterPrelude(spec),
    renderBackupPrelude(spec.name, spec.policy),
    'cluster_running || fail "cluster $V/$CLUSTER is not running"',
    'mkdir "$work/dump"',
    'runuser -u postgres -- pg_dumpall -h /var/run/postgresql -p "$PORT" --globals-only > "$work/dump/globals.sql"',
    ...(spec.policy.figures
      ? // For the restore drill (dumpDrill.ts): each database's figures in its dump's own snapshot.
        [renderDumpWithFigures(), ': > "$work/figures.tsv"', ...spec.databases.map((db) => `dump_with_figures ${shellQuote(db)} "$work/dump/${db}.dump" "$work/figures.tsv"`)]
      : spec.databases.map(
          (db) => `runuser -u postgres -- pg_dump -h /var/run/postgresql -p "$PORT" --format=custom --compress=${DUMP_COMPRESSION_LEVEL} --dbname=${shellQuote(db)} > "$work/dump/${db}.dump"`,
        )),
    'tar -C "$work/dump" -cf "$work/snapshot.tar" .',
    renderArchiveSteps(spec.policy, "snapshot.tar", ".tar"),
    ...(spec.policy.figures ? [renderKeepFigures()] : []),
  ].join("\n") + "\n";
}

/**
 * The restore: `restore DATABASE [--into NEW_DATABASE] [--yes] [BACKUP_FILE]` (default: the newest
 * backup). Into a new database: creates it (owned like the original) and restores into it. Into the
 * same database (asks at a terminal, or needs --yes): renames the current one aside as
 * <db>_before_restore_<UTC time> (after ending its sessions), then recreates it from the dump with
 * its settings and grants (pg_restore --create); of the databases set aside for it, the newest
 * SAFETY_COPIES_KEPT stay and older ones are dropped.
 */
/**
 * The start of the comment restore puts on the databases it creates (a copy, or the database it
 * set aside), so that destroy, when data removal is allowed, can drop them with their owner.
 */
export const RESTORED_MARK = "dbstack restore:";

export function renderPostgresRestore(spec: PostgresBackupSpec): string {
  return [
    scriptHeader(`Restores a database of PostgreSQL cluster ${spec.cluster} from a backup in ${spec.policy.dir}.`),
    `# Usage: ${RESTORE_USAGE}`,
    renderClusterPrelude(spec),
    `NAME=${shellQuote(spec.name)}`,
    `DEST=${shellQuote(spec.policy.dir)}`,
    renderRestoreArgs(63),
    renderConfirmOverwrite("restore beside it with --into NEW_DATABASE"),
    renderUnpackDump(".dump"),
    'restore_as_postgres() { runuser -u postgres -- pg_restore -h /var/run/postgresql -p "$PORT" --exit-on-error "$@" < "$work/dump/$db.dump"; }',
    'if [ -n "$into" ]; then',
    "  # One session: the new database, owned like the original; the source database's access rules",
    "  # rather than the default PUBLIC CONNECT; and a comment that tells dbstack's destroy it may",
    "  # drop the copy with its owner. Names and the file name reach SQL as psql variables, quoted.",
    withHeredoc(
      `  psql_su -d postgres -v db="$db" -v into="$into" -v comment="${RESTORED_MARK} $db from \${backup##*/}" >/dev/null`,
      [
        "SELECT format('CREATE DATABASE %I OWNER %I TEMPLATE template0', :'into', coalesce((SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'db'), 'postgres')) \\gexec",
        "SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'into') \\gexec",
        "SELECT format('GRANT %s ON DATABASE %I TO %I', a.privilege_type, :'into', pg_get_userbyid(a.grantee)) FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = :'db' AND a.grantee <> 0 AND a.grantee <> d.datdba \\gexec",
        "SELECT format('COMMENT ON DATABASE %I IS %L', :'into', :'comment') \\gexec",
      ].join("\n"),
    ),
    '  restore_as_postgres --dbname="$into"',
    '  echo "restored database $db from $backup into new database $into"',
    "else",
    '  confirm_overwrite "database $db"',
    '  aside="${db}_before_restore_$(date -u +%Y%m%d%H%M%S)"',
    '  psql_su -d postgres -c "ALTER DATABASE \\"$db\\" ALLOW_CONNECTIONS false" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \'$db\' AND pid <> pg_backend_pid()" >/dev/null',
    '  psql_su -d postgres -c "ALTER DATABASE \\"$db\\" RENAME TO \\"$aside\\"" -c "ALTER DATABASE \\"$aside\\" ALLOW_CONNECTIONS true"',
    `  psql_su -d postgres -c "COMMENT ON DATABASE \\"$aside\\" IS '${RESTORED_MARK} $db: set aside by a restore'" >/dev/null`,
    '  restore_as_postgres --create --dbname=postgres',
    '  echo "restored database $db from $backup; the previous one is kept as $aside"',
    `  # The newest ${SAFETY_COPIES_KEPT} databases set aside for $db stay; older ones (by their names' UTC time) are dropped.`,
    `  printf '%s\\n' ${shellQuote(
      `SELECT datname FROM pg_database d WHERE datname ~ ('^' || :'db' || '_before_restore_[0-9]{14}$') AND shobj_description(d.oid, 'pg_database') = :'mark' ORDER BY datname DESC OFFSET ${SAFETY_COPIES_KEPT};`,
    )} | psql_su -d postgres -At -v db="$db" -v mark="${RESTORED_MARK} $db: set aside by a restore" | while IFS= read -r old; do`,
    `    psql_su -d postgres -c "DROP DATABASE \\"$old\\" WITH (FORCE)" >/dev/null && echo "dropped an older safety copy (${SAFETY_COPIES_KEPT} are kept): $old"`,
    "  done",
    "fi",
  ].join("\n") + "\n";
}

/** Maintenance (the seed's vacuumdb/analyzedb): VACUUM and ANALYZE every database. */
export function renderPostgresMaintenance(spec: ClusterLocation & { name: string }): string {
  return [
    scriptHeader(`Maintenance of PostgreSQL cluster ${spec.cluster}: vacuum and analyze.`),
    renderClusterPrelude(spec),
    'cluster_running || { echo "$(date -u +%FT%TZ) cluster $V/$CLUSTER is not running" >&2; exit 1; }',
    'runuser -u postgres -- vacuumdb -h /var/run/postgresql -p "$PORT" --all --analyze --quiet',
    'echo "$(date -u +%FT%TZ) vacuum and analyze ok"',
  ].join("\n") + "\n";
}
