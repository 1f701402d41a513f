import { scriptHeader, shellQuote, sqlLiteral, withHeredoc, writeFileToExpandedPath } from "../../shell";
import { keptDataHint } from "../../model/dataRemoval";
import { renderCloseInheritedFds, renderPortFunctions } from "../../targets/processes";
import { renderCertificateDue } from "../../tls/lifetime";
import { programs, type Flavor } from "./flavor";
import { mariadbPaths, renderInstancePrelude, type MariadbLocation } from "./host";
import { serverVariables } from "./optionFile";
import { restartVariables } from "./parameters";
import { renderInstanceTls, type InstanceTlsSpec } from "./tls";
import { OWNER_FILE, renderOwnerFunctions } from "../../targets/ownership";

/**
 * The lifecycle of one MariaDB instance on its host: create (initialise the data directory),
 * configure (write the option file, check it, apply it with the least disruption), remove.
 *
 * Supervision: where systemd runs (/run/systemd/system exists), the instance is the unit
 * dbstack-mariadb-<instance>.service (Restart=on-failure, enabled at boot). Without systemd
 * (containers, these test machines), mariadbd-safe (mysqld_safe) runs it, detached with setsid so
 * it outlives the deploy step and restarts a crashed server; it does not come back after a
 * reboot of such a host until the next `pulumi up` starts it.
 */

function flavorOf(loc: MariadbLocation): Flavor {
  return loc.flavor ?? "mariadb";
}

