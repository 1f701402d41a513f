import * as pulumi from "@pulumi/pulumi";
import type { PostgresDatabaseArgs } from "../components/engines/postgres/args";
import { PostgresCluster } from "../components/engines/postgres/cluster";
import { SshHostKeys } from "../components/targets/hostKeys";
import { localTarget, type Target } from "../components/targets/target";
import { ConfigError, projectPath, type PostgresClusterConfig, type SshHostConfig } from "./config";
import { migrationSourceFromConfig } from "./migrations";

interface Ctx {
  projectDir: string;
  stack: string;
  allowDataRemoval: boolean;
  hosts: Record<string, SshHostConfig>;
  /** The pinned keys of each dbstack:hosts entry in use, one record per host (shared by every deployment on it). */
  hostKeys?: Map<string, SshHostKeys>;
}

/** Resolves `host: local | <name in dbstack:hosts>` to a target, its (secret) key and its pinned host keys. */
function resolveHost(key: string, host: string, ctx: Ctx): { target: Target; privateKey?: pulumi.Output<string>; hostKeys?: pulumi.Output<string> } {
  if (host === "local") return { target: localTarget() };
  const h = ctx.hosts[host];
  if (!h) {
    const known = Object.keys(ctx.hosts);
    throw new ConfigError(`${key}: no host ${JSON.stringify(host)} in dbstack:hosts (declared: ${known.length ? known.join(", ") : "none"}; or use "local")`);
  }
  const target: Target = { kind: "ssh", host: h.address, port: h.port, user: h.user, sudo: h.sudo, hostKey: h.hostKey, configKey: `dbstack:hosts.${host}` };
  // Trust on first use, once per host: the keys it offers the first time are kept in the state.
  ctx.hostKeys ??= new Map();
  let pinned = ctx.hostKeys.get(host);
  if (!pinned) {
    pinned = new SshHostKeys(`host-${host}-keys`, { target });
    ctx.hostKeys.set(host, pinned);
  }
  return { target, privateKey: pulumi.secret(h.privateKey), hostKeys: pinned.keys };
}

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
      ...primary,
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
        const host = resolveHost(`${key}.standbys.${s}.host`, spec.host, ctx);
        return { name: s, target: host.target, privateKey: host.privateKey, hostKeys: host.hostKeys, address: spec.address, clusterName: spec.clusterName, port: spec.port };
      }),
      toolsDir: cfg.toolsDir && projectPath(ctx.projectDir, cfg.toolsDir),
      allowDataRemoval: ctx.allowDataRemoval,
      hostPrefix: `dbstack-${ctx.stack}`,
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
