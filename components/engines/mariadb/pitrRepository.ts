/**
 * MariaDB point-in-time recovery: the repository of one deployment and the shell functions every
 * PITR tool shares (after renderInstancePrelude). Pure renderers.
 *
 * The repository (`pitr.dir`, root, 0700):
 *   backups/<label>.tar.zst[.enc]   a prepared mariadb-backup, tarred, zstd-compressed (and encrypted)
 *   backups/<label>.tar.zst[.enc].sha256, backups/<label>.info (binary log position, end time, figures' point)
 *   binlogs/<binlog.NNNNNN>.zst[.enc] and .sha256   closed binary logs, as they close
 *   figures/<label>.tsv             tables and row counts at the backup's figures point (drills compare)
 *   drills/last.json, drills/history.jsonl   (backups/drillResult.ts)
 * Labels are `YYYYMMDD-HHMMSSF` (UTC): they sort by time.
 */
import { shellQuote, sqlLiteral } from "../../shell";
import type { PitrSpec } from "../pitr";
import type { MariadbLocation } from "./host";

/** What the MariaDB PITR renderers read: where the instance is, and the declared spec. */
export type MariadbPitrSpec = MariadbLocation & PitrSpec;

/** The account mariadb-backup and the archiver log in as (least privileges; its password in the 0600 option file). */
export const PITR_ACCOUNT = "dbstack_pitr";
/** What the account may do: take a backup (RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR), flush and purge binary logs (RELOAD, BINLOG ADMIN). */
export const PITR_ACCOUNT_PRIVILEGES = "RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, BINLOG ADMIN";
/** The environment variable the setup step reads the account's password from. */
export const PITR_ACCOUNT_VARIABLE = "DBSTACK_PITR_ACCOUNT_PASSWORD";
/** The environment variable the setup step reads the repository's encryption secret from. */
export const PITR_CIPHER_VARIABLE = "DBSTACK_PITR_CIPHER";
/**
 * A restore's target time: digits, date and time separators, a zone; never a quote or a space
 * beyond the one between date and time (it reaches `date -d` and mariadb-binlog as one word).
 */
export const TARGET_TIME = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?( ?(Z|UTC|[+-][0-9]{2}(:?[0-9]{2})?))?$";

/** The file holding the repository's encryption secret (0600, root): beside the account's option file. */
export function keyFile(spec: MariadbPitrSpec): string {
  return spec.confFile.replace(/\.conf$/, "") + ".key";
}

/** The suffix of every stored file: zstd, then AES-256 when the repository is encrypted. */
export function storedSuffix(spec: MariadbPitrSpec): string {
  return spec.encrypt ? ".zst.enc" : ".zst";
}

/** Shell: the repository's paths, `seal`/`unseal` (stdin to stdout), checksums, labels and the info file. */
export function renderRepositoryFunctions(spec: MariadbPitrSpec): string {
  const seal = spec.encrypt
    ? [
        'seal() { zstd -q -3 -T2 -c | openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -salt -pass "file:$KEY_FILE"; }',
        'unseal() { openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -pass "file:$KEY_FILE" | zstd -q -d -c; }',
      ]
    : ["seal() { zstd -q -3 -T2 -c; }", "unseal() { zstd -q -d -c; }"];
  return [
    `REPO=${shellQuote(spec.dir)}`,
    'BACKUPS="$REPO/backups"; BINLOGS="$REPO/binlogs"; FIG="$REPO/figures"',
    `ACCOUNT_CNF=${shellQuote(spec.confFile)}`,
    `KEY_FILE=${shellQuote(keyFile(spec))}`,
    `EXT=${shellQuote(storedSuffix(spec))}`,
    ...seal,
    "# sum_ok <file>: the file matches the checksum stored beside it; write_sum <file> stores it.",
    'sum_ok() { [ -f "$1" ] && [ -f "$1.sha256" ] && ( cd "$(dirname "$1")" && sha256sum --status -c "$(basename "$1").sha256" ); }',
    'write_sum() { ( cd "$(dirname "$1")" && sha256sum "$(basename "$1")" > "$(basename "$1").sha256.tmp" && mv -f "$(basename "$1").sha256.tmp" "$(basename "$1").sha256" ); }',
    "# Complete backups (their info file is written last), oldest first.",
    'labels() { local f; for f in "$BACKUPS"/*.info; do [ -e "$f" ] || continue; f=$(basename "$f"); echo "${f%.info}"; done; }',
    'newest_label() { labels | tail -n 1; }',
    'info_get() { sed -n "s/^$2=//p" "$BACKUPS/$1.info" | tail -n 1; }',
    "# The account's client: the password in its 0600 option file, never on a command line.",
    'mariadb_pitr() { mariadb --defaults-file="$ACCOUNT_CNF" --local-infile=0 --protocol=socket --socket="$SOCKET" --batch --skip-column-names "$@"; }',
    'mariadb_at() { local s=$1; shift; mariadb --no-defaults --local-infile=0 --protocol=socket --socket="$s" -uroot --batch --skip-column-names "$@"; }',
  ].join("\n");
}

