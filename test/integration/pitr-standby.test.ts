import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawnSync } from "child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, sandbox } from "./harness";
import { createTestHosts, type TestHosts } from "./support/hosts";

// Issue 22: backups taken from a standby (pgBackRest's backup-standby) when the deployment has one
// and a repository host: the primary on test host pr3, the repository on pr4, the standby on pr5
// (namespace hosts sharing this machine's file system).
// Owns: test hosts pr3, pr4, pr5; ports 7211 (primary), 7212 (standby), 7213 (the drill);
// clusters prsbp, prsbs; stack it-pr-sb-<pid>; the Unix user pgbackrest when it did not exist before.
const box = sandbox("pr-sb");
const stackName = `it-pr-sb-${process.pid}`;
const PORT = 7211;
const STANDBY_PORT = 7212;
const DRILL_PORT = 7213;
const CLUSTERS = ["prsbp", "prsbs"];
const repo = join(box.dir, "repo");
const local = join(box.dir, "local");
const tools = join(box.dir, "tools");
const POSTGRES_KEYS = "/var/lib/postgresql/.ssh/authorized_keys";
const REPO_HOME = "/var/lib/pgbackrest-dbstack";
let hosts: TestHosts;
let stack: Stack;
let hadRepoUser = false;
let hadPostgresKeys = false;
let postgresPassword = "";

function config() {
  const h = (n: string) => ({ address: hosts.host(n).address, privateKey: hosts.host(n).privateKey, hostKey: hosts.host(n).hostKey });
  const p = hosts.host("pr3").address;
  return {
    allowDataRemoval: false,
    hosts: { pr3: h("pr3"), pr4: h("pr4"), pr5: h("pr5") },
    postgres: {
      prsbp: {
        host: "pr3",
        port: PORT,
        instanceName: CLUSTERS[0],
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        listenAddresses: ["localhost", p],
        allowedCidrs: ["10.213.0.0/24"],
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
        standbys: { s1: { host: "pr5", address: hosts.host("pr5").address, instanceName: CLUSTERS[1], port: STANDBY_PORT } },
        toolsDir: tools,
        pitr: { dir: local, archiveTimeoutS: 10, drill: { port: DRILL_PORT }, repositoryHost: { host: "pr4", dir: repo } },
      },
    },
  };
}

function psql(sql: string, port = PORT, db = "app"): string {
  return execFileSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-p", String(port), "-d", db], { input: sql, encoding: "utf8", cwd: "/" }).trim();
}

async function tool(name: string, args: string[] = []): Promise<{ status: number; out: string; err: string }> {
  const r = await hosts.run("pr3", [join(tools, name), ...args].join(" "));
  return { status: r.code, out: r.stdout, err: r.stderr };
}

function labels(): string[] {
  const stanzas = existsSync(join(repo, "backup")) ? readdirSync(join(repo, "backup")) : [];
  if (stanzas.length === 0) return [];
  return readdirSync(join(repo, "backup", stanzas[0])).filter((f) => /^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$/.test(f)).sort();
}

/** The repository host's backup log (pgBackRest's, on pr4). */
function backupLog(): string {
  const dir = join(REPO_HOME, "log");
  return readdirSync(dir).filter((f) => f.includes(stackName) && f.endsWith("-backup.log")).map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
}

beforeAll(async () => {
  postgresPassword = execFileSync("getent", ["shadow", "postgres"], { encoding: "utf8" }).split(":")[1];
  // The test hosts' sshd runs without PAM, which refuses a locked ('!') account even its keys.
  if (postgresPassword === "!") execFileSync("usermod", ["-p", "*", "postgres"]);
  hadRepoUser = spawnSync("id", ["-u", "pgbackrest"]).status === 0;
  hadPostgresKeys = existsSync(POSTGRES_KEYS);
  hosts = await createTestHosts(["pr3", "pr4", "pr5"]);
  stack = await box.stack(stackName, config());
}, 120_000);

afterAll(async () => {
  try {
    if (stack) {
      await stack.setConfig("dbstack:allowDataRemoval", { value: "true" }).catch(() => undefined);
      await stack.up().catch(() => undefined);
      await stack.destroy().catch(() => undefined);
      await stack.workspace.removeStack(stackName).catch(() => undefined);
    }
  } finally {
    for (const c of CLUSTERS) spawnSync("pg_dropcluster", ["--stop", "15", c]);
    for (const f of (existsSync("/etc/dbstack-pitr") ? readdirSync("/etc/dbstack-pitr") : []).filter((f) => f.includes("prsbp"))) rmSync(join("/etc/dbstack-pitr", f), { recursive: true, force: true });
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

describe("backups from a standby", () => {
  it("with a standby, the repository host takes the backups from it (backup-standby), and a drill of such a backup passes", async () => {
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(psql("SELECT pg_is_in_recovery()", STANDBY_PORT, "postgres")).toBe("t");
    expect(labels()).toHaveLength(1);
    const log = backupLog();
    expect(log).toMatch(new RegExp(`backup command begin .*--backup-standby .*--pg2-host=${hosts.host("pr5").address.replace(/\./g, "\\.")} `));
    expect(log).toMatch(/replay on the standby/);
    psql("CREATE TABLE t (n int); INSERT INTO t SELECT generate_series(1, 500);");
    const b = await tool("pitr-backup", ["diff"]);
    expect(b.status, b.err).toBe(0);
    expect(labels()).toHaveLength(2);
    const d = await tool("pitr-drill");
    expect(d.status, d.err + d.out).toBe(0);
    expect(JSON.parse(readFileSync(join(local, "drills", "last.json"), "utf8"))).toMatchObject({ backup: labels()[1], ok: true });
    expect(readFileSync(join(local, "figures", `${labels()[1]}.tsv`), "utf8")).toContain("app\tpublic.t\t500");
  }, 900_000);

  it("a second up reports zero changes", async () => {
    const up = await stack.up();
    expect(changes(up.summary)).toEqual({ same: expect.any(Number) });
  }, 300_000);

  it("destroy withdraws the repository host's login from the standby and keeps the repository", async () => {
    await stack.destroy();
    expect(labels()).toHaveLength(2);
    expect(existsSync(POSTGRES_KEYS) ? readFileSync(POSTGRES_KEYS, "utf8") : "").not.toContain("-prsbp-");
    expect(readdirSync("/etc/dbstack-pitr").filter((f) => f.includes("prsbp") && f.includes(".standby-"))).toEqual([]);
  }, 600_000);
});
