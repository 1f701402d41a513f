import { readdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig } from "../../stacks/config";
import { DEV_PASSPHRASE, secretsProblem } from "../../stacks/secrets";
import { tempDir } from "./support/run";

interface InvalidConfigFixture {
  /** The raw `dbstack:*` config as Pulumi gives it to the program. */
  config: Record<string, string>;
  /** Substrings the ConfigError message must contain: key, given value, what is expected. */
  expect: string[];
  /** Substrings it must not contain, e.g. a secret value given. */
  forbid?: string[];
}

const FIXTURES = resolve(__dirname, "../fixtures/invalid-configs");

function configError(raw: Record<string, string>): ConfigError {
  try {
    parseStackConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`parseStackConfig accepted ${JSON.stringify(raw)}`);
}

/** Pulumi.dev.yaml's config, as Pulumi hands it to the program (structured values as JSON text). */
const DEV_CONFIG = {
  "dbstack:sqlite": JSON.stringify({
    app: {
      path: ".dbstack/dev/data/app.db",
      toolsDir: ".dbstack/dev/tools/app",
      pragmas: { journalMode: "wal", synchronous: "normal", busyTimeoutMs: 5000, foreignKeys: true },
      backup: { schedule: "0 2 * * *", dir: ".dbstack/dev/backups", retentionDays: 30 },
      migrations: { dir: "examples/app/migrations" },
      healthChecks: [{ name: "users table", sql: "SELECT count(*) >= 0 FROM users", expect: "1" }],
    },
  }),
};

describe("parseStackConfig: invalid configs", () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".json")).sort();

  it("has a fixture for each kind of mistake", () => {
    expect(files.length).toBeGreaterThanOrEqual(15);
  });

  for (const file of files) {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as InvalidConfigFixture;
    it(`${file} is refused with a message naming the key, the value and what is expected`, () => {
      expect(fixture.expect.length).toBeGreaterThan(0);
      const message = configError(fixture.config).message;
      for (const expected of fixture.expect) expect(message).toContain(expected);
      for (const forbidden of fixture.forbid ?? []) expect(message).not.toContain(forbidden);
    });
  }
});

describe("parseStackConfig: valid configs", () => {
  it("accepts the dev stack's config", () => {
    const config = parseStackConfig(DEV_CONFIG);
    expect(config.allowDataRemoval).toBe(false);
    expect(Object.keys(config.sqlite)).toEqual(["app"]);
    expect(config.sqlite.app).toMatchObject({
      path: ".dbstack/dev/data/app.db",
      backup: { schedule: "0 2 * * *", dir: ".dbstack/dev/backups", retentionDays: 30 },
      migrations: { dir: "examples/app/migrations" },
    });
  });

  it("applies the defaults: daily 02:00 backups kept 30 days, data kept on destroy", () => {
    const config = parseStackConfig({ "dbstack:sqlite": JSON.stringify({ app: { path: "/var/lib/app/app.db", backup: {} } }) });
    expect(config.allowDataRemoval).toBe(false);
    expect(config.sqlite.app.backup).toEqual({ schedule: "0 2 * * *", retentionDays: 30 });
    expect(config.sqlite.app.pragmas).toBeUndefined();
  });

  it("lets an SQLite database and a PostgreSQL deployment share a name: host-level names carry the engine", () => {
    const config = parseStackConfig({
      "dbstack:postgres": JSON.stringify({ app: { databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } }, backup: {} } }),
      "dbstack:sqlite": JSON.stringify({ app: { path: "/var/lib/app/app.db", toolsDir: "/var/lib/app-tools", backup: {} } }),
    });
    expect(Object.keys(config.postgres)).toEqual(["app"]);
    expect(Object.keys(config.sqlite)).toEqual(["app"]);
  });

  it("reads plain string values the way Pulumi gives them", () => {
    const config = parseStackConfig({ "dbstack:allowDataRemoval": "true", "aws:region": "eu-west-1" });
    expect(config).toEqual({ allowDataRemoval: true, hosts: {}, dockerHosts: {}, postgres: {}, mariadb: {}, sqlite: {} });
  });
});

