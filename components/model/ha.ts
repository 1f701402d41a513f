/**
 * High availability of a PostgreSQL deployment: Patroni manages the primary and the standbys, and
 * keeps its leader lock in etcd. dbstack renders Patroni's and etcd's configuration and drives them;
 * leader election, fencing and rejoining are theirs (design principle 9). Defaults: DEFAULTS.ha.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Target } from "./target";

/** One etcd member that dbstack runs. */
export interface EtcdMemberArgs {
  /** Member name: lower-case letters, digits and _ (etcd's --name, and the step's name). */
  name: string;
  /** The member's host; an SSH target carries its own key. */
  target: Target;
  /** The member's address as the other members and Patroni reach it (an IP address or a host name). */
  address: string;
  /** Client port (Patroni talks to it). Default 2379. */
  clientPort?: number;
  /** Peer port (members talk to each other on it). Default 2380. */
  peerPort?: number;
  /** Data directory on its host. Default `/var/lib/etcd/<hostPrefix>-<member>`. */
  dataDirectory?: string;
}

/**
 * The etcd cluster dbstack deploys: TLS for client and peer traffic with certificates signed by the
 * deployment's CA, authentication on (a root user and Patroni's own user, generated passwords).
 */
export interface DeployedEtcdArgs {
  kind: "deploy";
  /**
   * The members: an odd number of at least three (three tolerate one failure, five two). Default:
   * one on the primary's host and one on each of the first two standbys' hosts, at their addresses.
   */
  members?: EtcdMemberArgs[];
}

/** An etcd cluster that exists already: dbstack only points Patroni at it. */
export interface ExistingEtcdArgs {
  kind: "existing";
  /** Client endpoints, `https://host:port` (TLS is required). */
  endpoints: string[];
  /** The etcd user Patroni logs in as (etcd's authentication is required). */
  username: string;
  /** That user's password (a secret). */
  password: pulumi.Input<string>;
  /** PEM certificate of the CA that signed the endpoints' certificates. Default: the hosts' system trust store. */
  caCertificate?: pulumi.Input<string>;
}

export type EtcdArgs = DeployedEtcdArgs | ExistingEtcdArgs;

/** Patroni over the deployment's primary and standbys (each one a member, named as declared; the primary is `primary`). */
export interface HaArgs {
  /** Whether Patroni manages the servers. Default true once `ha` is declared; false keeps the declaration unused (refused at preview once Patroni runs the members: going back is not built). */
  enabled?: boolean;
  /** The etcd cluster holding the leader lock. */
  etcd: EtcdArgs;
  /**
   * Synchronous replication (Patroni's synchronous_mode): a commit is acknowledged once a standby
   * has it, and only such a standby may be promoted, so no acknowledged commit is lost on failover.
   * Default true.
   */
  synchronous?: boolean;
  /** Seconds the leader lock lives without renewal before a failover starts (Patroni's ttl, at least 20). Default 30. */
  ttlSeconds?: number;
  /** Seconds between Patroni's checks (loop_wait). Default 10. */
  loopWaitSeconds?: number;
  /** Seconds Patroni retries etcd and PostgreSQL before demoting (retry_timeout). Default 10. */
  retryTimeoutSeconds?: number;
  /** Bytes a standby may lag and still be promoted by a failover (maximum_lag_on_failover). Default 1048576 (1 MiB). */
  maximumLagOnFailoverBytes?: number;
  /** Port of Patroni's REST API on every member (health checks, switchover). Default 8008. */
  restApiPort?: number;
  /** The Patroni cluster's name (its scope, the key prefix in etcd). Default: the instance name. */
  scope?: string;
}
