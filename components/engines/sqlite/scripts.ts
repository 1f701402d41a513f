import { renderArchiveSteps, renderBackupPrelude, renderPickBackup } from "../../backups/archive";
import { renderRemoveBackups as removeBackups } from "../../backups/backupSchedule";
import type { BackupPolicy } from "../../backups/policy";
import { SQLITE_RESTORE_USAGE, renderConfirmOverwrite, renderPruneSafetyCopies, renderSqliteRestoreArgs } from "../../backups/restoreArgs";
import { healthCheckFiles, renderHealthChecks, type HealthCheck } from "../../hooks/healthChecks";
import { scriptHeader, shellQuote } from "../../shell";
import { keptDataHint } from "../../model/dataRemoval";
import { DEFAULTS } from "../../model/defaults";
import { renderOwnerFunctions } from "../../targets/ownership";
import { sqliteClientFunctions, sqliteDialect, type SqliteConnection } from "./dialect";
import { persistentPragmaSql } from "./pragmas";
import type { ToolFile } from "../operations";

/** Everything the SQLite scripts need to know about one database. */
export interface SqliteScriptSpec extends SqliteConnection {
  /** Deployment name, used in file names and messages. */
  name: string;
  /** Group for the file and its directory, when `owner` is set. Default: the owner's group. */
  group?: string;
  /** Where dbstack installs this database's tools (backup, restore, shell). */
  toolsDir: string;
  backup?: BackupPolicy;
  /** Declared health checks, run by the post-deploy hook and by the `health` tool. */
  healthChecks?: HealthCheck[];
  /** Whether `pulumi destroy` deletes the database file (and the backups). */
  allowDataRemoval: boolean;
  /**
   * The marker line of the stack that owns the file (targets/ownership.ts), written into the
   * file's marker: another stack's marker is refused, and destroy deletes only this stack's file.
   * Default: none (an empty marker, as before markers named their owner).
   */
  stackOwner?: string;
}

const SIDE_FILES = ["-wal", "-shm", "-journal"];

/** The file beside a database that says dbstack created it (or was handed it), and for which stack (see SqliteScriptSpec.stackOwner). */
export function markerPath(path: string): string {
  const slash = path.lastIndexOf("/");
  return `${path.slice(0, slash)}/.${path.slice(slash + 1)}.dbstack`;
}

function chownCommand(spec: SqliteScriptSpec, paths: string): string {
  if (!spec.owner) return "";
  const owner = `${spec.owner}:${spec.group ?? spec.owner}`;
  return `if [ "$(id -u)" = 0 ]; then chown ${shellQuote(owner)} ${paths}; fi`;
}

/**
 * Creates the OS account dbstack runs an SQLite database as by default (DEFAULTS.sqlite.owner)
 * when the deploy is root and it is missing: a system user and group of that name, no login
 * shell, no home of its own. Idempotent, and safe when two deploys race to create it (useradd
 * fails while the other holds /etc/passwd's lock: retried until the account exists). Never
 * deleted: other stacks and clones on the host may use it. Empty for any other owner.
 */
export function renderEnsureAccount(spec: SqliteScriptSpec): string {
  if (spec.owner !== DEFAULTS.sqlite.owner) return "";
  const user = shellQuote(spec.owner);
  return [
    `# ${spec.owner}: dbstack's unprivileged account for SQLite databases with no declared owner.`,
    `if [ "$(id -u)" = 0 ] && ! id -u ${user} >/dev/null 2>&1; then`,
    "  for try in 1 2 3 4 5 6 7 8 9 10; do",
    `    getent group ${user} >/dev/null || groupadd --system ${user} 2>/dev/null || true`,
    `    if id -u ${user} >/dev/null 2>&1 || useradd --system --gid ${user} --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ${user} 2>/dev/null; then break; fi`,
    "    sleep 1",
    "  done",
    `  id -u ${user} >/dev/null 2>&1 || { echo ${shellQuote(`owner: could not create the system account ${spec.owner} (useradd --system) that owns this database when no owner is declared`)} >&2; exit 1; }`,
    "fi",
  ].join("\n");
}

