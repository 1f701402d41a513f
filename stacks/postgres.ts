import * as pulumi from "@pulumi/pulumi";
import type { PostgresDatabaseArgs } from "../components/engines/postgres/args";
import { PostgresCluster } from "../components/engines/postgres/cluster";
import { ConfigError, projectPath, type PostgresClusterConfig } from "./config";
import { resolveHost, type Ctx } from "./hosts";
import { migrationSourceFromConfig } from "./migrations";

export function postgresClusterFromConfig(name: string, cfg: PostgresClusterConfig, ctx: Ctx, opts?: pulumi.ComponentResourceOptions): PostgresCluster {
  const key = `dbstack:postgres.${name}`;
  const primary = resolveHost(`${key}.host`, cfg.host, ctx);
  const databases: PostgresDatabaseArgs[] = Object.entries(cfg.databases).map(([db, d]) => ({
    name: db,
    ...d,
    migrations: migrationSourceFromConfig(`${key}.databases.${db}.migrations`, d.migrations, ctx.projectDir),
  }));
  try {
    return new PostgresCluster(name, {
      target: primary,
      address: cfg.address,
      version: cfg.version,
      clusterName: cfg.clusterName,
      port: cfg.port,
      dataDirectory: cfg.dataDirectory && projectPath(ctx.projectDir, cfg.dataDirectory),
      hostFacts: cfg.hostFacts,
      workload: cfg.workload,
      maxConnections: cfg.maxConnections,
      parameters: cfg.parameters,
      listenAddresses: cfg.listenAddresses,
      allowedCidrs: cfg.allowedCidrs,
      tls: cfg.tls && { certificate: pulumi.secret(cfg.tls.certificate), privateKey: pulumi.secret(cfg.tls.privateKey) },
      databases,
      users: Object.entries(cfg.users).map(([u, spec]) => ({ name: u, ...spec, password: spec.password && pulumi.secret(spec.password) })),
      backup: cfg.backup && { ...cfg.backup, dir: cfg.backup.dir && projectPath(ctx.projectDir, cfg.backup.dir) },
      maintenanceSchedule: cfg.maintenanceSchedule,
      standbys: Object.entries(cfg.standbys).map(([s, spec]) => {
        const target = resolveHost(`${key}.standbys.${s}.host`, spec.host, ctx);
        return { name: s, target, address: spec.address, clusterName: spec.clusterName, port: spec.port };
      }),
      toolsDir: cfg.toolsDir && projectPath(ctx.projectDir, cfg.toolsDir),
      allowDataRemoval: ctx.allowDataRemoval,
    }, opts);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // The component names the argument; in config it lives under this key.
    throw new ConfigError(`${key}.${(err as Error).message}`);
  }
}

/** What a stack exports for each PostgreSQL deployment (URLs are secrets). */
export function postgresOutputs(c: PostgresCluster) {
  return {
    host: c.host,
    port: c.port,
    databases: c.databases,
    urls: c.urls,
    configReport: c.configReport,
    hookReports: c.hookReports,
    toolsDir: c.toolsDir,
    standbyTools: c.standbyTools,
    caCertificate: c.caCertificate,
  };
}
