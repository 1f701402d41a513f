/**
 * What an engine supplies for point-in-time recovery (a server deployment's `pitr`): the tools
 * (pitr-backup, pitr-restore, pitr-drill), the setup step's script and its removal. Pure
 * renderers; deploy/phases/pitr.ts decides the steps. PostgreSQL: engines/postgres/pitr.ts.
 */
import type { ToolFile } from "./operations";

/** Everything the PITR renderers of one deployment read, defaults applied. */
export interface PitrSpec {
  /** Deployment name. */
  name: string;
  /** The repository's name for this deployment (pgBackRest's stanza). */
  stanza: string;
  /** The repository's configuration file on the host (0600: it holds the cipher secret). */
  confFile: string;
  /** Repository directory on the host. */
  dir: string;
  /** Seconds: the recovery-point objective. */
  archiveTimeoutS: number;
  retentionFull: number;
  encrypt: boolean;
  databases: string[];
  /** The drill's scratch port; undefined: the first free one above the deployment's. */
  drillPort?: number;
  drillHistory: number;
  /** The onFailure command's file in the tools directory; undefined: none declared. */
  onFailureFile?: string;
}

export interface PitrEngine<Loc> {
  /** The environment variable the setup step reads the cipher secret from. */
  readonly cipherVariable: string;
  /** The tools, in install order. */
  tools(loc: Loc, spec: PitrSpec): ToolFile[];
  /** The setup step (idempotent): repository, archiving, first backup. `toolsDir` holds the tools. */
  renderSetup(loc: Loc, spec: PitrSpec, toolsDir: string): string;
  /** Destroy: archiving off; the repository kept unless data removal is allowed. */
  renderRemove(loc: Loc, spec: PitrSpec, allowDataRemoval: boolean): string;
  /** What the setup step's description says of the repository, e.g. `pgBackRest stanza x, archive_timeout 60s`. */
  describe(spec: PitrSpec): string;
  /** Server parameters archiving sets that need a restart (the preview calls them out). */
  readonly restartParameters: Record<string, string>;
  /** The environment variable the setup step reads a generated backup account's password from. Default: none (no account). */
  readonly accountVariable?: string;
  /** The engine takes full backups only (pitr.diffSchedule cannot apply; binary logs cover the time between). Default false. */
  readonly fullOnly?: boolean;
  /** The archiver's command line under the tools directory, run by cron every minute. Default: none (the server archives). */
  readonly archiveCommand?: string;
}
