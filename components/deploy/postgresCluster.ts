import type * as pulumi from "@pulumi/pulumi";
import { ServerDeployment } from "./serverDeployment";
import type { PostgresClusterArgs, PostgresDatabaseArgs, PostgresStandbyArgs, PostgresUserArgs } from "../engines/postgres/args";
import { postgresEngine } from "../engines/postgres/engine";
import type { ClusterLocation } from "../engines/postgres/host";

/**
 * A PostgreSQL deployment: one cluster (pg_createcluster) on its host with tuned configuration,
 * TLS and pg_hba rules; its databases, users with generated passwords and least-privilege
 * grants; cron backups and maintenance; post-deploy hooks per database; and streaming standbys
 * on other hosts. A typed wrapper of ServerDeployment with the PostgreSQL engine.
 */
export class PostgresCluster extends ServerDeployment<ClusterLocation, PostgresDatabaseArgs, PostgresUserArgs, PostgresStandbyArgs> {
  constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    const cluster = args.clusterName ?? name;
    super("dbstack:postgres:Cluster", postgresEngine, name, args, {
      instance: cluster,
      version: args.version === undefined ? undefined : String(args.version),
      standbyInstance: (s) => s.clusterName ?? cluster,
    }, opts);
  }
}
