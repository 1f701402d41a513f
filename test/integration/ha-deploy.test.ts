import type { Stack } from "@pulumi/pulumi/automation";
import { spawn, spawnSync, type ChildProcess } from "child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, sandbox, setConfig, upError } from "./harness";
import { childrenOf, missingTool, pidsWith, PYTHON } from "./support/haCluster";
import { createTestHosts, type TestHosts } from "./support/hosts";

// Issue 21 through the real Pulumi engine: a PostgreSQL deployment that declares `ha` on three
// namespace hosts hd-1..3 (the primary and two standbys) with etcd on hosts hd-e1..3 of its own. `up` deploys
// etcd with TLS and authentication, Patroni on every member (the primary's takes over the cluster
// pg_createcluster made; the standbys are cloned by Patroni), the roles, users, databases and
// grants, the HA tools and multi-host URLs; then, under a writer and a watcher, a switchover, a killed
// leader and a killed etcd member (the partition is not in the suite: docs/ha.md, "Partitions"), each followed
// by an `up` that changes nothing.
// Owns: hosts hd-1..3 (PostgreSQL) and hd-e1..3 (etcd), PostgreSQL ports 6441–6443, Patroni REST 6445, etcd 6485/6486 (each on its
// host's address), clusters ithd1..3, the stack it-hd-ha, /etc/dbstack/ha/*-hd*, /var/lib/etcd/*-hd*.
const box = sandbox("hd");
const PORTS = [6441, 6442, 6443];
const CLUSTERS = ["ithd1", "ithd2", "ithd3"];
const NAMES = ["hd-1", "hd-2", "hd-3"];
/** etcd's own hosts: declared members on hosts of their own (docs/ha.md, "Where etcd runs"). */
const ETCD_NAMES = ["hd-e1", "hd-e2", "hd-e3"];
const REST = 6445;
/** The leader lock's ttl the stack declares (Patroni's smallest). */
const TTL_SECONDS = 20;
let hosts: TestHosts;
let stack: Stack;

/** The stack: a primary and two standbys, with `ha` declared or not. */
function config(ha: boolean) {
  const h = [...NAMES, ...ETCD_NAMES].map((n) => hosts.host(n));
  return {
    allowDataRemoval: true,
    hosts: Object.fromEntries(h.map((x, i) => [`n${i + 1}`, { address: x.address, privateKey: x.privateKey, hostKey: x.hostKey }])),
    postgres: {
      hd: {
        host: "n1",
        port: PORTS[0],
        instanceName: CLUSTERS[0],
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 30,
        listenAddresses: ["localhost", h[0].address],
        allowedCidrs: ["10.213.0.0/24"],
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } }, reader: { grants: { app: "readonly" } } },
        standbys: {
          b: { host: "n2", address: h[1].address, instanceName: CLUSTERS[1], port: PORTS[1] },
          c: { host: "n3", address: h[2].address, instanceName: CLUSTERS[2], port: PORTS[2] },
        },
        toolsDir: join(box.dir, "tools"),
        ...(ha ? { ha: haConfig(h.slice(3).map((x) => x.address)) } : {}),
      },
    },
  };
}

function haConfig(addresses: string[]) {
  return {
    etcd: { kind: "deploy", members: Object.fromEntries(addresses.map((a, i) => [`e${i + 1}`, { host: `n${i + 4}`, address: a, clientPort: 6485, peerPort: 6486 }])) },
    // Patroni's smallest ttl, so the kill test below waits as little as Patroni allows.
    ttlSeconds: TTL_SECONDS,
    loopWaitSeconds: 2,
    retryTimeoutSeconds: 5,
    restApiPort: REST,
  };
}

