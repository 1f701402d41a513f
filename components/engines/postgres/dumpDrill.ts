/**
 * Restore drills of a PostgreSQL deployment's nightly dumps (`backup.drill`): the backup records
 * each database's figures (tables, exact row counts) in the very snapshot pg_dump dumps, and the
 * `drill` tool restores the newest backup into a scratch cluster on a free port, compares the
 * figures and records the result (backups/drillResult.ts). Pure renderers.
 */
import { renderPickBackup, STAMP_GLOB } from "../../backups/archive";
import { renderDrillRecorder } from "../../backups/drillResult";
import { renderCloseInheritedFds, renderPortFunctions } from "../../targets/processes";
import { scriptHeader, shellQuote, withHeredoc } from "../../shell";
import type { ToolFile } from "../operations";
import { renderClusterPrelude, type ClusterLocation } from "./host";
import { DUMP_COMPRESSION_LEVEL } from "./backupScripts";
import { FIGURES_SQL } from "./pitrScripts";

/** The onFailure command's file beside the `drill` tool. */
export const DUMP_DRILL_ON_FAILURE_FILE = "drill.on-failure";

/** What a drill of the nightly dumps reads. */
export interface PostgresDumpDrillSpec extends ClusterLocation {
  /** Deployment name: backups are <name>-<UTC time>.tar.gz[.gpg]. */
  name: string;
  databases: string[];
  /** The backups' directory (figures/ and drills/ are in it). */
  dir: string;
  /** The scratch cluster's port; undefined: the first free one above the deployment's. */
  scratchPort?: number;
  /** The onFailure file, when one is declared. */
  onFailureFile?: string;
  history: number;
  /** Declared health checks run in the restored copy as each database's owner (files in checkDir). Default: none. */
  healthChecks?: { database: string; owner: string; checks: { expect: boolean; match: boolean }[] }[];
  checkDir?: string;
}

/** FIGURES_SQL without its transaction: the dump's snapshot session runs it. */
const figuresInSnapshot = (): string => FIGURES_SQL.split("\n").slice(1, -1).join("\n");
const FIGURES_END = "dbstack-figures-end";

/**
 * Shell for the backup script: `dump_with_figures <db> <dump file> <figures file>` exports a
 * snapshot from a held REPEATABLE READ session, dumps it (pg_dump --snapshot) and counts every
 * table's rows in the same snapshot: the figures are exactly what the dump holds.
 */
export function renderDumpWithFigures(): string {
  return [
    "dump_with_figures() {",
    '  local db=$1 snap="" line',
    '  coproc SNAP { runuser -u postgres -- psql -X -q -tA -F $\'\\t\' -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$PORT" -d "$db" 2>&1; }',
    `  printf '%s\\n' 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;' 'SELECT pg_export_snapshot();' >&"\${SNAP[1]}"`,
    '  IFS= read -r -t 120 snap <&"${SNAP[0]}" || true',
    '  [[ "$snap" =~ ^[0-9A-F]+-[0-9A-F]+(-[0-9A-F]+)?$ ]] || fail "could not export a snapshot of database $db: $snap"',
    `  runuser -u postgres -- pg_dump -h /var/run/postgresql -p "$PORT" --format=custom --compress=${DUMP_COMPRESSION_LEVEL} --snapshot="$snap" --dbname="$db" > "$2"`,
    `  printf '%s\\n' ${shellQuote(figuresInSnapshot())} ${shellQuote(`\\echo ${FIGURES_END}`)} >&"\${SNAP[1]}"`,
    `  while IFS= read -r -t 600 line <&"\${SNAP[0]}"; do [ "$line" = ${FIGURES_END} ] && break; printf '%s\\n' "$line"; done >> "$3"`,
    `  printf '%s\\n' 'COMMIT;' '\\q' >&"\${SNAP[1]}"`,
    '  wait "$SNAP_PID" 2>/dev/null || true',
    "}",
  ].join("\n");
}

/** Lines after the archive steps ($file is the new backup): its figures kept as <dir>/figures/<backup file>.tsv (0600); figures of expired backups go. */
export function renderKeepFigures(): string {
  return [
    'install -d -m 0700 "$DEST/figures"',
    'mv -f "$work/figures.tsv" "$DEST/figures/${file##*/}.tsv"; chmod 600 "$DEST/figures/${file##*/}.tsv"',
    'for f in "$DEST/figures/"*.tsv; do [ -e "$f" ] || continue; b=${f##*/}; [ -e "$DEST/${b%.tsv}" ] || rm -f "$f"; done',
  ].join("\n");
}

