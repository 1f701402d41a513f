import * as pulumi from "@pulumi/pulumi";
import type { ReviewFacts } from "../review/facts";
import { minimalEnvironment } from "./environment";
import type { Target } from "./target";

/**
 * Runs rendered scripts on a target as a Pulumi resource: `create` when the resource is created,
 * `update` (or `create` again) when any of its scripts, its environment or its triggers change,
 * and `delete` when it is destroyed.
 *
 * This plays the role @pulumi/command's Command plays, as a dynamic provider: the command
 * plugin cannot be built on the machines dbstack is developed on (its Go module is not served by
 * the module proxy they reach), while a dynamic provider needs only @pulumi/pulumi. Scripts are
 * passed on stdin, never on a command line; the environment may hold secrets and is kept
 * encrypted in state.
 */
export interface HostCommandArgs {
  /** Where the scripts run. Changing it replaces the resource. */
  target: pulumi.Input<Target>;
  /**
   * What the resource is on the host, e.g. a database file's path. Changing it replaces the
   * resource (the old one's `delete` runs first), so a preview shows a replacement, not an update.
   */
  identity?: pulumi.Input<string>;
  /** What the command is for, used in error messages ("migrations for sqlite 'app'"). */
  description: pulumi.Input<string>;
  /** Bash script run on create. */
  create: pulumi.Input<string>;
  /** Bash script run when anything but `delete` changes. Default: `create` again. */
  update?: pulumi.Input<string>;
  /** Bash script run on destroy. Default: nothing. */
  delete?: pulumi.Input<string>;
  /** Environment for every script; values may be secrets. Over SSH it travels on stdin, never on a command line. */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Private key for an SSH target (OpenSSH or PEM text); kept secret in state. */
  privateKey?: pulumi.Input<string>;
  /** Values whose change alone re-runs `update` (for example a dependency's id). */
  triggers?: pulumi.Input<pulumi.Input<unknown>[]>;
  /** What this resource is, for the preview summary (data-bearing, restarts, backups ...). */
  review?: pulumi.Input<ReviewFacts>;
}

interface State {
  target: Target;
  identity?: string;
  description: string;
  create: string;
  update?: string;
  delete?: string;
  environment?: Record<string, string>;
  privateKey?: string;
  triggers?: unknown[];
  review?: ReviewFacts;
  stdout: string;
}

/** Every field a diff compares; a change to `target` or `identity` replaces the resource. */
const DIFF_FIELDS = ["target", "identity", "description", "create", "update", "delete", "environment", "privateKey", "triggers", "review"] as const;
/** Fields whose change re-runs the command; `delete` and `review` are only stored. */
const RERUN_FIELDS = ["create", "update", "environment", "triggers"] as const;
// (A new private key for the same host changes nothing on the host: it is stored, not re-run.)

/** Whether a field is unchanged (absent and undefined count as the same). */
function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

const provider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: State, news: State) {
    const changed = DIFF_FIELDS.filter((f) => !same(olds[f], news[f]));
    return {
      changes: changed.length > 0,
      replaces: changed.filter((f) => f === "target" || f === "identity"),
      deleteBeforeReplace: true,
    };
  },

  async create(inputs: State) {
    const stdout = await runOnTarget(inputs, inputs.create);
    return { id: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`, outs: { ...inputs, stdout } };
  },

  async update(_id: string, olds: State, news: State) {
    const rerun = RERUN_FIELDS.some((f) => !same(olds[f], news[f]));
    const stdout = rerun ? await runOnTarget(news, news.update ?? news.create) : olds.stdout;
    return { outs: { ...news, stdout } };
  },

  async delete(_id: string, props: State) {
    if (props.delete) await runOnTarget(props, props.delete);
  },
};

/** Runs `script` with bash on the target; resolves to its stdout, rejects with its stderr. */
async function runOnTarget(state: State, script: string): Promise<string> {
  // Required here, not imported: this function is serialized into the dynamic provider.
  const { spawn } = require("child_process") as typeof import("child_process");
  const fs = require("fs") as typeof import("fs");
  const os = require("os") as typeof import("os");
  const path = require("path") as typeof import("path");
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const env = state.environment ?? {};
  let command = "bash";
  let args = ["-s"];
  let input = script;
  // Never the whole of this process's environment: it holds PULUMI_CONFIG_PASSPHRASE.
  let childEnv: NodeJS.ProcessEnv = minimalEnvironment(process.env, env);
  let tmp: string | undefined;
  if (state.target.kind === "ssh") {
    const t = state.target;
    if (!state.privateKey) throw new Error(`${state.description}: no SSH private key for ${t.host}`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dbstack-ssh-"));
    const keyFile = path.join(tmp, "key");
    const knownHosts = path.join(tmp, "known_hosts");
    fs.writeFileSync(keyFile, state.privateKey.endsWith("\n") ? state.privateKey : `${state.privateKey}\n`, { mode: 0o600 });
    // A bare key ("ssh-ed25519 AAAA...") is bound to this host; a full known_hosts line is used as is.
    const hostPattern = (t.port ?? 22) === 22 ? t.host : `[${t.host}]:${t.port}`;
    const knownLine = t.hostKey && /^(ssh-|ecdsa-|sk-)/.test(t.hostKey.trim()) ? `${hostPattern} ${t.hostKey.trim()}` : t.hostKey;
    fs.writeFileSync(knownHosts, knownLine ? `${knownLine}\n` : "", { mode: 0o600 });
    const user = t.user ?? "root";
    const sudo = t.sudo ?? user !== "root";
    command = "ssh";
    args = [
      "-i", keyFile, "-p", String(t.port ?? 22),
      "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=20",
      "-o", `StrictHostKeyChecking=${t.hostKey ? "yes" : "accept-new"}`, "-o", `UserKnownHostsFile=${knownHosts}`,
      "-o", "LogLevel=ERROR",
      `${user}@${t.host}`, sudo ? "sudo -n bash -s" : "bash -s",
    ];
    // The environment travels on stdin, before the script: never on a command line.
    input = Object.entries(env).map(([k, v]) => `export ${k}=${quote(v)}`).join("\n") + "\n" + script;
    childEnv = minimalEnvironment(process.env);
  }
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = spawn(command, args, { env: childEnv, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        process.stderr.write(d);
      });
      child.on("error", (err: Error) => reject(new Error(`${state.description}: could not start ${command}: ${err.message}`)));
      child.on("close", (code: number | null) => {
        if (code === 0) return resolve(stdout.trimEnd());
        const detail = stderr.trim().split("\n").slice(-20).join("\n");
        reject(new Error(`${state.description} failed (exit ${code}):\n${detail}`));
      });
      child.stdin.on("error", () => undefined); // the child may exit before reading all input
      child.stdin.end(input);
    });
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export class HostCommand extends pulumi.dynamic.Resource {
  /** What the last run printed on stdout. */
  declare readonly stdout: pulumi.Output<string>;

  constructor(name: string, args: HostCommandArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        stdout: undefined,
        identity: undefined,
        update: undefined,
        delete: undefined,
        triggers: undefined,
        review: undefined,
        ...args,
        // Secret in state whatever the caller passed: these may hold passwords and keys.
        environment: args.environment === undefined ? undefined : pulumi.secret(args.environment),
        privateKey: args.privateKey === undefined ? undefined : pulumi.secret(args.privateKey),
      },
      { ...opts, additionalSecretOutputs: ["environment", "privateKey"] },
      "dbstack",
      "HostCommand",
    );
  }
}
