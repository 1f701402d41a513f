/**
 * Issue 17, row 7, on the Docker target: PostgreSQL in a container on the host network and
 * MariaDB in one on a bridge network with its port published on 127.0.0.1 (Podman's
 * Docker-compatible API, support/containers.ts; run under the containers flock).
 * A server stopped inside its container from outside is started again by the next up (the
 * configure step's probe runs inside the container). A port another process holds is refused
 * before the running container is touched (published ports: by the container step, from the
 * Docker host's sockets; host network: by the configure step inside the container), and the
 * server keeps serving on its port.
 *
 * Owns: ports 5582 (PostgreSQL) and 3382 (MariaDB), 5583 / 3383 (held by a stranger process in the
 * port cases); cluster itconvdkp, instance itconvdkm; stack itconvdk (containers and volumes
 * dbstack-itconvdk-*).
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { spawnSync } from "child_process";
import { rmSync } from "fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, sandbox, setConfig, stranger } from "./harness";
import { docker, ensureImages, startContainerEngine, type ContainerEngine, type TestImages, CONTAINER_BEFORE_ALL_MS } from "./support/containers";

const PG_PORT = 5582;
const MDB_PORT = 3382;
const box = sandbox("convdk");
let engine: ContainerEngine;
let images: TestImages;
let stack: Stack;

function config(over: { pgPort?: number; mdbPort?: number } = {}) {
  return {
    allowDataRemoval: true,
    dockerHosts: { dk: { endpoint: engine.dockerHost } },
    postgres: {
      conv: {
        host: "dk",
        port: over.pgPort ?? PG_PORT,
        instanceName: "itconvdkp",
        container: { image: images.postgres, network: "host", memoryMb: 512, cpus: 1 },
        listenAddresses: ["127.0.0.1"],
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
      },
    },
    mariadb: {
      conv: {
        host: "dk",
        port: over.mdbPort ?? MDB_PORT,
        instanceName: "itconvdkm",
        container: { image: images.mariadb, memoryMb: 512, publishAddresses: ["127.0.0.1"] },
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" }, hosts: ["localhost"] } },
      },
    },
  };
}

async function dk(args: string[]): Promise<string> {
  const r = await docker(engine.dockerHost, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** This stack's containers and volumes on the engine. */
async function ours(kind: "container" | "volume"): Promise<string[]> {
  const out = await dk(kind === "container" ? ["ps", "-a", "--format", "{{.Names}}"] : ["volume", "ls", "--format", "{{.Name}}"]);
  return out.split("\n").filter((n) => n.startsWith("dbstack-itconvdk-"));
}

async function removeOurs(): Promise<void> {
  for (const c of await ours("container")) await docker(engine.dockerHost, ["rm", "-f", c]);
  for (const v of await ours("volume")) await docker(engine.dockerHost, ["volume", "rm", "-f", v]);
}

async function container(kind: "postgres" | "mariadb"): Promise<string> {
  const name = (await ours("container")).find((c) => c.includes(`-${kind}-`));
  expect(name, `the ${kind} container`).toBeDefined();
  return name!;
}

function answers(kind: "postgres" | "mariadb", port: number): boolean {
  if (kind === "postgres") return spawnSync("pg_isready", ["-q", "-h", "127.0.0.1", "-p", String(port)]).status === 0;
  const r = spawnSync("mariadb-admin", ["--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", String(port), "--connect-timeout=3", "ping"], { encoding: "utf8" });
  return r.status === 0 || /\b1130\b|Access denied/.test(r.stderr + r.stdout);
}


const ENGINES = [
  {
    name: "PostgreSQL",
    kind: "postgres" as const,
    port: PG_PORT,
    taken: 5583,
    withPort: (port: number) => config({ pgPort: port }),
    stopInside: 'pg_ctlcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" itconvdkp stop',
  },
  {
    name: "MariaDB",
    kind: "mariadb" as const,
    port: MDB_PORT,
    taken: 3383,
    withPort: (port: number) => config({ mdbPort: port }),
    stopInside: "mariadb-admin --no-defaults --protocol=socket --socket=/run/mysqld/dbstack-itconvdkm.sock -uroot shutdown",
  },
];

beforeAll(async () => {
  engine = await startContainerEngine();
  images = await ensureImages();
  await removeOurs();
  stack = await box.stack("itconvdk", config());
  const up = await stack.up();
  expect(up.summary.result).toBe("succeeded");
}, CONTAINER_BEFORE_ALL_MS);

afterAll(async () => {
  try {
    if (stack) {
      await setConfig(stack, config());
      await stack.destroy().catch(() => undefined);
    }
    if (engine) await removeOurs();
  } finally {
    await engine?.stop();
    rmSync(box.dir, { recursive: true, force: true });
  }
}, 600_000);

describe("a server in a container (Docker target)", () => {
  it.each(ENGINES)("$name: stopped inside its container from outside, the preview shows it and the next up starts it again", async (e) => {
    expect(answers(e.kind, e.port)).toBe(true);
    await dk(["exec", await container(e.kind), "bash", "-c", e.stopInside]);
    expect(answers(e.kind, e.port)).toBe(false);
    const preview = await stack.preview();
    expect(changes({ resourceChanges: preview.changeSummary }).update ?? 0).toBeGreaterThanOrEqual(1);
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(answers(e.kind, e.port)).toBe(true);
  });

  it.each(ENGINES)("$name: a port another process holds is refused naming `port` before the container is touched, and the server keeps serving", async (e) => {
    const before = await dk(["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", await container(e.kind)]);
    const holder = await stranger(e.taken);
    try {
      await setConfig(stack, e.withPort(e.taken));
      const err = await stack.up().then(
        () => undefined,
        (x: Error) => x,
      );
      expect(err, "up onto a taken port should have failed").toBeDefined();
      expect(err!.message).toMatch(new RegExp(`port: ${e.taken} is already in use by another process`));
      // Nothing was stopped: the same container, never restarted, still answers on its port.
      expect(await dk(["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", await container(e.kind)])).toBe(before);
      expect(answers(e.kind, e.port)).toBe(true);
    } finally {
      holder.kill();
      await setConfig(stack, config());
    }
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(answers(e.kind, e.port)).toBe(true);
  });
});
