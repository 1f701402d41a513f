/**
 * MariaDB point-in-time recovery: `pitr-restore` (the newest backup before a moment, copied
 * back, then the archived binary logs replayed to that moment) and `pitr-drill` (the newest
 * backup restored into a scratch instance, replayed to its figures' point, compared, recorded).
 * Pure renderers.
 */
import { renderDrillRecorder } from "../../backups/drillResult";
import { renderCloseInheritedFds, renderPortFunctions } from "../../targets/processes";
import { scriptHeader, shellQuote } from "../../shell";
import { renderInstancePrelude } from "./host";
import { renderSupervision } from "./instanceScripts";
import { renderFiguresFunctions, renderRepositoryFunctions, renderReplayFunctions, renderScratchFunctions, TARGET_TIME, type MariadbPitrSpec } from "./pitrRepository";

const USAGE = "usage: pitr-restore (--to-time 'TIME' | --to-latest) [--into DIR] [--port N] | [--in-place --yes]";

/** Shell: the options of pitr-restore, checked before anything is touched. */
function renderRestoreOptions(): string {
  return [
    `usage() { echo ${shellQuote(USAGE)} >&2; exit 2; }`,
    'target=""; latest=""; into=""; port=""; inplace=""; yes=""',
    "while [ $# -gt 0 ]; do",
    '  case "$1" in',
    '    --to-time) [ $# -ge 2 ] || usage; target=$2; shift 2 ;;',
    "    --to-latest) latest=1; shift ;;",
    '    --into) [ $# -ge 2 ] || usage; into=$2; shift 2 ;;',
    '    --port) [ $# -ge 2 ] || usage; port=$2; shift 2 ;;',
    "    --in-place) inplace=1; shift ;;",
    "    --yes) yes=1; shift ;;",
    "    *) usage ;;",
    "  esac",
    "done",
    '{ [ -n "$target" ] && [ -z "$latest" ]; } || { [ -z "$target" ] && [ -n "$latest" ]; } || usage',
    `time_re=${shellQuote(TARGET_TIME)}`,
    `if [ -n "$target" ] && ! [[ "$target" =~ $time_re ]]; then echo "--to-time: not a timestamp such as '2026-12-07 13:45:00+00': $target" >&2; exit 2; fi`,
    'if [ -n "$into" ] && ! [[ "$into" =~ ^/[A-Za-z0-9._/-]+$ ]]; then echo "--into: not an absolute directory path: $into" >&2; exit 2; fi',
    'if [ -n "$port" ] && ! [[ "$port" =~ ^[0-9]{1,5}$ && "$port" -ge 1 && "$port" -le 65535 ]]; then echo "--port: not a port: $port" >&2; exit 2; fi',
    'if [ -n "$inplace" ] && { [ -n "$into" ] || [ -n "$port" ]; }; then echo "--in-place restores into the instance itself: no --into or --port" >&2; exit 2; fi',
    'if [ -n "$inplace" ] && [ -z "$yes" ]; then echo "--in-place replaces the data of MariaDB instance $INSTANCE (its data directory is kept as a safety copy first): add --yes to go ahead" >&2; exit 2; fi',
    "# The moment, in UTC to the second: binary log events carry whole seconds (a fraction is dropped:",
    "# the events of that second are not replayed).",
    'stop_utc=""; stop_epoch=""',
    'if [ -n "$target" ]; then',
    '  stop_epoch=$(date -u -d "$target" +%s 2>/dev/null) || { echo "--to-time: not a time: $target" >&2; exit 2; }',
    '  stop_utc=$(date -u -d "@$stop_epoch" "+%Y-%m-%d %H:%M:%S")',
    "fi",
  ].join("\n");
}

/**
 * `pitr-restore (--to-time 'TIME' | --to-latest) [--into DIR] [--port N]`: by default into a new
 * data directory beside the running instance, started on a free port (127.0.0.1 only); with
 * `--in-place --yes`, into the instance itself after its data directory is set aside as a safety
 * copy (its binary log numbering then continues after the archive's, and a full backup is taken).
 * Prints the backup restored and the time of the last transaction replayed.
 */
