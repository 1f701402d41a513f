/**
 * Which PostgreSQL parameters need a server restart to change: those whose pg_settings.context
 * is "postmaster". The deploy itself reads pg_settings.pending_restart after a reload; this table
 * lets a preview say in advance that a change will restart the server.
 *
 * Sources: pg_settings of PostgreSQL 15 (queried from a running server) and the GUC tables of the
 * PostgreSQL sources (guc.c / guc_tables.c), with the version changes below. Parameters that are
 * "postmaster" only in some versions carry their range; GUC_NO_SHOW_ALL internals are left out.
 */

/** Newest major version this table describes. */
export const NEWEST_KNOWN_VERSION = 18;
/** Oldest major version this table describes. */
export const OLDEST_KNOWN_VERSION = 12;

/** [name, first major version where it is "postmaster", last such version]. */
const POSTMASTER_CONTEXT: ReadonlyArray<readonly [string, number, number]> = [
  // Postmaster in every version from 12 to 18.
  ["archive_mode", 12, 18],
  ["autovacuum_freeze_max_age", 12, 18],
  ["autovacuum_multixact_freeze_max_age", 12, 18],
  ["bonjour", 12, 18],
  ["bonjour_name", 12, 18],
  ["cluster_name", 12, 18],
  ["config_file", 12, 18],
  ["data_directory", 12, 18],
  ["data_sync_retry", 12, 18],
  ["dynamic_shared_memory_type", 12, 18],
  ["event_source", 12, 18],
  ["external_pid_file", 12, 18],
  ["hba_file", 12, 18],
  ["hot_standby", 12, 18],
  ["huge_pages", 12, 18],
  ["ident_file", 12, 18],
  ["jit_provider", 12, 18],
  ["listen_addresses", 12, 18],
  ["logging_collector", 12, 18],
  ["max_connections", 12, 18],
  ["max_files_per_process", 12, 18],
  ["max_locks_per_transaction", 12, 18],
  ["max_logical_replication_workers", 12, 18],
  ["max_pred_locks_per_transaction", 12, 18],
  ["max_prepared_transactions", 12, 18],
  ["max_replication_slots", 12, 18],
  ["max_wal_senders", 12, 18],
  ["max_worker_processes", 12, 18],
  ["port", 12, 18],
  ["recovery_target", 12, 18],
  ["recovery_target_action", 12, 18],
  ["recovery_target_inclusive", 12, 18],
  ["recovery_target_lsn", 12, 18],
  ["recovery_target_name", 12, 18],
  ["recovery_target_time", 12, 18],
  ["recovery_target_timeline", 12, 18],
  ["recovery_target_xid", 12, 18],
  ["shared_buffers", 12, 18],
  ["shared_memory_type", 12, 18],
  ["shared_preload_libraries", 12, 18],
  ["superuser_reserved_connections", 12, 18],
  ["track_activity_query_size", 12, 18],
  ["track_commit_timestamp", 12, 18],
  ["unix_socket_directories", 12, 18],
  ["unix_socket_group", 12, 18],
  ["unix_socket_permissions", 12, 18],
  ["wal_buffers", 12, 18],
  ["wal_level", 12, 18],
  ["wal_log_hints", 12, 18],

  // 12 only: superuser-settable from 13 (allow_system_table_mods), reloadable from 13 (primary_*).
  ["allow_system_table_mods", 12, 12],
  ["primary_conninfo", 12, 12],
  ["primary_slot_name", 12, 12],
  // Reloadable from 15.
  ["restore_command", 12, 14],
  // Removed in 17.
  ["old_snapshot_threshold", 12, 16],
  // Reloadable from 18 (autovacuum_worker_slots took its place as the restart-only limit).
  ["autovacuum_max_workers", 12, 17],
  // Added in 13.
  ["ignore_invalid_pages", 13, 18],
  // Added in 14.
  ["huge_page_size", 14, 18],
  ["min_dynamic_shared_memory", 14, 18],
  // Added in 15.
  ["wal_decode_buffer_size", 15, 18],
  // Added in 16.
  ["debug_io_direct", 16, 18],
  ["reserved_connections", 16, 18],
  // Added in 17.
  ["commit_timestamp_buffers", 17, 18],
  ["max_notify_queue_pages", 17, 18],
  ["multixact_member_buffers", 17, 18],
  ["multixact_offset_buffers", 17, 18],
  ["notify_buffers", 17, 18],
  ["serializable_buffers", 17, 18],
  ["subtransaction_buffers", 17, 18],
  ["trace_connection_negotiation", 17, 18],
  ["transaction_buffers", 17, 18],
  // Added in 18.
  ["autovacuum_worker_slots", 18, 18],
  ["io_max_combine_limit", 18, 18],
  ["io_max_concurrency", 18, 18],
  ["io_method", 18, 18],
  ["max_active_replication_origins", 18, 18],
];

/** The parameters that need a restart in one major version (12..18). */
export function restartParameters(version: number): ReadonlySet<string> {
  if (!Number.isInteger(version) || version < OLDEST_KNOWN_VERSION || version > NEWEST_KNOWN_VERSION) {
    throw new Error(`version: must be a PostgreSQL major version from ${OLDEST_KNOWN_VERSION} to ${NEWEST_KNOWN_VERSION}, got ${String(version)}`);
  }
  return new Set(POSTMASTER_CONTEXT.filter(([, from, to]) => version >= from && version <= to).map(([name]) => name));
}

/**
 * Every parameter whose context is "postmaster" in at least one of PostgreSQL 12..18: the
 * cautious answer when the version is not known (it may announce a restart that 13+ would not
 * need for primary_conninfo, or 18 for autovacuum_max_workers).
 */
export const RESTART_PARAMETERS: ReadonlySet<string> = new Set(POSTMASTER_CONTEXT.map(([name]) => name));

const SIZE = /^(\d+)\s*(B|kB|MB|GB|TB)$/;
const SIZE_UNITS: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** A value as PostgreSQL would read it, for comparison: unquoted, sizes in bytes. */
function normalize(value: string): string {
  let v = value.trim();
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1).replace(/''/g, "'");
  const size = SIZE.exec(v);
  if (size) return `${BigInt(size[1]) * BigInt(SIZE_UNITS[size[2]])}B`;
  return v;
}

function byName(params: Record<string, string>): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(params)) map.set(name.trim().toLowerCase(), normalize(value));
  return map;
}

/**
 * The parameters that differ between two configurations and need a restart, sorted. A parameter
 * set on one side only counts as changed (removing it restores the default). "1GB" and "1024MB"
 * are the same value; names are case-insensitive. Without a version, the union over 12..18 is used.
 */
export function needsRestart(
  oldParams: Record<string, string>,
  newParams: Record<string, string>,
  version?: number,
): string[] {
  const restart = version === undefined ? RESTART_PARAMETERS : restartParameters(version);
  const before = byName(oldParams);
  const after = byName(newParams);
  const changed: string[] = [];
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    if (restart.has(name) && before.get(name) !== after.get(name)) changed.push(name);
  }
  return changed.sort();
}
