/**
 * The monitoring account every server deployment has, and what a deployment tells `status`
 * (scripts/status.ts) about itself: where each member runs, how to log in as the monitoring
 * account, where its backups are. The account is least-privilege (PostgreSQL's pg_monitor;
 * MariaDB's PROCESS, REPLICATION CLIENT/SLAVE MONITOR and SELECT on performance_schema): it reads
 * statistics, never application tables, and writes nothing.
 */
import type { Target } from "./target";

/** The monitoring account's name (dbstack_ names are dbstack's own, refused for users). */
export const MONITOR_USER = "dbstack_monitor";

/** The environment variable a step or probe receives the monitoring password in (never a command line). */
export const MONITOR_PASSWORD_ENV = "DBSTACK_MONITOR_PASSWORD";

/** Sessions the monitoring account may hold at once: status and an exporter, with room to spare. */
export const MONITOR_CONNECTION_LIMIT = 5;

/** One member of a server deployment as status reaches it. */
export interface MonitoredMember {
  /** "primary", or the standby's declared name. */
  name: string;
  /** What it was deployed as (what it is now is asked of the server). */
  declaredRole: "primary" | "standby";
  /** How to reach its host, without secrets (an SSH target's key is in the stack's config, under its configKey). */
  target: Target;
  /** The server's port on that host (inside its container on a Docker target). */
  port: number;
}

/** What a server deployment exports for status (a secret output: it holds the monitoring password). */
export interface MonitoringView {
  engine: "postgres" | "mariadb";
  user: string;
  password: string;
  databases: string[];
  /** Declared backups on the primary's host: their directory, file-name prefix and age bound. */
  backup?: { dir: string; prefix: string; maxAgeHours: number };
  /** The last restore drill's record on the primary's host, when point-in-time recovery is declared. */
  drillRecord?: string;
  members: MonitoredMember[];
  /** The directory of the post-deploy hooks' last results on the primary's host (hooks/hookRecord.ts); absent from stacks deployed before. */
  hookRecords?: string;
}

/** What an SQLite database exports for status (no secret: the file is read on its host). */
export interface SqliteMonitoringView {
  engine: "sqlite";
  path: string;
  target: Target;
  backup?: { dir: string; prefix: string; maxAgeHours: number };
  /** The directory of the post-deploy hook's last result (hooks/hookRecord.ts); absent from stacks deployed before. */
  hookRecords?: string;
}
