import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawn, spawnSync } from "child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, sandbox } from "./harness";

// Issue 22: PostgreSQL point-in-time recovery with pgBackRest, and restore drills, on this machine.
// Owns: port 6501 (the cluster), 6502 (the drill's scratch instance), 6503 (a restore beside);
// cluster pitrpg; stack it-pitr-pg-<pid>. The repository, tools and restores live in the sandbox.
const box = sandbox("pitr-pg");
const stackName = `it-pitr-pg-${process.pid}`;
const PORT = 6501;
const DRILL_PORT = 6502;
const BESIDE_PORT = 6503;
const CLUSTER = "pitrpg";
const RPO_S = 10;
const repo = join(box.dir, "repo");
const tools = join(box.dir, "tools");
const onFailureMark = join(box.dir, "on-failure.json");
const dataDir = `/var/lib/postgresql/15/${CLUSTER}`;
let stack: Stack;

const config = {
  allowDataRemoval: true,
  postgres: {
    pitrpg: {
      host: "local",
      port: PORT,
      instanceName: CLUSTER,
      hostFacts: { memoryMb: 512, cpus: 1 },
      maxConnections: 20,
      databases: { app: { owner: "app" } },
      users: { app: { grants: { app: "owner" } } },
      toolsDir: tools,
      pitr: {
        dir: repo,
        archiveTimeoutS: RPO_S,
        drill: { port: DRILL_PORT, onFailure: `cp "$DRILL_RESULT" ${onFailureMark}` },
      },
    },
  },
};

/** psql as postgres over the local socket; rows tab-separated. */
function psql(sql: string, port = PORT, db = "app"): string {
  return execFileSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-p", String(port), "-d", db], { input: sql, encoding: "utf8", cwd: "/" }).trim();
}

/** psql without blocking the test's event loop (long writes). */
function psqlAsync(sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("runuser", ["-u", "postgres", "--", "psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-p", String(PORT), "-d", "app"], { cwd: "/", stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`psql failed (${code}): ${err}`))));
    child.stdin.end(sql);
  });
}

function tool(name: string, args: string[] = []): { status: number; out: string; err: string } {
  const r = spawnSync(join(tools, name), args, { encoding: "utf8", cwd: "/" });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function lastDrill(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(repo, "drills", "last.json"), "utf8"));
}

function newestLabel(): string {
  const dir = join(repo, "backup", readdirSync(join(repo, "backup"))[0]);
  return readdirSync(dir).filter((f) => /^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$/.test(f)).sort().pop()!;
}

beforeAll(async () => {
  stack = await box.stack(stackName, config);
}, 60_000);

afterAll(async () => {
  spawnSync("runuser", ["-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl", "-D", join(box.dir, "beside"), "-m", "immediate", "stop"], { cwd: "/" });
  if (stack) {
    await stack.destroy().catch(() => undefined);
    await stack.workspace.removeStack(stackName).catch(() => undefined);
  }
  for (const d of readdirSync("/var/lib/postgresql/15")) if (d.startsWith(`${CLUSTER}.before-restore-`)) rmSync(`/var/lib/postgresql/15/${d}`, { recursive: true, force: true });
  rmSync(box.dir, { recursive: true, force: true });
}, 600_000);

