/**
 * A copy's safety net: the pre-copy backup of the target, taken with the engine's own tool, and
 * `rollbackCopy`, which puts the target back the way that backup found it.
 *
 * - PostgreSQL: `pg_dump -Fc` of the target database; rollback drops the copied tables and runs
 *   `pg_restore --clean --if-exists --single-transaction` (all or nothing).
 * - MariaDB: `mariadb-dump --single-transaction --routines` (a consistent InnoDB snapshot, with
 *   procedures and functions); rollback drops the copied tables and replays the dump with the
 *   `mariadb` client.
 * - SQLite: SQLite's online backup API (better-sqlite3 `db.backup`), safe while the file is in
 *   use; rollback copies the backup back through the same API.
 * A target with no tables (or an SQLite file that did not exist) gets a record and no dump: rollback
 * then only drops the tables the copy created.
 *
 * Where: `<backupDir>/<engine>-<host>-<port>-<db>/<timestamp>/` (backupDir defaults to
 * `~/.cache/dbstack/copy-backups`), directories 0700, files 0600: a dump holds every row of the
 * target. `backup.json` in each directory says what was taken, of which target, for which copy; it
 * is written last, so a backup killed halfway is never chosen by rollback.
 *
 * Passwords: PostgreSQL tools get PGPASSWORD in their environment and a password-less URL on their
 * command line; MariaDB tools read a 0600 `--defaults-extra-file` in a private temporary directory,
 * removed afterwards. Nothing here puts a password in argv or in a message.
 */
import Database from "better-sqlite3";
import { spawn } from "child_process";
import { createHash } from "crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "fs";
import { homedir, tmpdir } from "os";
import { join } from "path";
import { unknownEngine, type EngineKind } from "../model/engineKind";
import { openConnection, parseConnectionUrl, redactUrl, type Connection, type ConnectionTarget } from "./connections";
import { dialectFor } from "./dialects";
import { dropTables, JOURNAL_TABLE, journalExists, listTables, markJournal } from "./journal";

/** The record of one pre-copy backup (its directory's backup.json). */
export interface BackupRecord {
  /** The backup's directory. */
  dir: string;
  /** The dump or database copy inside `dir`; absent when the target had no tables (nothing to keep). */
  file?: string;
  engine: EngineKind;
  /** The target's URL, password replaced by `***`. */
  target: string;
  /** When the backup was taken (ISO 8601, UTC). */
  takenAt: string;
  /** The copy that took it (its journal id). */
  copyId: string;
  /** The target had no tables before the copy (the journal aside): rollback only drops the copied tables. */
  empty: boolean;
  /** SQLite: the target file existed before the copy. Always true for PostgreSQL and MariaDB. */
  existed: boolean;
  /** The target's tables before the copy (the journal included when it was there). */
  tablesBefore: string[];
  /** The target tables the copy creates. */
  copiedTables: string[];
  /** Set once `rollbackCopy` restored this backup: the next rollback takes the one before. */
  rolledBackAt?: string;
}

/** Where pre-copy backups go unless told otherwise: `$XDG_CACHE_HOME/dbstack/copy-backups` or `~/.cache/dbstack/copy-backups`. */
export function defaultBackupRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "dbstack", "copy-backups");
}

/**
 * The directory name of a target's backups: `<engine>-<host>-<port>-<db>` for a server
 * (default ports filled in), `sqlite-<file name>-<hash of the full path>` for an SQLite file.
 * Only [A-Za-z0-9._-] survive, so a name can never climb out of the backup root.
 */
