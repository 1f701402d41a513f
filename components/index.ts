// dbstack: Pulumi components for self-hosted databases.
export { SqliteDatabase, type SqliteDatabaseArgs, type SqliteBackupArgs } from "./engines/sqlite/database";
export { SQLITE_PRAGMA_DEFAULTS, type SqlitePragmas } from "./engines/sqlite/pragmas";
export { sqliteUrls, type SqliteUrls } from "./engines/sqlite/urls";
export { HostCommand, type HostCommandArgs } from "./targets/hostCommand";
export { localTarget, type Target, type LocalTarget } from "./targets/target";
export { loadMigrations, checksumOf, type Migration } from "./hooks/migrations";
export type { MigrationSource } from "./hooks/migrationRunner";
export type { HealthCheck } from "./hooks/healthChecks";
export type { HookDialect } from "./hooks/dialect";
export { DEFAULT_BACKUP_SCHEDULE, cronScheduleProblem } from "./backups/schedule";
export { DEFAULT_RETENTION_DAYS, type BackupPolicy } from "./backups/policy";
