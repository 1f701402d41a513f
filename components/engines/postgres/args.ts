import type { BackupArgs, DatabaseArgs, ServerDeploymentArgs, StandbyArgs, UserArgs } from "../../model/args";

/** A PostgreSQL database: the shared model plus PostgreSQL's per-database settings. */
export interface PostgresDatabaseArgs extends DatabaseArgs {
  /** Character encoding. Default UTF8. */
  encoding?: string;
  /** LC_COLLATE and LC_CTYPE. Default C.UTF-8. */
  locale?: string;
  /** DateStyle for sessions in this database, e.g. the seed's "ISO, DMY". Default "ISO, MDY". */
  dateStyle?: string;
  /** TimeZone for sessions in this database. Default UTC. */
  timeZone?: string;
  /** Extensions to create, e.g. ["pgcrypto"]. Default none. */
  extensions?: string[];
}

/** A PostgreSQL login role: the shared model as it is. */
export type PostgresUserArgs = UserArgs;

/** Cron backups: pg_dumpall globals and pg_dump per database, in one tar per run. */
export type PostgresBackupArgs = BackupArgs;

/** A streaming-replication standby (its replication slot is named dbstack_<name>). */
export interface PostgresStandbyArgs extends StandbyArgs {
  /** The standby's cluster name on its host (pg_createcluster's). Default: the primary's. */
  instanceName?: string;
  /** @deprecated The old name of `instanceName`, still read. */
  clusterName?: string;
}

export interface PostgresClusterArgs extends ServerDeploymentArgs<PostgresDatabaseArgs, PostgresUserArgs, PostgresStandbyArgs> {
  /** PostgreSQL major version. Default: the distribution's. */
  version?: number;
  /**
   * The instance's name on its host: pg_createcluster's cluster name. Default: the component's
   * name. Data: /var/lib/postgresql/<version>/<instanceName>.
   */
  instanceName?: string;
  /** @deprecated The old name of `instanceName`, still read (a warning names the new key). */
  clusterName?: string;
}
