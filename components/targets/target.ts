import type * as pulumi from "@pulumi/pulumi";

/**
 * Where a deployment runs. The target is a parameter of every component, not a fork of its code:
 * components render scripts, and the target decides how a script reaches a host.
 */
export type Target = LocalTarget | SshTarget;

/** This machine: scripts run with `bash` as the user running Pulumi. */
export interface LocalTarget {
  kind: "local";
}

/**
 * A Linux host reached over SSH with the system's OpenSSH client. Scripts run as `bash -s` with
 * the script on stdin, through `sudo -n` when the SSH user is not root. The private key travels
 * with the target (a secret), so every component on the host can reach it; components hand it to
 * HostCommand separately (see access.ts), so that it never sits in a step's stored target.
 *
 * Everything here says how the host is reached, not what runs there: changing any of it (even
 * the address's form) never replaces or re-runs a step.
 */
export interface SshTarget {
  kind: "ssh";
  /** Host name or address. */
  host: string;
  /** SSH port. Default 22. */
  port?: number;
  /** SSH user. Default root. */
  user?: string;
  /** Run scripts through `sudo -n` (passwordless sudo). Default: when the user is not root. */
  sudo?: boolean;
  /**
   * The host's public key (`ssh-ed25519 AAAA...`), a known_hosts line for it, or several of
   * these on separate lines. Default: none, and the keys the host offers on first contact are
   * recorded in the stack's state (SshHostKeys) and enforced ever after. A declared key wins
   * over a recorded one.
   */
  hostKey?: string;
  /**
   * Where this host is declared in the stack config (e.g. `dbstack:hosts.db1`), so that errors
   * name the key to set (`dbstack:hosts.db1.hostKey`). Default: none.
   */
  configKey?: string;
  /** The SSH private key (a secret). Default: none (ssh then fails unless the agent has a key). */
  privateKey?: pulumi.Input<string>;
  /**
   * The host's keys as recorded on first contact (SshHostKeys.keys), when `hostKey` is not
   * declared; stacks record them once per host. Default: the component records them itself.
   */
  recordedHostKeys?: pulumi.Input<string>;
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
    case "ssh":
      return `${target.user ?? "root"}@${target.host}${target.port && target.port !== 22 ? `:${target.port}` : ""}`;
    default:
      return unknownTarget(target);
  }
}

/**
 * The end of every switch over target kinds: a kind this code does not know is an error, never a
 * silent run on this machine. The type makes a missing case a compile error too.
 */
export function unknownTarget(target: never): never {
  throw new Error(`unknown target kind ${JSON.stringify((target as { kind?: unknown })?.kind)}: expected "local" or "ssh"`);
}
