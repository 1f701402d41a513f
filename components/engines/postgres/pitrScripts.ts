/**
 * PostgreSQL point-in-time recovery with pgBackRest: the repository's configuration, the
 * archiving settings, and the tools `pitr-backup`, `pitr-restore` and `pitr-drill`. Pure
 * renderers of the declared spec; deploy/phases/pitr.ts ships and schedules them.
 */
import { renderDrillRecorder } from "../../backups/drillResult";
import { renderCloseInheritedFds, renderPortFunctions } from "../../targets/processes";
import { scriptHeader, shellQuote, withHeredoc } from "../../shell";
import type { PitrSpec } from "../pitr";
import { renderClusterPrelude, type ClusterLocation } from "./host";
import { renderDbRepoLines, renderDbSshSide, renderDbSshSideRemove, renderPgbRepo } from "./pitrRemote";

/** What the PITR renderers of one deployment read: where the cluster is, and the declared spec. */
export type PostgresPitrSpec = ClusterLocation & PitrSpec;

/** The environment variable the setup step receives the repository's cipher secret in. */
export const PITR_CIPHER_VARIABLE = "DBSTACK_PITR_CIPHER";
/** The configuration file conf.d gets for archiving. */
export const PITR_CONF_D = "conf.d/20-dbstack-pitr.conf";
/** A restore's target time: digits, date and time separators, a zone; never a quote (it reaches postgresql.auto.conf). */
export const TARGET_TIME = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?( ?(Z|UTC|[+-][0-9]{2}(:?[0-9]{2})?))?$";

/** The cluster's data directory. */
export function dataDir(loc: ClusterLocation): string {
  return loc.dataDirectory ?? `/var/lib/postgresql/${loc.version}/${loc.cluster}`;
}

/** pgBackRest's configuration without the cipher secret: [global] then the stanza (the secret line goes between, from the environment). */
export function renderPgbackrestConf(spec: PostgresPitrSpec): { global: string; stanza: string } {
  const global = [
    `# dbstack: pgBackRest repository of PostgreSQL deployment ${spec.name}. Managed by Pulumi; edit the stack config, not this file.`,
    "[global]",
    // With a repository host, the repository's path, retention and cipher are its configuration's.
    ...(spec.remote ? renderDbRepoLines({ ...spec, remote: spec.remote }) : [`repo1-path=${spec.dir}`, `repo1-retention-full=${spec.retentionFull}`, ...(spec.encrypt ? ["repo1-cipher-type=aes-256-cbc"] : [])]),
    "start-fast=y",
    "compress-type=lz4",
    "process-max=2",
    "log-level-file=info",
    "",
  ].join("\n");
  const stanza = [`[${spec.stanza}]`, `pg1-path=${dataDir(spec)}`, `pg1-port=${spec.port}`, "pg1-socket-path=/var/run/postgresql", ""].join("\n");
  return { global, stanza };
}

/** The archiving settings (conf.d, after dbstack's tuning file so that they win). */
export function renderArchiveConf(spec: PostgresPitrSpec): string {
  return [
    `# dbstack: continuous archiving of ${spec.name} to pgBackRest stanza ${spec.stanza}. Managed by Pulumi.`,
    "wal_level = replica",
    "archive_mode = on",
    `archive_command = 'pgbackrest --config=${spec.confFile} --stanza=${spec.stanza} archive-push %p'`,
    `archive_timeout = ${spec.archiveTimeoutS}s`,
    "",
  ].join("\n");
}

/** Shell: pgbackrest as postgres with this deployment's configuration and stanza. */
function renderPgb(spec: PostgresPitrSpec): string {
  return `pgb() { runuser -u postgres -- pgbackrest --config=${shellQuote(spec.confFile)} --stanza=${shellQuote(spec.stanza)} "$@"; }`;
}

/** Shell: `newest_label` prints the newest backup's label (empty when none); `backup_stop <label>` its end (epoch seconds). */
function renderBackupInfo(): string {
  return [
    'newest_label() { pgb --output=json info | jq -r \'[.[0].backup[]?.label] | last // ""\'; }',
    'backup_stop() { pgb --output=json info | jq -r --arg l "$1" \'.[0].backup[]? | select(.label == $l) | .timestamp.stop\'; }',
  ].join("\n");
}

