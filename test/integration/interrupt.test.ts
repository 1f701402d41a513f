import type { Stack } from "@pulumi/pulumi/automation";
import { spawn, spawnSync } from "child_process";
import { chmodSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { hostname } from "os";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pulumiEnv } from "../../scripts/lib/env";
import { changes, ROOT, sandbox, setConfig } from "./harness";

// A `pulumi up` killed with SIGKILL while a host step runs: nothing of that run may be left
// running, the step is stopped by the rule in tools/bin/dbstack-engine-watchdog.js (SIGTERM to
// the provider's process group), and `npm run recover` + `up` bring the stack back.

const box = sandbox("interrupt");
const stackName = `it-interrupt-${process.pid}`;
const marks = join(box.dir, "marks");
const delay = join(marks, "delay");
const started = join(marks, "started");
const stopped = join(marks, "stopped");
const finished = join(marks, "finished");
const db = join(box.dir, "data", "app.db");
// The slow host step: an external migration command that records its start, its SIGTERM and
// its end. Its length is read from a file, so the converging `up` runs the same command fast.
const command = [
  `echo run >> '${started}'`,
  `trap 'echo term >> '"'"'${stopped}'"'"'; exit 143' TERM`,
  `sleep "$(cat '${delay}')"`,
  `echo done >> '${finished}'`,
].join("; ");
const spec = (extra: Record<string, unknown> = {}) => ({
  // The command runs as the database's owner, never as root (issue 17): nobody here.
  sqlite: { app: { path: db, owner: "nobody", group: "nogroup", toolsDir: join(box.dir, "tools"), migrations: { command } } },
  ...extra,
});
const env = { ...process.env, ...pulumiEnv(stackName, { PULUMI_BACKEND_URL: box.backend }) };
const lockDir = join(box.dir, "state", ".pulumi", "locks", "organization", "dbstack", stackName);

interface Proc {
  pid: number;
  state: string;
  args: string;
}

/** The live (not zombie) processes of a session: a CLI started with setsid and all it started. */
function sessionProcesses(sid: number): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[3]) !== sid || f[0] === "Z") continue;
      out.push({ pid: Number(entry), state: f[0], args: readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ").trim() });
    } catch {
      // exited while listing
    }
  }
  return out;
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean).length : 0);

async function waitFor(what: string, timeoutMs: number, ok: () => boolean): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() - t0;
}

let stack: Stack;
let cliPid = 0;

beforeAll(async () => {
  // The owner (nobody) reaches the database below the sandbox and writes its marks.
  chmodSync(box.dir, 0o711);
  mkdirSync(marks, { recursive: true });
  chmodSync(marks, 0o1777);
  writeFileSync(delay, "30\n", { mode: 0o644 });
  stack = await box.stack(stackName, spec());
});

afterAll(async () => {
  // Whatever a failed assertion left of the killed run goes first.
  if (cliPid) for (const p of sessionProcesses(cliPid)) spawnSync("kill", ["-KILL", String(p.pid)]);
  writeFileSync(delay, "0\n");
  spawnSync("npx", ["ts-node", "--transpile-only", "scripts/recover.ts", "--stack", stackName], { cwd: ROOT, env });
  await setConfig(stack, spec({ allowDataRemoval: true }));
  await stack.up();
  await stack.destroy();
  await stack.workspace.removeStack(stackName);
  rmSync(box.dir, { recursive: true, force: true });
});

