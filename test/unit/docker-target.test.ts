import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createArguments, networksOf, renderEnsureContainer, renderRemoveVolumes, specDigest, type ContainerSpec } from "../../components/targets/container";
import { runOnTarget } from "../../components/targets/hostCommand";
import { buildComponent, installMocks, type Registered } from "./support/mocks";

const registered: Registered[] = [];
const HOST_COMMAND = "pulumi-nodejs:dynamic/dbstack:HostCommand";
const PASSWORD = "x".repeat(32);
let MariadbServer: typeof import("../../components/deploy/mariadbServer").MariadbServer;

beforeAll(async () => {
  await installMocks(registered, (r) =>
    r.type.endsWith(":GeneratedPassword")
      ? { result: PASSWORD }
      : r.type.endsWith(":HostFacts")
        ? { memoryMb: 65536, cpus: 16 }
        : {
            stdout: r.name.endsWith("-container")
              ? '{"id":"c0ffee","addresses":"10.88.0.7/16 "}'
              : r.name.endsWith("-server")
                ? '{"version":"10.11","memoryMb":65536,"cpus":16,"flavor":"mariadb"}'
                : "",
          },
  );
  ({ MariadbServer } = await import("../../components/deploy/mariadbServer"));
});

const spec: ContainerSpec = {
  name: "dbstack-dev-abc123-postgres-main",
  image: "postgres@sha256:" + "a".repeat(64),
  volumes: [{ name: "dbstack-dev-abc123-postgres-main-data", path: "/var/lib/postgresql" }],
  publish: [{ address: "127.0.0.1", port: 5432 }, { address: "::1", port: 5432 }],
  memoryMb: 2048,
  cpus: 1.5,
  restartPolicy: "unless-stopped",
  healthCommand: "pg_isready -q -h 127.0.0.1 -p 5432",
  labels: { "dbstack.deployment": "postgres cluster main" },
};

