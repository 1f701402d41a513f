/**
 * SQLite's restore drill (a backup schedule's `drill`): the figures the backup records beside
 * each backup, and the `drill` tool that restores the newest backup into a scratch file, runs
 * PRAGMA integrity_check, compares the figures and records the result (backups/drillResult.ts).
 */
import { renderPickBackup, STAMP_GLOB } from "../../backups/archive";
import { renderDrillRecorder } from "../../backups/drillResult";
import type { BackupPolicy } from "../../backups/policy";
import { scriptHeader, shellQuote } from "../../shell";
import type { ToolFile } from "../operations";

/** What a drill of an SQLite database's backups reads. */
export interface SqliteDrillSpec {
  /** Deployment name: backups are <name>-<UTC time>.db.gz[.gpg]. */
  name: string;
  policy: BackupPolicy;
  /** The tools directory (the onFailure file is beside the tool). */
  toolsDir: string;
  /** Whether an onFailure command is declared (its file is `drill.on-failure`). */
  onFailure: boolean;
  /** Results kept in the history file. */
  history: number;
}

/** The onFailure command's file beside the `drill` tool. */
export const SQLITE_DRILL_ON_FAILURE_FILE = "drill.on-failure";

/**
 * SQL that writes, for every table, a statement counting its rows: names are quoted by SQLite
 * itself (quote() and the doubled quotes of an identifier), so no name becomes SQL or shell.
 */
export const SQLITE_FIGURES_SQL =
  "SELECT 'SELECT ' || quote(name) || ', count(*) FROM \"' || replace(name, '\"', '\"\"') || '\";' FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name;";

/** Shell: `sqlite_figures FILE` prints one line per table, `<table> <rows>`, read-only. */
export function renderSqliteFigures(): string {
  return `sqlite_figures() { sqlite3 -batch -readonly "$1" ${shellQuote(SQLITE_FIGURES_SQL)} | sqlite3 -batch -readonly -separator $'\\t' "$1"; }`;
}

/**
 * Lines the backup script runs after its archive steps ($work/snapshot.db still there, $file the
 * new backup): the snapshot's figures, kept as <dir>/figures/<backup file name>.tsv (0600).
 * Figures of backups retention removed go with them.
 */
export function renderRecordFigures(): string {
  return [
    renderSqliteFigures(),
    'install -d -m 0700 "$DEST/figures"',
    'sqlite_figures "$work/snapshot.db" > "$DEST/figures/${file##*/}.tsv"; chmod 600 "$DEST/figures/${file##*/}.tsv"',
    'for f in "$DEST/figures/"*.tsv; do [ -e "$f" ] || continue; b=${f##*/}; [ -e "$DEST/${b%.tsv}" ] || rm -f "$f"; done',
  ].join("\n");
}

/** The `drill` tool. */
export function renderSqliteDrill(spec: SqliteDrillSpec): string {
  return [
    scriptHeader(`Restore drill of sqlite database ${spec.name}: restores its newest backup into a scratch file, checks it and records the result.`),
    "# Usage: drill",
    renderDrillRecorder({
      deployment: spec.name,
      engine: "sqlite",
      dir: spec.policy.dir,
      history: spec.history,
      onFailureFile: spec.onFailure ? `${spec.toolsDir}/${SQLITE_DRILL_ON_FAILURE_FILE}` : undefined,
    }),
    `NAME=${shellQuote(spec.name)}`,
    `DEST=${shellQuote(spec.policy.dir)}`,
    renderSqliteFigures(),
    "work=$(mktemp -d)",
    "trap 'rm -rf \"$work\"' EXIT",
    `newest=$(find "$DEST" -maxdepth 1 -type f -name "$NAME-${STAMP_GLOB}.db.gz*" | sort | tail -n 1)`,
    '[ -n "$newest" ] || drill_fail "no backup of $NAME in $DEST"',
    'backup=${newest##*/}',
    "stamp=$(grep -oE '[0-9]{8}T[0-9]{6}Z' <<<\"$backup\" | head -n 1)",
    'taken=$(date -u -d "${stamp:0:4}-${stamp:4:2}-${stamp:6:2}T${stamp:9:2}:${stamp:11:2}:${stamp:13:2}Z" +%s)',
    'drill_backup_taken "$taken"',
    '[ -f "$DEST/figures/$backup.tsv" ] || drill_fail "no figures were recorded for $backup (taken before the drill was declared?)"',
    "# The newest backup, decompressed (and decrypted) into the scratch file $work/restored.",
    `( set -- "$newest"; ${renderPickBackup(".db").split("\n").join("\n  ")}`,
    ") 2>\"$work/unpack.err\" || drill_fail \"cannot unpack $backup: $(tail -n 2 \"$work/unpack.err\" | tr '\\n' ' ')\"",
    'check=$(sqlite3 -batch -readonly "$work/restored" "PRAGMA integrity_check" 2>&1) || check="${check:-sqlite3 failed}"',
    '[ "$check" = ok ] || drill_fail "PRAGMA integrity_check of $backup: $(head -n 3 <<<"$check" | tr \'\\n\' \' \')"',
    'got=$(sqlite_figures "$work/restored" 2>&1) || drill_fail "cannot read the tables of $backup: $got"',
    'drill_compare_figures "$(cat "$DEST/figures/$backup.tsv")" "$got" backup',
    'recovery_point="${stamp:0:4}-${stamp:4:2}-${stamp:6:2}T${stamp:9:2}:${stamp:11:2}:${stamp:13:2}Z"',
    "drill_pass",
  ].join("\n") + "\n";
}

/** The drill tool and its onFailure file (0600, the user's text verbatim). */
export function sqliteDrillTools(spec: SqliteDrillSpec, onFailure: string | undefined): ToolFile[] {
  return [["drill", renderSqliteDrill(spec)], ...(onFailure === undefined ? [] : [[SQLITE_DRILL_ON_FAILURE_FILE, onFailure.endsWith("\n") ? onFailure : `${onFailure}\n`, "0600"] as ToolFile])];
}
