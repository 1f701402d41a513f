import { shellQuote } from "../../shell";
import { programs, type Flavor } from "./flavor";
import { installedVersionProblem } from "../../model/versionMatch";

/**
 * Where one MariaDB instance lives on its host. dbstack runs its own instances beside (never
 * inside) the distribution's default server: each has its own data directory, port, socket,
 * config file and error log, all named after the instance.
 */
export interface MariadbLocation {
  /** Instance name: lower-case letters, digits, _ and - (validated by the component). */
  instance: string;
  /** TCP port. */
  port: number;
  /** Data directory. Default: /var/lib/dbstack-mariadb/<instance>. */
  dataDirectory?: string;
  /** Server flavour; only "mariadb" is tested against a real server. Default "mariadb". */
  flavor?: Flavor;
  /**
   * The marker line of the stack that owns the instance (targets/ownership.ts): create and
   * remove refuse an instance or data directory another stack made. Default: none (no markers:
   * renderer tests that run outside a stack).
   */
  owner?: string;
}

/** The files and directories of an instance, derived from its location. */
export interface MariadbPaths {
  dataDirectory: string;
  /** dbstack's config directory of the instance (root-owned, 0755). */
  configDir: string;
  /** The instance's option file, read with --defaults-file (nothing else is read). */
  configFile: string;
  socket: string;
  pidFile: string;
  errorLog: string;
  /** The instance's TLS key and certificate (mysql, 0700). */
  tlsDir: string;
  /** The deployment's certificate authority (root, 0700), on the primary's host only. */
  caDir: string;
}

export function mariadbPaths(loc: MariadbLocation): MariadbPaths {
  const configDir = `/etc/mysql/dbstack/${loc.instance}`;
  return {
    dataDirectory: loc.dataDirectory ?? `/var/lib/dbstack-mariadb/${loc.instance}`,
    configDir,
    configFile: `${configDir}/my.cnf`,
    socket: `/run/mysqld/dbstack-${loc.instance}.sock`,
    pidFile: `/run/mysqld/dbstack-${loc.instance}.pid`,
    errorLog: `/var/log/mysql/dbstack-${loc.instance}.err`,
    tlsDir: `${configDir}/tls`,
    caDir: `${configDir}/ca`,
  };
}

/**
 * Shell prelude of every MariaDB script: the instance's paths as variables, and `mariadb_root`
 * (the client as root over the instance's Unix socket, authenticated by unix_socket: no
 * password, no network). SQL goes on stdin. The client runs with --local-infile=0: a
 * `LOAD DATA LOCAL INFILE` in anything it runs (a restored dump, a migration) cannot make the
 * client, running as root, send a host file such as /etc/shadow to the server.
 */
export function renderInstancePrelude(loc: MariadbLocation): string {
  const p = mariadbPaths(loc);
  return [
    "cd /",
    `INSTANCE=${shellQuote(loc.instance)}`,
    `PORT=${loc.port}`,
    `DATA_DIR=${shellQuote(p.dataDirectory)}`,
    `CONF_DIR=${shellQuote(p.configDir)}`,
    `CNF=${shellQuote(p.configFile)}`,
    `SOCKET=${shellQuote(p.socket)}`,
    `PID_FILE=${shellQuote(p.pidFile)}`,
    `ERROR_LOG=${shellQuote(p.errorLog)}`,
    `TLS_DIR=${shellQuote(p.tlsDir)}`,
    `CA_DIR=${shellQuote(p.caDir)}`,
    'mariadb_root() { mariadb --no-defaults --local-infile=0 --protocol=socket --socket="$SOCKET" -uroot --batch --skip-column-names "$@"; }',
    'instance_exists() { [ -f "$CNF" ] && [ -d "$DATA_DIR/mysql" ]; }',
    'instance_running() { mariadb-admin --no-defaults --protocol=socket --socket="$SOCKET" -uroot ping >/dev/null 2>&1; }',
  ].join("\n");
}

