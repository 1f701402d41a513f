/**
 * Issue 17, row 7, on the Docker target: PostgreSQL and MariaDB in containers on the host
 * network (Podman's Docker-compatible API, support/containers.ts; run under the containers flock).
 * A server stopped inside its container from outside is started again by the next up, and a port
 * another process holds on the host (a process the container cannot see) is refused before the
 * server is touched.
 *
 * Owns: ports 5582 (PostgreSQL) and 3382 (MariaDB); 5580 and 3380 are held by a stranger process
 * on this machine in the port cases; cluster itconvdkp, instance itconvdkm; stack itconvdk
 * (containers and volumes dbstack-itconvdk-*).
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawn, spawnSync } from "child_process";
import { rmSync } from "fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, sandbox, setConfig } from "./harness";
import { docker, ensureImages, startContainerEngine, type ContainerEngine, type TestImages } from "./support/containers";

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
        clusterName: "itconvdkp",
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
        container: { image: images.mariadb, network: "host", memoryMb: 512 },
        listenAddresses: ["127.0.0.1"],
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
    taken: 5580,
    withPort: (port: number) => config({ pgPort: port }),
    stopInside: 'pg_ctlcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" itconvdkp stop',
  },
  {
    name: "MariaDB",
    kind: "mariadb" as const,
    port: MDB_PORT,
    taken: 3380,
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
}, 900_000);

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

  it.each(ENGINES)("$name: a port another process holds on the host is refused naming `port`; the server is back on its old port", async (e) => {
    const holder = spawn("socat", [`TCP-LISTEN:${e.taken},reuseaddr,fork`, "EXEC:/bin/true"], { stdio: "ignore" });
    try {
      for (let i = 0; i < 50 && execFileSync("bash", ["-c", `ss -Htln "sport = :${e.taken}" | wc -l`], { encoding: "utf8" }).trim() === "0"; i++) await new Promise((r) => setTimeout(r, 100));
      await setConfig(stack, e.withPort(e.taken));
      const err = await stack.up().then(() => undefined, (x: Error) => x);
      expect(err, "up should have failed").toBeDefined();
      // The container shares the host's network, not its processes: the holder is a socket it sees, held by a process it does not.
      expect(err!.message).toMatch(new RegExp(`port: ${e.taken} is already in use by another process: a process not visible from here`));
      // The port is in the container's spec (its health check), so the container was re-created
      // before the configure step refused: the server comes back on its old port from its volume,
      // with its configuration unchanged (see the report: the container step does not check the port).
      let back = false;
      for (let i = 0; i < 120 && !back; i++) {
        back = answers(e.kind, e.port);
        if (!back) await new Promise((r) => setTimeout(r, 500));
      }
      expect(back).toBe(true);
    } finally {
      holder.kill("SIGKILL");
      await setConfig(stack, config());
    }
    expect((await stack.up()).summary.result).toBe("succeeded");
    expect(answers(e.kind, e.port)).toBe(true);
  });
});
