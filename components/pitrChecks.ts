/**
 * The rules of a server deployment's `pitr` block (model/pitr.ts), by name, in the order they run.
 * deploy/validateServer.ts appends them to its list. Each message names the field.
 */
import type { EngineKind } from "./model/engineKind";
import type { DrillArgs, PitrArgs } from "./model/pitr";
import type { Target } from "./model/target";
import { ArgumentError, backupDirProblem, checkPlacement, checkSchedule, checkWholeNumber, RANGES, type Check } from "./validate";

/** What the pitr rules read of a deployment. */
export interface PitrSubject {
  args: { pitr?: PitrArgs; port?: number; target?: Target; dataDirectory?: string; toolsDir?: string };
  engine: { kind: EngineKind };
}

/** The ranges of pitr's whole numbers, [min, max]. */
export const PITR_RANGES = {
  archiveTimeoutS: [5, 3600],
  retentionFull: [1, 99],
} as const satisfies Record<string, readonly [number, number]>;

/** The engines whose deployments implement `pitr`. */
export const PITR_ENGINES: readonly EngineKind[] = ["postgres", "mariadb"];

/** The engines whose PITR takes differential backups (pitr.diffSchedule); the others take full ones only. */
export const PITR_DIFFERENTIAL_ENGINES: readonly EngineKind[] = ["postgres"];

function on(rule: (p: PitrArgs, s: PitrSubject) => void): (s: PitrSubject) => void {
  return (s) => {
    if (s.args.pitr !== undefined) rule(s.args.pitr, s);
  };
}

/** The engines whose PITR repository may live on another host (pitr.repositoryHost). */
export const PITR_REMOTE_ENGINES: readonly EngineKind[] = ["postgres"];

/** A host name or address as it reaches pgBackRest's configuration and known_hosts: no space, quote or newline. */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}$/;

/** The rules of `pitr.repositoryHost`, appended to PITR_CHECKS. */
export const PITR_REPOSITORY_HOST_CHECKS: readonly Check<PitrSubject>[] = [
  {
    name: "pitr.repositoryHost",
    check: on(({ repositoryHost: r }, { engine, args }) => {
      if (r === undefined) return;
      if (typeof r !== "object" || r === null || Array.isArray(r) || typeof r.target !== "object" || r.target === null) throw new ArgumentError("pitr.repositoryHost: expected { target: <an SSH host>, dir?: <path> }");
      if (!PITR_REMOTE_ENGINES.includes(engine.kind)) throw new ArgumentError(`pitr.repositoryHost: a repository on another host is implemented for ${PITR_REMOTE_ENGINES.join(", ")} only so far, not ${engine.kind}; remove repositoryHost (the repository stays on the primary's host)`);
      if (r.target.kind !== "ssh") throw new ArgumentError(`pitr.repositoryHost: expected a host reached over SSH (a name in dbstack:hosts), got a ${r.target.kind} target`);
      if (!HOST_NAME.test(r.target.host)) throw new ArgumentError(`pitr.repositoryHost: ${JSON.stringify(r.target.host)} is not a host name or address`);
      const primary = args.target;
      if (primary?.kind !== "ssh") throw new ArgumentError("pitr.repositoryHost: the repository host reaches the database back over SSH, so the deployment's own host must be an SSH host (dbstack:hosts) too, not this machine");
      if (primary.host === r.target.host && (primary.port ?? 22) === (r.target.port ?? 22)) throw new ArgumentError(`pitr.repositoryHost: ${r.target.host} is the deployment's own host; remove repositoryHost to keep the repository there (pitr.dir), or name another host`);
    }),
  },
  {
    name: "pitr.repositoryHost.dir",
    check: on(({ repositoryHost: r }) => {
      if (r !== undefined) checkPlacement("pitr.repositoryHost.dir", r.dir, true);
    }),
  },
];