/**
 * A directory dbstack created as root before an owner was in force (root's, 0700, holding the
 * file's dbstack marker and nothing but the database's own files) is dbstack's: it is handed to
 * the owner so the owner can reach the file. Any other existing directory is left as it is.
 */
function renderAdoptOwnDirectory(spec: SqliteScriptSpec, dir: string): string {
  if (!spec.owner || dir === "/") return "";
  const base = spec.path.slice(spec.path.lastIndexOf("/") + 1);
  const backupDir = spec.backup?.dir;
  const backupEntry = backupDir && backupDir.slice(0, backupDir.lastIndexOf("/")) === dir ? backupDir.slice(backupDir.lastIndexOf("/") + 1) : undefined;
  return [
    "# A directory dbstack made as root for this file before it had an owner (root's, 0700, the marker",
    "# beside the file and nothing but the database's files in it) is dbstack's own: hand it to the owner.",
    `own_dir() { local e; for e in ${shellQuote(dir)}/* ${shellQuote(dir)}/.[!.]* ${shellQuote(dir)}/..?*; do [ -e "$e" ] || [ -L "$e" ] || continue; case "\${e##*/}" in ${shellQuote(base)}|${shellQuote(base)}-*|${shellQuote(base)}.*|${shellQuote(`.${base}.dbstack`)}${backupEntry ? `|${shellQuote(backupEntry)}` : ""}) ;; *) return 1 ;; esac; done; }`,
    `if [ "$(id -u)" = 0 ] && [ -f "$marker" ] && ! [ -L ${shellQuote(dir)} ] && [ "$(stat -c %u:%a ${shellQuote(dir)})" = 0:700 ] && own_dir; then`,
    `  ${chownCommand(spec, shellQuote(dir))}`,
    "fi",
  ].join("\n");
}

/**
 * Fails, naming `path`, before anything is changed, when the owner cannot reach the database's
 * directory (an existing directory above it not searchable by the owner, e.g. a 0700 temporary
 * directory) or cannot write in it (SQLite creates its -wal, -shm and -journal files beside the
 * database). dbstack changes no directory it did not create, so the message says what to change.
 */
