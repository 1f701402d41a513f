import { describe, expect, it } from "vitest";
import { diffHostCommand } from "../../components/targets/hostCommand";

const OLD = {
  target: { kind: "ssh", host: "10.0.0.5", port: 22, user: "root" },
  identity: "main:default",
  description: "PostgreSQL cluster main on root@10.0.0.5",
  create: "echo create",
  delete: "echo delete",
  environment: { DBSTACK_PASSWORD_APP: "secret-password" },
  privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nold\n-----END OPENSSH PRIVATE KEY-----",
  hostKeys: "ssh-ed25519 AAAAold",
  triggers: ["a"],
  review: { component: "postgres cluster main" },
};

describe("HostCommand's diff", () => {
  it("reports no change when nothing changed (absent and undefined are the same)", () => {
    expect(diffHostCommand(OLD, { ...OLD, update: undefined })).toMatchObject({ changes: false, replaces: [], rerun: false });
  });

  it.each([
    ["the address's form", { target: { ...OLD.target, host: "db1.example.com" } }],
    ["the port", { target: { ...OLD.target, port: 2222 } }],
    ["the user", { target: { ...OLD.target, user: "deploy" } }],
    ["sudo", { target: { ...OLD.target, sudo: true } }],
    ["an added hostKey", { target: { ...OLD.target, hostKey: "ssh-ed25519 AAAAnew" } }],
    ["the config key", { target: { ...OLD.target, configKey: "dbstack:hosts.db1" } }],
    ["the private key", { privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnew\n-----END OPENSSH PRIVATE KEY-----" }],
    ["the recorded host keys", { hostKeys: "ssh-ed25519 AAAAnew" }],
    ["the delete script", { delete: "echo delete v2" }],
    ["the review facts", { review: { component: "x", dataBearing: true } }],
  ])("stores a change of %s: no replacement, nothing re-run", (_what, change) => {
    const d = diffHostCommand(OLD, { ...OLD, ...change });
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual([]);
    expect(d.rerun).toBe(false);
  });

  it.each([
    ["the create script", { create: "echo create v2" }],
    ["the update script", { update: "echo update" }],
    ["the environment", { environment: { DBSTACK_PASSWORD_APP: "rotated-password" } }],
    ["a trigger", { triggers: ["b"] }],
  ])("re-runs on a change of %s, without replacing", (_what, change) => {
    const d = diffHostCommand(OLD, { ...OLD, ...change });
    expect(d).toMatchObject({ changes: true, replaces: [], rerun: true });
  });

  it("replaces only when the identity changes, deleting first", () => {
    const d = diffHostCommand(OLD, { ...OLD, identity: "main:/srv/pg", target: { ...OLD.target, port: 2222 } });
    expect(d.replaces).toEqual(["identity"]);
    expect(d.deleteBeforeReplace).toBe(true);
  });
});
