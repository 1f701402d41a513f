import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawnSync } from "child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, sandbox } from "./harness";

// Issue 22: restore drills of a PostgreSQL deployment's nightly dumps (backup.drill), on this machine.
// Owns: port 7221 (the cluster), 7222 (the drill's scratch cluster); cluster prdump; stack it-pr-dump-<pid>.
const box = sandbox("pr-dump");
const stackName = `it-pr-dump-${process.pid}`;
const PORT = 7221;
const DRILL_PORT = 7222;
const CLUSTER = "prdump";
const backups = join(box.dir, "backups");
const tools = join(box.dir, "tools");
const onFailureMark = join(box.dir, "on-failure.json");
let stack: Stack;

const config = {
  allowDataRemoval: true,
  postgres: {
    prdump: {
      host: "local",
      port: PORT,
      instanceName: CLUSTER,
      hostFacts: { memoryMb: 512, cpus: 1 },
      maxConnections: 20,
      // Passes on the deployment and in the drill's restored copy only when it runs as the owner.
      databases: { app: { owner: "app", healthChecks: [{ name: "runs as the owner", sql: "SELECT current_user", expect: "app" }] } },
      users: { app: { grants: { app: "owner" } } },
      toolsDir: tools,
      backup: { dir: backups, retentionDays: 7, drill: { port: DRILL_PORT, onFailure: `cp "$DRILL_RESULT" ${onFailureMark}` } },
    },
  },
};

function psql(sql: string, port = PORT, db = "app"): string {
  return execFileSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-p", String(port), "-d", db], { input: sql, encoding: "utf8", cwd: "/" }).trim();
}

function tool(name: string): { status: number; out: string; err: string } {
  const r = spawnSync(join(tools, name), [], { encoding: "utf8", cwd: "/" });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const lastDrill = (): Record<string, unknown> => JSON.parse(readFileSync(join(backups, "drills", "last.json"), "utf8"));
const newestBackup = (): string => readdirSync(backups).filter((f) => /^prdump-\d{8}T\d{6}Z\.tar\.gz$/.test(f)).sort().pop()!;
const scratches = (): string[] => readdirSync("/var/lib/postgresql").filter((f) => f.startsWith("dbstack-dump-drill."));

beforeAll(async () => {
  stack = await box.stack(stackName, config);
}, 60_000);

afterAll(async () => {
  if (stack) {
    await stack.destroy().catch(() => undefined);
    await stack.workspace.removeStack(stackName).catch(() => undefined);
  }
  spawnSync("pg_dropcluster", ["--stop", "15", CLUSTER]);
  rmSync(box.dir, { recursive: true, force: true });
}, 600_000);

describe("restore drills of PostgreSQL's nightly dumps", () => {
  it("up installs the drill beside the backups; a second up reports zero changes", async () => {
    expect((await stack.up()).summary.result).toBe("succeeded");
    const cron = readdirSync("/etc/cron.d").filter((f) => f.includes("postgres-prdump-drill"));
    expect(cron).toHaveLength(1);
    expect(readFileSync(join("/etc/cron.d", cron[0]), "utf8")).toContain(`0 3 * * * root ${tools}/drill`);
    expect(changes((await stack.up()).summary)).toEqual({ same: expect.any(Number) });
  }, 600_000);

  it("the backup records the figures of its dump's own snapshot, even while writes go on", async () => {
    psql("CREATE TABLE t (n int); INSERT INTO t SELECT generate_series(1, 1000); CREATE TABLE \"odd \"\"name\" (x text); INSERT INTO \"odd \"\"name\" VALUES ('a');");
    // Writes during the dump: the figures must still be exactly the dump's.
    const writer = spawnSync("bash", ["-c", `for i in $(seq 1 30); do runuser -u postgres -- psql -X -q -h /var/run/postgresql -p ${PORT} -d app -c 'INSERT INTO t SELECT generate_series(1, 50)' >/dev/null; done & ${join(tools, "backup")}; wait`], { encoding: "utf8", cwd: "/" });
    expect(writer.status, writer.stderr).toBe(0);
    const figures = readFileSync(join(backups, "figures", `${newestBackup()}.tsv`), "utf8");
    expect(figures).toMatch(/^app\tpublic\.odd "name\t1$/m);
    expect(figures).toMatch(/^app\tpublic\.t\t\d+$/m);
    expect(statSync(join(backups, "figures", `${newestBackup()}.tsv`)).mode & 0o777).toBe(0o600);
  }, 300_000);

  it("a drill of the newest dump restores it into a scratch cluster, passes and records it; the scratch is gone", () => {
    const r = tool("drill");
    expect(r.status, r.err + r.out).toBe(0);
    expect(lastDrill()).toMatchObject({ deployment: "prdump", engine: "postgres", backup: newestBackup(), ok: true, reason: "" });
    expect(r.out).toContain("health check runs as the owner: app");
    expect(String(lastDrill().recoveryPoint)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(scratches()).toEqual([]);
    expect(existsSync(onFailureMark)).toBe(false);
    expect(spawnSync("bash", ["-c", `ss -ltnH 'sport = :${DRILL_PORT}' | grep -q . || ls /var/run/postgresql/.s.PGSQL.${DRILL_PORT} 2>/dev/null`]).status).not.toBe(0);
  }, 300_000);

  it("a drill of a corrupted dump fails, records why and runs onFailure", () => {
    const file = join(backups, newestBackup());
    const fd = openSync(file, "r+");
    const at = Math.floor(statSync(file).size / 2);
    writeSync(fd, Buffer.alloc(64, 0x5a), 0, 64, at);
    closeSync(fd);
    const r = tool("drill");
    expect(r.status).toBe(1);
    expect(lastDrill()).toMatchObject({ ok: false, backup: newestBackup() });
    expect(String(lastDrill().reason)).toMatch(/cannot unpack|pg_restore|figures differ/);
    expect(JSON.parse(readFileSync(onFailureMark, "utf8"))).toEqual(lastDrill());
    expect(readFileSync(join(backups, "drills", "history.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
    expect(scratches()).toEqual([]);
  }, 300_000);
});
