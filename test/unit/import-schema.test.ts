/**
 * importFrom.schema (issue 19, "migrations first"): who makes the tables decides the order of a
 * database's import step and its post-deploy hook. Checked in the component graph (mocked), in
 * the stack config, and in the component's own rules (named, at preview).
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { installMocks, output, type Registered } from "./support/mocks";
import type { PostgresClusterArgs } from "../../components/engines/postgres/args";
import type { ImportFromArgs } from "../../components/model/args";
import { checksumOf } from "../../components/hooks/migrations";
import { importSchemaProblem, importsAfterMigrations } from "../../components/deploy/importSchema";
import { ConfigError, parseStackConfig } from "../../stacks/config";

const registered: Registered[] = [];
let PostgresCluster: typeof import("../../components/deploy/postgresCluster").PostgresCluster;

beforeAll(async () => {
  await installMocks(registered, (r) => (r.type.endsWith(":GeneratedPassword") ? { result: "x".repeat(32) } : r.type.endsWith(":HostFacts") ? { memoryMb: 4096, cpus: 2 } : { stdout: r.name.endsWith("-server") ? '{"version":15,"memoryMb":4096,"cpus":2}' : "" }));
  ({ PostgresCluster } = await import("../../components/deploy/postgresCluster"));
});

const SQL = "CREATE TABLE items (id bigserial PRIMARY KEY);\n";
const MIGRATIONS = { kind: "sql" as const, migrations: [{ id: "0001_items", sql: SQL, checksum: checksumOf(SQL) }] };
const IMPORT: ImportFromArgs = { source: "sqlite `app`", url: "sqlite:///tmp/app.db" };

function args(db: Partial<PostgresClusterArgs["databases"][number]>): PostgresClusterArgs {
  return {
    target: { kind: "ssh", host: "10.0.0.5", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----" },
    version: 15,
    databases: [{ name: "app", owner: "app", ...db }],
    users: [{ name: "app", grants: { app: "owner" } }],
    hostPrefix: "dbstack-unit",
  };
}

/** Builds a cluster; returns, per child name, the names of the children it was declared to depend on. */
async function dependencies(name: string, a: PostgresClusterArgs): Promise<Map<string, string[]>> {
  const seen: { resource: pulumi.Resource; name: string; dependsOn: pulumi.ResourceOptions["dependsOn"] }[] = [];
  const collect: pulumi.ResourceTransformation = (t) => {
    seen.push({ resource: t.resource, name: t.name, dependsOn: t.opts.dependsOn });
    return undefined;
  };
  const component = new PostgresCluster(name, a, { transformations: [collect] });
  await Promise.all(seen.filter((s) => s.resource !== component).map((s) => output(s.resource.urn)));
  const names = new Map(seen.map((s) => [s.resource, s.name]));
  const deps = new Map<string, string[]>();
  for (const s of seen) {
    const list = await Promise.resolve(s.dependsOn);
    const resolved = await Promise.all((Array.isArray(list) ? list : list ? [list] : []).map((r) => Promise.resolve(r)));
    deps.set(s.name, resolved.map((r) => names.get(r as pulumi.Resource) ?? "?"));
  }
  return deps;
}

describe("importFrom.schema in the component graph", () => {
  it("by default copies first, creating the tables, and the hook (migrations) waits for the copy", async () => {
    const deps = await dependencies("dflt", args({ migrations: MIGRATIONS, importFrom: IMPORT }));
    expect(deps.get("dflt-post-deploy-app")).toContain("dflt-db-app-import");
    expect(deps.get("dflt-db-app-import")).not.toContain("dflt-post-deploy-app");
  });

  it('with "migrations", the hook makes the tables first and the copy waits for it', async () => {
    const deps = await dependencies("mig", args({ migrations: MIGRATIONS, importFrom: { ...IMPORT, schema: "migrations" } }));
    expect(deps.get("mig-db-app-import")).toContain("mig-post-deploy-app");
    expect(deps.get("mig-db-app-import")).toContain("mig-grants-app");
    expect(deps.get("mig-post-deploy-app")).not.toContain("mig-db-app-import");
    // Exactly one import step either way.
    expect([...deps.keys()].filter((n) => n.endsWith("-import"))).toEqual(["mig-db-app-import"]);
  });

  it('refuses "migrations" without migrations, and an unknown value, naming the field, before anything registers', () => {
    expect(() => new PostgresCluster("nomig", args({ importFrom: { ...IMPORT, schema: "migrations" } }))).toThrow(
      'databases.app.importFrom.schema: "migrations" copies into the tables the database\'s migrations make, but databases.app declares no migrations',
    );
    expect(() => new PostgresCluster("bad", args({ migrations: MIGRATIONS, importFrom: { ...IMPORT, schema: "tables; rm -rf /" as never } }))).toThrow(
      'databases.app.importFrom.schema: expected "copy" or "migrations", got "tables; rm -rf /"',
    );
    expect(registered.filter((r) => r.name.startsWith("nomig-") || r.name.startsWith("bad-"))).toEqual([]);
  });

  it("says which databases copy after their migrations", () => {
    expect(importsAfterMigrations({})).toBe(false);
    expect(importsAfterMigrations({ importFrom: IMPORT })).toBe(false);
    expect(importsAfterMigrations({ importFrom: { ...IMPORT, schema: "copy" } })).toBe(false);
    expect(importsAfterMigrations({ importFrom: { ...IMPORT, schema: "migrations" } })).toBe(true);
    expect(importSchemaProblem({ name: "app", importFrom: { ...IMPORT, schema: "copy" } })).toBeUndefined();
  });
});

describe("importFrom.schema in the stack config", () => {
  const raw = (importFrom: unknown, migrations?: unknown) => ({
    "dbstack:sqlite": JSON.stringify({ app: { path: "/var/lib/app/app.db" } }),
    "dbstack:postgres": JSON.stringify({ main: { databases: { app: { owner: "app", importFrom, ...(migrations ? { migrations } : {}) } }, users: { app: { grants: { app: "owner" } } } } }),
  });

  it("keeps the declared schema", () => {
    const config = parseStackConfig(raw({ from: "sqlite:app", schema: "migrations" }, { command: "alembic upgrade head", url: "sqlalchemy" }));
    expect(config.postgres.main.databases.app.importFrom).toEqual({ from: "sqlite:app", allow: [], schema: "migrations" });
  });

  it("refuses an unknown schema naming the key", () => {
    let message = "";
    try {
      parseStackConfig(raw({ from: "sqlite:app", schema: "tables" }));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain("dbstack:postgres.main.databases.app.importFrom");
    expect(message).toContain("schema?: copy | migrations");
  });
});
