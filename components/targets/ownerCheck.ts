import * as pulumi from "@pulumi/pulumi";
import { runOnTarget } from "./hostCommand";
import type { Target } from "./target";

/**
 * Refuses at preview what the host says cannot be deployed, before any step: a read-only script
 * that exits non-zero, naming the config field to change, when
 * - a marker of another stack is where this deployment would put its instance, data or tools
 *   (ownership.ts): the refusal says whose the thing is;
 * - the host runs the instance or its server in another version than the declared `version`.
 * It runs while the engine checks the resource's inputs, which a preview does too, so
 * `pulumi preview` fails instead of planning "+13 to create" over another stack's server, or
 * "unchanged" over a version it does not run.
 *
 * It runs for a deployment not yet in the stack's state and whenever its script changes (a
 * declared version, a location); only when the host can be read at preview (its target is known:
 * not a container still to be made). An existing instance with no marker at all is left to the
 * create step, which refuses it before changing anything: a preview cannot tell it from one this
 * stack made before markers.
 */
export interface OwnerCheckArgs {
  /** The host to read. */
  target: pulumi.Input<Target>;
  /** Private key for an SSH target; kept secret in state. */
  privateKey?: pulumi.Input<string>;
  /** The SSH host's pinned keys (see SshHostKeys), when its target declares none. */
  hostKeys?: pulumi.Input<string>;
  /** What is checked, for messages ("owner of mariadb instance main"). */
  description: pulumi.Input<string>;
  /** The read-only script: exits non-zero with the refusal on stderr. */
  script: pulumi.Input<string>;
}

interface State {
  target: Target;
  privateKey?: string;
  hostKeys?: string;
  description: string;
  script: string;
}

/** The refusals a probe prints that fail the preview (anything else, e.g. an unreachable host, is left to the steps). */
const REFUSALS = [/belongs to another dbstack stack/, /^version: /m];

/**
 * One script of read-only probes: each runs in a subshell of its own (a probe's `exit` ends only
 * that probe) and every one runs, so a probe that fails for another reason (a package not
 * installed yet) does not hide another's refusal; the script fails when any did.
 */
export function renderPreviewProbes(probes: string[]): string {
  return ["failed=0", ...probes.map((p) => `(\n${p}\n) || failed=1`), 'exit "$failed"'].join("\n");
}

/** Pulumi's marker of an input not known yet (a preview before the value exists). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function hasUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(hasUnknown);
  if (value && typeof value === "object") return Object.values(value).some(hasUnknown);
  return false;
}

/** What reaching the host needs: the recorded host keys only when the target declares no key of its own. */
function readable(state: State): Partial<State> {
  const t = state.target;
  const machine = t?.kind === "docker" ? t.on : t;
  const declaredKey = machine?.kind === "ssh" && machine.hostKey !== undefined;
  return { ...state, hostKeys: declaredKey ? undefined : state.hostKeys };
}

const provider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<State>, news: State) {
    const unchanged = olds.script === news.script; // in the stack's state with the same probes: its steps have run
    if (!unchanged && !hasUnknown(readable(news))) {
      try {
        await runOnTarget({ ...news, create: news.script, stdout: "" }, news.script);
      } catch (err) {
        // runOnTarget's message ends with the script's stderr: the refusal, naming owner and field.
        const message = String((err as Error).message);
        if (REFUSALS.some((r) => r.test(message))) throw new Error(message.slice(message.indexOf("\n") + 1).trim());
        // Unreachable or unreadable at preview: the steps themselves check again before any change.
      }
    }
    return { inputs: news };
  },
  async diff() {
    return { changes: false };
  },
  async create(inputs: State) {
    return { id: `owner-${Date.now().toString(36)}`, outs: inputs };
  },
  async update(_id: string, _olds: State, news: State) {
    return { outs: news };
  },
};

/** A deployment's owner check on one host (see OwnerCheckArgs). Stored, never re-run once in state. */
export class OwnerCheck extends pulumi.dynamic.Resource {
  constructor(name: string, args: OwnerCheckArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { ...args, privateKey: args.privateKey === undefined ? undefined : pulumi.secret(args.privateKey) },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "dbstack",
      "OwnerCheck",
    );
  }
}
