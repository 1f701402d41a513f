/**
 * What an engine supplies to the deployment (components/deploy/). Every member is a pure function
 * of the declared spec returning a script, SQL wrapped in a script, or a value; the deployment
 * decides the steps, their order and their resources, the same for every engine on every target.
 *
 * Two contracts, one wiring: every engine implements OperationsEngine, what the operations phase
 * (tools, backups and their schedule, restore, maintenance) needs, and supplies a HookDialect
 * (hooks/dialect.ts) to the hooks phase (post-deploy hooks, health checks). A server engine
 * (PostgreSQL, MariaDB) implements ServerEngine, which extends OperationsEngine with install,
 * instance, configuration, accounts and standbys. SQLite has no server: it implements
 * OperationsEngine only (engines/sqlite/engine.ts), and its component shares the operations and
 * hooks phases with every server. A third server engine adds a file implementing ServerEngine, not
 * another orchestrator.
 *
 * `Loc` is the engine's own "where the instance lives" (PostgreSQL's version/cluster/port, MariaDB's
 * instance/port/data directory, SQLite's file and its tools), known once the installed version is.
 */
import type { BackupPolicy } from "../backups/policy";
import type { HookDialect } from "../hooks/dialect";
import type { DatabaseArgs, UserArgs } from "../model/args";
import type { EngineKind } from "../model/engineKind";
import type { HostFacts, TunedParameters, Workload } from "../model/tuning";
import type { CertificateLifetime } from "../tls/lifetime";
import type { PitrEngine } from "./pitr";
import type { ToolFile } from "./operations";

/** What the install step reports about the host. */
export interface InstalledServer {
  /** The installed server's major version, e.g. "15" or "10.11". */
  version: string;
  memoryMb: number;
  cpus: number;
}

/** An instance before its version is known: what the deployment declares about it. */
export interface InstanceSpec {
  /** Instance name on its host (PostgreSQL cluster name, MariaDB instance name). */
  instance: string;
  port: number;
  /** Declared data directory; default: the engine's layout. */
  dataDirectory?: string;
  /** Declared major version; default: the distribution's. */
  version?: string;
  /** The marker line of the stack that owns the instance (targets/ownership.ts). Default: none. */
  owner?: string;
}

/** Network access of an instance. */
export interface AccessModel {
  /** Addresses the server listens on. */
  listenAddresses: string[];
  /** Client networks allowed over TLS with passwords. */
  allowedCidrs: string[];
  /** Addresses of the standbys that replicate from this instance (empty on a standby). */
  standbyAddresses: string[];
  /** The role standbys connect as. */
  replicationUser: string;
}

/** Everything the configure step of one instance renders. */
export interface InstanceConfig {
  /** Tuned parameters, declared overrides merged in. */
  tuned: TunedParameters;
  access: AccessModel;
  /** Whether this instance is the primary or a standby, and its replication id (1 for the primary). */
  role: "primary" | "standby";
  serverId: number;
  /** Whether the deployment has standbys (the primary then keeps what they need). */
  hasStandbys: boolean;
  /**
   * Names the host's TLS certificate is valid for; on a standby, the certificate the deployment's
   * CA signed for its key, and the CA's certificate.
   */
  tls: { names: string[]; certificate?: string; caCertificate?: string; lifetime?: CertificateLifetime };
  /** Point-in-time recovery archives this instance's changes (MariaDB: binary log on). Default false. */
  archiving?: boolean;
}

/** How a standby reaches its primary. */
export interface StandbySource {
  /** Standby name (PostgreSQL: its replication slot). */
  name: string;
  primaryHost: string;
  primaryPort: number;
  replicationUser: string;
  /** Environment variable holding the replication password. */
  passwordEnv: string;
  /**
   * The deployment's CA certificate (the CA step's output), which the standby verifies its
   * primary's certificate against. Absent when the primary's certificate is the user's own (`tls`).
   */
  caCertificate?: string;
}

/** What the hooks and the on-demand health tool of one database need. */
export interface HookModel {
  database: string;
  owner: string;
  /** The owner's password file (0600, root) for the on-demand health tool. */
  ownerPasswordFile: string;
  expectedStandbys: number;
  backup?: { dir: string; prefix: string; maxAgeHours: number; cronFile: string };
  /** The last restore drill's result file, for the health check that warns on a failed or late drill. Default: none. */
  drill?: { file: string; maxAgeHours: number; cronFile: string };
}

/** A database's URLs in the flavours applications use, by flavour name. */
export type Urls = Record<string, string>;

