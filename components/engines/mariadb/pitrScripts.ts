/**
 * MariaDB point-in-time recovery: the setup step, its removal, and the tools `pitr-backup`
 * (mariadb-backup --backup then --prepare, into the repository) and `pitr-archive` (closed binary
 * logs copied to the repository, a FLUSH BINARY LOGS at least every RPO while there are writes).
 * Restore and drill: pitrRestore.ts. Pure renderers; deploy/phases/pitr.ts ships and schedules them.
 */
import { renderCloseInheritedFds } from "../../targets/processes";
import { renderOwnerFunctions, OWNER_FILE } from "../../targets/ownership";
import { scriptHeader, shellQuote } from "../../shell";
import { renderInstancePrelude } from "./host";
import { quietSessionSql } from "./flavor";
import { PITR_ACCOUNT, PITR_ACCOUNT_PRIVILEGES, PITR_ACCOUNT_VARIABLE, PITR_CIPHER_VARIABLE, renderFiguresFunctions, renderRepositoryFunctions, type MariadbPitrSpec } from "./pitrRepository";

/** How many seconds one `pitr-archive` run (started by cron every minute) keeps archiving. */
export const ARCHIVE_RUN_S = 58;

/**
 * Shell: `flush_if_due` closes the current binary log (FLUSH BINARY LOGS) when it holds events
 * written since the last flush and the RPO has passed since that flush; `archive_closed` copies
 * every closed binary log the repository does not hold yet (compressed, encrypted when declared,
 * with its checksum; the checksum file is written last, so a half copy is never taken as one).
 */
export function renderArchiveFunctions(spec: MariadbPitrSpec): string {
  return [
    `RPO_S=${spec.archiveTimeoutS}`,
    "master_status() { mariadb_pitr -e 'SHOW MASTER STATUS' | cut -f1,2; }",
    "flush_if_due() {",
    '  local last now; last=$(stat -c %Y "$REPO/.flushed" 2>/dev/null || echo 0)',
    '  [ $(( $(date +%s) - last )) -ge $((RPO_S - 1)) ] || return 0',
    '  now=$(master_status) || return 1',
    '  [ "$now" != "$(cat "$REPO/.flushed" 2>/dev/null)" ] || return 0',
    "  mariadb_pitr -e 'FLUSH BINARY LOGS'",
    '  master_status > "$REPO/.flushed.tmp" && mv -f "$REPO/.flushed.tmp" "$REPO/.flushed"',
    "}",
    "# One copier at a time (the archiver and a backup both archive): a lock held while copying only.",
    "archive_closed() {",
    '  ( flock -w 300 8 || { echo "archiving: another copy into $BINLOGS did not finish in 300 s" >&2; exit 1; }',
    '  local logs cur name',
    "  logs=$(mariadb_pitr -e 'SHOW BINARY LOGS' | cut -f1) || exit 1",
    '  cur=$(tail -n 1 <<<"$logs")',
    "  while read -r name; do",
    '    [ -n "$name" ] && [ "$name" != "$cur" ] || continue',
    '    [[ "$name" =~ ^[A-Za-z0-9_-]+\\.[0-9]+$ ]] || continue',
    '    [ ! -f "$BINLOGS/$name$EXT.sha256" ] || continue',
    '    [ -f "$DATA_DIR/$name" ] || continue',
    '    seal < "$DATA_DIR/$name" > "$BINLOGS/.$name.tmp"',
    '    mv -f "$BINLOGS/.$name.tmp" "$BINLOGS/$name$EXT"',
    '    write_sum "$BINLOGS/$name$EXT"',
    '  done <<<"$logs"',
    '  ) 8>"$REPO/.archive.lock"',
    "}",
  ].join("\n");
}

/**
 * The setup step: packages, the repository (refused when another stack's, or someone else's),
 * the backup account with the least privileges mariadb-backup needs (its password from the
 * step's environment into a 0600 option file), the encryption secret (0600), and the first full
 * backup when the repository has none, so a restore works from the first up. The binary log is
 * the configure step's (log_bin in the instance's option file).
 */
