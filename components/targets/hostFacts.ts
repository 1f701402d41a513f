import * as pulumi from "@pulumi/pulumi";
import { runOnTarget } from "./hostCommand";
import type { HostFacts } from "../model/tuning";
import type { Target } from "./target";

/** What is measured on a host for tuning (the storage kind is declared, not measured). */
export type MeasuredFacts = Pick<HostFacts, "memoryMb" | "cpus">;

export interface HostFactsArgs {
  /** The host to read. */
  target: pulumi.Input<Target>;
  /** Private key for an SSH target; kept secret in state. */
  privateKey?: pulumi.Input<string>;
  /** The SSH host's pinned keys (see SshHostKeys), when its target declares none. */
  hostKeys?: pulumi.Input<string>;
}

interface State extends Partial<MeasuredFacts> {
  target: Target;
  privateKey?: string;
  hostKeys?: string;
}

/** What the probe runs on an SSH host: CPUs, then MemTotal in KiB. */
const PROBE = "nproc; awk '/^MemTotal:/ { print $2 }' /proc/meminfo";

/**
 * Reads the host's memory and CPUs, or undefined when it cannot (then tuning uses the facts the
 * server step recorded at install). This machine is read in-process, without running any
 * command; an SSH host through HostCommand's own route (the pinned host key, the minimal
 * environment), with one short script that sends nothing secret.
 */
async function probe(state: State): Promise<MeasuredFacts | undefined> {
  const os = require("os") as typeof import("os");
  if (state.target.kind === "local") return { memoryMb: Math.floor(os.totalmem() / 1048576), cpus: os.availableParallelism() };
  try {
    const stdout = await runOnTarget(
      { target: state.target, privateKey: state.privateKey, hostKeys: state.hostKeys, description: `host facts of ${state.target.kind === "ssh" ? state.target.host : "container " + (state.target.container ?? "")}`, create: PROBE, stdout: "" },
      PROBE,
    );
    const [cpus, memKb] = stdout.trim().split("\n").map((l) => Number(l.trim()));
    return cpus > 0 && memKb > 0 ? { cpus, memoryMb: Math.floor(memKb / 1024) } : undefined;
  } catch {
    return undefined;
  }
}

const provider: pulumi.dynamic.ResourceProvider = {
  // Runs on every preview and up: a resized host shows as a change (and its retuning with it).
  async diff(_id: string, olds: State, news: State) {
    const now = await probe(news);
    // Unreadable (unreachable during a preview): keep what was read last; the next run reads again.
    if (now === undefined) return { changes: false };
    return { changes: now.memoryMb !== olds.memoryMb || now.cpus !== olds.cpus };
  },
  async create(inputs: State) {
    return { id: `facts-${Date.now().toString(36)}`, outs: { ...inputs, ...(await probe(inputs)) } };
  },
  async update(_id: string, _olds: State, news: State) {
    return { outs: { ...news, ...(await probe(news)) } };
  },
};

/**
 * A host's memory and CPUs, read again on every preview and up, so that a resized host is
 * retuned and the preview shows it. A change of how the host is reached is stored, not a change.
 */
export class HostFactsReading extends pulumi.dynamic.Resource {
  declare readonly memoryMb: pulumi.Output<number>;
  declare readonly cpus: pulumi.Output<number>;

  constructor(name: string, args: HostFactsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { memoryMb: undefined, cpus: undefined, ...args, privateKey: args.privateKey === undefined ? undefined : pulumi.secret(args.privateKey) },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "dbstack",
      "HostFacts",
    );
  }
}