/** Shell: `scratch_figures <port>` prints every declared database's figures from the scratch cluster. */
function renderScratchFigures(databases: string[]): string {
  return [
    "scratch_figures() {",
    `  local db; for db in ${databases.map(shellQuote).join(" ")}; do`,
    `    ${withHeredoc(`runuser -u postgres -- psql -X -q -tA -F $'\\t' -v ON_ERROR_STOP=1 -h "$sock" -p "$1" -d "$db"`, FIGURES_SQL)}`,
    "  done",
    "}",
  ].join("\n");
}

/**
 * The `drill` tool: the newest nightly backup, unpacked, restored into a scratch cluster (initdb,
 * local socket only, on a free port), roles first, then every declared database (pg_restore
 * --create --exit-on-error); its figures compared with those recorded at dump time; the result
 * recorded; the scratch cluster removed; onFailure run on failure.
 */
export function renderPostgresDumpDrill(spec: PostgresDumpDrillSpec): string {
  return [
    scriptHeader(`Restore drill of the nightly backups of PostgreSQL deployment ${spec.name}: restores the newest into a scratch cluster, checks it and records the result.`),
    "# Usage: drill",
    renderDrillRecorder({ deployment: spec.name, engine: "postgres", dir: spec.dir, history: spec.history, onFailureFile: spec.onFailureFile }),
    renderClusterPrelude(spec),
    renderCloseInheritedFds(),
    renderPortFunctions(),
    renderScratchFigures(spec.databases),
    `NAME=${shellQuote(spec.name)}`,
    `DEST=${shellQuote(spec.dir)}`,
    'free_port() { local p=$1; while [ -n "$(port_listener_inodes "$p")" ]; do p=$((p + 1)); done; echo "$p"; }',
    `newest=$(find "$DEST" -maxdepth 1 -type f -name "$NAME-${STAMP_GLOB}.tar.gz*" | sort | tail -n 1)`,
    '[ -n "$newest" ] || drill_fail "no backup of $NAME in $DEST"',
    "backup=${newest##*/}",
    "stamp=$(grep -oE '[0-9]{8}T[0-9]{6}Z' <<<\"$backup\" | head -n 1)",
    'recovery_point="${stamp:0:4}-${stamp:4:2}-${stamp:6:2}T${stamp:9:2}:${stamp:11:2}:${stamp:13:2}Z"',
    'drill_backup_taken "$(date -u -d "$recovery_point" +%s)"',
    '[ -f "$DEST/figures/$backup.tsv" ] || drill_fail "no figures were recorded for $backup (taken before the drill was declared?)"',
    'scratch=$(mktemp -d /var/lib/postgresql/dbstack-dump-drill.XXXXXX); chown postgres:postgres "$scratch"',
    "work=$(mktemp -d)",
    "trap 'runuser -u postgres -- \"$PGBIN/pg_ctl\" -D \"$scratch/data\" -m immediate stop >/dev/null 2>&1 || true; rm -rf \"$scratch\" \"$work\"' EXIT",
    spec.scratchPort ? `port=${spec.scratchPort}` : "port=$(free_port $((PORT + 1)))",
    '[ -z "$(port_listener_inodes "$port")" ] || drill_fail "the scratch port $port is in use"',
    "# The newest backup, decrypted and decompressed into $work/restored, then unpacked.",
    `( set -- "$newest"; ${renderPickBackup(".tar").split("\n").join("\n  ")}`,
    ') 2>"$work/unpack.err" || drill_fail "cannot unpack $backup: $(tail -n 2 "$work/unpack.err" | tr \'\\n\' \' \')"',
    'mkdir "$work/dump"; tar -C "$work/dump" -xf "$work/restored" 2>"$work/unpack.err" || drill_fail "cannot unpack $backup: $(tail -n 2 "$work/unpack.err" | tr \'\\n\' \' \')"',
    "# The scratch cluster's socket is in a directory only postgres (and root) can enter: trust there lets the health checks log in as the owners.",
    'sock="$scratch/sock"; install -d -o postgres -g postgres -m 0700 "$sock"',
    'runuser -u postgres -- "$PGBIN/initdb" -D "$scratch/data" -U postgres --auth-local=trust --auth-host=reject -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 || drill_fail "initdb of the scratch cluster failed: $(tail -n 2 "$work/initdb.log" | tr \'\\n\' \' \')"',
    `( close_inherited_fds; exec runuser -u postgres -- "$PGBIN/pg_ctl" -D "$scratch/data" -l "$scratch/postgres.log" -w -t 300 -o "-c listen_addresses='' -c port=$port -c unix_socket_directories=$sock" start </dev/null >/dev/null ) \\`,
    '  || drill_fail "the scratch cluster did not start: $(tail -n 3 "$scratch/postgres.log" 2>/dev/null | tr \'\\n\' \' \')"',
    "# Roles first (the role postgres exists already: that error is expected), then each database with its settings.",
    'runuser -u postgres -- psql -X -q -h "$sock" -p "$port" -d postgres < "$work/dump/globals.sql" >/dev/null 2>&1 || true',
    `for db in ${spec.databases.map(shellQuote).join(" ")}; do`,
    '  [ -f "$work/dump/$db.dump" ] || drill_fail "backup $backup holds no dump of database $db"',
    '  out=$(runuser -u postgres -- pg_restore -h "$sock" -p "$port" --create --exit-on-error --dbname=postgres < "$work/dump/$db.dump" 2>&1) \\',
    '    || drill_fail "pg_restore of database $db from $backup failed: $(tail -n 3 <<<"$out" | tr \'\\n\' \' \')"',
    "done",
    'got=$(scratch_figures "$port" 2>&1) || drill_fail "a database does not answer in the scratch cluster: $(tail -n 2 <<<"$got" | tr \'\\n\' \' \')"',
    'drill_compare_figures "$(cat "$DEST/figures/$backup.tsv")" "$got" "backup $backup"',
    ...renderDrillHealthChecks(spec),
    "drill_pass",
  ].join("\n") + "\n";
}

