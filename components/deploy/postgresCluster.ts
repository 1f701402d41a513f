import * as pulumi from "@pulumi/pulumi";
import { ArgumentError } from "../validate";
import { ServerDeployment } from "./serverDeployment";
import { validateServerArgs } from "./validateServer";
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
    validateServerArgs(name, args, postgresEngine);
    const cluster = renamedKey(name, "instanceName", args.instanceName, "clusterName", args.clusterName) ?? name;
    super("dbstack:postgres:Cluster", postgresEngine, name, args, {
      instance: cluster,
      version: args.version === undefined ? undefined : String(args.version),
      standbyInstance: (s) => renamedKey(name, `standbys.${s.name}.instanceName`, s.instanceName, "clusterName", s.clusterName) ?? cluster,
    }, opts);
  }
}

/**
 * A key read under its current name or the old one: declaring both (with different values) is an
 * error naming both; the old one alone is read, with a warning that names the new key.
 */
function renamedKey(component: string, key: string, value: string | undefined, oldName: string, old: string | undefined): string | undefined {
  if (old === undefined) return value;
  const oldKey = key.replace(/[^.]+$/, oldName);
  if (value !== undefined && value !== old) throw new ArgumentError(`${oldKey}: the old name of ${key}; declare ${key} only`);
  pulumi.log.warn(`PostgreSQL deployment ${component}: ${oldKey} is now called ${key}; rename the key (the old name is still read)`);
  return old;
}
