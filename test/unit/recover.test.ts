import { describe, expect, it } from "vitest";
import {
  clearPending,
  describePending,
  type ExportedStack,
  judgeLock,
  lockDirs,
  parseLock,
  type ProcessFacts,
} from "../../scripts/lib/recover";

const taken = "2026-11-22T01:52:22.56492526Z";
const lock = (fields: Record<string, unknown>) => parseLock("/s/.pulumi/locks/organization/dbstack/dev/x.json", JSON.stringify(fields));
const facts = (map: Record<number, ProcessFacts>) => (pid: number) => map[pid] ?? { alive: false };

describe("which stack locks recover removes", () => {
  it("a lock of this host whose process is gone is stale", () => {
    const j = judgeLock(lock({ pid: 4242, username: "root", hostname: "vm", timestamp: taken }), "vm", facts({}));
    expect(j.verdict).toBe("stale");
    expect(j.reason).toBe("pid 4242 on vm is gone");
  });

  it("a lock whose process is alive on this host is live, never removed", () => {
    const j = judgeLock(lock({ pid: 4242, hostname: "vm", timestamp: taken }), "vm", facts({ 4242: { alive: true, startedAt: new Date("2026-11-22T01:52:20Z") } }));
    expect(j.verdict).toBe("live");
    expect(j.reason).toContain("an update is in progress");
  });

  it("a live process without a known start time is taken to be the lock's", () => {
    expect(judgeLock(lock({ pid: 4242, hostname: "vm", timestamp: taken }), "vm", facts({ 4242: { alive: true } })).verdict).toBe("live");
  });

  it("a pid reused by a process started after the lock was taken is stale", () => {
    const later = new Date(Date.parse(taken) + 60_000);
    const j = judgeLock(lock({ pid: 4242, hostname: "vm", timestamp: taken }), "vm", facts({ 4242: { alive: true, startedAt: later } }));
    expect(j.verdict).toBe("stale");
    expect(j.reason).toContain("started after the lock was taken");
  });

  it("a process started within the margin around the lock time still holds it", () => {
    const justAfter = new Date(Date.parse(taken) + 1000);
    expect(judgeLock(lock({ pid: 4242, hostname: "vm", timestamp: taken }), "vm", facts({ 4242: { alive: true, startedAt: justAfter } })).verdict).toBe("live");
  });

  it("a lock taken on another host is left alone, whatever pid it names", () => {
    const j = judgeLock(lock({ pid: 4242, hostname: "ci-runner-7", timestamp: taken }), "vm", facts({}));
    expect(j.verdict).toBe("other-host");
  });

  it("a file that is not a lock with a pid and a hostname is left alone", () => {
    expect(judgeLock(parseLock("/x.json", "{half"), "vm", facts({})).verdict).toBe("unreadable");
    expect(judgeLock(lock({ pid: "12", hostname: "vm" }), "vm", facts({})).verdict).toBe("unreadable");
    expect(judgeLock(lock({ pid: 0, hostname: "vm" }), "vm", facts({})).verdict).toBe("unreadable");
  });

  it("parses the lock the file backend writes", () => {
    expect(lock({ pid: 12717, username: "root", hostname: "vm", timestamp: taken })).toEqual({
      file: "/s/.pulumi/locks/organization/dbstack/dev/x.json",
      pid: 12717,
      username: "root",
      hostname: "vm",
      timestamp: taken,
    });
  });
});

describe("where a file backend keeps a stack's locks", () => {
  it("project-scoped and legacy layouts for a plain stack name", () => {
    expect(lockDirs("/b", "dbstack", "dev")).toEqual(["/b/.pulumi/locks/organization/dbstack/dev", "/b/.pulumi/locks/dev"]);
  });
  it("a qualified name is used as given", () => {
    expect(lockDirs("/b", "dbstack", "organization/other/dev")).toEqual(["/b/.pulumi/locks/organization/other/dev"]);
    expect(lockDirs("/b", "dbstack", "other/dev")).toEqual(["/b/.pulumi/locks/organization/other/dev"]);
  });
});

describe("which pending operations recover clears", () => {
  const urn = "urn:pulumi:dev::dbstack::dbstack:sqlite:Database$pulumi-nodejs:dynamic/dbstack:HostCommand::app-post-deploy";
  const exported: ExportedStack = {
    version: 3,
    deployment: {
      manifest: { time: "t" },
      resources: [{ urn: "urn:pulumi:dev::dbstack::pulumi:pulumi:Stack::dbstack-dev" }],
      pending_operations: [
        { resource: { urn, type: "pulumi-nodejs:dynamic/dbstack:HostCommand" }, type: "creating" },
        { resource: { urn: urn.replace("app-post-deploy", "app-file") }, type: "deleting" },
      ],
    },
  };

  it("all of them, and nothing else of the deployment", () => {
    const { cleared, next } = clearPending(exported);
    expect(cleared.map((op) => op.type)).toEqual(["creating", "deleting"]);
    expect(next.deployment.pending_operations).toBeUndefined();
    expect(next.deployment.resources).toEqual(exported.deployment.resources);
    expect(next.deployment.manifest).toEqual(exported.deployment.manifest);
    expect(next.version).toBe(3);
    // The input is not changed (the report lists what was there).
    expect(exported.deployment.pending_operations).toHaveLength(2);
  });

  it("none when there are none (absent or null)", () => {
    expect(clearPending({ version: 3, deployment: {} }).cleared).toEqual([]);
    expect(clearPending({ version: 3, deployment: { pending_operations: null } }).cleared).toEqual([]);
  });

  it("says what each means for the next up", () => {
    const [create, del] = exported.deployment.pending_operations!;
    expect(describePending(create)).toBe(
      "dbstack:HostCommand 'app-post-deploy' was being created: it is not in the state, so the next up creates it again (dbstack's steps are idempotent: one stopped part-way runs again from the start)",
    );
    expect(describePending(del)).toContain("'app-file' was being deleted: it stays in the state");
    expect(describePending({ resource: { urn }, type: "updating" })).toContain("updates it again");
    expect(describePending({ resource: { urn }, type: "odd" })).toContain("an operation 'odd' was in progress");
  });
});