export function renderPitrRestore(spec: MariadbPitrSpec): string {
  return [
    scriptHeader(`Restores MariaDB deployment ${spec.name} to a moment from its repository ${spec.dir}.`),
    "# Usage: pitr-restore --to-time 'YYYY-MM-DD HH:MM:SS[+ZZ:ZZ]' [--into DIR] [--port N]",
    "# Usage: pitr-restore --to-latest [--into DIR] [--port N]",
    "# Usage: pitr-restore (--to-time 'TIME' | --to-latest) --in-place --yes",
    renderInstancePrelude(spec),
    renderCloseInheritedFds(),
    renderPortFunctions(),
    renderRepositoryFunctions(spec),
    renderScratchFunctions(),
    renderReplayFunctions(),
    renderSupervision(spec),
    renderRestoreOptions(),
    "# The newest backup that ended before the moment.",
    'label=""',
    'for l in $(labels); do if [ -z "$stop_epoch" ] || [ "$(info_get "$l" end)" -le "$stop_epoch" ]; then label=$l; fi; done',
    '[ -n "$label" ] || { echo "pitr-restore: no backup in $REPO ended before ${stop_utc:+$stop_utc UTC}${stop_utc:-now}" >&2; exit 1; }',
    'bfile=$(info_get "$label" binlog_file); bpos=$(info_get "$label" binlog_pos)',
    "stamp=$(date -u +%Y%m%dT%H%M%SZ)",
    'safety=""',
    'if [ -n "$inplace" ]; then',
    '  dest="$DATA_DIR"; run="$DATA_DIR.restore-$stamp"',
    "  stop_instance",
    '  if [ -d "$DATA_DIR" ] && [ -n "$(ls -A "$DATA_DIR" 2>/dev/null)" ]; then',
    '    safety="$DATA_DIR.before-restore-$stamp"',
    '    mv "$DATA_DIR" "$safety"',
    '    echo "the data directory as it was is kept as $safety"',
    "  fi",
    '  rm -rf "$DATA_DIR"',
    "else",
    '  dest="${into:-$DATA_DIR.restored-$stamp}"; run="$dest.run"',
    '  [ ! -e "$dest" ] || [ -z "$(ls -A "$dest" 2>/dev/null)" ] || { echo "--into: $dest exists and is not empty" >&2; exit 1; }',
    '  [ "$dest" != "$DATA_DIR" ] || { echo "--into: $dest is the instance\'s own data directory (use --in-place --yes)" >&2; exit 1; }',
    '  port="${port:-$(free_port $((PORT + 1)))}"',
    '  [ -z "$(port_listener_inodes "$port")" ] || { echo "--port: $port is in use" >&2; exit 1; }',
    "fi",
    '(umask 022; mkdir -p "$(dirname "$dest")")',
    'install -d -o mysql -g mysql -m 0750 "$dest"',
    'unpack_backup "$label" "$dest" || exit 1',
    'start_scratch "$dest" "$run" "$port" || { tail -n 20 "$run/error.log" >&2 2>/dev/null; echo "pitr-restore: the restored instance in $dest did not start" >&2; exit 1; }',
    'stop_opt=(); [ -z "$stop_utc" ] || stop_opt=(--stop-datetime="$stop_utc")',
    'replayed_to=""',
    'replay "$run" "$bfile" "$bpos" "" "${stop_opt[@]}" || { stop_scratch "$run"; echo "pitr-restore: the archived binary logs could not be replayed" >&2; exit 1; }',
    'rm -rf "$run/binlogs" "$run/replay.sql"',
    'echo "restored backup $label, replayed to ${stop_utc:+$stop_utc UTC}${stop_utc:-the latest archived binary log}; last transaction replayed at ${replayed_to:-none (the backup itself)}"',
    'if [ -n "$inplace" ]; then',
    '  stop_scratch "$run"; rm -rf "$run"',
    "  start_instance",
    "  # The binary log's numbering continues after the archive's: a new file never takes an archived name.",
    '  last_archived=$(for s in "$BINLOGS"/*"$EXT.sha256"; do [ -e "$s" ] && basename "$s"; done | sort | tail -n 1)',
    '  if [ -n "$last_archived" ]; then n=${last_archived%"$EXT.sha256"}; n=$((10#${n##*.} + 1)); echo "RESET MASTER TO $n;" | mariadb_root; fi',
    '  rm -f "$REPO/.flushed"',
    '  echo "instance $INSTANCE runs the restored data on port $PORT; a full backup of it is taken now"',
    '  "$(dirname "$0")/pitr-backup" full',
    "else",
    '  echo "restored into $dest, running on 127.0.0.1 port $port (socket $run/mysqld.sock); stop it with: mariadb-admin --no-defaults --socket=$run/mysqld.sock -uroot shutdown"',
    "fi",
  ].join("\n") + "\n";
}

