/**
 * The declared model every engine shares: databases, users and their grants, backups, standbys and
 * hooks, and the server deployment around them. Engines extend these with their own fields
 * (PostgreSQL's locale and extensions, MariaDB's collation and account hosts); nothing here is
 * written twice per engine. Defaults are in defaults.ts.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { GrantRole } from "./grants";
import type { HealthCheck, MigrationSource } from "./hooks";
import type { DrillArgs, PitrArgs } from "./pitr";
import type { MetricsArgs } from "./metrics";
import type { Target } from "./target";
import type { HostFacts, Workload } from "./tuning";
import type { HaArgs } from "./ha";
import type { ImportSchema } from "./importSchema";

export type { GrantRole };

/** One database of a deployment. */
export interface DatabaseArgs {
  /** Database name: lower-case letters, digits and _, starting with a letter or _. */
  name: string;
  /** The user that owns it: one of `users`. Migrations and declared checks run as this user. */
  owner: string;
  /** Schema migrations run after each deploy that changes something, as the owner. Default: none. */
  migrations?: MigrationSource;
  /** Health checks run after migrations, besides the engine's built-in ones. Default: none. */
  healthChecks?: HealthCheck[];
  /**
   * Seed the database once, in the `up` that creates this step, with a verified copy of another
   * database (components/deploy/importStep.ts). Default: none. A later up never copies again.
   */
  importFrom?: ImportFromArgs;
}

/**
 * Where a new database's data comes from: copied once into the new, empty database after its
 * owner and grants exist and before its post-deploy hook (migrations and checks) runs. The copy
 * runs on the machine running Pulumi, and is verified (row counts and checksums per table).
 */
export interface ImportFromArgs {
  /** The source as the preview names it, e.g. "sqlite `app`" or "postgres `main/app`". */
  source: string;
  /**
   * The source's URL in a form the copy reads (`sqlite:///abs/path`, `postgresql://`, `mysql://`);
   * a secret when it holds a password. The source is only read.
   */
  url: pulumi.Input<string>;
  /**
   * The PEM certificate of the CA that signed a server source's certificate (its deployment's
   * `caCertificate` output): with it the copy verifies the source's TLS certificate and host name
   * (`url` must then ask for verification, see importStep.ts). Default: none (SQLite sources).
   */
  caCertificate?: pulumi.Input<string>;
  /** Ids of lossy conversions accepted, as `npm run db:copy -- --dry-run` lists them. Default: none (a lossy conversion fails the up). */
  allow?: string[];
  /** Where scripts/db-copy.ts and node_modules are: the copy runs there. Default: Pulumi's root directory (where Pulumi.yaml is). */
  projectDir?: string;
  /** What must exist before the copy reads the source, e.g. the source's deployment. Default: none. */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
  /**
   * Who makes the tables (model/importSchema.ts): `copy` creates them, before the database's
   * post-deploy hook; `migrations` runs the hook (the declared `migrations`, then the health checks)
   * first and copies into the tables the migrations made, leaving their bookkeeping table as they
   * wrote it. Default `copy` (DEFAULTS.importFrom.schema).
   */
  schema?: ImportSchema;
}

/** A login user and what it may do. */
export interface UserArgs {
  /** User name: lower-case letters, digits and _. Names starting with `dbstack_` are dbstack's. */
  name: string;
  /** Per database: `owner`, `readwrite` or `readonly` (each includes the ones after it). */
  grants: Record<string, GrantRole>;
  /** Concurrent connections allowed. Default -1: no limit (MariaDB renders it as 0). */
  connectionLimit?: number;
  /** A password to use instead of a generated one (a secret). Default: generated, 32 characters. */
  password?: pulumi.Input<string>;
  /** Change to rotate a generated password. Default 0. */
  passwordRotation?: string | number;
}

