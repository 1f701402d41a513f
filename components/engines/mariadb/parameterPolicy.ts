/**
 * MariaDB's parameter policy (engines/parameterPolicy.ts): the options dbstack sets from other
 * fields, and the ones that disable authentication, load code, read files for clients or log
 * statements with passwords. Names as the option file takes them; a declared name is read the way
 * the server reads it (any case, dashes or underscores, a `loose-` prefix, and the boolean
 * prefixes `skip-`, `disable-`, `enable-`, `maximum-`), so `Skip-Grant-Tables`,
 * `loose_skip_grant_tables` and `disable-grant-tables` all meet the rule of skip_grant_tables.
 */
import type { ParameterPolicy, ParameterRule } from "../parameterPolicy";
import { normalizeVariableName } from "./parameters";

const owned = (use: string): ParameterRule => ({ kind: "owned", use });
const unsafe = (why: string): ParameterRule => ({ kind: "unsafe", why });

/** The slow log: dbstack keeps its own password statements out of it, not other clients'. */
const slowLog = (): ParameterRule => ({
  kind: "warned",
  warnValue: (v) => (/^(0|off|false)$/i.test(v.trim()) ? undefined : "the slow query log keeps the text of slow statements, with any secret other clients put in them; dbstack's own password statements are kept out of it"),
});

const INSTANCE = "instanceName (paths derive from it)";
const REPLICATION = "standbys";

const RULES: Record<string, ParameterRule> = {
  // Where the instance lives and how it is reached.
  port: owned("port"),
  datadir: owned("dataDirectory"),
  innodb_data_home_dir: owned("dataDirectory"),
  innodb_log_group_home_dir: owned("dataDirectory"),
  innodb_undo_directory: owned("dataDirectory"),
  aria_log_dir_path: owned("dataDirectory"),
  basedir: owned(INSTANCE),
  socket: owned(INSTANCE),
  pid_file: owned(INSTANCE),
  log_error: owned(INSTANCE),
  log_basename: owned(INSTANCE),
  user: owned("nothing: the server runs as mysql"),
  bind_address: owned("listenAddresses"),
  extra_port: owned("port"),
  max_connections: owned("maxConnections"),
  // TLS.
  ssl: owned("tls"),
  ssl_cert: owned("tls"),
  ssl_key: owned("tls"),
  ssl_ca: owned("tls"),
  ssl_capath: owned("tls"),
  ssl_crl: owned("tls"),
  ssl_crlpath: owned("tls"),
  ssl_cipher: owned("tls"),
  tls_version: owned("tls"),
  require_secure_transport: owned("requireSecureTransport"),
  // Replication.
  server_id: owned(REPLICATION),
  log_bin: owned(REPLICATION),
  log_bin_index: owned(REPLICATION),
  binlog_format: owned(REPLICATION),
  log_slave_updates: owned(REPLICATION),
  log_replica_updates: owned(REPLICATION),
  gtid_strict_mode: owned(REPLICATION),
  gtid_domain_id: owned(REPLICATION),
  gtid_mode: owned(REPLICATION),
  enforce_gtid_consistency: owned(REPLICATION),
  relay_log: owned(REPLICATION),
  relay_log_index: owned(REPLICATION),
  relay_log_info_file: owned(REPLICATION),
  master_info_file: owned(REPLICATION),
  read_only: owned(`${REPLICATION} (a replica is read-only; promote makes it writable)`),
  skip_slave_start: owned(REPLICATION),
  report_host: owned(REPLICATION),
  report_port: owned(REPLICATION),
  report_user: owned(REPLICATION),
  report_password: owned(REPLICATION),
  init_rpl_role: owned(REPLICATION),

  // Authentication off: anyone reads everything.
  skip_grant_tables: unsafe("disables authentication and privileges: any client, as any user, reads and changes everything"),
  skip_networking: unsafe("closes the TCP port, which dbstack's health checks, hooks and replicas use"),
  secure_auth: unsafe("allows the old, broken password hashes"),
  old_passwords: unsafe("hashes new passwords with the old, broken scheme"),
  old_mode: unsafe("brings back old, less safe behaviours"),
  // Code loaded into the server.
  plugin_load: unsafe("loads code into the server"),
  plugin_load_add: unsafe("loads code into the server"),
  plugin_dir: unsafe("chooses where the server loads code from"),
  plugin_maturity: unsafe("lets the server load unproven plugins"),
  allow_suspicious_udfs: unsafe("loads functions from arbitrary libraries"),
  init_file: unsafe("runs a file of SQL as root at every start"),
  init_connect: unsafe("runs SQL in every client session"),
  init_slave: unsafe("runs SQL in the replication thread"),
  // Files read and written for clients.
  local_infile: unsafe("lets clients load files of the client's host (LOAD DATA LOCAL INFILE)"),
  secure_file_priv: unsafe("chooses which files the server reads and writes for clients (LOAD_FILE, INTO OUTFILE)"),
  symbolic_links: unsafe("lets tables live outside the data directory"),
  core_file: unsafe("writes the server's memory, passwords included, to a core file"),
  // Statements logged with their passwords.
  general_log: unsafe("logs every statement, passwords included (ALTER USER ... IDENTIFIED BY)"),
  general_log_file: unsafe("names the file of the general log, which logs every statement with its passwords"),
  log: unsafe("logs every statement, passwords included (the general log's old name)"),
  slow_query_log: slowLog(),
  log_slow_query: slowLog(),
};

/** Prefixes the server reads as "this option, off" (skip-, disable-), "on" (enable-) or "its limit" (maximum-). */
const BOOLEAN_PREFIXES = ["skip_", "disable_", "enable_", "maximum_"];

/** The names a declared option may stand for, most literal first. */
export function mariadbSpellings(name: string): string[] {
  let n = normalizeVariableName(name);
  if (n.startsWith("loose_")) n = n.slice("loose_".length);
  const out = [n];
  for (const prefix of BOOLEAN_PREFIXES) {
    if (!n.startsWith(prefix)) continue;
    const base = n.slice(prefix.length);
    // `disable-grant-tables` turns off "grant tables": the rule of skip_grant_tables.
    out.push(base, `skip_${base}`);
  }
  return out;
}

export const MARIADB_PARAMETER_POLICY: ParameterPolicy = { engine: "MariaDB", rules: RULES, spellings: mariadbSpellings };
