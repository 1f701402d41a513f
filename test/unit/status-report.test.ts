import { describe, expect, it } from "vitest";
import { parseProbeOutput } from "../../scripts/lib/status/probe";
import { formatBytes, formatDuration, renderStatusScreen } from "../../scripts/lib/status/render";
import { DEFAULT_BOUNDS, judge, type MemberStatus, type StatusReport } from "../../scripts/lib/status/report";

const now = new Date("2026-12-07T12:00:00Z");
const epoch = (iso: string) => String(Date.parse(iso) / 1000);

const pgPrimary = JSON.stringify({
  version: "15.5 (Debian 15.5-0+deb12u1)",
  role: "primary",
  uptimeS: 7260,
  connections: 3,
  maxConnections: 30,
  databases: [{ name: "app", bytes: 7_654_321 }, { name: "postgres", bytes: 7_500_000 }],
  lagBytes: null,
  lagSeconds: null,
  streaming: null,
  replicas: [{ name: "15/stpgs", address: "10.213.0.12", state: "streaming", lagBytes: 0, lagSeconds: null }],
  pendingRestart: ["shared_buffers"],
  longTransactions: [{ pid: 4242, user: "app", database: "app", state: "idle in transaction", seconds: 901 }],
  slowest: [{ query: "SELECT pg_sleep($1)", calls: 1, meanMs: 1203.2, maxMs: 1203.2 }],
});

function member(over: Partial<MemberStatus>): MemberStatus {
  return { deployment: "main", engine: "postgres", member: "primary", declaredRole: "primary", where: "this machine", reachable: true, ...over };
}

describe("parsing what a probe printed", () => {
  it("reads a PostgreSQL primary's facts, its newest backup and the absence of a drill", () => {
    const out = [`server\t${pgPrimary}`, "backupdir\t1765000000", `backup\t${epoch("2026-12-07T02:00:00Z")}.5\t123456\tmain-20261207T020000Z.sql.gz`, "backups\t3"].join("\n");
    const f = parseProbeOutput("postgres", out, { maxAgeHours: 36, now });
    expect(f).toMatchObject({
      reachable: true,
      role: "primary",
      version: "15.5 (Debian 15.5-0+deb12u1)",
      uptimeS: 7260,
      connections: { used: 3, max: 30 },
      pendingRestart: ["shared_buffers"],
      backup: { count: 3, maxAgeHours: 36, newest: { file: "main-20261207T020000Z.sql.gz", bytes: 123456 } },
      drill: null,
    });
    expect(f.backup!.newest!.ageHours).toBeCloseTo(10, 2);
    expect(f.lag).toBeUndefined();
  });

  it("reads a PostgreSQL standby's lag", () => {
    const f = parseProbeOutput("postgres", `server\t${JSON.stringify({ role: "standby", lagBytes: 2048, lagSeconds: 1.5, streaming: true, connections: 1, maxConnections: 30 })}`, { now });
    expect(f).toMatchObject({ role: "standby", lag: { bytes: 2048, seconds: 1.5, replicating: true } });
    expect(f.backup).toBeUndefined();
  });

  it("reads a MariaDB replica's SHOW SLAVE STATUS fields and the sizes measured on the host", () => {
    const out = [
      `server\t${JSON.stringify({ version: "10.11.6-MariaDB-0+deb12u1-log", uptimeS: 50, connections: 2, maxConnections: 30, readOnly: true, longTransactions: null, slowest: null })}`,
      "replica\tSlave_IO_Running\tYes",
      "replica\tSlave_SQL_Running\tNo",
      "replica\tSeconds_Behind_Master\tNULL",
      "replica\tLast_SQL_Error\tError 'Duplicate entry' on query",
      "dbsize\tshop\t98304",
    ].join("\n");
    const f = parseProbeOutput("mariadb", out, { now });
    expect(f).toMatchObject({ role: "replica", lag: { bytes: null, seconds: null, replicating: false, error: "Error 'Duplicate entry' on query" }, databases: [{ name: "shop", bytes: 98304 }], slowest: [], longTransactions: [] });
  });

  it("a `down` line, or no status at all, is a member that is down, with the reason", () => {
    expect(parseProbeOutput("postgres", "down\tpsql: error: connection to server at \"127.0.0.1\", port 6602 failed: Connection refused", { now })).toEqual({
      reachable: false,
      error: 'psql: error: connection to server at "127.0.0.1", port 6602 failed: Connection refused',
    });
    expect(parseProbeOutput("mariadb", "", { now })).toMatchObject({ reachable: false, error: "the probe printed no status" });
    expect(parseProbeOutput("postgres", "server\tnot json", { now })).toMatchObject({ reachable: false });
  });

  it("reads SQLite's file, WAL and quick_check, and a drill record (an unreadable one counts as failed)", () => {
    const f = parseProbeOutput("sqlite", ["file\t4096\t1765000000", "wal\t32992", "quick_check\tok;", "backup\tnone", "backupdir\t" + epoch("2026-12-07T11:00:00Z"), "backups\t0", 'drill\t{"ok":true,"startedAt":"2026-12-07T03:00:00Z","durationS":2}'].join("\n"), { maxAgeHours: 36, now });
    expect(f).toMatchObject({ reachable: true, sqlite: { bytes: 4096, walBytes: 32992, quickCheck: "ok" }, backup: { count: 0, emptyForHours: 1 }, drill: { ok: true } });
    expect(parseProbeOutput("sqlite", "file\t1\t1\nbackup\tnone\ndrill\t{broken", { maxAgeHours: 1, now }).drill).toEqual({ ok: false, reason: "its record (drills/last.json) is not JSON" });
  });
});