export function renderPitrSetup(spec: MariadbPitrSpec, toolsDir: string): string {
  const confDir = spec.confFile.slice(0, spec.confFile.lastIndexOf("/"));
  const account = `'${PITR_ACCOUNT}'@'localhost'`;
  const missing = `environment variable ${PITR_ACCOUNT_VARIABLE} is empty: it must hold the password of the backup account`;
  return [
    scriptHeader(`Sets up point-in-time recovery of MariaDB instance ${spec.instance}: repository ${spec.dir}, binary logs archived every ${spec.archiveTimeoutS}s.`),
    renderInstancePrelude(spec),
    renderCloseInheritedFds(),
    renderRepositoryFunctions(spec),
    'instance_running || { echo "pitr: MariaDB instance $INSTANCE is not running" >&2; exit 1; }',
    "if ! command -v mariadb-backup >/dev/null || ! command -v mariadb-binlog >/dev/null || ! command -v zstd >/dev/null || ! command -v openssl >/dev/null; then",
    "  export DEBIAN_FRONTEND=noninteractive",
    "  { apt-get update -qq && apt-get install -y -qq --no-install-recommends mariadb-backup mariadb-client zstd openssl; } >&2 || { echo 'pitr: install the Debian packages mariadb-backup, zstd and openssl on this host' >&2; exit 1; }",
    "fi",
    `[ "$(echo 'SELECT @@log_bin' | mariadb_root)" = 1 ] || { echo "pitr: the binary log of MariaDB instance $INSTANCE is off (the configure step turns it on with pitr)" >&2; exit 1; }`,
    `[ -n "\${${PITR_ACCOUNT_VARIABLE}:-}" ] || { echo ${shellQuote(missing)} >&2; exit 1; }`,
    ...(spec.encrypt ? [`[ -n "\${${PITR_CIPHER_VARIABLE}:-}" ] || { echo 'environment variable ${PITR_CIPHER_VARIABLE} is empty: it must hold the repository secret' >&2; exit 1; }`] : []),
    ...renderClaimRepository(spec),
    'install -d -m 0700 "$REPO" "$BACKUPS" "$BINLOGS" "$FIG"',
    ...(spec.owner ? [`mark_owner "$REPO/${OWNER_FILE}"`] : []),
    `install -d -m 0755 ${shellQuote(confDir)}`,
    "# The secrets reach their 0600 files from the environment; they are never part of this script.",
    `pw=\${${PITR_ACCOUNT_VARIABLE}}`,
    'pw_opt=${pw//\\\\/\\\\\\\\}; pw_opt=${pw_opt//\\"/\\\\\\"}',
    '( umask 077; printf \'[client]\\nuser=%s\\npassword="%s"\\n\\n[mariadb-backup]\\nuser=%s\\npassword="%s"\\n\' ' + `${PITR_ACCOUNT} "$pw_opt" ${PITR_ACCOUNT} "$pw_opt"` + ' > "$ACCOUNT_CNF.tmp" )',
    'chmod 600 "$ACCOUNT_CNF.tmp"; mv -f "$ACCOUNT_CNF.tmp" "$ACCOUNT_CNF"',
    ...(spec.encrypt ? [`( umask 077; printf '%s' "$${PITR_CIPHER_VARIABLE}" > "$KEY_FILE.tmp" ); chmod 600 "$KEY_FILE.tmp"; mv -f "$KEY_FILE.tmp" "$KEY_FILE"`] : []),
    "pw_sql=${pw//\"\\\\\"/\"\\\\\\\\\"}; pw_sql=${pw_sql//\"'\"/\"\\\\'\"}",
    "# The statements reach the client on its stdin (printf is a builtin), never as arguments.",
    "{",
    `  printf '%s\\n' ${shellQuote(quietSessionSql("mariadb"))}`,
    `  printf '%s%s%s\\n' ${shellQuote(`CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY '`)} "$pw_sql" "';"`,
    `  printf '%s%s%s\\n' ${shellQuote(`ALTER USER ${account} IDENTIFIED BY '`)} "$pw_sql" "';"`,
    `  printf '%s\\n' ${shellQuote(`GRANT ${PITR_ACCOUNT_PRIVILEGES} ON *.* TO ${account};`)}`,
    "} | mariadb_root",
    "echo 'SELECT 1' | mariadb_pitr >/dev/null || { echo \"pitr: the backup account cannot log in to instance $INSTANCE\" >&2; exit 1; }",
    'if [ -z "$(newest_label)" ]; then',
    `  ${shellQuote(`${toolsDir}/pitr-backup`)} full`,
    "fi",
    `echo "pitr ready: repository ${spec.dir}, binary logs archived every ${spec.archiveTimeoutS}s, newest backup $(newest_label)"`,
  ].join("\n") + "\n";
}

/**
 * The repository is this stack's: another stack's marker refuses (naming pitr.dir), and so does
 * a directory that holds files without any marker (someone else's, or another tool's repository).
 */
function renderClaimRepository(spec: MariadbPitrSpec): string[] {
  if (!spec.owner) return [];
  return [
    renderOwnerFunctions(spec.owner),
    `refuse_foreign "$REPO/${OWNER_FILE}" "the repository $REPO" pitr.dir`,
    `if [ -d "$REPO" ] && [ -n "$(ls -A "$REPO" 2>/dev/null)" ] && ! is_mine "$REPO/${OWNER_FILE}"; then`,
    '  echo "pitr.dir: $REPO holds files and no dbstack marker of this stack: it is not this deployment\'s repository, and dbstack does not take it over; choose another pitr.dir" >&2',
    "  exit 1",
    "fi",
  ];
}