/**
 * SQL (for psql -tA, tab-separated) that prints a database's figures: one line per table,
 * `<database> <schema.table> <rows>`, in a stable order. The same at backup time and in a drill.
 */
export const FIGURES_SQL = [
  "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;",
  "SELECT format('SELECT %L, %L, count(*) FROM %I.%I', current_database(), n.nspname || '.' || c.relname, n.nspname, c.relname)",
  "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace",
  "  WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'",
  "  ORDER BY n.nspname, c.relname \\gexec",
  "COMMIT;",
].join("\n");

/** Shell: `figures <port>` prints every declared database's figures (FIGURES_SQL) from the instance on <port>. */
function renderFiguresFunction(spec: PostgresPitrSpec): string {
  return [
    "figures() {",
    `  local db; for db in ${spec.databases.map(shellQuote).join(" ")}; do`,
    `    ${withHeredoc(`runuser -u postgres -- psql -X -q -tA -F $'\\t' -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$1" -d "$db"`, FIGURES_SQL)}`,
    "  done",
    "}",
  ].join("\n");
}

/**
 * The setup step: writes the repository's configuration (the cipher secret from the step's
 * environment into the 0600 file), the archiving settings (restarting the cluster only when
 * archive_mode changes), creates the stanza, checks that archiving works, and takes the first
 * full backup when the repository has none, so a restore works from the first up.
 */
export function renderPitrSetup(spec: PostgresPitrSpec, toolsDir: string): string {
  const conf = renderPgbackrestConf(spec);
  const confWord = shellQuote(spec.confFile);
  const tmp = shellQuote(`${spec.confFile}.dbstack-tmp`);
  return [
    scriptHeader(`Sets up continuous archiving of PostgreSQL cluster ${spec.cluster} to pgBackRest stanza ${spec.stanza}.`),
    renderClusterPrelude(spec),
    renderCloseInheritedFds(),
    'cluster_running || { echo "pitr: cluster $V/$CLUSTER is not running" >&2; exit 1; }',
    "if ! command -v pgbackrest >/dev/null || ! command -v jq >/dev/null; then",
    "  export DEBIAN_FRONTEND=noninteractive",
    "  { apt-get update -qq && apt-get install -y -qq --no-install-recommends pgbackrest jq; } >&2 || { echo 'pitr: install the Debian packages pgbackrest and jq on this host' >&2; exit 1; }",
    "fi",
    `install -d -m 0755 ${shellQuote(spec.confFile.slice(0, spec.confFile.lastIndexOf("/")))}`,
    `install -d -o postgres -g postgres -m 0700 ${shellQuote(spec.dir)}`,
    "# The cipher secret reaches the file from the environment; it is never part of this script.",
    "(",
    "  umask 077",
    "  {",
    `    ${withHeredoc("cat", conf.global, "DBSTACK_CONF")}`,
    ...(spec.encrypt && !spec.remote ? [`    printf 'repo1-cipher-pass=%s\\n\\n' "$${PITR_CIPHER_VARIABLE}"`] : []),
    `    ${withHeredoc("cat", conf.stanza, "DBSTACK_CONF")}`,
    `  } > ${tmp}`,
    ")",
    `chown postgres:postgres ${tmp}; chmod 600 ${tmp}; mv -f ${tmp} ${confWord}`,
    ...(spec.remote ? ["# The login to the repository host, and the repository host's login back (pgBackRest only).", renderDbSshSide({ ...spec, remote: spec.remote })] : []),
    `( umask 022; ${withHeredoc(`cat > "$CONF_DIR/${PITR_CONF_D}.tmp"`, renderArchiveConf(spec))}`,
    ")",
    `chown postgres:postgres "$CONF_DIR/${PITR_CONF_D}.tmp"; mv -f "$CONF_DIR/${PITR_CONF_D}.tmp" "$CONF_DIR/${PITR_CONF_D}"`,
    renderApplyConf(),
    renderPgb(spec),
    renderBackupInfo(),
    ...(spec.remote ? [renderPgbRepo({ ...spec, remote: spec.remote }), "pgb_repo --log-level-console=warn stanza-create"] : ["pgb --log-level-console=warn stanza-create"]),
    "pgb --log-level-console=warn check",
    'if [ -z "$(newest_label)" ]; then',
    `  ${shellQuote(`${toolsDir}/pitr-backup`)} full`,
    "fi",
    `echo "pitr ready: stanza ${spec.stanza}, repository ${spec.dir}, archive_timeout ${spec.archiveTimeoutS}s, newest backup $(newest_label)"`,
  ].join("\n") + "\n";
}

