import { beforeAll, describe, expect, it } from "vitest";
import { buildComponent, installMocks, output, type Registered } from "./support/mocks";
import type { PostgresClusterArgs } from "../../components/engines/postgres/args";

// The component graph of a PostgreSQL deployment with `pitr` (mocks: no host is touched; the
// last-drill read runs `cat` of a file that does not exist on this machine).
const registered: Registered[] = [];
const CIPHER = "c".repeat(64);
const SECRET_SIG = { key: "4dabf18193072939515e22adb298388d", value: "1b47061264138c4ac30d75fd1eb44270" };
let PostgresCluster: typeof import("../../components/deploy/postgresCluster").PostgresCluster;

beforeAll(async () => {
  await installMocks(registered, (r) =>
    r.type.endsWith(":GeneratedPassword") ? { result: r.name.endsWith("-pitr-cipher") ? CIPHER : "x".repeat(32) } : r.type.endsWith(":HostFacts") ? { memoryMb: 4096, cpus: 2 } : { stdout: r.name.endsWith("-server") ? '{"version":15,"memoryMb":4096,"cpus":2}' : "" },
  );
  ({ PostgresCluster } = await import("../../components/deploy/postgresCluster"));
});

const args = (over: Partial<PostgresClusterArgs> = {}): PostgresClusterArgs => ({
  version: 15,
  port: 6595,
  databases: [{ name: "app", owner: "app" }],
  users: [{ name: "app", grants: { app: "owner" } }],
  hostPrefix: "dbstack-unit",
  toolsDir: "/opt/pitr-unit/tools",
  pitr: { archiveTimeoutS: 30, drill: { onFailure: "logger drill failed" } },
  ...over,
});

describe("a PostgreSQL deployment with pitr", () => {
  it("sets up archiving after the tools, with the cipher secret only in the step's secret environment; schedules backups and the drill", async () => {
    const { component: cluster, children } = await buildComponent("pg", (opts) => new PostgresCluster("pg", args(), opts), registered);
    const setup = children.get("pg-pitr")!;
    expect(setup.inputs.environment).toEqual({ [SECRET_SIG.key]: SECRET_SIG.value, value: { DBSTACK_PITR_CIPHER: CIPHER } });
    for (const k of ["create", "delete"]) expect(String(setup.inputs[k])).not.toContain(CIPHER);
    expect(setup.inputs.create).toContain("archive_timeout = 30s");
    expect(setup.inputs.review).toMatchObject({ component: "postgres cluster pg", dataBearing: true, pitr: { rpoS: 30, drillSchedule: "0 2 * * *" } });
    const schedule = children.get("pg-pitr-schedule")!;
    expect(schedule.inputs.create).toContain("0 1 * * 0 root /opt/pitr-unit/tools/pitr-backup full");
    expect(schedule.inputs.create).toContain("0 1 * * 1-6 root /opt/pitr-unit/tools/pitr-backup diff");
    expect(schedule.inputs.create).toContain("0 2 * * * root /opt/pitr-unit/tools/pitr-drill");
    const files = children.get("pg-tools")!.inputs.files as Record<string, string>;
    expect(Object.keys(files)).toEqual(expect.arrayContaining(["pitr-backup", "pitr-restore", "pitr-drill", "pitr-drill.on-failure"]));
    expect(files["pitr-drill.on-failure"]).toBe("logger drill failed\n");
    expect(files["pitr-drill"]).not.toContain("logger drill failed");
    expect(await output(cluster.lastDrill)).toBeNull();
  });

  it("without pitr: no PITR step, no cipher, no PITR tools, and lastDrill is null", async () => {
    const { component: cluster, children } = await buildComponent("plain", (opts) => new PostgresCluster("plain", args({ pitr: undefined }), opts), registered);
    expect([...children.keys()].filter((n) => n.includes("pitr"))).toEqual([]);
    expect(Object.keys(children.get("plain-tools")!.inputs.files as Record<string, string>).filter((f) => f.startsWith("pitr"))).toEqual([]);
    expect(await output(cluster.lastDrill)).toBeNull();
  });
});