/** The distribution packages of a flavour's server, client, and what TLS needs. */
function serverPackages(flavor: Flavor): string[] {
  return flavor === "mariadb" ? ["mariadb-server", "mariadb-client", "openssl"] : ["mysql-server", "mysql-client", "openssl"];
}

/**
 * Installs the server from the distribution's packages when missing, then prints the host facts
 * tuning needs as one JSON line: {"version":"10.11","memoryMb":3925,"cpus":2}.
 *
 * Debian's package creates and starts a default server on port 3306 with its own data
 * directory; dbstack never uses it. When this script installed the package (and only then: a
 * default server someone already runs is theirs), it stops that server and disables it, so it
 * neither holds 3306 nor comes back at boot. Package output goes to stderr: stdout is the facts.
 */
export function renderInstallServer(flavor: Flavor = "mariadb"): string {
  const p = programs(flavor);
  const service = flavor === "mariadb" ? "mariadb" : "mysql";
  return [
    "set -euo pipefail",
    `if ! command -v ${p.server} >/dev/null || ! command -v ${p.client} >/dev/null || ! command -v openssl >/dev/null; then`,
    "  export DEBIAN_FRONTEND=noninteractive",
    `  { apt-get update -qq && apt-get install -y -qq --no-install-recommends ${serverPackages(flavor).join(" ")}; } >&2`,
    "  # The distribution's default server: not dbstack's (it would hold port 3306).",
    "  if [ -d /run/systemd/system ]; then",
    `    systemctl disable --now ${service}.service >&2 || true`,
    "  else",
    `    if [ -x /etc/init.d/${service} ]; then /etc/init.d/${service} stop >&2 || true; fi`,
    `    update-rc.d ${service} disable >&2 2>/dev/null || true`,
    "  fi",
    "fi",
    `version=${installedVersionExpression(flavor)}`,
    "mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)",
    'printf \'{"version":"%s","memoryMb":%s,"cpus":%s}\\n\' "$version" "$((mem_kb / 1024))" "$(nproc)"',
  ].join("\n");
}

/** The shell expression of the installed server's major.minor version ("10.11"). */
function installedVersionExpression(flavor: Flavor): string {
  return `$(${programs(flavor).server} --version | sed -n -E 's/.* Ver ([0-9]+\\.[0-9]+).*/\\1/p')`;
}

/**
 * Read-only, at preview: fails with installedVersionProblem's `version: …` line when the server
 * installed on the host is not the declared version (a host without the server is left to the
 * install step).
 */
export function renderVersionProbe(flavor: Flavor, declared: string, title: string, where: string): string {
  const placeholder = "\u0000";
  const message = (installedVersionProblem(declared, placeholder, title, where) ?? "").split(placeholder).map(shellQuote).join('"$installed"');
  return [
    "set -euo pipefail",
    `command -v ${programs(flavor).server} >/dev/null || exit 0`,
    `installed=${installedVersionExpression(flavor)}`,
    `if [ -n "$installed" ] && [ "$installed" != ${shellQuote(declared)} ] && [[ "$installed" != ${shellQuote(declared)}.* ]]; then`,
    `  echo ${message} >&2`,
    "  exit 1",
    "fi",
  ].join("\n");
}

/** The facts renderInstallServer prints. */
export interface InstalledServer {
  /** Server version, major.minor ("10.11"). */
  version: string;
  /** Memory of the host, in MiB. */
  memoryMb: number;
  /** CPU cores of the host. */
  cpus: number;
}

/** Reads the last line renderInstallServer printed; throws naming the line when it is not the facts. */
export function parseInstalledServer(stdout: string): InstalledServer {
  const line = stdout.trim().split("\n").pop() ?? "";
  let facts: InstalledServer;
  try {
    facts = JSON.parse(line) as InstalledServer;
  } catch {
    throw new Error(`unexpected host facts from the server install step: ${line}`);
  }
  if (typeof facts.version !== "string" || !/^\d+\.\d+$/.test(facts.version) || ![facts.memoryMb, facts.cpus].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`unexpected host facts from the server install step: ${line}`);
  }
  return facts;
}
