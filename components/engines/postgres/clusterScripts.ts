import { scriptHeader, shellQuote, writeFileToExpandedPath } from "../../shell";
import { keptDataHint } from "../../model/dataRemoval";
import { renderCloseInheritedFds, renderPortFunctions } from "../../targets/processes";
import { renderCertificateDue } from "../../tls/lifetime";
import { renderClusterPrelude, type ClusterLocation } from "./host";
import { LOCAL_TLS_NAMES, renderServerTls, type ServerTlsSpec } from "./tls";
import { OWNER_FILE, renderOwnerFunctions } from "../../targets/ownership";

/**
 * The owner check at the top of a script that creates a cluster (nothing without `loc.owner`):
 * another stack's marker on the cluster (its configuration directory) or on the data directory
 * stops the step before anything is changed; so does an existing cluster or data directory with
 * no marker at all, unless `adopt` (the update of a cluster this stack already has in its state,
 * made before markers), after which renderMarkCluster marks it.
 */
export function renderClaimCluster(loc: ClusterLocation, adopt: boolean): string[] {
  if (loc.owner === undefined) return [];
  const hint = `echo '${loc.owner}' > $DATA_DIR/${OWNER_FILE}`;
  return [
    ...renderRefuseForeign(loc.owner),
    'if { cluster_exists || [ -f "$DATA_DIR/PG_VERSION" ]; } && ! is_mine "$CONF_OWNER" && ! is_mine "$DATA_OWNER" && ! is_mine "$PENDING_OWNER"; then',
    adopt
      ? '  echo "adopted PostgreSQL cluster $V/$CLUSTER (made before dbstack marked what it owns): marked as owned by this stack"'
      : `  echo "dataDirectory: PostgreSQL cluster $V/$CLUSTER (data in $DATA_DIR) exists and carries no dbstack owner marker: it was made by hand, by another program or by a dbstack before markers, and dbstack does not take it over. Choose another instanceName or dataDirectory; or, to hand it to this stack: ${hint}" >&2; exit 1`,
    "fi",
  ];
}

/** Stops the script when another stack's marker is on the cluster or its data directory (after the prelude). */
function renderRefuseForeign(owner: string): string[] {
  return [
    renderOwnerFunctions(owner),
    `CONF_OWNER="$CONF_DIR/${OWNER_FILE}"`,
    `DATA_OWNER="$DATA_DIR/${OWNER_FILE}"`,
    "# Written before pg_createcluster, removed once the cluster is marked: a create stopped in between is still this stack's.",
    'PENDING_OWNER="/var/lib/postgresql/.dbstack-$V-$CLUSTER.creating"',
    'refuse_foreign "$PENDING_OWNER" "PostgreSQL cluster $V/$CLUSTER" instanceName',
    'refuse_foreign "$CONF_OWNER" "PostgreSQL cluster $V/$CLUSTER" instanceName',
    'refuse_foreign "$DATA_OWNER" "the data directory $DATA_DIR" dataDirectory',
  ];
}

/**
 * Read-only, at preview (targets/ownerCheck.ts): fails when another stack's marker is on the
 * cluster or its data directory. A host without PostgreSQL has no cluster to check.
 */
export function renderOwnerProbe(loc: ClusterLocation): string {
  if (loc.owner === undefined) return "true";
  // Without the (declared) version's server there is no cluster of it to own yet.
  const installed = loc.version ? `[ -x /usr/lib/postgresql/${loc.version}/bin/postgres ]` : "ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1";
  return ["set -euo pipefail", `${installed} || exit 0`, renderClusterPrelude(loc), ...renderRefuseForeign(loc.owner)].join("\n");
}

/**
 * After the prelude, where cluster $V/$CLUSTER does not exist: fails naming `version` when a
 * cluster of that name exists in another major version (dbstack never upgrades a cluster).
 */
function renderRefuseOtherVersion(): string[] {
  return [
    'for other in /etc/postgresql/*/"$CLUSTER"/postgresql.conf; do',
    '  [ -f "$other" ] || continue',
    '  ov=${other#/etc/postgresql/}; ov=${ov%%/*}',
    '  echo "version: PostgreSQL $V is declared (or the newest installed), but cluster $CLUSTER exists in PostgreSQL $ov; dbstack does not upgrade a cluster: declare version $ov, or upgrade it by hand first (pg_upgradecluster $ov $CLUSTER)" >&2',
    "  exit 1",
    "done",
  ];
}

