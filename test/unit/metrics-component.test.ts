import { beforeAll, describe, expect, it } from "vitest";
import { buildComponent, installMocks, output, type Registered } from "./support/mocks";
import type { PostgresClusterArgs } from "../../components/engines/postgres/args";

// Declared metrics in a PostgreSQL cluster's resource graph (mocked engine): one exporter step per
// member on that member's host, with the passwords as secrets of
// the step's environment; the scrape targets as outputs; nothing without `metrics`.
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

function args(overrides: Partial<PostgresClusterArgs> = {}): PostgresClusterArgs {
  return {
    target: { kind: "ssh", host: "10.0.0.5", privateKey: PRIVATE_KEY },
    version: 15,
    databases: [{ name: "app", owner: "app" }],
    users: [{ name: "app", grants: { app: "owner" } }],
    standbys: [{ name: "replica1", target: { kind: "ssh", host: "10.0.0.6", privateKey: PRIVATE_KEY }, address: "10.0.0.6" }],
    metrics: { exporter: { address: "0.0.0.0", port: 9287 } },
    ...overrides,
  };
}

describe("declared metrics in the resource graph", () => {
  it("an exporter step per member, on its host; passwords only as secrets of the environment", async () => {
    const { component, children } = await buildComponent("mxc", (opts) => new PostgresCluster("mxc", args(), opts), registered);
    const primary = children.get("mxc-exporter")!;
    const standby = children.get("mxc-replica1-exporter")!;
    expect(primary.type).toBe(HOST_COMMAND);
    expect(standby.type).toBe(HOST_COMMAND);
    expect(primary.inputs.target).toMatchObject({ kind: "ssh", host: "10.0.0.5" });
    expect(standby.inputs.target).toMatchObject({ kind: "ssh", host: "10.0.0.6" });
    expect(JSON.stringify(primary.inputs.target)).not.toContain("unit-test-key");
    expect(primary.inputs.create).toContain("--web.listen-address=0.0.0.0:9287");
    expect(primary.inputs.delete).toContain("stop_exporter");
    expect(primary.inputs.probe).toContain("own_pids");
    for (const step of [primary, standby]) {
      // The environment reaches the provider as a secret (Pulumi's signature around its value).
      const env = step.inputs.environment as Record<string, unknown>;
      expect(Object.keys(env)).toContain(SECRET_SIG);
      expect(Object.keys(env.value as Record<string, unknown>).sort()).toEqual(["DBSTACK_EXPORTER_PASSWORD", "DBSTACK_MONITOR_PASSWORD"]);
      for (const script of [step.inputs.create, step.inputs.delete, step.inputs.probe]) expect(String(script)).not.toContain(GENERATED);
    }
    expect(children.get("mxc-exporter-password")!.type).toBe("pulumi-nodejs:dynamic/dbstack:GeneratedPassword");

    const targets = await output(component.metrics);
    expect(targets).toMatchObject({
      job: "postgres-mxc",
      exporter: "postgres_exporter",
      username: "prometheus",
      targets: [
        { member: "primary", target: "10.0.0.5:9287" },
        { member: "replica1", target: "10.0.0.6:9287" },
      ],
    });
    expect(targets!.scrapeConfig).toContain('password_file: "/etc/prometheus/postgres-mxc.password"');
    expect(JSON.stringify(targets)).not.toContain(GENERATED);
    expect(await output(component.metricsPassword)).toBe(GENERATED);
    await expect(pulumiIsSecret(component.metricsPassword)).resolves.toBe(true);
  });

  it("nothing without metrics: no exporter step, null outputs", async () => {
    const { component, children } = await buildComponent("mxn", (opts) => new PostgresCluster("mxn", args({ metrics: undefined }), opts), registered);
    expect([...children.keys()].filter((n) => n.includes("exporter"))).toEqual([]);
    expect(await output(component.metrics)).toBeNull();
    expect(await output(component.metricsPassword)).toBeNull();
  });

  it("a standby named like the exporter step is refused", () => {
    expect(() => new PostgresCluster("mxr", args({ standbys: [{ name: "exporter", target: { kind: "local" }, address: "127.0.0.1", port: 5440 }] }))).toThrow(/^standbys\.exporter: "exporter" is the name of one of dbstack's own steps/);
  });
});

async function pulumiIsSecret(o: import("@pulumi/pulumi").Output<unknown>): Promise<boolean> {
  const { isSecret } = await import("@pulumi/pulumi/output");
  return isSecret(o);
}
