/**
 * A Patroni cluster on etcd built from dbstack's HA renderers on three namespace hosts, with the
 * writer and the watcher of ha_load.py: shared by test/integration/ha-scripts.test.ts and
 * bench/failover.ts. Every step is a rendered script run with bash as root in the host's
 * namespace; the test's CA (in a temporary directory) stands in for the deployment's.
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { renderEtcdAuth, renderEtcdMember, renderRemoveEtcdMember } from "../../../components/engines/postgres/ha/etcd";
import { memberTlsNames, renderMemberKey } from "../../../components/engines/postgres/ha/memberTls";
import { renderPatroniHba, renderPatroniMember, renderRemovePatroniMember } from "../../../components/engines/postgres/ha/patroni";
import { HA_SECRET_ENV, type EtcdClusterSpec, type PatroniClusterSpec, type PatroniMemberSpec } from "../../../components/engines/postgres/ha/spec";
import { renderAuthorityFunctions, renderSignPublicKey } from "../../../components/tls/authority";
import { createTestHosts, SUBNET_PREFIX, type TestHosts } from "./hosts";

export const PYTHON = "/usr/bin/python3";
const LOAD = join(__dirname, "ha_load.py");
// Passwords with characters that would break out of a shell, a YAML file or an env file.
export const SECRETS: Record<string, string> = {
  [HA_SECRET_ENV.superuser]: `su'per "pw" $x \`id\` \\ #1`,
  [HA_SECRET_ENV.replication]: `re'pl $(id) ;2`,
  [HA_SECRET_ENV.rewind]: `re"wind\\3 & |`,
  [HA_SECRET_ENV.restApi]: `rest'api $HOME 4`,
  [HA_SECRET_ENV.etcdRoot]: `etcd-root'"5`,
  [HA_SECRET_ENV.etcdPatroni]: `etcd-pat $y 6`,
};
export const APP_PASSWORD = "app-Passw0rd";

/** What a cluster is made of: its host names, ports and paths (each user of this module has its own). */
export interface HaLayout {
  /** Test host names (namespaces dbs-<name>). */
  names: string[];
  /** Patroni's scope and etcd's cluster token suffix. */
  scope: string;
  /** First PostgreSQL port: member i listens on firstPort + i (the Unix socket directory is shared). */
  firstPort: number;
  restApiPort: number;
  etcdClientPort: number;
  etcdPeerPort: number;
  /** Where the members' homes are (removed before and after). */
  root: string;
  /** Where the members' data directories are (removed before and after). */
  pgRoot: string;
  synchronous: boolean;
}

/** What a tool needs that is missing, naming the package; undefined when all is there. */
export function missingTool(): string | undefined {
  const which = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
  if (!existsSync("/usr/bin/patroni")) return "patroni (apt-get install patroni)";
  if (!which("etcd")) return "etcd (apt-get install etcd-server etcd-client)";
  if (!which("jq")) return "jq (apt-get install jq)";
  if (!which("curl")) return "curl (apt-get install curl)";
  if (spawnSync(PYTHON, ["-c", "import psycopg"]).status !== 0) return "psycopg (apt-get install python3-psycopg)";
  if (!existsSync("/usr/lib/postgresql/15/bin/postgres")) return "PostgreSQL 15 (apt-get install postgresql-15)";
  return undefined;
}

/** Processes whose command line holds `text` (read from /proc: a shell's `pgrep -f` would match the shell itself). */
export function pidsWith(text: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").includes(text)) pids.push(Number(pid));
    } catch {
      continue;
    }
  }
  return pids;
}