/**
 * Destroy: the backup account goes (the instance may stay); the repository, its account file
 * and its secret (which decrypts it) stay unless the stack allows data removal.
 */
export function renderPitrRemove(spec: MariadbPitrSpec, allowDataRemoval: boolean): string {
  return [
    scriptHeader(`Stops point-in-time recovery of MariaDB instance ${spec.instance}.`),
    renderInstancePrelude(spec),
    renderRepositoryFunctions(spec),
    `if instance_running; then echo ${shellQuote(`DROP USER IF EXISTS '${PITR_ACCOUNT}'@'localhost';`)} | mariadb_root || true; fi`,
    ...(allowDataRemoval
      ? [
          ...(spec.owner ? [renderOwnerFunctions(spec.owner), `if [ -d "$REPO" ] && ! is_mine "$REPO/${OWNER_FILE}"; then echo "dbstack: left $REPO as it is: it is not this stack's" >&2; exit 0; fi`] : []),
          'rm -rf "$REPO"; rm -f "$ACCOUNT_CNF" "$KEY_FILE"',
          `rmdir ${shellQuote(spec.confFile.slice(0, spec.confFile.lastIndexOf("/")))} 2>/dev/null || true`,
          `echo ${shellQuote(`dbstack: deleted the repository ${spec.dir} (allowDataRemoval is set)`)} >&2`,
        ]
      : [`echo ${shellQuote(`dbstack: kept the repository ${spec.dir}, ${spec.confFile} and its secret; set allowDataRemoval to delete them`)} >&2`]),
  ].join("\n") + "\n";
}

/**
 * `pitr-backup [full]`: mariadb-backup --backup then --prepare into a work directory of the
 * repository; the figures of every database at a consistent snapshot right after (and the
 * binary log position of that snapshot, which drills replay to); the snapshot's binary log closed
 * and archived; the prepared backup tarred, compressed (encrypted) and checksummed; then
 * retention: the backups beyond retentionFull go, with the archived and local binary logs no kept
 * backup needs.
 */