/** The systemd unit of an instance. */
export function renderSystemdUnit(loc: MariadbLocation): string {
  const p = mariadbPaths(loc);
  return [
    "[Unit]",
    `Description=dbstack MariaDB instance ${loc.instance} (port ${loc.port})`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=notify",
    "User=mysql",
    "Group=mysql",
    "# /run is emptied at boot; other instances share /run/mysqld, so it is created, never removed.",
    "ExecStartPre=+/usr/bin/install -d -o mysql -g root -m 0755 /run/mysqld",
    `ExecStart=/usr/sbin/${programs(flavorOf(loc)).server} --defaults-file=${p.configFile}`,
    "Restart=on-failure",
    "RestartSec=5",
    "# Crash recovery of a large buffer pool can take minutes.",
    "TimeoutStartSec=900",
    "TimeoutStopSec=900",
    "LimitNOFILE=32768",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/**
 * Shell functions of the scripts that start and stop the instance (after the prelude):
 * start_instance (waits until the socket answers, at most 120 s, and names the error log when
 * it does not), stop_instance, restart_instance, has_systemd.
 */
export function renderSupervision(loc: MariadbLocation): string {
  const p = programs(flavorOf(loc));
  return [
    renderCloseInheritedFds(),
    'SERVICE="dbstack-mariadb-$INSTANCE"',
    'UNIT="/etc/systemd/system/$SERVICE.service"',
    'SUPERVISOR_PID="${PID_FILE%.pid}.supervisor.pid"',
    "has_systemd() { [ -d /run/systemd/system ]; }",
    "prepare_runtime() {",
    "  # Debian's own directories, created only when missing (never re-permissioned).",
    "  [ -d /run/mysqld ] || install -d -o mysql -g root -m 0755 /run/mysqld",
    "  [ -d /var/log/mysql ] || install -d -o mysql -g adm -m 2750 /var/log/mysql",
    "}",
    "ensure_unit() {",
    withHeredoc('cat > "$UNIT.dbstack-tmp"', renderSystemdUnit(loc), "DBSTACK_UNIT"),
    '  if ! cmp -s "$UNIT.dbstack-tmp" "$UNIT"; then chmod 0644 "$UNIT.dbstack-tmp"; mv -f "$UNIT.dbstack-tmp" "$UNIT"; systemctl daemon-reload; else rm -f "$UNIT.dbstack-tmp"; fi',
    '  systemctl enable -q "$SERVICE"',
    "}",
    "# The supervisor's pid, if that process is still this instance's supervisor (pids are reused).",
    "supervisor_pid() {",
    '  local pid; pid=$(cat "$SUPERVISOR_PID" 2>/dev/null) || return 1',
    "  # Read whole, then matched: `| grep -q` would stop reading at the match, and a writer killed by",
    "  # SIGPIPE fails the pipeline under pipefail (the supervisor then looks dead).",
    '  local cmd; [ -n "$pid" ] && cmd=$(tr \'\\0\' \' \' < "/proc/$pid/cmdline" 2>/dev/null) && [[ "$cmd" == *"--defaults-file=$CNF"* ]] && echo "$pid"',
    "}",
    "wait_until_up() {",
    "  for _ in $(seq 1 120); do",
    "    instance_running && return 0",
    "    if ! has_systemd && ! supervisor_pid >/dev/null; then break; fi",
    "    sleep 1",
    "  done",
    '  echo "MariaDB instance $INSTANCE does not answer on $SOCKET; the end of its error log $ERROR_LOG:" >&2',
    '  tail -n 15 "$ERROR_LOG" >&2 2>/dev/null || true',
    "  exit 1",
    "}",
    "start_instance() {",
    "  prepare_runtime",
    "  if has_systemd; then",
    "    ensure_unit",
    '    systemctl start "$SERVICE" || true # a failure is reported with the error log below',
    "  else",
    "    local old; if old=$(supervisor_pid); then kill \"$old\" 2>/dev/null || true; sleep 1; fi",
    `    local safe; safe=$(command -v ${p.server === "mariadbd" ? "mariadbd-safe" : "mysqld_safe"} || command -v mysqld_safe)`,
    "    # Detached (its own session, no descriptor of this step or of whatever ran it: a pipe held",
    "    # by the server would keep the caller's `pulumi up | tee log` from ever returning).",
    '    ( close_inherited_fds; exec setsid "$safe" --defaults-file="$CNF" </dev/null >/dev/null 2>&1 ) &',
    '    echo "$!" > "$SUPERVISOR_PID"',
    "  fi",
    "  wait_until_up",
    "}",
    "stop_instance() {",
    '  if has_systemd && [ -f "$UNIT" ]; then systemctl stop "$SERVICE"; return 0; fi',
    "  # A clean shutdown: the supervisor sees the server exit normally and exits too.",
    `  if instance_running; then ${p.admin} --no-defaults --protocol=socket --socket="$SOCKET" -uroot shutdown >&2 || true; fi`,
    "  local pid",
    "  for _ in $(seq 1 60); do",
    '    pid=$(supervisor_pid) || break',
    "    sleep 1",
    "  done",
    '  if pid=$(supervisor_pid); then kill "$pid" 2>/dev/null || true; fi',
    '  if [ -s "$PID_FILE" ] && pid=$(cat "$PID_FILE") && kill -0 "$pid" 2>/dev/null; then',
    '    kill "$pid" 2>/dev/null || true',
    '    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done',
    "  fi",
    '  rm -f "$SUPERVISOR_PID"',
    "}",
    "restart_instance() {",
    '  if has_systemd; then ensure_unit; systemctl restart "$SERVICE" || true; wait_until_up; else stop_instance; start_instance; fi',
    "}",
  ].join("\n");
}

/**
 * Shell functions (after the prelude and renderPortFunctions): `instance_serving` succeeds when
 * the instance answers a query over its socket that reports the declared port with networking
 * on, and the socket listening on TCP port $PORT is the server's (mysql's, not another
 * process's; not merely a pid file); `wait_until_serving` waits for that (at most 30 s) or
 * fails the step naming the instance, the port and the end of its error log.
 */
function renderServingCheck(): string {
  return [
    "instance_serving() {",
    "  local seen",
    "  seen=$(echo \"SELECT CONCAT(@@port, IF(@@skip_networking, ' without networking', ' on TCP'));\" | mariadb_root 2>/dev/null) || return 1",
    '  [ "$seen" = "$PORT on TCP" ] || return 1',
    "  # The TCP listener on the port is the server's (its socket is mysql's), not another process's.",
    "  [[ $'\\n'\"$(port_listener_uids \"$PORT\")\"$'\\n' == *$'\\n'\"$(id -u mysql)\"$'\\n'* ]]",
    "}",
    "wait_until_serving() {",
    "  for _ in $(seq 1 30); do instance_serving && return 0; sleep 1; done",
    '  echo "MariaDB instance $INSTANCE is not serving on port $PORT after its configuration step (no answer on its socket, or port $PORT is not held by its server); the end of its error log $ERROR_LOG:" >&2',
    '  tail -n 15 "$ERROR_LOG" >&2 2>/dev/null || true',
    "  exit 1",
    "}",
  ].join("\n");
}

/**
 * The configure step's probe (HostCommand's `probe`, run during every preview and up): exits
 * non-zero when the instance is not serving on its declared port (stopped from outside, crashed,
 * or left down by a failed up), so the step is not "unchanged" and the next up starts it; with
 * `certificateDays`, also when its certificate is due for renewal (tls/lifetime.ts).
 */
export function renderServingProbe(loc: MariadbLocation, certificateDays?: number): string {
  const renewal = certificateDays === undefined ? [] : [renderCertificateDue(certificateDays), "# A certificate due for renewal re-runs the step, which issues it again (FLUSH SSL, no restart).", '! certificate_due "$TLS_DIR/server.crt"'];
  return [renderInstancePrelude(loc), renderPortFunctions(), renderServingCheck(), "instance_serving || exit 1", ...renewal].join("\n") + "\n";
}

/**
 * Creates the instance's data directory with the system tables if it does not exist; never
 * touches an existing one. Secure from the first start: root@localhost authenticates with
 * unix_socket only (the OS root; no password exists), there is no anonymous account, no
 * root@<host> for the network and no test database. (mariadb-install-db also makes
 * mysql@localhost, unix_socket only: the OS user the server runs as.) The option file is the
 * configure step's. An initialisation that was interrupted is started over.
 */
export function renderCreateInstance(loc: MariadbLocation, opts: { adopt?: boolean } = {}): string {
  const flavor = flavorOf(loc);
  const init =
    flavor === "mariadb"
      ? 'mariadb-install-db --no-defaults --user=mysql --datadir="$DATA_DIR" --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve'
      : // MySQL 8 (not tested against a server): root gets auth_socket at the first start.
        'printf "%s\\n" "INSTALL PLUGIN auth_socket SONAME \'auth_socket.so\';" "ALTER USER \'root\'@\'localhost\' IDENTIFIED WITH auth_socket;" > "$CONF_DIR/init.sql" && chmod 0644 "$CONF_DIR/init.sql" && mysqld --no-defaults --initialize-insecure --user=mysql --datadir="$DATA_DIR" --init-file="$CONF_DIR/init.sql"';
  return [
    scriptHeader(`Creates MariaDB instance ${loc.instance} (port ${loc.port}).`),
    renderInstancePrelude(loc),
    ...renderClaimInstance(loc, opts.adopt ?? false),
    'marker="$CONF_DIR/initialising"',
    'if [ -d "$DATA_DIR/mysql" ] && [ ! -f "$marker" ]; then',
    '  echo "instance $INSTANCE exists, data in $DATA_DIR"',
    "  exit 0",
    "fi",
    '(umask 022; mkdir -p "$CONF_DIR")',
    ...(loc.owner ? ['mark_owner "$CONF_OWNER"'] : []),
    'if [ -f "$marker" ]; then',
    "  # An initialisation of dbstack's that did not finish: its files are nobody's data.",
    '  [ -d "$DATA_DIR" ] && find "$DATA_DIR" -mindepth 1 -delete',
    'elif [ -d "$DATA_DIR" ] && [ -n "$(ls -A "$DATA_DIR")" ]; then',
    '  echo "dataDirectory: $DATA_DIR holds files but no MariaDB system tables; dbstack will not initialise an instance over them" >&2',
    "  exit 1",
    "fi",
    '(umask 022; mkdir -p "$(dirname "$DATA_DIR")") # the server (mysql) must be able to reach its directory',
    'install -d -o mysql -g mysql -m 0750 "$DATA_DIR"',
    'touch "$marker"',
    `if ! out=$(${init} 2>&1); then echo "$out" >&2; exit 1; fi`,
    ...(loc.owner ? ['mark_owner "$DATA_OWNER"'] : []),
    'rm -f "$marker"',
    'echo "created instance $INSTANCE, data in $DATA_DIR (root through unix_socket only, no anonymous account, no test database)"',
  ].join("\n");
}

/**
 * The owner check at the top of the create script (nothing without `loc.owner`): another
 * stack's marker on the instance (its config directory) or on the data directory stops the
 * step before anything is changed. An instance that exists without any marker (made by hand, or
 * by a dbstack before markers) is refused too, unless `adopt`: the update of an instance this
 * stack already has in its state, which writes the markers. A kept instance of this stack (a
 * destroy that kept the data) carries its markers and is taken back by the next up.
 */
function renderClaimInstance(loc: MariadbLocation, adopt: boolean): string[] {
  if (!loc.owner) return [];
  const hint = `echo '${loc.owner}' > $DATA_DIR/${OWNER_FILE}`;
  return [
    ...renderRefuseForeign(loc.owner),
    'if { [ -f "$CNF" ] || [ -d "$DATA_DIR/mysql" ]; } && [ ! -f "$CONF_DIR/initialising" ] && ! is_mine "$CONF_OWNER" && ! is_mine "$DATA_OWNER"; then',
    adopt
      ? '  echo "adopted MariaDB instance $INSTANCE (made before dbstack marked what it owns): marked as owned by this stack"'
      : `  echo "dataDirectory: MariaDB instance $INSTANCE (data in $DATA_DIR) exists and carries no dbstack owner marker: it was made by hand, by another program or by a dbstack before markers, and dbstack does not take it over. Choose another instanceName or dataDirectory; or, to hand it to this stack: ${hint}" >&2; exit 1`,
    "fi",
    'if [ -d "$DATA_DIR/mysql" ] && [ ! -f "$CONF_DIR/initialising" ]; then (umask 022; mkdir -p "$CONF_DIR"); mark_owner "$CONF_OWNER"; mark_owner "$DATA_OWNER"; fi',
  ];
}

/** Stops the script when another stack's marker is on the instance or its data directory (after the prelude). */
function renderRefuseForeign(owner: string): string[] {
  return [
    renderOwnerFunctions(owner),
    'CONF_OWNER="$CONF_DIR/owner"',
    `DATA_OWNER="$DATA_DIR/${OWNER_FILE}"`,
    'refuse_foreign "$CONF_OWNER" "MariaDB instance $INSTANCE" instanceName',
    'refuse_foreign "$DATA_OWNER" "the data directory $DATA_DIR" dataDirectory',
  ];
}

/** Read-only, at preview (targets/ownerCheck.ts): fails when another stack's marker is on the instance or its data directory. */
export function renderOwnerProbe(loc: MariadbLocation): string {
  return loc.owner ? ["set -euo pipefail", renderInstancePrelude(loc), ...renderRefuseForeign(loc.owner)].join("\n") : "true";
}

/**
 * Runs on destroy: stops the instance and removes its supervision (unit or supervisor); deletes
 * the data directory and the config directory only when the stack allows data removal. Says on
 * stderr what it kept. An instance that another stack's marker names, or that exists with no
 * marker at all, is left as it is (not stopped, not deleted).
 */
export function renderRemoveInstance(loc: MariadbLocation, allowDataRemoval: boolean): string {
  const lines = [
    scriptHeader(`Removes MariaDB instance ${loc.instance}${allowDataRemoval ? " and its data" : " (its data is kept)"}.`),
    renderInstancePrelude(loc),
    ...(loc.owner
      ? [
          renderOwnerFunctions(loc.owner),
          `owner=$(ownership_of "$CONF_DIR/owner" "$DATA_DIR/${OWNER_FILE}")`,
          'case "$owner" in',
          '  foreign*) echo "dbstack: left MariaDB instance $INSTANCE and $DATA_DIR as they are: they belong to another stack (${owner#foreign dbstack })" >&2; exit 0 ;;',
          '  unmarked) if [ -f "$CNF" ] || [ -d "$DATA_DIR/mysql" ]; then echo "dbstack: left MariaDB instance $INSTANCE and $DATA_DIR as they are: they carry no dbstack owner marker (an up of this stack marks what it made)" >&2; exit 0; fi ;;',
          "esac",
        ]
      : []),
    renderSupervision(loc),
    'if [ -f "$UNIT" ]; then',
    '  if has_systemd; then systemctl disable --now -q "$SERVICE" >&2 || true; fi',
    '  rm -f "$UNIT"',
    "  if has_systemd; then systemctl daemon-reload; fi",
    "fi",
    "stop_instance",
  ];
  if (allowDataRemoval) {
    lines.push(
      'rm -rf "$DATA_DIR" "$CONF_DIR"',
      'rm -f "$ERROR_LOG" # a later instance of the same name starts a log of its own',
      'echo "dbstack: deleted MariaDB instance $INSTANCE, its data directory $DATA_DIR, its configuration $CONF_DIR and its error log (allowDataRemoval is set)" >&2',
    );
  } else {
    lines.push(
      `echo "dbstack: stopped MariaDB instance $INSTANCE and kept its data in $DATA_DIR and its configuration in $CONF_DIR; ${keptDataHint("delete them")} (or run: rm -rf $DATA_DIR $CONF_DIR)" >&2`,
    );
  }
  return lines.join("\n");
}

/** Starts the instance when its data directory exists and it is not running (a container's start). */
export function renderStartInstance(loc: MariadbLocation): string {
  return [renderInstancePrelude(loc), renderSupervision(loc), 'if [ -d "$DATA_DIR/mysql" ] && [ -f "$CNF" ] && ! instance_running; then start_instance; fi'].join("\n");
}

/** Stops the instance cleanly (a container's stop). */
export function renderStopInstance(loc: MariadbLocation): string {
  return [renderInstancePrelude(loc), renderSupervision(loc), "stop_instance"].join("\n");
}

/** A value in SET GLOBAL: numbers and ON/OFF as they are, K/M/G/T/P/E sizes in bytes, anything else a string literal. */
export function setGlobalValue(value: string): string {
  const v = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(v)) return v;
  const size = /^(\d+)([KMGTPE])$/i.exec(v);
  if (size) return String(BigInt(size[1]) * 1024n ** BigInt(" KMGTPE".indexOf(size[2].toUpperCase())));
  if (/^(ON|OFF|TRUE|FALSE)$/i.test(v)) return v.toUpperCase();
  return sqlLiteral(v.replace(/\\/g, "\\\\"));
}

/**
 * Shell: `set_global_sql <name>` prints the SET GLOBAL statement that gives variable <name> its
 * value in the new option file (rendered here, from the file's text), or DEFAULT for a
 * variable the new file no longer sets; `is_restart_variable <name>` says whether a change of it
 * needs a restart.
 */
function renderApplyFunctions(loc: MariadbLocation, optionFileText: string): string {
  const restart = restartVariables(flavorOf(loc) === "mariadb" ? "10.11" : "8.0");
  const values = serverVariables(optionFileText);
  const cases = Object.entries(values)
    .filter(([name]) => /^[a-z0-9_]+$/.test(name) && !restart.has(name))
    .map(([name, value]) => `  ${name}) printf '%s\\n' ${shellQuote(`SET GLOBAL ${name} = ${setGlobalValue(value)};`)} ;;`);
  return [
    "set_global_sql() {",
    '  case "$1" in',
    ...cases,
    '  *) [[ "$1" =~ ^[a-z0-9_]+$ ]] || return 1; printf \'SET GLOBAL %s = DEFAULT;\\n\' "$1" ;;',
    "  esac",
    "}",
    "is_restart_variable() {",
    '  case "$1" in',
    `  ${[...restart].sort().join("|")}) return 0 ;;`,
    "  esac",
    "  return 1",
    "}",
    "# name=value per option of a file's [mysqld] section: names as the server reads them, last one wins.",
    "mysqld_values() {",
    "  awk '",
    "    /^[[:space:]]*\\[/ { s = $0; gsub(/[][[:space:]]/, \"\", s); section = tolower(s); next }",
    '    section != "mysqld" || /^[[:space:]]*([#;]|$)/ { next }',
    "    { i = index($0, \"=\"); name = i ? substr($0, 1, i - 1) : $0; value = i ? substr($0, i + 1) : \"ON\"",
    '      gsub(/^[[:space:]]+|[[:space:]]+$/, "", name); gsub(/^[[:space:]]+|[[:space:]]+$/, "", value)',
    '      name = tolower(name); gsub(/-/, "_", name); v[name] = value }',
    '    END { for (n in v) print n "=" v[n] }\' "$1"',
    "}",
    "# The options whose value differs between two files (set in one only counts), sorted.",
    "changed_variables() {",
    "  awk 'NR == FNR { i = index($0, \"=\"); a[substr($0, 1, i - 1)] = substr($0, i + 1); next }",
    '       { i = index($0, "="); n = substr($0, 1, i - 1); b[n] = substr($0, i + 1); if (!(n in a) || a[n] != b[n]) print n }',
    "       END { for (n in a) if (!(n in b)) print n }' <(mysqld_values \"$1\") <(mysqld_values \"$2\") | sort",
    "}",
  ].join("\n");
}

/**
 * Has the server read the new option file before anything applies it (`mariadbd --help
 * --verbose` parses every option as a start would): an unknown variable, a bad value or a value
 * out of range (which the server would silently adjust) puts the previous file back and fails,
 * one line per parameter, so the live configuration is never one the server rejects.
 */
function renderCheckOptionFile(loc: MariadbLocation): string {
  const check =
    flavorOf(loc) === "mariadb"
      ? 'check=$(mariadbd --defaults-file="$CNF" --help --verbose 2>&1 >/dev/null) && status=0 || status=$?'
      : 'check=$(mysqld --defaults-file="$CNF" --validate-config 2>&1 >/dev/null) && status=0 || status=$?';
  return [
    check,
    "re_unknown=\"unknown variable '([^=']+)\"",
    "re_value=\"Error while setting value '(.*)' to '([^']+)'\"",
    "re_adjusted=\"option '([^']+)': (.* adjusted to .*)\"",
    "problems=$(printf '%s\\n' \"$check\" | while IFS= read -r line; do",
    '  if [[ $line =~ $re_unknown ]]; then n=${BASH_REMATCH[1]}; echo "  parameters.${n//-/_}: MariaDB has no such variable (a typo?)"',
    '  elif [[ $line =~ $re_value ]]; then n=${BASH_REMATCH[2]}; echo "  parameters.${n//-/_}: invalid value ${BASH_REMATCH[1]}"',
    '  elif [[ $line =~ $re_adjusted ]]; then n=${BASH_REMATCH[1]}; echo "  parameters.${n//-/_}: invalid value: ${BASH_REMATCH[2]} (out of range)"',
    '  elif [[ $line == *"[ERROR]"* && $line != *"Parsing options for plugin"* && $line != *"Unknown suffix"* ]]; then echo "  ${line#*\\[ERROR\\] }"',
    "  fi",
    "done | awk '!seen[$0]++')",
    'if [ "$status" != 0 ] || [ -n "$problems" ]; then',
    '  if [ -f "$CNF.dbstack-prev" ]; then cp -p "$CNF.dbstack-prev" "$CNF"; else rm -f "$CNF"; fi',
    '  rm -f "$CNF.dbstack-pending"',
    '  echo "MariaDB rejects the new option file of instance $INSTANCE; the previous one is kept:" >&2',
    '  if [ -n "$problems" ]; then printf \'%s\\n\' "$problems" >&2; else printf \'%s\\n\' "$check" | tail -n 5 >&2; fi',
    "  exit 1",
    "fi",
  ].join("\n");
}

/**
 * Writes the instance's option file (the text renderOptionFile made) and applies it:
 * - the file is written atomically; the one it replaces is kept as <file>.dbstack-prev, and put
 *   back if the server rejects the new one (renderCheckOptionFile);
 * - a stopped instance is started (`started <instance>`);
 * - otherwise the [mysqld] values of the two files are compared: a changed static variable
 *   restarts the server (`restarting <instance>: changed variables need a restart: a, b`);
 *   changed dynamic ones are set with SET GLOBAL, the server keeps running (`applied with SET
 *   GLOBAL: a, b (no restart)`); no change prints `unchanged`. A SET GLOBAL the server refuses
 *   falls back to a restart, which reads the checked file.
 * An interrupted run is finished by the next one: <file>.dbstack-pending marks a file written
 * but not applied, and the comparison is then with the last applied file.
 * With `tls`, the TLS block (tls.ts) first puts the key and certificates in place; new
 * certificate files are loaded with FLUSH SSL when the server is not restarted anyway.
 */
export function renderConfigureInstance(loc: MariadbLocation, optionFileText: string, tls?: InstanceTlsSpec): string {
  return [
    scriptHeader(`Configures MariaDB instance ${loc.instance} and applies the configuration.`),
    renderInstancePrelude(loc),
    renderSupervision(loc),
    renderApplyFunctions(loc, optionFileText),
    renderPortFunctions(),
    renderServingCheck(),
    '[ -d "$DATA_DIR/mysql" ] || { echo "instance $INSTANCE does not exist (no system tables in $DATA_DIR): its create step has not run" >&2; exit 1; }',
    "# A port another process holds is found before anything is stopped or rewritten (a restart onto it would be an outage).",
    "# The instance itself on its declared port is no conflict (asked over its own socket: in a container its process may not be visible).",
    'if ! { instance_running && [ "$(echo "SELECT @@port;" | mariadb_root 2>/dev/null)" = "$PORT" ]; }; then',
    '  refuse_taken_port "$PORT" "MariaDB instance $INSTANCE and its option file are left as they were" $(instance_running && cat "$PID_FILE" 2>/dev/null || true)',
    "fi",
    '(umask 022; mkdir -p "$CONF_DIR")',
    ...(tls ? [renderInstanceTls(tls)] : ["tls_changed=no"]),
    "# The applied file is kept aside until the server has accepted the new one.",
    'if [ -f "$CNF" ] && [ ! -f "$CNF.dbstack-pending" ]; then cp -p "$CNF" "$CNF.dbstack-prev"; fi',
    '[ -f "$CNF" ] || rm -f "$CNF.dbstack-prev"',
    'touch "$CNF.dbstack-pending"',
    writeFileToExpandedPath('"$CNF"', optionFileText, "0644"),
    renderCheckOptionFile(loc),
    "# Apply: start, or SET GLOBAL, or restart only where a changed variable needs it.",
    "restarted=no",
    "if ! instance_running; then",
    "  start_instance",
    '  echo "started $INSTANCE"; restarted=yes',
    'elif [ ! -f "$CNF.dbstack-prev" ]; then',
    '  echo "restarting $INSTANCE: it runs without dbstack\'s option file"',
    "  restart_instance; restarted=yes",
    "else",
    '  changed=$(changed_variables "$CNF.dbstack-prev" "$CNF")',
    "  static=(); dynamic=()",
    "  for name in $changed; do if is_restart_variable \"$name\"; then static+=(\"$name\"); else dynamic+=(\"$name\"); fi; done",
    '  if [ -z "$changed" ]; then',
    '    echo "unchanged"',
    "  elif [ ${#static[@]} -gt 0 ]; then",
    '    echo "restarting $INSTANCE: changed variables need a restart: $(IFS=,; echo "${static[*]}" | sed \'s/,/, /g\')"',
    "    restart_instance; restarted=yes",
    "  else",
    "    applied=(); refused=()",
    '    for name in "${dynamic[@]}"; do',
    '      if sql=$(set_global_sql "$name") && err=$(printf \'%s\\n\' "$sql" | mariadb_root 2>&1); then applied+=("$name")',
    '      else refused+=("$name"); echo "SET GLOBAL $name was refused: $err" >&2; fi',
    "    done",
    "    if [ ${#refused[@]} -gt 0 ]; then",
    '      echo "restarting $INSTANCE: the server refused SET GLOBAL for: $(IFS=,; echo "${refused[*]}" | sed \'s/,/, /g\')"',
    "      restart_instance; restarted=yes",
    "    else",
    '      echo "applied with SET GLOBAL: $(IFS=,; echo "${applied[*]}" | sed \'s/,/, /g\') (no restart)"',
    "    fi",
    "  fi",
    "fi",
    'if [ "$tls_changed" = yes ] && [ "$restarted" = no ]; then echo "FLUSH SSL;" | mariadb_root; echo "reloaded the TLS certificate (FLUSH SSL)"; fi',
    "# Whatever was done, the step succeeds only when the server answers on its declared port.",
    "wait_until_serving",
    'rm -f "$CNF.dbstack-pending"',
  ].join("\n");
}