/** A process's children (the parent's pid is field 4 of /proc/<pid>/stat, after the command in parentheses). */
export function childrenOf(parent: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return Number(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ")[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

export class HaCluster {
  hosts!: TestHosts;
  work!: string;
  caCertificate!: string;
  etcd!: EtcdClusterSpec;
  cluster!: PatroniClusterSpec;
  private certs: string[] = [];
  private etcdCerts: string[] = [];
  private loads: ChildProcess[] = [];

  constructor(readonly layout: HaLayout) {}

  private etcdDirs(): string[] {
    return this.layout.names.map((n) => `/var/lib/etcd/${this.layout.scope}-${n}`);
  }

  /** Hosts, the CA, the specs; nothing runs yet. */
  async create(): Promise<void> {
    const { names, root, pgRoot } = this.layout;
    for (const d of [root, pgRoot, ...this.etcdDirs()]) rmSync(d, { recursive: true, force: true });
    this.work = mkdtempSync(join(tmpdir(), `dbstack-${this.layout.scope}-`));
    this.hosts = await createTestHosts(names);
    const ca = this.bash(["ensure_ca", 'cat "$CA_DIR/ca.crt"'].join("\n"));
    this.caCertificate = ca;
    spawnSync("install", ["-d", "-o", "postgres", "-g", "postgres", "-m", "0755", pgRoot]);
    const address = (n: string) => this.hosts.host(n).address;
    this.etcd = {
      token: `dbstack-${this.layout.scope}`,
      patroniPrefix: `/service/${this.layout.scope}/`,
      patroniUser: "patroni",
      members: names.map((n, i) => ({ name: `e${i + 1}`, address: address(n), clientPort: this.layout.etcdClientPort, peerPort: this.layout.etcdPeerPort, dataDirectory: this.etcdDirs()[i], home: `${root}/etcd-${n}` })),
    };
    const members: PatroniMemberSpec[] = names.map((n, i) => ({ name: n.replace(/-/g, ""), address: address(n), port: this.layout.firstPort + i, version: 15, dataDirectory: `${pgRoot}/${n}`, home: `${root}/patroni-${n}` }));
    const access = { listenAddresses: [], allowedCidrs: [`${SUBNET_PREFIX}.0/24`], replicationCidrs: [], replicationUser: "dbstack_replication" };
    this.cluster = {
      scope: this.layout.scope,
      members,
      synchronous: this.layout.synchronous,
      // Patroni's smallest ttl; loop_wait + 2 × retry_timeout ≤ ttl.
      ttlSeconds: 20,
      loopWaitSeconds: 2,
      retryTimeoutSeconds: 5,
      maximumLagOnFailoverBytes: 1048576,
      restApiPort: this.layout.restApiPort,
      etcd: { hosts: this.etcd.members.map((m) => `${m.address}:${m.clientPort}`), username: "patroni", caCertificate: this.caCertificate },
      parameters: { max_connections: "50", shared_buffers: "32MB" },
      hba: renderPatroniHba(access, members, "dbstack_rewind"),
      replicationUser: "dbstack_replication",
      rewindUser: "dbstack_rewind",
      restApiUser: "dbstack_patroni",
    };
  }

  /** Bash on this machine with the test CA's functions (CA_DIR in the work directory); its stdout. */
  bash(script: string): string {
    const r = spawnSync("bash", ["-c", [`CA_DIR=${this.work}/ca; TLS_DIR=${this.work}/unused`, renderAuthorityFunctions({ serviceUser: "root", caName: "dbstack HA test CA" }), script].join("\n")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`CA step failed: ${r.stderr}`);
    return r.stdout;
  }

  /** Runs a rendered script on a host (its namespace, as root) with the secrets in its environment; its stdout, or an Error with both streams. */
  async onHost(host: string, script: string): Promise<string> {
    const file = join(this.work, `step-${Math.random().toString(36).slice(2)}.sh`);
    writeFileSync(file, script, { mode: 0o700 });
    const r = await this.hosts.run(host, `bash ${file}`, { timeoutMs: 180_000, env: SECRETS });
    if (r.code !== 0) throw new Error(`${host}: ${script.split("\n")[1]} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    return r.stdout;
  }

  private async certificateFor(host: string, what: string, home: string, user: string): Promise<string> {
    const publicKey = await this.onHost(host, renderMemberKey(what, home, user));
    return this.bash(renderSignPublicKey({ name: what, publicKey, names: memberTlsNames(this.hosts.host(host).address) }));
  }

  /** etcd on every host, then its authentication; what the steps printed. */
  async startEtcd(): Promise<string[]> {
    const { names } = this.layout;
    this.etcdCerts = await Promise.all(names.map((n, i) => this.certificateFor(n, `etcd member ${n}`, this.etcd.members[i].home, "etcd")));
    const out = await Promise.all(names.map((_, i) => this.etcdStep(i)));
    out.push(await this.onHost(names[0], renderEtcdAuth(this.etcd, this.etcd.members[0])));
    return out;
  }

  /** The i-th etcd member's step (again: a member that comes back). */
  etcdStep(i: number): Promise<string> {
    return this.onHost(this.layout.names[i], renderEtcdMember(this.etcd, this.etcd.members[i], { certificate: this.etcdCerts[i], caCertificate: this.caCertificate }));
  }

  /** Whether the i-th etcd member answers as a healthy member of a healthy cluster. */
  etcdHealthy(i: number): boolean {
    const m = this.etcd.members[i];
    const r = spawnSync("curl", ["-s", "--max-time", "2", "--cacert", `${this.work}/ca/ca.crt`, `https://${m.address}:${m.clientPort}/health`], { encoding: "utf8" });
    return /"health":\s*"true"/.test(r.stdout);
  }

  /** A crash of the i-th etcd member (SIGKILL of its supervisor and etcd). */
  crashEtcd(i: number): void {
    const m = this.etcd.members[i];
    this.killAll([Number(readFileSync(`${m.home}/supervisor.pid`, "utf8")), ...pidsWith(`${m.home}/etcd.conf.yml`)]);
  }



  private killAll(pids: number[]): void {
    for (const pid of pids) if (pid) spawnSync("kill", ["-KILL", String(pid)]);
  }

  async etcdAuthAgain(): Promise<string> {
    return this.onHost(this.layout.names[0], renderEtcdAuth(this.etcd, this.etcd.members[0]));
  }

  /** Patroni on the first host (it bootstraps), then on the others; what the steps printed. */
  async startPatroni(): Promise<string[]> {
    const { names } = this.layout;
    this.certs = await Promise.all(names.map((n, i) => this.certificateFor(n, `Patroni member ${n}`, this.cluster.members[i].home, "postgres")));
    const first = await this.memberStep(this.cluster.members[0]);
    const rest = await Promise.all(this.cluster.members.slice(1).map((m) => this.memberStep(m)));
    return [first, ...rest];
  }

  /** A member's step, again (a member that comes back, or an idempotence check). */
  memberStep(m: PatroniMemberSpec): Promise<string> {
    return this.onHost(this.hostOf(m), renderPatroniMember(this.cluster, m, { certificate: this.certs[this.cluster.members.indexOf(m)], caCertificate: this.caCertificate }));
  }

  memberOf(name: string): PatroniMemberSpec {
    const m = this.cluster.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  hostOf(m: PatroniMemberSpec): string {
    return this.layout.names[this.cluster.members.indexOf(m)];
  }

  /** psql as postgres on a member's socket (on this machine: the sockets are shared). */
  psql(m: PatroniMemberSpec, sql: string): string {
    const r = spawnSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-qtA", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-p", String(m.port), "-d", "postgres", "-c", sql], { encoding: "utf8", cwd: "/" });
    if (r.status !== 0) throw new Error(`psql on ${m.name}: ${r.stderr}`);
    return r.stdout.trim();
  }

  /** Each member's role/state as its REST API reports it, asked from the root namespace. */
  roles(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const m of this.cluster.members) {
      const r = spawnSync("curl", ["-s", "--max-time", "2", "--cacert", `${this.work}/ca/ca.crt`, `https://${m.address}:${this.cluster.restApiPort}/patroni`], { encoding: "utf8" });
      try {
        const j = JSON.parse(r.stdout) as { role: string; state: string };
        out[m.name] = `${j.role}/${j.state}`;
      } catch {
        out[m.name] = "down";
      }
    }
    return out;
  }

  /** The one running leader, if there is exactly one. */
  leader(): string | undefined {
    const r = this.roles();
    const names = Object.keys(r).filter((n) => r[n] === "master/running" || r[n] === "primary/running");
    return names.length === 1 ? names[0] : undefined;
  }

  /** Every other member streams from the leader (and, in synchronous mode, one is synchronous). */
  replicasFollow(leaderName: string, synchronous = this.cluster.synchronous): boolean | undefined {
    const rows = this.psql(this.memberOf(leaderName), "SELECT application_name || ':' || state || ':' || sync_state FROM pg_stat_replication ORDER BY 1").split("\n").filter(Boolean);
    const others = this.cluster.members.filter((m) => m.name !== leaderName).map((m) => m.name);
    const ok = others.every((n) => rows.some((r) => r.startsWith(`${n}:streaming:`))) && (!synchronous || rows.some((r) => r.endsWith(":sync")));
    return ok || undefined;
  }

  /** Polls `probe` every 250 ms until it returns a value; fails after `seconds` naming `what` and the members' roles. */
  async until<T>(what: string, probe: () => T | undefined, seconds: number): Promise<T> {
    const end = Date.now() + seconds * 1000;
    let last: unknown;
    for (;;) {
      try {
        const v = probe();
        if (v !== undefined) return v;
      } catch (e) {
        last = e;
      }
      if (Date.now() > end) throw new Error(`${what}: not within ${seconds} s (${last instanceof Error ? last.message : JSON.stringify(this.roles())})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The app role and table the writer uses, on the leader. */
  createTable(leaderName: string): void {
    this.psql(this.memberOf(leaderName), `CREATE ROLE app LOGIN PASSWORD '${APP_PASSWORD}'; CREATE TABLE ha_rows (id integer PRIMARY KEY); GRANT INSERT, SELECT ON ha_rows TO app`);
  }

  get files() {
    return { acks: join(this.work, "acks"), watch: join(this.work, "watch"), stop: join(this.work, "stop") };
  }

  /** The watcher (every member, through its own address, every 100 ms) and the writer (through the multi-host URL). */
  startLoad(url: string): void {
    const { acks, watch, stop } = this.files;
    // Each member on its own Unix socket (this machine's file system is the hosts'): a partitioned member is still seen.
    const conninfos = this.cluster.members.map((m) => `host=/var/run/postgresql port=${m.port} dbname=postgres user=app password=${APP_PASSWORD} connect_timeout=1`);
    for (const args of [["watch", watch, stop, ...conninfos], ["writer", url, acks, stop]]) {
      const child = spawn(PYTHON, [LOAD, ...args], { stdio: ["ignore", "ignore", "pipe"] });
      child.stderr?.on("data", (d) => process.stderr.write(`[${args[0]}] ${d}`));
      this.loads.push(child);
    }
  }

  /** (row number, unix time, port of the server that acknowledged it) of every acknowledged commit. */
  acks(): { n: number; t: number; port: number }[] {
    if (!existsSync(this.files.acks)) return [];
    return readFileSync(this.files.acks, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("ack "))
      .map((l) => l.split(" "))
      .map(([, n, t, port]) => ({ n: Number(n), t: Number(t), port: Number(port) }));
  }

  /** Acknowledged rows the leader does not have. */
  lostRows(leaderName: string): number[] {
    // The acknowledged rows first: a row acknowledged after the SELECT is not a lost one.
    const acked = this.acks().map((a) => a.n);
    const present = new Set(this.psql(this.memberOf(leaderName), "SELECT id FROM ha_rows").split("\n").map(Number));
    return acked.filter((n) => !present.has(n));
  }

  /** Moments at which two or more members accepted writes. */
  splits(): string[] {
    if (!existsSync(this.files.watch)) return [];
    return readFileSync(this.files.watch, "utf8").split("\n").filter((l) => l.startsWith("split "));
  }

  /** Turns synchronous mode on or off cluster-wide (Patroni's dynamic configuration), from the leader's host. */
  async setSynchronous(leaderName: string, on: boolean): Promise<void> {
    const m = this.memberOf(leaderName);
    const script = `set -a; . '${m.home}/patroni.env'; set +a; cd /; runuser -u postgres -- patronictl -c '${m.home}/patroni.yml' edit-config ${this.cluster.scope} -s synchronous_mode=${on} --force >/dev/null`;
    await this.onHost(this.hostOf(m), script);
  }

  /** A crash of a member's HA stack (SIGKILL): its supervisor, Patroni and the postmaster. */
  crash(m: PatroniMemberSpec): void {
    const postmaster = Number(readFileSync(`${m.dataDirectory}/postmaster.pid`, "utf8").split("\n")[0]);
    // Its backends too, as a host's crash would: a backend outlives its postmaster until it notices.
    this.killAll([Number(readFileSync(`${m.home}/supervisor.pid`, "utf8")), ...pidsWith(`${m.home}/patroni.yml`), postmaster, ...childrenOf(postmaster)]);
  }

  /** Stops the load, every member (data removed) and the hosts; removes every file. */
  async destroy(): Promise<void> {
    if (this.work) writeFileSync(this.files.stop, "");
    for (const l of this.loads) l.kill("SIGTERM");
    if (this.hosts) {
      for (const [i, n] of this.layout.names.entries()) {
        if (this.cluster) await this.hosts.run(n, renderRemovePatroniMember(this.cluster.members[i], true));
        if (this.etcd) await this.hosts.run(n, renderRemoveEtcdMember(this.etcd.members[i], true));
      }
      await this.hosts.destroy();
    }
    for (const d of [this.layout.root, this.layout.pgRoot, ...this.etcdDirs()]) rmSync(d, { recursive: true, force: true });
    if (this.work) rmSync(this.work, { recursive: true, force: true });
  }
}
