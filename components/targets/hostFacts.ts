import * as pulumi from "@pulumi/pulumi";
import type { Target } from "./target";

/** What tuning needs to know about a host. */
export interface HostFacts {
  /** Total memory in MiB. */
  memoryMb: number;
  /** CPUs this host's processes may use. */
  cpus: number;
}

export interface HostFactsArgs {
  /** The host to read. */
  target: pulumi.Input<Target>;
  /** Private key for an SSH target; kept secret in state. */
  privateKey?: pulumi.Input<string>;
}

interface State extends HostFacts {
  target: Target;
  privateKey?: string;
}

/**
 * Reads the host's memory and CPUs. Runs inside the dynamic provider, so it requires what it uses.
 * This machine is read in-process (no command runs); an SSH host with one short `ssh` round trip
 * that sends nothing but the command (a declared host key is enforced).
 */
async function probe(state: { target: Target; privateKey?: string }): Promise<HostFacts> {
  const os = require("os") as typeof import("os");
  if (state.target.kind === "local") return { memoryMb: Math.floor(os.totalmem() / 1048576), cpus: os.availableParallelism() };
  const { execFile } = require("child_process") as typeof import("child_process");
  const fs = require("fs") as typeof import("fs");
  const path = require("path") as typeof import("path");
  const t = state.target;
  if (!state.privateKey) throw new Error(`no SSH private key for ${t.host}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbstack-facts-"));
  try {
    const keyFile = path.join(dir, "key");
    const knownHosts = path.join(dir, "known_hosts");
    fs.writeFileSync(keyFile, state.privateKey.endsWith("\n") ? state.privateKey : `${state.privateKey}\n`, { mode: 0o600 });
    const pattern = (t.port ?? 22) === 22 ? t.host : `[${t.host}]:${t.port}`;
    const key = t.hostKey?.trim();
    fs.writeFileSync(knownHosts, key ? `${/^(ssh-|ecdsa-|sk-)/.test(key) ? `${pattern} ${key}` : key}\n` : "", { mode: 0o600 });
    const args = [
      "-i", keyFile, "-p", String(t.port ?? 22),
      "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
      "-o", `StrictHostKeyChecking=${key ? "yes" : "accept-new"}`, "-o", `UserKnownHostsFile=${knownHosts}`,
      `${t.user ?? "root"}@${t.host}`,
      "nproc; awk '/^MemTotal:/ { print $2 }' /proc/meminfo",
    ];
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/" };
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile("ssh", args, { timeout: 30_000, env }, (err, out, errOut) => (err ? reject(new Error(`reading host facts of ${t.host}: ${errOut.trim() || err.message}`)) : resolve(out))),
    );
    const [cpus, memKb] = stdout.trim().split("\n").map((l) => Number(l.trim()));
    if (!(cpus > 0) || !(memKb > 0)) throw new Error(`unexpected host facts from ${t.host}: ${JSON.stringify(stdout)}`);
    return { cpus, memoryMb: Math.floor(memKb / 1024) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const provider: pulumi.dynamic.ResourceProvider = {
  // Runs on every preview and up: a resized host shows as a change (and its retuning with it).
  async diff(_id: string, olds: State, news: State) {
    let now: HostFacts;
    try {
      now = await probe(news);
    } catch {
      // Unreachable during a preview: keep what was read last; the next up reads it again.
      return { changes: false };
    }
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
