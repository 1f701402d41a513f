/**
 * etcd for Patroni: each member's configuration file (pure), the member step that installs it
 * and keeps the member running under its supervisor, and the cluster step that turns
 * authentication on (a root user, and Patroni's user limited to Patroni's keys).
 *
 * Client and peer traffic are TLS with certificates signed by the deployment's CA; clients must
 * log in (etcd's authentication), so a host on the network that is not a member cannot read or
 * take Patroni's leader lock.
 */
import { scriptHeader, shellQuote, writeFileToExpandedPath } from "../../../shell";
import { memberTlsNames, renderInstallMemberCertificate, renderMemberTlsPrelude } from "./memberTls";
import { HA_SECRET_ENV, type EtcdClusterSpec, type EtcdMemberSpec } from "./spec";
import { renderSuperviseLoop, renderSupervisorFunctions } from "./supervisor";

const ETCD_USER = "etcd";

const hostPort = (address: string, port: number) => `${address.includes(":") ? `[${address}]` : address}:${port}`;
export const clientUrl = (m: EtcdMemberSpec) => `https://${hostPort(m.address, m.clientPort)}`;
const peerUrl = (m: EtcdMemberSpec) => `https://${hostPort(m.address, m.peerPort)}`;

/**
 * One member's etcd.conf.yml (JSON, which is YAML): its URLs, the whole initial cluster, TLS for
 * client and peer traffic from its home. Deterministic: the preview shows a change as a diff.
 */
