import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawnSync } from "child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, sandbox } from "./harness";
import { createTestHosts, type TestHosts } from "./support/hosts";

// Issue 22: the pgBackRest repository on another host over SSH (pitr.repositoryHost): the cluster
// on test host pr1, the repository on test host pr2 (both namespace hosts with their own sshd;
// they share this machine's file system, so the two sides' files have distinct paths).
// Owns: test hosts pr1, pr2; port 7201 (the cluster), 7202 (the drill), 7203 (a restore beside);
// cluster prrepo; stack it-pr-repo-<pid>; the Unix user pgbackrest when it did not exist before.
const box = sandbox("pr-repo");
const stackName = `it-pr-repo-${process.pid}`;
const PORT = 7201;
const DRILL_PORT = 7202;
const BESIDE_PORT = 7203;
const CLUSTER = "prrepo";
const RPO_S = 10;
const repo = join(box.dir, "repo"); // on pr2
const local = join(box.dir, "local"); // on pr1: the drills' figures and results
const tools = join(box.dir, "tools");
const beside = join(box.dir, "beside");
const dataDir = `/var/lib/postgresql/15/${CLUSTER}`;
const POSTGRES_KEYS = "/var/lib/postgresql/.ssh/authorized_keys";
const REPO_HOME = "/var/lib/pgbackrest-dbstack";
let hosts: TestHosts;
let stack: Stack;
let hadRepoUser = false;
let hadPostgresKeys = false;

function config(repositoryHost: string = "pr2") {
  const h = (n: string) => ({ address: hosts.host(n).address, privateKey: hosts.host(n).privateKey, hostKey: hosts.host(n).hostKey });
  return {
    allowDataRemoval: false,
    hosts: { pr1: h("pr1"), pr2: h("pr2") },
    postgres: {
      prrepo: {
        host: "pr1",
        port: PORT,
        instanceName: CLUSTER,
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
        toolsDir: tools,
        pitr: { dir: local, archiveTimeoutS: RPO_S, drill: { port: DRILL_PORT }, repositoryHost: { host: repositoryHost, dir: repo } },
      },
    },
  };
}

/** psql as postgres over the local socket (this machine's file system is the test hosts'). */
function psql(sql: string, port = PORT, db = "app"): string {
  return execFileSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-p", String(port), "-d", db], { input: sql, encoding: "utf8", cwd: "/" }).trim();
}

/** A tool on the cluster's host, pr1 (in its network namespace, as cron runs it there). */
async function tool(name: string, args: string[] = []): Promise<{ status: number; out: string; err: string }> {
  const r = await hosts.run("pr1", [join(tools, name), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" "));
  return { status: r.code, out: r.stdout, err: r.stderr };
}

function labels(): string[] {
  const stanzas = existsSync(join(repo, "backup")) ? readdirSync(join(repo, "backup")) : [];
  if (stanzas.length === 0) return [];
  return readdirSync(join(repo, "backup", stanzas[0])).filter((f) => /^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$/.test(f)).sort();
}