/**
 * Read-only, at preview: a declared version whose cluster does not exist while the cluster exists
 * in another version is an error before any step (the create step says the same).
 */
export function renderVersionProbe(loc: ClusterLocation, declared: string): string {
  // Not the prelude: it fails on a host without the declared version's packages, which is the case to report.
  return [
    "set -euo pipefail",
    `V=${shellQuote(declared)}; CLUSTER=${shellQuote(loc.cluster)}`,
    '[ -f "/etc/postgresql/$V/$CLUSTER/postgresql.conf" ] && exit 0',
    ...renderRefuseOtherVersion(),
  ].join("\n");
}

/** Before pg_createcluster: the pending marker (see renderClaimCluster), in postgres's home (made only when missing). */
export function renderMarkPending(): string[] {
  return ["  [ -d /var/lib/postgresql ] || install -d -o postgres -g postgres -m 0755 /var/lib/postgresql", '  mark_owner "$PENDING_OWNER"'];
}

/** After a cluster is created (or found to be this stack's): its configuration and data directories carry this stack's marker. */
export function renderMarkCluster(loc: ClusterLocation): string[] {
  return loc.owner === undefined ? [] : ['mark_owner "$CONF_OWNER"', 'if [ -d "$DATA_DIR" ]; then mark_owner "$DATA_OWNER"; fi', 'rm -f "$PENDING_OWNER"'];
}

/**
 * Creates the cluster with pg_createcluster if it does not exist. Idempotent; never touches an
 * existing one (see renderClaimCluster). A cluster of the same name in another major version means
 * the declared `version` is not the one the cluster runs: that fails before anything is created (a
 * second cluster on the same port would not start, and the first would be silently left behind),
 * naming `version`.
 */
export function renderCreateCluster(loc: ClusterLocation, opts: { adopt?: boolean } = {}): string {
  return [
    scriptHeader(`Creates PostgreSQL cluster ${loc.cluster} on port ${loc.port}.`),
    renderClusterPrelude(loc),
    ...renderClaimCluster(loc, opts.adopt ?? false),
    "if cluster_exists; then",
    '  echo "cluster $V/$CLUSTER exists"',
    "else",
    ...renderRefuseOtherVersion().map((l) => `  ${l}`),
    ...(loc.owner === undefined ? [] : renderMarkPending()),
    '  if ! out=$(pg_createcluster "$V" "$CLUSTER" --port "$PORT" --datadir "$DATA_DIR" --encoding UTF8 --locale C.UTF-8 \\',
    '      -- --data-checksums --auth-local=peer --auth-host=scram-sha-256 2>&1); then echo "$out" >&2; exit 1; fi',
    '  echo "created cluster $V/$CLUSTER on port $PORT, data in $DATA_DIR"',
    "fi",
    ...renderMarkCluster(loc),
  ].join("\n");
}

/** The owner check of destroy: a cluster another stack owns, or that none does, is left as it is (not stopped, not dropped). */
function renderRemoveGuard(loc: ClusterLocation): string[] {
  if (loc.owner === undefined) return [];
  return [
    renderOwnerFunctions(loc.owner),
    `owner=$(ownership_of "$CONF_DIR/${OWNER_FILE}" "$DATA_DIR/${OWNER_FILE}" "/var/lib/postgresql/.dbstack-$V-$CLUSTER.creating")`,
    'case "$owner" in',
    '  foreign*) echo "dbstack: left PostgreSQL cluster $V/$CLUSTER and $DATA_DIR as they are: they belong to another stack (${owner#foreign dbstack })" >&2; exit 0 ;;',
    '  unmarked) if cluster_exists || [ -f "$DATA_DIR/PG_VERSION" ]; then echo "dbstack: left PostgreSQL cluster $V/$CLUSTER and $DATA_DIR as they are: they carry no dbstack owner marker (an up of this stack marks what it made)" >&2; exit 0; fi ;;',
    "esac",
  ];
}