export function renderEtcdConfig(cluster: EtcdClusterSpec, m: EtcdMemberSpec): string {
  const tls = { "cert-file": `${m.home}/tls/server.crt`, "key-file": `${m.home}/tls/server.key`, "trusted-ca-file": `${m.home}/ca.crt` };
  const config = {
    name: m.name,
    "data-dir": m.dataDirectory,
    "listen-client-urls": clientUrl(m),
    "advertise-client-urls": clientUrl(m),
    "listen-peer-urls": peerUrl(m),
    "initial-advertise-peer-urls": peerUrl(m),
    "initial-cluster": cluster.members.map((x) => `${x.name}=${peerUrl(x)}`).join(","),
    "initial-cluster-token": cluster.token,
    "initial-cluster-state": "new",
    "enable-v2": false,
    // Patroni's etcd3 client speaks to the v3 JSON gateway; a configuration file leaves it off unless asked.
    "enable-grpc-gateway": true,
    // Clients log in with a password (etcd's authentication): a CA file here would make etcd demand client certificates.
    "client-transport-security": { "cert-file": tls["cert-file"], "key-file": tls["key-file"], "client-cert-auth": false },
    // Peers prove who they are with certificates signed by the deployment's CA, both ways.
    "peer-transport-security": { ...tls, "client-cert-auth": true },
    // A member that comes back after a long partition is not trusted until it has caught up.
    "strict-reconfig-check": true,
    // A member cut off by a partition keeps raising its election term; without pre-vote its return forces an
    // election that leaves the cluster without a leader for a moment, long enough for Patroni's leader to
    // miss its lock's renewal and demote itself (seen in the partition test: the partitioned old leader then
    // won the race and both promoted to the same timeline).
    "pre-vote": true,
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * On a member's host (after its key step): the certificate and the CA's, the configuration, the
 * supervisor; starts the member, or restarts it when its configuration changed. It waits only
 * until the member listens: the first member of a new cluster is not healthy until a second one
 * joins (the cluster step waits for health).
 */
export function renderEtcdMember(cluster: EtcdClusterSpec, m: EtcdMemberSpec, tls: { certificate: string; caCertificate: string }): string {
  const config = renderEtcdConfig(cluster, m);
  return [
    scriptHeader(`etcd member ${m.name} at ${m.address}.`),
    'command -v etcd >/dev/null || { echo "etcd is not installed on $(hostname): apt-get install etcd-server" >&2; exit 1; }',
    renderMemberTlsPrelude(m.home, ETCD_USER),
    renderInstallMemberCertificate(ETCD_USER, tls.certificate, tls.caCertificate, memberTlsNames(m.address)),
    `install -d -o ${ETCD_USER} -g ${ETCD_USER} -m 0700 ${shellQuote(m.dataDirectory)}`,
    'old=$(cat "$HOME_DIR/etcd.conf.yml" 2>/dev/null || true)',
    writeFileToExpandedPath('"$HOME_DIR/etcd.conf.yml"', config, "0644"),
    writeFileToExpandedPath('"$HOME_DIR/supervise"', renderSuperviseLoop({ what: `etcd member ${m.name}`, home: m.home, user: ETCD_USER, argv: ["/usr/bin/etcd", "--config-file", `${m.home}/etcd.conf.yml`] }), "0700"),
    renderSupervisorFunctions(),
    'if supervisor_pid >/dev/null && { [ "$old" != "$(cat "$HOME_DIR/etcd.conf.yml")" ] || [ "$tls_changed" = yes ]; }; then',
    '  stop_supervised; start_supervised; echo "restarted etcd member (its configuration or certificate changed)"',
    "elif supervisor_pid >/dev/null; then",
    '  echo "etcd member runs"',
    "else",
    '  start_supervised; echo "started etcd member"',
    "fi",
    `for _ in $(seq 1 300); do curl -s -o /dev/null --max-time 2 --cacert "$HOME_DIR/ca.crt" ${shellQuote(`${clientUrl(m)}/version`)} && exit 0; sleep 0.2; done`,
    `echo "etcd member ${m.name} does not answer on ${clientUrl(m)} after 60 s; the end of $HOME_DIR/daemon.log:" >&2`,
    'tail -n 20 "$HOME_DIR/daemon.log" >&2',
    "exit 1",
  ].join("\n") + "\n";
}

/** Runs on destroy: stops the member; its data directory stays unless data removal is allowed. */
export function renderRemoveEtcdMember(m: EtcdMemberSpec, allowDataRemoval: boolean): string {
  return [
    `HOME_DIR=${shellQuote(m.home)}`,
    renderSupervisorFunctions(),
    "stop_supervised",
    ...(allowDataRemoval ? [`rm -rf ${shellQuote(m.dataDirectory)} "$HOME_DIR"`, `echo "dbstack: removed etcd member ${m.name} and its data" >&2`] : [`echo "dbstack: stopped etcd member ${m.name} and kept its data in ${m.dataDirectory}" >&2`]),
  ].join("\n") + "\n";
}

/**
 * On one member's host, once every member runs: waits until the cluster is healthy, then turns
 * authentication on: a root user, and Patroni's user with read and write on Patroni's prefix only
 * (passwords from the environment, to etcd on stdin: never a command line). Idempotent: with
 * authentication already on, it logs in as root and sets the passwords and grants again.
 */
export function renderEtcdAuth(cluster: EtcdClusterSpec, on: EtcdMemberSpec): string {
  const url = clientUrl(on);
  const prefix = cluster.patroniPrefix;
  const rangeEnd = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  return [
    scriptHeader(`Authentication of the etcd cluster ${cluster.token}.`),
    `HOME_DIR=${shellQuote(on.home)}`,
    `: "\${${HA_SECRET_ENV.etcdRoot}:?the etcd root password is missing}" "\${${HA_SECRET_ENV.etcdPatroni}:?the etcd password of Patroni is missing}"`,
    "TOKEN=",
    "# One call of etcd's v3 HTTP API: the JSON body on stdin; prints the answer.",
    "api() {",
    `  curl -sS --max-time 10 --cacert "$HOME_DIR/ca.crt" \${TOKEN:+-H "Authorization: $TOKEN"} -X POST --data-binary @- ${shellQuote(url)}"/v3/$1"`,
    "}",
    "# Fails the step unless the answer is not an error, or an error that means it is done already.",
    "expect_ok() {",
    '  local out; out=$(api "$1")',
    '  if printf "%s" "$out" | jq -e ".error // empty" >/dev/null 2>&1; then',
    '    printf "%s" "$out" | grep -qE "${2:-^$}" && return 0',
    '    echo "etcd refused $1: $(printf "%s" "$out" | jq -r .error)" >&2; exit 1',
    "  fi",
    "}",
    "healthy=",
    `for _ in $(seq 1 120); do`,
    `  if [ "$(curl -s --max-time 2 --cacert "$HOME_DIR/ca.crt" ${shellQuote(`${url}/health`)} | jq -r .health 2>/dev/null)" = true ]; then healthy=yes; break; fi`,
    "  sleep 0.5",
    "done",
    '[ -n "$healthy" ] || { echo "the etcd cluster is not healthy after 60 s (are all its members running?)" >&2; exit 1; }',
    `login=$(jq -n '{name: "root", password: env.${HA_SECRET_ENV.etcdRoot}}' | api auth/authenticate 2>&1 || true)`,
    'if TOKEN=$(printf "%s" "$login" | jq -er .token 2>/dev/null); then',
    '  echo "etcd authentication is on"',
    'elif printf "%s" "$login" | grep -q "authentication is not enabled"; then',
    "  TOKEN=",
    "else",
    '  echo "etcd: cannot log in as root: ${login:-no answer}" >&2; exit 1',
    "fi",
    "# Logged in as root: its password is right (changing it would end the session's token).",
    'if [ -z "$TOKEN" ]; then',
    `  jq -n '{name: "root", password: env.${HA_SECRET_ENV.etcdRoot}}' | expect_ok auth/user/add "already exists"`,
    `  jq -n '{name: "root", password: env.${HA_SECRET_ENV.etcdRoot}}' | expect_ok auth/user/changepw`,
    `  jq -n '{user: "root", role: "root"}' | expect_ok auth/user/grant`,
    "fi",
    `jq -n '{name: ${JSON.stringify(cluster.patroniUser)}, password: env.${HA_SECRET_ENV.etcdPatroni}}' | expect_ok auth/user/add "already exists"`,
    `jq -n '{name: ${JSON.stringify(cluster.patroniUser)}, password: env.${HA_SECRET_ENV.etcdPatroni}}' | expect_ok auth/user/changepw`,
    `jq -n '{name: ${JSON.stringify(cluster.patroniUser)}}' | expect_ok auth/role/add "already exists"`,
    `jq -n '{name: ${JSON.stringify(cluster.patroniUser)}, perm: {permType: "READWRITE", key: ${JSON.stringify(b64(prefix))}, range_end: ${JSON.stringify(b64(rangeEnd))}}}' | expect_ok auth/role/grant`,
    `jq -n '{user: ${JSON.stringify(cluster.patroniUser)}, role: ${JSON.stringify(cluster.patroniUser)}}' | expect_ok auth/user/grant`,
    'if [ -z "$TOKEN" ]; then echo "{}" | expect_ok auth/enable; echo "turned etcd authentication on"; fi',
  ].join("\n") + "\n";
}
