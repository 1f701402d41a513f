// npm run ephemeral -- [--stack-prefix p] [--keep-on-failure] [--config file] [--test-command cmd]
// npm run ephemeral -- --list-stale|--clean-stale [--stack-prefix p] [--ttl 24h]
//
// Creates a uniquely named throwaway stack (data removal allowed, local targets), deploys it,
// runs its health checks and a test command against its outputs, then destroys and removes it,
// also when a step fails or the run is interrupted (SIGINT/SIGTERM).
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { spawn, spawnSync } from "child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { readOptions, UsageError } from "./lib/cli";
import { ensurePulumiOnPath, pulumiEnv, ROOT } from "./lib/env";
import { createServer } from "net";
import { ephemeralStackName, isStale, parseTtl, runIdOf, substitutePlaceholders } from "./lib/ephemeralNames";

interface EphemeralSpec {
  config: Record<string, unknown>;
  testCommand?: string;
}

const log = (msg: string) => console.log(`ephemeral: ${msg}`);

const USAGE = [
  "usage: npm run ephemeral -- [--stack-prefix p] [--keep-on-failure] [--config file] [--test-command cmd]",
  "       npm run ephemeral -- --list-stale|--clean-stale [--stack-prefix p] [--ttl 24h]",
].join("\n");

async function main(): Promise<number> {
  let options;
  try {
    options = readOptions(process.argv.slice(2), {
      "stack-prefix": { type: "string" },
      "keep-on-failure": { type: "boolean" },
      config: { type: "string" },
      "test-command": { type: "string" },
      "list-stale": { type: "boolean" },
      "clean-stale": { type: "boolean" },
      ttl: { type: "string" },
    });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message === "") {
      console.log(`ephemeral: deploys a throwaway stack, runs its checks and a test command, then destroys it.\n${USAGE}`);
      return 0;
    }
    console.error(`ephemeral: ${err.message}\n${USAGE}`);
    return 2;
  }
  const values = {
    "stack-prefix": (options["stack-prefix"] as string | undefined) ?? "ephemeral",
    "keep-on-failure": options["keep-on-failure"] === true,
    config: (options.config as string | undefined) ?? join(ROOT, "stacks/ephemeral.json"),
    "test-command": options["test-command"] as string | undefined,
    "list-stale": options["list-stale"] === true,
    "clean-stale": options["clean-stale"] === true,
    ttl: (options.ttl as string | undefined) ?? "24h",
  };
  ensurePulumiOnPath();
  const prefix = values["stack-prefix"]!;
  if (values["list-stale"] || values["clean-stale"]) return staleStacks(prefix, parseTtl(values.ttl!), values["clean-stale"]!);

  const spec = JSON.parse(readFileSync(resolve(values.config!), "utf8")) as EphemeralSpec;
  const name = ephemeralStackName(prefix, new Date());
  const dataRoot = dataRootOf(name);
  const testCommand = values["test-command"] ?? spec.testCommand;

  const abort = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return log(`${signal} again: still cleaning up ${name}, please wait`);
    interrupted = signal;
    log(`${signal}: stopping, then destroying ${name}`);
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const workspace = await LocalWorkspace.create({ workDir: ROOT, envVars: pulumiEnv(name) });
  let stack: Stack | undefined;
  let failed = false;
  try {
    log(`creating stack ${name} (data under ${dataRoot})`);
    // The run's own directory, searchable by the unprivileged account its SQLite database runs as
    // when the run is root (dbstack-sqlite), not listable; what dbstack creates inside is private.
    mkdirSync(dataRoot, { recursive: true });
    chmodSync(dataRoot, 0o711);
    stack = await LocalWorkspace.createStack({ stackName: name, workDir: ROOT }, { envVars: pulumiEnv(name) });
    const vars = { DATA_ROOT: dataRoot, RUN_ID: runIdOf(name), PG_PORT: String(await freePort()) };
    const config = substitutePlaceholders(spec.config, vars) as Record<string, unknown>;
    await stack.setAllConfig({
      "dbstack:allowDataRemoval": { value: "true" },
      ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`dbstack:${k}`, { value: JSON.stringify(v) }])),
    });
    throwIfInterrupted(interrupted);
    log("pulumi up");
    await stack.up({ signal: abort.signal, onOutput: (out) => process.stdout.write(out) });
    throwIfInterrupted(interrupted);
    const outputs = Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value]));
    for (const [db, out] of Object.entries((outputs.sqlite ?? {}) as Record<string, { healthCommand: string }>)) {
      log(`health checks of sqlite database ${db}`);
      await runCommand(out.healthCommand, {}, abort.signal);
    }
    for (const [name, out] of Object.entries((outputs.postgres ?? {}) as Record<string, { toolsDir: string; databases: string[] }>)) {
      for (const db of out.databases) {
        log(`health checks of postgres ${name}, database ${db}`);
        await runCommand(`${out.toolsDir}/health-${db}`, {}, abort.signal);
      }
    }
    if (testCommand) {
      log(`running test command: ${testCommand}`);
      await runCommand(testCommand, { DBSTACK_STACK: name, DBSTACK_OUTPUTS: JSON.stringify(outputs) }, abort.signal);
    }
    throwIfInterrupted(interrupted);
    log("passed");
  } catch (err) {
    failed = true;
    log(`failed: ${(err as Error).message.trim().split("\n").slice(-15).join("\n")}`);
  } finally {
    if (failed && values["keep-on-failure"] && !interrupted) {
      log(`kept stack ${name} and ${dataRoot} for inspection (--keep-on-failure); clean up with: npm run ephemeral -- --clean-stale --stack-prefix ${prefix} --ttl 0s`);
    } else {
      await teardown(workspace, name, stack !== undefined);
    }
  }
  if (interrupted) return interrupted === "SIGINT" ? 130 : 143;
  return failed ? 1 : 0;
}

