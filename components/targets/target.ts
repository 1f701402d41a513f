/**
 * Where a deployment runs. The target is a parameter of every component, not a fork of its code:
 * components render scripts, and the target decides how a script reaches a host.
 *
 * Only the local host is implemented so far; SSH hosts and Docker hosts join this union.
 */
export type Target = LocalTarget;

/** This machine: scripts run with `bash` as the user running Pulumi. */
export interface LocalTarget {
  kind: "local";
}

/** The local host. */
export function localTarget(): LocalTarget {
  return { kind: "local" };
}

/** A short human name for a target, for messages and resource descriptions. */
export function describeTarget(target: Target): string {
  switch (target.kind) {
    case "local":
      return "this machine";
  }
}
