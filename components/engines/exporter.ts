/**
 * Declared metrics (ServerDeploymentArgs.metrics), for every server engine: the Prometheus
 * exporter beside one member (postgres_exporter or mysqld_exporter, the distribution's package),
 * its validation, and the scrape targets a deployment exports. Pure renderers.
 *
 * On its host an exporter is a directory of its own, `<configDir>/<id>` (0700, the exporter's
 * user), holding:
 * - `web.yml`: the exporter's web configuration, basic authentication with a bcrypt hash of the
 *   scrape password (hashed on the host by python3's crypt, from the step's environment; a hash
 *   that still matches the password is kept, so a re-run rewrites nothing);
 * - the monitoring account's credentials, 0600: `monitor.pass` (postgres_exporter reads it through
 *   DATA_SOURCE_PASS_FILE) or `my.cnf` (mysqld_exporter's --config.my-cnf). No password is ever on
 *   a command line or in a process's environment;
 * - `run`: the supervisor, a loop that starts the exporter again when it exits; `owner`: the
 *   marker of the stack that made it; `exporter.log`.
 *
 * Supervision: where systemd runs, a unit `dbstack-exporter-<id>.service` (Restart=always);
 * without systemd (containers, these test machines), `run` detached with setsid in a session of
 * its own (the way MariaDB's instances are run there, see mariadb/instanceScripts.ts), as the
 * exporter's user; it is stopped by its process group. It does not come back after a reboot of
 * such a host until the next `pulumi up` (the step's probe sees it gone and runs it again).
 */
import type { ServerEngineKind } from "../model/engineKind";
import type { ExporterArgs, MetricsArgs, ScrapeTargets } from "../model/metrics";
import { DEFAULTS } from "../model/defaults";
import { EXPORTER_PASSWORD_ENV, EXPORTER_TLS_CERT_ENV } from "../model/metrics";
import { MONITOR_PASSWORD_ENV, MONITOR_USER } from "../model/monitoring";
import { scriptHeader, shellQuote } from "../shell";
import { renderCloseInheritedFds, renderPortFunctions } from "../targets/processes";
import { describeTarget, type Target } from "../targets/target";
import { ArgumentError, checkWholeNumber, IP_ADDRESS, RANGES } from "../validate";

/** Each engine's exporter: data, not branches. */
export const EXPORTERS: Record<ServerEngineKind, { name: "postgres_exporter" | "mysqld_exporter"; package: string; binary: string; service: string }> = {
  postgres: { name: "postgres_exporter", package: "prometheus-postgres-exporter", binary: "/usr/bin/prometheus-postgres-exporter", service: "prometheus-postgres-exporter" },
  mariadb: { name: "mysqld_exporter", package: "prometheus-mysqld-exporter", binary: "/usr/bin/prometheus-mysqld-exporter", service: "prometheus-mysqld-exporter" },
};

/** One exporter on one host. */
export interface ExporterSpec {
  kind: ServerEngineKind;
  /** Host-level name, unique on the host: `<prefix>-<engine>-<deployment>-<member>`. */
  id: string;
  /** Where it listens. */
  address: string;
  port: number;
  /** The server's port on the same host (the exporter logs in over 127.0.0.1). */
  serverPort: number;
  /** The marker line of the stack that owns it (targets/ownership.ts). */
  owner: string;
  /**
   * Serve scrapes over TLS (`metrics.exporter.auth: "tls"`): its key is made on its host by
   * renderExporterTlsKey, its certificate (signed by the deployment's CA) comes in the step's
   * environment (EXPORTER_TLS_CERT_ENV). Default: plain HTTP.
   */
  tls?: boolean;
}

/** The exporter's directory on its host. */
export function exporterDir(id: string): string {
  return `${DEFAULTS.metrics.configDir}/${id}`;
}

/** The exporter's host-level id (letters, digits, - and _ only). */
export function exporterId(prefix: string, kind: ServerEngineKind, deployment: string, member: string): string {
  return `${prefix}-${kind}-${deployment}-${member}`.replace(/[^A-Za-z0-9_-]/g, "-");
}

/** `address:port`, with an IPv6 address in brackets. */
export function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The exporter's command line: no secret in it (the credentials are files of its directory). */
export function exporterCommand(spec: ExporterSpec): string[] {
  const dir = exporterDir(spec.id);
  const common = [`--web.listen-address=${hostPort(spec.address, spec.port)}`, `--web.config.file=${dir}/web.yml`, "--log.level=warn"];
  switch (spec.kind) {
    case "postgres":
      return [EXPORTERS.postgres.binary, `--extend.query-path=${dir}/queries.yaml`, ...common];
    case "mariadb":
      return [EXPORTERS.mariadb.binary, `--config.my-cnf=${dir}/my.cnf`, ...common];
  }
}

