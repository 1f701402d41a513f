/** restore's command line, the same for every server engine. */
export const RESTORE_USAGE = "restore DATABASE [--into NEW_DATABASE] [BACKUP_FILE]";

/**
 * Shell that reads restore's command line (RESTORE_USAGE) into $db and $into (empty: restore
 * into DATABASE itself), leaving BACKUP_FILE, if given, as $1 (for renderPickBackup). Both names
 * must follow the stack's database-name rule, [a-z_][a-z0-9_]* of at most `maxNameLength`
 * characters (the engine's limit), which keeps them safe unquoted in the engine's SQL; anything
 * else, and --into without a name, exits 2 with a message before anything is touched.
 */
export function renderRestoreArgs(maxNameLength: number): string {
  if (!Number.isInteger(maxNameLength) || maxNameLength < 1) throw new Error(`renderRestoreArgs: maxNameLength ${maxNameLength} is not a positive whole number`);
  return [
    "# The same rule as the stack's database names: safe unquoted in the engine's SQL.",
    `ident() { [[ "$1" =~ ^[a-z_][a-z0-9_]{0,${maxNameLength - 1}}$ ]]; }`,
    'db="${1:-}"; shift || true',
    `ident "$db" || { echo "usage: ${RESTORE_USAGE}" >&2; exit 2; }`,
    'into=""',
    'if [ "${1:-}" = --into ]; then',
    '  into="${2:-}"; shift; shift || true',
    '  ident "$into" || { echo "--into: not a valid database name: $into" >&2; exit 2; }',
    "fi",
  ].join("\n");
}
