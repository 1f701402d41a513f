import type { Stack } from "@pulumi/pulumi/automation";
import { spawn, spawnSync, type ChildProcess } from "child_process";
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, sandbox, setConfig } from "./harness";
import { renderSessionWatchdog } from "../../components/targets/ssh";
import { createTestHosts, type TestHosts } from "./support/hosts";
import { renderServingProbe } from "../../components/engines/postgres/clusterScripts";
import { renderClusterCaProbe } from "../../components/engines/postgres/tls";
import { certificateLifetime } from "../../components/tls/lifetime";

// A fake SSH host: a second sshd in a test host's network namespace, on port 2222, whose every
// session runs a forced command that appends its stdin (the script and environment dbstack sends)
// to a log and answers like a healthy host. Nothing runs for real, so a PostgreSQL stack "deploys"
// in seconds; what matters is what reaches the host, and when the host is refused.
const box = sandbox("hostkeys");
const FAKE_PORT = 2222;
const dir = join(box.dir, "fake");
const stdinLog = join(dir, "stdin.log");
const hostKeyFile = join(dir, "host_key");
let hosts: TestHosts;
let fakeSshd: ChildProcess | undefined;
let address: string;
let clientKeys: string[] = [];
let stack: Stack;

function must(file: string, args: string[]): string {
  const r = spawnSync(file, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${file} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

function newKey(path: string): { privateKey: string; publicKey: string } {
  rmSync(path, { force: true });
  rmSync(`${path}.pub`, { force: true });
  must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "dbstack-fake", "-f", path]);
  return { privateKey: readFileSync(path, "utf8"), publicKey: readFileSync(`${path}.pub`, "utf8").trim() };
}

/** The fake host's public key, "ssh-ed25519 AAAA…". */
function fakeHostKey(): string {
  return readFileSync(`${hostKeyFile}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

async function startFakeSshd(): Promise<void> {
  fakeSshd = spawn("ip", ["netns", "exec", hosts.host("hkfake").namespace, "/usr/sbin/sshd", "-D", "-e", "-f", join(dir, "sshd_config")], {
    stdio: "ignore",
  });
  for (let i = 0; i < 100; i++) {
    const scan = spawnSync("ssh-keyscan", ["-T", "2", "-p", String(FAKE_PORT), address], { encoding: "utf8" });
    if (scan.stdout.includes("ssh-ed25519")) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the fake sshd did not come up");
}

async function stopFakeSshd(): Promise<void> {
  const child = fakeSshd;
  fakeSshd = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.on("exit", r));
  child.kill("SIGTERM");
  await exited;
}

function config(host: Record<string, unknown> = {}, over: { rotation?: number; requireHostKeys?: boolean } = {}) {
  return {
    ...(over.requireHostKeys === undefined ? {} : { requireHostKeys: over.requireHostKeys }),
    hosts: { fake: { address, port: FAKE_PORT, privateKey: clientKeys[0], ...host } },
    postgres: {
      main: {
        host: "fake",
        port: 5460,
        instanceName: "hkfake",
        hostFacts: { memoryMb: 1024, cpus: 2 },
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" }, passwordRotation: over.rotation ?? 0 } },
      },
    },
  };
}

const logSize = () => (existsSync(stdinLog) ? statSync(stdinLog).size : 0);
/**
 * What reached the fake host after byte `from` of its log, besides the host-facts probe (a
 * read-only `nproc`/meminfo script with no environment that every preview and up runs, so that a
 * resized host is retuned) and the session watchdog every SSH script starts with.
 */
const WATCHDOG_LINES = new Set(renderSessionWatchdog().split("\n"));
/**
 * The read-only probes every preview and up sends, which change nothing on the host: the
 * configure step's (is the cluster serving on its port, is its certificate current?) and the CA
 * step's (is the CA certificate current?).
 */
const PROBE_LINES = new Set(
  [
    renderServingProbe({ cluster: "hkfake", port: 5460, version: 15 }, certificateLifetime().certificateDays),
    renderClusterCaProbe({ cluster: "hkfake", port: 5460, version: 15 }, certificateLifetime()),
  ].flatMap((probe) => probe.split("\n")),
);
/** The post-deploy hook step's probe (hooks/hookRecord.ts): did the last run of database app's hook succeed? A read. */
const isHookProbe = (line: string) => line.startsWith(`grep -q '^{"ok":true,' '`) && line.endsWith("/hooks/app.json'");
const sentSince = (from: number) =>
  (existsSync(stdinLog) ? readFileSync(stdinLog, "utf8").slice(from) : "")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("nproc; awk '/^MemTotal:/") && !WATCHDOG_LINES.has(l) && !PROBE_LINES.has(l) && !isHookProbe(l))
    .join("\n");

beforeAll(async () => {
  hosts = await createTestHosts(["hkfake"]);
  address = hosts.host("hkfake").address;
  must("mkdir", ["-p", dir]);
  chmodSync(dir, 0o755);
  const first = newKey(join(dir, "client1"));
  const second = newKey(join(dir, "client2"));
  clientKeys = [first.privateKey, second.privateKey];
  newKey(hostKeyFile);
  const fake = join(dir, "fake.sh");
  writeFileSync(fake, `#!/bin/bash\ncat >> ${stdinLog}\nprintf '%s\\n' '{"version":15,"memoryMb":1024,"cpus":2}'\n`, { mode: 0o755 });
  const authorized = [first.publicKey, second.publicKey].map((k) => `command="${fake}",no-pty,no-port-forwarding ${k}`).join("\n");
  writeFileSync(join(dir, "authorized_keys"), `${authorized}\n`, { mode: 0o644 });
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${FAKE_PORT}`,
      `ListenAddress ${address}`,
      `HostKey ${hostKeyFile}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "",
    ].join("\n"),
  );
  await startFakeSshd();
  stack = await box.stack("hk", config());
});