/** The exporter's environment (no secret: postgres_exporter reads the password from a file it names). */
export function exporterEnvironment(spec: ExporterSpec): Record<string, string> {
  if (spec.kind !== "postgres") return {};
  return {
    DATA_SOURCE_URI: `127.0.0.1:${spec.serverPort}/postgres?sslmode=disable`,
    DATA_SOURCE_USER: MONITOR_USER,
    DATA_SOURCE_PASS_FILE: `${exporterDir(spec.id)}/monitor.pass`,
  };
}

/**
 * postgres_exporter's own queries (its --extend.query-path): the replication lag in seconds on
 * every member, as status computes it (0 on a primary, and on a standby that has replayed all it
 * received), and whether the member is a standby: `pg_replication_lag`, `pg_replication_is_replica`.
 * The exporter 0.11 has only the primary's view (pg_stat_replication) built in.
 */
export function renderPostgresExporterQueries(): string {
  return [
    "pg_replication:",
    "  query: \"SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 ELSE GREATEST(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp())) END AS lag, CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica\"",
    "  master: true",
    "  metrics:",
    "    - lag:",
    "        usage: \"GAUGE\"",
    "        description: \"Seconds the standby's replay is behind its primary (0 on a primary, and when all received WAL is replayed)\"",
    "    - is_replica:",
    "        usage: \"GAUGE\"",
    "        description: \"1 on a standby, 0 on a primary\"",
    "",
  ].join("\n");
}

/** The supervisor: starts the exporter again (2 s later) whenever it exits. */
export function renderExporterRun(spec: ExporterSpec): string {
  return [
    "#!/usr/bin/env bash",
    `# Supervisor of ${EXPORTERS[spec.kind].name} ${spec.id}: rendered by dbstack, overwritten by the next \`pulumi up\`.`,
    ...Object.entries(exporterEnvironment(spec)).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    "while :; do",
    `  ${exporterCommand(spec).map(shellQuote).join(" ")}`,
    "  sleep 2",
    "done",
    "",
  ].join("\n");
}

