/**
 * Patroni over a deployment's PostgreSQL members: each member's patroni.yml (pure, no secret in
 * it), its environment file (the passwords, 0600, root's; the supervisor hands them to Patroni's
 * private environment) and the member step that installs them and keeps Patroni running.
 *
 * What Patroni is given comes from what the PostgreSQL engine renders for a plain deployment: the
 * tuned parameters (cluster-wide: Patroni's dynamic configuration, so every member runs the same),
 * pg_hba (renderHba's lines, plus each member's replication and rewind lines) and TLS (the member's
 * own key and a certificate signed by the deployment's CA). Patroni starts, stops, promotes and
 * rewinds PostgreSQL; dbstack never runs pg_ctl on a member.
 */
import { renderHba, type AccessSpec } from "../access";
import { scriptHeader, shellQuote, withHeredoc, writeFileToExpandedPath } from "../../../shell";
import { memberTlsNames, renderInstallMemberCertificate, renderMemberTlsPrelude } from "./memberTls";
import { HA_SECRET_ENV, type PatroniClusterSpec, type PatroniMemberSpec } from "./spec";
import { renderSuperviseLoop, renderSupervisorFunctions } from "./supervisor";

const SERVICE_USER = "postgres";

const hostPort = (address: string, port: number) => `${address.includes(":") ? `[${address}]` : address}:${port}`;

/** The member's REST API, as the other members, the tools and an HAProxy reach it. */
export const restUrl = (c: PatroniClusterSpec, m: PatroniMemberSpec) => `https://${hostPort(m.address, c.restApiPort)}`;

/**
 * pg_hba for every member (the same everywhere, so a promoted standby accepts what its primary
 * did): the engine's lines, with replication and rewind allowed from each member's address only.
 */
export function renderPatroniHba(access: AccessSpec, members: PatroniMemberSpec[], rewindUser: string): string[] {
  const memberCidrs = members.map((m) => (m.address.includes(":") ? `${m.address}/128` : `${m.address}/32`));
  // Patroni reads its own member's timeline over a local replication connection: without it, a member cannot tell how far it is.
  const replicationCidrs = [...memberCidrs, "127.0.0.1/32"];
  const engine = renderHba({ ...access, replicationCidrs })
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"));
  // pg_rewind reads the new leader's files over a normal connection to the postgres database.
  const rewind = memberCidrs.map((cidr) => `hostssl    postgres     ${rewindUser.padEnd(12)} ${cidr.padEnd(20)} scram-sha-256`);
  // dbstack's steps on a member that does not lead reach the leader as postgres, from members' addresses only.
  const superuser = memberCidrs.map((cidr) => `hostssl    all          ${"postgres".padEnd(12)} ${cidr.padEnd(20)} scram-sha-256`);
  const local = engine.filter((l) => l.startsWith("local") || l.startsWith("host "));
  return [...local, ...rewind, ...superuser, ...engine.filter((l) => !local.includes(l))];
}

/** The TLS paths of a member (its home's tls/ and ca.crt), for libpq's sslrootcert and the server. */
function tlsFiles(m: PatroniMemberSpec) {
  return { cert: `${m.home}/tls/server.crt`, key: `${m.home}/tls/server.key`, ca: `${m.home}/ca.crt` };
}

/** The dynamic configuration of a cluster (patroni.yml's bootstrap.dcs is this too). */
export function patroniDynamicConfig(c: PatroniClusterSpec) {
  return {
    ttl: c.ttlSeconds,
    loop_wait: c.loopWaitSeconds,
    retry_timeout: c.retryTimeoutSeconds,
    maximum_lag_on_failover: c.maximumLagOnFailoverBytes,
    synchronous_mode: c.synchronous,
    // A member whose timeline is behind the cluster's history never wins a leader race (it would promote onto
    // a timeline number another member already used: histories that cannot be followed).
    check_timeline: true,
    postgresql: {
      use_pg_rewind: true,
      use_slots: true,
      parameters: sortedObject({
        ...c.parameters,
        wal_level: "replica",
        hot_standby: "on",
        max_wal_senders: String(Math.max(10, c.members.length * 2)),
        max_replication_slots: String(Math.max(10, c.members.length * 2)),
        wal_log_hints: "on",
        password_encryption: "scram-sha-256",
      }),
    },
  };
}