export function renderPitrBackup(spec: MariadbPitrSpec): string {
  return [
    scriptHeader(`Takes a physical backup (mariadb-backup) of MariaDB deployment ${spec.name} and records its figures for the restore drills.`),
    "# Usage: pitr-backup [full]   (MariaDB's backups are full ones; binary logs cover the time between)",
    renderInstancePrelude(spec),
    renderCloseInheritedFds(),
    renderRepositoryFunctions(spec),
    renderFiguresFunctions(spec),
    renderArchiveFunctions(spec),
    'case "${1:-full}" in full) ;; *) echo "usage: pitr-backup [full]" >&2; exit 2 ;; esac',
    'instance_running || { echo "$(date -u +%FT%TZ) pitr-backup: MariaDB instance $INSTANCE is not running" >&2; exit 1; }',
    'label=$(date -u +%Y%m%d-%H%M%S)F',
    'while [ -e "$BACKUPS/$label.info" ]; do sleep 1; label=$(date -u +%Y%m%d-%H%M%S)F; done',
    'work="$BACKUPS/.work-$label"; rm -rf "$work"; install -d -m 0700 "$work"',
    "trap 'rm -rf \"$work\"' EXIT",
    'if ! mariadb-backup --defaults-file="$ACCOUNT_CNF" --backup --datadir="$DATA_DIR" --socket="$SOCKET" --target-dir="$work/data" > "$work/backup.log" 2>&1; then',
    '  tail -n 20 "$work/backup.log" >&2; echo "pitr-backup: mariadb-backup --backup failed" >&2; exit 1',
    "fi",
    "end=$(date +%s)",
    'if ! mariadb-backup --prepare --target-dir="$work/data" > "$work/prepare.log" 2>&1; then',
    '  tail -n 20 "$work/prepare.log" >&2; echo "pitr-backup: mariadb-backup --prepare failed" >&2; exit 1',
    "fi",
    'binfo=$(cat "$work/data/mariadb_backup_binlog_info" 2>/dev/null || cat "$work/data/xtrabackup_binlog_info" 2>/dev/null || true)',
    'read -r bfile bpos _ <<<"$binfo" || true',
    '[[ "${bfile:-}" =~ ^[A-Za-z0-9_-]+\\.[0-9]+$ && "${bpos:-}" =~ ^[0-9]+$ ]] || { echo "pitr-backup: the backup records no binary log position (is the binary log on?)" >&2; exit 1; }',
    "# Figures at a consistent snapshot, with that snapshot's binary log position and time.",
    'snap=$(figures_at_snapshot "$SOCKET")',
    "point=$(date -u +%Y-%m-%dT%H:%M:%SZ)",
    "sfile=$(sed -n '1s/^Binlog_snapshot_file\\t//p' <<<\"$snap\"); spos=$(sed -n '2s/^Binlog_snapshot_position\\t//p' <<<\"$snap\")",
    '[[ "$sfile" =~ ^[A-Za-z0-9_-]+\\.[0-9]+$ && "$spos" =~ ^[0-9]+$ ]] || { echo "pitr-backup: could not read the snapshot\'s binary log position" >&2; exit 1; }',
    'tail -n +3 <<<"$snap" > "$FIG/$label.tsv.tmp"; mv -f "$FIG/$label.tsv.tmp" "$FIG/$label.tsv"',
    "# The snapshot's binary log is closed and archived now, not at the next archiver run.",
    "mariadb_pitr -e 'FLUSH BINARY LOGS'",
    "archive_closed",
    'tar -C "$work/data" -cf - . | seal > "$work/$label.tar$EXT"',
    'mv -f "$work/$label.tar$EXT" "$BACKUPS/$label.tar$EXT"',
    'write_sum "$BACKUPS/$label.tar$EXT"',
    'printf \'binlog_file=%s\\nbinlog_pos=%s\\nend=%s\\nsnapshot_file=%s\\nsnapshot_pos=%s\\npoint=%s\\n\' "$bfile" "$bpos" "$end" "$sfile" "$spos" "$point" > "$BACKUPS/.$label.info.tmp"',
    'mv -f "$BACKUPS/.$label.info.tmp" "$BACKUPS/$label.info"',
    "# Retention: the newest backups are kept, and the binary logs from the oldest kept one's start.",
    "mapfile -t all < <(labels)",
    `keep=${spec.retentionFull}`,
    'if [ "${#all[@]}" -gt "$keep" ]; then for l in "${all[@]:0:${#all[@]}-keep}"; do rm -f "$BACKUPS/$l".* "$FIG/$l".*; done; fi',
    "# sed reads all its input (head would end the writer with SIGPIPE, a failure under pipefail).",
    'oldest=$(labels | sed -n 1p); ofile=$(info_get "$oldest" binlog_file)',
    'for sum in "$BINLOGS"/*"$EXT.sha256"; do',
    '  [ -e "$sum" ] || continue',
    '  name=$(basename "$sum"); name=${name%.sha256}; name=${name%"$EXT"}',
    '  if [[ "$name" < "$ofile" ]]; then rm -f "$BINLOGS/$name$EXT" "$sum"; fi',
    "done",
    "mariadb_pitr -e \"PURGE BINARY LOGS TO '$ofile'\" || true",
    'echo "$(date -u +%FT%TZ) pitr-backup ok: full backup $label ($(du -h "$BACKUPS/$label.tar$EXT" | cut -f1)), binary log $bfile:$bpos, figures at $point"',
  ].join("\n") + "\n";
}

/**
 * `pitr-archive [--for SECONDS]`: archives the closed binary logs, closing the current one at
 * least every RPO while it holds new events; with --for, keeps doing so for that long (cron starts
 * it every minute: an RPO under a minute is kept within the minute). One run at a time (flock).
 */
export function renderPitrArchive(spec: MariadbPitrSpec): string {
  return [
    scriptHeader(`Archives the binary logs of MariaDB deployment ${spec.name} to its repository, at least every ${spec.archiveTimeoutS}s while there are writes.`),
    "# Usage: pitr-archive [--for SECONDS]",
    renderInstancePrelude(spec),
    renderRepositoryFunctions(spec),
    renderArchiveFunctions(spec),
    'run_s=0',
    'case "${1:-}" in "") ;; --for) [[ "${2:-}" =~ ^[0-9]{1,4}$ ]] || { echo "usage: pitr-archive [--for SECONDS]" >&2; exit 2; }; run_s=$2 ;; *) echo "usage: pitr-archive [--for SECONDS]" >&2; exit 2 ;; esac',
    '[ -d "$BINLOGS" ] || { echo "pitr-archive: no repository at $REPO (the up that sets it up has not run)" >&2; exit 1; }',
    'exec 9>"$REPO/.archiver.lock"',
    "# One archiver at a time: a run still going (slow copy) is waited for a little, then this one gives way.",
    "flock -w 10 9 || exit 0",
    'stop_at=$(( $(date +%s) + run_s ))',
    "while :; do",
    "  if instance_running; then",
    '    flush_if_due || echo "$(date -u +%FT%TZ) pitr-archive: FLUSH BINARY LOGS failed" >&2',
    '    archive_closed || echo "$(date -u +%FT%TZ) pitr-archive: archiving failed" >&2',
    "  fi",
    '  step=$(( RPO_S < 5 ? 5 : RPO_S ))',
    '  [ $(( $(date +%s) + step )) -le "$stop_at" ] || break',
    '  sleep "$step"',
    "done",
  ].join("\n") + "\n";
}