function throwIfInterrupted(signal: NodeJS.Signals | undefined): void {
  if (signal) throw new Error(`interrupted by ${signal}`);
}

/** Runs a shell command in the project directory; rejects on non-zero exit or abort. */
function runCommand(command: string, env: Record<string, string>, signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn("bash", ["-c", command], { cwd: ROOT, env: { ...process.env, ...env }, stdio: "inherit" });
    const onAbort = () => child.kill("SIGTERM");
    signal.addEventListener("abort", onAbort);
    child.on("error", reject);
    child.on("close", (code) => {
      signal.removeEventListener("abort", onAbort);
      if (code === 0) resolvePromise();
      else reject(new Error(`command failed (exit ${code}): ${command}`));
    });
  });
}

/** A TCP port free on this machine now, for the run's PostgreSQL cluster. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no free port"))));
    });
  });
}

function dataRootOf(name: string): string {
  return join(tmpdir(), `dbstack-${name}`);
}

/**
 * Destroys and removes the stack and everything it left on this host. An interrupted update can
 * leave pending operations in the state; they are cleared so destroy can run.
 */
async function teardown(workspace: LocalWorkspace, name: string, created: boolean): Promise<void> {
  if (created) {
    const stack = await LocalWorkspace.selectStack({ stackName: name, workDir: ROOT }, { envVars: pulumiEnv(name) });
    log(`destroying ${name}`);
    try {
      await stack.destroy();
    } catch {
      log("destroy failed; clearing pending operations and retrying");
      const state = await stack.exportStack();
      if (state.deployment) delete state.deployment.pending_operations;
      await stack.importStack(state);
      await stack.destroy();
    }
    await workspace.removeStack(name, { force: true });
  }
  rmSync(dataRootOf(name), { recursive: true, force: true });
  // PostgreSQL clusters of the run (named eph_<run id>), left by an interrupted create.
  const cluster = `eph_${runIdOf(name)}`;
  if (existsSync("/etc/postgresql")) {
    for (const version of readdirSync("/etc/postgresql")) {
      if (!existsSync(join("/etc/postgresql", version, cluster))) continue;
      spawnSync("pg_dropcluster", ["--stop", version, cluster], { stdio: "ignore" });
      rmSync(join("/etc/postgresql", version, cluster), { recursive: true, force: true });
      rmSync(join("/var/lib/postgresql", version, cluster), { recursive: true, force: true });
    }
  }
  // Belt and braces: the components remove their cron entries on destroy.
  if (existsSync("/etc/cron.d")) {
    for (const f of readdirSync("/etc/cron.d")) if (f.startsWith(`dbstack-${name}-`)) rmSync(join("/etc/cron.d", f), { force: true });
  }
  log(`removed stack ${name} and its data`);
}

async function staleStacks(prefix: string, ttlMs: number, clean: boolean): Promise<number> {
  const workspace = await LocalWorkspace.create({ workDir: ROOT, envVars: pulumiEnv(`${prefix}-`) });
  const now = new Date();
  const stale = (await workspace.listStacks()).map((s) => s.name).filter((n) => isStale(n, prefix, ttlMs, now));
  if (stale.length === 0) log(`no ${prefix}-* stacks older than the TTL`);
  for (const name of stale) {
    if (!clean) {
      console.log(name);
      continue;
    }
    await teardown(workspace, name, true);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`ephemeral: ${(err as Error).message}`);
    process.exit(1);
  },
);