/** Shell: reload the cluster; restart it only when a changed parameter needs it (archive_mode). */
function renderApplyConf(): string {
  return [
    'pg_ctl_cluster() { ( close_inherited_fds; exec pg_ctlcluster "$V" "$CLUSTER" "$@" </dev/null >&2 ); }',
    "if cluster_running; then",
    "  pg_ctl_cluster reload; sleep 1",
    "  pending=$(psql_su -d postgres -tA -c \"SELECT string_agg(name, ', ' ORDER BY name) FROM pg_settings WHERE pending_restart\")",
    '  if [ -n "$pending" ]; then echo "restarting $V/$CLUSTER: changed parameters need a restart: $pending"; pg_ctl_cluster restart; fi',
    '  for _ in $(seq 1 60); do psql_su -d postgres -tA -c "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done',
    "fi",
  ].join("\n");
}

/**
 * Destroy: archiving off (a cluster that keeps running must not fill its disk with WAL nobody
 * archives). The repository, and its configuration (which holds the secret that decrypts it),
 * stay unless the stack allows data removal.
 */
export function renderPitrRemove(spec: PostgresPitrSpec, allowDataRemoval: boolean): string {
  return [
    scriptHeader(`Stops continuous archiving of PostgreSQL cluster ${spec.cluster}.`),
    renderClusterPrelude(spec),
    renderCloseInheritedFds(),
    `rm -f "$CONF_DIR/${PITR_CONF_D}"`,
    renderApplyConf(),
    ...(spec.remote ? [renderDbSshSideRemove({ ...spec, remote: spec.remote })] : []),
    ...(allowDataRemoval
      ? [
          `rm -rf ${shellQuote(spec.dir)} ${shellQuote(spec.confFile)}`,
          `rm -f /var/log/pgbackrest/${shellQuote(spec.stanza)}-*.log`,
          `rmdir ${shellQuote(spec.confFile.slice(0, spec.confFile.lastIndexOf("/")))} 2>/dev/null || true`,
          `echo ${shellQuote(`dbstack: deleted the pgBackRest repository ${spec.dir} (allowDataRemoval is set)`)} >&2`,
        ]
      : [`echo ${shellQuote(`dbstack: kept the pgBackRest repository ${spec.dir} and its configuration ${spec.confFile} (it holds the secret that decrypts it); set allowDataRemoval to delete them`)} >&2`]),
  ].join("\n") + "\n";
}

/**
 * `pitr-backup [full|diff|incr]`: a pgBackRest backup (expiring what retention no longer keeps),
 * then a named restore point `dbstack-<label>` and the figures of every database right after it
 * (<dir>/figures/<label>.tsv), which drills restore to and compare with.
 */
export function renderPitrBackup(spec: PostgresPitrSpec): string {
  return [
    scriptHeader(`Takes a pgBackRest backup of PostgreSQL deployment ${spec.name} and records its figures for the restore drills.`),
    "# Usage: pitr-backup [full|diff|incr]   (default diff; pgBackRest takes a full one when none exists)",
    renderClusterPrelude(spec),
    'type="${1:-diff}"',
    'case "$type" in full | diff | incr) ;; *) echo "usage: pitr-backup [full|diff|incr]" >&2; exit 2 ;; esac',
    'cluster_running || { echo "$(date -u +%FT%TZ) pitr-backup: cluster $V/$CLUSTER is not running" >&2; exit 1; }',
    renderPgb(spec),
    renderBackupInfo(),
    renderFiguresFunction(spec),
    // With a repository host, backups run there (pgBackRest's rule); it reaches the cluster back over SSH.
    ...(spec.remote ? [renderPgbRepo({ ...spec, remote: spec.remote }), 'pgb_repo --log-level-console=warn --type="$type" backup'] : ['pgb --log-level-console=warn --type="$type" backup']),
    "label=$(newest_label)",
    "# Labels are digits, - and F/D/I: safe in SQL and file names.",
    '[[ "$label" =~ ^[0-9A-Z_-]+$ ]] || { echo "pitr-backup: unexpected backup label: $label" >&2; exit 1; }',
    `FIG=${shellQuote(`${spec.dir}/figures`)}`,
    'install -d -m 0700 "$FIG"',
    "# The restore point and its time (the drill's recovery point).",
    `psql_su -d postgres -tA -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM pg_create_restore_point('dbstack-$label')" > "$FIG/$label.point"`,
    'figures "$PORT" > "$FIG/$label.tsv.tmp"; chmod 600 "$FIG/$label.tsv.tmp"; mv -f "$FIG/$label.tsv.tmp" "$FIG/$label.tsv"',
    "# The restore point's WAL is archived now, not at the next archive_timeout.",
    'psql_su -d postgres -tA -c "SELECT pg_switch_wal()" >/dev/null',
    "# Figures of backups retention expired go with them.",
    "labels=$(pgb --output=json info | jq -r '.[0].backup[]?.label')",
    'for f in "$FIG"/*.tsv; do [ -e "$f" ] || continue; l=${f##*/}; l=${l%.tsv}; grep -qxF -- "$l" <<<"$labels" || rm -f "$f" "$FIG/$l.point"; done',
    'echo "$(date -u +%FT%TZ) pitr-backup ok: $type backup $label, restore point dbstack-$label"',
  ].join("\n") + "\n";
}