describe("container renderers", () => {
  it("publishes the port only on the declared addresses, with the declared limits and the image as given", () => {
    const args = createArguments(spec).join(" ");
    expect(args).toContain("'--publish' '127.0.0.1:5432:5432'");
    expect(args).toContain("'--publish' '[::1]:5432:5432'");
    expect(args).not.toMatch(/--publish '?0\.0\.0\.0/);
    expect(args).toContain("'--memory' '2048m'");
    expect(args).toContain("'--cpus' '1.5'");
    expect(args).toContain(`'${spec.image}'`);
    expect(args).toContain("'--volume' 'dbstack-dev-abc123-postgres-main-data:/var/lib/postgresql'");
    // The entrypoint is dbstack's supervisor, never the image's; no environment at all.
    expect(args).toContain("'--entrypoint' '/bin/bash'");
    expect(args).not.toMatch(/'(-e|--env)'/);
  });

  it("a changed spec has another digest, so the container is re-created (its volumes are not)", () => {
    expect(specDigest({ ...spec, image: "postgres:16" })).not.toBe(specDigest(spec));
    expect(specDigest({ ...spec })).toBe(specDigest(spec));
    const script = renderEnsureContainer(spec);
    expect(script).toContain("docker rm -f");
    expect(script).not.toContain("docker volume rm");
  });

  it("keeps volumes on destroy unless data removal is allowed", () => {
    expect(renderRemoveVolumes(spec.volumes, false)).not.toMatch(/then docker volume rm/);
    expect(renderRemoveVolumes(spec.volumes, false)).toContain("kept the volumes");
    expect(renderRemoveVolumes(spec.volumes, true)).toContain("docker volume rm 'dbstack-dev-abc123-postgres-main-data'");
  });

  it("turns the container's addresses into its networks", () => {
    expect(networksOf(["10.88.0.7/16", "172.18.3.4/24", "garbage"])).toEqual(["10.88.0.0/16", "172.18.3.0/24"]);
  });
});

describe("a step on a Docker target", () => {
  const dir = mkdtempSync(join(tmpdir(), "dbstack-docker-unit-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs in the container through docker exec, with the environment on stdin: no secret in its arguments", async () => {
    // A stand-in docker CLI that records its arguments, DOCKER_HOST and stdin, then runs stdin.
    const fake = join(dir, "docker");
    writeFileSync(fake, `#!/bin/bash\nprintf '%s\\n' "$@" > ${dir}/argv\necho "$DOCKER_HOST" > ${dir}/host\ntee ${dir}/stdin | bash -s\n`);
    chmodSync(fake, 0o755);
    const previous = process.env.PATH;
    process.env.PATH = `${dir}:${previous}`;
    try {
      const out = await runOnTarget(
        {
          target: { kind: "docker", endpoint: "unix:///run/test.sock", container: "c1" },
          description: "unit step",
          create: "",
          environment: { DBSTACK_PASSWORD_APP: "s3cret-value" },
          stdout: "",
        },
        'echo "got ${#DBSTACK_PASSWORD_APP} chars"',
      );
      expect(out).toBe("got 12 chars");
      const argv = readFileSync(join(dir, "argv"), "utf8").trim().split("\n");
      expect(argv).toEqual(["exec", "-i", "-u", "0", "c1", "bash", "-s"]);
      expect(readFileSync(join(dir, "host"), "utf8").trim()).toBe("unix:///run/test.sock");
      expect(readFileSync(join(dir, "stdin"), "utf8")).toContain("s3cret-value");
    } finally {
      process.env.PATH = previous;
    }
  });
});

describe("MariadbServer on a Docker target", () => {
  it("adds the volumes, the container and its start scripts; engine steps run inside it, cron on the Docker host", async () => {
    const name = "shop";
    const { children } = await buildComponent(
      name,
      (opts) =>
        new MariadbServer(
          name,
          {
            target: { kind: "docker", endpoint: "unix:///run/docker.sock" },
            container: { memoryMb: 1024, cpus: 2 },
            databases: [{ name: "shop", owner: "shop" }],
            users: [{ name: "shop", grants: { shop: "owner" }, hosts: ["localhost", "%"] }],
            backup: {},
            hostPrefix: "dbstack-unit",
          },
          opts,
        ),
      registered,
    );
    const byName = children;
    for (const step of ["shop-volumes", "shop-container", "shop-boot"]) expect(byName.has(step), step).toBe(true);
    const container = byName.get("shop-container")!.inputs;
    expect(container.target).toEqual({ kind: "docker", endpoint: "unix:///run/docker.sock" });
    expect(container.create).toContain("'--memory' '1024m'");
    expect(container.create).toContain("'docker.io/library/mariadb:10.11'");
    expect(byName.get("shop-volumes")!.inputs.review).toMatchObject({ dataBearing: true, dataRemovalAllowed: false });
    for (const step of ["shop-server", "shop-instance", "shop-config", "shop-role-shop", "shop-db-shop", "shop-tools", "shop-post-deploy-shop"]) {
      const inputs = byName.get(step)!.inputs;
      expect(inputs.target, step).toEqual({ kind: "docker", endpoint: "unix:///run/docker.sock", container: "dbstack-unit-mariadb-shop" });
      expect(inputs.placement, step).toBe("c0ffee");
    }
    const cron = byName.get("shop-backup-schedule")!.inputs;
    expect(cron.target.container).toBeUndefined();
    expect(cron.create).toContain("docker exec -u 0 'dbstack-unit-mariadb-shop' '/usr/local/lib/dbstack-unit/mariadb-shop/backup'");
    // Tuned for the container's limit (1 GiB), not the Docker host's 64 GiB.
    expect(byName.get("shop-config")!.inputs.create).not.toMatch(/innodb_buffer_pool_size\s*=\s*[1-9]\d*G/);
    expect([...children.values()].filter((c) => c.type === HOST_COMMAND).length).toBeGreaterThan(10);
  });

  it("refuses a container spec on a target that is not a Docker host, naming the field", async () => {
    expect(() =>
      new MariadbServer("bad", { target: { kind: "local" }, container: { memoryMb: 512 }, databases: [{ name: "d", owner: "u" }], users: [{ name: "u", grants: { d: "owner" } }] }),
    ).toThrow(/^container: a container is declared but the target is local/);
  });
});
