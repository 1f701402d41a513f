/**
 * Issue 23, `npm run status` against a Docker target, through the real Pulumi engine and a real
 * container engine (Podman's Docker API, support/containers.ts): PostgreSQL with a standby, each
 * in a container of its own on the host network. Status asks each member inside its container
 * (docker exec): role, version, replication, the post-deploy hook recorded inside the primary's
 * container; with the standby's container stopped it exits 1 naming the standby.
 *
 * In the "engines" stream (vitest.config.ts): one Podman API service at a time.
 * Owns: ports 7170 (primary) and 7171 (standby), stack it-mx-docker (containers and volumes
 * dbstack-it-mx-docker-<id>-postgres-mxdk*).
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { spawn } from "child_process";
import { rmSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandbox, writeMigration } from "./harness";
import { docker, ensureImages, startContainerEngine, type ContainerEngine, type TestImages, CONTAINER_BEFORE_ALL_MS } from "./support/containers";

const STACK = "it-mx-docker";
const PRIMARY = 7170;
const STANDBY = 7171;
const OURS = /^dbstack-it-mx-docker-[0-9a-f]{6}-/;
const box = sandbox("mx-docker");
let engine: ContainerEngine;
let images: TestImages;
let stack: Stack;

function config() {
  return {
    allowDataRemoval: true,
    dockerHosts: { mxdk: { endpoint: engine.dockerHost } },
    postgres: {
      mxdk: {
        host: "mxdk",
        port: PRIMARY,
        container: { image: images.postgres, network: "host", memoryMb: 512, cpus: 1 },
        listenAddresses: ["127.0.0.1"],
        maxConnections: 30,
        databases: { app: { owner: "app", migrations: { dir: join(box.dir, "migrations") } } },
        users: { app: { grants: { app: "owner" } } },
        standbys: { s1: { host: "mxdk", address: "127.0.0.1", port: STANDBY } },
      },
    },
  };
}

async function dk(args: string[]): Promise<string> {
  const r = await docker(engine.dockerHost, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** This stack's containers and volumes. */
async function ours(kind: "container" | "volume"): Promise<string[]> {
  const out = kind === "container" ? await dk(["ps", "-a", "--format", "{{.Names}}"]) : await dk(["volume", "ls", "--format", "{{.Name}}"]);
  return out.split("\n").filter((n) => OURS.test(n)).sort();
}

async function removeOurs(): Promise<void> {
  for (const c of await ours("container")) await docker(engine.dockerHost, ["rm", "-f", c]);
  for (const v of await ours("volume")) await docker(engine.dockerHost, ["volume", "rm", "-f", v]);
}

/** `npm run status` against the stack, as a user runs it (asynchronously). */
function status(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "-s", "status", "--", "--stack", STACK, ...args], {
      env: { ...process.env, PULUMI_BACKEND_URL: box.backend, DBSTACK_PROJECT_DIR: box.projectDir, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

interface Report {
  members: { member: string; reachable: boolean; role?: string; version?: string; where: string; error?: string; lag?: { replicating: boolean }; hooks?: { database: string; ok: boolean }[] }[];
  problems: string[];
}

beforeAll(async () => {
  engine = await startContainerEngine();
  images = await ensureImages();
  await removeOurs();
  writeMigration(join(box.dir, "migrations"), "0001_items.sql", "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n");
  stack = await box.stack(STACK, config());
  const up = await stack.up();
  expect(up.summary.result).toBe("succeeded");
}, CONTAINER_BEFORE_ALL_MS);

afterAll(async () => {
  try {
    await stack?.destroy().catch(() => undefined);
    if (engine) await removeOurs();
  } finally {
    await engine?.stop();
    rmSync(box.dir, { recursive: true, force: true });
  }
}, 600_000);

describe("status on a Docker target", () => {
  it("asks each member inside its container: role, version, replication, and the hook recorded in the primary's container", async () => {
    expect((await ours("container")).map((c) => c.replace(OURS, ""))).toEqual(["postgres-mxdk", "postgres-mxdk-s1"]);
    const r = await status("--json");
    expect(r.stderr).not.toMatch(/error/i);
    const report = JSON.parse(r.stdout) as Report;
    const m = (name: string) => report.members.find((x) => x.member === name)!;
    expect(report.problems).toEqual([]);
    expect(r.code).toBe(0);
    expect(m("primary")).toMatchObject({ reachable: true, role: "primary", hooks: [{ database: "app", ok: true }] });
    expect(m("primary").version).toMatch(/^15\./);
    expect(m("primary").where).toMatch(/^container dbstack-it-mx-docker-[0-9a-f]{6}-postgres-mxdk on Docker host unix:\/\//);
    expect(m("s1")).toMatchObject({ reachable: true, role: "standby", lag: { replicating: true } });
    expect(m("s1").where).toMatch(/^container dbstack-it-mx-docker-[0-9a-f]{6}-postgres-mxdk-s1 on Docker host /);
    const screen = await status();
    expect(screen.stdout).toMatch(/^ {2}primary +up +primary +container \S+-postgres-mxdk on Docker host \S+ +15\./m);
    expect(screen.stdout).toMatch(/^ {2}s1 +up +standby +/m);
    expect(screen.stdout).toContain("primary: hooks app ok ");
    expect(screen.stdout).toContain("no problems");
    console.log(screen.stdout);
  });

  it("with the standby's container stopped, status exits 1 naming the standby; the primary is still up", async () => {
    const standby = (await ours("container")).find((c) => c.endsWith("-postgres-mxdk-s1"))!;
    await dk(["stop", "-t", "10", standby]);
    try {
      const r = await status("--json");
      expect(r.code).toBe(1);
      const report = JSON.parse(r.stdout) as Report;
      expect(report.members.find((x) => x.member === "primary")).toMatchObject({ reachable: true, role: "primary" });
      expect(report.members.find((x) => x.member === "s1")).toMatchObject({ reachable: false });
      expect(report.problems).toEqual([expect.stringMatching(/^postgres mxdk\/s1 on container \S+-postgres-mxdk-s1 on Docker host \S+: down: unreachable: .*running/)]);
      const screen = await status();
      expect(screen.code).toBe(1);
      expect(screen.stdout).toMatch(/^ {2}s1 +DOWN +standby/m);
      expect(screen.stdout).toContain("✗ postgres mxdk/s1 on ");
      console.log(screen.stdout);
    } finally {
      await dk(["start", standby]);
    }
  });
});