describe("PostgreSQL point-in-time recovery (pgBackRest)", () => {
  it("up archives every WAL file to an encrypted repository and takes the first full backup; the secret is in no state, output or world-readable file", async () => {
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(psql("SHOW archive_mode")).toBe("on");
    expect(psql("SHOW archive_timeout")).toBe(`${RPO_S}s`);
    expect(newestLabel()).toMatch(/F$/);
    const conf = readdirSync("/etc/dbstack-pitr").map((f) => join("/etc/dbstack-pitr", f)).find((f) => readFileSync(f, "utf8").includes(repo))!;
    expect(statSync(conf).mode & 0o777).toBe(0o600);
    const secret = /repo1-cipher-pass=(\S+)/.exec(readFileSync(conf, "utf8"))![1];
    expect(secret.length).toBe(64);
    const state = readFileSync(join(box.dir, "state", ".pulumi", "stacks", "dbstack", `${stackName}.json`), "utf8");
    expect(state).toContain("pitrpg-pitr-cipher");
    expect(state.includes(secret)).toBe(false);
    expect(JSON.stringify(await stack.outputs())).not.toContain(secret);
    // The repository's files are encrypted: the label's manifest does not hold the cluster's path in plaintext.
    const manifest = readFileSync(join(repo, "backup", readdirSync(join(repo, "backup"))[0], newestLabel(), "backup.manifest"));
    expect(manifest.includes(Buffer.from(dataDir))).toBe(false);
    const cron = readdirSync("/etc/cron.d").filter((f) => f.includes("postgres-pitrpg-pitr-"));
    expect(cron.sort().map((f) => f.replace(/.*-pitr-/, ""))).toEqual(["diff", "drill", "full"]);
    expect(readFileSync(join("/etc/cron.d", cron.find((f) => f.endsWith("drill"))!), "utf8")).toContain(`0 2 * * * root ${tools}/pitr-drill`);
  });

  it("a second up reports zero changes", async () => {
    const up = await stack.up();
    expect(changes(up.summary)).toEqual({ same: expect.any(Number) });
  });

  it("pitr-restore refuses a target time that is not a timestamp (a quote would reach postgresql.auto.conf) before anything is touched", () => {
    const r = tool("pitr-restore", ["--to-time", "2026-01-01 00:00:00'; DROP TABLE x; --"]);
    expect(r.status).toBe(2);
    expect(r.err).toContain("--to-time: not a timestamp");
    expect(psql("SELECT 1")).toBe("1");
  });

  let T = "";
  let lastAck = 0;
  it("restore --to-time T after the data directory is destroyed gives exactly the rows committed up to T; --to-latest loses at most archive_timeout", async () => {
    psql("CREATE TABLE t (n int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    const rows = (from: number, to: number, pause: number) => Array.from({ length: to - from + 1 }, (_, i) => `INSERT INTO t (n) VALUES (${from + i}); SELECT pg_sleep(${pause});`).join("\n");
    // Rows 1-20 are committed (each in its own transaction) before T is read; rows 21- after it.
    psql(rows(1, 20, 0.02));
    T = psql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
    psql(`SELECT pg_sleep(0.5); ${rows(21, 40, 0.02)}`);
    // Writes go on for more than an archive_timeout, then the disk is lost: no clean shutdown.
    await psqlAsync(rows(41, 200, 0.1));
    lastAck = Number(psql("SELECT extract(epoch FROM max(at)) FROM t"));
    execFileSync("pg_ctlcluster", ["15", CLUSTER, "stop", "-m", "immediate"]);
    rmSync(dataDir, { recursive: true, force: true });

    const beside = join(box.dir, "beside");
    const toT = tool("pitr-restore", ["--to-time", T, "--into", beside, "--port", String(BESIDE_PORT)]);
    expect(toT.status, toT.err).toBe(0);
    expect(toT.out).toMatch(/restored backup [0-9]{8}-[0-9]{6}F/);
    expect(toT.out).toMatch(/last transaction replayed at 20[0-9-]+ /);
    expect(psql("SELECT string_agg(n::text, ',' ORDER BY n) FROM t", BESIDE_PORT)).toBe(Array.from({ length: 20 }, (_, i) => i + 1).join(","));
    execFileSync("runuser", ["-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl", "-D", beside, "-m", "fast", "stop"], { cwd: "/" });

    const latest = tool("pitr-restore", ["--to-latest", "--in-place"]);
    expect(latest.status, latest.err).toBe(0);
    expect(latest.out).toContain(`runs the restored data on port ${PORT}`);
    const [count, maxN, maxAt] = psql("SELECT count(*), max(n), extract(epoch FROM max(at)) FROM t").split("\t").map(Number);
    expect(count).toBe(maxN); // no gap: a prefix of the acknowledged rows
    // What is lost: the rows acknowledged after the last archived WAL switch, at most archive_timeout
    // (plus the archiver's push of the switched file, under a second here).
    expect(lastAck - maxAt).toBeLessThanOrEqual(RPO_S + 2);
    expect(maxN).toBeGreaterThanOrEqual(40);
  }, 600_000);

  it("a drill on a good backup passes and records its result; the scratch instance is gone", () => {
    expect(tool("pitr-backup", ["diff"]).status).toBe(0);
    const r = tool("pitr-drill");
    expect(r.status, r.err).toBe(0);
    const result = lastDrill();
    expect(Object.keys(result)).toEqual(["deployment", "engine", "startedAt", "durationS", "backup", "backupAgeH", "recoveryPoint", "ok", "reason"]);
    expect(result).toMatchObject({ deployment: "pitrpg", engine: "postgres", backup: newestLabel(), ok: true, reason: "" });
    expect(result.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(result.recoveryPoint).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(statSync(join(repo, "drills", "last.json")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(repo, "drills", "history.jsonl"), "utf8").trim().split("\n")).toHaveLength(1);
    expect(readdirSync("/var/lib/postgresql").filter((f) => f.startsWith("dbstack-drill."))).toEqual([]);
    expect(existsSync(onFailureMark)).toBe(false);
    expect(tool("health-app").out).toMatch(/last restore drill: passed /);
  }, 300_000);

  it("a drill on a corrupted newest backup fails, records why, and runs onFailure", () => {
    const label = newestLabel();
    const dir = join(repo, "backup", readdirSync(join(repo, "backup"))[0], label, "pg_data");
    // The largest file of the backup (the table's heap or a catalog): bytes flipped in its middle.
    const files = (execFileSync("find", [dir, "-type", "f", "-size", "+1k"], { encoding: "utf8" }).trim().split("\n")).sort((a, b) => statSync(b).size - statSync(a).size);
    flipBytes(files[0]);
    const r = tool("pitr-drill");
    expect(r.status).toBe(1);
    const result = lastDrill();
    expect(result).toMatchObject({ ok: false, backup: label });
    expect(String(result.reason)).toMatch(/pgBackRest could not restore|did not start|figures differ/);
    expect(JSON.parse(readFileSync(onFailureMark, "utf8"))).toEqual(result);
    expect(readFileSync(join(repo, "drills", "history.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
    // The health tool warns, and still passes: a failed drill is the backups' alarm, not the server's.
    const health = tool("health-app");
    expect(health.status, health.err).toBe(0);
    expect(health.out).toMatch(/last restore drill: WARNING: the last restore drill failed \(.*, backup [0-9]{8}-/);
    expect(readdirSync("/var/lib/postgresql").filter((f) => f.startsWith("dbstack-drill."))).toEqual([]);
  }, 300_000);
});

describe("the last drill, visible", () => {
  it("is the lastDrill stack output after an up, which reports zero changes", async () => {
    const up = await stack.up();
    expect(changes(up.summary)).toEqual({ same: expect.any(Number) });
    const outputs = await stack.outputs();
    expect(outputs.postgres.value.pitrpg.lastDrill).toEqual(lastDrill());
    expect(outputs.postgres.value.pitrpg.lastDrill.ok).toBe(false);
  });
});

function flipBytes(file: string): void {
  const fd = openSync(file, "r+");
  try {
    const at = Math.floor(statSync(file).size / 2);
    const b = Buffer.alloc(16);
    readSync(fd, b, 0, 16, at);
    for (let i = 0; i < 16; i++) b[i] ^= 0xff;
    writeSync(fd, b, 0, 16, at);
  } finally {
    closeSync(fd);
  }
}
