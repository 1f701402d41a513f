import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { sshKeyProvider } from "../../components/secrets/generatedSshKey";

// The pgBackRest hosts' key pairs: OpenSSH must read the generated private key and derive the same public key.
const dir = mkdtempSync(join(tmpdir(), "pr-sshkey-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("GeneratedSshKey", () => {
  it("writes an Ed25519 private key ssh-keygen reads, whose public key is the one it reports", async () => {
    const { outs } = await sshKeyProvider.create!({ comment: "dbstack-pitr-main", rotation: 0 });
    expect(outs.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n[\s\S]+\n-----END OPENSSH PRIVATE KEY-----\n$/);
    expect(outs.publicKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ dbstack-pitr-main$/);
    const file = join(dir, "id");
    writeFileSync(file, outs.privateKey, { mode: 0o600 });
    const derived = spawnSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" });
    expect(derived.status, `ssh-keygen (Debian package openssh-client): ${derived.stderr}`).toBe(0);
    expect(derived.stdout.trim().split(" ").slice(0, 2)).toEqual(outs.publicKey.split(" ").slice(0, 2));
  });

  it("generates a different key each time and replaces it only when the rotation changes", async () => {
    const a = await sshKeyProvider.create!({ comment: "x", rotation: 0 });
    const b = await sshKeyProvider.create!({ comment: "x", rotation: 0 });
    expect(a.outs.privateKey).not.toBe(b.outs.privateKey);
    expect((await sshKeyProvider.diff!("id", a.outs, { comment: "x", rotation: 0 })).changes).toBe(false);
    expect((await sshKeyProvider.diff!("id", a.outs, { comment: "x", rotation: 1 })).replaces).toEqual(["rotation"]);
  });
});
