import { execFileSync, spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { renderSqliteStatusProbe } from "../../components/engines/sqlite/monitoring";
import { hookRecordPath, hookRecordsDir, renderHookRecordProbe, renderHookSucceeded, renderRecordedHook, renderRemoveHookRecord } from "../../components/hooks/hookRecord";
import { scriptHeader } from "../../components/shell";
import { parseProbeOutput } from "../../scripts/lib/status/probe";
import { judge, DEFAULT_BOUNDS, type MemberStatus } from "../../scripts/lib/status/report";
import { renderStatusScreen } from "../../scripts/lib/status/render";
import { renderTextfile } from "../../scripts/lib/status/textfile";

// Issue 23: SQLite's last checkpoint, and the last post-deploy hook's result per database, in
// status and in node_exporter's textfile.
const work = mkdtempSync(join(tmpdir(), "dbstack-st-sqlite-hooks-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function bash(script: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync("bash", ["-s"], { input: script, encoding: "utf8", cwd: work, env: { ...process.env, ...env } });
}

const base = (over: Partial<MemberStatus>): MemberStatus => ({ deployment: "app", engine: "sqlite", member: "file", declaredRole: "file", where: "this machine", reachable: true, ...over });

describe("SQLite's journal mode and last checkpoint", () => {
  it("a WAL database: the last checkpoint is the file's own mtime, the last write the newer of the file and its WAL", () => {
    const db = join(work, "wal.db");
    execFileSync("sqlite3", [db, "PRAGMA journal_mode=wal; CREATE TABLE t (x); INSERT INTO t VALUES (1);"]);
    // A writer that stays open keeps its WAL (a last connection closing checkpoints and removes it).
    const walPath = `${db}-wal`;
    writeFileSync(walPath, Buffer.alloc(4096));
    utimesSync(db, new Date("2026-12-07T10:00:00Z"), new Date("2026-12-07T10:00:00Z"));
    utimesSync(walPath, new Date("2026-12-07T11:00:00Z"), new Date("2026-12-07T11:00:00Z"));
    const f = parseProbeOutput("sqlite", bash(renderSqliteStatusProbe({ path: db, quickCheck: false })).stdout, { now: new Date() });
    expect(f.sqlite).toMatchObject({ walBytes: 4096, journalMode: "wal", lastCheckpointAt: "2026-12-07T10:00:00.000Z", modifiedAt: "2026-12-07T11:00:00.000Z" });
    rmSync(walPath);
  });

  it("a rollback-journal database has no checkpoint (and none is made up)", () => {
    const db = join(work, "rollback.db");
    execFileSync("sqlite3", [db, "CREATE TABLE t (x);"]);
    const f = parseProbeOutput("sqlite", bash(renderSqliteStatusProbe({ path: db, quickCheck: false })).stdout, { now: new Date() });
    expect(f.sqlite).toMatchObject({ walBytes: 0, journalMode: "rollback" });
    expect(f.sqlite!.lastCheckpointAt).toBeUndefined();
    const screen = renderStatusScreen({ stack: "s", at: new Date().toISOString(), members: [base(f)], problems: [] }, { color: false });
    expect(screen).toContain("rollback journal (no checkpoints)");
  });
});

describe("the post-deploy hook's record", () => {
  const toolsDir = join(work, "tools it's $(touch pwned)");
  const record = hookRecordPath(toolsDir, "app");

  it("a hook that succeeds is recorded ok, with its duration; its output and exit status are unchanged", () => {
    const r = bash(renderRecordedHook(`${scriptHeader("test hook")}\necho migrations: 1 applied\n`, record));
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("migrations: 1 applied\n");
    const rec = JSON.parse(readFileSync(record, "utf8")) as Record<string, unknown>;
    expect(rec).toMatchObject({ ok: true, exitCode: 0, durationS: expect.any(Number) });
    expect(Date.now() - Date.parse(rec.finishedAt as string)).toBeLessThan(60_000);
    expect((statSync(record).mode & 0o777).toString(8)).toBe("644");
    expect(existsSync(join(work, "pwned"))).toBe(false);
    // The step's probe holds while the last run succeeded.
    expect(bash(renderHookSucceeded(record)).status).toBe(0);
  });

  it("a hook that fails under set -e is recorded failed with its exit status; the hook still fails; its own EXIT trap still runs", () => {
    const trapped = join(work, "trapped");
    const body = `${scriptHeader("test hook")}\ntrap 'touch "$TRAPPED"' EXIT\necho before\nfalse\necho never\n`;
    const r = bash(renderRecordedHook(body, record), { TRAPPED: trapped });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("before\n");
    expect(existsSync(trapped)).toBe(true);
    expect(JSON.parse(readFileSync(record, "utf8"))).toMatchObject({ ok: false, exitCode: 1 });
    // A failed last run makes the step's probe fail: the next up runs the hook again.
    expect(bash(renderHookSucceeded(record)).status).not.toBe(0);
    expect(bash(renderHookSucceeded(join(work, "no-such-record.json"))).status).not.toBe(0);
    const exit3 = bash(renderRecordedHook(`${scriptHeader("t")}\necho "migration 0002 failed" >&2\nexit 3\n`, record));
    expect(exit3.status).toBe(3);
    expect(exit3.stderr).toContain("migration 0002 failed");
    // Figures only: not the hook's messages.
    expect(readFileSync(record, "utf8")).not.toContain("0002");
  });

  it("status reads every database's record; a failed one is a problem naming the database; the textfile has dbstack_hook_* (promtool accepts it)", () => {
    writeFileSync(hookRecordPath(toolsDir, "shop"), '{"ok":true,"exitCode":0,"finishedAt":"2026-12-07T11:00:00Z","durationS":4}\n');
    writeFileSync(hookRecordPath(toolsDir, "broken"), "not json\n");
    const out = bash(renderHookRecordProbe(hookRecordsDir(toolsDir))).stdout;
    const f = parseProbeOutput("postgres", `server\t${JSON.stringify({ role: "primary", connections: 1, maxConnections: 10 })}\n${out}`, { now: new Date() });
    const hooks = Object.fromEntries((f.hooks ?? []).map((h) => [h.database, h]));
    expect(hooks.app).toMatchObject({ ok: false, exitCode: 3 });
    expect(hooks.shop).toEqual({ database: "shop", ok: true, exitCode: 0, finishedAt: "2026-12-07T11:00:00Z", durationS: 4 });
    expect(hooks.broken).toEqual({ database: "broken", ok: false });
    const member = base({ engine: "postgres", deployment: "main", member: "primary", declaredRole: "primary", ...f });
    const problems = judge([member], DEFAULT_BOUNDS);
    expect(problems).toContainEqual(expect.stringMatching(/^postgres main\/primary: the last post-deploy hook of database app failed \(.*\), exit 3$/));
    expect(problems.some((p) => p.includes("database shop"))).toBe(false);
    const screen = renderStatusScreen({ stack: "s", at: new Date().toISOString(), members: [member], problems }, { color: false });
    expect(screen).toContain("primary: hooks ");
    expect(screen).toContain("shop ok 2026-12-07T11:00:00Z in 4 s");

    const sqlite = base(parseProbeOutput("sqlite", "file\t4096\t1765000000\nwal\t8192\t1765000100\nmode\twal\nhook\tapp\t{\"ok\":true,\"exitCode\":0,\"finishedAt\":\"2026-12-07T11:00:00Z\",\"durationS\":1}", { now: new Date() }));
    const text = renderTextfile({ stack: "dev", at: new Date().toISOString(), members: [member, sqlite], problems });
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    if (check.error) throw new Error("promtool is missing: install the Debian package prometheus");
    expect(`${check.status} ${check.stdout}${check.stderr}`).toBe("0 ");
    expect(text).toContain('dbstack_hook_last_ok{stack="dev",engine="postgres",deployment="main",member="primary",database="app"} 0\n');
    expect(text).toContain('dbstack_hook_last_ok{stack="dev",engine="postgres",deployment="main",member="primary",database="shop"} 1\n');
    expect(text).toContain(`dbstack_hook_last_timestamp_seconds{stack="dev",engine="postgres",deployment="main",member="primary",database="shop"} ${Date.parse("2026-12-07T11:00:00Z") / 1000}\n`);
    expect(text).toContain('dbstack_hook_last_duration_seconds{stack="dev",engine="postgres",deployment="main",member="primary",database="shop"} 4\n');
    expect(text).toContain('dbstack_hook_last_ok{stack="dev",engine="sqlite",deployment="app",member="file",database="app"} 1\n');
    expect(text).toContain('dbstack_sqlite_last_checkpoint_timestamp_seconds{stack="dev",engine="sqlite",deployment="app",member="file"} 1765000000\n');
    expect(text).toContain('dbstack_sqlite_last_write_timestamp_seconds{stack="dev",engine="sqlite",deployment="app",member="file"} 1765000100\n');
    expect(text).toContain('dbstack_sqlite_wal_bytes{stack="dev",engine="sqlite",deployment="app",member="file"} 8192\n');
  });

  it("removal takes the record, and the directory once it is empty; a database name that is not an identifier is refused", () => {
    for (const db of ["shop", "broken"]) rmSync(hookRecordPath(toolsDir, db));
    expect(bash(renderRemoveHookRecord(record)).status).toBe(0);
    expect(existsSync(hookRecordsDir(toolsDir))).toBe(false);
    expect(existsSync(toolsDir)).toBe(true);
    mkdirSync(join(work, "empty"), { recursive: true });
    expect(bash(renderHookRecordProbe(join(work, "empty"))).stdout).toBe("");
    expect(() => hookRecordPath(toolsDir, "../etc/passwd")).toThrow(/not a plain identifier/);
    expect(() => hookRecordPath(toolsDir, "$(id)")).toThrow(/not a plain identifier/);
  });
});
