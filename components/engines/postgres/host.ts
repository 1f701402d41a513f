import { shellQuote } from "../../shell";

/** Where one cluster lives on its host (postgresql-common's layout). */
export interface ClusterLocation {
  /** Major version; undefined means the distribution's default, resolved on the host. */
  version?: number;
  /** Cluster name (pg_createcluster's). */
  cluster: string;
  port: number;
  /** Data directory. Default: /var/lib/postgresql/<version>/<cluster>. */
  dataDirectory?: string;
  /**
   * The marker line of the stack that owns the cluster (targets/ownership.ts): create and
   * remove refuse a cluster or data directory another stack made. Default: none (no markers:
   * renderer tests that run outside a stack).
   */
  owner?: string;
  /**
   * A Patroni member (deploy/phases/ha.ts): psql_su then reaches the cluster's leader wherever it
   * is, over this host's socket when this member leads, otherwise over TLS (verify-full against the
   * deployment's CA) as postgres with the password of the member's patroni.env (root's, 0600),
   * which reaches psql's environment only. Default: none (psql_su uses this host's socket).
   */
  patroni?: { member: string; home: string; restUrl: string };
}

/**
 * Shell prelude of every PostgreSQL script: the version, the cluster's paths, and `psql_su`
 * (psql as the postgres superuser over the cluster's Unix socket: no password, no network).
 */
export function renderClusterPrelude(loc: ClusterLocation): string {
  return [
    "cd / # runuser keeps the working directory, which postgres may not be allowed to enter",
    `V=${loc.version ?? ""}`,
    'if [ -z "$V" ]; then V=$(ls -1 /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1); fi',
    '[ -n "$V" ] && [ -x "/usr/lib/postgresql/$V/bin/postgres" ] || { echo "PostgreSQL ${V:-(any version)} is not installed on $(hostname)" >&2; exit 1; }',
    `CLUSTER=${shellQuote(loc.cluster)}`,
    `PORT=${loc.port}`,
    'CONF_DIR="/etc/postgresql/$V/$CLUSTER"',
    loc.dataDirectory ? `DATA_DIR=${shellQuote(loc.dataDirectory)}` : 'DATA_DIR="/var/lib/postgresql/$V/$CLUSTER"',
    'PGBIN="/usr/lib/postgresql/$V/bin"',
    ...(loc.patroni ? renderLeaderPsql(loc.patroni) : ['psql_su() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$PORT" "$@"; }']),
    "# postgresql-common's own test: a cluster exists when its postgresql.conf does (pg_lsclusters",
    "# fails while another cluster on the host is half-created).",
    'cluster_exists() { [ -f "$CONF_DIR/postgresql.conf" ]; }',
    'cluster_running() { pg_ctlcluster "$V" "$CLUSTER" status >/dev/null 2>&1; }',
  ].join("\n");
}

/**
 * Installs PostgreSQL from the distribution's packages if missing (without the distribution's
 * default "main" cluster: dbstack creates its own), then prints the host facts tuning needs as
 * JSON: {"version":15,"memoryMb":3925,"cpus":2}.
 */
export function renderInstallServer(version: number | undefined): string {
  const pkg = version ? `postgresql-${version}` : "postgresql";
  const probe = version ? `[ -x /usr/lib/postgresql/${version}/bin/postgres ]` : "ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1";
  return [
    "set -euo pipefail",
    `if ! ${probe} || ! command -v pg_createcluster >/dev/null || ! command -v openssl >/dev/null; then`,
    "  mkdir -p /etc/postgresql-common",
    "  [ -e /etc/postgresql-common/createcluster.conf ] || echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf",
    "  export DEBIAN_FRONTEND=noninteractive",
    `  { apt-get update -qq && apt-get install -y -qq --no-install-recommends ${pkg} openssl; } >&2`,
    "fi",
    `V=${version ?? '$(ls -1 /usr/lib/postgresql | sort -V | tail -n 1)'}`,
    "mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)",
    'printf \'{"version":%s,"memoryMb":%s,"cpus":%s}\\n\' "$V" "$((mem_kb / 1024))" "$(nproc)"',
  ].join("\n");
}

/** The facts renderInstallServer prints. */
export interface InstalledServer {
  version: number;
  memoryMb: number;
  cpus: number;
}

export function parseInstalledServer(stdout: string): InstalledServer {
  const line = stdout.trim().split("\n").pop() ?? "";
  const facts = JSON.parse(line) as InstalledServer;
  if (![facts.version, facts.memoryMb, facts.cpus].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`unexpected host facts from the server install step: ${line}`);
  }
  return facts;
}

/** psql_su of a Patroni member: the leader, as its local Patroni names it (see ClusterLocation.patroni). */
function renderLeaderPsql(p: { member: string; home: string; restUrl: string }): string[] {
  return [
    `HA_HOME=${shellQuote(p.home)}`,
    `HA_MEMBER=${shellQuote(p.member)}`,
    "# The leader's name, host and port, from this member's Patroni (its REST API's /cluster needs no password).",
    "# Waits up to 60 s: the cluster has no leader during a failover.",
    "ha_leader() {",
    "  local i",
    "  for i in $(seq 1 120); do",
    `    curl -s --max-time 5 --cacert "$HA_HOME/ca.crt" ${shellQuote(`${p.restUrl}/cluster`)} | jq -er '[.members[] | select(.role == "leader" and .state == "running")][0] | "\\(.name) \\(.host) \\(.port)"' 2>/dev/null && return 0`,
    "    sleep 0.5",
    "  done",
    "  return 1",
    "}",
    "psql_su() (",
    "  local leader name host port",
    '  leader=$(ha_leader) || { echo "no leader of the Patroni cluster is known to its member on $(hostname): see ha-status" >&2; return 1; }',
    '  read -r name host port <<<"$leader"',
    '  if [ "$name" = "$HA_MEMBER" ]; then exec runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$PORT" "$@"; fi',
    '  set -a; . "$HA_HOME/patroni.env"; set +a',
    '  export PGPASSWORD="$PATRONI_SUPERUSER_PASSWORD" PGHOST="$host" PGPORT="$port" PGUSER=postgres PGSSLMODE=verify-full PGSSLROOTCERT="$HA_HOME/ca.crt"',
    "  unset PATRONI_REPLICATION_PASSWORD PATRONI_REWIND_PASSWORD PATRONI_RESTAPI_PASSWORD PATRONI_ETCD3_PASSWORD PATRONI_SUPERUSER_PASSWORD",
    "  exec runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 \"$@\"",
    ")",
  ];
}
