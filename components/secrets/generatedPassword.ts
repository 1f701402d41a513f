import * as pulumi from "@pulumi/pulumi";

/**
 * A generated password, kept as a Pulumi secret. It stays the same across deploys until
 * `rotation` changes, which replaces it (and so re-runs whatever uses it).
 *
 * This plays the role of @pulumi/random's RandomPassword as a dynamic provider, for the same
 * reason HostCommand replaces @pulumi/command: the random plugin cannot be built here.
 * Passwords use letters and digits only, so they are safe in URLs, shell and SQL literals
 * without escaping; 32 of them carry about 190 bits.
 */
export interface GeneratedPasswordArgs {
  /** Number of characters. Default 32. */
  length?: number;
  /** Any value; changing it generates a new password (rotation). Default 0. */
  rotation?: pulumi.Input<string | number>;
}

interface State {
  length: number;
  rotation: string | number;
  result: string;
}

const provider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: State, news: State) {
    const replaces = (["length", "rotation"] as const).filter((k) => String(olds[k]) !== String(news[k]));
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
  },
  async create(inputs: State) {
    const { randomInt } = require("crypto") as typeof import("crypto");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let result = "";
    for (let i = 0; i < inputs.length; i++) result += alphabet[randomInt(alphabet.length)];
    return { id: `pw-${randomInt(1e9).toString(36)}`, outs: { length: inputs.length, rotation: inputs.rotation, result } };
  },
};

export class GeneratedPassword extends pulumi.dynamic.Resource {
  /** The password (secret). */
  declare readonly result: pulumi.Output<string>;

  constructor(name: string, args: GeneratedPasswordArgs = {}, opts?: pulumi.CustomResourceOptions) {
    const length = args.length ?? 32;
    if (!Number.isInteger(length) || length < 16 || length > 128) {
      throw new Error(`length: expected a whole number of characters from 16 to 128, got ${JSON.stringify(length)}`);
    }
    super(
      provider,
      name,
      { length, rotation: args.rotation ?? 0, result: undefined },
      { ...opts, additionalSecretOutputs: ["result"] },
      "dbstack",
      "GeneratedPassword",
    );
  }
}