/** psql as postgres over a member's socket (this machine's file system is the hosts'). */
function psql(port: number, sql: string, db = "postgres"): string {
  const r = spawnSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-qtA", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-p", String(port), "-d", db, "-c", sql], { encoding: "utf8", cwd: "/" });
  if (r.status !== 0) throw new Error(`psql on ${port}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The port of the one member that is not in recovery, if exactly one is up and not in recovery. */
function leaderPort(): number | undefined {
  const leaders = PORTS.filter((p) => {
    try {
      return psql(p, "SELECT pg_is_in_recovery()") === "f";
    } catch {
      return false;
    }
  });
  return leaders.length === 1 ? leaders[0] : undefined;
}

async function until<T>(what: string, probe: () => T | undefined, seconds: number): Promise<T> {
  const end = Date.now() + seconds * 1000;
  let last: unknown;
  for (;;) {
    try {
      const v = probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${seconds} s${last instanceof Error ? ` (${last.message})` : ""}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function untilAsync<T>(what: string, probe: () => Promise<T | undefined>, seconds: number): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** SIGKILL to each, all at once; every one of them must be gone within 10 s. */
function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  const alive = () =>
    pids.filter((pid) => {
      try {
        return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
      } catch {
        return false;
      }
    });
  for (let i = 0; i < 100 && alive().length > 0; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  expect(alive()).toEqual([]);
}

/** This stack's HA directory on the hosts' shared file system. */
function haHome(): string {
  const homes = readdirSync("/etc/dbstack/ha").filter((x) => x.endsWith("-hd"));
  if (homes.length !== 1) throw new Error(`expected one HA directory of this stack, found ${homes.join(", ")}`);
  return join("/etc/dbstack/ha", homes[0]);
}

const memberOf = (port: number) => ["primary", "b", "c"][PORTS.indexOf(port)];

/**
 * The member Patroni names synchronous (its /sync key, read with the ha-status tool): in synchronous mode
 * only it may be promoted, and the key follows pg_stat_replication by a loop or two, so faults wait for it.
 */
async function syncStandby(): Promise<string> {
  return untilAsync("Patroni names a synchronous standby", async () => /^member (\S+) role=Sync Standby state=(?:streaming|running)/m.exec((await tool("primary", "hd-1", "ha-status")).stdout)?.[1], 180);
}

/** Every other member streams from the leader, one of them synchronously. */
function replicasStream(leader: number): true | undefined {
  const rows = psql(leader, "SELECT state || ':' || sync_state FROM pg_stat_replication").split("\n").filter(Boolean);
  return rows.length === 2 && rows.every((r) => r.startsWith("streaming:")) && rows.some((r) => r.endsWith(":sync")) ? true : undefined;
}

/** A tool of a member's tools directory, run as root on its host. */
async function tool(member: string, host: string, name: string, ...args: string[]) {
  return hosts.run(host, [join(box.dir, `tools-${member}`, name), ...args].join(" "), { timeoutMs: 120_000 });
}

async function appUrl(): Promise<string> {
  const urls = (await stack.outputs()).postgres.value as Record<string, { urls: Record<string, Record<string, Record<string, string>>> }>;
  return urls.hd.urls.app.app.postgresql;
}

/** One statement through a libpq URL, as an application would send it (psql, not the superuser). */
function viaUrl(url: string, sql: string): { code: number | null; out: string } {
  const r = spawnSync("psql", ["-X", "-qtA", "-v", "ON_ERROR_STOP=1", url, "-c", sql], { encoding: "utf8", cwd: "/", timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** The writer (numbered rows through the multi-host URL, every acknowledged commit recorded) and the watcher (every member asked every 100 ms, on its own socket, whether it accepts writes): test/integration/support/ha_load.py. */
const load = { children: [] as ChildProcess[], acks: "", watch: "", stop: "" };

function startLoad(url: string): void {
  Object.assign(load, { acks: join(box.dir, "acks"), watch: join(box.dir, "watch"), stop: join(box.dir, "stop") });
  const password = decodeURIComponent(new URL(url.replace(/,[^/]*\//, "/")).password);
  const conninfos = PORTS.map((p) => `host=/var/run/postgresql port=${p} dbname=app user=app password=${password} connect_timeout=1`);
  for (const args of [["watch", load.watch, load.stop, ...conninfos], ["writer", url, load.acks, load.stop]]) {
    const child = spawn(PYTHON, [join(__dirname, "support", "ha_load.py"), ...args], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (d) => process.stderr.write(`[${args[0]}] ${d}`));
    load.children.push(child);
  }
}

function stopLoad(): void {
  if (load.stop) writeFileSync(load.stop, "");
  for (const c of load.children) c.kill("SIGTERM");
}

/** Every acknowledged commit: row number, unix time, the port of the server that acknowledged it. */
function acks(): { n: number; t: number; port: number }[] {
  if (!existsSync(load.acks)) return [];
  return readFileSync(load.acks, "utf8").split("\n").filter((l) => l.startsWith("ack ")).map((l) => l.split(" ")).map(([, n, t, port]) => ({ n: Number(n), t: Number(t), port: Number(port) }));
}

/** Acknowledged rows the member on `port` does not have. */
function lostRows(port: number): number[] {
  const acked = acks().map((a) => a.n);
  const present = new Set(psql(port, "SELECT id FROM ha_rows", "app").split("\n").map(Number));
  return acked.filter((n) => !present.has(n));
}

/** Moments at which two or more members accepted writes. */
function splits(): string[] {
  return existsSync(load.watch) ? readFileSync(load.watch, "utf8").split("\n").filter((l) => l.startsWith("split ")) : [];
}

/** Commits acknowledged by the member on `port` after `t` (unix seconds). */
const ackedBy = (port: number, t: number) => (acks().some((a) => a.t > t && a.port === port) ? true : undefined);

function cleanHostFiles(): void {
  for (const d of ["/etc/dbstack/ha"].filter(existsSync)) for (const e of readdirSync(d).filter((x) => x.includes("-hd"))) rmSync(join(d, e), { recursive: true, force: true });
  for (const e of existsSync("/var/lib/etcd") ? readdirSync("/var/lib/etcd").filter((x) => x.endsWith("-hd-e1") || x.endsWith("-hd-e2") || x.endsWith("-hd-e3")) : []) rmSync(join("/var/lib/etcd", e), { recursive: true, force: true });
  for (const c of CLUSTERS) spawnSync("bash", ["-c", `pg_dropcluster --stop 15 ${c} 2>/dev/null; rm -rf /etc/postgresql/15/${c} /var/lib/postgresql/15/${c}`]);
}

/** Every process a member's supervisor runs (Patroni, etcd) ends with its namespace; these are the members' leftovers, if any. */
function killMembers(): void {
  spawnSync("bash", ["-c", "pkill -KILL -f '/etc/dbstack/ha/[^ ]*-hd/' || true"]);
}

beforeAll(async () => {
  const missing = missingTool();
  if (missing) throw new Error(`${missing} is missing: install it to run the HA tests`);
  killMembers();
  cleanHostFiles();
  hosts = await createTestHosts([...NAMES, ...ETCD_NAMES]);
  // A plain deployment first, with a row: turning HA on must keep it (Patroni takes the clusters over).
  stack = await box.stack("it-hd-ha", config(false));
  const plain = await stack.up({ onOutput: () => undefined });
  expect(plain.summary.result).toBe("succeeded");
  psql(PORTS[0], "SET ROLE app; CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)", "app");
  await setConfig(stack, config(true));
  const up = await stack.up({ onOutput: () => undefined });
  expect(up.summary.result).toBe("succeeded");
}, 1_200_000);

afterAll(async () => {
  stopLoad();
  try {
    await stack?.destroy().catch((e) => console.error(`destroy: ${e}`));
  } finally {
    killMembers();
    cleanHostFiles();
    await hosts?.destroy();
    rmSync(box.dir, { recursive: true, force: true });
  }
}, 600_000);

describe("ha through up: Patroni on etcd over three hosts", () => {
  it("runs one leader, the declared primary, with both standbys streaming and one synchronous", async () => {
    const leader = await until("a single leader", leaderPort, 120);
    expect(leader).toBe(PORTS[0]);
    await until("both standbys streaming, one synchronous", () => replicasStream(leader), 120);
    // The members run under Patroni: postgresql-common does not start them by itself.
    expect(readFileSync(`/etc/postgresql/15/${CLUSTERS[0]}/start.conf`, "utf8").trim()).toBe("manual");
  });

  it("kept the row the plain deployment had: Patroni took its clusters over", () => {
    expect(psql(PORTS[0], "SELECT string_agg(id::text, ',') FROM t", "app")).toBe("1");
    // The standbys dbstack had made follow under Patroni, with no replication slot of dbstack's left behind.
    expect(psql(PORTS[0], "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'dbstack%'")).toBe("0");
  });

  it("gives multi-host URLs that reach the leader, and the declared users and grants act there", async () => {
    const url = await appUrl();
    for (const p of PORTS) expect(url).toContain(`:${p}`);
    expect(url).toContain("target_session_attrs=read-write");
    expect(viaUrl(url, "INSERT INTO t VALUES (2)").code).toBe(0);
    expect(viaUrl(url, "SELECT count(*) FROM t").out).toBe("2");
    // The row reached both standbys.
    for (const p of PORTS.slice(1)) await until(`row on ${p}`, () => (psql(p, "SELECT count(*) FROM t", "app") === "2" ? true : undefined), 60);
  });

  it("keeps every secret out of patroni.yml, the command lines, world-readable files and the state", () => {
    const home = haHome();
    const env = readFileSync(join(home, "patroni-primary", "patroni.env"), "utf8");
    const secrets = [...env.matchAll(/^PATRONI_\w+_PASSWORD=(.*)$/gm)].map((m) => m[1].replace(/^'|'$/g, ""));
    expect(secrets.length).toBe(5);
    for (const m of ["primary", "b", "c"]) {
      expect(statSync(join(home, `patroni-${m}`, "patroni.env")).mode & 0o077).toBe(0);
      const yml = readFileSync(join(home, `patroni-${m}`, "patroni.yml"), "utf8");
      for (const s of secrets) expect(yml).not.toContain(s);
    }
    const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout;
    for (const s of secrets) expect(ps).not.toContain(s);
    // Nor in the stack's state: every password is a secret there.
    const state = readFileSync(join(box.dir, "state", ".pulumi", "stacks", "dbstack", "it-hd-ha.json"), "utf8");
    expect(state).toContain("ciphertext");
    for (const s of secrets) expect(state).not.toContain(s);
  });

  it("a second up changes nothing", async () => {
    const up = await stack.up({ onOutput: () => undefined });
    expect(changes(up.summary)).toEqual({ same: expect.any(Number) });
  });

  it("switches over to a named standby with the switchover tool under a writer that never pauses: nothing lost, never two writers, up changes nothing", async () => {
    psql(PORTS[0], "SET ROLE app; CREATE TABLE ha_rows (id integer PRIMARY KEY)", "app");
    startLoad(await appUrl());
    await until("the writer's first commits", () => (acks().length > 20 ? true : undefined), 120);
    const bad = await tool("primary", "hd-1", "switchover", "'x; id'");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/candidate: expected one of primary, b, c/);
    const sync = await syncStandby();
    const r = await tool("primary", "hd-1", "switchover", sync);
    expect(r.code, r.stderr).toBe(0);
    const newLeader = PORTS[["primary", "b", "c"].indexOf(sync)];
    await until("the candidate leads", () => (leaderPort() === newLeader ? true : undefined), 120);
    const switchedAt = Date.now() / 1000;
    await until("the old primary and the other standby follow the new leader", () => replicasStream(newLeader), 180);
    await until("commits on the new leader", () => ackedBy(newLeader, switchedAt), 120);
    expect(lostRows(newLeader)).toEqual([]);
    expect(splits()).toEqual([]);
    const status = await tool("primary", "hd-1", "ha-status");
    expect(status.stdout).toMatch(new RegExp(`^member ${sync} role=Leader state=running`, "m"));
    // The deployment's health tool, on the declared primary's host, has a line per member, and passes wherever the leader is.
    const health = await hosts.run("hd-1", `${join(box.dir, "tools")}/health-app`, { timeoutMs: 120_000 });
    expect(health.code, `${health.stdout}${health.stderr}`).toBe(0);
    expect(health.stdout).toMatch(new RegExp(`member ${sync} role=leader state=running`));
    expect(health.stdout).toMatch(/member primary role=(sync_standby|replica) state=(streaming|running)/);
    expect(changes((await stack.up({ onOutput: () => undefined })).summary)).toEqual({ same: expect.any(Number) });
  }, 900_000);

  it("(a) after the leader's Patroni and postgres are killed: another member leads, nothing acknowledged is lost, never two writers; the next up brings the old leader back as a standby, and the one after changes nothing", async () => {
    const leader = (await until("a single leader", leaderPort, 60))!;
    await syncStandby();
    const member = memberOf(leader);
    const home = join(haHome(), `patroni-${member}`);
    const postmaster = readFileSync(`/var/lib/postgresql/15/${CLUSTERS[PORTS.indexOf(leader)]}/postmaster.pid`, "utf8").split("\n")[0];
    // A crash: the supervisor, Patroni and the postmaster with its backends, all at once.
    const killedAt = Date.now() / 1000;
    killAll([Number(readFileSync(`${home}/supervisor.pid`, "utf8")), ...pidsWith(`${home}/patroni.yml`), Number(postmaster), ...childrenOf(Number(postmaster))]);
    const next = await until("another member leads", () => {
      const p = leaderPort();
      return p !== undefined && p !== leader ? p : undefined;
    }, 300);
    await until("commits on the new leader", () => ackedBy(next, killedAt), 120);
    expect(lostRows(next)).toEqual([]);
    // The next up starts the crashed member's supervisor again (its probe fails): it rejoins as a standby.
    const up = await stack.up({ onOutput: () => undefined });
    expect(up.summary.result).toBe("succeeded");
    await until("every member follows the new leader", () => replicasStream(next), 180);
    expect(lostRows(next)).toEqual([]);
    expect(splits()).toEqual([]);
    expect(changes((await stack.up({ onOutput: () => undefined })).summary)).toEqual({ same: expect.any(Number) });
  }, 900_000);

  it("(d) one etcd member killed: the leader stays and keeps committing; the next up starts it again, and the one after changes nothing", async () => {
    const leader = (await until("a single leader", leaderPort, 60))!;
    const victim = ["e1", "e2", "e3"][PORTS.findIndex((p) => p !== leader)];
    const home = join(haHome(), `etcd-${victim}`);
    const killedAt = Date.now() / 1000;
    killAll([Number(readFileSync(`${home}/supervisor.pid`, "utf8")), ...pidsWith(`${home}/etcd.conf.yml`)]);
    await until("commits after the etcd member's death", () => (acks().filter((a) => a.t > killedAt + 6).length > 20 ? true : undefined), 120);
    expect(leaderPort()).toBe(leader);
    const up = await stack.up({ onOutput: () => undefined });
    expect(up.summary.result).toBe("succeeded");
    expect(leaderPort()).toBe(leader);
    expect(lostRows(leader)).toEqual([]);
    expect(splits()).toEqual([]);
    expect(changes((await stack.up({ onOutput: () => undefined })).summary)).toEqual({ same: expect.any(Number) });
  }, 900_000);

  it("turning HA off (not built yet) is refused at preview, naming ha, and nothing changes", async () => {
    const leader = leaderPort();
    await setConfig(stack, config(false));
    try {
      expect(await upError(stack)).toMatch(/ha: Patroni runs this deployment .*turning high availability off is not built yet/);
    } finally {
      await setConfig(stack, config(true));
    }
    expect(leaderPort()).toBe(leader);
    expect(lostRows(leader!)).toEqual([]);
    expect(splits()).toEqual([]);
  }, 600_000);
});
