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
  /** The repository on another host (pitr.repositoryHost); undefined: in `dir` on the primary's host. */
  remote?: PitrRemoteSpec;
}

/**
 * A repository on another host, as both hosts' renderers read it. `dir` of the PitrSpec then
 * holds only the drills' figures and results, on the primary's host.
 */
export interface PitrRemoteSpec {
  /** The repository host's address and SSH port, as the database host reaches it. */
  host: string;
  port: number;
  /** The user owning the repository there, whom the database host logs in as. */
  user: string;
  /** That user's home directory (its authorized_keys). */
  home: string;
  /** The repository directory there. */
  dir: string;
  /** pgBackRest's configuration there (0600, owned by `user`: it holds the cipher secret). */
  confFile: string;
  /** The SSH key, known_hosts and ssh wrapper of the repository host's user. */
  sshDir: string;
  /** The database host's address and SSH port, as the repository host reaches it back. */
  dbHost: string;
  dbPort: number;
  /** The SSH key, known_hosts and ssh wrapper of the database host's server user. */
  dbSshDir: string;
  /** The standbys backups are taken from (pgBackRest's backup-standby), on SSH hosts; filled where the repository host's step is rendered. Default: none. */
  standbys?: PitrStandbySpec[];
}

/** A standby the repository host takes backups from. */
export interface PitrStandbySpec {
  name: string;
  /** Its host's address and SSH port, as the repository host reaches it. */
  host: string;
  sshPort: number;
  /** Its data directory and port there. */
  dataDirectory: string;
  port: number;
  /** pgBackRest's configuration there (its data directory). */
  confFile: string;
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
  /** The repository on another host (spec.remote); undefined: the engine has none (pitrChecks refuses it first). */
  readonly repositoryHost?: PitrRepositoryHostEngine<Loc>;
}

/** What an engine renders for a repository on another host, and the variables its steps read. */
export interface PitrRepositoryHostEngine<Loc> {
  /** The repository host's step (idempotent): its user, the repository, its configuration, its side of the SSH login. */
  renderSetup(loc: Loc, spec: PitrSpec): string;
  /** Destroy there: the login withdrawn; the repository kept unless data removal is allowed. */
  renderRemove(loc: Loc, spec: PitrSpec, allowDataRemoval: boolean): string;
  /** A standby's step: pgBackRest, its configuration, and the repository host's login (spec.remote.standbys holds it). */
  renderStandby(spec: PitrSpec, standby: PitrStandbySpec): string;
  renderStandbyRemove(spec: PitrSpec, standby: PitrStandbySpec): string;
  /** A standby instance's data directory and port, from its location. */
  standbyOf(loc: Loc): { dataDirectory: string; port: number };
  /** The variable the repository host's step reads the i-th standby's pinned host keys from. */
  standbyHostKeysVariable(i: number): string;
  /** The user owning the repository there, and its home. */
  readonly user: string;
  readonly home: string;
  /** The comments of the database host's and the repository host's generated keys. */
  keyComments(spec: PitrSpec): { db: string; repo: string };
  /** The variables each side's step reads its own private key, the peer's public key and the peer's host keys from. */
  readonly variables: { privateKey: string; peerKey: string; peerHostKeys: string };
}
