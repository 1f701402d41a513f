import { describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig } from "../../stacks/config";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----";

function hosts(h: Record<string, Record<string, unknown>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(h).map(([n, v]) => [n, { address: "10.0.0.5", privateKey: PRIVATE_KEY, ...v }])));
}

function problem(raw: Record<string, string>, stack?: string): string {
  try {
    parseStackConfig(raw, "dbstack", { stack });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("accepted");
}

describe("dbstack:requireHostKeys", () => {
  it("prod requires a declared hostKey for every SSH host, naming the key and how to find it", () => {
    const message = problem({ "dbstack:hosts": hosts({ db1: {}, db2: { hostKey: KEY } }) }, "prod");
    expect(message).toContain("dbstack:hosts.db1.hostKey: missing; the prod stack requires declared host keys");
    expect(message).toContain("ssh-keyscan -p 22 10.0.0.5");
    expect(message).not.toContain("db2");
    expect(message).not.toContain(PRIVATE_KEY);
  });

  it("other stacks trust on first use unless they ask for declared keys", () => {
    expect(parseStackConfig({ "dbstack:hosts": hosts({ db1: {} }) }, "dbstack", { stack: "dev" }).hosts.db1.hostKey).toBeUndefined();
    const message = problem({ "dbstack:hosts": hosts({ db1: {} }), "dbstack:requireHostKeys": "true" }, "dev");
    expect(message).toContain("dbstack:hosts.db1.hostKey: missing; dbstack:requireHostKeys is true");
  });

  it("prod may opt out explicitly; declared keys satisfy it", () => {
    expect(() => parseStackConfig({ "dbstack:hosts": hosts({ db1: {} }), "dbstack:requireHostKeys": "false" }, "dbstack", { stack: "prod" })).not.toThrow();
    expect(() => parseStackConfig({ "dbstack:hosts": hosts({ db1: { hostKey: `10.0.0.5 ${KEY}` } }) }, "dbstack", { stack: "prod" })).not.toThrow();
  });

  it("is a boolean", () => {
    expect(problem({ "dbstack:requireHostKeys": '"yes"' })).toContain("dbstack:requireHostKeys: expected true or false");
  });
});

describe("dbstack:hosts.<name>.hostKey", () => {
  it("must be a public key (or known_hosts line), not a fingerprint", () => {
    const message = problem({ "dbstack:hosts": hosts({ db1: { hostKey: "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8" } }) });
    expect(message).toContain("dbstack:hosts.db1.hostKey: expected the host's public SSH key");
    expect(message).toContain("a line is not a public key");
  });
});
