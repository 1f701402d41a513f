import { reservedUserNameProblem } from "../components/deploy/validateServer";
import type { StackConfig } from "./config";
import { dataDirectoryProblems, placementProblems, sharedOnHostProblems } from "./hostSharing";
import { importFromProblems } from "./importFromChecks";
import { LOCAL_HOST, serverEntries, type StandbyEntry } from "./stackEntries";

export { LOCAL_HOST };

/** What a stack rule reads: the parsed config, and the namespace and stack name its messages use. */
export interface StackSubject {
  config: StackConfig;
  namespace: string;
  stack?: string;
}

/**
 * One rule across the whole stack config, by name: references between keys, and deployments
 * that would share something on one host. `problems` returns every breach, each naming its keys.
 */
export interface StackCheck {
  name: string;
  /** Run only when every rule before it found nothing (its advice would be noise beside theirs). */
  whenValid?: boolean;
  problems(subject: StackSubject): string[];
}

/**
 * The stack's rules, in the order they run, after zod has checked the shape of every value
 * (schema/). What one deployment's arguments must satisfy is the component's own list
 * (SERVER_CHECKS in components/deploy/validateServer.ts) and runs when it is built.
 */
export const STACK_CHECKS: readonly StackCheck[] = [
  { name: "Docker hosts", problems: ({ config }) => dockerHostProblems(config) },
  { name: "hosts referred to are declared", problems: ({ config }) => hostReferenceProblems(config) },
  { name: "SQLite databases are not on Docker hosts", problems: ({ config }) => sqliteOnDockerProblems(config) },
  { name: "paths stay out of the system's trees", problems: ({ config }) => placementProblems(config) },
  { name: "deployments share nothing on a host", problems: ({ config }) => sharedOnHostProblems(config) },
  { name: "data directories are neither shared nor nested", problems: ({ config }) => dataDirectoryProblems(config) },
  { name: "user names dbstack keeps for itself", problems: ({ config }) => reservedUserProblems(config) },
  { name: "importFrom references", problems: ({ config }) => importFromProblems(config) },
  { name: "declared host keys", whenValid: true, problems: undeclaredHostKeyProblems },
];

/** Runs STACK_CHECKS: every problem of every rule, in order. */
export function stackProblems(subject: StackSubject): string[] {
  const problems: string[] = [];
  for (const check of STACK_CHECKS) {
    if (check.whenValid && problems.length > 0) continue;
    problems.push(...check.problems(subject));
  }
  return problems;
}

/** Why `host` is not a host of the stack, if it is not: "local", an entry of dbstack:hosts or of dbstack:dockerHosts. */
export function unknownHostProblem(key: string, host: string, hosts: Record<string, unknown>, dockerHosts: Record<string, unknown>): string | undefined {
  if (host === LOCAL_HOST || host in hosts || host in dockerHosts) return undefined;
  const known = [...Object.keys(hosts), ...Object.keys(dockerHosts)];
  return `${key}: no host ${JSON.stringify(host)} in dbstack:hosts or dbstack:dockerHosts (declared: ${known.length ? known.join(", ") : "none"}; or use "local")`;
}

/** A Docker host's name is not also an SSH host's, and `via` names an SSH host. */
function dockerHostProblems(config: StackConfig): string[] {
  const problems: string[] = [];
  for (const [name, d] of Object.entries(config.dockerHosts)) {
    if (name in config.hosts) problems.push(`dbstack:dockerHosts.${name}: dbstack:hosts has an entry of the same name; \`host: ${name}\` must name one host`);
    if (d.via !== undefined && !(d.via in config.hosts)) {
      problems.push(`dbstack:dockerHosts.${name}.via: no host ${JSON.stringify(d.via)} in dbstack:hosts (declared: ${Object.keys(config.hosts).join(", ") || "none"})`);
    }
  }
  return problems;
}

/** Every `host:` of a deployment or standby names a host of the stack (an SQLite database on a Docker host has a rule of its own). */
function hostReferenceProblems(config: StackConfig): string[] {
  const refs: [key: string, host: string][] = Object.entries(config.sqlite)
    .filter(([, db]) => !(db.host in config.dockerHosts))
    .map(([name, db]) => [`dbstack:sqlite.${name}.host`, db.host]);
  for (const { key, cfg } of serverEntries(config)) {
    refs.push([`${key}.host`, cfg.host]);
    for (const [s, standby] of Object.entries(cfg.standbys as Record<string, StandbyEntry>)) refs.push([`${key}.standbys.${s}.host`, standby.host]);
  }
  return refs.flatMap(([key, host]) => unknownHostProblem(key, host, config.hosts, config.dockerHosts) ?? []);
}

/** An SQLite database is a file on this machine or an SSH host, never on a Docker host outside any container. */
function sqliteOnDockerProblems(config: StackConfig): string[] {
  return Object.entries(config.sqlite)
    .filter(([, db]) => db.host in config.dockerHosts)
    .map(
      ([name, db]) =>
        `dbstack:sqlite.${name}.host: ${JSON.stringify(db.host)} is a Docker host (dbstack:dockerHosts); an SQLite database is a file on this machine or on an SSH host, never on a Docker host outside any container: use "local" or an entry of dbstack:hosts`,
    );
}

/** Users named like dbstack's own roles, in every server deployment (the deployment's own rule, reported with the rest of the config's problems). */
function reservedUserProblems(config: StackConfig): string[] {
  return serverEntries(config).flatMap(({ key, cfg }) => Object.keys(cfg.users).flatMap((user) => {
    const problem = reservedUserNameProblem(user);
    return problem ? [`${key}.users.${user}: ${problem}`] : [];
  }));
}

/** Whether a stack must declare its SSH hosts' keys: `requireHostKeys`, by default only prod. */
function hostKeysRequired(config: Pick<StackConfig, "requireHostKeys">, stack: string | undefined): boolean {
  return config.requireHostKeys ?? stack === "prod";
}

/** One problem per SSH host without a hostKey, when the stack requires declared keys. */
function undeclaredHostKeyProblems({ config, namespace, stack }: StackSubject): string[] {
  if (!hostKeysRequired(config, stack)) return [];
  const why =
    config.requireHostKeys === undefined
      ? `the ${stack} stack requires declared host keys (set ${namespace}:requireHostKeys to false to trust hosts on first use)`
      : `${namespace}:requireHostKeys is true`;
  return Object.entries(config.hosts)
    .filter(([, h]) => h.hostKey === undefined)
    .map(
      ([name, h]) =>
        `${namespace}:hosts.${name}.hostKey: missing; ${why}: set it to the host's public key, checked out of band ` +
        `(ssh-keyscan -p ${h.port} ${h.address} | ssh-keygen -lf - shows its fingerprint)`,
    );
}