export function targetKey(url: string): string {
  const t = parseConnectionUrl(url);
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_").slice(0, 80) || "_";
  if ("path" in t) {
    const name = t.path.split("/").pop() ?? "db";
    return `sqlite-${clean(name)}-${createHash("sha256").update(t.path).digest("hex").slice(0, 12)}`;
  }
  const u = new URL(t.url);
  const host = u.hostname.replace(/^\[|\]$/g, "") || u.searchParams.get("host") || "localhost";
  const port = u.port || String(dialectFor(t.engine).defaultPort);
  const db = decodeURIComponent(u.pathname.replace(/^\//, "")) || decodeURIComponent(u.username) || "_";
  return [t.engine, clean(host), clean(port), clean(db)].join("-");
}

/** A program to run: its argv (never holding a password) and the environment entries it needs on top of ours. */
export interface ToolCommand {
  cmd: string;
  args: string[];
  env: Record<string, string>;
}

/** A PostgreSQL URL without its password, and the password (for PGPASSWORD): the URL may go on a command line, the password may not. */
export function splitPostgresUrl(url: string): { url: string; password?: string } {
  const u = new URL(url);
  const password = u.password === "" ? undefined : decodeURIComponent(u.password);
  u.password = "";
  return { url: u.toString(), password };
}

/** `pg_dump -Fc` of the database `url` names into `file`; the password (if the URL has one) travels in PGPASSWORD. */
export function renderPgDump(url: string, file: string): ToolCommand {
  const { url: bare, password } = splitPostgresUrl(url);
  return { cmd: "pg_dump", args: ["-Fc", "--no-password", "-f", file, "-d", bare], env: password === undefined ? {} : { PGPASSWORD: password } };
}

/** `pg_restore` of `file` into the database `url` names, replacing what the dump holds, in one transaction. */
export function renderPgRestore(url: string, file: string): ToolCommand {
  const { url: bare, password } = splitPostgresUrl(url);
  return {
    cmd: "pg_restore",
    args: ["--clean", "--if-exists", "--single-transaction", "--no-password", "-d", bare, file],
    env: password === undefined ? {} : { PGPASSWORD: password },
  };
}

/**
 * The `[client]` option file MariaDB's tools read with `--defaults-extra-file`: user, password,
 * host, port and TLS, taken from a mysql:// or mariadb:// URL (its password, else MYSQL_PWD).
 * Values are double-quoted with `\` and `"` escaped, as MariaDB's option-file parser reads them.
 */
export function renderMariadbDefaults(url: string): string {
  const u = new URL(url);
  const value = (v: string) => {
    if (/[\n\r]/.test(v)) throw new Error("a MariaDB user or password with a line break cannot be passed to mariadb-dump");
    return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  };
  const param = (...names: string[]) => names.map((n) => u.searchParams.get(n)).find((v) => v !== null) ?? undefined;
  const password = u.password !== "" ? decodeURIComponent(u.password) : process.env.MYSQL_PWD;
  const lines = ["[client]"];
  if (u.username) lines.push(`user=${value(decodeURIComponent(u.username))}`);
  if (password !== undefined) lines.push(`password=${value(password)}`);
  lines.push(`host=${value(u.hostname.replace(/^\[|\]$/g, "") || "localhost")}`, `port=${u.port || "3306"}`);
  const sslMode = param("ssl-mode", "sslMode")?.toLowerCase();
  const ca = param("ssl-ca", "serverSslCert");
  if (ca !== undefined) lines.push(`ssl-ca=${value(ca)}`);
  if (ca !== undefined || (sslMode !== undefined && sslMode !== "disabled" && sslMode !== "disable")) lines.push("ssl");
  if (sslMode !== undefined && /^verify/.test(sslMode)) lines.push("ssl-verify-server-cert");
  return `${lines.join("\n")}\n`;
}

/** The database a mysql:// or mariadb:// URL names (required: a dump or restore is of one database). */
export function mariadbDatabase(url: string): string {
  const db = decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
  if (!db) throw new Error(`the MariaDB URL ${redactUrl(url)} names no database`);
  return db;
}

/**
 * `mariadb-dump` of one database to stdout; `--defaults-extra-file` must come first, as MariaDB's tools require.
 * Without `--databases`, so the dump has no CREATE DATABASE/USE and replays into the database it is given.
 */
export function renderMariadbDump(defaultsFile: string, database: string): ToolCommand {
  return {
    cmd: "mariadb-dump",
    args: [`--defaults-extra-file=${defaultsFile}`, "--single-transaction", "--routines", "--triggers", "--hex-blob", "--default-character-set=utf8mb4", database],
    env: {},
  };
}

/** The `mariadb` client replaying a dump (on its stdin) into `database`. */
export function renderMariadbReplay(defaultsFile: string, database: string): ToolCommand {
  return { cmd: "mariadb", args: [`--defaults-extra-file=${defaultsFile}`, "--default-character-set=utf8mb4", database], env: {} };
}

export interface BackupOptions {
  /** The backup root (default defaultBackupRoot()). */
  backupDir?: string;
  /** The copy about to write (its journal id). */
  copyId: string;
  /** SQLite: whether the file existed before the copy opened it. */
  existed: boolean;
  /** The target tables the copy will create. */
  copiedTables: string[];
}

/**
 * Backs up the target `conn` (opened on `url`) before a copy writes into it, and records it; see
 * the file header. Returns the record (also in `<dir>/backup.json`).
 */
export async function backupTarget(conn: Connection, url: string, options: BackupOptions): Promise<BackupRecord> {
  const tablesBefore = await listTables(conn);
  const empty = tablesBefore.filter((t) => t !== JOURNAL_TABLE).length === 0;
  const takenAt = new Date().toISOString();
  const dir = makeBackupDir(join(options.backupDir ?? defaultBackupRoot(), targetKey(url)), takenAt);
  const record: BackupRecord = {
    dir,
    engine: conn.engine,
    target: redactUrl(url),
    takenAt,
    copyId: options.copyId,
    empty,
    existed: options.existed,
    tablesBefore,
    copiedTables: options.copiedTables,
  };
  if (!empty) {
    const file = join(dir, BACKUP_FILE[conn.engine]);
    // Created 0600 before the tool writes into it: the tools would create it world-readable under a usual umask.
    closeSync(openSync(file, "wx", 0o600));
    await dumpTarget(parseConnectionUrl(url), conn, file);
    chmodSync(file, 0o600);
    record.file = file;
  }
  writeRecord(record);
  return record;
}

/** The file a target's backup is written to, named for the tool that writes it. */
const BACKUP_FILE: Record<EngineKind, string> = { postgres: "target.dump", mariadb: "target.sql", sqlite: "target.sqlite" };

/** Writes the backup of target `t` (open as `conn`) into `file` with the engine's own tool. */
async function dumpTarget(t: ConnectionTarget, conn: Connection, file: string): Promise<void> {
  switch (t.engine) {
    case "postgres":
      return runTool(renderPgDump(t.url, file));
    case "mariadb":
      return withDefaultsFile(t.url, (defaults) => runTool(renderMariadbDump(defaults, mariadbDatabase(t.url)), { stdoutFile: file }));
    case "sqlite":
      if (conn.native.engine !== "sqlite") throw new Error("an SQLite target needs an SQLite connection");
      await conn.native.db.backup(file);
      return;
    default:
      return unknownEngine(t);
  }
}

/**
 * Replays the backup `file` into target `t`. SQLite's backup API writes the pages into the live
 * file under SQLite's own locks (WAL included), which a plain file copy over an open database
 * would not respect.
 */
async function restoreTarget(t: ConnectionTarget, file: string): Promise<void> {
  switch (t.engine) {
    case "postgres":
      return runTool(renderPgRestore(t.url, file));
    case "mariadb":
      return withDefaultsFile(t.url, (defaults) => runTool(renderMariadbReplay(defaults, mariadbDatabase(t.url)), { stdinFile: file }));
    case "sqlite": {
      const src = new Database(file, { readonly: true, fileMustExist: true });
      try {
        await src.backup(t.path);
      } finally {
        src.close();
      }
      return;
    }
    default:
      return unknownEngine(t);
  }
}

/** The backups of the target `url` names, newest first (rolled-back ones included, marked). */
export function listBackups(url: string, backupDir?: string): BackupRecord[] {
  const root = join(backupDir ?? defaultBackupRoot(), targetKey(url));
  if (!existsSync(root)) return [];
  const out: BackupRecord[] = [];
  for (const name of readdirSync(root).sort().reverse()) {
    const meta = join(root, name, "backup.json");
    if (!existsSync(meta)) continue; // a backup killed before it finished
    out.push({ ...(JSON.parse(readFileSync(meta, "utf8")) as BackupRecord), dir: join(root, name) });
  }
  return out;
}

/** No pre-copy backup of the target exists (or all were rolled back already). */
export class NoBackupError extends Error {
  constructor(target: string, where: string) {
    super(`no pre-copy backup of ${target} to roll back to (looked in ${where}); a rollback restores the backup a copy takes before writing, so there is nothing to restore`);
    this.name = "NoBackupError";
  }
}

export interface RollbackOptions {
  /** The target to restore (the copy's `to`). */
  to: string;
  /** The backup root the copy used (default defaultBackupRoot()). */
  backupDir?: string;
  /** Where progress lines go; default stderr; `false` for none. */
  progress?: ((line: string) => void) | false;
}

/** What a rollback did. */
export interface RollbackResult {
  /** The target, password replaced by `***`. */
  target: string;
  /** The backup restored. */
  backup: BackupRecord;
  /** The tables dropped (the copy's, and the journal when the copy had created it). */
  dropped: string[];
  /** The dump or database copy replayed; absent when the target had been empty (dropping was the whole rollback). */
  restoredFrom?: string;
}

/**
 * Restores the target `to` to its newest pre-copy backup not rolled back yet: drops the tables
 * that copy created, then (when the target had held tables) replays the backup with the engine's
 * own tool. Throws NoBackupError when there is none. Marks the backup rolled back, so a second
 * rollback goes one copy further back.
 */
export async function rollbackCopy(options: RollbackOptions): Promise<RollbackResult> {
  const say = options.progress === false ? () => undefined : (options.progress ?? ((l: string) => void process.stderr.write(`${l}\n`)));
  const target = redactUrl(options.to);
  const backup = listBackups(options.to, options.backupDir).find((b) => b.rolledBackAt === undefined);
  if (!backup) throw new NoBackupError(target, join(options.backupDir ?? defaultBackupRoot(), targetKey(options.to)));
  const t = parseConnectionUrl(options.to);
  if (backup.file && !existsSync(backup.file)) throw new Error(`the backup file ${backup.file} of the copy ${backup.copyId} is missing: cannot roll back`);
  say(`rolling back ${t.engine} ${target} to the backup taken ${backup.takenAt} before copy ${backup.copyId} (${backup.dir})`);

  let dropped: string[] = [];
  // A database file's backup replaces the whole file; a dump only brings back what it holds.
  if (!("path" in t && backup.file)) {
    // The copy's tables are not in the dump: they go first. The journal goes too when the copy
    // created it; otherwise the dump brings back its earlier rows (or, for an empty target, its
    // entry for this copy is marked rolled back).
    const conn = await openConnection(options.to, { readOnly: false });
    try {
      const present = new Set(await listTables(conn));
      dropped = backup.copiedTables.filter((x) => present.has(x) && !backup.tablesBefore.includes(x));
      if (present.has(JOURNAL_TABLE) && !backup.tablesBefore.includes(JOURNAL_TABLE)) dropped.push(JOURNAL_TABLE);
      await dropTables(conn, dropped);
      if (!backup.file && (await journalExists(conn))) await markJournal(conn, backup.copyId, "rolled-back");
    } finally {
      await conn.close().catch(() => undefined);
    }
  }
  if (backup.file) await restoreTarget(t, backup.file);
  const done = { ...backup, rolledBackAt: new Date().toISOString() };
  writeRecord(done);
  return { target, backup: done, dropped, restoredFrom: backup.file };
}

/** What a rollback did, as lines a user reads. */
export function renderRollback(r: RollbackResult): string[] {
  const lines = [`rolled back ${r.backup.engine} ${r.target} to its state of ${r.backup.takenAt} (before copy ${r.backup.copyId})`];
  if (r.dropped.length) lines.push(`  dropped the copied table(s): ${r.dropped.join(", ")}`);
  if (r.restoredFrom) lines.push(`  restored from ${r.restoredFrom}`);
  else lines.push(`  the target ${r.backup.existed ? "had no tables" : "did not exist (the file, now without the copied tables, stays)"} before the copy: nothing else to restore`);
  return lines;
}

function makeBackupDir(root: string, takenAt: string): string {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  chmodSync(root, 0o700);
  const base = takenAt.replace(/:/g, "-");
  for (let i = 0; ; i++) {
    const dir = join(root, i === 0 ? base : `${base}-${i}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

/** Writes backup.json through a rename, so a reader never sees half of it. */
function writeRecord(record: BackupRecord): void {
  const tmp = join(record.dir, "backup.json.tmp");
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, join(record.dir, "backup.json"));
}

/** Runs `fn` with a 0600 MariaDB option file for `url` in a private 0700 temporary directory, removed afterwards. */
async function withDefaultsFile<T>(url: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "dbstack-copy-my-"));
  try {
    const path = join(dir, "client.cnf");
    writeFileSync(path, renderMariadbDefaults(url), { mode: 0o600 });
    return await fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const INSTALL_HINT: Record<string, string> = {
  pg_dump: "apt-get install postgresql-client",
  pg_restore: "apt-get install postgresql-client",
  "mariadb-dump": "apt-get install mariadb-client",
  mariadb: "apt-get install mariadb-client",
};

/** Runs a backup tool; its stdout/stdin may be files. Fails with the tool's own stderr (URLs redacted). */
function runTool(command: ToolCommand, io: { stdoutFile?: string; stdinFile?: string } = {}): Promise<void> {
  const fds: number[] = [];
  const out = io.stdoutFile ? openSync(io.stdoutFile, "w", 0o600) : "ignore";
  const inp = io.stdinFile ? openSync(io.stdinFile, "r") : "ignore";
  if (typeof out === "number") fds.push(out);
  if (typeof inp === "number") fds.push(inp);
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command.cmd, command.args, { env: { ...process.env, ...command.env }, stdio: [inp, out, "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      if (stderr.length < 20_000) stderr += d.toString();
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      reject(err.code === "ENOENT" ? new Error(`${command.cmd} is not installed (${INSTALL_HINT[command.cmd] ?? "install it"}): the copy backs the target up with it`) : err);
    });
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command.cmd} failed (${signal ?? `exit ${code}`}): ${redactText(stderr.trim()) || "no message"}`));
    });
  }).finally(() => {
    for (const fd of fds) closeSync(fd);
  });
}

function redactText(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, (u) => redactUrl(u));
}
