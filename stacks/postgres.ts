import type * as pulumi from "@pulumi/pulumi";
import { PostgresCluster } from "../components/deploy/postgresCluster";
import type { PostgresClusterConfig } from "./config";
import { resolveHost, type Ctx } from "./hosts";
import type { HaArgs } from "../components/model/ha";
import type { HaConfig } from "./schema/ha";
import * as pulumiRuntime from "@pulumi/pulumi";
import { importSources, serverArgsFromConfig, serverImportSource, serverOutputs, underKey } from "./server";

/** Turns one validated `dbstack:postgres.<name>` entry into a PostgresCluster. */
export function postgresClusterFromConfig(name: string, cfg: PostgresClusterConfig, ctx: Ctx, opts?: pulumi.ComponentResourceOptions): PostgresCluster {
  const key = `dbstack:postgres.${name}`;
  const cluster = underKey(key, () => new PostgresCluster(name, { ...serverArgsFromConfig("postgres", key, cfg, ctx), version: cfg.version, instanceName: cfg.instanceName, clusterName: cfg.clusterName, ha: haArgs(key, cfg.ha, ctx) }, opts));
  importSources(ctx).provide(name, serverImportSource("postgres", cfg, cluster));
  return cluster;
}

/** What a stack exports for each PostgreSQL deployment (URLs are secrets). */
export const postgresOutputs = serverOutputs;

/** The component's `ha` from its config: etcd members' hosts resolved, the existing etcd's password a secret. */
function haArgs(key: string, ha: HaConfig | undefined, ctx: Ctx): HaArgs | undefined {
  if (ha === undefined) return undefined;
  const etcd: HaArgs["etcd"] =
    ha.etcd.kind === "existing"
      ? { ...ha.etcd, password: pulumiRuntime.secret(ha.etcd.password) }
      : {
          kind: "deploy",
          members:
            ha.etcd.members === undefined
              ? undefined
              : Object.entries(ha.etcd.members).map(([m, { host, ...spec }]) => ({ ...spec, name: m, target: resolveHost(`${key}.ha.etcd.members.${m}.host`, host, ctx) })),
        };
  return { ...ha, etcd };
}