describe("an up killed with SIGKILL during a host step", () => {
  it("leaves no language host, provider or host script of its run, and the step got SIGTERM", async () => {
    const log = openSync(join(box.dir, "killed-up.log"), "w");
    // setsid (detached): the run's processes share a session whose id is the CLI's pid, which
    // finds them after they are re-parented, and only them (other runs may be alive).
    const cli = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", stackName], {
      cwd: box.projectDir,
      env,
      detached: true,
      stdio: ["ignore", log, log],
    });
    cliPid = cli.pid!;
    const exited = new Promise((r) => cli.on("exit", r));
    await waitFor("the slow migration command to start", 120_000, () => lines(started) === 1);

    // The processes this test is about exist before the kill (the assertions below are not vacuous).
    const before = sessionProcesses(cliPid).map((p) => p.args);
    expect(before.some((a) => a.includes("pulumi-language-nodejs"))).toBe(true);
    expect(before.some((a) => a.includes("cmd/dynamic-provider"))).toBe(true);
    expect(before.some((a) => a.startsWith("sleep"))).toBe(true);

    process.kill(cliPid, "SIGKILL");
    await exited;
    const took = await waitFor("every process of the killed run to exit", 15_000, () => sessionProcesses(cliPid).length === 0);
    expect(took).toBeLessThan(15_000);

    // The rule: the running step was stopped with SIGTERM (its trap ran), and never finished.
    expect(lines(stopped)).toBe(1);
    expect(lines(finished)).toBe(0);

    // What the kill left for recovery: the lock of a dead process and a pending create.
    expect(readdirSync(lockDir).filter((f) => f.endsWith(".json"))).toHaveLength(1);
    const pending = (await stack.exportStack()).deployment.pending_operations ?? [];
    expect(pending.map((op: { type: string }) => op.type)).toContain("creating");
  });

  it("npm run pulumi points to npm run recover when it meets the stale lock", () => {
    const result = spawnSync("bash", [join(ROOT, "scripts/pulumi.sh"), "up", "--yes", "--stack", stackName], { cwd: ROOT, env, encoding: "utf8" });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("the stack is currently locked");
    expect(result.stderr).toContain(`npm run recover -- --stack ${stackName}`);
  });

  it("npm run recover removes the stale lock and the pending operations, and says so", () => {
    const result = spawnSync("npm", ["run", "-s", "recover", "--", "--stack", stackName], { cwd: ROOT, env, encoding: "utf8" });
    expect(result.stderr.replace(/npm warn.*\n/g, "")).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/locks: removed .*\.json \(pid \d+ on .* is gone\)/);
    expect(result.stdout).toContain("creating urn:pulumi:");
    expect(result.stdout).toMatch(/pending operations: cleared \d+ \(stack import\)/);
    expect(readdirSync(lockDir).filter((f) => f.endsWith(".json"))).toHaveLength(0);
  });

  it("the next up converges (the stopped step runs again, to its end), and a further up changes nothing", async () => {
    expect((await stack.exportStack()).deployment.pending_operations ?? []).toHaveLength(0);
    writeFileSync(delay, "0\n");
    const converge = await stack.up();
    expect(converge.summary.result).toBe("succeeded");
    expect(lines(started)).toBe(2);
    expect(lines(finished)).toBe(1);
    expect(converge.outputs.sqlite.value.app.hookReport).toContain("integrity_check: ok");

    const again = await stack.up();
    const counts = changes(again.summary);
    expect(Object.keys(counts).filter((k) => k !== "same")).toEqual([]);
    expect(lines(started)).toBe(2);
  });
});

describe("npm run recover and locks it must not remove", () => {
  it("leaves a lock whose process is alive here, and one taken on another host, and then touches nothing else", () => {
    // A backend of its own: recover stops at the locks, before it would need the stack.
    const backend = join(box.dir, "other-backend");
    const dir = join(backend, ".pulumi", "locks", "organization", "dbstack", "busy");
    mkdirSync(dir, { recursive: true });
    const now = new Date().toISOString();
    writeFileSync(join(dir, "live.json"), JSON.stringify({ pid: process.pid, username: "root", hostname: hostname(), timestamp: now }));
    writeFileSync(join(dir, "far.json"), JSON.stringify({ pid: 1, username: "ci", hostname: "another-host.invalid", timestamp: now }));
    const result = spawnSync("npx", ["ts-node", "--transpile-only", "scripts/recover.ts", "--stack", "busy"], {
      cwd: ROOT,
      env: { ...env, PULUMI_BACKEND_URL: `file://${backend}` },
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`left ${join(dir, "live.json")} (pid ${process.pid} on ${hostname()} is running: an update is in progress)`);
    expect(result.stdout).toContain(`left ${join(dir, "far.json")} (pid 1 on another-host.invalid, another host`);
    expect(result.stdout).toContain("2 lock(s) left in place, so pending operations were not touched");
    expect(readdirSync(dir).sort()).toEqual(["far.json", "live.json"]);
  });
});