/**
 * Shell: `start_scratch <dir> <port>` starts a restored data directory as a private instance (no
 * TCP listener, local socket, archiving off, the cluster's own settings not read) and waits until
 * recovery has ended; `stop_scratch <dir>` stops it. The instance's log is <dir>/dbstack-restore.log.
 */
function renderScratchFunctions(): string {
  const conf = [
    "# dbstack: a restored copy, started beside the deployment (not managed by Pulumi).",
    "listen_addresses = ''",
    "unix_socket_directories = '/var/run/postgresql'",
    "archive_mode = off",
    "shared_buffers = 128MB",
    "",
  ].join("\n");
  return [
    "start_scratch() {",
    '  local d=$1 p=$2',
    `  ( umask 077; ${withHeredoc('cat > "$d/postgresql.conf"', conf, "DBSTACK_CONF")}`,
    '    printf "port = %s\\nhba_file = \'%s/pg_hba.conf\'\\nident_file = \'%s/pg_ident.conf\'\\n" "$p" "$d" "$d" >> "$d/postgresql.conf"',
    "    printf 'local all postgres peer\\nlocal all all peer\\n' > \"$d/pg_hba.conf\"; : > \"$d/pg_ident.conf\" )",
    "  # Recovery refuses settings below the primary's (max_connections ...): its values, from the restored control file.",
    '  local ctl; ctl=$(runuser -u postgres -- "$PGBIN/pg_controldata" "$d") || return 1',
    "  for s in max_connections:max_connections max_worker_processes:max_worker_processes max_wal_senders:max_wal_senders max_prepared_transactions:max_prepared_xacts max_locks_per_transaction:max_locks_per_xact; do",
    '    printf "%s = %s\\n" "${s%%:*}" "$(sed -n "s/^${s#*:} setting: *//p" <<<"$ctl")" >> "$d/postgresql.conf"',
    "  done",
    '  chown postgres:postgres "$d/postgresql.conf" "$d/pg_hba.conf" "$d/pg_ident.conf"',
    '  ( close_inherited_fds; exec runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d" -l "$d/dbstack-restore.log" -w -t 600 start </dev/null >/dev/null ) || return 1',
    "  # Recovery's end, polled every 0.2 s (at most 10 minutes): a restore is timed by its users.",
    '  for _ in $(seq 1 3000); do',
    '    [ "$(runuser -u postgres -- psql -X -tA -h /var/run/postgresql -p "$p" -d postgres -c "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && return 0',
    "    sleep 0.2",
    "  done",
    "  return 1",
    "}",
    'stop_scratch() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$1" -m immediate stop >/dev/null 2>&1 || true; }',
    "# The first port from $1 up that nothing listens on.",
    'free_port() { local p=$1; while [ -n "$(port_listener_inodes "$p")" ]; do p=$((p + 1)); done; echo "$p"; }',
  ].join("\n");
}

/**
 * `pitr-restore (--to-time 'TIME' | --to-latest) [--into DIR] [--port N] [--in-place]`:
 * by default into a new data directory beside the running cluster, started on a free port; with
 * --in-place, into the cluster itself after its data directory is set aside as a safety copy.
 * Prints the backup restored, the last transaction replayed and its time.
 */
