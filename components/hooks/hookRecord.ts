/**
 * The last post-deploy hook's result, recorded on the host where it ran, per database: whether it
 * succeeded, its exit code, when it finished and how long it took. `status` reads these records
 * (and writes them to node_exporter's textfile as dbstack_hook_* series): a hook that failed
 * the last deploy is visible after the deploy's log is gone.
 *
 * The record holds figures only (no output of the hook, which may carry a migration's text or a
 * client's error), so it is written 0644. It lives in `<toolsDir>/hooks/<database>.json`; the
 * hook's step removes it when the step is destroyed (before the tools directory goes).
 */
import { shellQuote } from "../shell";

/** The directory of a deployment's hook records, under its tools directory. */
export function hookRecordsDir(toolsDir: string): string {
  return `${toolsDir}/hooks`;
}

/** One database's record (database names are validated identifiers, so they are plain file names). */
export function hookRecordPath(toolsDir: string, database: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_$-]*$/.test(database)) throw new Error(`hook record: database name ${JSON.stringify(database)} is not a plain identifier`);
  return `${hookRecordsDir(toolsDir)}/${database}.json`;
}

/**
 * The hook `script` run so that its result is recorded whatever it does: the script's body runs
 * in a subshell (its own `set -e`, traps and `exit` stay inside it), then the record is written
 * atomically (a temporary file beside it, then mv) and the hook exits with the body's status.
 */
export function renderRecordedHook(script: string, record: string): string {
  const dir = record.slice(0, record.lastIndexOf("/"));
  return [
    "#!/usr/bin/env bash",
    "# dbstack post-deploy hook, its result recorded for status (figures only).",
    "set -uo pipefail",
    "dbstack_hook_started=$(date +%s)",
    "(",
    script.replace(/^#!.*\n/, ""),
    ")",
    "dbstack_hook_rc=$?",
    "dbstack_hook_finished=$(date +%s)",
    `dbstack_hook_record=${shellQuote(record)}`,
    "dbstack_hook_ok=false; [ \"$dbstack_hook_rc\" -eq 0 ] && dbstack_hook_ok=true",
    `if mkdir -p ${shellQuote(dir)} && (umask 022; printf '{"ok":%s,"exitCode":%s,"finishedAt":"%s","durationS":%s}\\n' "$dbstack_hook_ok" "$dbstack_hook_rc" "$(date -u -d "@$dbstack_hook_finished" +%Y-%m-%dT%H:%M:%SZ)" "$((dbstack_hook_finished - dbstack_hook_started))" > "$dbstack_hook_record.tmp") && mv -f "$dbstack_hook_record.tmp" "$dbstack_hook_record"; then :; else`,
    '  echo "dbstack: could not record the hook\'s result in $dbstack_hook_record" >&2',
    "fi",
    'exit "$dbstack_hook_rc"',
  ].join("\n") + "\n";
}

/**
 * Read-only, the hook step's probe at each preview and up: holds while the last run is recorded as
 * a success. A hook whose last run failed (an up that failed, then a declaration put back as it
 * was, which Pulumi sees as no change) runs again at the next up, so its record is the truth of
 * the declared state, not of a reverted one; so does a hook whose record is gone.
 */
export function renderHookSucceeded(record: string): string {
  return `grep -q '^{"ok":true,' ${shellQuote(record)}\n`;
}

/** Removes a hook's record, and the records' directory once it is empty. */
export function renderRemoveHookRecord(record: string): string {
  const dir = record.slice(0, record.lastIndexOf("/"));
  return [`rm -f ${shellQuote(record)} ${shellQuote(`${record}.tmp`)}`, `rmdir ${shellQuote(dir)} 2>/dev/null || true`].join("\n") + "\n";
}

/**
 * Shell lines (for a status probe) that print each hook record of `dir`, one a line:
 * `hook<TAB><database><TAB><the record's JSON>`.
 */
export function renderHookRecordProbe(dir: string): string {
  return [
    `for f in ${shellQuote(dir)}/*.json; do`,
    '  [ -f "$f" ] || continue',
    '  n=${f##*/}; printf \'hook\\t%s\\t%s\\n\' "${n%.json}" "$(head -c 2000 "$f" | tr -d \'\\n\\r\\t\')"',
    "done",
  ].join("\n");
}
