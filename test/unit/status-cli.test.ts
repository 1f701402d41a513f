import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../scripts/status";
import type { StackView } from "../../scripts/lib/deploymentRefs";
import { machineKeys, planProbes } from "../../scripts/lib/status/collect";
import { DEFAULT_BOUNDS } from "../../scripts/lib/status/report";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n";

function view(): StackView {
  return {
    stack: "prod",
    outputs: {
      postgres: {
        main: {
          host: "10.0.0.5",
          port: 5432,
          urls: {},
          monitoring: {
            engine: "postgres",
            user: "dbstack_monitor",
            password: "pw-secret-123",
            databases: ["app"],
            backup: { dir: "/var/backups/x", prefix: "main", maxAgeHours: 36 },
            members: [
              { name: "primary", declaredRole: "primary", target: { kind: "ssh", host: "10.0.0.5", configKey: "dbstack:hosts.db1" }, port: 5432 },
              { name: "replica1", declaredRole: "standby", target: { kind: "docker", container: "c1", on: { kind: "ssh", host: "10.0.0.6", hostKey: "ssh-ed25519 AAAAdeclared", configKey: "dbstack:hosts.db2" } }, port: 5433 },
            ],
          },
        },
      },
      sqlite: { app: { path: "/srv/app.db", monitoring: JSON.stringify({ engine: "sqlite", path: "/srv/app.db", target: { kind: "local" } }) } },
    } as unknown as StackView["outputs"],
    config: {
      hosts: {
        db1: { address: "10.0.0.5", port: 22, user: "root", privateKey: KEY },
        db2: { address: "10.0.0.6", port: 22, user: "root", privateKey: "other-key", hostKey: "ssh-ed25519 AAAAdeclared" },
      },
      postgres: {},
      mariadb: {},
      sqlite: {},
    } as unknown as StackView["config"],
    recordedHostKeys: { db1: "ssh-ed25519 AAAArecorded" },
  };
}

afterEach(() => vi.restoreAllMocks());

describe("which probes status runs, and with which keys", () => {
  it("one probe per member and per SQLite file; backups looked at on the primary's host only; the password never in a script", () => {
    const plans = planProbes(view(), { quickCheck: false, bounds: DEFAULT_BOUNDS });
    expect(plans.map((p) => [p.engine, p.deployment, p.member, p.target.kind, p.maxAgeHours])).toEqual([
      ["postgres", "main", "primary", "ssh", 36],
      ["postgres", "main", "replica1", "docker", undefined],
      ["sqlite", "app", "file", "local", undefined],
    ]);
    expect(plans[0].script).toContain("backup_dir='/var/backups/x'");
    expect(plans[1].script).not.toContain("backup_dir");
    expect(plans[1].script).toContain("-p 5433");
    for (const p of plans) expect(p.script).not.toContain("pw-secret-123");
    expect(plans[0].password).toBe("pw-secret-123");
  });

  it("an SSH host's key from the stack's config, pinned to the declared host key or else the one the state recorded; a Docker host's machine the same", () => {
    const v = view();
    const [primary, replica] = planProbes(v, { quickCheck: false, bounds: DEFAULT_BOUNDS });
    expect(machineKeys(primary.target, v)).toEqual({ privateKey: KEY, hostKeys: "ssh-ed25519 AAAArecorded" });
    expect(machineKeys(replica.target, v)).toEqual({ privateKey: "other-key", hostKeys: "ssh-ed25519 AAAAdeclared" });
    expect(machineKeys({ kind: "local" }, v)).toEqual({});
  });

  it("--deployment picks one deployment; an unknown one is an error naming it", () => {
    expect(planProbes(view(), { deployment: "app", quickCheck: true, bounds: DEFAULT_BOUNDS }).map((p) => p.member)).toEqual(["file"]);
    expect(planProbes(view(), { deployment: "app", quickCheck: true, bounds: DEFAULT_BOUNDS })[0].script).toContain("PRAGMA quick_check");
    expect(() => planProbes(view(), { deployment: "nope", quickCheck: false, bounds: DEFAULT_BOUNDS })).toThrow("--deployment nope: the stack prod has no deployment of that name");
  });

  it("a deployment made before monitoring existed is an error saying to run up", () => {
    const v = view();
    delete (v.outputs.postgres!.main as { monitoring?: unknown }).monitoring;
    expect(() => planProbes(v, { quickCheck: false, bounds: DEFAULT_BOUNDS })).toThrow(/postgres main: the stack has no monitoring output for it; run `pulumi up`/);
  });
});

describe("the command line", () => {
  const run = async (argv: string[]) => {
    let err = "";
    vi.spyOn(process.stderr, "write").mockImplementation((s) => ((err += String(s)), true));
    const readView = vi.fn(view);
    const code = await main(argv, { readView });
    return { code, err, read: readView.mock.calls.length };
  };

  it.each([
    [[], "--stack <name> is required"],
    [["--stack", "prod", "--max-lag-seconds", "abc"], "--max-lag-seconds: expected a whole number of seconds"],
    [["--stack", "prod", "--long-transaction-seconds=-1"], "--long-transaction-seconds: expected a whole number of seconds"],
    [["--stack", "prod", "--textfile", "relative.prom"], "--textfile: expected an absolute path ending in .prom"],
    [["--stack", "prod", "--textfile", "/etc/passwd"], "--textfile: expected an absolute path ending in .prom"],
    [["--stack", "prod", "--bogus"], 'unknown argument "--bogus"'],
  ])("refuses %j with exit 2 before reading the stack", async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.read).toBe(0);
  });
});