/** One member's patroni.yml (JSON, which is YAML): deterministic, with no password in it. */
export function renderPatroniConfig(c: PatroniClusterSpec, m: PatroniMemberSpec): string {
  const tls = tlsFiles(m);
  const verify = { sslmode: "verify-full", sslrootcert: tls.ca };
  const config = {
    scope: c.scope,
    namespace: "/service/",
    name: m.name,
    log: { level: "INFO", format: "%(asctime)s %(levelname)s: %(message)s" },
    restapi: {
      listen: hostPort(m.address, c.restApiPort),
      connect_address: hostPort(m.address, c.restApiPort),
      certfile: tls.cert,
      keyfile: tls.key,
      authentication: { username: c.restApiUser },
    },
    ctl: { cacert: tls.ca },
    etcd3: {
      hosts: c.etcd.hosts,
      protocol: "https",
      ...(c.etcd.caCertificate === undefined ? {} : { cacert: `${m.home}/etcd-ca.crt` }),
      username: c.etcd.username,
    },
    bootstrap: {
      dcs: patroniDynamicConfig(c),
      // Data checksums (as dbstack's pg_createcluster): pg_rewind and corruption checks rely on them.
      initdb: [{ encoding: "UTF8" }, { locale: "C.UTF-8" }, "data-checksums"],
    },
    postgresql: {
      listen: `${m.address},127.0.0.1:${m.port}`,
      connect_address: hostPort(m.address, m.port),
      data_dir: m.dataDirectory,
      ...(m.configDirectory === undefined ? {} : { config_dir: m.configDirectory }),
      bin_dir: `/usr/lib/postgresql/${m.version}/bin`,
      pgpass: `${m.home}/patroni/pgpass`,
      // A new member's copy starts at once, not after a spread checkpoint (up to checkpoint_timeout).
      basebackup: { checkpoint: "fast" },
      // A replica whose timeline diverged from the leader's (WAL it received that the new leader never
      // had: in synchronous mode, never an acknowledged commit) and that pg_rewind cannot bring back
      // is copied from the leader again rather than left unable to follow.
      remove_data_directory_on_rewind_failure: true,
      remove_data_directory_on_diverged_timelines: true,
      use_unix_socket: true,
      authentication: {
        superuser: { username: "postgres" },
        replication: { username: c.replicationUser, ...verify },
        rewind: { username: c.rewindUser, ...verify },
      },
      parameters: {
        unix_socket_directories: "/var/run/postgresql",
        ssl: "on",
        ssl_cert_file: tls.cert,
        ssl_key_file: tls.key,
        ssl_min_protocol_version: "TLSv1.2",
      },
      pg_hba: c.hba,
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

function sortedObject(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The lines of patroni.env, written with bash's printf builtin (no process sees the values in its
 * arguments) from the step's environment; `%q` quotes each value for the supervisor's `.`.
 */
function renderEnvFile(): string {
  const lines: [string, string][] = [
    ["PATRONI_SUPERUSER_PASSWORD", HA_SECRET_ENV.superuser],
    ["PATRONI_REPLICATION_PASSWORD", HA_SECRET_ENV.replication],
    ["PATRONI_REWIND_PASSWORD", HA_SECRET_ENV.rewind],
    ["PATRONI_RESTAPI_PASSWORD", HA_SECRET_ENV.restApi],
    ["PATRONI_ETCD3_PASSWORD", HA_SECRET_ENV.etcdPatroni],
  ];
  return [
    ...lines.map(([, env]) => `: "\${${env}:?${env} is missing from the environment of the step}"`),
    'install -o root -g root -m 0600 /dev/null "$HOME_DIR/patroni.env.dbstack-tmp"',
    "{",
    // Patroni reads an etcd3 user's password from the environment only when another PATRONI_ETCD3_ value is there.
    "  echo PATRONI_ETCD3_PROTOCOL=https",
    ...lines.map(([name, env]) => `  printf '${name}=%q\\n' "$${env}"`),
    '} > "$HOME_DIR/patroni.env.dbstack-tmp"',
  ].join("\n");
}

/**
 * On a member's host (after its key step): the certificate, patroni.yml, patroni.env and the
 * supervisor; starts Patroni (which bootstraps, clones or follows by itself), or has it reload a
 * changed configuration, or restarts Patroni when its passwords changed. Waits until Patroni
 * answers on its REST API, and prints the member's role and state.
 */
export function renderPatroniMember(c: PatroniClusterSpec, m: PatroniMemberSpec, tls: { certificate: string; caCertificate: string }, beforeStart: string[] = [], waitSeconds = 60): string {
  return [
    scriptHeader(`Patroni member ${m.name} of ${c.scope}: PostgreSQL ${m.version} on ${m.address}:${m.port}.`),
    '[ -x /usr/bin/patroni ] || { echo "Patroni is not installed on $(hostname): apt-get install patroni" >&2; exit 1; }',
    `[ -x /usr/lib/postgresql/${m.version}/bin/postgres ] || { echo "PostgreSQL ${m.version} is not installed on $(hostname)" >&2; exit 1; }`,
    renderMemberTlsPrelude(m.home, SERVICE_USER),
    renderInstallMemberCertificate(SERVICE_USER, tls.certificate, tls.caCertificate, memberTlsNames(m.address)),
    `install -d -o ${SERVICE_USER} -g ${SERVICE_USER} -m 0700 "$HOME_DIR/patroni"`,
    `[ -d ${shellQuote(m.dataDirectory)} ] || install -d -o ${SERVICE_USER} -g ${SERVICE_USER} -m 0700 ${shellQuote(m.dataDirectory)}`,
    ...(m.configDirectory === undefined ? [] : [`[ -d ${shellQuote(m.configDirectory)} ] || install -d -o ${SERVICE_USER} -g ${SERVICE_USER} -m 0755 ${shellQuote(m.configDirectory)}`]),
    ...(c.etcd.caCertificate === undefined
      ? []
      : [withHeredoc('cat > "$HOME_DIR/etcd-ca.crt.dbstack-tmp"', c.etcd.caCertificate, "DBSTACK_ETCD_CA"), 'chmod 0644 "$HOME_DIR/etcd-ca.crt.dbstack-tmp"; mv -f "$HOME_DIR/etcd-ca.crt.dbstack-tmp" "$HOME_DIR/etcd-ca.crt"']),
    'old_yml=$( { cat "$HOME_DIR/patroni.yml" 2>/dev/null || true; } | sha256sum); old_env=$( { cat "$HOME_DIR/patroni.env" 2>/dev/null || true; } | sha256sum)',
    writeFileToExpandedPath('"$HOME_DIR/patroni.yml"', renderPatroniConfig(c, m), "0644"),
    renderEnvFile(),
    'mv -f "$HOME_DIR/patroni.env.dbstack-tmp" "$HOME_DIR/patroni.env"',
    writeFileToExpandedPath('"$HOME_DIR/supervise"', renderSuperviseLoop({ what: `Patroni member ${m.name}`, home: m.home, user: SERVICE_USER, argv: ["/usr/bin/patroni", `${m.home}/patroni.yml`], envFile: `${m.home}/patroni.env` }), "0700"),
    renderSupervisorFunctions(),
    ...beforeStart,
    "# Passwords are read when Patroni starts: a change restarts it (a leader that stops hands over: Patroni fails over).",
    'if supervisor_pid >/dev/null && { [ "$old_env" != "$(sha256sum < "$HOME_DIR/patroni.env")" ] || [ "$tls_changed" = yes ]; }; then',
    '  stop_supervised; start_supervised; echo "restarted Patroni (its passwords or certificate changed)"',
    "# A changed patroni.yml is applied by a reload: PostgreSQL keeps running, and the leader keeps leading.",
    'elif supervisor_pid >/dev/null && [ "$old_yml" != "$(sha256sum < "$HOME_DIR/patroni.yml")" ]; then',
    ...renderRestApiCall(c, "reload_patroni", `${restUrl(c, m)}/reload`),
    '  reload_patroni >/dev/null || { echo "Patroni did not accept a reload of its changed configuration" >&2; exit 1; }',
    '  echo "reloaded Patroni (its configuration changed)"',
    "elif supervisor_pid >/dev/null; then",
    '  echo "Patroni runs"',
    "else",
    '  start_supervised; echo "started Patroni"',
    "fi",
    "# A member Patroni clones from the leader (pg_basebackup) runs once its copy is made: as long as the copy takes.",
    `for _ in $(seq 1 ${5 * waitSeconds}); do`,
    `  state=$(curl -s --max-time 2 --cacert "$HOME_DIR/ca.crt" ${shellQuote(`${restUrl(c, m)}/patroni`)} | jq -r '"\\(.role) \\(.state)"' 2>/dev/null || true)`,
    '  case "$state" in *running*) echo "member: $state"; exit 0 ;; esac',
    "  sleep 0.2",
    "done",
    `echo "Patroni member ${m.name} is not running PostgreSQL after ${waitSeconds} s (last state: \${state:-no answer}); the end of $HOME_DIR/daemon.log:" >&2`,
    'tail -n 30 "$HOME_DIR/daemon.log" >&2',
    "exit 1",
  ].join("\n") + "\n";
}

/** Runs on destroy: stops Patroni (which stops PostgreSQL); the data directory stays unless data removal is allowed. */
export function renderRemovePatroniMember(m: PatroniMemberSpec, allowDataRemoval: boolean): string {
  return [
    `HOME_DIR=${shellQuote(m.home)}`,
    renderSupervisorFunctions(),
    "stop_supervised",
    ...(allowDataRemoval
      ? [`rm -rf ${shellQuote(m.dataDirectory)} "$HOME_DIR"`, `echo "dbstack: removed Patroni member ${m.name} and its data" >&2`]
      : [`echo "dbstack: stopped Patroni member ${m.name} and kept its data in ${m.dataDirectory}" >&2`]),
  ].join("\n") + "\n";
}

/**
 * A shell function `name [json]` that sends the JSON body (default `{}`) to Patroni's REST API as
 * its API user: the password goes to curl in a config on its stdin (printf is bash's builtin), the
 * body on another descriptor, neither on a command line.
 */
export function renderRestApiCall(c: PatroniClusterSpec, name: string, url: string, method = "POST"): string[] {
  return [
    `  ${name}() {`,
    `    local pw="\${${HA_SECRET_ENV.restApi}:?the REST API password is missing from the environment}"; pw=\${pw//\\\\/\\\\\\\\}; pw=\${pw//\\"/\\\\\\"}`,
    `    local body="\${1:-}"; [ -n "$body" ] || body='{}'`,
    `    printf 'user = "%s:%s"\\n' ${shellQuote(c.restApiUser)} "$pw" | curl -sf --max-time 20 --cacert "$HOME_DIR/ca.crt" -K - -X ${method} -H 'Content-Type: application/json' --data-binary @/dev/fd/3 ${shellQuote(url)} 3<<<"$body"`,
    "  }",
  ];
}
