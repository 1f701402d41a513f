import { scriptHeader, shellQuote, withHeredoc } from "../../shell";
import { renderClusterPrelude, type ClusterLocation } from "./host";
import { renderClaimCluster, renderMarkCluster, renderMarkPending } from "./clusterScripts";

/** On the primary: one physical replication slot per standby; slots of removed standbys are dropped. */
export function renderReplicationSlots(primary: ClusterLocation, standbys: string[]): string {
  const wanted = standbys.map((s) => `'${s}'`).join(", ");
  return [
    scriptHeader(`Replication slots of PostgreSQL cluster ${primary.cluster}.`),
    renderClusterPrelude(primary),
    ...standbys.map(
      (s) =>
        `psql_su -d postgres -tA -c "SELECT pg_create_physical_replication_slot('${s}') WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${s}')" >/dev/null`,
    ),
    "# A slot without its standby keeps WAL forever (up to max_slot_wal_keep_size): drop those of removed standbys.",
    `psql_su -d postgres -tA -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_type = 'physical' AND slot_name LIKE 'dbstack\\_%' AND NOT active${standbys.length ? ` AND slot_name NOT IN (${wanted})` : ""}" >/dev/null`,
    `psql_su -d postgres -tA -c "SELECT 'slots: ' || coalesce(string_agg(slot_name, ', ' ORDER BY slot_name), 'none') FROM pg_replication_slots"`,
  ].join("\n");
}

/** What a standby's scripts render from: its cluster, its slot on the primary, and how it reaches the primary. */
export interface StandbySpec extends ClusterLocation {
  /** The standby's slot on the primary. */
  slot: string;
  primaryHost: string;
  primaryPort: number;
  replicationUser: string;
  /**
   * The PEM certificate the standby verifies its primary's certificate against (sslmode=verify-full:
   * signed by it, and naming primaryHost). Default: the host's system trust store
   * (/etc/ssl/certs/ca-certificates.crt), for a primary whose certificate the user gave (`tls`).
   */
  caCertificate?: string;
}

/** The system trust store of Debian and Ubuntu hosts: what a user's own primary certificate is verified against. */
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/**
 * The standby's side of TLS to its primary: `$PRIMARY_CA`, the file it trusts (written here from
 * the deployment's CA certificate), and `verify_primary_conninfo`, which makes every
 * primary_conninfo line of postgresql.auto.conf verify the primary (an older standby of dbstack
 * connected with sslmode=require: encrypted, but to whichever server answered).
 */
function renderPrimaryTrust(spec: StandbySpec): string {
  if (spec.caCertificate === undefined) return `PRIMARY_CA=${SYSTEM_CA_BUNDLE}`;
  return [
    'PRIMARY_CA="$CONF_DIR/dbstack-primary-ca.crt"',
    "write_primary_ca() {",
    withHeredoc('  cat > "$PRIMARY_CA.dbstack-tmp"', spec.caCertificate, "DBSTACK_PRIMARY_CA"),
    '  chmod 0644 "$PRIMARY_CA.dbstack-tmp"; mv -f "$PRIMARY_CA.dbstack-tmp" "$PRIMARY_CA"',
    "}",
  ].join("\n");
}

/**
 * On the standby host: creates the cluster (for postgresql-common's layout and service), then,
 * unless it already is a standby, replaces its empty data directory with a pg_basebackup of the
 * primary (-R writes primary_conninfo and standby.signal), and starts it. The replication
 * password comes from DBSTACK_REPLICATION_PASSWORD in the environment. A cluster that was
 * promoted (no standby.signal) or holds data is never overwritten.
 */