/** What a backup or restore tool is rendered for. */
export interface BackupToolSpec {
  /** Deployment name: backups are `<name>-<UTC time><extension>.gz[.gpg]`. */
  name: string;
  /** The databases it backs up (a server's; SQLite's one file). */
  databases: string[];
  policy: BackupPolicy;
}

/** What the operations phase (deploy/phases/operations.ts) needs from any engine, server or file. */
export interface OperationsEngine<Loc> {
  readonly kind: EngineKind;
  /** The file extension of one backup. */
  readonly backupExtension: string;
  renderBackup(loc: Loc, spec: BackupToolSpec): string;
  renderRestore(loc: Loc, spec: BackupToolSpec): string;
  /** The `maintenance` tool (vacuum, analyze ...). Absent: the engine has none. */
  renderMaintenance?(loc: Loc, spec: { name: string; databases: string[] }): string;
  /** The restore drill of a server's nightly backups (`backup.drill`): the `drill` tool and its onFailure file. Absent: the engine has none. */
  backupDrillTools?(loc: Loc, spec: BackupDrillToolSpec): ToolFile[];
}

/** What a drill of a server's nightly backups reads (defaults applied). */
export interface BackupDrillToolSpec {
  name: string;
  databases: string[];
  /** The backups' directory. */
  dir: string;
  /** The scratch instance's port; undefined: the first free one above the deployment's. */
  scratchPort?: number;
  /** The declared onFailure command (the user's text), and its file in the tools directory. */
  onFailure?: string;
  onFailureFile?: string;
  /** Results kept in the history file. */
  history: number;
  /** The databases' declared health checks the drill runs in the restored copy, as their owners; their files are the health tools' (`<checkDir>/health-<db>.check-<n>.*`). Default: none. */
  healthChecks?: { database: string; owner: string; checks: { expect: boolean; match: boolean }[] }[];
  checkDir?: string;
}

export interface ServerEngine<Loc, Db extends DatabaseArgs = DatabaseArgs, User extends UserArgs = UserArgs> extends OperationsEngine<Loc> {
  readonly kind: Exclude<EngineKind, "sqlite">;
  /** "PostgreSQL", "MariaDB". */
  readonly title: string;
  /** What one instance is called: "cluster", "instance". */
  readonly instanceNoun: string;
  readonly defaultPort: number;
  /** The role standbys connect as (names starting dbstack_ are reserved for these). */
  readonly replicationUser: string;
  /** The URL flavour an external migration command gets as DATABASE_URL. */
  readonly databaseUrlFlavor: string;

  /**
   * Why declared parameter overrides cannot be used, if they cannot: the syntax, then the engine's
   * parameter policy (engines/parameterPolicy.ts) with the `unsafeParameters` the deployment
   * accepts. Names the field (`parameters.<name>: ...` or `unsafeParameters: ...`).
   */
  overridesProblem(overrides: Record<string, string>, unsafeParameters?: readonly string[]): string | undefined;
  /** What a reviewer should know about accepted overrides (statement logs, unsafe parameters accepted). */
  parameterWarnings(overrides: Record<string, string>, unsafeParameters?: readonly string[]): string[];
  /** The engine's rules on a database (identifiers, encodings); throws ArgumentError naming the field. */
  checkDatabase(db: Db): void;
  /** The engine's rules on a user and its grants; throws ArgumentError naming the field. */
  checkUser(user: User, databases: Db[]): void;

  // Install and the instance ----------------------------------------------------------------
  renderInstall(version: string | undefined): string;
  parseInstalled(stdout: string): InstalledServer;
  locate(instance: InstanceSpec, version: string): Loc;
  /**
   * Creates the primary's instance if missing; never touches an existing one. An existing
   * instance or data directory with another stack's marker is refused; one with no marker is
   * refused too, unless `adopt` (the instance is already in this stack's state: a deployment
   * made before markers existed), which writes this stack's marker.
   */
  renderCreate(loc: Loc, opts?: { adopt?: boolean }): string;
  /** Read-only, run at preview: fails when another stack's marker is on the instance or its data directory, naming the owner and field. */
  renderOwnerProbe(loc: Loc): string;
  /**
   * Read-only, run at preview with the owner probe: fails with a `version: …` line when the host
   * runs the instance (or the server) in another version than the declared one, so the mismatch
   * is an error in the preview, before any step. `where` names the host for the message.
   */
  renderVersionProbe(loc: Loc, declared: string, where: string): string;
  /** Stops the instance; deletes its data only when allowed; leaves an instance another stack owns (or none does) as it is. */
  renderRemove(loc: Loc, allowDataRemoval: boolean): string;