async function until(what: string, check: () => boolean, seconds = 120): Promise<void> {
  for (let i = 0; i < seconds * 2; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The postgres account's password field: the test hosts' sshd runs without PAM, which refuses a locked ('!') account even its keys (a Debian sshd, with PAM, does not). */
let postgresPassword = "";
function shadowField(user: string): string {
  return execFileSync("getent", ["shadow", user], { encoding: "utf8" }).split(":")[1];
}

beforeAll(async () => {
  postgresPassword = shadowField("postgres");
  if (postgresPassword === "!") execFileSync("usermod", ["-p", "*", "postgres"]);
  hadRepoUser = spawnSync("id", ["-u", "pgbackrest"]).status === 0;
  hadPostgresKeys = existsSync(POSTGRES_KEYS);
  hosts = await createTestHosts(["pr1", "pr2"]);
  stack = await box.stack(stackName, config());
}, 120_000);

afterAll(async () => {
  spawnSync("runuser", ["-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl", "-D", beside, "-m", "immediate", "stop"], { cwd: "/" });
  try {
    if (stack) {
      await stack.setConfig("dbstack:allowDataRemoval", { value: "true" }).catch(() => undefined);
      await stack.up().catch(() => undefined);
      await stack.destroy().catch(() => undefined);
      await stack.workspace.removeStack(stackName).catch(() => undefined);
    }
  } finally {
    spawnSync("pg_dropcluster", ["--stop", "15", CLUSTER]);
    for (const f of (existsSync("/etc/dbstack-pitr") ? readdirSync("/etc/dbstack-pitr") : []).filter((f) => f.includes("prrepo"))) rmSync(join("/etc/dbstack-pitr", f), { recursive: true, force: true });
    for (const f of existsSync("/var/log/pgbackrest") ? readdirSync("/var/log/pgbackrest").filter((f) => f.includes(`${stackName}-`)) : []) rmSync(join("/var/log/pgbackrest", f), { force: true });
    // The pgbackrest user is machine-wide: it stays while another stack's repository still uses it.
    const othersUseIt = existsSync("/etc/dbstack-pitr") && readdirSync("/etc/dbstack-pitr").some((f) => f.endsWith(".repository.conf"));
    if (!hadRepoUser && !othersUseIt) {
      spawnSync("userdel", ["pgbackrest"]);
      rmSync(REPO_HOME, { recursive: true, force: true });
    }
    if (!hadPostgresKeys) rmSync(POSTGRES_KEYS, { force: true });
    if (postgresPassword === "!") execFileSync("usermod", ["-p", "!", "postgres"]);
    await hosts?.destroy();
    rmSync(box.dir, { recursive: true, force: true });
  }
}, 900_000);

describe("the pgBackRest repository on another host over SSH", () => {
  it("a repository host that is the deployment's own host is refused at preview, naming the field, before anything is touched", async () => {
    await stack.setAllConfig({ "dbstack:postgres": { value: JSON.stringify(config("pr1").postgres) } });
    await expect(stack.preview()).rejects.toThrow(/pitr\.repositoryHost: [0-9.]+ is the deployment's own host/);
    expect(existsSync(dataDir)).toBe(false);
    await stack.setAllConfig({ "dbstack:postgres": { value: JSON.stringify(config().postgres) } });
  }, 300_000);

  it("up archives and backs up to the second host; the database host holds no repository, no cipher secret and no plaintext key in the state", async () => {
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(psql("SHOW archive_mode")).toBe("on");
    expect(labels()).toHaveLength(1);
    expect(labels()[0]).toMatch(/F$/);
    expect(existsSync(join(local, "backup"))).toBe(false);
    expect(existsSync(join(local, "archive"))).toBe(false);
    expect(readdirSync(join(local, "figures")).some((f) => f === `${labels()[0]}.tsv`)).toBe(true);
    // The repository belongs to the repository host's pgbackrest user, 0700.
    expect(statSync(repo).uid).toBe(Number(execFileSync("id", ["-u", "pgbackrest"], { encoding: "utf8" })));
    expect(statSync(repo).mode & 0o777).toBe(0o700);
    const confs = readdirSync("/etc/dbstack-pitr").filter((f) => f.includes("prrepo"));
    const dbConf = readFileSync(join("/etc/dbstack-pitr", confs.find((f) => f.endsWith("-prrepo.conf"))!), "utf8");
    const repoConfFile = join("/etc/dbstack-pitr", confs.find((f) => f.endsWith(".repository.conf"))!);
    expect(dbConf).toContain(`repo1-host=${hosts.host("pr2").address}\n`);
    expect(dbConf).not.toMatch(/repo1-path|cipher-pass/);
    expect(statSync(repoConfFile).mode & 0o777).toBe(0o600);
    const secret = /repo1-cipher-pass=(\S+)/.exec(readFileSync(repoConfFile, "utf8"))![1];
    expect(secret).toHaveLength(64);
    // The generated private keys are 0600 files, and secrets in the state.
    const keyFiles = confs.filter((f) => f.endsWith(".ssh") || f.endsWith("-ssh")).map((d) => join("/etc/dbstack-pitr", d, "id_ed25519"));
    expect(keyFiles).toHaveLength(2);
    const state = readFileSync(join(box.dir, "state", ".pulumi", "stacks", "dbstack", `${stackName}.json`), "utf8");
    for (const f of keyFiles) {
      expect(statSync(f).mode & 0o777).toBe(0o600);
      const body = readFileSync(f, "utf8").split("\n").filter((l) => !l.startsWith("-----") && l.trim()).join("");
      expect(state.includes(body.slice(0, 60))).toBe(false);
    }
    expect(state.includes(secret)).toBe(false);
    expect(JSON.stringify(await stack.outputs())).not.toContain(secret);
    // Each host accepts the other's key for pgBackRest only.
    for (const f of [POSTGRES_KEYS, join(REPO_HOME, ".ssh", "authorized_keys")]) {
      expect(readFileSync(f, "utf8")).toMatch(/^restrict,command="\/usr\/bin\/pgbackrest \$\{SSH_ORIGINAL_COMMAND#\* \}" ssh-ed25519 \S+ dbstack-pitr-\S+-prrepo-(db|repo)$/m);
    }
  }, 600_000);

  it("the database host's key runs pgBackRest on the repository host and nothing else", async () => {
    const sshDir = join("/etc/dbstack-pitr", readdirSync("/etc/dbstack-pitr").find((f) => f.includes("prrepo") && f.endsWith(".ssh"))!);
    const r = await hosts.run("pr1", `runuser -u postgres -- ${sshDir}/ssh pgbackrest@${hosts.host("pr2").address} 'id; cat /etc/shadow' </dev/null`);
    expect(r.stdout + r.stderr).not.toMatch(/uid=|root:/);
    expect(r.stdout + r.stderr).toMatch(/invalid command 'cat'|pgBackRest/);
    // Nor does it reach the repository host as root.
    const root = await hosts.run("pr1", `runuser -u postgres -- ${sshDir}/ssh root@${hosts.host("pr2").address} id </dev/null`);
    expect(root.code).not.toBe(0);
    expect(root.stdout).not.toContain("uid=0");
  }, 120_000);

  it("a second up reports zero changes", async () => {
    const up = await stack.up();
    expect(changes(up.summary)).toEqual({ same: expect.any(Number) });
  }, 300_000);

  it("restore --to-time T from the repository host gives exactly the rows committed up to T", async () => {
    psql("CREATE TABLE t (n int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    const rows = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `INSERT INTO t (n) VALUES (${from + i}); SELECT pg_sleep(0.02);`).join("\n");
    psql(rows(1, 20));
    const T = psql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
    psql(`SELECT pg_sleep(0.5); ${rows(21, 40)}`);
    // The WAL holding rows 21-40 reaches the repository host (archive_command, over SSH).
    const wal = psql("SELECT pg_walfile_name(pg_current_wal_lsn())");
    psql("SELECT pg_switch_wal()");
    await until(`WAL ${wal} archived`, () => psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") >= wal);
    expect(readdirSync(join(repo, "archive")).length).toBe(1);
    const r = await tool("pitr-restore", ["--to-time", T, "--into", beside, "--port", String(BESIDE_PORT)]);
    expect(r.status, r.err).toBe(0);
    expect(r.out).toMatch(/restored backup [0-9]{8}-[0-9]{6}F/);
    expect(psql("SELECT string_agg(n::text, ',' ORDER BY n) FROM t", BESIDE_PORT)).toBe(Array.from({ length: 20 }, (_, i) => i + 1).join(","));
    execFileSync("runuser", ["-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl", "-D", beside, "-m", "fast", "stop"], { cwd: "/" });
  }, 600_000);

  it("pitr-backup takes its backup on the repository host, and a drill of it passes", async () => {
    const b = await tool("pitr-backup", ["diff"]);
    expect(b.status, b.err).toBe(0);
    expect(labels()).toHaveLength(2);
    expect(labels()[1]).toMatch(/D$/);
    const d = await tool("pitr-drill");
    expect(d.status, d.err + d.out).toBe(0);
    expect(JSON.parse(readFileSync(join(local, "drills", "last.json"), "utf8"))).toMatchObject({ deployment: "prrepo", engine: "postgres", backup: labels()[1], ok: true, reason: "" });
  }, 600_000);

  it("the repository survives destroy on the repository host; the logins are withdrawn", async () => {
    await stack.destroy();
    expect(labels()).toHaveLength(2);
    expect(existsSync(join(repo, "archive"))).toBe(true);
    expect(readFileSync(POSTGRES_KEYS, "utf8")).not.toContain("-prrepo-");
    expect(readFileSync(join(REPO_HOME, ".ssh", "authorized_keys"), "utf8")).not.toContain("-prrepo-");
  }, 600_000);
});
