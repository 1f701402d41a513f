/**
 * The part of every status probe that looks at backups on a host (read-only): the newest backup
 * of a deployment and the last restore drill's record. What the probe prints is parsed by
 * scripts/lib/status/probe.ts; one line per fact, tab-separated:
 *
 *   backup<TAB><mtime epoch seconds><TAB><bytes><TAB><file name>   or   backup<TAB>none
 *   backups<TAB><how many>
 *   backupdir<TAB><the directory's mtime, epoch seconds: when the schedule was installed, while no backup ran>
 *   drill<TAB><the drill's JSON, on one line>                      (only when a drill recorded one)
 */
import { shellQuote } from "../shell";

/** Where a restore drill writes its last result, under the backup directory (the PITR helper's contract). */
export const DRILL_RECORD = "drills/last.json";

/**
 * The backup and drill facts every engine's status probe ends with: the nightly backups (and a
 * drill record under them) when declared, and a drill record kept elsewhere (`drillRecord`).
 */
export function renderRecoveryFacts(spec: { backup?: { dir: string; prefix: string }; drillRecord?: string }): string[] {
  return [...(spec.backup ? [renderBackupProbe(spec.backup)] : []), ...(spec.drillRecord ? [renderDrillProbe(spec.drillRecord)] : [])];
}

/**
 * Shell lines that print a restore drill's record kept elsewhere than under the backup directory
 * (a server deployment's point-in-time recovery drills: `<pitr dir>/drills/last.json`).
 */
export function renderDrillProbe(file: string): string {
  return `if [ -f ${shellQuote(file)} ]; then printf 'drill\\t%s\\n' "$(head -c 8000 ${shellQuote(file)} | tr -d '\\n\\r\\t')"; fi`;
}

/** Shell lines that print the backup and drill facts of the backups `dir/<prefix>-*`. */
export function renderBackupProbe(backup: { dir: string; prefix: string }): string {
  return [
    `backup_dir=${shellQuote(backup.dir)}`,
    `backup_prefix=${shellQuote(backup.prefix)}`,
    'if [ -d "$backup_dir" ]; then',
    '  printf \'backupdir\\t%s\\n\' "$(stat -c %Y "$backup_dir")"',
    '  listing=$(find "$backup_dir" -maxdepth 1 -type f -name "$backup_prefix-*" ! -name "*.tmp" ! -name "*.partial" -printf \'%T@\\t%s\\t%f\\n\' 2>/dev/null | sort -rn || true)',
    '  newest=$(printf \'%s\\n\' "$listing" | head -n 1)',
    '  if [ -n "$newest" ]; then printf \'backup\\t%s\\n\' "$newest"; else printf \'backup\\tnone\\n\'; fi',
    '  printf \'backups\\t%s\\n\' "$(printf \'%s\' "$listing" | grep -c . || true)"',
    `  if [ -f "$backup_dir/${DRILL_RECORD}" ]; then printf 'drill\\t%s\\n' "$(head -c 8000 "$backup_dir/${DRILL_RECORD}" | tr -d '\\n\\r\\t')"; fi`,
    "else",
    "  printf 'backup\\tnone\\n'",
    "fi",
  ].join("\n");
}
