import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawnSync } from "child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, sandbox } from "./harness";

// Issue 22: a restore drill of an SQLite database's nightly backups, on this machine.
// Owns: stack it-pitr-sqlite-<pid>; the database, backups and tools live in the sandbox.
const box = sandbox("drill-sqlite");
const stackName = `it-pitr-sqlite-${process.pid}`;
const db = join(box.dir, "data", "app.db");
const backups = join(box.dir, "backups");
const tools = join(box.dir, "tools");
const onFailureMark = join(box.dir, "on-failure.json");
let stack: Stack;

const config = {
  allowDataRemoval: true,
  sqlite: {
    drillapp: {
      path: db,
      toolsDir: tools,
      backup: { schedule: "30 3 * * *", dir: backups, retentionDays: 7, drill: { onFailure: `cp "$DRILL_RESULT" ${onFailureMark}` } },
    },
  },
};

function tool(name: string): { status: number; out: string; err: string } {
  const r = spawnSync(join(tools, name), [], { encoding: "utf8", cwd: "/" });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}
const lastDrill = () => JSON.parse(readFileSync(join(backups, "drills", "last.json"), "utf8"));
const history = () => readFileSync(join(backups, "drills", "history.jsonl"), "utf8").trim().split("\n");
const newestBackup = () => readdirSync(backups).filter((f) => /^drillapp-\d{8}T\d{6}Z\.db\.gz$/.test(f)).sort().pop()!;

beforeAll(async () => {
  stack = await box.stack(stackName, config);
}, 60_000);

afterAll(async () => {
  if (stack) {
    await stack.destroy().catch(() => undefined);
    await stack.workspace.removeStack(stackName).catch(() => undefined);
  }
  rmSync(box.dir, { recursive: true, force: true });
}, 300_000);

describe("SQLite backups with a restore drill", () => {
  it("up installs the drill tool and its cron entry, an hour after the backups", async () => {
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    const cron = readdirSync("/etc/cron.d").find((f) => f.endsWith("-sqlite-drillapp-drill"))!;
    expect(readFileSync(join("/etc/cron.d", cron), "utf8")).toContain(`30 4 * * * root ${tools}/drill`);
    expect(statSync(join(tools, "drill.on-failure")).mode & 0o777).toBe(0o600);
    expect(changes((await stack.up()).summary)).toEqual({ same: expect.any(Number) });
  });

  it("a drill that cannot run (no backup yet) is a recorded failure, never a silent skip", () => {
    const r = tool("drill");
    expect(r.status).toBe(1);
    expect(lastDrill()).toMatchObject({ deployment: "drillapp", engine: "sqlite", ok: false, reason: expect.stringContaining("no backup of drillapp") });
    rmSync(onFailureMark, { force: true });
  });

  it("a drill of a good backup passes: integrity_check and the tables and row counts recorded at backup time", () => {
    execFileSync("sqlite3", [db, `CREATE TABLE "odd ""name"" ; x" (n int); INSERT INTO "odd ""name"" ; x" VALUES (1),(2),(3); CREATE TABLE items (v text); INSERT INTO items VALUES ('a');`]);
    expect(tool("backup").status).toBe(0);
    const r = tool("drill");
    expect(r.status, r.err).toBe(0);
    const result = lastDrill();
    expect(Object.keys(result)).toEqual(["deployment", "engine", "startedAt", "durationS", "backup", "backupAgeH", "recoveryPoint", "ok", "reason"]);
    expect(result).toMatchObject({ deployment: "drillapp", engine: "sqlite", backup: newestBackup(), ok: true, reason: "" });
    expect(result.recoveryPoint).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(readFileSync(join(backups, "figures", `${newestBackup()}.tsv`), "utf8")).toBe('items\t1\nodd "name" ; x\t3\n');
    expect(history()).toHaveLength(2);
    expect(existsSync(onFailureMark)).toBe(false);
  });

  it("a drill of a corrupted newest backup fails, records why, and runs onFailure", () => {
    const file = join(backups, newestBackup());
    const fd = openSync(file, "r+");
    const at = Math.floor(statSync(file).size / 2);
    const b = Buffer.alloc(8);
    readSync(fd, b, 0, 8, at);
    for (let i = 0; i < 8; i++) b[i] ^= 0xff;
    writeSync(fd, b, 0, 8, at);
    closeSync(fd);
    const r = tool("drill");
    expect(r.status).toBe(1);
    const result = lastDrill();
    expect(result).toMatchObject({ ok: false, backup: newestBackup() });
    expect(result.reason).toMatch(/cannot unpack|integrity_check|figures differ/);
    expect(JSON.parse(readFileSync(onFailureMark, "utf8"))).toEqual(result);
    expect(history()).toHaveLength(3);
  });
});
