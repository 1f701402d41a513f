import { spawnSync } from "child_process";
import { describe, expect, it } from "vitest";
import { parseProbeOutput } from "../../scripts/lib/status/probe";
import type { MemberStatus, StatusReport } from "../../scripts/lib/status/report";
import { escapeLabelValue, renderTextfile } from "../../scripts/lib/status/textfile";

const now = new Date("2026-12-07T12:00:00Z");
const base = (over: Partial<MemberStatus>): MemberStatus => ({ deployment: "main", engine: "postgres", member: "primary", declaredRole: "primary", where: "this machine", reachable: true, ...over });

const report: StatusReport = {
  stack: 'dev "quoted" \\ stack',
  at: now.toISOString(),
  members: [
    base({
      ...parseProbeOutput(
        "postgres",
        [
          `server\t${JSON.stringify({ role: "primary", uptimeS: 60, connections: 3, maxConnections: 30, databases: [{ name: "app", bytes: 8000000 }], longTransactions: [], pendingRestart: [] })}`,
          `backup\t${Date.parse("2026-12-07T02:00:00Z") / 1000}\t1234\tmain-x.sql.gz`,
          "backups\t2",
          'drill\t{"ok":false,"startedAt":"2026-12-07T03:00:00Z","durationS":12.5,"reason":"bad"}',
        ].join("\n"),
        { maxAgeHours: 36, now },
      ),
    }),
    base({ member: "replica1", declaredRole: "standby", ...parseProbeOutput("postgres", `server\t${JSON.stringify({ role: "standby", lagBytes: 0, lagSeconds: 0.5, streaming: true, connections: 1, maxConnections: 30 })}`, { now }) }),
    base({ engine: "sqlite", deployment: "app", member: "file", declaredRole: "file", ...parseProbeOutput("sqlite", "file\t4096\t1765000000\nwal\t0", { now }) }),
    base({ engine: "mariadb", deployment: "shop", member: "r1", declaredRole: "standby", reachable: false, error: "down" }),
  ],
  problems: ["x", "y"],
};

describe("the node_exporter textfile", () => {
  const text = renderTextfile(report);

  it("is valid Prometheus text format (promtool check metrics)", () => {
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    if (check.error) throw new Error("promtool is missing: install the Debian package prometheus");
    expect(`${check.status} ${check.stdout}${check.stderr}`).toBe("0 ");
  });

  it("carries up, lag, backup age and drill figures per member, with escaped labels", () => {
    const stack = `stack="dev \\"quoted\\" \\\\ stack"`;
    expect(text).toContain(`dbstack_up{${stack},engine="postgres",deployment="main",member="primary"} 1\n`);
    expect(text).toContain(`dbstack_up{${stack},engine="mariadb",deployment="shop",member="r1"} 0\n`);
    expect(text).toContain(`dbstack_replication_lag_seconds{${stack},engine="postgres",deployment="main",member="replica1"} 0.5\n`);
    expect(text).toContain(`dbstack_backup_age_seconds{${stack},engine="postgres",deployment="main",member="primary"} 36000\n`);
    expect(text).toContain(`dbstack_backup_last_timestamp_seconds{${stack},engine="postgres",deployment="main",member="primary"} ${Date.parse("2026-12-07T02:00:00Z") / 1000}\n`);
    expect(text).toContain(`dbstack_drill_last_ok{${stack},engine="postgres",deployment="main",member="primary"} 0\n`);
    expect(text).toContain(`dbstack_database_size_bytes{${stack},engine="postgres",deployment="main",member="primary",database="app"} 8000000\n`);
    expect(text).toContain(`dbstack_sqlite_file_bytes{${stack},engine="sqlite",deployment="app",member="file"} 4096\n`);
    expect(text).toContain(`dbstack_status_problems{${stack}} 2\n`);
    expect(text).not.toContain("dbstack_replication_lag_seconds{" + stack + ',engine="postgres",deployment="main",member="primary"}');
    expect(escapeLabelValue('a\nb"c\\')).toBe('a\\nb\\"c\\\\');
  });
});
