import { spawn, spawnSync, type ChildProcess } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderEtcdAuth, renderEtcdMember, renderRemoveEtcdMember } from "../../components/engines/postgres/ha/etcd";
import { memberTlsNames, renderMemberKey } from "../../components/engines/postgres/ha/memberTls";
import { renderPatroniHba, renderPatroniMember, renderRemovePatroniMember } from "../../components/engines/postgres/ha/patroni";
import { HA_SECRET_ENV, type EtcdClusterSpec, type PatroniClusterSpec, type PatroniMemberSpec } from "../../components/engines/postgres/ha/spec";
import { renderHaTool } from "../../components/engines/postgres/ha/tools";
import { multiHostUrls } from "../../components/engines/postgres/ha/urls";
import { renderAuthorityFunctions, renderSignPublicKey } from "../../components/tls/authority";
import { createTestHosts, SUBNET_PREFIX, type TestHosts } from "./support/hosts";
import { need, which } from "./support/scratch";

// The HA renderers (etcd members with TLS and authentication, Patroni members, the supervisor,
// the tools, the multi-host URLs), run with bash as root on three namespace hosts ha-1..3 against
// real etcd 3.4 and Patroni 3 over PostgreSQL 15, under a writer that never pauses and a watcher
// that asks every member every 100 ms whether it accepts writes.
// Ports (6400–6499): PostgreSQL 6401–6403 (one per member: the Unix socket directory is shared),
// Patroni REST 6410, etcd client 6479 and peer 6480 (each on its host's own address).
// Files: /etc/dbstack-it-ha, /var/lib/etcd/dbstack-it-ha-*, /var/lib/postgresql/dbstack-it-ha.

const NAMES = ["ha-1", "ha-2", "ha-3"];
const ROOT_DIR = "/etc/dbstack-it-ha";
const PG_ROOT = "/var/lib/postgresql/dbstack-it-ha";
const PYTHON = "/usr/bin/python3";
const LOAD = join(__dirname, "support/ha_load.py");
// Passwords with characters that would break out of a shell, a YAML file or an env file.
const SECRETS: Record<string, string> = {
  [HA_SECRET_ENV.superuser]: `su'per "pw" $x \`id\` \\ #1`,
  [HA_SECRET_ENV.replication]: `re'pl $(id) ;2`,
  [HA_SECRET_ENV.rewind]: `re"wind\\3 & |`,
  [HA_SECRET_ENV.restApi]: `rest'api $HOME 4`,
  [HA_SECRET_ENV.etcdRoot]: `etcd-root'"5`,
  [HA_SECRET_ENV.etcdPatroni]: `etcd-pat $y 6`,
};
const APP_PASSWORD = "app-Passw0rd";

let hosts: TestHosts;
let work: string;
let caCertificate: string;
let etcd: EtcdClusterSpec;
let cluster: PatroniClusterSpec;
const loads: ChildProcess[] = [];

const bash = (script: string, env: Record<string, string> = {}) => spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });

