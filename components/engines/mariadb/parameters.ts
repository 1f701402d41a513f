/**
 * Which MariaDB variables need a server restart to change: the read-only ("static") ones. The
 * configure step changes every other variable with SET GLOBAL, keeping the server up; this table
 * decides which way a change goes, and lets a preview say in advance that a change restarts.
 *
 * Source: MariaDB 10.11.19 (Debian 12's mariadb-server), queried on a running server on
 * 2026-11-22: for every row of information_schema.GLOBAL_VARIABLES, `SET GLOBAL v = @@global.v`
 * was tried, and the variables it refused with "is a read only variable" are listed here, except
 * those a user cannot set at all (have_*, version*, hostname, gtid_current_pos, the *_basename
 * paths the server derives, the performance_schema_max_*_classes compiled limits, ...).
 * Galera's wsrep_* variables are left out: dbstack does not run Galera.
 *
 * Not server variables, but options of [mysqld] whose change takes a restart, are in
 * STATIC_OPTIONS (`user`, `log_bin`'s basename given as a value, ...).
 *
 * Notable 10.11 facts the probe confirmed: innodb_buffer_pool_size, innodb_log_file_size,
 * innodb_io_capacity, innodb_read_io_threads/innodb_write_io_threads, max_connections,
 * require_secure_transport, read_only, server_id, binlog_format and gtid_strict_mode are dynamic;
 * innodb_flush_method, innodb_log_buffer_size, innodb_doublewrite, log_bin, log_slave_updates,
 * bind_address, skip_name_resolve and the ssl_* paths are static (new certificate files at the
 * same paths are loaded by FLUSH SSL, no restart).
 */

/** The read-only variables of MariaDB 10.11 a user can set in the option file. */
const STATIC_10_11: readonly string[] = [
  "allow_suspicious_udfs", "aria_block_size", "aria_force_start_after_recovery_failures", "aria_log_dir_path",
  "aria_pagecache_buffer_size", "aria_pagecache_file_hash_size", "aria_used_for_temp_tables", "back_log", "basedir",
  "bind_address", "binlog_optimize_thread_scheduling", "character_sets_dir", "core_file", "datadir", "datetime_format",
  "date_format", "encrypt_binlog", "encrypt_tmp_files", "extra_port", "ft_max_word_len", "ft_min_word_len",
  "ft_query_expansion_limit", "ft_stopword_file", "ignore_builtin_innodb", "ignore_db_dirs", "init_file",
  "innodb_adaptive_hash_index_parts", "innodb_autoinc_lock_mode", "innodb_buffer_pool_chunk_size",
  "innodb_buffer_pool_filename", "innodb_buffer_pool_load_at_startup", "innodb_buffer_pool_size_max",
  "innodb_data_file_path", "innodb_data_home_dir", "innodb_doublewrite", "innodb_encrypt_log",
  "innodb_encrypt_temporary_tables", "innodb_fatal_semaphore_wait_threshold", "innodb_flush_method",
  "innodb_force_recovery", "innodb_ft_max_token_size", "innodb_ft_min_token_size", "innodb_ft_sort_pll_degree",
  "innodb_linux_aio", "innodb_log_buffer_size", "innodb_log_file_mmap", "innodb_log_group_home_dir",
  "innodb_log_write_ahead_size", "innodb_numa_interleave", "innodb_open_files", "innodb_page_size", "innodb_read_only",
  "innodb_rollback_on_timeout", "innodb_sort_buffer_size", "innodb_temp_data_file_path", "innodb_undo_directory",
  "innodb_undo_tablespaces", "innodb_use_atomic_writes", "innodb_use_native_aio", "large_pages", "lc_messages_dir",
  "log_bin", "log_error", "log_slave_updates", "log_tc_size", "lower_case_table_names", "metadata_locks_cache_size",
  "metadata_locks_hash_instances", "myisam_block_size", "myisam_mmap_size", "myisam_recover_options",
  "open_files_limit", "performance_schema", "performance_schema_accounts_size", "performance_schema_digests_size",
  "performance_schema_events_stages_history_long_size", "performance_schema_events_stages_history_size",
  "performance_schema_events_statements_history_long_size", "performance_schema_events_statements_history_size",
  "performance_schema_events_transactions_history_long_size", "performance_schema_events_transactions_history_size",
  "performance_schema_events_waits_history_long_size", "performance_schema_events_waits_history_size",
  "performance_schema_hosts_size", "performance_schema_max_cond_instances", "performance_schema_max_file_handles",
  "performance_schema_max_file_instances", "performance_schema_max_index_stat", "performance_schema_max_metadata_locks",
  "performance_schema_max_mutex_instances", "performance_schema_max_prepared_statements_instances",
  "performance_schema_max_program_instances", "performance_schema_max_rwlock_instances",
  "performance_schema_max_socket_instances", "performance_schema_max_sql_text_length",
  "performance_schema_max_statement_stack", "performance_schema_max_table_handles",
  "performance_schema_max_table_instances", "performance_schema_max_table_lock_stat",
  "performance_schema_max_thread_instances", "performance_schema_session_connect_attrs_size",
  "performance_schema_setup_actors_size", "performance_schema_setup_objects_size", "performance_schema_users_size",
  "pid_file", "plugin_dir", "plugin_maturity", "port", "relay_log", "relay_log_info_file", "relay_log_space_limit",
  "replicate_annotate_row_events", "report_host", "report_password", "report_port", "report_user", "secure_file_priv",
  "secure_timestamp", "skip_external_locking", "skip_grant_tables", "skip_name_resolve", "skip_networking",
  "skip_show_database", "slave_load_tmpdir", "slave_skip_errors", "slave_transaction_retry_errors", "socket", "ssl_ca",
  "ssl_capath", "ssl_cert", "ssl_cipher", "ssl_crl", "ssl_crlpath", "ssl_key", "table_open_cache_instances",
  "thread_handling", "thread_stack", "time_format", "tls_version", "tmpdir",
];

