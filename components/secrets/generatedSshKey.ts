import * as pulumi from "@pulumi/pulumi";

/**
 * A generated SSH key pair (Ed25519) for a machine-to-machine login dbstack sets up (pgBackRest
 * between a database host and its repository host). The private key, in OpenSSH's format, is a
 * Pulumi secret: it reaches a host only through a step's environment into a 0600 file. The public
 * key (`ssh-ed25519 AAAA… <comment>`) is plain. It stays the same across deploys until `rotation`
 * changes, which replaces it (and so re-runs what uses it).
 *
 * A dynamic provider for the same reason as GeneratedPassword: the tls plugin cannot be built here.
 */
export interface GeneratedSshKeyArgs {
  /** The public key's comment, e.g. `dbstack-pitr main`. Letters, digits and . _ @ - only. */
  comment: string;
  /** Any value; changing it generates a new key pair (rotation). Default 0. */
  rotation?: pulumi.Input<string | number>;
}

interface State {
  comment: string;
  rotation: string | number;
  privateKey: string;
  publicKey: string;
}

/** The provider (exported for its unit test). */
export const sshKeyProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: State, news: State) {
    const replaces = (["comment", "rotation"] as const).filter((k) => String(olds[k]) !== String(news[k]));
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
  },
  async create(inputs: State) {
    // Required here, not imported: this function is serialized into the dynamic provider.
    const crypto = require("crypto") as typeof import("crypto");
    const { privateKey } = crypto.generateKeyPairSync("ed25519");
    const jwk = privateKey.export({ format: "jwk" }) as { d: string; x: string };
    const seed = Buffer.from(jwk.d, "base64url");
    const pub = Buffer.from(jwk.x, "base64url");
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    const str = (b: Buffer | string) => {
      const buf = typeof b === "string" ? Buffer.from(b) : b;
      return Buffer.concat([u32(buf.length), buf]);
    };
    const pubBlob = Buffer.concat([str("ssh-ed25519"), str(pub)]);
    const check = crypto.randomBytes(4);
    let secret = Buffer.concat([check, check, str("ssh-ed25519"), str(pub), str(Buffer.concat([seed, pub])), str(inputs.comment)]);
    const pad: number[] = [];
    for (let i = 1; (secret.length + pad.length) % 8 !== 0; i++) pad.push(i);
    secret = Buffer.concat([secret, Buffer.from(pad)]);
    const body = Buffer.concat([Buffer.from("openssh-key-v1\0"), str("none"), str("none"), str(""), u32(1), str(pubBlob), str(secret)]).toString("base64");
    const lines = body.match(/.{1,70}/g) ?? [];
    const pem = ["-----BEGIN OPENSSH PRIVATE KEY-----", ...lines, "-----END OPENSSH PRIVATE KEY-----", ""].join("\n");
    const publicKey = `ssh-ed25519 ${pubBlob.toString("base64")} ${inputs.comment}`;
    return { id: `sshkey-${crypto.randomInt(1e9).toString(36)}`, outs: { comment: inputs.comment, rotation: inputs.rotation, privateKey: pem, publicKey } };
  },
};

export class GeneratedSshKey extends pulumi.dynamic.Resource {
  /** The private key in OpenSSH's format (secret). */
  declare readonly privateKey: pulumi.Output<string>;
  /** The public key line, `ssh-ed25519 AAAA… <comment>`. */
  declare readonly publicKey: pulumi.Output<string>;

  constructor(name: string, args: GeneratedSshKeyArgs, opts?: pulumi.CustomResourceOptions) {
    if (!/^[A-Za-z0-9._@-]{1,100}$/.test(args.comment)) throw new Error(`comment: expected letters, digits and . _ @ - only, got ${JSON.stringify(args.comment)}`);
    super(
      sshKeyProvider,
      name,
      { comment: args.comment, rotation: args.rotation ?? 0, privateKey: undefined, publicKey: undefined },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "dbstack",
      "GeneratedSshKey",
    );
  }
}
