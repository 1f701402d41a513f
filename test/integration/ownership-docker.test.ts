/**
 * Mine or not mine on a Docker host (issue 17 deliverables 3 and 6), against a real container
 * engine (Podman's Docker-compatible API, support/containers.ts): a MariaDB server in a container
 * survives destroy (data kept) then up with its data; what destroy leaves is the data volumes only,
 * carrying their owner's label; a volume with the name a deployment would use but not made by it
 * (no dbstack labels) is refused at up, naming it, and left as it is by that stack's destroy.
 *
 * Owns: port 3378 on this machine (published on 127.0.0.1); the containers and volumes of the
 * sandboxes' stacks (names starting with dbstack-ownd and dbstack-ownx). Run under
 * `flock /tmp/dbstack-containers-tests.lock`.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { readdirSync, rmSync } from "fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerName, stackHostPrefix } from "../../components/model/naming";
import { ownerLine } from "../../components/targets/ownership";
import { sandbox, setConfig } from "./harness";
import { docker, ensureImages, startContainerEngine, type ContainerEngine, type TestImages, CONTAINER_BEFORE_ALL_MS } from "./support/containers";

const PORT = 3378;
const box = sandbox("ownd");
const other = sandbox("ownx");
let engine: ContainerEngine;
let images: TestImages;
let a: Stack;
let x: Stack;
let prefixA: string;

function config(allowDataRemoval: boolean): Record<string, unknown> {
  return {
    allowDataRemoval,
    dockerHosts: { dk: { endpoint: engine.dockerHost } },
    mariadb: {
      main: {
        host: "dk",
        port: PORT,
        container: { image: images.mariadb, memoryMb: 512 },
        hostFacts: { memoryMb: 512, cpus: 1, storage: "ssd" },
        maxConnections: 20,
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
        backup: { retentionDays: 7 },
      },
    },
  };
}

/** `docker ...` through the harness's API socket; fails with its output. */
async function dk(args: string[]): Promise<string> {
  const r = await docker(engine.dockerHost, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

/** The sandboxes' containers or volumes. */
async function ours(kind: "container" | "volume"): Promise<string[]> {
  const out = kind === "container" ? await dk(["ps", "-a", "--format", "{{.Names}}"]) : await dk(["volume", "ls", "--format", "{{.Name}}"]);
  return out.split("\n").filter((n) => /^dbstack-own[dx]-/.test(n)).sort();
}

async function removeOurs(): Promise<void> {
  for (const c of await ours("container")) await docker(engine.dockerHost, ["rm", "-f", c]);
  for (const v of await ours("volume")) await docker(engine.dockerHost, ["volume", "rm", "-f", v]);
}

function mariadbRoot(container: string, sql: string): Promise<string> {
  return dk(["exec", container, "mariadb", "--no-defaults", "--protocol=socket", "--socket=/run/mysqld/dbstack-main.sock", "-uroot", "--batch", "--skip-column-names", "-e", sql]);
}

beforeAll(async () => {
  engine = await startContainerEngine();
  images = await ensureImages();
  await removeOurs();
  a = await box.stack(`ownd-${process.pid}`, config(false));
  prefixA = stackHostPrefix("dbstack", a.name, box.projectDir);
}, CONTAINER_BEFORE_ALL_MS);

afterAll(async () => {
  try {
    for (const s of [a, x]) {
      if (!s) continue;
      await setConfig(s, config(true)).catch(() => undefined);
      await s.destroy().catch(() => undefined);
    }
    if (engine) await removeOurs();
  } finally {
    await engine?.stop();
    for (const b of [box, other]) rmSync(b.dir, { recursive: true, force: true });
  }
}, 600_000);

describe("a server in a container: destroy, then up (issue 17 row 8)", () => {
  const container = () => containerName(prefixA, "mariadb", "main");

  it("up labels the container and its volumes with the stack's owner", async () => {
    await a.up();
    const owner = ownerLine({ project: "dbstack", stack: a.name, id: prefixA });
    expect(await dk(["inspect", "--type", "container", "--format", '{{index .Config.Labels "dbstack.owner"}}', container()])).toBe(owner);
    for (const v of await ours("volume")) expect(await dk(["volume", "inspect", "--format", '{{index .Labels "dbstack.owner"}}', v]), v).toBe(owner);
    await mariadbRoot(container(), "CREATE TABLE app.kept (v VARCHAR(20)); INSERT INTO app.kept VALUES ('in-a-volume')");
  }, 900_000);

  it("destroy keeping the data leaves the volumes only: no container, no cron file", async () => {
    await a.destroy();
    expect(await ours("container")).toEqual([]);
    expect((await ours("volume")).length).toBeGreaterThan(0);
    expect(readdirSync("/etc/cron.d").filter((f) => f.startsWith(prefixA))).toEqual([]);
  }, 600_000);

  it("the next up succeeds and takes the kept data back", async () => {
    await a.up();
    expect(await mariadbRoot(container(), "SELECT v FROM app.kept")).toBe("in-a-volume");
  }, 900_000);

  it("destroy with allowDataRemoval leaves nothing of the stack on the Docker host", async () => {
    await setConfig(a, config(true));
    await a.up();
    await a.destroy();
    expect(await ours("container")).toEqual([]);
    expect(await ours("volume")).toEqual([]);
    expect(readdirSync("/etc/cron.d").filter((f) => f.startsWith(prefixA))).toEqual([]);
  }, 900_000);
});

describe("a volume dbstack did not make", () => {
  it("is refused at up, naming it, and that stack's destroy leaves it as it is", async () => {
    x = await other.stack(`ownx-${process.pid}`, config(true));
    const volume = `${containerName(stackHostPrefix("dbstack", x.name, other.projectDir), "mariadb", "main")}-data`;
    await dk(["volume", "create", volume]);
    await dk(["run", "--rm", "-v", `${volume}:/data`, "--entrypoint", "/bin/bash", images.mariadb, "-c", "echo precious > /data/file"]);
    const message = await x.up().then(
      () => "the up succeeded",
      (err: Error) => String(err.message),
    );
    expect(message).toContain(`container: the Docker volume ${volume} exists and belongs to something dbstack did not make (no dbstack labels)`);
    await x.destroy();
    expect(await ours("volume")).toContain(volume);
    expect(await dk(["run", "--rm", "-v", `${volume}:/data`, "--entrypoint", "/bin/cat", images.mariadb, "/data/file"])).toBe("precious");
  }, 900_000);
});
