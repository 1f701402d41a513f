/**
 * Names that cannot collide. Host-level names (cron files, tools directories, logs, default
 * backup directories) carry a prefix naming the stack with a short id of the project, stack and
 * program directory, then the engine, then the deployment: two engines, two stacks or two clones
 * of the project on one host never share a file. Child resource names are checked here too.
 * One place, so that the components and the stack's collision checks compute the same names.
 */
import { createHash } from "crypto";
import type { EngineKind } from "./engineKind";

// The engine kind is defined in engineKind.ts; importers of it from here keep working.

/**
 * `dbstack-<stack>-<id>`: the id is 6 hex digits of a hash of the project, the stack and the
 * program's directory (the clone), so that stacks of the same name in two clones differ.
 */
export function stackHostPrefix(project: string, stack: string, programDir: string): string {
  const id = createHash("sha256").update(`${project}\0${stack}\0${programDir}`).digest("hex").slice(0, 6);
  return `dbstack-${stack}-${id}`.replace(/[^A-Za-z0-9_-]/g, "-");
}

/** The name of a deployment on its host: `<engine>-<name>`. */
export function hostSlug(engine: EngineKind, name: string): string {
  return `${engine}-${name}`;
}

/** Where a deployment's operator tools live by default: `/usr/local/lib/<prefix>/<engine>-<name>`. */
export function defaultToolsDir(prefix: string, engine: EngineKind, name: string): string {
  return `/usr/local/lib/${prefix}/${hostSlug(engine, name)}`;
}

/** A server deployment's default backup directory: `/var/backups/<prefix>/<engine>-<name>`. */
export function defaultBackupDir(prefix: string, engine: EngineKind, name: string): string {
  return `/var/backups/${prefix}/${hostSlug(engine, name)}`;
}

/** The name of a deployment's cron job (its /etc/cron.d file), e.g. `dbstack-dev-3fa9c1-postgres-main-backup`. */
export function cronJobName(prefix: string, engine: EngineKind, name: string, job: "backup" | "maintenance"): string {
  return `${prefix}-${hostSlug(engine, name)}-${job}`.replace(/[^A-Za-z0-9_-]/g, "-");
}

/** A deployment's container on its Docker host, e.g. `dbstack-dev-3fa9c1-postgres-main`; its volumes add `-data`, `-config`, `-backups`. */
export function containerName(prefix: string, engine: EngineKind, name: string): string {
  return `${prefix}-${hostSlug(engine, name)}`.replace(/[^A-Za-z0-9_.-]/g, "-");
}

/** A log file of a deployment's job, e.g. `/var/log/dbstack-dev-3fa9c1-postgres-main-maintenance.log`. */
export function jobLogFile(prefix: string, engine: EngineKind, name: string, job: string): string {
  return `/var/log/${prefix}-${hostSlug(engine, name)}-${job}.log`;
}

/**
 * Words of the server deployment's child resource names (`<name>-<word>...`): a standby named
 * one of them would take a name another step has (a standby `tools` and the tools step).
 */
export const RESERVED_STANDBY_NAMES = ["backup", "boot", "ca", "cluster", "config", "container", "db", "grants", "host", "instance", "maintenance", "post", "replication", "role", "server", "tools", "volumes", "exporter"];

/** User names whose password resource would take the replication password's name. */
export const RESERVED_USER_NAMES = ["replication"];

/** Why a standby or user name would collide with another child of the deployment, if it would. */
export function childNameProblem(kind: "standby" | "user", name: string): string | undefined {
  const reserved = kind === "standby" ? RESERVED_STANDBY_NAMES : RESERVED_USER_NAMES;
  if (!reserved.includes(name)) return undefined;
  return `${JSON.stringify(name)} is the name of one of dbstack's own steps of the deployment; choose another ${kind} name (reserved: ${reserved.join(", ")})`;
}

/** The names every host's TLS certificate carries besides its addresses: connections on the host itself. */
export const LOCAL_TLS_NAMES = ["localhost", "127.0.0.1", "::1"];

/** The names a host's TLS certificate is valid for: how clients reach it, and the host itself. */
export function tlsNames(addresses: string[]): string[] {
  return [...new Set([...addresses, ...LOCAL_TLS_NAMES])];
}