/** Cron backups of a deployment's databases. */
export interface BackupArgs {
  /** Cron schedule (five fields, host time). Default `0 2 * * *`. */
  schedule?: string;
  /** Directory of the backup files (created 0700; files 0600). Default: per engine (see the component). */
  dir?: string;
  /** Days a backup is kept. Default 30. */
  retentionDays?: number;
  /** Encrypt each backup to this GPG key (its public key in root's keyring). Default: not encrypted. */
  gpgRecipient?: string;
  /** Run after each backup with BACKUP_FILE set, to copy it off the host. Default: none. */
  offHostCommand?: string;
  /**
   * Hours after which the newest backup counts as too old for the health check (also how long
   * "no backup yet" may last after the schedule is installed). Default: 1.5 times the longest gap
   * between two runs of the schedule (36 for daily backups). Server engines only.
   */
  maxAgeHours?: number;
  /**
   * A restore drill of these backups (docs/pitr.md): restore the newest into a scratch file, check
   * it, record the result. SQLite databases only so far (a server deployment's drills are
   * `pitr.drill`). Default: none.
   */
  drill?: DrillArgs;
}

/** A standby replica on another host (PostgreSQL streaming replication, MariaDB GTID replication). */
export interface StandbyArgs {
  /** Standby name: lower-case letters, digits and _ (not one of dbstack's step names, see naming.ts). */
  name: string;
  /** The standby's host; an SSH target carries its own key. */
  target: Target;
  /** The standby's address as the primary sees it (allowed to replicate). */
  address: string;
  /** Port on the standby's host. Default: the primary's. */
  port?: number;
  /** On a Docker target: the standby's container. Default: the deployment's `container`. */
  container?: ContainerArgs;
}

/** What every server deployment (PostgreSQL, MariaDB) declares. */
/**
 * How a server runs in a container, on a Docker target (`target.kind: "docker"`); refused on any
 * other target. Every field has a default, so moving a deployment into a container needs only a
 * new target. dbstack initialises and starts the server itself (see the README's image contract).
 */
export interface ContainerArgs {
  /**
   * The image: a tag (`postgres:15-bookworm`) or a digest (`postgres@sha256:…`), which pins it.
   * Default: the engine's (DEFAULTS.container.images). Changing it re-creates the container; the
   * data stays in its volumes.
   */
  image?: string;
  /** Memory limit in MiB (`--memory`); tuning sizes for it. Default: none (tuned for the Docker host's memory). */
  memoryMb?: number;
  /** CPU limit (`--cpus`, may be fractional); tuning sizes for it. Default: none. */
  cpus?: number;
  /**
   * Addresses on the Docker host the server's port is published on (`-p address:port:port`),
   * and nothing else. Default ["127.0.0.1"]. Ignored on the host network.
   */
  publishAddresses?: string[];
  /**
   * The Docker network: "host" (the server listens on the host's addresses, like a local
   * deployment; standbys on the same host reach it at localhost) or a network's name.
   * Default: the engine's default bridge network.
   */
  network?: string;
  /** Restart policy: "no", "on-failure", "always" or "unless-stopped". Default "unless-stopped". */
  restartPolicy?: "no" | "on-failure" | "always" | "unless-stopped";
}

