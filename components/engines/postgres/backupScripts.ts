import { renderArchiveSteps, renderBackupPrelude, renderUnpackDump } from "../../backups/archive";
import type { BackupPolicy } from "../../backups/policy";
import { RESTORE_USAGE, renderRestoreArgs } from "../../backups/restoreArgs";
import { scriptHeader, shellQuote } from "../../shell";
import { renderClusterPrelude, type ClusterLocation } from "./host";

export interface PostgresBackupSpec extends ClusterLocation {
  /** Deployment name: backup files are <name>-<UTC time>.tar.gz[.gpg]. */
  name: string;
  databases: string[];
  policy: BackupPolicy;
}

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
    ...spec.databases.map(
      (db) => `runuser -u postgres -- pg_dump -h /var/run/postgresql -p "$PORT" --format=custom --dbname=${shellQuote(db)} > "$work/dump/${db}.dump"`,
    ),
    'tar -C "$work/dump" -cf "$work/snapshot.tar" .',
    renderArchiveSteps(spec.policy, "snapshot.tar", ".tar"),
  ].join("\n") + "\n";
}

/**
 * The restore: `restore DATABASE [--into NEW_DATABASE] [BACKUP_FILE]` (default: the newest backup).
 * Into a new database: creates it (owned like the original) and restores into it. Into the same
 * database: renames the current one aside as <db>_before_restore_<UTC time> (after ending its
 * sessions), then recreates it from the dump with its settings and grants (pg_restore --create).
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
    renderUnpackDump(".dump"),
    'restore_as_postgres() { runuser -u postgres -- pg_restore -h /var/run/postgresql -p "$PORT" --exit-on-error "$@" < "$work/dump/$db.dump"; }',
    'if [ -n "$into" ]; then',
    '  owner=$(psql_su -d postgres -tA -c "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = \'$db\'")',
    '  [ -n "$owner" ] || owner=postgres',
    '  psql_su -d postgres -c "CREATE DATABASE \\"$into\\" OWNER \\"$owner\\" TEMPLATE template0"',
    "  # The copy gets the source database's access rules, not the default PUBLIC CONNECT, and a",
    "  # comment that tells dbstack's destroy it may drop the copy with its owner.",
    '  psql_su -d postgres -c "REVOKE ALL ON DATABASE \\"$into\\" FROM PUBLIC" >/dev/null',
    `  psql_su -d postgres -tA -c "SELECT format('GRANT %s ON DATABASE %I TO %I;', a.privilege_type, '$into', pg_get_userbyid(a.grantee)) FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = '$db' AND a.grantee <> 0 AND a.grantee <> d.datdba" | psql_su -d postgres >/dev/null`,
    `  psql_su -d postgres -c "COMMENT ON DATABASE \\"$into\\" IS '${RESTORED_MARK} $db from \${backup##*/}'" >/dev/null`,
    '  restore_as_postgres --dbname="$into"',
    '  echo "restored database $db from $backup into new database $into"',
    "else",
    '  aside="${db}_before_restore_$(date -u +%Y%m%d%H%M%S)"',
    '  psql_su -d postgres -c "ALTER DATABASE \\"$db\\" ALLOW_CONNECTIONS false" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \'$db\' AND pid <> pg_backend_pid()" >/dev/null',
    '  psql_su -d postgres -c "ALTER DATABASE \\"$db\\" RENAME TO \\"$aside\\"" -c "ALTER DATABASE \\"$aside\\" ALLOW_CONNECTIONS true"',
    `  psql_su -d postgres -c "COMMENT ON DATABASE \\"$aside\\" IS '${RESTORED_MARK} $db: set aside by a restore'" >/dev/null`,
    '  restore_as_postgres --create --dbname=postgres',
    '  echo "restored database $db from $backup; the previous one is kept as $aside"',
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
