import { describe, expect, it } from "vitest";
import { diffHostCommand, runOnTarget } from "../../components/targets/hostCommand";

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

describe("runOnTarget redacts the secrets a step knows of", () => {
  const SECRET = "Zq81mKd03LxPa7vRwT5yNc2eHs9uBf4G";
  const URL = `postgresql://app:${SECRET}@127.0.0.1:5432/app?sslmode=require`;
  const state = (description: string) => ({
    target: { kind: "local" as const },
    description,
    create: "",
    environment: { DBSTACK_PASSWORD_APP: SECRET, DATABASE_URL: URL },
    stdout: "",
  });

  /** Runs a script, capturing what the step streams to the engine's log. */
  async function run(script: string, description = "test step"): Promise<{ result?: string; error?: string; streamed: string }> {
    let streamed = "";
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      streamed += chunk.toString();
      return true;
    }) as typeof process.stderr.write;
    try {
      return { result: await runOnTarget(state(description), script), streamed };
    } catch (err) {
      return { error: (err as Error).message, streamed };
    } finally {
      process.stderr.write = write;
    }
  }

  it("from stdout, and from stderr as streamed, even a secret split across writes", async () => {
    const r = await run(
      [
        'echo "password: $DBSTACK_PASSWORD_APP"',
        'echo "url: $DATABASE_URL"',
        // The secret in two writes to stderr, with a pause between them.
        'printf "half %s" "${DBSTACK_PASSWORD_APP:0:16}" >&2; sleep 0.2; printf "%s done\\n" "${DBSTACK_PASSWORD_APP:16}" >&2',
      ].join("\n"),
    );
    expect(r.result).toBe("password: [secret]\nurl: [secret]");
    expect(r.streamed).toBe("half [secret] done\n");
    expect(r.streamed).not.toContain(SECRET.slice(0, 16));
  });

  it("from the error of a failing step", async () => {
    const r = await run(`echo "psql: password ${"$"}DBSTACK_PASSWORD_APP rejected for $DATABASE_URL" >&2; exit 3`, "role app");
    expect(r.error).toBe("role app failed (exit 3):\npsql: password [secret] rejected for [secret]");
    expect(r.streamed).not.toContain(SECRET);
  });
});