/**
 * SQL that prints, for every base table of the declared databases, the statement counting its
 * rows: `SELECT '<db>', '<db>.<table>', COUNT(*) FROM `db`.`table`;`, in a stable order.
 */
export function figuresStatementsSql(databases: string[]): string {
  const list = databases.length === 0 ? "NULL" : databases.map(sqlLiteral).join(", ");
  return [
    "SELECT CONCAT('SELECT ', QUOTE(table_schema), ', ', QUOTE(CONCAT(table_schema, '.', table_name)), ', COUNT(*) FROM `',",
    "  REPLACE(table_schema, '`', '``'), '`.`', REPLACE(table_name, '`', '``'), '`;')",
    `  FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema IN (${list})`,
    "  ORDER BY table_schema, table_name;",
  ].join("\n");
}

/**
 * Shell: `figures <socket>` prints the declared databases' figures (`<db> <db.table> <rows>`,
 * tab-separated); `figures_at_snapshot <socket>` prints two lines first, the binary log file and
 * position of the consistent snapshot the counts are read in (MariaDB's Binlog_snapshot_*), so a
 * drill replays to exactly that point before it compares.
 */
export function renderFiguresFunctions(spec: MariadbPitrSpec): string {
  return [
    "figures_statements() {",
    `  mariadb_at "$1" --raw <<'DBSTACK_SQL'`,
    figuresStatementsSql(spec.databases),
    "DBSTACK_SQL",
    "}",
    'figures() { local s; s=$(figures_statements "$1") || return 1; [ -z "$s" ] || mariadb_at "$1" <<<"$s"; }',
    "figures_at_snapshot() {",
    '  local s; s=$(figures_statements "$1") || return 1',
    "  { echo 'START TRANSACTION WITH CONSISTENT SNAPSHOT;'",
    "    echo \"SHOW STATUS WHERE Variable_name IN ('Binlog_snapshot_file', 'Binlog_snapshot_position');\"",
    '    printf \'%s\\n\' "$s"; echo \'COMMIT;\'; } | mariadb_at "$1"',
    "}",
  ].join("\n");
}

/**
 * Shell: a private instance of a restored data directory, beside the deployment (its own socket,
 * pid file, error log and temporary directory in <run>; no binary log; replication not started).
 * `start_scratch <data> <run> [port]` (no port: no TCP at all; a port: 127.0.0.1 only) waits
 * until it answers; `stop_scratch <run>` shuts it down.
 */
export function renderScratchFunctions(): string {
  return [
    "start_scratch() {",
    '  local d=$1 r=$2 p=${3:-} net pid',
    '  install -d -o mysql -g mysql -m 0700 "$r" "$r/tmp"',
    '  chown -R mysql:mysql "$d"',
    '  if [ -n "$p" ]; then net=(--port="$p" --bind-address=127.0.0.1); else net=(--skip-networking); fi',
    '  ( close_inherited_fds; exec setsid mariadbd --no-defaults --user=mysql --datadir="$d" --socket="$r/mysqld.sock" --pid-file="$r/mysqld.pid" \\',
    '      --log-error="$r/error.log" --tmpdir="$r/tmp" --skip-log-bin --skip-slave-start --innodb-buffer-pool-size=128M "${net[@]}" </dev/null >/dev/null 2>&1 ) &',
    "  pid=$!",
    '  echo "$pid" > "$r/server.pid"',
    "  for _ in $(seq 1 3000); do",
    '    mariadb-admin --no-defaults --protocol=socket --socket="$r/mysqld.sock" -uroot ping >/dev/null 2>&1 && return 0',
    '    kill -0 "$pid" 2>/dev/null || return 1',
    "    sleep 0.2",
    "  done",
    "  return 1",
    "}",
    "stop_scratch() {",
    '  local r=$1 pid; pid=$(cat "$r/server.pid" 2>/dev/null) || return 0',
    '  mariadb-admin --no-defaults --protocol=socket --socket="$r/mysqld.sock" -uroot shutdown >/dev/null 2>&1 || true',
    '  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done',
    '  kill -9 "$pid" 2>/dev/null || true',
    "}",
    "# The first port from $1 up that nothing listens on.",
    'free_port() { local p=$1; while [ -n "$(port_listener_inodes "$p")" ]; do p=$((p + 1)); done; echo "$p"; }',
  ].join("\n");
}

