/**
 * Where MySQL 8 and MariaDB differ, in one place. dbstack is tested against MariaDB 10.11 (the
 * engine Debian ships); the "mysql" flavour renders MySQL 8's syntax and is checked by unit
 * tests on the rendered text only: no MySQL 8 server is available to test against.
 *
 * What is deliberately the same for both: variables are changed with SET GLOBAL and written to
 * the option file dbstack renders. MySQL's SET PERSIST would also write mysqld-auto.cnf, which
 * overrides the option file at the next start, so a later change of the declared config would
 * silently lose to a value set long ago.
 */
import { sqlLiteral } from "../../shell";

export type Flavor = "mariadb" | "mysql";

/** The programs of a flavour, by role. */
export interface FlavorPrograms {
  server: string;
  client: string;
  admin: string;
  dump: string;
  installDb: string;
}

export function programs(flavor: Flavor): FlavorPrograms {
  return flavor === "mariadb"
    ? { server: "mariadbd", client: "mariadb", admin: "mariadb-admin", dump: "mariadb-dump", installDb: "mariadb-install-db" }
    : { server: "mysqld", client: "mysql", admin: "mysqladmin", dump: "mysqldump", installDb: "mysqld --initialize-insecure" };
}

/** How an account's password is set: MySQL 8 names caching_sha2_password, its default, explicitly. */
export function identifiedBy(flavor: Flavor, passwordSql: string): string {
  return flavor === "mariadb" ? `IDENTIFIED BY ${passwordSql}` : `IDENTIFIED WITH caching_sha2_password BY ${passwordSql}`;
}

/**
 * The first statement of every session that sends a password (CREATE/ALTER USER, CHANGE MASTER):
 * keeps that session's statements out of the general log (sql_log_off) and the slow log, which
 * would otherwise hold the password in plain text for anyone who reads the log (mysql:adm 0660),
 * whatever a deployment's parameters turn on. MariaDB's slow log can be turned off per session;
 * MySQL's cannot, so no statement of the session counts as slow there.
 */
export function quietSessionSql(flavor: Flavor): string {
  return flavor === "mariadb" ? "SET SESSION sql_log_off = 1, SESSION slow_query_log = 0;" : "SET SESSION sql_log_off = 1, SESSION long_query_time = 31536000;";
}

/** Where a replica reads from. */
export interface ReplicationSource {
  host: string;
  port: number;
  user: string;
  /** SQL expression for the password (a literal, or a user variable such as @pw). */
  passwordSql: string;
  /** Require TLS to the source. */
  ssl: boolean;
}

/** Points a replica at its source, positioned by GTID. */
export function changeSourceSql(flavor: Flavor, s: ReplicationSource): string {
  if (flavor === "mariadb") {
    return (
      `CHANGE MASTER TO MASTER_HOST=${sqlLiteral(s.host)}, MASTER_PORT=${s.port}, MASTER_USER=${sqlLiteral(s.user)}, ` +
      `MASTER_PASSWORD=${s.passwordSql}, MASTER_SSL=${s.ssl ? 1 : 0}, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=10;`
    );
  }
  return (
    `CHANGE REPLICATION SOURCE TO SOURCE_HOST=${sqlLiteral(s.host)}, SOURCE_PORT=${s.port}, SOURCE_USER=${sqlLiteral(s.user)}, ` +
    `SOURCE_PASSWORD=${s.passwordSql}, SOURCE_SSL=${s.ssl ? 1 : 0}, SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=10;`
  );
}

export function startReplicaSql(flavor: Flavor): string {
  return flavor === "mariadb" ? "START SLAVE;" : "START REPLICA;";
}

export function stopReplicaSql(flavor: Flavor): string {
  return flavor === "mariadb" ? "STOP SLAVE;" : "STOP REPLICA;";
}

/** Forgets the source entirely (a promoted replica). */
export function resetReplicaSql(flavor: Flavor): string {
  return flavor === "mariadb" ? "RESET SLAVE ALL;" : "RESET REPLICA ALL;";
}

export function replicaStatusSql(flavor: Flavor): string {
  return flavor === "mariadb" ? "SHOW SLAVE STATUS" : "SHOW REPLICA STATUS";
}

/**
 * The replica status columns by flavour: IO/SQL thread running, seconds behind, the source's host
 * (a replica that names one is configured) and the SQL thread's state.
 */
export function replicaStatusColumns(flavor: Flavor): { io: string; sql: string; lag: string; sourceHost: string; sqlState: string } {
  return flavor === "mariadb"
    ? { io: "Slave_IO_Running", sql: "Slave_SQL_Running", lag: "Seconds_Behind_Master", sourceHost: "Master_Host", sqlState: "Slave_SQL_Running_State" }
    : { io: "Replica_IO_Running", sql: "Replica_SQL_Running", lag: "Seconds_Behind_Source", sourceHost: "Source_Host", sqlState: "Replica_SQL_Running_State" };
}

/** Stops fetching from the source while what was received is still applied (before a promote). */
export function stopReplicaIoSql(flavor: Flavor): string {
  return flavor === "mariadb" ? "STOP SLAVE IO_THREAD;" : "STOP REPLICA IO_THREAD;";
}

/** Makes the replica verify its source's certificate against `caFileSql` (a string literal). */
/** Sets only the replication password of a configured replica (its IO thread stopped); `passwordSql` is a quoted SQL string. */
export function changeSourcePasswordSql(flavor: Flavor, passwordSql: string): string {
  return flavor === "mysql" ? `CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD=${passwordSql};` : `CHANGE MASTER TO MASTER_PASSWORD=${passwordSql};`;
}

export function verifySourceSql(flavor: Flavor, caFileSql: string): string {
  return flavor === "mariadb"
    ? `CHANGE MASTER TO MASTER_SSL_CA=${caFileSql}, MASTER_SSL_VERIFY_SERVER_CERT=1;`
    : `CHANGE REPLICATION SOURCE TO SOURCE_SSL_CA=${caFileSql}, SOURCE_SSL_VERIFY_SERVER_CERT=1;`;
}

/** Options of the dump that seeds a replica: the snapshot's GTID position goes with it. */
export function seedDumpOptions(flavor: Flavor): string[] {
  return flavor === "mariadb" ? ["--gtid", "--master-data=1"] : ["--set-gtid-purged=ON", "--source-data=1"];
}

/** Server options that turn on GTID-based binary logging. */
export function gtidServerOptions(flavor: Flavor, serverId: number): Record<string, string> {
  const common = { server_id: String(serverId), log_bin: "binlog", binlog_format: "ROW" };
  return flavor === "mariadb"
    ? { ...common, log_slave_updates: "ON", gtid_strict_mode: "ON" }
    : { ...common, log_replica_updates: "ON", gtid_mode: "ON", enforce_gtid_consistency: "ON" };
}
