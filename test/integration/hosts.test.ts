import { execFile } from "child_process";
import { promisify } from "util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BRIDGE, createTestHosts, type CommandResult, type TestHosts } from "./support/hosts";

// Host names are fixed per test file (namespaces dbs-alpha, dbs-beta); test files run one at a
// time (vitest.config.ts: fileParallelism false).
const SUDO_USER = "deploy";

async function sh(command: string): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)("bash", ["-c", command], { encoding: "utf8" });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** A plain `ssh` invocation, as a user of the hosts would type it. */
function sshCommand(t: TestHosts, name: string, user: string, command: string): string {
  const h = t.host(name);
  return [
    "ssh",
    `-i ${h.privateKeyPath}`,
    "-o BatchMode=yes",
    "-o StrictHostKeyChecking=yes",
    `-o UserKnownHostsFile=${h.knownHostsPath}`,
    "-o ConnectTimeout=5",
    `${user}@${h.address}`,
    `'${command}'`,
  ].join(" ");
}

describe("test hosts (network namespaces with sshd)", () => {
  let t: TestHosts;
  let destroyed = false;

  beforeAll(async () => {
    t = await createTestHosts(["alpha", "beta"], { sudoUser: SUDO_USER });
  });

  afterAll(async () => {
    if (t && !destroyed) await t.destroy();
  });

  it("gives each host its own namespace and address", () => {
    expect(t.hosts.map((h) => [h.name, h.namespace, h.port, h.user])).toEqual([
      ["alpha", "dbs-alpha", 22, "root"],
      ["beta", "dbs-beta", 22, "root"],
    ]);
    const [alpha, beta] = t.hosts;
    expect(alpha.address).toMatch(/^10\.213\.0\.\d+$/);
    expect(beta.address).toMatch(/^10\.213\.0\.\d+$/);
    expect(alpha.address).not.toBe(beta.address);
    expect(alpha.privateKey).toContain("BEGIN OPENSSH PRIVATE KEY");
    expect(alpha.hostKeyFingerprint).toMatch(/^SHA256:/);
    expect(alpha.hostKey).not.toBe(beta.hostKey);
  });

  it.each(["alpha", "beta"])("lets root ssh to %s, which sees its own address", async (name) => {
    const h = t.host(name);
    const r = await sh(sshCommand(t, name, "root", "id -u; ip -4 -o addr show"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [uid, ...addrs] = r.stdout.trim().split("\n");
    expect(uid).toBe("0");
    const mine = addrs.join("\n");
    expect(mine).toContain(` ${h.address}/24 `);
    expect(mine).toContain(" 127.0.0.1/8 ");
    for (const other of t.hosts.filter((o) => o.name !== name)) expect(mine).not.toContain(other.address);
  });

  it("has no route out of the test subnet inside a host", async () => {
    const routes = await t.run("alpha", "ip -4 route show; ip -4 route get 1.1.1.1 2>&1 || true");
    expect(routes.code).toBe(0);
    expect(routes.stdout).not.toMatch(/^default/m);
    expect(routes.stdout).toMatch(/unreachable/i);
    // IPv4 on the test subnet only: no IPv6 (link-local) addresses on the test interfaces.
    expect((await t.run("alpha", "ip -6 -o addr show dev eth0")).stdout).toBe("");
    expect((await sh(`ip -6 -o addr show dev ${BRIDGE}`)).stdout).toBe("");
  });

  it("lets alpha reach beta's sshd from inside its namespace", async () => {
    const beta = t.host("beta");
    const r = await sh(`ip netns exec dbs-alpha timeout 5 bash -c 'exec 3<>/dev/tcp/${beta.address}/22 && head -c 7 <&3'`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("SSH-2.0");
    // And the harness's run() executes in the namespace too.
    const viaRun = await t.run("beta", `timeout 5 bash -c 'exec 3<>/dev/tcp/${t.host("alpha").address}/22 && head -c 7 <&3'`);
    expect(viaRun).toEqual({ code: 0, stdout: "SSH-2.0", stderr: "" });
  });

  it("lets the non-root user log in and use sudo without a password", async () => {
    for (const name of ["alpha", "beta"]) {
      const r = await sh(sshCommand(t, name, SUDO_USER, "id -un; sudo -n id -u"));
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split("\n")).toEqual([SUDO_USER, "0"]);
    }
    const viaHarness = await t.ssh("beta", "whoami", { user: SUDO_USER });
    expect(viaHarness.stdout.trim()).toBe(SUDO_USER);
  });

  it("destroy() kills processes started in the hosts and removes namespaces, addresses and bridge", async () => {
    // A process a test would start in a namespace (e.g. a database server), detached from run().
    await t.run("alpha", "setsid sleep 600 </dev/null >/dev/null 2>&1 &");
    const stray = await sh("for p in $(ip netns pids dbs-alpha); do [ \"$(cat /proc/$p/cmdline | tr '\\0' ' ')\" = 'sleep 600 ' ] && echo $p; done");
    const strayPids = stray.stdout.trim().split("\n").filter(Boolean);
    expect(strayPids).toHaveLength(1);
    const addresses = t.hosts.map((h) => h.address);

    await t.destroy();
    destroyed = true;
    await t.destroy(); // idempotent

    const netns = await sh("ip netns list");
    expect(netns.stdout).not.toMatch(/\bdbs-(alpha|beta)\b/);
    // Host sets of other test files (another stream runs beside this one) keep the shared bridge
    // and its route: only when none is alive must they be gone too.
    const othersAlive = /\bdbs-/.test(netns.stdout);
    // Dead: gone, or a zombie waiting for PID 1 to reap it.
    const state = await sh(`awk '/^State:/ {print $2}' /proc/${strayPids[0]}/status 2>/dev/null`);
    expect(["", "Z"]).toContain(state.stdout.trim());
    if (!othersAlive) expect((await sh(`ip link show dev ${BRIDGE}`)).code).not.toBe(0);
    const rootAddrs = await sh("ip -4 -o addr show");
    for (const a of addresses) expect(rootAddrs.stdout).not.toContain(a);
    if (!othersAlive) expect((await sh("ip -4 route show 10.213.0.0/24")).stdout.trim()).toBe("");

    // Nothing answers at the old addresses. A temporary unreachable route keeps the probe's SYN on
    // this machine (without the bridge, 10.213.0.0/24 would otherwise follow the default route).
    const guard = await sh("ip route add unreachable 10.213.0.0/16 metric 4000");
    expect(guard.code).toBe(0);
    try {
      for (const a of addresses) {
        const probe = await sh(`timeout 5 bash -c 'exec 3<>/dev/tcp/${a}/22' 2>&1`);
        expect(probe.code).not.toBe(0);
        expect(probe.stdout).not.toContain("SSH");
      }
    } finally {
      await sh("ip route del unreachable 10.213.0.0/16 metric 4000");
    }
  });
});
