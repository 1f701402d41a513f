import { shellQuote } from "../../shell";
import type { Flavor } from "./flavor";

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
 * password, no network). SQL goes on stdin.
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
    'mariadb_root() { mariadb --no-defaults --protocol=socket --socket="$SOCKET" -uroot --batch --skip-column-names "$@"; }',
    'instance_exists() { [ -f "$CNF" ] && [ -d "$DATA_DIR/mysql" ]; }',
    'instance_running() { mariadb-admin --no-defaults --protocol=socket --socket="$SOCKET" -uroot ping >/dev/null 2>&1; }',
  ].join("\n");
}
