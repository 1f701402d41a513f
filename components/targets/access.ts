import * as pulumi from "@pulumi/pulumi";
import { SshHostKeys } from "./hostKeys";
import { unknownTarget, type Target } from "./target";

/** How a component's steps reach one host: the target, its SSH key and its pinned host keys. */
export interface HostAccess {
  /** The target without its secrets: what HostCommand stores and compares. */
  target: Target;
  privateKey?: pulumi.Input<string>;
  hostKeys?: pulumi.Input<string>;
  /**
   * What the steps run in, when it can be re-created under them (a container's id): a change
   * re-runs every step (see HostCommandArgs.placement). Default: none (a host is not re-created).
   */
  placement?: pulumi.Input<string>;
}

/**
 * The one place a component turns a target into what its HostCommand steps take. An SSH target's
 * key travels with the target; here it is split off, so that the steps keep it as a secret of
 * their own and never in the stored target. Keys a host offered on first contact are recorded by
 * an SshHostKeys child named `<name>-host-keys` unless the target brings recorded ones.
 */
export function hostAccess(name: string, target: Target, parent: pulumi.Resource): HostAccess {
  switch (target.kind) {
    case "local":
      return { target };
    case "ssh": {
      const { privateKey, recordedHostKeys, ...where } = target;
      const hostKeys = recordedHostKeys ?? new SshHostKeys(`${name}-host-keys`, { target: where }, { parent }).keys;
      return { target: where, privateKey, hostKeys };
    }
    case "docker": {
      // The key of the Docker host's machine, when it is reached over SSH, is split off the same way.
      if (target.on?.kind !== "ssh") return { target };
      const machine = hostAccess(name, target.on, parent);
      return { ...machine, target: { ...target, on: machine.target as typeof target.on } };
    }
    default:
      return unknownTarget(target);
  }
}
