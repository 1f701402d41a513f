import { spawnSync } from "child_process";
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHaTool } from "../../components/engines/postgres/ha/tools";
import { multiHostUrls } from "../../components/engines/postgres/ha/urls";
import { APP_PASSWORD, HaCluster, missingTool, SECRETS } from "./support/haCluster";

// The HA renderers (etcd members with TLS and authentication, Patroni members, the supervisor,
// the tools, the multi-host URLs), run with bash as root on three namespace hosts ha-1..3 against
// real etcd 3.4 and Patroni 3 over PostgreSQL 15, under a writer that never pauses and a watcher
// that asks every member every 100 ms, on its own socket, whether it accepts writes. Faults, each
// separately: (a) SIGKILL of the leader's stack, (c) a planned switchover, (d) one etcd member
// killed. (b), the leader's link cut, is not in the suite: see docs/ha.md, "Partitions".
// Ports (6400–6499): PostgreSQL 6401–6403 (one per member: the Unix socket directory is shared),
// Patroni REST 6410, etcd client 6479 and peer 6480 (each on its host's own address).
// Files: /etc/dbstack-it-ha, /var/lib/etcd/itha-*, /var/lib/postgresql/dbstack-it-ha.

const ha = new HaCluster({
  names: ["ha-1", "ha-2", "ha-3"],
  scope: "itha",
  firstPort: 6401,
  restApiPort: 6410,
  etcdClientPort: 6479,
  etcdPeerPort: 6480,
  root: "/etc/dbstack-it-ha",
  pgRoot: "/var/lib/postgresql/dbstack-it-ha",
  synchronous: true,
});

/** The member Patroni holds as synchronous standby (its /sync key), read with the ha-status tool on the leader's host. */
async function syncStandby(leaderName: string): Promise<string | undefined> {
  const leader = ha.memberOf(leaderName);
  const tool = join(ha.work, "ha-status");
  writeFileSync(tool, renderHaTool("ha-status", ha.cluster, leader), { mode: 0o700 });
  const r = await ha.hosts.run(ha.hostOf(leader), `bash ${tool}`);
  return /^member (\S+) role=Sync Standby state=(?:streaming|running)/m.exec(r.stdout)?.[1];
}

