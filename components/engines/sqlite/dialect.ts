import type { HookDialect } from "../../hooks/dialect";
import { MIGRATIONS_TABLE } from "../../hooks/dialect";
import { shellQuote } from "../../shell";
import { connectionPragmaSql, type SqlitePragmas } from "./pragmas";

export interface SqliteConnection {
  /** Absolute path of the database file. */
  path: string;
  /** Run the client as this user when the script runs as root (so new -wal/-shm files get the right owner). */
  owner?: string;
  pragmas: Required<SqlitePragmas>;
}

/**
 * Shell that opens the database the way dbstack's own tools do, with the connection pragmas set.
 * `safe` runs sqlite3 in its safe mode (-safe), for SQL dbstack did not write: no `.shell`,
 * `.system`, `.output`, `.read`, ATTACH, VACUUM INTO, readfile/writefile or load_extension.
 * (dbstack's backup and restore tools need `.backup`/`.restore`, which safe mode refuses.)
 */
export function sqliteClientFunctions(conn: SqliteConnection, options: { safe?: boolean } = {}): string {
  // busy_timeout via .timeout: the PRAGMA form would print its value into every result.
  const init = connectionPragmaSql(conn.pragmas)
    .filter((s) => !s.startsWith("PRAGMA busy_timeout"))
    .join(" ");
  return [
    `DB=${shellQuote(conn.path)}`,
    `DB_OWNER=${shellQuote(conn.owner ?? "")}`,
    'as_owner() { if [ -n "$DB_OWNER" ] && [ "$(id -u)" = 0 ]; then runuser -u "$DB_OWNER" -- "$@"; else "$@"; fi; }',
    `sqlite() { as_owner sqlite3${options.safe ? " -safe" : ""} -batch -bail -cmd ${shellQuote(`.timeout ${conn.pragmas.busyTimeoutMs}`)} -cmd ${shellQuote(init)} "$@"; }`,
    'db_exec() { sqlite "$DB"; }',
    "# The leading space: sqlite3 runs an argument that starts with a dot as a dot-command.",
    "db_query() { sqlite -noheader -list \"$DB\" \" $1\" | cut -d'|' -f1; }",
  ].join("\n");
}

/**
 * The first line of `sql` that sqlite3 could take for a dot-command (a line starting with "."),
 * 1-based, or undefined. sqlite3 reads a migration from stdin and runs such a line as a command
 * of its own (`.shell`, `.trace FILE` ...), so a migration holding one is refused before deploy.
 */
export function dotCommandLine(sql: string): number | undefined {
  const index = sql.split("\n").findIndex((line) => line.startsWith("."));
  return index === -1 ? undefined : index + 1;
}

/**
 * The hook's refusal to run user-written SQL or a migration command as root. sqlite3's safe mode
 * stops `.shell`, ATTACH, readfile and load_extension, but not every way to reach the host's
 * files (the fsdir table-valued function reads any file its process may read, /etc/shadow for
 * root): only the OS user the client runs as bounds what a migration can read. So migrations,
 * declared checks and the migration command run as the database's owner (runuser) when dbstack
 * deploys as root: the declared `owner`, or dbstack's own account (DEFAULTS.sqlite.owner) when
 * none is declared. An owner whose uid is 0 (or none, for a renderer called without one) makes a
 * root deploy refuse them, naming `owner`, before any of them runs. A deploy as an unprivileged
 * user runs them as that user.
 * The built-in checks (dbstack's own fixed SQL) still run.
 */
export function renderRefuseRootClient(path: string): string {
  const message =
    `owner: sqlite database ${path}: migrations, declared health checks and migration commands never run as root, and this deploy runs as root with no unprivileged owner; ` +
    "declare as `owner` the unprivileged OS user the application runs as (it will own the file and its directory), or leave `owner` out for dbstack's own unprivileged account";
  return [
    "# User-written SQL and commands never run as root (see renderRefuseRootClient).",
    `if [ "$(id -u)" = 0 ] && { [ -z "$DB_OWNER" ] || [ "$(id -u "$DB_OWNER" 2>/dev/null || echo 0)" = 0 ]; }; then echo ${shellQuote(message)} >&2; exit 1; fi`,
  ].join("\n");
}

/**
 * SQLite for the hook runner: sqlite3 in safe mode, as the database's owner when dbstack runs as
 * root (so migrations and checks have that user's rights on the host, and files SQLite creates
 * beside the database get the right owner; never as root: renderRefuseRootClient), with
 * migrations free of dot-commands (dotCommandLine) and checks passed as SQL arguments.
 */
export function sqliteDialect(conn: SqliteConnection): HookDialect {
  return {
    engine: "sqlite",
    clientFunctions: sqliteClientFunctions(conn, { safe: true }),
    guardUserText: renderRefuseRootClient(conn.path),
    asClientUser: "as_owner",
    // flock beside the database: SQLite's own locks cover one transaction, not a whole deploy.
    acquireLock: [
      'exec 9>>"$DB.dbstack-lock"',
      'flock -w 120 9 || { echo "another deploy has held the migration lock on $DB for 120s" >&2; exit 1; }',
    ].join("\n"),
    trackingTableDdl: `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (\n  id TEXT PRIMARY KEY,\n  checksum TEXT NOT NULL,\n  applied_at TEXT NOT NULL\n);`,
    migrationSql: (sql) => sql.trimEnd(),
    transactionalDdl: true,
    begin: "BEGIN IMMEDIATE;",
    commit: "COMMIT;",
    nowUtc: "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
    builtinChecks: [
      { name: "integrity_check", sql: "PRAGMA integrity_check", expect: "ok" },
      { name: "select 1", sql: "SELECT 1", expect: "1" },
      { name: "version", sql: "SELECT sqlite_version()" },
    ],
  };
}