describe("judging: what needs a person", () => {
  it("names a member that is down, with its host", () => {
    expect(judge([member({ member: "replica1", declaredRole: "standby", where: "root@10.0.0.2", reachable: false, error: "connection refused" })], DEFAULT_BOUNDS)).toEqual([
      "postgres main/replica1 on root@10.0.0.2: down: connection refused",
    ]);
  });

  it("lag over its bound, a replica that stopped replicating, a promoted standby", () => {
    const problems = judge(
      [
        member({ member: "s1", declaredRole: "standby", role: "standby", lag: { bytes: 10, seconds: 301, replicating: true } }),
        member({ member: "s2", declaredRole: "standby", role: "standby", lag: { bytes: 0, seconds: 299, replicating: true } }),
        member({ engine: "mariadb", member: "r1", declaredRole: "standby", role: "replica", lag: { bytes: null, seconds: null, replicating: false, error: "boom" } }),
        member({ member: "s3", declaredRole: "standby", role: "primary" }),
      ],
      DEFAULT_BOUNDS,
    );
    expect(problems).toEqual([
      "postgres main/s1: lags 301 s behind its primary (bound 300 s)",
      "mariadb main/r1: not replicating (boom)",
      "postgres main/s3: declared a standby, but the server is a primary (promoted?)",
    ]);
  });

  it("a backup older than maxAgeHours, none long after the schedule, and a failed drill; a young empty directory is fine", () => {
    expect(judge([member({ backup: { count: 1, maxAgeHours: 36, newest: { file: "f", time: "t", bytes: 1, ageHours: 40 } }, drill: { ok: false, reason: "restore failed", startedAt: "2026-12-07T03:00:00Z" } })], DEFAULT_BOUNDS)).toEqual([
      "postgres main/primary: newest backup is 40.0 h old (bound 36 h)",
      "postgres main/primary: last restore drill failed (2026-12-07T03:00:00Z): restore failed",
    ]);
    expect(judge([member({ backup: { count: 0, maxAgeHours: 36, emptyForHours: 2 }, drill: null })], DEFAULT_BOUNDS)).toEqual([]);
    expect(judge([member({ backup: { count: 0, maxAgeHours: 36, emptyForHours: 50 } })], DEFAULT_BOUNDS)).toEqual(["postgres main/primary: no backup in 50.0 h (bound 36 h)"]);
  });
});

describe("the status screen", () => {
  const report: StatusReport = {
    stack: "dev",
    at: "2026-12-07T12:00:00.000Z",
    members: [
      { ...member({}), ...parseProbeOutput("postgres", `server\t${pgPrimary}\nbackup\tnone\nbackups\t0`, { maxAgeHours: 36, now }) },
      member({ member: "replica1", declaredRole: "standby", where: "root@10.0.0.2", reachable: false, error: "connection refused" }),
    ],
    problems: ["postgres main/replica1 on root@10.0.0.2: down: connection refused"],
  };

  it("is a table per deployment, then details and problems; plain without colour", () => {
    const screen = renderStatusScreen(report, { color: false });
    expect(screen).not.toMatch(/\u001b\[/);
    const lines = screen.split("\n");
    expect(lines[0]).toBe("dbstack status: stack dev at 2026-12-07T12:00:00.000Z");
    expect(screen).toContain("postgres main\n  MEMBER    STATE  ROLE     HOST           VERSION");
    expect(screen).toMatch(/\n  primary   up     primary  this machine   15\.5 \(Debian 15\.5-0\+deb12u1\)\s+2 h 1 min\s+3\/30\s+-\n/);
    expect(screen).toMatch(/\n  replica1  DOWN   standby  root@10\.0\.0\.2\s+-\s+-\s+-\s+-\n/);
    expect(screen).toContain("primary: databases app 7.7 MB, postgres 7.5 MB");
    expect(screen).toContain("primary: waiting for a restart: shared_buffers");
    expect(screen).toContain("primary: long transaction: pid 4242 app@app idle in transaction for 15 min");
    expect(screen).toMatch(/primary: slowest statements:\n\s+1203\.2 ms max\s+1203\.2 ms mean\s+1 calls  SELECT pg_sleep\(\$1\)/);
    expect(screen).toContain("primary: drill no drill declared");
    expect(screen).toContain("1 problem:\n  ✗ postgres main/replica1 on root@10.0.0.2: down: connection refused\n");
  });

  it("colours states and problems on a terminal", () => {
    const screen = renderStatusScreen(report, { color: true });
    expect(screen).toContain("\u001b[32mup\u001b[0m");
    expect(screen).toContain("\u001b[31mDOWN\u001b[0m");
  });

  it("formats sizes and durations for people", () => {
    expect([formatBytes(812), formatBytes(7_654_321), formatBytes(null)]).toEqual(["812 B", "7.7 MB", "-"]);
    expect([formatDuration(42), formatDuration(300), formatDuration(7260), formatDuration(360000), formatDuration(undefined)]).toEqual(["42 s", "5 min", "2 h 1 min", "4 d 4 h", "-"]);
  });
});
