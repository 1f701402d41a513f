import type { BackupArgs, DatabaseArgs, ServerDeploymentArgs, StandbyArgs, UserArgs } from "../../model/args";
import type { Flavor } from "./flavor";

/** A MariaDB database: always utf8mb4. */
export interface MariadbDatabaseArgs extends DatabaseArgs {
  /** The utf8mb4 collation. Default utf8mb4_unicode_ci. */
  collation?: string;
}

/** A MariaDB user: one account 'name'@'host' per host pattern, all with the same password and grants. */
export interface MariadbUserArgs extends UserArgs {
  /**
   * Host patterns the user may connect from: "localhost", "%", "10.0.0.%", an address, or a CIDR
   * network (rendered as MariaDB's address/netmask). Default ["localhost"].
   */
  hosts?: string[];
  /** REQUIRE SSL on every account of the user. Default false. */
  requireSsl?: boolean;
}

/** Cron backups: mariadb-dump per database plus users and grants, in one tar per run. */
export type MariadbBackupArgs = BackupArgs;

/** A GTID replica (read_only) on another host. */
export interface MariadbStandbyArgs extends StandbyArgs {
  /** Instance name on the replica's host. Default: the primary's. */
  instanceName?: string;
}

export interface MariadbServerArgs extends ServerDeploymentArgs<MariadbDatabaseArgs, MariadbUserArgs, MariadbStandbyArgs> {
  /** "mariadb" (tested against MariaDB 10.11) or "mysql" (MySQL 8 syntax, not tested against a server). Default "mariadb". */
  flavor?: Flavor;
  /** Major version, e.g. "10.11". Default: the distribution's. */
  version?: string;
  /** Instance name on the host: names its data directory, socket, option file and log. Default: the component's name. */
  instanceName?: string;
  /** Refuse every connection that is neither TLS nor the local socket (require_secure_transport). Default false. */
  requireSecureTransport?: boolean;
}
