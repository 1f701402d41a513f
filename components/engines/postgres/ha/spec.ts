/**
 * What the HA renderers render from: an etcd cluster, and a Patroni cluster of PostgreSQL members.
 * Every value here is resolved and validated (deploy/validateHa.ts); renderers are pure functions
 * of these types. Passwords are never here: they reach hosts in the environment of a step.
 */

/** One etcd member on its host. */
export interface EtcdMemberSpec {
  /** etcd's --name. */
  name: string;
  /** Address the other members and clients reach it at (validated: a host name or an IP address). */
  address: string;
  clientPort: number;
  peerPort: number;
  /** etcd's data directory (the etcd user's, 0700). */
  dataDirectory: string;
  /** This member's own directory: configuration, TLS, supervisor files, log. */
  home: string;
}

/** A whole etcd cluster: every member is in every member's initial-cluster. */
export interface EtcdClusterSpec {
  /** initial-cluster-token: a cluster of its own, whatever else runs on the hosts. */
  token: string;
  members: EtcdMemberSpec[];
  /** Key prefix Patroni's etcd user may read and write (Patroni's namespace and scope). */
  patroniPrefix: string;
  /** etcd user Patroni logs in as. */
  patroniUser: string;
}

/** How Patroni reaches etcd. */
export interface EtcdClientSpec {
  /** host:port of each client endpoint. */
  hosts: string[];
  username: string;
  /** PEM of the CA that signed the endpoints' certificates; undefined: the system trust store. */
  caCertificate?: string;
}

/** One PostgreSQL member of a Patroni cluster. */
export interface PatroniMemberSpec {
  /** Patroni's member name (the primary is `primary`, standbys as declared). */
  name: string;
  /** Address the other members and clients reach it at. */
  address: string;
  port: number;
  /** PostgreSQL major version: bin_dir is /usr/lib/postgresql/<version>/bin. */
  version: number;
  dataDirectory: string;
  /**
   * Where Patroni writes postgresql.conf and pg_hba.conf (Patroni's config_dir): a deployed member
   * uses postgresql-common's /etc/postgresql/<version>/<cluster>, so the host's tools still see the
   * cluster. Default: the data directory.
   */
  configDirectory?: string;
  /** The member's own directory: patroni.yml, its environment file, TLS, supervisor files, log. */
  home: string;
}

/** Cluster-wide settings, the same in every member's bootstrap (Patroni's dynamic configuration). */
export interface PatroniClusterSpec {
  /** Patroni's scope (the key under /service/ in etcd). */
  scope: string;
  members: PatroniMemberSpec[];
  synchronous: boolean;
  ttlSeconds: number;
  loopWaitSeconds: number;
  retryTimeoutSeconds: number;
  maximumLagOnFailoverBytes: number;
  restApiPort: number;
  etcd: EtcdClientSpec;
  /** Cluster-wide PostgreSQL parameters (the engine's tuning, with overrides): the same on every member. */
  parameters: Record<string, string>;
  /** pg_hba.conf lines (the engine's, plus the members' replication and rewind lines). */
  hba: string[];
  /** The replication role (the engine's). */
  replicationUser: string;
  /** The role pg_rewind logs in as. */
  rewindUser: string;
  /** The user of Patroni's REST API's unsafe endpoints (switchover, restart, config). */
  restApiUser: string;
}

/** The environment a member's step gets its secrets in (never a command line, never a file but a 0600 one). */
export const HA_SECRET_ENV = {
  superuser: "DBSTACK_HA_SUPERUSER_PASSWORD",
  replication: "DBSTACK_REPLICATION_PASSWORD",
  rewind: "DBSTACK_HA_REWIND_PASSWORD",
  restApi: "DBSTACK_HA_RESTAPI_PASSWORD",
  etcdRoot: "DBSTACK_ETCD_ROOT_PASSWORD",
  etcdPatroni: "DBSTACK_ETCD_PATRONI_PASSWORD",
} as const;