export function renderPitrRestore(spec: PostgresPitrSpec): string {
  return [
    scriptHeader(`Restores PostgreSQL deployment ${spec.name} to a moment from pgBackRest stanza ${spec.stanza}.`),
    "# Usage: pitr-restore --to-time 'YYYY-MM-DD HH:MM:SS[.ffffff][+ZZ]' [--into DIR] [--port N] [--in-place]",
    "# Usage: pitr-restore --to-latest [--into DIR] [--port N] [--in-place]",
    renderClusterPrelude(spec),
    renderCloseInheritedFds(),
    renderPortFunctions(),
    renderPgb(spec),
    renderScratchFunctions(),
    'usage() { echo "usage: pitr-restore (--to-time \'TIME\' | --to-latest) [--into DIR] [--port N] [--in-place]" >&2; exit 2; }',
    'target=""; latest=""; into=""; port=""; inplace=""',
    "while [ $# -gt 0 ]; do",
    '  case "$1" in',
    '    --to-time) target="${2:-}"; shift 2 || usage ;;',
    "    --to-latest) latest=1; shift ;;",
    '    --into) into="${2:-}"; shift 2 || usage ;;',
    '    --port) port="${2:-}"; shift 2 || usage ;;',
    "    --in-place) inplace=1; shift ;;",
    "    *) usage ;;",
    "  esac",
    "done",
    '{ [ -n "$target" ] && [ -z "$latest" ]; } || { [ -z "$target" ] && [ -n "$latest" ]; } || usage',
    `time_re=${shellQuote(TARGET_TIME)}`,
    `if [ -n "$target" ] && ! [[ "$target" =~ $time_re ]]; then echo "--to-time: not a timestamp such as '2026-12-07 13:45:00+00': $target" >&2; exit 2; fi`,
    'if [ -n "$into" ] && ! [[ "$into" =~ ^/[A-Za-z0-9._/-]+$ ]]; then echo "--into: not an absolute directory path: $into" >&2; exit 2; fi',
    'if [ -n "$port" ] && ! [[ "$port" =~ ^[0-9]{1,5}$ && "$port" -ge 1 && "$port" -le 65535 ]]; then echo "--port: not a port: $port" >&2; exit 2; fi',
    'if [ -n "$inplace" ] && { [ -n "$into" ] || [ -n "$port" ]; }; then echo "--in-place restores into the cluster itself: no --into or --port" >&2; exit 2; fi',
    'if [ -n "$target" ]; then kind=(--type=time "--target=$target" --target-action=promote); else kind=(--type=default); fi',
    'stamp=$(date -u +%Y%m%dT%H%M%SZ)',
    'if [ -n "$inplace" ]; then',
    '  dest="$DATA_DIR"',
    '  if cluster_running; then pg_ctlcluster "$V" "$CLUSTER" stop -m fast; fi',
    '  if [ -d "$DATA_DIR" ] && [ -n "$(ls -A "$DATA_DIR" 2>/dev/null)" ]; then',
    '    safety="$DATA_DIR.before-restore-$stamp"',
    '    mv "$DATA_DIR" "$safety"',
    '    echo "the data directory as it was is kept as $safety"',
    "  fi",
    '  install -d -o postgres -g postgres -m 0700 "$DATA_DIR"',
    "else",
    '  dest="${into:-$DATA_DIR.restored-$stamp}"',
    '  [ ! -e "$dest" ] || [ -z "$(ls -A "$dest" 2>/dev/null)" ] || { echo "--into: $dest exists and is not empty" >&2; exit 1; }',
    '  [ "$dest" != "$DATA_DIR" ] || { echo "--into: $dest is the cluster\'s own data directory (use --in-place)" >&2; exit 1; }',
    '  port="${port:-$(free_port $((PORT + 1)))}"',
    '  [ -z "$(port_listener_inodes "$port")" ] || { echo "--port: $port is in use" >&2; exit 1; }',
    '  install -d -o postgres -g postgres -m 0700 "$dest"',
    "fi",
    'out=$(pgb --log-level-console=info "--pg1-path=$dest" "${kind[@]}" restore 2>&1) || { printf \'%s\\n\' "$out" >&2; echo "pitr-restore: pgBackRest could not restore into $dest" >&2; exit 1; }',
    "label=$(sed -n -E 's/.*restore backup set ([0-9A-Z_-]+).*/\\1/p' <<<\"$out\" | head -n 1)",
    'if [ -n "$inplace" ]; then',
    '  ( close_inherited_fds; exec pg_ctlcluster "$V" "$CLUSTER" start </dev/null >&2 )',
    '  qport=$PORT',
    '  for _ in $(seq 1 3000); do [ "$(psql_su -d postgres -tA -c "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break; sleep 0.2; done',
    "else",
    '  start_scratch "$dest" "$port" || { tail -n 20 "$dest/dbstack-restore.log" >&2 2>/dev/null; echo "pitr-restore: the restored instance in $dest did not finish recovery" >&2; exit 1; }',
    '  qport=$port',
    "fi",
    'last=$(runuser -u postgres -- psql -X -tA -h /var/run/postgresql -p "$qport" -d postgres -c "SELECT coalesce(pg_last_xact_replay_timestamp()::text, \'none\')")',
    'echo "restored backup $label, replayed to ${target:-the latest archived WAL}; last transaction replayed at $last"',
    'if [ -n "$inplace" ]; then echo "cluster $V/$CLUSTER runs the restored data on port $PORT"; else echo "restored into $dest, running on port $port (local socket only); stop it with: runuser -u postgres -- $PGBIN/pg_ctl -D $dest stop"; fi',
  ].join("\n") + "\n";
}

