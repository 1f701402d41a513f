/**
 * A host script running over SSH when its deploy dies: the local `ssh` client is stopped (by the
 * provider's engine watchdog, or killed outright), and the script on the host must stop too
 * (SIGTERM to its process group), rather than run on and race the next `up`. Both as root and
 * through sudo, against a real sshd in a test host.
 */
import { execFileSync, execSync } from "child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOnTarget } from "../../components/targets/hostCommand";
import type { SshTarget } from "../../components/targets/target";
import { createTestHosts, type TestHosts } from "./support/hosts";

const SUDO_USER = "deploy";
let hosts: TestHosts;

beforeAll(async () => {
  hosts = await createTestHosts(["sshstop"], { sudoUser: SUDO_USER });
}, 120_000);

afterAll(async () => {
  await hosts?.destroy();
});

/** Runs `script` as root on the test host, through the test's own SSH client. */
function onHost(script: string): string {
  return execFileSync("ssh", [...hosts.sshArgs(), `root@${hosts.host("sshstop").address}`, "bash -s"], { input: script, encoding: "utf8" });
}

/** The `ssh` clients this process started. */
function sshChildren(): number[] {
  const out = execSync(`ps -o pid=,comm= --ppid ${process.pid} || true`, { encoding: "utf8" });
  return out.split("\n").filter((l) => /\bssh$/.test(l.trim())).map((l) => Number(l.trim().split(/\s+/)[0]));
}

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.each([
  ["root", "root", false],
  ["a sudo user", SUDO_USER, true],
])("a host script over SSH as %s, whose session dies", (_label, user, sudo) => {
  it("is stopped with SIGTERM within seconds, and leaves nothing running", async () => {
    const h = hosts.host("sshstop");
    const tag = `dbstack-sshstop-${user}-${process.pid}`;
    const marker = `/tmp/${tag}.term`;
    onHost(`rm -f ${marker}`);
    const target: SshTarget = { kind: "ssh", host: h.address, user, sudo, hostKey: h.hostKey };
    // A sleep of a length no other process uses, to find it on the host.
    const sleep = `sleep ${3000 + (process.pid % 1000) * 2 + (sudo ? 1 : 0)}`;
    const script = [`trap 'echo TERM > ${marker}; exit 143' TERM`, `${sleep} & wait`, "echo finished"].join("\n");
    const running = runOnTarget({ target, privateKey: h.privateKey, description: "slow step", create: script, stdout: "" }, `${script}\n`);
    const failed = running.then(
      () => "finished",
      () => "failed",
    );
    await until("the remote sleep runs", () => onHost(`pgrep -fx '${sleep}' >/dev/null && echo yes || true`).trim() === "yes", 20_000);
    // What the provider's watchdog does to its process group when the engine is gone.
    for (const pid of sshChildren()) process.kill(pid, "SIGTERM");
    expect(await failed).toBe("failed");
    await until("the script got SIGTERM", () => onHost(`cat ${marker} 2>/dev/null || true`).trim() === "TERM", 10_000);
    await until("nothing of the script is left", () => onHost(`pgrep -fx '${sleep}' || true`).trim() === "", 10_000);
  }, 60_000);
});
