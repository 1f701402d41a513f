/**
 * What `npm run status` reports: one entry per member of every deployment, and the problems that
 * make it exit non-zero. Pure types and the judging of facts against bounds; no I/O.
 */
import { DEFAULTS } from "../../../components/model/defaults";

export type EngineName = "postgres" | "mariadb" | "sqlite";

/** A restore drill's last result (written by the drill to `<backup dir>/drills/last.json`). */
export interface DrillRecord {
  deployment?: string;
  engine?: string;
  startedAt?: string;
  durationS?: number;
  backup?: string;
  backupAgeH?: number;
  recoveryPoint?: string | null;
  ok?: boolean;
  reason?: string;
}

/** A database's last post-deploy hook (recorded by the hook in `<toolsDir>/hooks/<database>.json`). */
export interface HookRecord {
  database: string;
  ok: boolean;
  exitCode?: number;
  finishedAt?: string;
  durationS?: number;
}

/** A long-running or idle-in-transaction session. */
export interface LongTransaction {
  pid: number;
  user?: string | null;
  database?: string | null;
  state?: string | null;
  seconds: number;
}

/** One of the slowest statements (pg_stat_statements, performance_schema's digests). */
export interface SlowStatement {
  query: string;
  calls: number;
  meanMs: number;
  maxMs: number;
}

/** The newest backup and how many there are, on the primary's (or the file's) host. */
export interface BackupFacts {
  newest?: { file: string; time: string; bytes: number; ageHours: number };
  count: number;
  maxAgeHours: number;
  /** Hours since the backup directory was made, while it holds no backup (how long "no backup yet" has lasted). */
  emptyForHours?: number;
}

/** What one member's probe found. Absent fields: not applicable or not known. */
export interface MemberStatus {
  deployment: string;
  engine: EngineName;
  /** "primary", a standby's name, or "file" for SQLite. */
  member: string;
  declaredRole: "primary" | "standby" | "file";
  /** The member's host, for people (no secret). */
  where: string;
  reachable: boolean;
  /** Why it is not reachable or not answering. */
  error?: string;
  /** What the server says it is now: primary, standby (PostgreSQL), replica (MariaDB). */
  role?: string;
  version?: string;
  uptimeS?: number;
  connections?: { used: number; max: number };
  databases?: { name: string; bytes: number }[];
  /** Standby/replica lag; null where the engine does not say (MariaDB's bytes). */
  lag?: { bytes: number | null; seconds: number | null; replicating: boolean; error?: string };
  pendingRestart?: string[];
  longTransactions?: LongTransaction[];
  slowest?: SlowStatement[] | null;
  /**
   * An SQLite file: sizes; the last write (the newer of the file's and its WAL's); the journal mode
   * read from the file's header; in WAL mode the last checkpoint that copied pages into the file
   * (the file's own mtime: in WAL mode only checkpoints write it).
   */
  sqlite?: { bytes: number; walBytes: number; modifiedAt: string; journalMode?: "wal" | "rollback"; lastCheckpointAt?: string; quickCheck?: string };
  backup?: BackupFacts;
  /** The last drill; null: none recorded; absent: no backups declared here. */
  drill?: DrillRecord | null;
  /** Each database's last post-deploy hook, on the member that runs them (the primary, the file's host). */
  hooks?: HookRecord[];
}

export interface StatusReport {
  stack: string;
  /** When the probes ran (ISO UTC). */
  at: string;
  members: MemberStatus[];
  /** What needs a person; status exits non-zero when there is any. */
  problems: string[];
}

/** Bounds the facts are judged against. */
export interface StatusBounds {
  maxLagSeconds: number;
  longTransactionSeconds: number;
}

export const DEFAULT_BOUNDS: StatusBounds = { ...DEFAULTS.status };

/** How a member is named in messages: `postgres main/replica1`. */
export function memberLabel(m: Pick<MemberStatus, "engine" | "deployment" | "member">): string {
  return `${m.engine} ${m.deployment}/${m.member}`;
}

/** The problems of one member, each naming it. */
export function memberProblems(m: MemberStatus, bounds: StatusBounds): string[] {
  const label = memberLabel(m);
  const out: string[] = [];
  if (!m.reachable) return [`${label} on ${m.where}: down: ${m.error ?? "no answer"}`];
  if (m.declaredRole === "standby" && m.lag) {
    if (!m.lag.replicating) out.push(`${label}: not replicating${m.lag.error ? ` (${m.lag.error})` : ""}`);
    if (m.lag.seconds !== null && m.lag.seconds > bounds.maxLagSeconds) out.push(`${label}: lags ${Math.round(m.lag.seconds)} s behind its primary (bound ${bounds.maxLagSeconds} s)`);
  }
  if (m.declaredRole === "standby" && m.role === "primary") out.push(`${label}: declared a standby, but the server is a primary (promoted?)`);
  if (m.sqlite?.quickCheck !== undefined && m.sqlite.quickCheck !== "ok") out.push(`${label}: quick_check: ${m.sqlite.quickCheck}`);
  const b = m.backup;
  if (b) {
    if (b.newest && b.newest.ageHours > b.maxAgeHours) out.push(`${label}: newest backup is ${b.newest.ageHours.toFixed(1)} h old (bound ${b.maxAgeHours} h)`);
    if (!b.newest && (b.emptyForHours === undefined || b.emptyForHours > b.maxAgeHours)) out.push(`${label}: no backup${b.emptyForHours === undefined ? " (no backup directory)" : ` in ${b.emptyForHours.toFixed(1)} h`} (bound ${b.maxAgeHours} h)`);
  }
  for (const h of m.hooks ?? []) if (!h.ok) out.push(`${label}: the last post-deploy hook of database ${h.database} failed${h.finishedAt ? ` (${h.finishedAt})` : ""}${h.exitCode === undefined ? "" : `, exit ${h.exitCode}`}`);
  if (m.drill && m.drill.ok === false) out.push(`${label}: last restore drill failed${m.drill.startedAt ? ` (${m.drill.startedAt})` : ""}: ${m.drill.reason ?? "no reason recorded"}`);
  return out;
}

/** Every member's problems, in report order. */
export function judge(members: MemberStatus[], bounds: StatusBounds): string[] {
  return members.flatMap((m) => memberProblems(m, bounds));
}
