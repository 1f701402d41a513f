/**
 * SQLite's status probe (read-only): the database file's and its WAL's size, and on request an
 * integrity check (PRAGMA quick_check over a read-only connection). No account: the file is read
 * on its host. What it prints (parsed by scripts/lib/status/probe.ts), tab-separated:
 *   file<TAB><bytes><TAB><mtime epoch seconds>     or   down<TAB><why>
 *   wal<TAB><bytes>[<TAB><mtime epoch seconds>]   (0 when there is no WAL file)
 *   mode<TAB>wal|rollback                         (the file header's read/write versions, bytes 18-19: 2 is WAL)
 *   quick_check<TAB><ok, or the first problems>   (only when asked)
 * then the backup facts (backups/probe.ts) when backups are declared.
 */
import { renderRecoveryFacts } from "../../backups/probe";
import { scriptHeader, shellQuote } from "../../shell";

export interface SqliteStatusProbeSpec {
  path: string;
  quickCheck: boolean;
  backup?: { dir: string; prefix: string };
}

export function renderSqliteStatusProbe(spec: SqliteStatusProbeSpec): string {
  return [
    scriptHeader("SQLite status probe (read-only)."),
    "cd /",
    `db=${shellQuote(spec.path)}`,
    'if [ -f "$db" ]; then',
    "  printf 'file\\t%s\\t%s\\n' \"$(stat -c %s \"$db\")\" \"$(stat -c %Y \"$db\")\"",
    '  if [ -f "$db-wal" ]; then printf \'wal\\t%s\\t%s\\n\' "$(stat -c %s "$db-wal")" "$(stat -c %Y "$db-wal")"; else printf \'wal\\t0\\n\'; fi',
    // In WAL mode the main file is written only by checkpoints: its mtime is the last checkpoint that copied pages.
    "  case \"$(od -An -tu1 -j18 -N2 \"$db\" 2>/dev/null | tr -s ' ')\" in ' 2 2') printf 'mode\\twal\\n' ;; *) printf 'mode\\trollback\\n' ;; esac",
    ...(spec.quickCheck
      ? [
          '  if ! command -v sqlite3 >/dev/null 2>&1; then printf \'quick_check\\tsqlite3 is not installed (package sqlite3)\\n\';',
          '  else printf \'quick_check\\t%s\\n\' "$(sqlite3 -readonly -safe "$db" \'PRAGMA quick_check(5);\' 2>&1 | tr \'\\n\\t\' \'; \' | cut -c1-400)"; fi',
        ]
      : []),
    "else",
    '  printf \'down\\tno database file at %s\\n\' "$db"',
    "fi",
    ...renderRecoveryFacts(spec),
  ].join("\n");
}