/** Runs on destroy: stops the cluster; deletes it only when the stack allows data removal. */
export function renderRemoveCluster(loc: ClusterLocation, allowDataRemoval: boolean): string {
  const prelude = [renderClusterPrelude(loc), ...renderRemoveGuard(loc)].join("\n");
  if (!allowDataRemoval) {
    return [
      prelude,
      'if cluster_exists; then pg_ctlcluster "$V" "$CLUSTER" stop >&2 || true; fi',
      'rm -f "/run/lock/dbstack-postgres-$V-$CLUSTER.lock" # the host lock of dbstack\'s steps',
      `echo "dbstack: stopped PostgreSQL cluster $V/$CLUSTER and kept its data in $DATA_DIR; ${keptDataHint("delete it")} (or run: pg_dropcluster $V $CLUSTER)" >&2`,
    ].join("\n");
  }
  return [
    prelude,
    'if cluster_exists; then pg_dropcluster --stop "$V" "$CLUSTER" >&2; fi',
    "# pg_dropcluster leaves files it did not write (dbstack's conf.d); a new cluster of the same name would include them.",
    'rm -rf "$CONF_DIR"',
    'rm -f "/var/lib/postgresql/.dbstack-$V-$CLUSTER.pgpass" # a standby\'s replication password',
    'rm -f "/var/lib/postgresql/.dbstack-$V-$CLUSTER.creating" # the pending owner marker of an interrupted create',
    'rm -f "/run/lock/dbstack-postgres-$V-$CLUSTER.lock" # the host lock of dbstack\'s steps',
    'echo "dbstack: deleted PostgreSQL cluster $V/$CLUSTER and its data (allowDataRemoval is set)" >&2',
  ].join("\n");
}

/** The configuration files dbstack writes, relative to the cluster's configuration directory. */
const CONFIG_FILES = ["conf.d/05-dbstack-access.conf", "conf.d/10-dbstack-tuning.conf", "pg_hba.conf", "postgresql.conf"];

/**
 * Has PostgreSQL read the new configuration files before anything applies them (`postgres -C`
 * parses every file as a start would): an unknown parameter or a bad value puts the previous
 * files back and fails, naming the parameter, so the live configuration is never one the server
 * rejects (a reload would ignore the whole file; the next restart would fail).
 */
function renderCheckConfig(): string {
  return [
    'if ! check=$(runuser -u postgres -- "$PGBIN/postgres" --config-file="$CONF_DIR/postgresql.conf" -C port 2>&1); then',
    `  for f in ${CONFIG_FILES.join(" ")}; do if [ -f "$CONF_DIR/$f.dbstack-prev" ]; then mv -f "$CONF_DIR/$f.dbstack-prev" "$CONF_DIR/$f"; else rm -f "$CONF_DIR/$f"; fi; done`,
    '  echo "PostgreSQL rejects the new configuration of $V/$CLUSTER; the previous configuration is kept:" >&2',
    `  printf '%s\\n' "$check" | sed -n -E \\`,
    `    -e 's/.*unrecognized configuration parameter "([^"]+)".*/  parameters.\\1: PostgreSQL has no such parameter (a typo?)/p' \\`,
    `    -e 's/.*invalid value for parameter "([^"]+)": (.*)/  parameters.\\1: invalid value \\2/p' \\`,
    `    -e 's/.*LOG: +(syntax error in file .*)/  parameters: \\1/p' \\`,
    `    -e 's/.*(HINT|DETAIL): +(.*)/    \\2/p' >&2`,
    "  exit 1",
    "fi",
    `for f in ${CONFIG_FILES.join(" ")}; do rm -f "$CONF_DIR/$f.dbstack-prev"; done`,
  ].join("\n");
}

/**
 * Shell functions (after the prelude and renderPortFunctions): `cluster_serving` succeeds when the
 * cluster answers a query over its socket reporting the declared port and, when it listens on
 * TCP at all, the socket listening on TCP port $PORT is the postmaster's (postgres's, not another
 * process's; not merely a pid file); `wait_until_serving` waits for that (at most 30 s) or fails
 * the step naming the cluster, the port and the end of its log.
 */