/**
 * `pitr-drill`: restores the newest backup into a scratch instance (a free port, or the declared
 * one) beside the deployment, replays the archived binary logs to the point its figures were
 * read at, checks every declared database answers with the tables and row counts recorded then,
 * records the result (backups/drillResult.ts), removes the scratch instance, and on failure runs
 * the declared onFailure command. A damaged backup or binary log fails on its checksum.
 */
export function renderPitrDrill(spec: MariadbPitrSpec): string {
  return [
    scriptHeader(`Restore drill of MariaDB deployment ${spec.name}: restores its newest backup into a scratch instance, checks it and records the result.`),
    "# Usage: pitr-drill",
    renderDrillRecorder({ deployment: spec.name, engine: "mariadb", dir: spec.dir, history: spec.drillHistory, onFailureFile: spec.onFailureFile }),
    renderInstancePrelude(spec),
    renderCloseInheritedFds(),
    renderPortFunctions(),
    renderRepositoryFunctions(spec),
    renderFiguresFunctions(spec),
    renderScratchFunctions(),
    renderReplayFunctions(),
    'label=$(newest_label 2>/dev/null) || drill_fail "cannot read the repository $REPO"',
    '[ -n "$label" ] || drill_fail "no backup in the repository $REPO"',
    "backup=$label",
    'drill_backup_taken "$(info_get "$label" end)"',
    '[ -f "$FIG/$label.tsv" ] || drill_fail "no figures were recorded for backup $label (was it taken by pitr-backup?)"',
    'scratch=$(mktemp -d "$(dirname "$DATA_DIR")/dbstack-drill.XXXXXX"); chown mysql:mysql "$scratch"',
    "trap 'stop_scratch \"$scratch/run\"; rm -rf \"$scratch\"' EXIT",
    spec.drillPort ? `port=${spec.drillPort}` : "port=$(free_port $((PORT + 1)))",
    '[ -z "$(port_listener_inodes "$port")" ] || drill_fail "the scratch port $port is in use"',
    'install -d -o mysql -g mysql -m 0700 "$scratch/data"',
    'unpack_backup "$label" "$scratch/data" 2>"$scratch/errors" || drill_fail "$(tail -n 2 "$scratch/errors" | tr \'\\n\' \' \')"',
    'start_scratch "$scratch/data" "$scratch/run" "$port" || drill_fail "the restored instance did not start: $(tail -n 3 "$scratch/run/error.log" 2>/dev/null | tr \'\\n\' \' \')"',
    'replayed_to=""',
    'replay "$scratch/run" "$(info_get "$label" binlog_file)" "$(info_get "$label" binlog_pos)" "$(info_get "$label" snapshot_file)" --stop-position="$(info_get "$label" snapshot_pos)" 2>"$scratch/errors" \\',
    '  || drill_fail "the archived binary logs could not be replayed onto backup $label: $(tail -n 2 "$scratch/errors" | tr \'\\n\' \' \')"',
    "# Replay stopped at the figures' snapshot: the moment they were read is the point reached.",
    'recovery_point=$(info_get "$label" point)',
    'got=$(figures "$scratch/run/mysqld.sock" 2>&1) || drill_fail "a database does not answer in the restored instance: $(tail -n 2 <<<"$got" | tr \'\\n\' \' \')"',
    'drill_compare_figures "$(cat "$FIG/$label.tsv")" "$got" "backup $label"',
    "drill_pass",
  ].join("\n") + "\n";
}
