/** restore's command line, the same for every server engine. */
export const RESTORE_USAGE = "restore DATABASE [--into NEW_DATABASE] [--yes] [BACKUP_FILE]";

/** SQLite's restore: one database per deployment, always restored in place. */
export const SQLITE_RESTORE_USAGE = "restore [--yes] [BACKUP_FILE]";

/**
 * How many safety copies (what a restore in place keeps of the contents it replaces) a restore
 * leaves per database: the newest ones. Older copies are removed by the restore that makes a new
 * one, and it names them. Three covers "restored the wrong backup, then the right one" twice over.
 */
export const SAFETY_COPIES_KEPT = 3;

/**
 * The options loop every restore shares: `--yes` (sets $yes), `--into NAME` where the engine has
 * it (sets $into, checked by `ident`), at most one BACKUP_FILE (left as $1 for renderPickBackup).
 * Any other option exits 2 naming it, before anything is touched.
 */
function renderOptionsLoop(usage: string, withInto: boolean): string {
  return [
    'into=""; yes=""; file=""',
    "while [ $# -gt 0 ]; do",
    '  case "$1" in',
    ...(withInto
      ? [
          '    --into)',
          '      into="${2:-}"; shift',
          '      ident "$into" || { echo "--into: not a valid database name: $into" >&2; exit 2; } ;;',
        ]
      : []),
    "    --yes) yes=1 ;;",
    `    -*) echo "restore: unknown option $1" >&2; echo "usage: ${usage}" >&2; exit 2 ;;`,
    `    *) [ -z "$file" ] || { echo "restore: one BACKUP_FILE at most (got $file and $1)" >&2; echo "usage: ${usage}" >&2; exit 2; }; file="$1" ;;`,
    "  esac",
    "  shift",
    "done",
    'if [ -n "$file" ]; then set -- "$file"; else set --; fi',
  ].join("\n");
}

/**
 * Shell that reads restore's command line (RESTORE_USAGE) into $db, $into (empty: restore into
 * DATABASE itself) and $yes, leaving BACKUP_FILE, if given, as $1 (for renderPickBackup). Both
 * names must follow the stack's database-name rule, [a-z_][a-z0-9_]* of at most `maxNameLength`
 * characters (the engine's limit), which keeps them safe unquoted in the engine's SQL; anything
 * else, an unknown option, and --into without a name, exit 2 with a message before anything is
 * touched.
 */
export function renderRestoreArgs(maxNameLength: number): string {
  if (!Number.isInteger(maxNameLength) || maxNameLength < 1) throw new Error(`renderRestoreArgs: maxNameLength ${maxNameLength} is not a positive whole number`);
  return [
    "# The same rule as the stack's database names: safe unquoted in the engine's SQL.",
    `ident() { [[ "$1" =~ ^[a-z_][a-z0-9_]{0,${maxNameLength - 1}}$ ]]; }`,
    'db="${1:-}"; shift || true',
    `ident "$db" || { echo "usage: ${RESTORE_USAGE}" >&2; exit 2; }`,
    renderOptionsLoop(RESTORE_USAGE, true),
  ].join("\n");
}

/** SQLite's command line (SQLITE_RESTORE_USAGE): $yes, and BACKUP_FILE, if given, as $1. */
export function renderSqliteRestoreArgs(): string {
  return renderOptionsLoop(SQLITE_RESTORE_USAGE, false);
}

/**
 * `confirm_overwrite WHAT`: a restore over live data goes on only with --yes, or when the operator
 * types "yes" at a terminal; otherwise it exits (2 without a terminal, saying how to go on) with
 * nothing changed. Call it after the backup is picked ($backup) and before anything is replaced.
 */
export function renderConfirmOverwrite(): string {
  return [
    "confirm_overwrite() {",
    '  [ -z "$yes" ] || return 0',
    '  if [ -t 0 ]; then',
    '    echo "restore replaces $1 with $backup (the current contents are kept as a safety copy)" >&2',
    '    local answer; read -r -p "type yes to go on: " answer || true',
    '    [ "$answer" = yes ] && return 0',
    '    echo "restore: nothing changed" >&2; exit 1',
    "  fi",
    '  echo "restore replaces $1 with $backup: run it again with --yes to go on, or restore beside it (--into NEW_DATABASE where the engine has it); nothing changed" >&2',
    "  exit 2",
    "}",
  ].join("\n");
}

/**
 * `prune_safety_copies PATH...`: of the safety copies given (files whose names sort by their UTC
 * time), removes all but the newest SAFETY_COPIES_KEPT, naming each. Non-existent paths (an
 * unmatched glob) are ignored.
 */
export function renderPruneSafetyCopies(): string {
  return [
    "prune_safety_copies() {",
    '  local copies=() f',
    '  for f in "$@"; do [ -f "$f" ] && copies+=("$f"); done',
    `  [ "\${#copies[@]}" -gt ${SAFETY_COPIES_KEPT} ] || return 0`,
    `  printf '%s\\n' "\${copies[@]}" | sort | head -n -${SAFETY_COPIES_KEPT} | while IFS= read -r f; do`,
    `    rm -f -- "$f" && echo "removed an older safety copy (${SAFETY_COPIES_KEPT} are kept): $f"`,
    "  done",
    "}",
  ].join("\n");
}