/** The systemd unit of an exporter, where systemd runs. */
export function renderExporterUnit(spec: ExporterSpec): string {
  return [
    "[Unit]",
    `Description=dbstack ${EXPORTERS[spec.kind].name} ${spec.id} (port ${spec.port})`,
    "After=network-online.target",
    "",
    "[Service]",
    `User=${DEFAULTS.metrics.runUser}`,
    ...Object.entries(exporterEnvironment(spec)).map(([k, v]) => `Environment=${k}=${v}`),
    `ExecStart=${exporterCommand(spec).join(" ")}`,
    "Restart=always",
    "RestartSec=2",
    "NoNewPrivileges=yes",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** The bcrypt hash of the scrape password: the one in web.yml when it still matches, else a new one (python3's crypt; the password from the environment). */
const HASH_PY = [
  "import crypt, os, re, sys",
  `pw = os.environ["${EXPORTER_PASSWORD_ENV}"]`,
  "old = ''",
  "try:",
  "    m = re.search(r'^  \\S+: (\\S+)$', open(sys.argv[1]).read(), re.M)",
  "    old = m.group(1) if m else ''",
  "except OSError:",
  "    pass",
  "print(old if old and crypt.crypt(pw, old) == old else crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))",
].join("\n");

/** Shell functions every exporter script shares (after the header): where it is, and how it is started and stopped. */
function renderExporterFunctions(spec: ExporterSpec): string {
  const dir = exporterDir(spec.id);
  return [
    renderCloseInheritedFds(),
    renderPortFunctions(),
    `DIR=${shellQuote(dir)}`,
    `SERVICE=${shellQuote(`dbstack-exporter-${spec.id}`)}`,
    'UNIT="/etc/systemd/system/$SERVICE.service"',
    `RUN_USER=${shellQuote(DEFAULTS.metrics.runUser)}`,
    "has_systemd() { [ -d /run/systemd/system ]; }",
    "# The supervisor's process group, if it is still this exporter's (pids are reused).",
    "supervisor_pid() {",
    '  local pid cmd; pid=$(cat "$DIR/supervisor.pid" 2>/dev/null) || return 1',
    '  [ -n "$pid" ] && cmd=$(tr \'\\0\' \' \' < "/proc/$pid/cmdline" 2>/dev/null) && [[ "$cmd" == *"$DIR/run"* ]] && echo "$pid"',
    "}",
    "# The pids of process group $1 (field 5 of /proc/<pid>/stat, after the command's parentheses).",
    "group_pids() {",
    "  local f stat pgrp",
    "  for f in /proc/[0-9]*/stat; do",
    '    { read -r stat < "$f"; } 2>/dev/null || continue',
    '    read -r _ _ pgrp _ <<< "${stat##*) }"',
    '    if [ "$pgrp" = "$1" ]; then f=${f#/proc/}; echo "${f%/stat}"; fi',
    "  done",
    "}",
    "own_pids() {",
    "  local pid",
    '  if pid=$(supervisor_pid); then group_pids "$pid"; fi',
    '  if has_systemd && [ -f "$UNIT" ]; then systemctl show -p MainPID --value "$SERVICE" 2>/dev/null | grep -v "^0$" || true; fi',
    "}",
    "stop_exporter() {",
    '  if has_systemd && [ -f "$UNIT" ]; then systemctl disable --now -q "$SERVICE" >&2 || true; rm -f "$UNIT"; systemctl daemon-reload; fi',
    "  local pid",
    "  if pid=$(supervisor_pid); then",
    '    kill -TERM -- "-$pid" 2>/dev/null || true',
    '    for _ in $(seq 1 20); do [ -n "$(group_pids "$pid")" ] || break; sleep 0.5; done',
    '    kill -KILL -- "-$pid" 2>/dev/null || true',
    "  fi",
    '  rm -f "$DIR/supervisor.pid"',
    "}",
  ].join("\n");
}

/** Installs the exporter's package when it is missing; its own default daemon is stopped (it would hold the default port). */
function renderInstallExporter(kind: ServerEngineKind): string {
  const e = EXPORTERS[kind];
  return [
    `if [ ! -x ${e.binary} ]; then`,
    "  export DEBIAN_FRONTEND=noninteractive",
    `  { apt-get update -qq && apt-get install -y -qq --no-install-recommends ${e.package}; } >&2`,
    `  if has_systemd; then systemctl disable --now ${e.service}.service >&2 || true; else if [ -x /etc/init.d/${e.service} ]; then /etc/init.d/${e.service} stop >&2 || true; fi; update-rc.d ${e.service} disable >&2 2>/dev/null || true; fi`,
    "fi",
    `[ -x ${e.binary} ] || { echo "metrics: ${e.binary} is missing (package ${e.package})" >&2; exit 1; }`,
    `id -u "$RUN_USER" >/dev/null 2>&1 || { echo "metrics: the exporter's user $RUN_USER is missing (package ${e.package} creates it)" >&2; exit 1; }`,
    `command -v python3 >/dev/null || { echo "metrics: python3 is missing (package python3; it hashes the scrape password)" >&2; exit 1; }`,
  ].join("\n");
}

/** The exporter's web configuration (after the bcrypt hash is in $hash): basic authentication, and TLS when declared. */
export function renderWebConfig(spec: ExporterSpec): string {
  const dir = exporterDir(spec.id);
  const tls = spec.tls ? `tls_server_config:\\n  cert_file: ${dir}/tls.crt\\n  key_file: ${dir}/tls.key\\n` : "";
  return `( umask 077; printf 'basic_auth_users:\\n  %s: %s\\n${tls}' ${shellQuote(DEFAULTS.metrics.username)} "$hash" > "$DIR/web.yml.tmp" )`;
}

/** Installs the certificate of the step's environment beside the key renderExporterTlsKey made; refuses one that is not for that key. */
function renderInstallCertificate(): string[] {
  return [
    `[ -n "\${${EXPORTER_TLS_CERT_ENV}:-}" ] || { echo "${EXPORTER_TLS_CERT_ENV} is not set" >&2; exit 1; }`,
    '[ -s "$DIR/tls.key" ] || { echo "metrics: the exporter\'s TLS key $DIR/tls.key is missing" >&2; exit 1; }',
    `( umask 022; printf '%s\n' "$${EXPORTER_TLS_CERT_ENV}" > "$DIR/tls.crt.tmp" )`,
    'if [ "$(openssl x509 -in "$DIR/tls.crt.tmp" -noout -pubkey 2>/dev/null)" != "$(openssl pkey -in "$DIR/tls.key" -pubout 2>/dev/null)" ]; then',
    '  rm -f "$DIR/tls.crt.tmp"; echo "metrics: the TLS certificate given is not for the exporter\'s key $DIR/tls.key (metrics.exporter.auth)" >&2; exit 1',
    "fi",
    'chown "$RUN_USER:" "$DIR/tls.crt.tmp"; mv -f "$DIR/tls.crt.tmp" "$DIR/tls.crt"',
  ];
}

/**
 * With `auth: "tls"`, before the exporter starts: makes its key once on its host (0600, the
 * exporter's user, in its directory) and prints only the public key, which the deployment's CA
 * signs on the primary's host (the CA's key never leaves it).
 */
export function renderExporterTlsKey(spec: ExporterSpec): string {
  return [
    scriptHeader(`TLS key of ${EXPORTERS[spec.kind].name} ${spec.id}.`),
    "cd /",
    renderExporterFunctions(spec),
    renderInstallExporter(spec.kind),
    `OWNER=${shellQuote(spec.owner)}`,
    'if [ -f "$DIR/owner" ] && [ "$(cat "$DIR/owner")" != "$OWNER" ]; then echo "metrics: the exporter $DIR belongs to another stack ($(cat "$DIR/owner")); it was left as it is" >&2; exit 1; fi',
    `install -d -m 0755 ${shellQuote(DEFAULTS.metrics.configDir)}`,
    'install -d -m 0700 -o "$RUN_USER" "$DIR"',
    `printf '%s\n' "$OWNER" > "$DIR/owner"`,
    'if ! openssl pkey -in "$DIR/tls.key" -noout 2>/dev/null; then',
    '  ( umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$DIR/tls.key.tmp" 2>/dev/null )',
    '  chown "$RUN_USER:" "$DIR/tls.key.tmp"; mv -f "$DIR/tls.key.tmp" "$DIR/tls.key"',
    "fi",
    'openssl pkey -in "$DIR/tls.key" -pubout',
  ].join("\n");
}

/** Writes the monitoring account's credentials for the exporter (0600, its user's), from the step's environment. */
function renderCredentials(spec: ExporterSpec): string[] {
  const write = (file: string, printf: string) => [`( umask 077; ${printf} > "$DIR/${file}.tmp" )`, `chown "$RUN_USER:" "$DIR/${file}.tmp"`, `mv -f "$DIR/${file}.tmp" "$DIR/${file}"`];
  switch (spec.kind) {
    case "postgres":
      return write("monitor.pass", `printf '%s' "$${MONITOR_PASSWORD_ENV}"`);
    case "mariadb":
      // go-ini strips the quotes; the generated password is letters and digits.
      return write("my.cnf", `printf '[client]\\nuser=${MONITOR_USER}\\npassword="%s"\\nhost=127.0.0.1\\nport=${spec.serverPort}\\n' "$${MONITOR_PASSWORD_ENV}"`);
  }
}

/**
 * Creates or converges one exporter (passwords in the environment: MONITOR_PASSWORD_ENV,
 * EXPORTER_PASSWORD_ENV): package, directory, files, then (re)starts it and waits until it
 * listens on its port. Another process on the port, or another stack's exporter of the same
 * id, fails the step naming the field.
 */
export function renderExporterStart(spec: ExporterSpec): string {
  const e = EXPORTERS[spec.kind];
  const listen = hostPort(spec.address, spec.port);
  return [
    scriptHeader(`${e.name} ${spec.id} on ${listen} (as ${MONITOR_USER}, basic authentication${spec.tls ? " over TLS" : ""}).`),
    "cd /",
    renderExporterFunctions(spec),
    renderInstallExporter(spec.kind),
    `for v in ${MONITOR_PASSWORD_ENV} ${EXPORTER_PASSWORD_ENV}; do [ -n "\${!v:-}" ] || { echo "$v is not set" >&2; exit 1; }; done`,
    `OWNER=${shellQuote(spec.owner)}`,
    'if [ -f "$DIR/owner" ] && [ "$(cat "$DIR/owner")" != "$OWNER" ]; then echo "metrics: the exporter $DIR belongs to another stack ($(cat "$DIR/owner")); it was left as it is" >&2; exit 1; fi',
    `install -d -m 0755 ${shellQuote(DEFAULTS.metrics.configDir)}`,
    'install -d -m 0700 -o "$RUN_USER" "$DIR"',
    `printf '%s\\n' "$OWNER" > "$DIR/owner"`,
    ...renderCredentials(spec),
    ...(spec.kind === "postgres" ? [`( umask 022; cat > "$DIR/queries.yaml" <<'DBSTACK_QUERIES'\n${renderPostgresExporterQueries()}DBSTACK_QUERIES\n)`] : []),
    ...(spec.tls ? renderInstallCertificate() : []),
    `hash=$(python3 -W ignore -c ${shellQuote(HASH_PY)} "$DIR/web.yml")`,
    renderWebConfig(spec),
    'chown "$RUN_USER:" "$DIR/web.yml.tmp"; mv -f "$DIR/web.yml.tmp" "$DIR/web.yml"',
    "# The passwords are in their files now: the exporter, started from here, must not inherit them.",
    `unset ${MONITOR_PASSWORD_ENV} ${EXPORTER_PASSWORD_ENV}${spec.tls ? ` ${EXPORTER_TLS_CERT_ENV}` : ""} hash`,
    `( umask 077; cat > "$DIR/run.tmp" <<'DBSTACK_RUN'\n${renderExporterRun(spec)}DBSTACK_RUN\n)`,
    'chmod 0755 "$DIR/run.tmp"; mv -f "$DIR/run.tmp" "$DIR/run"',
    "# Another process on the port fails the step before the running exporter is stopped (its own pids are not another's).",
    `refuse_taken_port ${spec.port} "the ${e.name} ${spec.id} was left as it was (metrics.exporter.port)" $(own_pids)`,
    "stop_exporter",
    "if has_systemd; then",
    `  ( umask 022; cat > "$UNIT" <<'DBSTACK_UNIT'\n${renderExporterUnit(spec)}DBSTACK_UNIT\n)`,
    '  systemctl daemon-reload; systemctl enable -q --now "$SERVICE"',
    "else",
    "  # Detached: its own session, no descriptor (see targets/processes.ts) and no environment variable of this step.",
    '  ( close_inherited_fds; exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 setsid runuser -u "$RUN_USER" -- "$DIR/run" </dev/null >>"$DIR/exporter.log" 2>&1 ) &',
    '  echo "$!" > "$DIR/supervisor.pid"',
    "fi",
    "for _ in $(seq 1 60); do",
    `  for pid in $(port_listener_pids ${spec.port}); do`,
    `    for own in $(own_pids); do [ "$pid" = "$own" ] && { echo ${shellQuote(`${e.name} ${spec.id}: listening on ${listen}`)}; exit 0; }; done`,
    "  done",
    "  sleep 0.5",
    "done",
    `echo "metrics: ${e.name} ${spec.id} does not listen on ${listen} after 30 s; the end of $DIR/exporter.log:" >&2`,
    'tail -n 15 "$DIR/exporter.log" >&2 2>/dev/null || true',
    "exit 1",
  ].join("\n");
}

/** Read-only, at each preview and up: fails when the exporter is no longer running (its step then runs again). */
export function renderExporterProbe(spec: ExporterSpec): string {
  return ["set -euo pipefail", renderExporterFunctions(spec), '[ -n "$(own_pids)" ]'].join("\n");
}

/** Runs on destroy (or when `metrics` is no longer declared): stops the exporter, removes its unit and directory (it holds no data). */
export function renderExporterRemove(spec: ExporterSpec): string {
  return [
    scriptHeader(`Removes ${EXPORTERS[spec.kind].name} ${spec.id}.`),
    "cd /",
    renderExporterFunctions(spec),
    `OWNER=${shellQuote(spec.owner)}`,
    'if [ -f "$DIR/owner" ] && [ "$(cat "$DIR/owner")" != "$OWNER" ]; then echo "dbstack: left the exporter $DIR as it is: it belongs to another stack" >&2; exit 0; fi',
    "stop_exporter",
    'rm -rf "$DIR"',
    "# The exporters' directory goes with the last exporter (another stack's keep it).",
    `rmdir ${shellQuote(DEFAULTS.metrics.configDir)} ${shellQuote(DEFAULTS.metrics.configDir.replace(/\/[^/]+$/, ""))} 2>/dev/null || true`,
    'echo "dbstack: stopped and removed the exporter $DIR" >&2',
  ].join("\n");
}

/** Where a member's exporter is scraped: its listen address, or the member's address when it listens on every address. */
export function scrapeHost(listen: string, memberAddress: string): string {
  return listen === "0.0.0.0" || listen === "::" ? memberAddress : listen;
}

/** A ready `scrape_configs` entry (YAML) for a deployment's targets. */
export function renderScrapeConfig(t: Omit<ScrapeTargets, "scrapeConfig">, passwordFile: string): string {
  return [
    `- job_name: ${JSON.stringify(t.job)}`,
    `  scheme: ${t.scheme}`,
    `  metrics_path: ${t.metricsPath}`,
    ...(t.scheme === "https" ? ["  tls_config:", `    ca_file: ${JSON.stringify(passwordFile.replace(/\.password$/, ".ca.crt"))}`] : []),
    "  basic_auth:",
    `    username: ${JSON.stringify(t.username)}`,
    `    password_file: ${JSON.stringify(passwordFile)}`,
    "  static_configs:",
    ...t.targets.flatMap((m) => [`    - targets: [${JSON.stringify(m.target)}]`, `      labels: { member: ${JSON.stringify(m.member)} }`]),
    "",
  ].join("\n");
}

/** The members of a deployment as its metrics see them. */
export interface MetricsMember {
  name: string;
  target: Target | undefined;
  /** The member's address as others reach it. */
  address?: string;
}

/**
 * Why `metrics` cannot be used, if it cannot (names the field): an address that is not an IP
 * address, a port out of range or shared with a server or another exporter on one host, a
 * standby port for a standby not declared, an exporter on a Docker target (not built yet).
 */
export function checkMetrics(metrics: MetricsArgs | undefined, members: { primary: MetricsMember & { serverPort: number }; standbys: (MetricsMember & { serverPort: number })[] }): void {
  if (metrics === undefined) return;
  const e = metrics.exporter as ExporterArgs | undefined;
  if (e === undefined || typeof e !== "object") throw new ArgumentError("metrics.exporter: expected { port, address?, standbyPorts?, auth? }");
  const address = e.address ?? DEFAULTS.metrics.address;
  if (typeof address !== "string" || !IP_ADDRESS.test(address)) throw new ArgumentError(`metrics.exporter.address: expected an IP address to listen on (such as 127.0.0.1 or 0.0.0.0), got ${JSON.stringify(address)}`);
  if (typeof e.port !== "number") throw new ArgumentError(`metrics.exporter.port: expected a port number, got ${JSON.stringify(e.port)}`);
  checkWholeNumber("metrics.exporter.port", e.port, ...RANGES.port);
  const auth: unknown = e.auth ?? DEFAULTS.metrics.auth;
  if (auth !== "basic" && auth !== "tls") throw new ArgumentError(`metrics.exporter.auth: expected "basic" or "tls", got ${JSON.stringify(e.auth)}`);
  const standbyNames = new Set(members.standbys.map((s) => s.name));
  for (const [s, port] of Object.entries(e.standbyPorts ?? {})) {
    if (!standbyNames.has(s)) throw new ArgumentError(`metrics.exporter.standbyPorts.${s}: no standby of that name is declared`);
    if (typeof port !== "number") throw new ArgumentError(`metrics.exporter.standbyPorts.${s}: expected a port number, got ${JSON.stringify(port)}`);
    checkWholeNumber(`metrics.exporter.standbyPorts.${s}`, port, ...RANGES.port);
  }
  const taken = new Map<string, string>();
  const claim = (host: string, port: number, what: string, field: string) => {
    const key = `${host}:${port}`;
    const other = taken.get(key);
    if (other) throw new ArgumentError(`${field}: port ${port} on ${host} is already ${other}`);
    taken.set(key, what);
  };
  const all = [{ ...members.primary, field: "metrics.exporter.port", port: e.port }, ...members.standbys.map((s) => ({ ...s, field: `metrics.exporter.standbyPorts.${s.name}`, port: e.standbyPorts?.[s.name] ?? e.port }))];
  for (const m of all) {
    if (m.target?.kind === "docker") throw new ArgumentError(`metrics: an exporter on a Docker target (${m.name}) is not built yet; declare metrics on local or SSH targets`);
    // Servers sharing a port are the server checks' to refuse; here they only take their ports.
    taken.set(`${describeTarget(m.target ?? { kind: "local" })}:${m.serverPort}`, `the server port of ${m.name}`);
  }
  for (const m of all) claim(describeTarget(m.target ?? { kind: "local" }), m.port, `the exporter port of ${m.name}`, m.field);
}
