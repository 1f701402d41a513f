import type * as pulumi from "@pulumi/pulumi";
import type { HealthCheck } from "../../hooks/healthChecks";
import type { MigrationSource } from "../../hooks/migrationRunner";
import type { GrantRole } from "../../review/facts";
import type { Target } from "../../targets/target";
import type { HostFacts, Workload } from "./spec";

export interface PostgresDatabaseArgs {
  /** Database name: lower-case letters, digits and _. */
  name: string;
  /** Owning user: one of `users`. Migrations run as this role. */
  owner: string;
  /** Default UTF8. */
  encoding?: string;
  /** LC_COLLATE and LC_CTYPE. Default C.UTF-8. */
  locale?: string;
  /** DateStyle for sessions in this database, e.g. the seed's "ISO, DMY". Default "ISO, MDY". */
  dateStyle?: string;
  /** TimeZone for sessions in this database. Default UTC. */
  timeZone?: string;
  /** Extensions to create, e.g. ["pgcrypto"]. Default none. */
  extensions?: string[];
  /** Schema migrations run after deploy as the owner. Default none. */
  migrations?: MigrationSource;
  /** Health checks besides the built-in ones. */
  healthChecks?: HealthCheck[];
}

export interface PostgresUserArgs {
  /** Role name: lower-case letters, digits and _. */
  name: string;
  /** Role per database: owner, readwrite or readonly. */
  grants: Record<string, GrantRole>;
  /** CONNECTION LIMIT. Default -1 (none). */
  connectionLimit?: number;
  /** A password to use instead of a generated one (a secret). */
  password?: pulumi.Input<string>;
  /** Change to rotate a generated password. Default 0. */
  passwordRotation?: string | number;
}

export interface PostgresStandbyArgs {
  /** Standby name (also its replication slot, prefixed dbstack_). */
  name: string;
  /** The standby's host. */
  target: Target;
  /** SSH key for the standby's host, if it differs from the primary's. */
  privateKey?: pulumi.Input<string>;
  /**
   * The standby host's SSH keys recorded on first contact (SshHostKeys.keys), when its target
   * declares no hostKey. Default: a SshHostKeys resource of this component records them.
   */
  hostKeys?: pulumi.Input<string>;
  /** The standby's address as the primary sees it (allowed to replicate in pg_hba.conf). */
  address: string;
  /** Cluster name on the standby host. Default: the primary's. */
  clusterName?: string;
  /** Port on the standby host. Default: the primary's. */
  port?: number;
}

export interface PostgresBackupArgs {
  /** Cron schedule. Default `0 2 * * *`. */
  schedule?: string;
  /** Backup directory on the primary's host. Default /var/backups/dbstack/<name>. */
  dir?: string;
  /** Days to keep. Default 30. */
  retentionDays?: number;
  gpgRecipient?: string;
  offHostCommand?: string;
  /**
   * The health check fails when the newest backup is older than this many hours, or when no backup
   * was taken this long after the schedule was installed. Default: 1.5 times the longest interval
   * between two runs of the schedule (36 for daily backups).
   */
  maxAgeHours?: number;
}

export interface PostgresClusterArgs {
  /** The primary's host. Default: this machine. */
  target?: Target;
  /** SSH private key for SSH targets (a secret). */
  privateKey?: pulumi.Input<string>;
  /**
   * The SSH host's keys recorded on first contact (SshHostKeys.keys), when the target declares no
   * hostKey. Default: a SshHostKeys resource of this component records them.
   */
  hostKeys?: pulumi.Input<string>;
  /** How clients reach the primary, for URLs. Default: the SSH host, or localhost. */
  address?: string;
  /** PostgreSQL major version. Default: the distribution's. */
  version?: number;
  /** pg_createcluster's cluster name. Default: the component's name. */
  clusterName?: string;
  /** Default 5432. */
  port?: number;
  /** Default /var/lib/postgresql/<version>/<cluster>. */
  dataDirectory?: string;
  /** Host facts for tuning; what is not declared is read from the host. Storage defaults to ssd. */
  hostFacts?: Partial<HostFacts>;
  /** Default "mixed". */
  workload?: Workload;
  /** Default 100. */
  maxConnections?: number;
  /** postgresql.conf parameters that win over computed ones. */
  parameters?: Record<string, string>;
  /** Default ["localhost"]. */
  listenAddresses?: string[];
  /** Client networks allowed over TLS with passwords. Default none (local only). */
  allowedCidrs?: string[];
  /**
   * A certificate and key for the primary; default: the primary's own key with a certificate
   * signed by the cluster's CA (generated on the primary's host, exported as `caCertificate`).
   * Standbys always get certificates from the cluster's CA.
   */
  tls?: { certificate: pulumi.Input<string>; privateKey: pulumi.Input<string> };
  /**
   * Where clients keep the `caCertificate` output, named as `sslrootcert` in the verify-full
   * URLs. Default: none (libpq then reads PGSSLROOTCERT, or ~/.postgresql/root.crt).
   */
  caCertificateFile?: string;
  databases: PostgresDatabaseArgs[];
  users: PostgresUserArgs[];
  backup?: PostgresBackupArgs;
  /** Vacuum and analyze on a schedule, e.g. `30 3 * * 0`. Default none. */
  maintenanceSchedule?: string;
  standbys?: PostgresStandbyArgs[];
  /** Tools directory on each host. Default /usr/local/lib/<hostPrefix>/<name>. */
  toolsDir?: string;
  /** Whether destroy drops clusters, databases and backups. Default false. */
  allowDataRemoval?: boolean;
  /** Prefix for host-level names. Default `dbstack`. */
  hostPrefix?: string;
}