function renderOwnerReachesDirectory(spec: SqliteScriptSpec, dir: string): string {
  if (!spec.owner) return "";
  const hint = "dbstack changes no directory it did not create: make it searchable by that user (chmod 711), declare an `owner` that can reach it, or choose another path";
  return [
    "# The owner runs every client on this file: it must reach the directory and write in it.",
    'if [ "$(id -u)" = 0 ]; then',
    `  blocked=""; d=${shellQuote(dir)}`,
    "  # Directories still missing are created below searchable by the owner (0711, its own 0700).",
    '  while :; do if [ -e "$d" ] && ! as_owner test -x "$d"; then blocked=$d; fi; [ "$d" = / ] && break; d=$(dirname "$d"); done',
    '  if [ -n "$blocked" ]; then',
    `    echo ${shellQuote(`path: ${spec.path} is out of reach of the OS user `)}"$DB_OWNER"${shellQuote(" that owns it and runs its migrations and checks: ")}"$blocked (mode $(stat -c %a "$blocked"), owner $(stat -c %U "$blocked"))"${shellQuote(` is not searchable by that user; ${hint}`)} >&2`,
    "    exit 1",
    "  fi",
    `  if [ -d ${shellQuote(dir)} ] && ! as_owner test -w ${shellQuote(dir)}; then`,
    `    echo ${shellQuote(`path: ${spec.path}: the OS user `)}"$DB_OWNER"${shellQuote(` that owns it cannot write in its directory ${dir}, where SQLite creates the -wal, -shm and -journal files; give that user the directory, declare an owner that can write there, or choose another path`)} >&2`,
    "    exit 1",
    "  fi",
    "fi",
  ].join("\n");
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/** Creates the directory (0700) and the database file (0600) and sets the persistent pragmas. Idempotent. */
export function renderProvision(spec: SqliteScriptSpec): string {
  const dir = spec.path.slice(0, spec.path.lastIndexOf("/")) || "/";
  const q = shellQuote(spec.path);
  const sideFiles = SIDE_FILES.map((s) => shellQuote(spec.path + s)).join(" ");
  return [
    scriptHeader(`Creates sqlite database ${spec.name} at ${spec.path}.`),
    sqliteClientFunctions(spec),
    renderEnsureAccount(spec),
    spec.owner ? `if [ "$(id -u)" = 0 ] && ! id -u "$DB_OWNER" >/dev/null 2>&1; then echo "owner: the OS user $DB_OWNER does not exist on this host" >&2; exit 1; fi` : "",
    `marker=${shellQuote(markerPath(spec.path))}`,
    // Another stack's file is refused before anything here is adopted, made or changed.
    ...(spec.stackOwner ? [renderOwnerFunctions(spec.stackOwner), `refuse_foreign "$marker" ${shellQuote(`the database file ${spec.path}`)} path`] : []),
    "# dbstack never takes over a file it did not create (its marker says which it did): another",
    "# existing file must already be what dbstack makes (a regular file of the expected owner,",
    "# private), or the deploy stops here before anything is changed.",
    `want=$(id -un)${spec.owner ? `; if [ "$(id -u)" = 0 ]; then want=${shellQuote(spec.owner)}; fi` : ""}`,
    `if [ -L ${q} ] || { [ -e ${q} ] && ! [ -f ${q} ]; }; then echo ${shellQuote(`path: ${spec.path} exists and is not a regular file`)} >&2; exit 1; fi`,
    `if [ -e ${q} ] && ! [ -f "$marker" ]; then`,
    `  have=$(stat -c %U ${q}); mode=$(stat -c %a ${q})`,
    '  if [ "$have" != "$want" ] || [ $((8#$mode & 8#077)) -ne 0 ]; then',
    `    echo "path: ${spec.path} exists, owned by $have with mode $mode, and dbstack did not create it; dbstack does not take over or re-permission such a file. To hand it to dbstack: chown $want ${spec.path} && chmod 600 ${spec.path}; or choose another path" >&2`,
    "    exit 1",
    "  fi",
    "fi",
    renderAdoptOwnDirectory(spec, dir),
    renderOwnerReachesDirectory(spec, dir),
    "# Only a directory dbstack creates is made private: an existing one (/srv, /tmp) is left as it is.",
    "# Directories it creates above it are 0711, so the owner can pass through them to its own. Its own",
    "# appears whole (made aside, then renamed into place): a database beside it, deployed at the same",
    "# time, never sees it half made (root's, before the chown).",
    `if [ ! -d ${shellQuote(dir)} ]; then`,
    `  (umask 066 && mkdir -p ${shellQuote(parentOf(dir))})`,
    `  stage=$(mktemp -d ${shellQuote(`${parentOf(dir) === "/" ? "" : parentOf(dir)}/.dbstack-new.`)}XXXXXX)`,
    '  chmod 700 "$stage"',
    `  ${chownCommand(spec, '"$stage"') || ":"}`,
    `  mv -T -n "$stage" ${shellQuote(dir)} 2>/dev/null || true`,
    '  rmdir "$stage" 2>/dev/null || true # another deploy made it first',
    "fi",
    `if [ -e ${q} ] && [ -f "$marker" ]; then`,
    "  created=no",
    "  # dbstack's own file (created as root before an owner was in force, too): the owner's now.",
    `  ${chownCommand(spec, q) || ":"}`,
    `  chmod 600 ${q}`,
    `elif [ -e ${q} ]; then`,
    "  created=no # a private file of the expected owner, checked above",
    "else",
    "  created=yes",
    `  touch ${q}`,
    `  ${chownCommand(spec, q) || ":"}`,
    `  chmod 600 ${q}`,
    "fi",
    spec.stackOwner
      ? '{ mark_owner "$marker"; chmod 600 "$marker"; } # an empty marker (before markers named their owner) is taken as this stack\'s'
      : '[ -f "$marker" ] || { : > "$marker"; chmod 600 "$marker"; }',
    `mode=$(printf '%s\\n' ${persistentPragmaSql(spec.pragmas).map(shellQuote).join(" ")} | db_exec | tail -n 1)`,
    `for f in ${sideFiles}; do if [ -e "$f" ]; then chmod 600 "$f"; ${spec.owner ? chownCommand(spec, '"$f"') : ":"}; fi; done`,
    `echo "sqlite database ${spec.name}: ${spec.path} (created: $created, journal_mode: $mode)"`,
  ]
    .filter(Boolean)
    .join("\n");
}

/** Runs on destroy: removes the file only when the stack allows data removal, and says what it did. */
export function renderRemove(spec: SqliteScriptSpec): string {
  if (!spec.allowDataRemoval) {
    return `echo ${shellQuote(`dbstack: kept sqlite database ${spec.name} at ${spec.path}; ${keptDataHint("delete it")}`)} >&2`;
  }
  const files = [spec.path, ...SIDE_FILES.map((s) => spec.path + s), `${spec.path}.dbstack-lock`, markerPath(spec.path)].map(shellQuote).join(" ");
  const remove = [`rm -f ${files}`, `echo ${shellQuote(`dbstack: deleted sqlite database ${spec.name} at ${spec.path} (allowDataRemoval is set)`)} >&2`];
  if (!spec.stackOwner) return remove.join("\n");
  // Only this stack's file: another stack's, or one no marker names, is kept.
  return [
    renderOwnerFunctions(spec.stackOwner),
    `if [ -e ${shellQuote(spec.path)} ] && [ "$(ownership_of ${shellQuote(markerPath(spec.path))})" != mine ]; then`,
    `  echo ${shellQuote(`dbstack: kept sqlite database ${spec.name} at ${spec.path}: its marker does not name this stack`)} >&2`,
    "else",
    ...remove.map((l) => `  ${l}`),
    "fi",
  ].join("\n");
}

/** The backup script: SQLite's online backup API, integrity check, then the shared archive steps. */
export function renderBackupScript(spec: SqliteScriptSpec, policy: BackupPolicy): string {
  return [
    scriptHeader(`Backs up sqlite database ${spec.name} (${spec.path}) to ${policy.dir}.`),
    sqliteClientFunctions({ ...spec, owner: undefined }),
    renderBackupPrelude(spec.name, policy),
    '[ -f "$DB" ] || fail "database file $DB does not exist"',
    "# .backup uses SQLite's online backup API: a consistent copy even while the app writes.",
    `sqlite "$DB" ".backup '$work/snapshot.db'"`,
    `check=$(sqlite3 -batch "$work/snapshot.db" 'PRAGMA integrity_check')`,
    '[ "$check" = ok ] || fail "the snapshot failed PRAGMA integrity_check: $check"',
    renderArchiveSteps(policy, "snapshot.db", ".db"),
  ].join("\n") + "\n";
}

/**
 * The restore script: `restore [--yes] [BACKUP_FILE]` (default: the newest backup). Checks the
 * backup, asks (or needs --yes) before replacing an existing database, copies the current database
 * aside as <path>.before-restore-<UTC time> (the newest SAFETY_COPIES_KEPT such copies are kept),
 * then restores with SQLite's online backup API so open connections see the restored contents,
 * not a moved file.
 */
export function renderRestoreScript(spec: SqliteScriptSpec, policy: BackupPolicy): string {
  return [
    scriptHeader(`Restores sqlite database ${spec.name} (${spec.path}) from a backup in ${policy.dir}.`),
    `# Usage: ${spec.toolsDir}/${SQLITE_RESTORE_USAGE}   (default: the newest backup)`,
    sqliteClientFunctions(spec),
    `NAME=${shellQuote(spec.name)}`,
    `DEST=${shellQuote(policy.dir)}`,
    renderSqliteRestoreArgs(),
    renderConfirmOverwrite(),
    renderPruneSafetyCopies(),
    "work=$(mktemp -d)",
    "trap 'rm -rf \"$work\"' EXIT",
    renderPickBackup(".db"),
    `check=$(sqlite3 -batch "$work/restored" 'PRAGMA integrity_check' 2>&1 || true)`,
    '[ "$check" = ok ] || { echo "backup $backup is not a sound sqlite database: $check" >&2; exit 1; }',
    'if [ -n "$DB_OWNER" ] && [ "$(id -u)" = 0 ]; then chown "$DB_OWNER" "$work" "$work/restored"; fi',
    'if [ -f "$DB" ]; then confirm_overwrite "sqlite database $DB"; fi',
    'aside="$DB.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"',
    `if [ -f "$DB" ]; then sqlite "$DB" ".backup '$aside'"; chmod 600 "$aside"; fi`,
    `sqlite "$DB" ".restore '$work/restored'"`,
    'echo "restored $DB from $backup"',
    'if [ -f "$aside" ]; then echo "the previous contents are kept at $aside"; fi',
    'prune_safety_copies "$DB".before-restore-*',
  ].join("\n") + "\n";
}

/** `shell`: the sqlite3 CLI on this database with dbstack's connection pragmas set. */
export function renderShellScript(spec: SqliteScriptSpec): string {
  return [
    scriptHeader(`Opens sqlite database ${spec.name} with its connection pragmas.`),
    `# Usage: ${spec.toolsDir}/shell [-header] [-json | -csv | -box | -line] ['SQL']   (no SQL: an interactive session)`,
    sqliteClientFunctions(spec),
    'sqlite "$DB" "$@"',
  ].join("\n") + "\n";
}

/** The prefix of the declared checks' files beside the `health` tool (health.check-<n>.sql ...). */
const HEALTH_CHECK_PREFIX = "health.";

/**
 * `health`: the built-in and declared health checks, on demand (exits non-zero on failure).
 * The declared checks are the user's text: they are 0600 files beside the tool, not part of it.
 */
export function renderHealthScript(spec: SqliteScriptSpec): string {
  const checks = spec.healthChecks ?? [];
  const dialect = sqliteDialect(spec);
  return [
    scriptHeader(`Health checks of sqlite database ${spec.name}.`),
    // The hook's client (safe mode, as the owner): the declared checks are SQL dbstack did not write.
    dialect.clientFunctions,
    ...(checks.length > 0 ? [dialect.guardUserText ?? ""] : []),
    `CHECKS_DIR=${shellQuote(spec.toolsDir)}`,
    '[ -f "$DB" ] || { echo "database file $DB does not exist" >&2; exit 1; }',
    renderHealthChecks(dialect, checks, { dirWord: '"$CHECKS_DIR"', prefix: HEALTH_CHECK_PREFIX }),
  ].join("\n") + "\n";
}

/** SQLite's own tools, before the shared ones (engines/operations.ts): shell, health, and the health checks' files (0600). */
export function renderDatabaseTools(spec: SqliteScriptSpec): ToolFile[] {
  return [
    ["shell", renderShellScript(spec)],
    ["health", renderHealthScript(spec)],
    ...Object.entries(healthCheckFiles(spec.healthChecks ?? [], HEALTH_CHECK_PREFIX)).map(([name, content]): ToolFile => [name, content, "0600"]),
  ];
}

/** Runs on destroy of the backup schedule: backups are data and stay unless removal is allowed. */
export function renderRemoveBackups(spec: SqliteScriptSpec, policy: BackupPolicy): string {
  return removeBackups(spec.name, policy.dir, ".db", spec.allowDataRemoval);
}