/**
 * Shell: each database's declared health checks in the restored copy, logged in as its owner (no
 * more power than the deploy's checks have). The name, SQL and expectations are read from the
 * health tools' 0600 files; the SQL reaches psql as one -c argument after a space, so it is never
 * a psql backslash command.
 */
function renderDrillHealthChecks(spec: PostgresDumpDrillSpec): string[] {
  if (!spec.checkDir) return [];
  return (spec.healthChecks ?? []).flatMap((db) =>
    db.checks.flatMap((c, i) => [
      `check=${shellQuote(`${spec.checkDir}/health-${db.database}.check-${i + 1}`)}; dbname=${shellQuote(db.database)}`,
      'name=$(cat "$check.name") || drill_fail "the health check files of the deployment are missing: $check"',
      `out=$(runuser -u postgres -- psql -X -q -tA -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U ${shellQuote(db.owner)} -d ${shellQuote(db.database)} -c " $(cat "$check.sql")" 2>&1 | cut -d'|' -f1) \\`,
      `  || drill_fail "health check $name of database $dbname failed in the restored copy: $(tail -n 2 <<<"$out" | tr '\\n' ' ')"`,
      ...(c.expect ? ['[ "$out" = "$(cat "$check.expect")" ] || drill_fail "health check $name of database $dbname in the restored copy: expected $(cat "$check.expect"), got $out"'] : []),
      ...(c.match ? ['printf \'%s\' "$out" | grep -Eq -- "$(cat "$check.match")" || drill_fail "health check $name of database $dbname in the restored copy: $out does not match"'] : []),
      'printf \'health check %s: %s\\n\' "$name" "$(head -n 1 <<<"$out")"',
    ]),
  );
}

/** The drill tool and its onFailure file (0600, the user's text verbatim). */
export function postgresDumpDrillTools(spec: PostgresDumpDrillSpec, onFailure: string | undefined): ToolFile[] {
  return [["drill", renderPostgresDumpDrill(spec)], ...(onFailure === undefined ? [] : [[DUMP_DRILL_ON_FAILURE_FILE, onFailure.endsWith("\n") ? onFailure : `${onFailure}\n`, "0600"] as ToolFile])];
}
