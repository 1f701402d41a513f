import type { HealthCheck, ShellCheck } from "./healthChecks";

/**
 * What the migration runner and health checks need from an engine. The runner is one shell
 * script for every engine; a dialect supplies the client calls, the lock and the SQL.
 */
export interface HookDialect {
  /** Engine name for messages: "sqlite", "postgres", "mysql". */
  engine: string;
  /**
   * Shell function definitions the script can call:
   * - `db_exec`: runs the SQL on stdin in one session, stops at the first error, exits non-zero;
   * - `db_query SQL`: prints the result rows, one per line, first column only.
   */
  clientFunctions: string;
  /**
   * Shell run before any user-written SQL or command (migrations, declared checks) when the hook
   * has some: exits non-zero, naming the field to declare, when they may not run as it would run
   * them (SQLite as root with an owner whose uid is 0). Default: none.
   */
  guardUserText?: string;
  /**
   * A shell command prefix that runs an external migration command with the rights its client
   * has (SQLite: as the database's owner). Default: none (the hook's own user).
   */
  asClientUser?: string;
  /** Shell that takes the deploy lock for the rest of the script (released at exit). */
  acquireLock: string;
  /** DDL creating the table that records applied migrations, if missing. */
  trackingTableDdl: string;
  /**
   * A migration's SQL as db_exec must receive it so that the client runs it as SQL and nothing
   * else: no client meta-command (psql's `\!`, sqlite3's `.shell`) in a migration may run.
   */
  migrationSql: (sql: string) => string;
  /** Whether DDL is transactional: if so each migration and its record commit together. */
  transactionalDdl: boolean;
  /** Statement starting a migration's transaction. */
  begin: string;
  /** Statement committing it. */
  commit: string;
  /** SQL expression for "now" in UTC, for the applied_at column. */
  nowUtc: string;
  /** Built-in health checks, in order: SQL checks (first row printed) or shell checks. */
  builtinChecks: (HealthCheck | ShellCheck)[];
}

/** The table where applied migrations are recorded, in every engine. */
export const MIGRATIONS_TABLE = "dbstack_migrations";