/** Runs a rendered script on a test host (in its namespace, as root), with the secrets in its environment. */
async function onHost(host: string, script: string): Promise<string> {
  const file = join(work, `step-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, script, { mode: 0o700 });
  const r = await hosts.run(host, `bash ${file}`, { timeoutMs: 180_000, env: SECRETS });
  expect(r.code, `${host}: ${script.split("\n")[1]}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** The test's CA (the deployment's, in a real deploy on the primary's host): signs a member's public key. */
function sign(name: string, publicKey: string, names: string[]): string {
  const r = bash([`CA_DIR=${work}/ca; TLS_DIR=${work}/unused`, renderAuthorityFunctions({ serviceUser: "root", caName: "dbstack it-ha CA" }), renderSignPublicKey({ name, publicKey, names })].join("\n"));
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

async function certificateFor(host: string, what: string, home: string, user: string, address: string): Promise<string> {
  const publicKey = await onHost(host, renderMemberKey(what, home, user));
  return sign(what, publicKey, memberTlsNames(address));
}

const addressOf = (host: string) => hosts.host(host).address;
const memberOf = (name: string) => cluster.members.find((m) => m.name === name)!;
const hostOf = (m: PatroniMemberSpec) => NAMES[cluster.members.indexOf(m)];

/** psql as postgres on a member's socket (on this machine: the sockets are shared). */
function psql(m: PatroniMemberSpec, sql: string, db = "postgres"): string {
  const r = spawnSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-qtA", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-p", String(m.port), "-d", db, "-c", sql], { encoding: "utf8", cwd: "/" });
  if (r.status !== 0) throw new Error(`psql on ${m.name}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The members' roles as Patroni's REST API reports them (name → role), asked from the root namespace. */
function roles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of cluster.members) {
    const r = spawnSync("curl", ["-s", "--max-time", "2", "--cacert", `${work}/ca/ca.crt`, `https://${m.address}:${cluster.restApiPort}/patroni`], { encoding: "utf8" });
    try {
      const j = JSON.parse(r.stdout) as { role: string; state: string };
      out[m.name] = `${j.role}/${j.state}`;
    } catch {
      out[m.name] = "down";
    }
  }
  return out;
}

async function until<T>(what: string, probe: () => T | undefined, seconds: number): Promise<T> {
  const end = Date.now() + seconds * 1000;
  let last: unknown;
  for (;;) {
    try {
      const v = probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${seconds} s (${last instanceof Error ? last.message : JSON.stringify(roles())})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const leader = () => {
  const r = roles();
  const names = Object.keys(r).filter((n) => r[n] === "master/running" || r[n] === "primary/running");
  return names.length === 1 ? names[0] : undefined;
};

/** Every member but the leader streams from it, and one of them is its synchronous standby. */
function replicasFollow(leaderName: string): boolean | undefined {
  const rows = psql(memberOf(leaderName), "SELECT application_name || ':' || state || ':' || sync_state FROM pg_stat_replication ORDER BY 1").split("\n").filter(Boolean);
  const others = cluster.members.filter((m) => m.name !== leaderName).map((m) => m.name);
  const ok = others.every((n) => rows.some((r) => r.startsWith(`${n}:streaming:`))) && rows.some((r) => r.endsWith(":sync"));
  return ok || undefined;
}

function acknowledged(file: string): number[] {
  return readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("ack ")).map((l) => Number(l.split(" ")[1]));
}

function startLoad(kind: "writer" | "watch", args: string[]): ChildProcess {
  const child = spawn(PYTHON, [LOAD, kind, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr?.on("data", (d) => process.stderr.write(`[${kind}] ${d}`));
  loads.push(child);
  return child;
}

/** Kills a member's whole HA stack the way a crash does (SIGKILL): supervisor, Patroni, postmaster. */
function crash(m: PatroniMemberSpec): void {
  const pids: number[] = [];
  const supervisor = Number(readFileSync(`${m.home}/supervisor.pid`, "utf8"));
  pids.push(supervisor);
  for (const pid of readdirPids()) {
    const cmd = readFileSafe(`/proc/${pid}/cmdline`).split("\0").join(" ");
    if (cmd.includes(`${m.home}/patroni.yml`)) pids.push(pid);
  }
  const postmaster = Number(readFileSafe(`${m.dataDirectory}/postmaster.pid`).split("\n")[0]);
  if (postmaster) pids.push(postmaster);
  for (const pid of pids) spawnSync("kill", ["-KILL", String(pid)]);
}

function readdirPids(): number[] {
  return require("fs").readdirSync("/proc").filter((d: string) => /^\d+$/.test(d)).map(Number);
}

function readFileSafe(p: string): string {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return "";
  }
}

describe("Patroni on etcd, from dbstack's renderers, on three hosts", () => {
  let acks: string;
  let watch: string;
  let stop: string;

  beforeAll(async () => {
    need("patroni", existsSync("/usr/bin/patroni"), "apt-get install patroni", "HA tests");
    need("etcd", which("etcd"), "apt-get install etcd-server etcd-client", "HA tests");
    need("jq", which("jq"), "apt-get install jq", "HA tests");
    need("curl", which("curl"), "apt-get install curl", "HA tests");
    need("psycopg", spawnSync(PYTHON, ["-c", "import psycopg"]).status === 0, "apt-get install python3-psycopg", "HA tests");
    need("PostgreSQL 15", existsSync("/usr/lib/postgresql/15/bin/postgres"), "apt-get install postgresql-15", "HA tests");
    for (const d of [ROOT_DIR, PG_ROOT, ...NAMES.map((n) => `/var/lib/etcd/dbstack-it-ha-${n}`)]) rmSync(d, { recursive: true, force: true });
    work = mkdtempSync(join(tmpdir(), "dbstack-it-ha-"));
    hosts = await createTestHosts(NAMES);
    const ca = bash([`CA_DIR=${work}/ca; TLS_DIR=${work}/unused`, renderAuthorityFunctions({ serviceUser: "root", caName: "dbstack it-ha CA" }), "ensure_ca", 'cat "$CA_DIR/ca.crt"'].join("\n"));
    expect(ca.status, ca.stderr).toBe(0);
    caCertificate = ca.stdout;
    spawnSync("install", ["-d", "-o", "postgres", "-g", "postgres", "-m", "0755", PG_ROOT]);

    etcd = {
      token: "dbstack-it-ha",
      patroniPrefix: "/service/itha/",
      patroniUser: "patroni",
      members: NAMES.map((n) => ({ name: n.replace("-", ""), address: addressOf(n), clientPort: 6479, peerPort: 6480, dataDirectory: `/var/lib/etcd/dbstack-it-ha-${n}`, home: `${ROOT_DIR}/etcd-${n}` })),
    };
    const members: PatroniMemberSpec[] = NAMES.map((n, i) => ({ name: n.replace("-", ""), address: addressOf(n), port: 6401 + i, version: 15, dataDirectory: `${PG_ROOT}/${n}`, home: `${ROOT_DIR}/patroni-${n}` }));
    const access = { listenAddresses: [], allowedCidrs: [`${SUBNET_PREFIX}.0/24`], replicationCidrs: [], replicationUser: "dbstack_replication" };
    cluster = {
      scope: "itha",
      members,
      synchronous: true,
      ttlSeconds: 20,
      loopWaitSeconds: 2,
      retryTimeoutSeconds: 5,
      maximumLagOnFailoverBytes: 1048576,
      restApiPort: 6410,
      etcd: { hosts: etcd.members.map((m) => `${m.address}:${m.clientPort}`), username: "patroni", caCertificate },
      parameters: { max_connections: "50", shared_buffers: "32MB" },
      hba: renderPatroniHba(access, members, "dbstack_rewind"),
      replicationUser: "dbstack_replication",
      rewindUser: "dbstack_rewind",
      restApiUser: "dbstack_patroni",
    };
    acks = join(work, "acks");
    watch = join(work, "watch");
    stop = join(work, "stop");
  }, 300_000);

  afterAll(async () => {
    if (stop) writeFileSync(stop, "");
    for (const l of loads) l.kill("SIGTERM");
    if (hosts) {
      for (const [i, n] of NAMES.entries()) {
        if (cluster) await hosts.run(n, renderRemovePatroniMember(cluster.members[i], true));
        if (etcd) await hosts.run(n, renderRemoveEtcdMember(etcd.members[i], true));
      }
      await hosts.destroy();
    }
    for (const d of [ROOT_DIR, PG_ROOT, ...NAMES.map((n) => `/var/lib/etcd/dbstack-it-ha-${n}`)]) rmSync(d, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  }, 300_000);

  it("starts etcd with TLS and authentication: a client without the password reads nothing", async () => {
    const certs = await Promise.all(NAMES.map((n, i) => certificateFor(n, `etcd member ${n}`, etcd.members[i].home, "etcd", addressOf(n))));
    const out = await Promise.all(NAMES.map((n, i) => onHost(n, renderEtcdMember(etcd, etcd.members[i], { certificate: certs[i], caCertificate }))));
    expect(out.join("")).toMatch(/started etcd member/);
    expect(await onHost(NAMES[0], renderEtcdAuth(etcd, etcd.members[0]))).toMatch(/turned etcd authentication on/);
    // Again: authentication is on, passwords and grants are set again, nothing fails.
    expect(await onHost(NAMES[0], renderEtcdAuth(etcd, etcd.members[0]))).toMatch(/etcd authentication is on/);
    const anonymous = bash(`echo '{"key":"${Buffer.from("/service/").toString("base64")}"}' | curl -s --cacert ${work}/ca/ca.crt -X POST --data-binary @- https://${etcd.members[1].address}:6479/v3/kv/range`);
    expect(anonymous.stdout).toMatch(/user name is empty|invalid auth token|permission denied/);
    const plain = bash(`curl -s --max-time 3 http://${etcd.members[1].address}:6479/version`);
    expect(plain.stdout).not.toMatch(/etcdserver/);
  }, 300_000);

  it("bootstraps a Patroni cluster: a leader, two streaming standbys, one of them synchronous", async () => {
    const certs = await Promise.all(NAMES.map((n, i) => certificateFor(n, `Patroni member ${n}`, cluster.members[i].home, "postgres", addressOf(n))));
    (globalThis as Record<string, unknown>).__haCerts = certs;
    expect(await onHost(NAMES[0], renderPatroniMember(cluster, cluster.members[0], { certificate: certs[0], caCertificate }))).toMatch(/started Patroni\nmember: (master|primary) running/);
    await Promise.all(NAMES.slice(1).map((n, i) => onHost(n, renderPatroniMember(cluster, cluster.members[i + 1], { certificate: certs[i + 1], caCertificate }))));
    const first = await until("a leader", leader, 120);
    expect(first).toBe("ha1");
    await until("both standbys streaming, one synchronous", () => replicasFollow(first), 120);
    // No password in any file others may read, nor in a process's arguments.
    for (const m of cluster.members) {
      const yml = readFileSync(`${m.home}/patroni.yml`, "utf8");
      for (const secret of Object.values(SECRETS)) expect(yml).not.toContain(secret);
    }
    const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout;
    for (const secret of Object.values(SECRETS)) expect(ps).not.toContain(secret);
    psql(memberOf(first), `CREATE ROLE app LOGIN PASSWORD '${APP_PASSWORD}'; CREATE TABLE ha_rows (id integer PRIMARY KEY); GRANT INSERT, SELECT ON ha_rows TO app`);
  }, 300_000);

  it("(a) SIGKILL of the leader's Patroni and PostgreSQL: a standby takes over, no acknowledged row is lost, never two writers, the old leader rejoins as a standby", async () => {
    const urls = multiHostUrls({ user: "app", password: APP_PASSWORD, database: "postgres", members: cluster.members });
    startLoad("watch", [watch, stop, ...cluster.members.map((m) => `host=${m.address} port=${m.port} dbname=postgres user=app password=${APP_PASSWORD} sslmode=require connect_timeout=1`)]);
    startLoad("writer", [urls.postgresql, acks, stop]);
    await until("the writer's first commits", () => acknowledged(acks).length > 20 || undefined, 60);
    const old = memberOf((await until("a leader", leader, 30))!);
    const before = acknowledged(acks).length;
    const killedAt = Date.now() / 1000;
    crash(old);
    const next = await until("a new leader", () => {
      const l = leader();
      return l && l !== old.name ? l : undefined;
    }, 120);
    await until("commits on the new leader", () => {
      const lines = readFileSync(acks, "utf8").split("\n").filter((l) => l.startsWith("ack "));
      return lines.some((l) => Number(l.split(" ")[2]) > killedAt + 0.5) || undefined;
    }, 120);
    expect(acknowledged(acks).length).toBeGreaterThan(before);
    // The old leader comes back (its step runs again): Patroni rewinds it and it follows the new leader.
    const certs = (globalThis as Record<string, unknown>).__haCerts as string[];
    await onHost(hostOf(old), renderPatroniMember(cluster, old, { certificate: certs[cluster.members.indexOf(old)], caCertificate }));
    await until("the old leader follows the new one", () => replicasFollow(next), 180);
    const acked = acknowledged(acks);
    const present = new Set(psql(memberOf(next), "SELECT id FROM ha_rows").split("\n").map(Number));
    expect(acked.filter((n) => !present.has(n))).toEqual([]);
    expect(readFileSync(watch, "utf8")).not.toMatch(/^split /m);
  }, 600_000);

  it("(c) a planned switchover with the switchover tool: the named standby leads, the old leader follows, nothing lost, never two writers", async () => {
    const from = memberOf((await until("a leader", leader, 30))!);
    // The synchronous standby: the one a planned switchover in synchronous mode may hand over to.
    const syncName = psql(from, "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync'");
    const to = memberOf(syncName);
    expect(to.name).not.toBe(from.name);
    const tool = join(work, "switchover");
    writeFileSync(tool, renderHaTool("switchover", cluster, from), { mode: 0o700 });
    const refused = await hosts.run(hostOf(from), `bash ${tool} 'ha1;reboot'`);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/candidate: expected one of ha1, ha2, ha3/);
    const r = await hosts.run(hostOf(from), `bash ${tool} ${to.name}`, { timeoutMs: 120_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await until("the candidate leads", () => leader() === to.name || undefined, 120);
    const switchedAt = Date.now() / 1000;
    await until("the old leader follows", () => replicasFollow(to.name), 120);
    await until("commits after the switchover", () => readFileSync(acks, "utf8").split("\n").some((l) => l.startsWith("ack ") && Number(l.split(" ")[2]) > switchedAt) || undefined, 60);
    const present = new Set(psql(to, "SELECT id FROM ha_rows").split("\n").map(Number));
    expect(acknowledged(acks).filter((n) => !present.has(n))).toEqual([]);
    expect(readFileSync(watch, "utf8")).not.toMatch(/^split /m);
    const status = join(work, "ha-status");
    writeFileSync(status, renderHaTool("ha-status", cluster, to), { mode: 0o700 });
    const s = await hosts.run(hostOf(to), `bash ${status}`);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(new RegExp(`member ${to.name} role=Leader state=running lag_mb=0 timeline=\\d+`));
    expect(s.stdout.trim().split("\n")).toHaveLength(3);
  }, 600_000);

  it("a member step that runs again changes nothing: Patroni keeps running, no restart", async () => {
    const certs = (globalThis as Record<string, unknown>).__haCerts as string[];
    const l = leader();
    for (const [i, m] of cluster.members.entries()) {
      const out = await onHost(NAMES[i], renderPatroniMember(cluster, m, { certificate: certs[i], caCertificate }));
      expect(out).toMatch(/^Patroni runs$/m);
    }
    expect(leader()).toBe(l);
  }, 300_000);
});