  // In a container (a Docker target) ------------------------------------------------------------
  /** The image a container runs when the deployment declares none (Debian-based, see the README's image contract). */
  readonly defaultImage: string;
  /** The directories that must outlive the container: a named volume is mounted on each, by suffix. */
  containerVolumes(instance: InstanceSpec): { suffix: string; path: string }[];
  /** Starts the instance when it exists and is not running (what a container runs when it starts). */
  renderStart(loc: Loc): string;
  /** Stops the instance cleanly (what a container runs when it is stopped). */
  renderStop(loc: Loc): string;
  /** A shell command that exits 0 while the server answers on its port (the container's health check). */
  healthCommand(instance: InstanceSpec): string;

  // Configuration ------------------------------------------------------------------------------
  tune(facts: HostFacts, spec: { workload: Workload; maxConnections: number; version: string; overrides: Record<string, string> }): TunedParameters;
  /** The values of parameters the configure step sets that need a restart to change (for the preview). */
  restartValues(version: string, config: InstanceConfig, port: number): Record<string, string>;
  /** Writes the configuration and applies it (start, reload/SET GLOBAL, or restart); prints what it did. */
  renderConfigure(loc: Loc, config: InstanceConfig): string;
  /**
   * The configure step's probe: a read-only script that exits non-zero unless the server runs and
   * answers on its declared port, so that an up after a failed one, or after the server was
   * stopped from outside, starts it again instead of reporting the step unchanged. With
   * `certificateDays` (a certificate dbstack issues), it fails too when the host's certificate is
   * due for renewal (tls/lifetime.ts), so the preview shows the renewal as an update.
   */
  renderServingProbe(loc: Loc, certificateDays?: number): string;

  // TLS: a CA per deployment on the primary's host; each host its own key ----------------------
  renderCa(loc: Loc, lifetime?: CertificateLifetime): string;
  /** Read-only, the CA step's probe: exits 0 while the CA certificate is current; non-zero when it is due for renewal, so `up` runs renderCa, which renews it with the same key. */
  renderCaProbe(loc: Loc, lifetime?: CertificateLifetime): string;
  renderStandbyKey(loc: Loc): string;
  renderSignStandbyCertificate(primary: Loc, standby: { name: string; publicKey: string; names: string[]; lifetime?: CertificateLifetime }): string;

  // Users, databases, grants -------------------------------------------------------------------
  renderUser(loc: Loc, user: User, passwordEnv: string): string;
  renderRemoveUser(loc: Loc, user: User, databases: Db[], allowDataRemoval: boolean): string;
  renderDatabase(loc: Loc, db: Db): string;
  renderRemoveDatabase(loc: Loc, db: Db, allowDataRemoval: boolean): string;
  renderGrants(loc: Loc, user: User, databases: Db[]): string;

  // Standbys -----------------------------------------------------------------------------------
  /** On the primary: the replication role (password in `passwordEnv`) and what each standby needs. */
  renderReplicationSource(loc: Loc, source: { passwordEnv: string; standbys: { name: string; address: string }[] }): string;
  /** On a standby's host: creates its instance (PostgreSQL clones the primary here). */
  /** Creates a standby (see renderCreate for the owner check and `adopt`). */
  renderCreateStandby(loc: Loc, source: StandbySource, opts?: { adopt?: boolean }): string;
  /** On a standby's host after its configuration: starts following (MariaDB seeds and starts replication). */
  renderFollow?(loc: Loc, source: StandbySource): string;
  /** The standby's `promote` tool. */
  renderPromote(loc: Loc): string;

  // Maintenance and hooks (backup and restore: OperationsEngine) ------------------------------
  renderMaintenance(loc: Loc, spec: { name: string; databases: string[] }): string;
  /** How the hook runner and the health tools talk to one database (SQLite's needs no model: sqliteDialect). */
  dialect(loc: Loc, hook: HookModel): HookDialect;
  urls(c: { user: string; password: string; host: string; port: number; database: string; caCertificateFile?: string }): Urls;

  // Monitoring (model/monitoring.ts) -----------------------------------------------------------
  /** On the primary: creates or converges the least-privilege monitoring account, its password in `passwordEnv`. */
  renderMonitorAccount(loc: Loc, passwordEnv: string): string;
  /** On the primary, with slow-query logging declared: what keeps per-statement statistics (PostgreSQL's pg_stat_statements extension). */
  renderStatementStatistics(loc: Loc): string;
  /** The slow-query log of an instance and who owns it, for its rotation (engines/slowQueryLog.ts). */
  slowLog(loc: Loc): { file: string; owner: string; group: string; coveredBy?: string };
  /** Point-in-time recovery and restore drills (a deployment's `pitr`). Absent: the engine has none yet. */
  readonly pitr?: PitrEngine<Loc>;
}
