import type { Target } from "./target";

/**
 * Point-in-time recovery and restore drills, as a deployment declares them (`pitr` of a server
 * deployment). PostgreSQL implements them with pgBackRest (engines/postgres/pitrScripts.ts).
 * Defaults are in defaults.ts (DEFAULTS.pitr).
 */

/** A scheduled restore drill: restore the newest backup into a scratch instance, check it, record the result. */
export interface DrillArgs {
  /**
   * Cron schedule (five fields, host time). Default: daily, an hour after the backup schedule's
   * time (pitrDrillSchedule), or 03:00 when that schedule is not one fixed time of day.
   */
  schedule?: string;
  /**
   * The scratch instance's TCP port (it listens on no address: local socket only). Default: the
   * first free port above the deployment's port. Never the deployment's own port.
   */
  port?: number;
  /**
   * Run when a drill fails, with DRILL_RESULT set to the result file (JSON), e.g.
   * `mail -s "restore drill failed" ops@example.com < "$DRILL_RESULT"`. Default: none. The user's
   * text: kept in a 0600 file beside the tools and run with bash, never part of a script.
   */
  onFailure?: string;
}

/** Continuous archiving and point-in-time recovery of a server deployment. */
export interface PitrArgs {
  /**
   * The repository directory on the primary's host (created 0700, owned by the server's user).
   * Default `/var/lib/dbstack-pitr/<hostPrefix>-<engine>-<name>`. Kept by destroy unless the stack
   * allows data removal.
   */
  dir?: string;
  /**
   * The recovery-point objective, in seconds: the server switches to a new WAL file (which is then
   * archived) at least this often while there are writes (PostgreSQL's archive_timeout; MariaDB's
   * binary log is flushed and archived as often). Default 60.
   * From 5 to 3600.
   */
  archiveTimeoutS?: number;
  /** Cron schedule of full backups (five fields, host time). Default `0 1 * * 0` (Sundays at 01:00). */
  fullSchedule?: string;
  /** Cron schedule of differential backups. Default `0 1 * * 1-6` (the other days at 01:00). */
  diffSchedule?: string;
  /** Full backups kept (with the differentials and WAL that depend on them). Default 2. From 1 to 99. */
  retentionFull?: number;
  /**
   * Encrypt the repository (AES-256) with a generated secret, kept as a Pulumi secret and on the
   * host only in the 0600 repository configuration. Default true.
   */
  encrypt?: boolean;
  /** The restore drill of these backups. Default: a daily drill (DrillArgs' defaults). */
  drill?: DrillArgs;
  /**
   * The repository on another host, reached over SSH (PostgreSQL: pgBackRest's dedicated
   * repository host). Default: none, the repository is on the primary's host in `dir`. With it,
   * `dir` on the primary's host keeps only the drills' figures and results.
   */
  repositoryHost?: PitrRepositoryHostArgs;
}

/** A repository host: where pgBackRest keeps the backups and the WAL archive, away from the database's host. */
export interface PitrRepositoryHostArgs {
  /**
   * The host: an SSH target (in stack config, a name in dbstack:hosts), reached by dbstack with
   * its key and pinned host keys. dbstack creates the `pgbackrest` user there and generates the
   * two key pairs the database host and the repository host log in to each other with (secrets;
   * no password authentication). Not the primary's own host.
   */
  target: Target;
  /**
   * The repository directory on that host (created 0700, owned by `pgbackrest`).
   * Default `/var/lib/dbstack-pitr/<hostPrefix>-<engine>-<name>`. Kept by destroy unless the
   * stack allows data removal.
   */
  dir?: string;
}