/**
 * Shell: `unpack_backup <label> <dir>` checks a backup against its checksum and unpacks it (a
 * prepared data directory); `replay <run> <first binlog> <position> <last binlog or ""> [mariadb-binlog stop option]`
 * checks and unpacks the archived binary logs from <first> (to <last>) into <run>/binlogs and
 * replays them from <position> into the scratch instance of <run>, with the binary log's times
 * read in UTC. It sets `replayed_to`: the time of the last transaction replayed (ISO, UTC), empty
 * when none was.
 */
export function renderReplayFunctions(): string {
  return [
    "unpack_backup() {",
    '  local f="$BACKUPS/$1.tar$EXT"',
    '  sum_ok "$f" || { echo "backup $1 does not match its checksum ($(basename "$f").sha256): the file is damaged or missing" >&2; return 1; }',
    '  unseal < "$f" | tar -x -C "$2" || { echo "backup $1 could not be unpacked" >&2; return 1; }',
    "}",
    "replay() {",
    '  local r=$1 first=$2 pos=$3 last=$4; shift 4',
    '  local files=() expect="" name n sum',
    '  install -d -m 0700 "$r/binlogs"',
    '  for sum in "$BINLOGS"/*"$EXT.sha256"; do',
    '    [ -e "$sum" ] || continue',
    '    name=$(basename "$sum"); name=${name%.sha256}; name=${name%"$EXT"}',
    '    [[ "$name" < "$first" ]] && continue',
    '    [ -z "$last" ] || [[ ! "$name" > "$last" ]] || break',
    "    n=$((10#${name##*.}))",
    '    if [ -z "$expect" ] && [ "$name" != "$first" ]; then echo "the binary log $first, where the backup starts, is not in the repository" >&2; return 1; fi',
    '    if [ -n "$expect" ] && [ "$n" != "$expect" ]; then echo "the archived binary logs have a gap before $name" >&2; return 1; fi',
    "    expect=$((n + 1))",
    '    sum_ok "$BINLOGS/$name$EXT" || { echo "the archived binary log $name does not match its checksum: the file is damaged" >&2; return 1; }',
    '    unseal < "$BINLOGS/$name$EXT" > "$r/binlogs/$name"',
    '    files+=("$r/binlogs/$name")',
    "  done",
    '  [ ${#files[@]} -gt 0 ] || { echo "the binary log $first, where the backup starts, is not in the repository" >&2; return 1; }',
    '  if [ -n "$last" ] && [ "$(basename "${files[-1]}")" != "$last" ]; then echo "the binary log $last is not in the repository" >&2; return 1; fi',
    "  # The binary log's event times are read (and --stop-datetime is meant) in UTC, whatever the host's zone.",
    '  TZ=UTC mariadb-binlog --no-defaults --start-position="$pos" "$@" "${files[@]}" > "$r/replay.sql"',
    '  mariadb_at "$r/mysqld.sock" --binary-mode < "$r/replay.sql"',
    '  replayed_to=$(sed -n -E \'s/^#([0-9]{2})([0-9]{2})([0-9]{2}) +([0-9]{1,2}):([0-9]{2}):([0-9]{2}) .*\\tXid = .*/20\\1-\\2-\\3T\\4:\\5:\\6Z/p\' "$r/replay.sql" | tail -n 1)',
    '  replayed_to=$(sed -E \'s/T([0-9]):/T0\\1:/\' <<<"$replayed_to")',
    "}",
  ].join("\n");
}
