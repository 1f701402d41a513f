import type * as pulumi from "@pulumi/pulumi";
import { PostgresCluster } from "../components/deploy/postgresCluster";
import type { PostgresClusterConfig } from "./config";
import type { Ctx } from "./hosts";
import { importSources, serverArgsFromConfig, serverImportSource, serverOutputs, underKey } from "./server";

/** Turns one validated `dbstack:postgres.<name>` entry into a PostgresCluster. */
export function postgresClusterFromConfig(name: string, cfg: PostgresClusterConfig, ctx: Ctx, opts?: pulumi.ComponentResourceOptions): PostgresCluster {
  const key = `dbstack:postgres.${name}`;
  const cluster = underKey(key, () => new PostgresCluster(name, { ...serverArgsFromConfig("postgres", key, cfg, ctx), version: cfg.version, instanceName: cfg.instanceName, clusterName: cfg.clusterName }, opts));
  importSources(ctx).provide(name, serverImportSource("postgres", cfg, cluster));
  return cluster;
}

/** What a stack exports for each PostgreSQL deployment (URLs are secrets). */
export const postgresOutputs = serverOutputs;
