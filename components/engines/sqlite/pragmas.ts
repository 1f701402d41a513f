import { DEFAULTS } from "../../model/defaults";
/**
 * SQLite pragmas dbstack manages. Two kinds behave differently, and dbstack treats them so:
 * - persistent pragmas are stored in the database file, so setting them once at deploy is enough;
 * - connection pragmas last for one connection, so every connection must set them. dbstack's
 *   own connections (hooks, backups, the `shell` tool) do; applications get them as the
 *   `connectionInit` output, to run when they open a connection.
 */
export interface SqlitePragmas {
  /** Journal mode, stored in the file. Default `wal`: readers do not block the writer. */
  journalMode?: "wal" | "delete" | "truncate" | "persist";
  /** Incremental or full auto-vacuum, stored in the file (takes effect on a new file). Default `none`. */
  autoVacuum?: "none" | "full" | "incremental";
  /** Durability per connection. Default `normal`: safe with WAL, one fsync per checkpoint. */
  synchronous?: "off" | "normal" | "full" | "extra";
  /** How long a connection waits for a lock before SQLITE_BUSY, in milliseconds. Default 5000. */
  busyTimeoutMs?: number;
  /** Enforce foreign keys per connection. Default `true` (SQLite's own default is off). */
  foreignKeys?: boolean;
}

/** dbstack's defaults, in one place. */
export const SQLITE_PRAGMA_DEFAULTS: Required<SqlitePragmas> = DEFAULTS.sqlite.pragmas;

export function resolvePragmas(pragmas: SqlitePragmas | undefined): Required<SqlitePragmas> {
  return { ...SQLITE_PRAGMA_DEFAULTS, ...stripUndefined(pragmas ?? {}) };
}

/** Statements that set the persistent pragmas on the file; auto_vacuum must precede journal_mode. */
export function persistentPragmaSql(p: Required<SqlitePragmas>): string[] {
  return [`PRAGMA auto_vacuum = ${p.autoVacuum.toUpperCase()};`, `PRAGMA journal_mode = ${p.journalMode.toUpperCase()};`];
}

/** Statements every connection should run first. */
export function connectionPragmaSql(p: Required<SqlitePragmas>): string[] {
  return [
    `PRAGMA busy_timeout = ${p.busyTimeoutMs};`,
    `PRAGMA foreign_keys = ${p.foreignKeys ? "ON" : "OFF"};`,
    `PRAGMA synchronous = ${p.synchronous.toUpperCase()};`,
  ];
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