function renderServingCheck(): string {
  return [
    "cluster_serving() {",
    "  local seen",
    "  seen=$(psql_su -d postgres -tA -c \"SELECT current_setting('port') || ' ' || current_setting('listen_addresses')\" 2>/dev/null) || return 1",
    '  [ "${seen%% *}" = "$PORT" ] || return 1',
    '  [ -n "${seen#* }" ] && [ "$seen" != "$PORT" ] || return 0 # no TCP listener declared',
    "  # The TCP listener on the port is the postmaster's (its socket is postgres's), not another process's.",
    "  [[ $'\\n'\"$(port_listener_uids \"$PORT\")\"$'\\n' == *$'\\n'\"$(id -u postgres)\"$'\\n'* ]]",
    "}",
    "wait_until_serving() {",
    "  for _ in $(seq 1 30); do cluster_serving && return 0; sleep 1; done",
    '  echo "PostgreSQL cluster $V/$CLUSTER is not serving on port $PORT after its configuration step (no answer on its socket, or port $PORT is not held by its postmaster); the end of /var/log/postgresql/postgresql-$V-$CLUSTER.log:" >&2',
    '  tail -n 15 "/var/log/postgresql/postgresql-$V-$CLUSTER.log" >&2 2>/dev/null || true',
    "  exit 1",
    "}",
  ].join("\n");
}

/**
 * The configure step's probe (HostCommand's `probe`, run during every preview and up): exits
 * non-zero when the cluster is not serving on its declared port (stopped from outside, crashed,
 * or left down by a failed up), so the step is not "unchanged" and the next up starts it; with
 * `certificateDays`, also when its certificate is due for renewal (tls/lifetime.ts).
 */
export function renderServingProbe(loc: ClusterLocation, certificateDays?: number): string {
  const renewal = certificateDays === undefined ? [] : [renderCertificateDue(certificateDays), "# A certificate due for renewal re-runs the step, which issues it again (reload, no restart).", '! certificate_due "$CONF_DIR/dbstack-tls/server.crt"'];
  return [renderClusterPrelude(loc), renderPortFunctions(), renderServingCheck(), "cluster_serving || exit 1", ...renewal].join("\n") + "\n";
}

/**
 * Starts, restarts or reloads the cluster with pg_ctlcluster, with no descriptor of this step
 * but stderr: the postmaster must not hold a pipe of whatever ran the step (see
 * targets/processes.ts); pg_ctl gives it /dev/null and its log file.
 */
function renderPgCtl(): string {
  return [renderCloseInheritedFds(), 'pg_ctl_cluster() { ( close_inherited_fds; exec pg_ctlcluster "$V" "$CLUSTER" "$@" </dev/null >&2 ); }'].join("\n");
}

export interface ClusterConfigFiles {
  tuningConf: string;
  accessConf: string;
  hba: string;
  /** This host's TLS certificate (see tls.ts). Default: signed by the cluster's CA on this host, for local names only. */
  tls?: ServerTlsSpec;
}

/**
 * Writes the cluster's configuration (conf.d files, pg_hba.conf, TLS files), then applies it:
 * starts a stopped cluster, otherwise reloads and restarts only if PostgreSQL reports that a
 * changed parameter needs it (pg_settings.pending_restart), and says which.
 * TLS: DBSTACK_TLS_CERT and DBSTACK_TLS_KEY from the environment when given; otherwise the
 * host's own key with a certificate signed by the cluster's CA (renderServerTls).
 */
