/**
 * dbstack's own figures in Prometheus' text format, for node_exporter's textfile collector
 * (`npm run status -- --textfile <dir>/dbstack.prom`): what no exporter knows (the newest backup,
 * the last restore drill, SQLite files) beside what status read from each member. Pure.
 */
import type { MemberStatus, StatusReport } from "./report";

interface Metric {
  name: string;
  help: string;
  /** One sample per member that has the figure (and extra labels, e.g. the database). */
  samples: (m: MemberStatus) => { labels?: Record<string, string>; value: number }[];
}

const one = (value: number | null | undefined) => (value === null || value === undefined || !Number.isFinite(value) ? [] : [{ value }]);
const seconds = (iso: string | undefined) => (iso === undefined || Number.isNaN(Date.parse(iso)) ? undefined : Date.parse(iso) / 1000);

const METRICS: Metric[] = [
  { name: "dbstack_up", help: "Whether the member answered status (1) or not (0).", samples: (m) => [{ value: m.reachable ? 1 : 0 }] },
  { name: "dbstack_is_primary", help: "Whether the server says it is a primary (1) or a standby/replica (0).", samples: (m) => (m.role === undefined || m.engine === "sqlite" ? [] : [{ value: m.role.startsWith("primary") ? 1 : 0 }]) },
  { name: "dbstack_uptime_seconds", help: "Seconds since the server started.", samples: (m) => one(m.uptimeS) },
  { name: "dbstack_connections", help: "Client connections in use.", samples: (m) => one(m.connections?.used) },
  { name: "dbstack_max_connections", help: "Client connections the server accepts.", samples: (m) => one(m.connections?.max) },
  { name: "dbstack_database_size_bytes", help: "Size of each database.", samples: (m) => (m.databases ?? []).map((d) => ({ labels: { database: d.name }, value: d.bytes })) },
  { name: "dbstack_replication_lag_seconds", help: "How far a standby or replica is behind its primary, in seconds.", samples: (m) => one(m.lag?.seconds) },
  { name: "dbstack_replication_lag_bytes", help: "WAL received but not yet replayed by a PostgreSQL standby, in bytes.", samples: (m) => one(m.lag?.bytes) },
  { name: "dbstack_replicating", help: "Whether a standby or replica is replicating (1) or not (0).", samples: (m) => (m.lag ? [{ value: m.lag.replicating ? 1 : 0 }] : []) },
  { name: "dbstack_long_transactions", help: "Transactions open longer than status's threshold.", samples: (m) => (m.longTransactions ? [{ value: m.longTransactions.length }] : []) },
  { name: "dbstack_backup_last_timestamp_seconds", help: "When the newest backup was written (Unix time).", samples: (m) => one(seconds(m.backup?.newest?.time)) },
  { name: "dbstack_backup_last_size_bytes", help: "Size of the newest backup.", samples: (m) => one(m.backup?.newest?.bytes) },
  { name: "dbstack_backup_age_seconds", help: "Age of the newest backup, in seconds.", samples: (m) => one(m.backup?.newest && Math.round(m.backup.newest.ageHours * 3600)) },
  { name: "dbstack_backup_max_age_seconds", help: "The declared bound on the newest backup's age (maxAgeHours), in seconds.", samples: (m) => one(m.backup && m.backup.maxAgeHours * 3600) },
  { name: "dbstack_backups", help: "Backups kept.", samples: (m) => one(m.backup?.count) },
  { name: "dbstack_drill_last_timestamp_seconds", help: "When the last restore drill started (Unix time).", samples: (m) => one(seconds(m.drill?.startedAt)) },
  { name: "dbstack_drill_last_ok", help: "Whether the last restore drill succeeded (1) or failed (0).", samples: (m) => (m.drill ? [{ value: m.drill.ok === true ? 1 : 0 }] : []) },
  { name: "dbstack_drill_last_duration_seconds", help: "How long the last restore drill took.", samples: (m) => one(m.drill?.durationS) },
  { name: "dbstack_sqlite_file_bytes", help: "Size of an SQLite database file.", samples: (m) => one(m.sqlite?.bytes) },
  { name: "dbstack_sqlite_wal_bytes", help: "Size of an SQLite database's WAL file.", samples: (m) => one(m.sqlite?.walBytes) },
  { name: "dbstack_sqlite_last_write_timestamp_seconds", help: "When an SQLite database's file or WAL was last written (Unix time).", samples: (m) => one(seconds(m.sqlite?.modifiedAt)) },
  { name: "dbstack_sqlite_last_checkpoint_timestamp_seconds", help: "When a checkpoint last copied pages into an SQLite database's file, in WAL mode (Unix time).", samples: (m) => one(seconds(m.sqlite?.lastCheckpointAt)) },
  { name: "dbstack_hook_last_ok", help: "Whether a database's last post-deploy hook succeeded (1) or failed (0).", samples: (m) => (m.hooks ?? []).map((h) => ({ labels: { database: h.database }, value: h.ok ? 1 : 0 })) },
  { name: "dbstack_hook_last_timestamp_seconds", help: "When a database's last post-deploy hook finished (Unix time).", samples: (m) => (m.hooks ?? []).flatMap((h) => one(seconds(h.finishedAt)).map((s) => ({ labels: { database: h.database }, ...s }))) },
  { name: "dbstack_hook_last_duration_seconds", help: "How long a database's last post-deploy hook took.", samples: (m) => (m.hooks ?? []).flatMap((h) => one(h.durationS).map((s) => ({ labels: { database: h.database }, ...s }))) },
];

/** A label value as the text format writes it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    .join(",");
}

/** The textfile of a status report. */
export function renderTextfile(report: StatusReport): string {
  const lines: string[] = [];
  for (const metric of METRICS) {
    const samples = report.members.flatMap((m) =>
      metric.samples(m).map((s) => ({ labels: { stack: report.stack, engine: m.engine, deployment: m.deployment, member: m.member, ...s.labels }, value: s.value })),
    );
    if (samples.length === 0) continue;
    lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} gauge`);
    for (const s of samples) lines.push(`${metric.name}{${labelText(s.labels)}} ${s.value}`);
  }
  lines.push("# HELP dbstack_status_problems Problems status found (it exits non-zero when there is any).", "# TYPE dbstack_status_problems gauge", `dbstack_status_problems{stack="${escapeLabelValue(report.stack)}"} ${report.problems.length}`);
  lines.push("# HELP dbstack_status_timestamp_seconds When status ran (Unix time).", "# TYPE dbstack_status_timestamp_seconds gauge", `dbstack_status_timestamp_seconds{stack="${escapeLabelValue(report.stack)}"} ${Date.parse(report.at) / 1000}`);
  return lines.join("\n") + "\n";
}
