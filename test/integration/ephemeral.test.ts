import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { spawn } from "child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "./harness";

const state = mkdtempSync(join(tmpdir(), "dbstack-ephemeral-state-"));
const env = { ...process.env, PULUMI_BACKEND_URL: `file://${state}` };

interface Run {
  code: number | null;
  output: string;
}

/** Runs `npm run ephemeral` the way a user or CI does; `onOutput` may signal the process. */
function ephemeral(args: string[], onOutput?: (text: string, pid: number) => void): Promise<Run> {
  return new Promise((resolve) => {
    // The script itself (what the npm script runs after set-up), so a signal reaches it as it
    // would from a terminal's Ctrl-C or a CI runner's cancel, with no npm process in between.
    const child = spawn("node", ["-r", "ts-node/register/transpile-only", "scripts/ephemeral.ts", ...args], { cwd: ROOT, env });
    let output = "";
    const collect = (d: Buffer) => {
      output += d.toString();
      onOutput?.(output, child.pid!);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("close", (code) => resolve({ code, output }));
  });
}

function stackName(output: string): string {
  const match = /creating stack (\S+)/.exec(output);
  expect(match, output).not.toBeNull();
  return match![1];
}

/** Nothing of the run is left: no stack in the backend, no data directory, no cron entry. */
async function expectNothingLeft(name: string) {
  const workspace = await LocalWorkspace.create({ workDir: ROOT, envVars: { PULUMI_BACKEND_URL: `file://${state}`, PULUMI_CONFIG_PASSPHRASE: "x" } });
  expect((await workspace.listStacks()).map((s) => s.name)).not.toContain(name);
  expect(existsSync(join(tmpdir(), `dbstack-${name}`))).toBe(false);
  expect(readdirSync("/etc/cron.d").filter((f) => f.startsWith(`dbstack-${name}`))).toEqual([]);
  expect(existsSync(join(ROOT, `Pulumi.${name}.yaml`))).toBe(false);
  // The run's PostgreSQL cluster (eph_<run id>) is gone too: no config, no data directory.
  const cluster = `eph_${name.slice(name.lastIndexOf("-") + 1)}`;
  expect(existsSync(`/etc/postgresql/15/${cluster}`)).toBe(false);
  expect(existsSync(`/var/lib/postgresql/15/${cluster}`)).toBe(false);
}

afterAll(() => rmSync(state, { recursive: true, force: true }));

describe("npm run ephemeral", () => {
  it("deploys, checks, runs the test command, then removes the stack and its data", async () => {
    const run = await ephemeral(["--stack-prefix", "it-ok"]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("integrity_check: ok");
    expect(run.output).toContain("smoke test passed");
    expect(run.output).toContain("postgres smoke test passed (app)");
    await expectNothingLeft(stackName(run.output));
  });

  it("fails when the test command fails, and still removes everything", async () => {
    const run = await ephemeral(["--stack-prefix", "it-fail", "--test-command", "echo 'the app is broken' >&2; exit 3"]);
    expect(run.code).toBe(1);
    expect(run.output).toContain("the app is broken");
    expect(run.output).toContain("command failed (exit 3)");
    await expectNothingLeft(stackName(run.output));
  });

  it("keeps the stack on failure when asked, and --clean-stale removes it", async () => {
    const run = await ephemeral(["--stack-prefix", "it-keep", "--keep-on-failure", "--test-command", "exit 1"]);
    expect(run.code).toBe(1);
    const name = stackName(run.output);
    expect(existsSync(join(tmpdir(), `dbstack-${name}`, "data", "app.db"))).toBe(true);
    const list = await ephemeral(["--list-stale", "--stack-prefix", "it-keep", "--ttl", "0s"]);
    expect(list.output).toContain(name);
    const clean = await ephemeral(["--clean-stale", "--stack-prefix", "it-keep", "--ttl", "0s"]);
    expect(clean.code, clean.output).toBe(0);
    await expectNothingLeft(name);
  });

  it("on SIGTERM during the test command, stops and removes everything", async () => {
    let sent = false;
    const run = await ephemeral(["--stack-prefix", "it-term", "--test-command", "sleep 120"], (out, pid) => {
      if (!sent && out.includes("running test command")) {
        sent = true;
        process.kill(pid, "SIGTERM");
      }
    });
    expect(sent).toBe(true);
    expect(run.code, run.output).toBe(143);
    await expectNothingLeft(stackName(run.output));
  });

  it("on SIGINT during pulumi up, stops the update and removes everything", async () => {
    let sent = false;
    const run = await ephemeral(["--stack-prefix", "it-int"], (out, pid) => {
      if (!sent && out.includes("app-file creat")) {
        sent = true;
        process.kill(pid, "SIGINT");
      }
    });
    expect(sent).toBe(true);
    expect(run.code, run.output).toBe(130);
    expect(run.output).not.toContain("health checks of sqlite"); // stopped during up, not after it
    await expectNothingLeft(stackName(run.output));
  });
});
