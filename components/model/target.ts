import type * as pulumi from "@pulumi/pulumi";

/**
 * Where a deployment runs. The target is a parameter of every component, not a fork of its code:
 * components render scripts, and the target decides how a script reaches a host.
 */
export type Target = LocalTarget | SshTarget | DockerTarget;

/** Where a Docker engine runs: this machine or a Linux host over SSH. */
export type MachineTarget = LocalTarget | SshTarget;

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

/**
 * A Docker host: the database runs in a container there, created by dbstack from a declared image.
 * Engine steps run inside the container (`docker exec -i <container> bash -s`, the script and its
 * environment on stdin); host-level steps (the container itself, its volumes, cron jobs that back
 * up through `docker exec`) run on the machine the Docker engine runs on, with the plain `docker`
 * CLI and `DOCKER_HOST`. It works with Docker Engine and with Podman's Docker-compatible API.
 *
 * Like an SSH target, everything here says how the engine is reached: changing it never replaces
 * or re-runs a step. What runs there (image, limits, published ports) is the deployment's
 * `container` spec.
 */
export interface DockerTarget {
  kind: "docker";
  /**
   * The Docker API endpoint as the docker CLI takes it in `DOCKER_HOST` on the machine in `on`:
   * `unix:///var/run/docker.sock`, `unix:///run/podman/podman.sock`, `tcp://…`.
   * Default unix:///var/run/docker.sock.
   */
  endpoint?: string;
  /**
   * The machine the `docker` CLI runs on: this machine (default) or a Linux host over SSH, reached
   * with the same pinned host key as an SSH target. Cron backups are installed there.
   */
  on?: MachineTarget;
  /**
   * Where this host is declared in the stack config (e.g. `dbstack:hosts.docker1`), for errors.
   * Default: none.
   */
  configKey?: string;
  /**
   * The container the step runs in. Set by the deployment component (its container's name),
   * never by users: a target without it runs on the Docker host's machine, not in a container.
   */
  container?: string;
}
