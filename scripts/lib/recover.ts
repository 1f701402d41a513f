/**
 * The decisions of `npm run recover` (scripts/recover.ts), kept free of I/O so they can be tested:
 * which lock files of a file backend are stale, and what clearing a stack's pending operations
 * removes and means.
 */
import { join } from "path";

/** A lock file of a file backend (`<backend>/.pulumi/locks/.../<stack>/<id>.json`), as read. */
export interface LockFile {
  /** Its path. */
  file: string;
  pid?: number;
  username?: string;
  hostname?: string;
  /** When the locking `pulumi` took the lock (ISO time). */
  timestamp?: string;
}

/** What this machine knows about a process id. */
export interface ProcessFacts {
  alive: boolean;
  /** When the process now holding the id started, where the system tells. */
  startedAt?: Date;
}

export type LockVerdict =
  /** Its process is gone: safe to remove. */
  | "stale"
  /** Its process is alive on this host: an update is running; never removed. */
  | "live"
  /** Taken on another host: whether its process lives cannot be told from here; left alone. */
  | "other-host"
  /** Not a lock file dbstack can read; left alone. */
  | "unreadable";

export interface JudgedLock {
  lock: LockFile;
  verdict: LockVerdict;
  /** Why, in words for the report. */
  reason: string;
}

/** Parses a lock file's JSON ({"pid","username","hostname","timestamp"}); undefined fields when it is not one. */
export function parseLock(file: string, text: string): LockFile {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    return {
      file,
      pid: typeof v.pid === "number" && Number.isInteger(v.pid) && v.pid > 0 ? v.pid : undefined,
      username: typeof v.username === "string" ? v.username : undefined,
      hostname: typeof v.hostname === "string" ? v.hostname : undefined,
      timestamp: typeof v.timestamp === "string" ? v.timestamp : undefined,
    };
  } catch {
    return { file };
  }
}

/**
 * A process that started this long after the lock was taken cannot be the one that took it: its
 * id was reused. (The lock is written after its process starts, so any later start means reuse;
 * the margin absorbs clock granularity.)
 */
export const PID_REUSE_MARGIN_MS = 2000;

/** Whether a lock can be removed: only when taken on this host by a process that is gone. */
export function judgeLock(lock: LockFile, hostname: string, facts: (pid: number) => ProcessFacts): JudgedLock {
  const who = `pid ${lock.pid} on ${lock.hostname}`;
  if (lock.pid === undefined || lock.hostname === undefined) {
    return { lock, verdict: "unreadable", reason: "not a lock file with a pid and a hostname" };
  }
  if (lock.hostname !== hostname) {
    return { lock, verdict: "other-host", reason: `${who}, another host: its process cannot be checked from here` };
  }
  const p = facts(lock.pid);
  if (!p.alive) return { lock, verdict: "stale", reason: `${who} is gone` };
  const taken = lock.timestamp ? Date.parse(lock.timestamp) : NaN;
  if (p.startedAt && !Number.isNaN(taken) && p.startedAt.getTime() > taken + PID_REUSE_MARGIN_MS) {
    return { lock, verdict: "stale", reason: `${who} is gone (that pid now belongs to a process started after the lock was taken)` };
  }
  return { lock, verdict: "live", reason: `${who} is running: an update is in progress` };
}

/**
 * The directories a file backend keeps a stack's locks in: `.pulumi/locks/organization/<project>/<stack>`
 * for project-scoped stacks (what current CLIs write), and `.pulumi/locks/<stack>` for the legacy layout.
 * A fully qualified `org/project/stack` is used as given.
 */
export function lockDirs(backendDir: string, project: string, stack: string): string[] {
  const locks = join(backendDir, ".pulumi", "locks");
  const parts = stack.split("/");
  if (parts.length === 3) return [join(locks, ...parts)];
  if (parts.length === 2) return [join(locks, "organization", ...parts)];
  return [join(locks, "organization", project, stack), join(locks, stack)];
}

/** A pending operation as `pulumi stack export` writes it (deployment version 3). */
export interface PendingOperation {
  resource: { urn: string; type?: string };
  type: string;
}

/** The parts of an exported stack that recovery reads or changes. */
export interface ExportedStack {
  version: number;
  deployment: { pending_operations?: PendingOperation[] | null; [key: string]: unknown };
}

/** The resource's name and type from its URN (`urn:pulumi:stack::project::a$b$type::name`). */
export function shortUrn(urn: string): string {
  const parts = urn.split("::");
  const name = parts[parts.length - 1];
  const types = (parts[parts.length - 2] ?? "").split("$");
  return `${types[types.length - 1].replace(/^pulumi-nodejs:dynamic\//, "")} '${name}'`;
}

/** What a pending operation means for the next `up` once it is cleared. */
export function describePending(op: PendingOperation): string {
  const what = shortUrn(op.resource.urn);
  switch (op.type) {
    case "creating":
      return `${what} was being created: it is not in the state, so the next up creates it again (dbstack's steps are idempotent: one stopped part-way runs again from the start)`;
    case "updating":
      return `${what} was being updated: the state keeps its previous inputs, so the next up updates it again`;
    case "deleting":
      return `${what} was being deleted: it stays in the state, and the next up deletes it again if the program no longer declares it`;
    case "reading":
    case "importing":
      return `${what} was being ${op.type === "reading" ? "read" : "imported"}: the next up does it again`;
    default:
      return `${what}: an operation '${op.type}' was in progress`;
  }
}

/** The stack without its pending operations, and the operations removed. */
export function clearPending(exported: ExportedStack): { cleared: PendingOperation[]; next: ExportedStack } {
  const cleared = exported.deployment.pending_operations ?? [];
  const deployment = { ...exported.deployment };
  delete deployment.pending_operations;
  return { cleared, next: { ...exported, deployment } };
}