afterAll(async () => {
  // The fake host holds nothing: the stack's state goes with the sandbox, no destroy needed.
  await stopFakeSshd();
  await hosts?.destroy();
  rmSync(box.dir, { recursive: true, force: true });
});

describe("SSH host keys are pinned", () => {
  it("a stack that requires declared host keys refuses a host without one at preview, naming the key", async () => {
    const strict = await box.stack("hkstrict", config({}, { requireHostKeys: true }));
    await expect(strict.preview()).rejects.toThrow(/dbstack:hosts\.fake\.hostKey: missing; dbstack:requireHostKeys is true/);
    expect(logSize()).toBe(0);
    await strict.workspace.removeStack("hkstrict");
  });

  it("the first up trusts the host on first use and records its key in the state", async () => {
    const result = await stack.up();
    expect(changes(result.summary).create).toBeGreaterThan(10);
    const log = readFileSync(stdinLog, "utf8");
    expect(log).toContain("export DBSTACK_PASSWORD_APP=");
    const state = await stack.exportStack();
    const record = state.deployment.resources.find((r: { type: string }) => r.type.endsWith("dbstack:SshHostKeys"));
    expect(record?.outputs.keys).toBe(fakeHostKey());
    expect(record?.outputs.source).toBe("recorded on first contact");
    // The health report is kept secret: the step's environment holds the owner's password.
    expect(result.outputs.postgres.value.main.hookReports.app).toContain('"version":15');
    const raw = JSON.parse(readFileSync(join(box.dir, "state", ".pulumi", "stacks", "dbstack", "hk.json"), "utf8"));
    const hook = raw.checkpoint.latest.resources.find((r: { urn: string }) => r.urn.endsWith("::main-post-deploy-app"));
    expect(hook.outputs.stdout).toHaveProperty("ciphertext");
  });

  it("changing how the host is reached (hostKey added, another private key, sudo) replaces, deletes and runs nothing", async () => {
    const before = logSize();
    await setConfig(stack, config({ hostKey: fakeHostKey(), privateKey: clientKeys[1], sudo: true }));
    const preview = await stack.preview();
    expect(Object.keys(preview.changeSummary ?? {}).sort()).toEqual(["same", "update"]);
    const result = await stack.up();
    expect(Object.keys(changes(result.summary)).sort()).toEqual(["same", "update"]);
    expect(sentSince(before)).toBe("");
    // And back to the recorded key: the same.
    await setConfig(stack, config());
    const back = await stack.up();
    expect(Object.keys(changes(back.summary)).filter((k) => k !== "same" && k !== "update")).toEqual([]);
    expect(sentSince(before)).toBe("");
  });

  it("a host whose key changed is refused, naming it and the key to set, and receives nothing", async () => {
    const oldKey = fakeHostKey();
    await stopFakeSshd();
    newKey(hostKeyFile);
    await startFakeSshd();
    rmSync(stdinLog, { force: true });
    // A rotated password: the role's step and the hook must run, and would send the new password.
    await setConfig(stack, config({}, { rotation: 1 }));
    const failed = stack.up();
    await expect(failed).rejects.toThrow(new RegExp(`refused SSH host \\[${address.replace(/\./g, "\\.")}\\]:${FAKE_PORT}: the key it presents does not match the key recorded`));
    await expect(failed).rejects.toThrow(/set dbstack:hosts\.fake\.hostKey to it/);
    await expect(failed).rejects.toThrow(/Nothing was sent to the host/);
    expect(existsSync(stdinLog)).toBe(false);

    // The key declared as it was before is refused the same way.
    await setConfig(stack, config({ hostKey: oldKey }, { rotation: 1 }));
    await expect(stack.up()).rejects.toThrow(/does not match the key declared in dbstack:hosts\.fake\.hostKey/);
    expect(existsSync(stdinLog)).toBe(false);

    // Declaring the new key (checked out of band) lets the deploy through.
    await setConfig(stack, config({ hostKey: fakeHostKey() }, { rotation: 1 }));
    await stack.up();
    expect(readFileSync(stdinLog, "utf8")).toContain("export DBSTACK_PASSWORD_APP=");
  });
});
