import type { ServerEngineKind } from "../components/model/engineKind";
import * as pulumi from "@pulumi/pulumi";
import type { ServerDeploymentArgs } from "../components/model/args";
import type { z } from "zod";
import type { GrantRole } from "../components/model/args";
import { ConfigError, projectPath } from "./config";
import { resolveHost, type Ctx } from "./hosts";
import { ImportSources, type ImportFromConfig, type ImportSourceDeployment } from "./imports";
import { migrationSourceFromConfig } from "./migrations";
import type { serverFields } from "./schema/common";

type ServerFields = z.output<z.ZodObject<ReturnType<typeof serverFields>>>;

/** A server deployment's config: the shared fields, and databases/users/standbys of the shared shape. */
export interface ServerConfig extends ServerFields {
  databases: Record<string, { owner: string; migrations?: { dir: string } | { command: string; workdir?: string }; importFrom?: ImportFromConfig }>;
  users: Record<string, { grants: Record<string, GrantRole>; password?: string }>;
  standbys: Record<string, { host: string; address: string; port?: number }>;
}

/**
 * The component args every server engine takes from its config entry at `key`: the target (with
 * its key), paths resolved against the project, secrets marked secret, migrations read, standbys'
 * hosts resolved. Engine fields of databases, users and standbys pass through as they are.
 */
export function serverArgsFromConfig<C extends ServerConfig>(engine: ServerEngineKind, key: string, cfg: C, ctx: Ctx) {
  const abs = (p: string | undefined) => p && projectPath(ctx.projectDir, p);
  return {
    target: resolveHost(`${key}.host`, cfg.host, ctx),
    address: cfg.address,
    port: cfg.port,
    dataDirectory: abs(cfg.dataDirectory),
    container: cfg.container,
    hostFacts: cfg.hostFacts,
    workload: cfg.workload,
    maxConnections: cfg.maxConnections,
    parameters: cfg.parameters,
    unsafeParameters: cfg.unsafeParameters,
    listenAddresses: cfg.listenAddresses,
    allowedCidrs: cfg.allowedCidrs,
    tls: cfg.tls && { certificate: pulumi.secret(cfg.tls.certificate), privateKey: pulumi.secret(cfg.tls.privateKey) },
    certificateLifetime: cfg.certificateLifetime,
    backup: cfg.backup && { ...cfg.backup, dir: abs(cfg.backup.dir) },
    maintenanceSchedule: cfg.maintenanceSchedule,
    toolsDir: abs(cfg.toolsDir),
    allowDataRemoval: ctx.allowDataRemoval,
    slowQueryMs: cfg.slowQueryMs,
    pitr: cfg.pitr && {
      ...cfg.pitr,
      dir: abs(cfg.pitr.dir),
      repositoryHost: cfg.pitr.repositoryHost && { target: resolveHost(`${key}.pitr.repositoryHost.host`, cfg.pitr.repositoryHost.host, ctx), dir: abs(cfg.pitr.repositoryHost.dir) },
    },
    metrics: cfg.metrics,
    databases: Object.entries(cfg.databases).map(([db, d]) => ({
      ...(d as C["databases"][string]),
      name: db,
      migrations: migrationSourceFromConfig(`${key}.databases.${db}.migrations`, d.migrations, ctx.projectDir, engine),
      importFrom: d.importFrom === undefined ? undefined : importSources(ctx).importFrom(`${key}.databases.${db}.importFrom`, d.importFrom, ctx.projectDir),
    })),
    users: Object.entries(cfg.users).map(([u, spec]) => ({ ...(spec as C["users"][string]), name: u, password: spec.password === undefined ? undefined : pulumi.secret(spec.password) })),
    standbys: Object.entries(cfg.standbys).map(([s, spec]) => ({ ...(spec as C["standbys"][string]), name: s, target: resolveHost(`${key}.standbys.${s}.host`, spec.host, ctx) })),
  } satisfies Partial<ServerDeploymentArgs>;
}

/** The stack's registry of deployments for `importFrom` (one per program run). */
export function importSources(ctx: Ctx): ImportSources {
  ctx.imports ??= new ImportSources();
  return ctx.imports;
}

/** What a server deployment offers databases that import from it (see stacks/imports.ts). */
export function serverImportSource(
  engine: ServerEngineKind,
  cfg: ServerConfig,
  c: pulumi.Resource & { urls: pulumi.Output<Record<string, Record<string, unknown>>>; caCertificate: pulumi.Output<string> },
): ImportSourceDeployment {
  return {
    engine,
    component: c,
    urls: c.urls as pulumi.Output<Record<string, Record<string, Record<string, string>>>>,
    owners: Object.fromEntries(Object.entries(cfg.databases).map(([db, d]) => [db, d.owner])),
    caCertificate: c.caCertificate,
  };
}

/** Builds a component; an argument error it throws becomes a config error under `key`. */
export function underKey<T>(key: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // The component names the argument; in config it lives under this key.
    throw new ConfigError(`${key}.${(err as Error).message}`);
  }
}

/** What a stack exports for each server deployment (URLs are secrets). */
export function serverOutputs(c: {
  host: pulumi.Output<string>;
  port: pulumi.Output<number>;
  databases: pulumi.Output<string[]>;
  urls: pulumi.Output<unknown>;
  configReport: pulumi.Output<string>;
  hookReports: pulumi.Output<Record<string, string>>;
  toolsDir: pulumi.Output<string>;
  standbyTools: pulumi.Output<Record<string, string>>;
  caCertificate: pulumi.Output<string>;
  monitoring: pulumi.Output<unknown>;
  lastDrill?: pulumi.Output<unknown>;
  metrics?: pulumi.Output<unknown>;
  metricsPassword?: pulumi.Output<unknown>;
}) {
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
    monitoring: c.monitoring,
    lastDrill: c.lastDrill,
    metrics: c.metrics,
    metricsPassword: c.metricsPassword,
  };
}
