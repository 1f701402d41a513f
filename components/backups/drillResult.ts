/**
 * The result of a restore drill, the same for every engine: the shape the status outputs read
 * (docs/pitr.md), and the shell that records it. A drill writes `<dir>/drills/last.json` (0600)
 * and appends the same object as one line to `<dir>/drills/history.jsonl`, keeping the last lines.
 */
import type { EngineKind } from "../model/engineKind";
import { shellQuote } from "../shell";

/** One drill's result: exactly these fields (the contract with the status outputs). */
export interface DrillResult {
  deployment: string;
  engine: EngineKind;
  /** When the drill started, ISO-8601 UTC. */
  startedAt: string;
  /** Seconds the drill took. */
  durationS: number;
  /** The backup restored (a file, or a backup label). */
  backup: string;
  /** Hours between the end of that backup and the drill's start. */
  backupAgeH: number;
  /** The last transaction the restore replayed (ISO), or null when it replayed none. */
  recoveryPoint: string | null;
  ok: boolean;
  /** Why the drill failed; empty when ok. */
  reason: string;
}

/** The drills' directory under a backup directory or repository. */
export function drillsDir(dir: string): string {
  return `${dir.replace(/\/+$/, "")}/drills`;
}

/**
 * Shell functions of a drill tool (after the header). The drill sets $backup, $backup_age_h and
 * $recovery_point (empty: null) as it learns them (`drill_backup_taken <epoch>` sets the age);
 * `drill_compare_figures <recorded> <restored> <backup>` fails on any difference; `drill_fail <reason>` records a failure, runs
 * the onFailure command (a 0600 file beside the tool, run with bash with DRILL_RESULT set) and
 * exits 1; `drill_pass` records success and exits 0. Every error that ends the script is a
 * recorded failure (ERR trap): a drill that cannot run is never a silent skip.
 */
export function renderDrillRecorder(spec: { deployment: string; engine: EngineKind; dir: string; history: number; onFailureFile?: string }): string {
  const dir = drillsDir(spec.dir);
  return [
    `DRILLS=${shellQuote(dir)}`,
    `DRILL_DEPLOYMENT=${shellQuote(spec.deployment)}`,
    `DRILL_ENGINE=${shellQuote(spec.engine)}`,
    'started=$(date -u +%Y-%m-%dT%H:%M:%SZ); t0=$(date +%s)',
    'backup=""; backup_age_h=0; recovery_point=""',
    "# A JSON string: backslashes and quotes escaped, control characters made spaces.",
    "json_str() {",
    '  local s="$1"',
    '  s=${s//\\\\/\\\\\\\\}; s=${s//\\"/\\\\\\"}',
    `  printf '"%s"' "$(printf '%s' "$s" | tr '\\000-\\037' ' ')"`,
    "}",
    "drill_record() {",
    '  local ok=$1 reason=$2 rp=null line',
    '  [ -n "$recovery_point" ] && rp=$(json_str "$recovery_point")',
    '  line=$(printf \'{"deployment":%s,"engine":%s,"startedAt":%s,"durationS":%s,"backup":%s,"backupAgeH":%s,"recoveryPoint":%s,"ok":%s,"reason":%s}\' \\',
    '    "$(json_str "$DRILL_DEPLOYMENT")" "$(json_str "$DRILL_ENGINE")" "$(json_str "$started")" "$(( $(date +%s) - t0 ))" \\',
    '    "$(json_str "$backup")" "${backup_age_h:-0}" "$rp" "$ok" "$(json_str "$reason")")',
    '  ( umask 077; mkdir -p "$DRILLS"; chmod 700 "$DRILLS"',
    '    printf \'%s\\n\' "$line" > "$DRILLS/last.json.tmp"; mv -f "$DRILLS/last.json.tmp" "$DRILLS/last.json"',
    '    { cat "$DRILLS/history.jsonl" 2>/dev/null || true; printf \'%s\\n\' "$line"; } | tail -n ' + spec.history + ' > "$DRILLS/history.jsonl.tmp"',
    '    mv -f "$DRILLS/history.jsonl.tmp" "$DRILLS/history.jsonl" )',
    '  echo "$line"',
    "}",
    "drill_fail() {",
    "  trap - ERR",
    '  drill_record false "$1"',
    '  echo "$(date -u +%FT%TZ) restore drill of $DRILL_DEPLOYMENT FAILED: $1" >&2',
    '  logger -t dbstack-drill -p user.err "restore drill of $DRILL_DEPLOYMENT failed: $1" 2>/dev/null || true',
    ...(spec.onFailureFile
      ? [
          "  # The onFailure command is the user's text: a 0600 file beside this tool, never part of it.",
          `  DRILL_RESULT="$DRILLS/last.json" bash ${shellQuote(spec.onFailureFile)} || echo "the drill's onFailure command failed (exit $?)" >&2`,
        ]
      : []),
    "  exit 1",
    "}",
    'drill_pass() { drill_record true ""; exit 0; }',
    "# $backup_age_h from the time the backup was taken ($1, seconds since the epoch).",
    "drill_backup_taken() { backup_age_h=$(awk -v a=\"$(date +%s)\" -v b=\"$1\" 'BEGIN { printf \"%.2f\", (a - b) / 3600 }'); }",
    "# Fails the drill when the figures of the restored copy ($2) are not those recorded when backup $3 was taken ($1).",
    "drill_compare_figures() {",
    '  if [ "$1" = "$2" ]; then return 0; fi',
    "  local difference",
    "  difference=$(diff <(printf '%s\\n' \"$1\") <(printf '%s\\n' \"$2\") || true)",
    "  drill_fail \"figures differ from those recorded at $3 (< recorded, > restored): $(grep '^[<>]' <<<\"$difference\" | head -n 6 | tr '\\t\\n' ' ;')\"",
    "}",
    `trap 'drill_fail "command failed at line $LINENO: $BASH_COMMAND"' ERR`,
  ].join("\n");
}

/** The drill result in `text` (a last.json), or null when there is none or it is not one (a field missing or mistyped). */
export function parseDrillResult(text: string): DrillResult | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== "object") return null;
  const r = v as Record<string, unknown>;
  const typed =
    typeof r.deployment === "string" &&
    ["postgres", "mariadb", "sqlite"].includes(r.engine as string) &&
    typeof r.startedAt === "string" &&
    typeof r.durationS === "number" &&
    typeof r.backup === "string" &&
    typeof r.backupAgeH === "number" &&
    (r.recoveryPoint === null || typeof r.recoveryPoint === "string") &&
    typeof r.ok === "boolean" &&
    typeof r.reason === "string";
  if (!typed) return null;
  const { deployment, engine, startedAt, durationS, backup, backupAgeH, recoveryPoint, ok, reason } = r as unknown as DrillResult;
  return { deployment, engine, startedAt, durationS, backup, backupAgeH, recoveryPoint, ok, reason };
}
