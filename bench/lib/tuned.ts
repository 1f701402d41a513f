import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { existsSync, mkdirSync, readdirSync, rmSync } from "fs";
import { join } from "path";
import { pulumiEnv, ROOT } from "../../scripts/lib/env";

/** A throwaway stack deploying the tuned clusters with dbstack's real PostgreSQL engine. */
export interface TunedStack {
  name: string;
  /** Its own file backend (under the benchmark's temp dir). */
  backend: string;
  created: boolean;
}

/** One dbstack PostgreSQL deployment of the stack (all: workload oltp, 100 connections). */
export interface TunedCluster {
  /** The deployment's name in `dbstack:postgres` (and in the stack outputs). */
  name: string;
  port: number;
  instanceName: string;
  toolsDir: string;
  /** Declared parameter overrides (`parameters`), e.g. the durability-off ceiling's. */
  parameters?: Record<string, string>;
}

export interface TunedSpec {
  clusters: TunedCluster[];
  /** The same database and owner on every cluster. */
  database: string;
  user: string;
}

/** What the deployed stack reports about one tuned cluster. */
export interface TunedOutputs {
  password: string;
  configReport: string;
}

/**
 * The stack's settings for the CLI: its own backend (PULUMI_BACKEND_URL wins over the caller's
 * and the project's) and the passphrase scripts/lib/env.ts gives every stack but prod.
 */
function envOf(s: TunedStack): Record<string, string> {
  return pulumiEnv(s.name, { ...process.env, PULUMI_BACKEND_URL: `file://${s.backend}` });
}

/** max_connections of the dbstack clusters (and the input PGTune gets). */
export const TUNED_MAX_CONNECTIONS = 100;

export function stackConfig(spec: TunedSpec): Record<string, { value: string; secret?: boolean }> {
  return {
    "dbstack:allowDataRemoval": { value: "true" },
    "dbstack:postgres": {
      value: JSON.stringify(
        Object.fromEntries(
          spec.clusters.map((c) => [
            c.name,
            {
              host: "local",
              port: c.port,
              instanceName: c.instanceName,
              workload: "oltp",
              maxConnections: TUNED_MAX_CONNECTIONS,
              ...(c.parameters ? { parameters: c.parameters } : {}),
              databases: { [spec.database]: { owner: spec.user } },
              users: { [spec.user]: { grants: { [spec.database]: "owner" } } },
              toolsDir: c.toolsDir,
            },
          ]),
        ),
      ),
    },
  };
}

/**
 * Creates the stack (workDir: the project root), sets its config and runs `pulumi up`. The CLI's
 * output goes to `log` only when the up fails (or `verbose`), to keep the benchmark's output short.
 */
export async function deployTuned(
  s: TunedStack,
  spec: TunedSpec,
  opts: { signal: AbortSignal; timeoutMs: number; verbose: boolean; log: (msg: string) => void },
): Promise<Record<string, TunedOutputs>> {
  mkdirSync(s.backend, { recursive: true });
  const stack = await LocalWorkspace.createStack({ stackName: s.name, workDir: ROOT }, { envVars: envOf(s) });
  s.created = true;
  await stack.setAllConfig(stackConfig(spec));
  let output = "";
  const started = Date.now();
  // Stopping the CLI: one SIGINT (the Automation API sends it on abort) cancels gracefully; a
  // second one makes it terminate at once, abandoning the scripts it runs. A Ctrl-C in a terminal
  // has already reached the CLI (it is in our process group): it says so, and then it is left to
  // finish cancelling. Otherwise (SIGTERM, a signal to this process only, the timeout) it gets one.
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), opts.timeoutMs);
  const onAbort = () => setTimeout(() => output.includes("received; cancelling") || stop.abort(), 1500);
  opts.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const result = await stack.up({
      signal: stop.signal,
      onOutput: (out) => {
        output += out;
        if (opts.verbose) process.stderr.write(out);
      },
    });
    const changes = Object.entries(result.summary.resourceChanges ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
    opts.log(`pulumi up: ${changes} in ${Math.round((Date.now() - started) / 1000)} s`);
  } catch (err) {
    if (!opts.verbose) opts.log(`pulumi up failed; its output ends with:\n${output.trim().split("\n").slice(-40).join("\n")}`);
    const why = opts.signal.aborted ? " (interrupted)" : stop.signal.aborted ? ` (timed out after ${Math.round(opts.timeoutMs / 1000)} s)` : "";
    throw new Error(`pulumi up of stack ${s.name} failed${why}`, { cause: err });
  } finally {
    clearTimeout(timer);
    opts.signal.removeEventListener("abort", onAbort);
  }
  const outputs = await stack.outputs();
  const postgres = outputs.postgres?.value as Record<string, { urls: Record<string, Record<string, { postgresql: string }>>; configReport: string }> | undefined;
  const result: Record<string, TunedOutputs> = {};
  for (const c of spec.clusters) {
    const url = postgres?.[c.name]?.urls?.[spec.user]?.[spec.database]?.postgresql;
    if (!url) throw new Error(`the stack has no output postgres.${c.name}.urls.${spec.user}.${spec.database}.postgresql`);
    result[c.name] = { password: decodeURIComponent(new URL(url).password), configReport: postgres![c.name].configReport ?? "" };
  }
  return result;
}

/**
 * Destroys and removes the stack (as scripts/ephemeral.ts does: an interrupted update can leave
 * pending operations, which are cleared so destroy can run), and the Pulumi.<stack>.yaml the
 * Automation API wrote in the project root.
 */
export async function teardownTuned(s: TunedStack, opts: { timeoutMs: number; log: (msg: string) => void }): Promise<void> {
  try {
    if (!s.created) return;
    const stack = await LocalWorkspace.selectStack({ stackName: s.name, workDir: ROOT }, { envVars: envOf(s) });
    opts.log(`destroying stack ${s.name}`);
    try {
      await stack.destroy({ signal: AbortSignal.timeout(opts.timeoutMs) });
    } catch {
      opts.log("destroy failed; clearing pending operations and retrying");
      const state = await stack.exportStack();
      if (state.deployment) delete state.deployment.pending_operations;
      await stack.importStack(state);
      await stack.destroy({ signal: AbortSignal.timeout(opts.timeoutMs) });
    }
    await stack.workspace.removeStack(s.name, { force: true });
    opts.log(`removed stack ${s.name}`);
  } finally {
    rmSync(join(ROOT, `Pulumi.${s.name}.yaml`), { force: true });
    // Belt and braces: dbstack names host files after the stack; the components remove them on destroy.
    if (existsSync("/etc/cron.d")) {
      for (const f of readdirSync("/etc/cron.d")) if (f.startsWith(`dbstack-${s.name}-`)) rmSync(join("/etc/cron.d", f), { force: true });
    }
  }
}