export function renderStandby(spec: StandbySpec, opts: { adopt?: boolean } = {}): string {
  return [
    scriptHeader(`Standby ${spec.cluster} of ${spec.primaryHost}:${spec.primaryPort}, slot ${spec.slot}.`),
    renderClusterPrelude(spec),
    ...renderClaimCluster(spec, opts.adopt ?? false),
    "if ! cluster_exists; then",
    ...(spec.owner === undefined ? [] : renderMarkPending()),
    '  if ! out=$(pg_createcluster "$V" "$CLUSTER" --port "$PORT" --datadir "$DATA_DIR" --encoding UTF8 --locale C.UTF-8 -- --auth-local=peer --auth-host=scram-sha-256 2>&1); then echo "$out" >&2; exit 1; fi',
    "  fresh=yes",
    "else fresh=no; fi",
    "# The primary is verified (sslmode=verify-full): its certificate must be signed by the deployment's CA and name the host the standby connects to.",
    renderPrimaryTrust(spec),
    ...(spec.caCertificate === undefined ? [] : ["write_primary_ca"]),
    "verify_primary_conninfo() {",
    '  local auto="$DATA_DIR/postgresql.auto.conf"',
    '  [ -f "$auto" ] && grep -q "^primary_conninfo = .*sslmode=require" "$auto" || return 0',
    '  sed -i -E "/^primary_conninfo = /s|sslmode=require|sslmode=verify-full sslrootcert=$PRIMARY_CA|" "$auto"',
    '  echo "standby $V/$CLUSTER now verifies its primary (sslmode=verify-full)"',
    "}",
    "# A clone that failed half-way left this marker: its data directory holds nothing of its own.",
    'marker="$CONF_DIR/dbstack-clone-incomplete"',
    '[ -f "$marker" ] && fresh=yes',
    "# The standby keeps its replication password in a 0600 passfile of postgres's, never in a command line.",
    "# Written on every run: a re-generated password (a stack re-created over kept data) reaches a standby that already follows.",
    'pass="/var/lib/postgresql/.dbstack-$V-$CLUSTER.pgpass"',
    'write_passfile() {',
    '  install -o postgres -g postgres -m 0600 /dev/null "$pass.dbstack-tmp"',
    `  printf '%s:%s:*:%s:%s\\n' ${shellQuote(spec.primaryHost)} ${spec.primaryPort} ${shellQuote(spec.replicationUser)} "$DBSTACK_REPLICATION_PASSWORD" > "$pass.dbstack-tmp"`,
    '  mv -f "$pass.dbstack-tmp" "$pass"',
    '}',
    'if [ -f "$DATA_DIR/standby.signal" ]; then',
    '  write_passfile',
    "  verify_primary_conninfo # applied by the configure step's reload",
    '  echo "standby $V/$CLUSTER already follows its primary"',
    'elif [ "$fresh" = yes ]; then',
    '  pg_ctlcluster "$V" "$CLUSTER" stop >/dev/null 2>&1 || true',
    '  touch "$marker"',
    '  find "$DATA_DIR" -mindepth 1 -delete',
    '  write_passfile',
    `  if ! runuser -u postgres -- env PGPASSFILE="$pass" PGSSLMODE=verify-full PGSSLROOTCERT="$PRIMARY_CA" "$PGBIN/pg_basebackup" -h ${shellQuote(spec.primaryHost)} -p ${spec.primaryPort} -U ${shellQuote(spec.replicationUser)} \\`,
    `      -D "$DATA_DIR" -R -S ${shellQuote(spec.slot)} -X stream --checkpoint=fast --no-password >&2; then`,
    '    echo "pg_basebackup from the primary failed (a certificate verify failure means the primary\'s certificate is not signed by the deployment\'s CA or does not name the address the standby connects to)" >&2; exit 1',
    "  fi",
    `  printf "primary_conninfo = 'host=%s port=%s user=%s passfile=%s application_name=%s sslmode=verify-full sslrootcert=%s'\\nprimary_slot_name = '%s'\\n" \\`,
    `    ${shellQuote(spec.primaryHost)} ${spec.primaryPort} ${shellQuote(spec.replicationUser)} "$pass" ${shellQuote(spec.slot)} "$PRIMARY_CA" ${shellQuote(spec.slot)} >> "$DATA_DIR/postgresql.auto.conf"`,
    '  rm -f "$marker"',
    '  echo "cloned the primary into $DATA_DIR"',
    "else",
    '  echo "$V/$CLUSTER exists and is not a standby (promoted, or holding its own data): dbstack will not overwrite it; remove it from the stack or drop the cluster to re-create the standby" >&2',
    "  exit 1",
    "fi",
    ...renderMarkCluster(spec),
  ].join("\n");
}

/** `promote`: makes the standby a primary (failover). Run on the standby host. */
export function renderPromote(loc: ClusterLocation): string {
  return [
    scriptHeader(`Promotes standby ${loc.cluster} to a primary (failover).`),
    renderClusterPrelude(loc),
    '[ -f "$DATA_DIR/standby.signal" ] || { echo "$V/$CLUSTER is not a standby" >&2; exit 1; }',
    'pg_ctlcluster "$V" "$CLUSTER" promote',
    "for i in $(seq 1 30); do",
    '  [ "$(psql_su -d postgres -tA -c \'SELECT pg_is_in_recovery()\')" = f ] && { echo "promoted $V/$CLUSTER: it now accepts writes"; exit 0; }',
    "  sleep 1",
    "done",
    'echo "promotion of $V/$CLUSTER did not finish in 30s" >&2; exit 1',
  ].join("\n") + "\n";
}

/** Appended to a standby's configuration step: waits (up to 60s) until it streams from the primary. */
export function renderAwaitStreaming(): string {
  return [
    "for i in $(seq 1 60); do",
    "  status=$(psql_su -d postgres -tA -c \"SELECT status FROM pg_stat_wal_receiver\" 2>/dev/null || true)",
    '  [ "$status" = streaming ] && { echo "standby $V/$CLUSTER is streaming from its primary"; exit 0; }',
    "  sleep 1",
    "done",
    'echo "standby $V/$CLUSTER is not streaming after 60s (WAL receiver: ${status:-none}); the end of /var/log/postgresql/postgresql-$V-$CLUSTER.log:" >&2',
    'tail -n 8 "/var/log/postgresql/postgresql-$V-$CLUSTER.log" >&2 || true',
    "exit 1",
  ].join("\n");
}
