/** The deployments of a stack config as the stack's rules walk them (configChecks.ts and the files it runs). */
import type { ServerEngineKind } from "../components/model/engineKind";
import type { StackConfig } from "./config";

/** The name `host:` uses for this machine; no entry of dbstack:hosts may take it. */
export const LOCAL_HOST = "local";

/** Every deployment of one stack has the same prefix of host-level names: any stands for it in the stack's rules. */
export const STACK_PREFIX = "dbstack-stack";

export type ServerEntry = StackConfig["postgres"][string] | StackConfig["mariadb"][string];
export type StandbyEntry = { host: string; port?: number; clusterName?: string; instanceName?: string; container?: unknown };

/** One server deployment of the config: PostgreSQL's first, then MariaDB's, each in declared order. */
export interface ServerDeploymentEntry {
  engine: ServerEngineKind;
  name: string;
  /** Its config key, e.g. `dbstack:postgres.main`. */
  key: string;
  cfg: ServerEntry;
  /** The key that names its instance. */
  instanceKey: "instanceName";
  /** The instance the primary (no argument) or a standby runs as on its host. */
  instanceOf(standby?: StandbyEntry): string;
}

export function serverEntries(config: StackConfig): ServerDeploymentEntry[] {
  return [
    ...Object.entries(config.postgres).map(([name, pg]): ServerDeploymentEntry => ({
      engine: "postgres",
      name,
      key: `dbstack:postgres.${name}`,
      cfg: pg,
      instanceKey: "instanceName",
      instanceOf: (s) => (s ? (s.instanceName ?? s.clusterName) : undefined) ?? pg.instanceName ?? pg.clusterName ?? name,
    })),
    ...Object.entries(config.mariadb).map(([name, m]): ServerDeploymentEntry => ({
      engine: "mariadb",
      name,
      key: `dbstack:mariadb.${name}`,
      cfg: m,
      instanceKey: "instanceName",
      instanceOf: (s) => s?.instanceName ?? m.instanceName ?? name,
    })),
  ];
}

/** Whether `host` is a host of the stack: "local" or an entry of dbstack:hosts or dbstack:dockerHosts. */
export function isStackHost(config: StackConfig, host: string): boolean {
  return host === LOCAL_HOST || host in config.hosts || host in config.dockerHosts;
}
