import * as pulumi from "@pulumi/pulumi";
import type { ReviewFacts } from "../model/reviewFacts";
import { redactText, secretNeedles } from "./redact";
import { hostKeyRefusedMessage, isHostKeyRefusal, parseHostKeys, renderKnownHosts, renderSessionWatchdog, sshArguments } from "./ssh";
import { minimalEnvironment } from "./environment";
import { renderShippedScript } from "./hostFiles";
import { unknownTarget, type Target } from "./target";

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
 *
 * Only `identity` replaces the resource: the target (address, port, user, sudo, host key) and
 * the SSH keys say how the host is reached, so a change to them is stored for the next run and
 * runs nothing. Over SSH the host's key is pinned (see ssh.ts); every secret value the step
 * knows of is redacted from what it prints (see redact.ts).
 * If the engine dies while a script runs (a killed `pulumi`), the provider process stops the
 * script (SIGTERM to its process group, SIGKILL 5 s later) and exits: see
 * tools/bin/dbstack-engine-watchdog.js. Every script must be safe to re-run after a stop at any point.
 */
export interface HostCommandArgs {
  /** Where the scripts run. A change is stored for the next run: it neither replaces nor re-runs anything. */
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
  /**
   * Files every script can read, by name, in the private directory named by $DBSTACK_FILES
   * (0600 files, removed when the script ends): how user-written text (migration SQL, health
   * checks, a migration command) reaches the host without becoming part of a script. They travel
   * on the script's stdin, length-prefixed (see hostFiles.ts). Plain data in the resource's
   * inputs, so a preview diff shows a changed file as text; a change re-runs the step. Not
   * secret: never put a password here (use `environment`). Default: none.
   */
  files?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Environment for every script; values may be secrets. Over SSH it travels on stdin, never on a command line. */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Private key for an SSH target (OpenSSH or PEM text); kept secret in state. */
  privateKey?: pulumi.Input<string>;
  /**
   * The SSH host's keys recorded on first contact (SshHostKeys.keys), trusted when the target
   * declares no `hostKey`. An SSH step with neither refuses to connect.
   */
  hostKeys?: pulumi.Input<string>;
  /** Values whose change alone re-runs `update` (for example a dependency's id). */
  triggers?: pulumi.Input<pulumi.Input<unknown>[]>;
  /** What this resource is, for the preview summary (data-bearing, restarts, backups ...). */
  review?: pulumi.Input<ReviewFacts>;
  /**
   * What the step runs in, when that can be re-created under it (a container's id): a change
   * re-runs the step, which must then bring the new one to the declared state. Default: none.
   */
  placement?: pulumi.Input<string>;
  /**
   * A read-only script run at every preview and up (during the diff) that exits non-zero when
   * what the step made is gone from the host (a container removed or stopped from outside):
   * the step then shows as changed and `update` runs again. Default: none (state is trusted).
   */
  probe?: pulumi.Input<string>;
}

/** What a HostCommand keeps in state (its inputs, resolved, and its stdout). */
export interface HostCommandState {
  target: Target;
  identity?: string;
  description: string;
  create: string;
  update?: string;
  delete?: string;
  files?: Record<string, string>;
  environment?: Record<string, string>;
  privateKey?: string;
  hostKeys?: string;
  triggers?: unknown[];
  review?: ReviewFacts;
  placement?: string;
  probe?: string;
  stdout: string;
}

/** Every field a diff compares. */
const DIFF_FIELDS = ["target", "identity", "description", "create", "update", "delete", "files", "environment", "privateKey", "hostKeys", "triggers", "review", "placement", "probe"] as const;
/**
 * Fields whose change re-runs the command. How the host is reached (`target`, `privateKey`,
 * `hostKeys`) changes nothing on the host: it is stored, not re-run. `delete` and `review` are
 * only stored too.
 */
const RERUN_FIELDS = ["create", "update", "files", "environment", "triggers", "placement"] as const;
/** The only field whose change replaces the resource: what it is on the host. */
const REPLACE_FIELDS = ["identity"] as const;