export function renderConfigureCluster(loc: ClusterLocation, files: ClusterConfigFiles): string {
  return [
    scriptHeader(`Configures PostgreSQL cluster ${loc.cluster} and applies the configuration.`),
    renderClusterPrelude(loc),
    'cluster_exists || { echo "cluster $V/$CLUSTER does not exist" >&2; exit 1; }',
    renderPortFunctions(),
    renderServingCheck(),
    renderPgCtl(),
    "# A port another process holds is found before anything is stopped or rewritten (a restart onto it would be an outage).",
    "# The cluster itself on its declared port is no conflict (asked over its socket: in a container its process may not be visible).",
    `if ! { cluster_running && [ "$(psql_su -d postgres -tA -c "SELECT current_setting('data_directory')" 2>/dev/null)" = "$DATA_DIR" ]; }; then`,
    '  refuse_taken_port "$PORT" "cluster $V/$CLUSTER and its configuration files are left as they were" $(cluster_running && head -n 1 "$DATA_DIR/postmaster.pid" 2>/dev/null || true)',
    "fi",
    'install -d -o postgres -g postgres -m 0755 "$CONF_DIR/conf.d"',
    "# The live files are kept aside until PostgreSQL has accepted the new ones.",
    `for f in ${CONFIG_FILES.join(" ")}; do if [ -f "$CONF_DIR/$f" ]; then cp -p "$CONF_DIR/$f" "$CONF_DIR/$f.dbstack-prev"; else rm -f "$CONF_DIR/$f.dbstack-prev"; fi; done`,
    "# Access first, tuning last: the tuning file carries the declared overrides, which must win.",
    writeFileToExpandedPath('"$CONF_DIR/conf.d/05-dbstack-access.conf"', files.accessConf, "0644"),
    writeFileToExpandedPath('"$CONF_DIR/conf.d/10-dbstack-tuning.conf"', files.tuningConf, "0644"),
    writeFileToExpandedPath('"$CONF_DIR/pg_hba.conf"', files.hba, "0640"),
    'chown postgres:postgres "$CONF_DIR"/conf.d/*.conf "$CONF_DIR/pg_hba.conf"',
    "# The port lives in postgresql.conf (pg_createcluster wrote it there; postgresql-common reads it).",
    'sed -i -E "s/^[[:space:]]*port[[:space:]]*=.*/port = $PORT/" "$CONF_DIR/postgresql.conf"',
    "# conf.d is read only when postgresql.conf includes it: pg_createcluster adds the include only when",
    "# /etc/postgresql-common/createcluster.conf says add_include_dir, and a minimal one (just",
    "# create_main_cluster = false, as in a container image or as renderInstallServer writes) does not;",
    "# the server would then run the snakeoil certificate and default access and tuning. The include",
    "# goes last, so dbstack's files win over anything in postgresql.conf.",
    `if ! grep -qE "^[[:space:]]*include_dir[[:space:]]*=[[:space:]]*'conf\\.d'" "$CONF_DIR/postgresql.conf"; then`,
    `  printf "\\n# Added by dbstack: its configuration files are in conf.d.\\ninclude_dir = 'conf.d'\\n" >> "$CONF_DIR/postgresql.conf"`,
    '  echo "added include_dir = \'conf.d\' to $CONF_DIR/postgresql.conf"',
    "fi",
    renderServerTls(files.tls ?? { names: LOCAL_TLS_NAMES }),
    renderCheckConfig(),
    "# Apply: start, or reload and restart only where PostgreSQL says a parameter needs it.",
    'live_port=$(sed -n 4p "$DATA_DIR/postmaster.pid" 2>/dev/null || true)',
    "if ! cluster_running; then",
    '  pg_ctl_cluster start',
    '  echo "started $V/$CLUSTER"',
    'elif [ -n "$live_port" ] && [ "$live_port" != "$PORT" ]; then',
    '  echo "restarting $V/$CLUSTER: port $live_port -> $PORT"',
    '  pg_ctl_cluster restart',
    "else",
    '  pg_ctl_cluster reload',
    "  sleep 1",
    "  pending=$(psql_su -d postgres -tA -c \"SELECT string_agg(name, ', ' ORDER BY name) FROM pg_settings WHERE pending_restart\")",
    '  if [ -n "$pending" ]; then',
    '    echo "restarting $V/$CLUSTER: changed parameters need a restart: $pending"',
    '    pg_ctl_cluster restart',
    "  else",
    '    echo "reloaded $V/$CLUSTER (no changed parameter needs a restart)"',
    "  fi",
    "fi",
    "# Whatever was done, the step succeeds only when the cluster answers on its declared port.",
    "wait_until_serving",
    "# ... and runs the configuration written above: its certificate is dbstack's (not, say, the snakeoil",
    "# one of a postgresql.conf that does not include conf.d) and it has read dbstack's conf.d files.",
    "running_cert=$(psql_su -d postgres -tA -c \"SELECT current_setting('ssl_cert_file')\")",
    `read_files=$(psql_su -d postgres -tA -c "SELECT count(*) FROM pg_settings WHERE sourcefile LIKE '$CONF_DIR/conf.d/%'")`,
    'if [ "$running_cert" != "$TLS_DIR/server.crt" ] || [ "${read_files:-0}" -eq 0 ]; then',
    '  echo "PostgreSQL cluster $V/$CLUSTER does not run the configuration dbstack wrote: its ssl_cert_file is $running_cert (expected $TLS_DIR/server.crt) and it has $read_files settings from $CONF_DIR/conf.d (does $CONF_DIR/postgresql.conf include conf.d?)" >&2',
    "  exit 1",
    "fi",
    `psql_su -d postgres -tA -c "SELECT 'running ' || current_setting('server_version') || ' since ' || pg_postmaster_start_time()"`,
  ].join("\n");
}

