/**
 * PostgreSQL's parameter policy (engines/parameterPolicy.ts). The tuning file dbstack writes
 * (conf.d/10-dbstack-tuning.conf, where `parameters` go) is read after the access file, so an
 * override of listen_addresses, ssl or password_encryption there would silently undo what
 * `listenAddresses` and `tls` declare: those are owned. Libraries loaded into the server and
 * commands it runs are unsafe; statement logging is accepted with a warning, because dbstack's
 * own role statements turn it off for their session (sql/roles.ts) but other clients' do not.
 * Names are case-insensitive, as PostgreSQL reads them.
 */
import type { ParameterPolicy, ParameterRule } from "../parameterPolicy";

const owned = (use: string): ParameterRule => ({ kind: "owned", use });
const unsafe = (why: string, unsafeValue?: (value: string) => string | undefined): ParameterRule => ({ kind: "unsafe", why, unsafeValue });

/**
 * Libraries shared_preload_libraries may name without `unsafeParameters`: contrib modules of the
 * PostgreSQL packages that observe or warm the server and load no user code.
 */
export const KNOWN_PRELOAD_LIBRARIES: readonly string[] = ["auto_explain", "pg_prewarm", "pg_stat_statements"];

/** The names of a library list such as `'pg_stat_statements, auto_explain'`, lower case. */
export function libraryList(value: string): string[] {
  const v = value.trim().replace(/^'(.*)'$/s, "$1");
  return v
    .split(",")
    .map((s) => s.trim().replace(/^"(.*)"$/, "$1").toLowerCase())
    .filter((s) => s !== "");
}

/** Why a library list is unsafe: the libraries not in KNOWN_PRELOAD_LIBRARIES, if any. */
function unknownLibraries(value: string): string | undefined {
  const unknown = libraryList(value).filter((l) => !KNOWN_PRELOAD_LIBRARIES.includes(l));
  if (unknown.length === 0) return undefined;
  return `loads ${unknown.join(", ")} into the server, not one of the known libraries (${KNOWN_PRELOAD_LIBRARIES.join(", ")})`;
}

/** password_encryption below scram-sha-256 (md5, or the old on/off spellings of it). */
function weakHashing(value: string): string | undefined {
  const v = value.trim().replace(/^'(.*)'$/, "$1").toLowerCase();
  return v === "scram-sha-256" ? undefined : `${v} hashes new passwords below scram-sha-256 (md5 hashes are replayable)`;
}

const STATEMENT_LOG = "logs the text of statements, with any secret a client puts in them (dbstack's own role statements turn it off for their session)";

const RULES: Record<string, ParameterRule> = {
  // Where the cluster lives and how it is reached.
  port: owned("port"),
  listen_addresses: owned("listenAddresses"),
  data_directory: owned("dataDirectory"),
  config_file: owned("instanceName (postgresql-common keeps the cluster's files)"),
  hba_file: owned("allowedCidrs and standbys (dbstack writes pg_hba.conf)"),
  ident_file: owned("allowedCidrs and standbys (dbstack writes pg_hba.conf)"),
  external_pid_file: owned("instanceName (postgresql-common keeps the cluster's files)"),
  cluster_name: owned("instanceName"),
  unix_socket_directories: owned("nothing: dbstack and its hooks reach the cluster over its default socket"),
  unix_socket_group: owned("nothing: dbstack and its hooks reach the cluster over its default socket"),
  unix_socket_permissions: owned("nothing: dbstack and its hooks reach the cluster over its default socket"),
  max_connections: owned("maxConnections"),
  // TLS and passwords.
  ssl: owned("tls"),
  ssl_cert_file: owned("tls"),
  ssl_key_file: owned("tls"),
  ssl_ca_file: owned("tls"),
  ssl_crl_file: owned("tls"),
  ssl_crl_dir: owned("tls"),
  ssl_passphrase_command: owned("tls"),
  ssl_min_protocol_version: owned("tls"),
  // Replication.
  wal_level: owned("standbys"),
  max_wal_senders: owned("standbys"),
  max_replication_slots: owned("standbys"),
  max_slot_wal_keep_size: owned("standbys"),
  hot_standby: owned("standbys"),
  primary_conninfo: owned("standbys"),
  primary_slot_name: owned("standbys"),
  synchronous_standby_names: owned("standbys"),

  // Authentication weakened.
  password_encryption: unsafe("hashes new passwords below scram-sha-256", weakHashing),
  krb_server_keyfile: unsafe("changes how clients authenticate"),
  // Code loaded into the server, and commands it runs.
  shared_preload_libraries: unsafe("loads libraries into the server", unknownLibraries),
  session_preload_libraries: unsafe("loads libraries into every session"),
  local_preload_libraries: unsafe("lets clients load libraries into their session"),
  dynamic_library_path: unsafe("chooses where the server loads code from"),
  jit_provider: unsafe("loads a library as the JIT compiler"),
  archive_command: unsafe("runs a shell command as the postgres user"),
  archive_library: unsafe("loads a library into the archiver"),
  restore_command: unsafe("runs a shell command as the postgres user"),
  archive_cleanup_command: unsafe("runs a shell command as the postgres user"),
  recovery_end_command: unsafe("runs a shell command as the postgres user"),
  allow_system_table_mods: unsafe("lets the catalogs be changed by hand"),
  // Statements logged: accepted, with a warning.
  log_statement: {
    kind: "warned",
    warnValue: (v) => (/^'?(all|ddl|mod)'?$/i.test(v.trim()) ? `log_statement ${v.trim()} ${STATEMENT_LOG}` : undefined),
  },
  log_min_duration_statement: {
    kind: "warned",
    warnValue: (v) => (/^'?-1'?$/.test(v.trim()) ? undefined : `log_min_duration_statement ${v.trim()} ${STATEMENT_LOG}`),
  },
  log_min_duration_sample: {
    kind: "warned",
    warnValue: (v) => (/^'?-1'?$/.test(v.trim()) ? undefined : `log_min_duration_sample ${v.trim()} ${STATEMENT_LOG}`),
  },
};

export const POSTGRES_PARAMETER_POLICY: ParameterPolicy = {
  engine: "PostgreSQL",
  rules: RULES,
  spellings: (name) => [name.trim().toLowerCase()],
};