/** Whether a field is unchanged (absent and undefined count as the same). */
function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** What a change from `olds` to `news` does: which fields changed, which replace, whether the scripts re-run. */
export function diffHostCommand(
  olds: Partial<Record<(typeof DIFF_FIELDS)[number], unknown>>,
  news: Partial<Record<(typeof DIFF_FIELDS)[number], unknown>>,
): { changes: boolean; changed: string[]; replaces: string[]; rerun: boolean; deleteBeforeReplace: true } {
  const changed: string[] = DIFF_FIELDS.filter((f) => !same(olds[f], news[f]));
  return {
    changes: changed.length > 0,
    changed,
    replaces: changed.filter((f) => (REPLACE_FIELDS as readonly string[]).includes(f)),
    rerun: RERUN_FIELDS.some((f) => !same(olds[f], news[f])),
    deleteBeforeReplace: true,
  };
}

const provider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: HostCommandState, news: HostCommandState) {
    const d = diffHostCommand(olds, news);
    // Drift: what the step made is gone from the host. The update then runs the step again.
    if (!d.changes && news.probe && !(await probeHolds(news, news.probe))) {
      return { changes: true, replaces: [], deleteBeforeReplace: true, diffs: ["probe"] };
    }
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
  },

  async create(inputs: HostCommandState) {
    const stdout = await runOnTarget(inputs, inputs.create);
    return { id: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`, outs: { ...inputs, stdout } };
  },

  async update(_id: string, olds: HostCommandState, news: HostCommandState) {
    const rerun = diffHostCommand(olds, news).rerun || (news.probe !== undefined && !(await probeHolds(news, news.probe)));
    const stdout = rerun ? await runOnTarget(news, news.update ?? news.create) : olds.stdout;
    return { outs: { ...news, stdout } };
  },

  async delete(_id: string, props: HostCommandState) {
    if (props.delete) await runOnTarget(props, props.delete);
  },
};

/** Whether a step's probe passes (exit 0) on its target; unreachable counts as gone. */
async function probeHolds(state: HostCommandState, probe: string): Promise<boolean> {
  try {
    await runOnTarget({ ...state, environment: undefined, files: undefined, description: `${state.description} (probe)` }, probe);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `script` with bash on the target; resolves to its stdout, rejects with the end of its
 * stderr. Every secret value the step knows of (its environment's values, its private key) is
 * redacted from both, and from what is streamed to the engine's log.
 */
export async function runOnTarget(state: HostCommandState, script: string): Promise<string> {
  // Required here, not imported: this function is serialized into the dynamic provider.
  const { spawn } = require("child_process") as typeof import("child_process");
  const fs = require("fs") as typeof import("fs");
  const os = require("os") as typeof import("os");
  const path = require("path") as typeof import("path");
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const env = state.environment ?? {};
  const needles = secretNeedles([...Object.values(env), ...(state.privateKey ? [state.privateKey] : [])]);
  const redact = (text: string) => redactText(text, needles);
  const exportsOf = (vars: Record<string, string>) => Object.entries(vars).map(([k, v]) => `export ${k}=${quote(v)}`).join("\n");
  let command = "bash";
  let args = ["-s"];
  // What bash reads on stdin: the exports, then the script, or with files the shipping of the
  // files and the script (hostFiles.ts). Never a here-document around either.
  const files = state.files ?? {};
  const body = (exports: string): Buffer =>
    Object.keys(files).length === 0
      ? Buffer.from((exports ? exports + "\n" : "") + script)
      : Buffer.concat([Buffer.from(exports ? exports + "\n" : ""), renderShippedScript(files, script)]);
  let input: Buffer = body("");
  // Never the whole of this process's environment: it holds PULUMI_CONFIG_PASSPHRASE.
  let childEnv: NodeJS.ProcessEnv = minimalEnvironment(process.env, env);
  let tmp: string | undefined;
  const t = state.target;
  // A Docker target runs on the machine of its Docker engine: the script (and, in a container,
  // the environment) goes through `docker` there, on stdin; never `docker exec -e`, which
  // `docker inspect` would show.
  let machine: Exclude<Target, { kind: "docker" }>;
  switch (t.kind) {
    case "local":
    case "ssh":
      machine = t;
      input = t.kind === "ssh" ? body(exportsOf(env)) : input;
      break;
    case "docker": {
      machine = t.on ?? { kind: "local" };
      const dockerHost = `export DOCKER_HOST=${quote(t.endpoint ?? "unix:///var/run/docker.sock")}`;
      // In a container: bash on the Docker host reads only the `exec docker exec` line (it reads
      // a piped script byte by byte); the rest of its stdin, exports and script, flows on to the
      // container's bash as it is. No here-document, so nothing in the script can end one.
      const enter = t.container ? [`exec docker exec -i -u 0 ${quote(t.container)} bash -s`] : [];
      input = Buffer.concat([Buffer.from([dockerHost, ...enter, ""].join("\n")), body(exportsOf(env))]);
      childEnv = minimalEnvironment(process.env);
      break;
    }
    default:
      unknownTarget(t);
  }
  if (machine.kind === "ssh") {
    const m = machine;
    if (!state.privateKey) throw new Error(`${state.description}: no SSH private key for ${m.host}`);
    // The pin: the declared key wins; otherwise the keys recorded on first contact.
    const keys = parseHostKeys(m.hostKey ?? state.hostKeys ?? "");
    if (keys.length === 0) {
      throw new Error(
        `${state.description}: no pinned SSH host key for ${m.host}: declare ${m.configKey ? `${m.configKey}.hostKey` : "the target's hostKey"} ` +
          "or pass the keys recorded by SshHostKeys; nothing was sent to the host",
      );
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dbstack-ssh-"));
    const keyFile = path.join(tmp, "key");
    const knownHostsFile = path.join(tmp, "known_hosts");
    fs.writeFileSync(keyFile, state.privateKey.endsWith("\n") ? state.privateKey : `${state.privateKey}\n`, { mode: 0o600 });
    fs.writeFileSync(knownHostsFile, renderKnownHosts(m.host, m.port, keys), { mode: 0o600 });
    command = "ssh";
    args = sshArguments(m, { keyFile, knownHostsFile });
    // The environment travels on stdin, before the script: never on a command line.
    // First a watcher that stops the script if this session dies (see renderSessionWatchdog).
    input = Buffer.concat([Buffer.from(renderSessionWatchdog() + "\n"), input]);
    childEnv = minimalEnvironment(process.env);
  }
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = spawn(command, args, { env: childEnv, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      // Streamed line by line, so that a secret split across two chunks is still found.
      let partial = "";
      const stream = (text: string) => {
        if (text) process.stderr.write(redact(text));
      };
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => {
        const text = d.toString();
        stderr += text;
        const lines = (partial + text).split("\n");
        partial = lines.pop() ?? "";
        if (lines.length > 0) stream(lines.join("\n") + "\n");
      });
      child.on("error", (err: Error) => reject(new Error(`${state.description}: could not start ${command}: ${redact(err.message)}`)));
      child.on("close", (code: number | null) => {
        stream(partial);
        if (code === 0) return resolve(redact(stdout.trimEnd()));
        // ssh exits 255 before authenticating when it refuses the host key: nothing was sent.
        if (machine.kind === "ssh" && code === 255 && isHostKeyRefusal(stderr)) {
          const m = machine;
          return reject(new Error(hostKeyRefusedMessage(state.description, m, { declared: Boolean(m.hostKey), configKey: m.configKey && `${m.configKey}.hostKey` })));
        }
        const detail = redact(stderr.trim()).split("\n").slice(-20).join("\n");
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
  /** What the last run printed on stdout, secret values redacted; a secret output when the step has an environment. */
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
        hostKeys: undefined,
        placement: undefined,
        probe: undefined,
        files: undefined,
        ...args,
        // Secret in state whatever the caller passed: these may hold passwords and keys.
        environment: args.environment === undefined ? undefined : pulumi.secret(args.environment),
        privateKey: args.privateKey === undefined ? undefined : pulumi.secret(args.privateKey),
      },
      // A step with an environment handles secrets: what it prints stays secret too, even redacted
      // (a value derived from a secret, such as a query result, is not a value redaction knows).
      { ...opts, additionalSecretOutputs: ["environment", "privateKey", ...(args.environment === undefined ? [] : ["stdout"])] },
      "dbstack",
      "HostCommand",
    );
  }
}