export const PITR_CHECKS: readonly Check<PitrSubject>[] = [
  {
    name: "pitr is an object",
    check: ({ args }) => {
      if (args.pitr !== undefined && (typeof args.pitr !== "object" || args.pitr === null || Array.isArray(args.pitr))) throw new ArgumentError(`pitr: expected an object such as { archiveTimeoutS: 60 }, got ${JSON.stringify(args.pitr)}`);
    },
  },
  {
    name: "pitr: engine",
    check: on((_, { engine }) => {
      if (!PITR_ENGINES.includes(engine.kind)) throw new ArgumentError(`pitr: point-in-time recovery is implemented for ${PITR_ENGINES.join(", ")} deployments only so far, not ${engine.kind}; remove pitr (the nightly backup stays)`);
    }),
  },
  {
    name: "pitr: target",
    check: on((_, { args }) => {
      if (args.target?.kind === "docker") throw new ArgumentError("pitr: not available on a Docker target yet (the repository and the drills run on the server's host); use a local or SSH target");
    }),
  },
  {
    name: "pitr.dir",
    check: on((p, { args }) => {
      checkPlacement("pitr.dir", p.dir, true);
      const problem = p.dir === undefined ? undefined : backupDirProblem(p.dir, [[`the data directory ${args.dataDirectory}`, args.dataDirectory], [`toolsDir ${args.toolsDir}`, args.toolsDir]]);
      if (problem) throw new ArgumentError(`pitr.dir: ${problem}`);
    }),
  },
  { name: "pitr.archiveTimeoutS", check: on((p) => checkWholeNumber("pitr.archiveTimeoutS", p.archiveTimeoutS, ...PITR_RANGES.archiveTimeoutS)) },
  { name: "pitr.fullSchedule", check: on((p) => checkSchedule("pitr.fullSchedule", p.fullSchedule)) },
  { name: "pitr.diffSchedule", check: on((p) => checkSchedule("pitr.diffSchedule", p.diffSchedule)) },
  { name: "pitr.retentionFull", check: on((p) => checkWholeNumber("pitr.retentionFull", p.retentionFull, ...PITR_RANGES.retentionFull)) },
  {
    name: "pitr.encrypt",
    check: on((p) => {
      if (p.encrypt !== undefined && typeof p.encrypt !== "boolean") throw new ArgumentError(`pitr.encrypt: expected true or false, got ${JSON.stringify(p.encrypt)}`);
    }),
  },
  { name: "pitr.drill.schedule", check: on((p) => checkSchedule("pitr.drill.schedule", p.drill?.schedule)) },
  {
    name: "pitr.drill.port",
    check: on((p, { args }) => {
      checkWholeNumber("pitr.drill.port", p.drill?.port, ...RANGES.port);
      if (p.drill?.port !== undefined && p.drill.port === args.port) throw new ArgumentError(`pitr.drill.port: ${p.drill.port} is the deployment's own port; a drill's scratch instance needs another`);
    }),
  },
  {
    name: "pitr.drill.onFailure",
    check: on((p) => {
      const c = p.drill?.onFailure;
      if (c !== undefined && (typeof c !== "string" || c.trim() === "" || c.includes("\0"))) throw new ArgumentError("pitr.drill.onFailure: expected a non-empty shell command (text without NUL characters)");
    }),
  },
  {
    name: "pitr.diffSchedule: engine",
    check: on((p, { engine }) => {
      if (p.diffSchedule !== undefined && !PITR_DIFFERENTIAL_ENGINES.includes(engine.kind)) {
        throw new ArgumentError(`pitr.diffSchedule: ${engine.kind} point-in-time recovery takes full physical backups only (pitr.fullSchedule, default daily); the archived binary logs cover every moment between them; remove diffSchedule`);
      }
    }),
  },
  ...PITR_REPOSITORY_HOST_CHECKS,
];

/** What the backup-drill rules read: the deployment's backups and whether its engine drills them. */
export interface BackupDrillSubject {
  args: { backup?: { drill?: DrillArgs }; target?: Target };
  engine: { kind: EngineKind };
}

/** The engines whose nightly backups (`backup.drill`) have drills. */
export const BACKUP_DRILL_ENGINES: readonly EngineKind[] = ["sqlite", "postgres"];

export const BACKUP_DRILL_CHECKS: readonly Check<BackupDrillSubject>[] = [
  {
    name: "backup.drill: engine",
    check: ({ args, engine }) => {
      if (args.backup?.drill !== undefined && !BACKUP_DRILL_ENGINES.includes(engine.kind)) {
        throw new ArgumentError(`backup.drill: drills of the nightly ${engine.kind} backups are not implemented yet; declare pitr with pitr.drill (PostgreSQL, MariaDB) instead`);
      }
    },
  },
  {
    name: "backup.drill: target",
    check: ({ args, engine }) => {
      if (args.backup?.drill !== undefined && engine.kind !== "sqlite" && args.target?.kind === "docker") throw new ArgumentError("backup.drill: a drill of a server's nightly backups is not available on a Docker target yet (its scratch instance runs on the server's host); use a local or SSH target");
    },
  },
  { name: "backup.drill.schedule", check: ({ args }) => checkSchedule("backup.drill.schedule", args.backup?.drill?.schedule) },
  {
    name: "backup.drill.port",
    check: ({ args, engine }) => {
      if (args.backup?.drill?.port !== undefined && engine.kind === "sqlite") throw new ArgumentError("backup.drill.port: an SQLite drill restores into a scratch file and uses no port; remove it");
    },
  },
  {
    name: "backup.drill.onFailure",
    check: ({ args }) => {
      const c = args.backup?.drill?.onFailure;
      if (c !== undefined && (typeof c !== "string" || c.trim() === "" || c.includes("\0"))) throw new ArgumentError("backup.drill.onFailure: expected a non-empty shell command (text without NUL characters)");
    },
  },
];