/**
 * `pitr-drill`: restores the newest backup to its restore point (`dbstack-<label>`) into a
 * scratch directory on a free port, checks every declared database answers and that its figures
 * (tables, rows) are those recorded at backup time, records the result (backups/drillResult.ts),
 * removes the scratch instance, and on failure runs the declared onFailure command.
 */
export function renderPitrDrill(spec: PostgresPitrSpec): string {
  return [
    scriptHeader(`Restore drill of PostgreSQL deployment ${spec.name}: restores its newest backup into a scratch instance, checks it and records the result.`),
    "# Usage: pitr-drill",
    renderDrillRecorder({ deployment: spec.name, engine: "postgres", dir: spec.dir, history: spec.drillHistory, onFailureFile: spec.onFailureFile }),
    renderClusterPrelude(spec),
    renderCloseInheritedFds(),
    renderPortFunctions(),
    renderPgb(spec),
    renderBackupInfo(),
    renderFiguresFunction(spec),
    renderScratchFunctions(),
    `FIG=${shellQuote(`${spec.dir}/figures`)}`,
    'label=$(newest_label 2>/dev/null) || drill_fail "cannot read the repository of stanza ' + spec.stanza + '"',
    '[ -n "$label" ] || drill_fail "no backup in the repository"',
    'backup=$label',
    'drill_backup_taken "$(backup_stop "$label")"',
    '[ -f "$FIG/$label.tsv" ] || drill_fail "no figures were recorded for backup $label (was it taken by pitr-backup?)"',
    'scratch=$(mktemp -d /var/lib/postgresql/dbstack-drill.XXXXXX); chown postgres:postgres "$scratch"',
    "trap 'stop_scratch \"$scratch\"; rm -rf \"$scratch\"' EXIT",
    spec.drillPort ? `port=${spec.drillPort}` : 'port=$(free_port $((PORT + 1)))',
    '[ -z "$(port_listener_inodes "$port")" ] || drill_fail "the scratch port $port is in use"',
    'out=$(pgb --log-level-console=warn "--pg1-path=$scratch" "--set=$label" --type=name "--target=dbstack-$label" --target-action=promote restore 2>&1) \\',
    '  || drill_fail "pgBackRest could not restore backup $label: $(tail -n 3 <<<"$out" | tr \'\\n\' \' \')"',
    'start_scratch "$scratch" "$port" || drill_fail "the restored instance did not start or finish recovery: $(tail -n 3 "$scratch/dbstack-restore.log" 2>/dev/null | tr \'\\n\' \' \')"',
    "# Recovery stopped at the backup's restore point: the moment it was made is the point reached.",
    'recovery_point=$(cat "$FIG/$label.point" 2>/dev/null || true)',
    'got=$(figures "$port" 2>&1) || drill_fail "a database does not answer in the restored instance: $(tail -n 2 <<<"$got" | tr \'\\n\' \' \')"',
    'drill_compare_figures "$(cat "$FIG/$label.tsv")" "$got" "backup $label"',
    "drill_pass",
  ].join("\n") + "\n";
}