describe("parseStackConfig: several problems", () => {
  it("reports every problem at once", () => {
    const message = configError({
      "dbstack:sqllite": "{}",
      "dbstack:allowDataRemoval": "maybe",
      "dbstack:sqlite": JSON.stringify({ app: { path: "/x.db", owner: "Root", backup: { retentionDays: -3 } } }),
    }).message;
    expect(message).toMatch(/^invalid stack config \(4 problems\):\n/);
    expect(message).toContain("dbstack:sqllite: unknown key");
    expect(message).toContain('dbstack:allowDataRemoval: expected true or false, got "maybe"');
    expect(message).toContain('dbstack:sqlite.app.owner: expected a Unix user name, got "Root"');
    expect(message).toContain("dbstack:sqlite.app.backup.retentionDays: expected a whole number of days from 1 to 3650, got -3");
  });
});

describe("secretsProblem", () => {
  it("refuses the published dev passphrase for prod", () => {
    const problem = secretsProblem("prod", { PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE });
    expect(problem).toContain("the prod stack refuses the published dev passphrase");
    expect(problem).toContain("PULUMI_CONFIG_PASSPHRASE_FILE");
  });

  it("lets prod run with another passphrase", () => {
    expect(secretsProblem("prod", { PULUMI_CONFIG_PASSPHRASE: "a real secret" })).toBeUndefined();
  });

  it("refuses for prod a PULUMI_CONFIG_PASSPHRASE_FILE holding the dev passphrase", () => {
    const file = join(tempDir(), "passphrase");
    writeFileSync(file, `${DEV_PASSPHRASE}\n`);
    const problem = secretsProblem("prod", { PULUMI_CONFIG_PASSPHRASE_FILE: file });
    expect(problem).toContain("the prod stack refuses the published dev passphrase");
  });

  it("lets prod run with a PULUMI_CONFIG_PASSPHRASE_FILE holding another passphrase", () => {
    const file = join(tempDir(), "passphrase");
    writeFileSync(file, "a real secret\n");
    expect(secretsProblem("prod", { PULUMI_CONFIG_PASSPHRASE_FILE: file })).toBeUndefined();
  });

  it("lets dev run with the dev passphrase", () => {
    expect(secretsProblem("dev", { PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE })).toBeUndefined();
  });
});

describe("parseStackConfig: data directories apart (issue 17 row 11)", () => {
  const server = (extra: Record<string, unknown>) => ({ databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } }, ...extra });
  const accepted: [what: string, raw: Record<string, unknown>][] = [
    ["dbstack's own PostgreSQL layout beside the distribution's", { "dbstack:postgres": { p: server({ dataDirectory: "/var/lib/postgresql/15/p" }) } }],
    ["two engines in sibling directories", { "dbstack:postgres": { p: server({ dataDirectory: "/srv/db/pg" }) }, "dbstack:mariadb": { m: server({ dataDirectory: "/srv/db/maria" }) } }],
    ["a directory whose name starts like another's", { "dbstack:mariadb": { a: server({ dataDirectory: "/srv/db" }), b: server({ dataDirectory: "/srv/db2", port: 3307 }) } }],
    ["backups beside the data directory", { "dbstack:mariadb": { m: server({ dataDirectory: "/srv/m/data", backup: { dir: "/srv/m/backups" } }) } }],
    ["the same data directory on two hosts", { "dbstack:hosts": { h: { address: "10.0.0.5", privateKey: "k" } }, "dbstack:mariadb": { a: server({ dataDirectory: "/srv/db" }), b: server({ dataDirectory: "/srv/db", host: "h" }) } }],
  ];
  for (const [what, raw] of accepted) {
    it(`accepts ${what}`, () => {
      expect(() => parseStackConfig(Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, JSON.stringify(v)])))).not.toThrow();
    });
  }
});