/** Waits until Patroni names a synchronous standby that streams: only it may be promoted in synchronous mode. */
async function awaitSyncStandby(leaderName: string): Promise<string> {
  const end = Date.now() + 120_000;
  for (;;) {
    const name = await syncStandby(leaderName);
    if (name) return name;
    if (Date.now() > end) throw new Error(`no synchronous standby of ${leaderName} after 120 s (${JSON.stringify(ha.roles())})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Commits acknowledged after `t` (unix seconds). */
const ackedAfter = (t: number) => ha.acks().some((a) => a.t > t) || undefined;

describe("Patroni on etcd, from dbstack's renderers, on three hosts", () => {
  beforeAll(async () => {
    const missing = missingTool();
    if (missing) throw new Error(`${missing} is missing: install it to run the HA tests`);
    await ha.create();
  }, 300_000);

  afterAll(() => ha.destroy(), 300_000);

  it("starts etcd with TLS and authentication: a client without the password reads nothing", async () => {
    const out = await ha.startEtcd();
    expect(out.join("")).toMatch(/started etcd member[\s\S]*turned etcd authentication on/);
    // Again: authentication is on; passwords and grants are set again, nothing fails.
    expect(await ha.etcdAuthAgain()).toMatch(/etcd authentication is on/);
    const m = ha.etcd.members[1];
    const anonymous = spawnSync("curl", ["-s", "--cacert", `${ha.work}/ca/ca.crt`, "-X", "POST", "--data-binary", `{"key":"${Buffer.from("/service/").toString("base64")}"}`, `https://${m.address}:${m.clientPort}/v3/kv/range`], { encoding: "utf8" });
    expect(anonymous.stdout).toMatch(/user name is empty|invalid auth token|permission denied/);
    const plain = spawnSync("curl", ["-s", "--max-time", "3", `http://${m.address}:${m.clientPort}/version`], { encoding: "utf8" });
    expect(plain.stdout).not.toMatch(/etcdserver/);
  }, 300_000);

  it("bootstraps a Patroni cluster: a leader, two streaming standbys, one of them synchronous; no password readable", async () => {
    const out = await ha.startPatroni();
    expect(out[0]).toMatch(/started Patroni\nmember: (master|primary) running/);
    const first = await ha.until("a leader", () => ha.leader(), 120);
    expect(first).toBe("ha1");
    await ha.until("both standbys streaming, one synchronous", () => ha.replicasFollow(first), 120);
    for (const m of ha.cluster.members) {
      const yml = readFileSync(`${m.home}/patroni.yml`, "utf8");
      for (const secret of Object.values(SECRETS)) expect(yml).not.toContain(secret);
      const env = spawnSync("stat", ["-c", "%a %U", `${m.home}/patroni.env`], { encoding: "utf8" }).stdout.trim();
      expect(env).toBe("600 root");
    }
    const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout;
    for (const secret of Object.values(SECRETS)) expect(ps).not.toContain(secret);
    ha.createTable(first);
  }, 300_000);

  it("(a) SIGKILL of the leader's Patroni and PostgreSQL: a standby takes over, no acknowledged row is lost, never two writers, the old leader rejoins as a standby", async () => {
    ha.startLoad(multiHostUrls({ user: "app", password: APP_PASSWORD, database: "postgres", members: ha.cluster.members }).postgresql);
    await ha.until("the writer's first commits", () => (ha.acks().length > 20 ? true : undefined), 60);
    const old = ha.memberOf(await ha.until("a leader", () => ha.leader(), 30));
    await awaitSyncStandby(old.name);
    const killedAt = Date.now() / 1000;
    ha.crash(old);
    const next = await ha.until("a new leader", () => {
      const l = ha.leader();
      return l && l !== old.name ? l : undefined;
    }, 120);
    await ha.until("commits on the new leader", () => ha.acks().some((a) => a.t > killedAt && a.port === ha.memberOf(next).port) || undefined, 120);
    // The old leader comes back (its step runs again): Patroni rewinds it and it follows the new leader.
    expect(await ha.memberStep(old)).toMatch(/started Patroni/);
    await ha.until("the old leader follows the new one", () => ha.replicasFollow(next), 180);
    expect(ha.lostRows(next)).toEqual([]);
    expect(ha.splits()).toEqual([]);
  }, 600_000);

  it("(c) a planned switchover with the switchover tool: the synchronous standby leads, the old leader follows, nothing lost, never two writers", async () => {
    const from = ha.memberOf(await ha.until("a leader", () => ha.leader(), 30));
    const to = ha.memberOf(await awaitSyncStandby(from.name));
    expect(to.name).not.toBe(from.name);
    const tool = join(ha.work, "switchover");
    writeFileSync(tool, renderHaTool("switchover", ha.cluster, from), { mode: 0o700 });
    const refused = await ha.hosts.run(ha.hostOf(from), `bash ${tool} 'ha1;reboot'`);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/candidate: expected one of ha1, ha2, ha3/);
    const r = await ha.hosts.run(ha.hostOf(from), `bash ${tool} ${to.name}`, { timeoutMs: 120_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await ha.until("the candidate leads", () => (ha.leader() === to.name ? true : undefined), 120);
    const switchedAt = Date.now() / 1000;
    await ha.until("the old leader follows", () => ha.replicasFollow(to.name), 120);
    await ha.until("commits after the switchover", () => ackedAfter(switchedAt), 60);
    expect(ha.lostRows(to.name)).toEqual([]);
    expect(ha.splits()).toEqual([]);
    const status = join(ha.work, "ha-status");
    writeFileSync(status, renderHaTool("ha-status", ha.cluster, to), { mode: 0o700 });
    const s = await ha.hosts.run(ha.hostOf(to), `bash ${status}`);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(new RegExp(`member ${to.name} role=Leader state=running lag_mb=0 timeline=\\d+`));
    expect(s.stdout).toMatch(new RegExp(`member ${from.name} role=(Sync Standby|Replica) state=(streaming|running)`));
    expect(s.stdout.trim().split("\n")).toHaveLength(3);
  }, 600_000);

  it("(d) one etcd member killed: the leader stays and keeps committing; the member's step brings it back", async () => {
    const l = await ha.until("a leader", () => ha.leader(), 30);
    const victim = ha.etcd.members.findIndex((_, i) => ha.cluster.members[i].name !== l);
    const killedAt = Date.now() / 1000;
    ha.crashEtcd(victim);
    await ha.until("commits after the etcd member's death", () => ha.acks().filter((a) => a.t > killedAt + 3 * ha.cluster.loopWaitSeconds).length > 20 || undefined, 120);
    expect(ha.leader()).toBe(l);
    expect(await ha.etcdStep(victim)).toMatch(/started etcd member/);
    await ha.until("the etcd member healthy again", () => ha.etcdHealthy(victim) || undefined, 120);
    expect(ha.leader()).toBe(l);
    expect(ha.lostRows(l)).toEqual([]);
    expect(ha.splits()).toEqual([]);
  }, 600_000);

  it("a member step that runs again changes nothing: Patroni keeps running, the leader stays", async () => {
    const l = ha.leader();
    for (const m of ha.cluster.members) expect(await ha.memberStep(m)).toMatch(/^Patroni runs$/m);
    for (const [i] of ha.etcd.members.entries()) expect(await ha.etcdStep(i)).toMatch(/^etcd member runs$/m);
    expect(ha.leader()).toBe(l);
  }, 300_000);
});
