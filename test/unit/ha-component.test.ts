import { beforeAll, describe, expect, it } from "vitest";
import { buildComponent, installMocks, output, type Registered } from "./support/mocks";
import type { PostgresClusterArgs } from "../../components/engines/postgres/args";

// A PostgreSQL deployment with `ha` in its resource graph (mocked engine): etcd and Patroni member
// steps on their own hosts, parented to the component, with every password a secret of a step's
// environment; no dbstack configuration or standby clone; multi-host URLs.
const registered: Registered[] = [];
const GENERATED = "g".repeat(32);
const SERVER_FACTS = '{"version":15,"memoryMb":4096,"cpus":2}';
const HOST_COMMAND = "pulumi-nodejs:dynamic/dbstack:HostCommand";
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nunit-test-key\n-----END OPENSSH PRIVATE KEY-----";
/** Pulumi's signature for a secret value in resource inputs. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

let PostgresCluster: typeof import("../../components/deploy/postgresCluster").PostgresCluster;

beforeAll(async () => {
  await installMocks(registered, (r) => (r.type.endsWith(":GeneratedPassword") ? { result: GENERATED } : r.type.endsWith(":HostFacts") ? { memoryMb: 4096, cpus: 2 } : { stdout: r.name.endsWith("-server") ? SERVER_FACTS : "" }));
  ({ PostgresCluster } = await import("../../components/deploy/postgresCluster"));
});

const host = (h: string) => ({ kind: "ssh" as const, host: h, privateKey: PRIVATE_KEY });

function args(overrides: Partial<PostgresClusterArgs> = {}): PostgresClusterArgs {
  return {
    target: host("10.0.0.5"),
    version: 15,
    allowedCidrs: ["10.0.0.0/24"],
    databases: [{ name: "app", owner: "app" }],
    users: [{ name: "app", grants: { app: "owner" } }],
    standbys: [
      { name: "b", target: host("10.0.0.6"), address: "10.0.0.6" },
      { name: "c", target: host("10.0.0.7"), address: "10.0.0.7" },
    ],
    ha: { etcd: { kind: "deploy" } },
    ...overrides,
  };
}

describe("ha in the resource graph", () => {
  it("etcd and Patroni on every member's host, in place of dbstack's configuration and standby clones", async () => {
    const { component, children } = await buildComponent("hac", (opts) => new PostgresCluster("hac", args(), opts), registered);
    for (const [step, h] of [["hac-patroni", "10.0.0.5"], ["hac-b-patroni", "10.0.0.6"], ["hac-c-patroni", "10.0.0.7"], ["hac-etcd-primary", "10.0.0.5"], ["hac-etcd-b", "10.0.0.6"], ["hac-etcd-c", "10.0.0.7"]] as const) {
      const r = children.get(step);
      expect(r, step).toBeDefined();
      expect(r!.type).toBe(HOST_COMMAND);
      expect(r!.inputs.target).toMatchObject({ kind: "ssh", host: h });
      expect(JSON.stringify(r!.inputs.target)).not.toContain("unit-test-key");
    }
    // Patroni configures and clones: no plain configuration, replication role or basebackup step.
    for (const plain of ["hac-config", "hac-replication", "hac-b-config", "hac-b-tls-key"]) expect(children.has(plain), plain).toBe(false);
    // The standby's instance keeps its name and identity, so a deployment turning HA on does not delete it.
    expect(children.get("hac-b")!.inputs.identity).toBe("hac@standby");
    expect(String(children.get("hac-b")!.inputs.delete)).not.toMatch(/pg_dropcluster|pg_ctlcluster/);

    const member = children.get("hac-patroni")!;
    const env = member.inputs.environment as Record<string, unknown>;
    expect(Object.keys(env)).toContain(SECRET_SIG);
    expect(Object.keys(env.value as Record<string, unknown>).sort()).toEqual(["DBSTACK_ETCD_PATRONI_PASSWORD", "DBSTACK_HA_RESTAPI_PASSWORD", "DBSTACK_HA_REWIND_PASSWORD", "DBSTACK_HA_SUPERUSER_PASSWORD", "DBSTACK_REPLICATION_PASSWORD"]);
    for (const r of children.values()) for (const script of [r.inputs.create, r.inputs.delete, r.inputs.probe]) expect(String(script ?? "")).not.toContain(GENERATED);
    // The etcd authentication step gets etcd's passwords only.
    const auth = children.get("hac-etcd-auth")!.inputs.environment as Record<string, unknown>;
    expect(Object.keys(auth.value as Record<string, unknown>).sort()).toEqual(["DBSTACK_ETCD_PATRONI_PASSWORD", "DBSTACK_ETCD_ROOT_PASSWORD"]);

    const urls = (await output(component.urls)) as Record<string, Record<string, Record<string, string>>>;
    expect(urls.app.app.postgresql).toBe(`postgresql://app:${GENERATED}@10.0.0.5:5432,10.0.0.6:5432,10.0.0.7:5432/app?sslmode=require&target_session_attrs=read-write`);
    expect(urls.app.app.readPostgresql).toContain("target_session_attrs=prefer-standby");
    expect(await output(component.standbyTools)).toEqual({ b: expect.stringMatching(/-b$/), c: expect.stringMatching(/-c$/) });
  });

  it("later steps reach the leader wherever it is: the users' and grants' psql_su asks Patroni", async () => {
    const { children } = await buildComponent("hal", (opts) => new PostgresCluster("hal", args(), opts), registered);
    for (const step of ["hal-role-app", "hal-db-app", "hal-grants-app", "hal-ha-roles"]) expect(String(children.get(step)!.inputs.create), step).toContain("ha_leader()");
  });

  it("hostile etcd input is refused before any step, naming the field", () => {
    const bad = (ha: PostgresClusterArgs["ha"]) => () => new PostgresCluster("hab", args({ ha }));
    expect(bad({ etcd: { kind: "deploy", members: [1, 2, 3].map((i) => ({ name: `e${i}`, target: host(`10.0.0.${i}`), address: i === 2 ? "10.0.0.2; id" : `10.0.0.${i}` })) } })).toThrow(/^ha\.etcd\.members\.e2\.address: expected a host name or an IP address/);
    expect(bad({ etcd: { kind: "existing", endpoints: ["https://e:2379"], username: "patroni", password: "s3cret" }, scope: "x$(id)" })).toThrow(/^ha\.scope:/);
    expect(bad({ etcd: { kind: "deploy" } , ttlSeconds: 10 })).toThrow(/^ha\.ttlSeconds/);
  });
});
