import type { DockerTarget, LocalTarget, MachineTarget, SshTarget, Target } from "../model/target";

/** Declared in model/target.ts (the model every component shares); exported here too, beside what reaches a target. */
export type { DockerTarget, LocalTarget, MachineTarget, SshTarget, Target };

/** The machine a target's host-level steps run on: a Docker target's `on`, or the target itself. */
export function machineOf(target: Target): MachineTarget {
  return target.kind === "docker" ? (target.on ?? { kind: "local" }) : target;
}

/** The Docker API endpoint a Docker target uses when it declares none (DEFAULTS.container.endpoint; kept here because HostCommand's provider is serialized without imports). */
export const DEFAULT_DOCKER_ENDPOINT = "unix:///var/run/docker.sock";

/** The local host. */
export function localTarget(): LocalTarget {
  return { kind: "local" };
}

/** A short human name for a target, for messages and resource descriptions. */
export function describeTarget(target: Target): string {
  switch (target.kind) {
    case "local":
      return "this machine";
    case "ssh":
      return `${target.user ?? "root"}@${target.host}${target.port && target.port !== 22 ? `:${target.port}` : ""}`;
    case "docker": {
      const engine = `Docker host ${target.endpoint ?? DEFAULT_DOCKER_ENDPOINT}${target.on && target.on.kind !== "local" ? ` on ${describeTarget(target.on)}` : ""}`;
      return target.container ? `container ${target.container} on ${engine}` : engine;
    }
    default:
      return unknownTarget(target);
  }
}

/**
 * The end of every switch over target kinds: a kind this code does not know is an error, never a
 * silent run on this machine. The type makes a missing case a compile error too.
 */
export function unknownTarget(target: never): never {
  throw new Error(`unknown target kind ${JSON.stringify((target as { kind?: unknown })?.kind)}: expected "local", "ssh" or "docker"`);
}
