import * as pulumi from "@pulumi/pulumi";
import { parseHostKeys } from "./ssh";
import type { SshTarget } from "./target";

/**
 * The pinned host keys of one SSH host, kept in the stack's state: trust on first use.
 *
 * On creation it takes the declared key (`hostKey`), or, when none is declared, reads the keys
 * the host offers (ssh-keyscan) and records them. After that it never changes: a later `up`
 * neither reads the host again nor accepts another key, so a host that presents a different key
 * is refused by every HostCommand fed these keys (StrictHostKeyChecking=yes). A declared
 * `hostKey` on the target wins over the recorded keys; that is how a legitimately re-keyed host
 * is accepted again.
 *
 * Changing the host's address, port or declared key changes nothing here (no update, no
 * replacement): those describe how the host is reached, not which host it is.
 */
export interface SshHostKeysArgs {
  /** The host, as HostCommand reaches it. Only its address, port and hostKey are used, once. */
  target: SshTarget;
}

interface State {
  host: string;
  port: number;
  declared?: string;
  /** "type base64" lines, sorted. */
  keys: string;
  /** "declared" or "recorded on first contact". */
  source: string;
}

const provider: pulumi.dynamic.ResourceProvider = {
  // Immutable once created: the keys stay what was declared or seen on first contact.
  async diff() {
    return { changes: false };
  },

  async create(inputs: State) {
    if (inputs.declared) {
      const keys = parseHostKeys(inputs.declared);
      return { id: `hostkeys-${Date.now().toString(36)}`, outs: { ...inputs, keys: keys.join("\n"), source: "declared" } };
    }
    // Required here, not imported: this function is serialized into the dynamic provider.
    const { spawnSync } = require("child_process") as typeof import("child_process");
    const scan = spawnSync("ssh-keyscan", ["-T", "15", "-t", "ed25519,ecdsa,rsa", "-p", String(inputs.port), inputs.host], {
      encoding: "utf8",
      timeout: 60_000,
    });
    const keys = parseHostKeys(scan.stdout ?? "");
    if (keys.length === 0) {
      const why = scan.error ? scan.error.message : (scan.stderr ?? "").trim().split("\n").slice(-5).join("\n");
      throw new Error(`could not read the SSH host key of ${inputs.host} port ${inputs.port} (ssh-keyscan found none): ${why || "no answer"}`);
    }
    return { id: `hostkeys-${Date.now().toString(36)}`, outs: { ...inputs, keys: keys.join("\n"), source: "recorded on first contact" } };
  },
};

export class SshHostKeys extends pulumi.dynamic.Resource {
  /** The pinned keys, one "type base64" per line. */
  declare readonly keys: pulumi.Output<string>;
  /** "declared" or "recorded on first contact". */
  declare readonly source: pulumi.Output<string>;

  constructor(name: string, args: SshHostKeysArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { host: args.target.host, port: args.target.port ?? 22, declared: args.target.hostKey, keys: undefined, source: undefined },
      opts,
      "dbstack",
      "SshHostKeys",
    );
  }
}