/**
 * Options of [mysqld] that are not server variables (SET GLOBAL cannot name them) and take
 * effect at start only: the account the server runs as, plugins, the binary log index, a relay
 * log index, the server's startup SQL, and mysqld_safe's settings.
 */
const STATIC_OPTIONS: readonly string[] = [
  "user", "plugin_load_add", "plugin_load", "log_bin_index", "relay_log_index", "log_basename", "init_rpl_role",
  "memlock", "skip_slave_start", "temp_pool", "debug_gdb", "gdb", "malloc_lib", "nice",
];

/**
 * Variables that are static in versions before 10.11 or in MySQL 8 (dynamic in 10.11): added
 * for any version other than 10.11, so a preview there announces a restart rather than promise
 * a SET GLOBAL the server would refuse. (Not checked against those servers; the configure step
 * restarts anyway when a SET GLOBAL is refused.)
 */
const STATIC_ELSEWHERE: readonly string[] = [
  "innodb_log_file_size", "innodb_log_files_in_group", "innodb_buffer_pool_instances", "innodb_read_io_threads",
  "innodb_write_io_threads", "innodb_page_cleaners", "innodb_log_spin_wait_delay",
];

const RESTART_10_11: ReadonlySet<string> = new Set([...STATIC_10_11, ...STATIC_OPTIONS]);
const RESTART_OTHER: ReadonlySet<string> = new Set([...RESTART_10_11, ...STATIC_ELSEWHERE]);

/**
 * The variables and options whose change needs a restart for a server version ("10.11",
 * "10.11.19", "8.0"). 10.11 is the version the table was read from; any other version gets the
 * cautious superset (STATIC_ELSEWHERE).
 */
export function restartVariables(version: string): ReadonlySet<string> {
  return /^10\.11(\.|$)/.test(version.trim()) ? RESTART_10_11 : RESTART_OTHER;
}

/**
 * Whether changing `name` (as written in an option file: dashes and underscores alike, any case)
 * needs a restart of a 10.11 server (or of `version`'s).
 */
export function isRestartVariable(name: string, version = "10.11"): boolean {
  return restartVariables(version).has(normalizeVariableName(name));
}

/** An option file name as the server reads it: lower case, dashes as underscores. */
export function normalizeVariableName(name: string): string {
  return name.trim().toLowerCase().replace(/-/g, "_");
}