export interface ServerDeploymentArgs<Db extends DatabaseArgs = DatabaseArgs, User extends UserArgs = UserArgs, Standby extends StandbyArgs = StandbyArgs> {
  /** The primary's host. Default: this machine. */
  target?: Target;
  /** How clients reach the primary, in URLs. Default: the SSH host's address, or localhost. */
  address?: string;
  /** TCP port. Default: the engine's (5432, 3306). */
  port?: number;
  /** On a Docker target: the container the server runs in. Default: see ContainerArgs. Refused on other targets. */
  container?: ContainerArgs;
  /** Data directory on the primary's host. Default: the engine's layout, named after the instance. */
  dataDirectory?: string;
  /** Host facts for tuning; what is not declared is read from the host on every run. Storage defaults to ssd. */
  hostFacts?: Partial<HostFacts>;
  /** What the server mostly serves. Default "mixed". */
  workload?: Workload;
  /** Client connections the server accepts. Default 100. */
  maxConnections?: number;
  /**
   * Server parameters that win over the tuned ones (names as in the engine's config file). Default:
   * none. Parameters dbstack sets from another field (port, data directory, listen addresses, TLS,
   * replication) are refused naming that field; parameters that disable authentication, load code,
   * read files for clients or log statements with passwords are refused unless `unsafeParameters`
   * names them (each engine's table: engines/<engine>/parameterPolicy.ts).
   */
  parameters?: Record<string, string>;
  /**
   * Unsafe parameters this deployment accepts in `parameters`, by name (e.g. ["general_log"]):
   * MariaDB's skip_grant_tables, skip_networking, plugin_load(_add), init_file, init_connect,
   * general_log, local_infile, secure_file_priv ...; PostgreSQL's shared_preload_libraries beyond
   * the known libraries, password_encryption below scram-sha-256, archive_command ... A name that
   * is not one of the engine's unsafe parameters is an error. Default: none.
   */
  unsafeParameters?: string[];
  /** Addresses the server listens on. Default ["localhost"]. */
  listenAddresses?: string[];
  /** Client networks allowed over TLS with passwords. Default: none (local clients only). */
  allowedCidrs?: string[];
  /**
   * A certificate and key for the primary (secrets). Default: the primary's own key with a
   * certificate signed by the deployment's CA (made on the primary's host; `caCertificate` output).
   */
  tls?: { certificate: pulumi.Input<string>; privateKey: pulumi.Input<string> };
  /**
   * How long the certificates dbstack issues are valid, in days: `certificateDays` for each host's
   * certificate (default 365), `caDays` for the deployment's CA (default 3650). `up` issues a
   * host's certificate again, and the server reloads it without a restart, when less than a third
   * of `certificateDays` remains or it is valid for longer than declared (see tls/lifetime.ts); the
   * preview shows that step as an update. Not used for a certificate the user gives (`tls`).
   */
  certificateLifetime?: { certificateDays?: number; caDays?: number };
  /** Where clients keep the `caCertificate` output, named in the verify-full URLs. Default: none. */
  caCertificateFile?: string;
  /** The databases. At least one. */
  databases: Db[];
  /** The users, with their grants. */
  users: User[];
  /** Cron backups. Default: none. */
  backup?: BackupArgs;
  /** Cron schedule of vacuum/analyze (PostgreSQL) or ANALYZE (MariaDB). Default: none. */
  maintenanceSchedule?: string;
  /** Standby replicas. Default: none. */
  standbys?: Standby[];
  /** Tools directory on each host. Default `/usr/local/lib/<hostPrefix>/<engine>-<name>`. */
  toolsDir?: string;
  /** Whether destroy drops data: instances, databases, backups. Default false. */
  allowDataRemoval?: boolean;
  /** First part of host-level names. Default: `dbstack-<stack>-<id>`, see naming.ts. */
  hostPrefix?: string;
  /**
   * Statements that run longer than this many milliseconds are logged, and statistics are kept
   * per statement for `status`'s slowest statements: PostgreSQL's log_min_duration_statement and
   * pg_stat_statements; MariaDB's slow query log (long_query_time) and performance_schema's
   * statement digests. The log is rotated on the host (logrotate where it is installed, a cron
   * job otherwise). Declared `parameters` win over what this sets. Default: none (no slow-query log).
   */
  slowQueryMs?: number;
  /**
   * Continuous archiving, point-in-time recovery and restore drills (PostgreSQL: pgBackRest; see
   * docs/pitr.md). Default: none.
   */
  pitr?: PitrArgs;
  /**
   * Prometheus exporters beside the primary and each standby, logging in as the deployment's
   * monitoring account, protected by basic authentication; the `metrics` output gives the scrape
   * targets (docs/status.md#metrics). Default: none (no exporter).
   */
  metrics?: MetricsArgs;
  /** High availability with Patroni on etcd (PostgreSQL only; see model/ha.ts). Default: none (a plain primary with standbys). */
  ha?: HaArgs;
}
