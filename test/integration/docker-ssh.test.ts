/**
 * A Docker host reached over SSH (`dbstack:dockerHosts.<name>.via`): the docker CLI runs on a test
 * host (a network namespace with its own sshd, support/hosts.ts) with that host's pinned key, and
 * talks to the harness's Podman API there. A MariaDB server in a container, deployed, used, checked
 * for zero changes and removed with its volumes through the real Pulumi engine.
 *
 * Port: 3365. Test host: dkssh.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { readFileSync, rmSync } from "fs";
import { createConnection } from "mysql2/promise";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, sandbox } from "./harness";
import { docker, ensureImages, startContainerEngine, type ContainerEngine, type TestImages, CONTAINER_BEFORE_ALL_MS } from "./support/containers";
import { createTestHosts, type TestHosts } from "./support/hosts";

const PORT = 3365;
const box = sandbox("docker-ssh");
let engine: ContainerEngine;
let images: TestImages;
let hosts: TestHosts;
let stack: Stack;

async function ours(kind: "container" | "volume"): Promise<string[]> {
  const r = kind === "container" ? await docker(engine.dockerHost, ["ps", "-a", "--format", "{{.Names}}"]) : await docker(engine.dockerHost, ["volume", "ls", "--format", "{{.Name}}"]);
  return r.stdout.split("\n").filter((n) => /^dbstack-dkssh-[0-9a-f]{6}-/.test(n)).sort();
}

function config(hostKey: string) {
  const h = hosts.host("dkssh");
  return {
    allowDataRemoval: true,
    hosts: { box: { address: h.address, privateKey: h.privateKey, hostKey } },
    dockerHosts: { remote: { endpoint: engine.dockerHost, via: "box" } },
    mariadb: {
      shop: {
        host: "remote",
        port: PORT,
        container: { image: images.mariadb, memoryMb: 512, publishAddresses: ["127.0.0.1"] },
        databases: { shop: { owner: "shop" } },
        users: { shop: { grants: { shop: "owner" }, hosts: ["localhost", "%"] } },
        backup: { retentionDays: 3 },
      },
    },
  };
}

beforeAll(async () => {
  engine = await startContainerEngine();
  images = await ensureImages();
  for (const c of await ours("container")) await docker(engine.dockerHost, ["rm", "-f", c]);
  for (const v of await ours("volume")) await docker(engine.dockerHost, ["volume", "rm", "-f", v]);
  hosts = await createTestHosts(["dkssh"]);
  stack = await box.stack("dkssh", config(hosts.host("dkssh").hostKey));
}, CONTAINER_BEFORE_ALL_MS);

afterAll(async () => {
  try {
    await stack?.destroy().catch(() => undefined);
    for (const c of await ours("container")) await docker(engine.dockerHost, ["rm", "-f", c]);
    for (const v of await ours("volume")) await docker(engine.dockerHost, ["volume", "rm", "-f", v]);
  } finally {
    await hosts?.destroy();
    await engine?.stop();
    rmSync(box.dir, { recursive: true, force: true });
  }
});

describe("a Docker host reached over SSH", () => {
  it("refuses a Docker host whose SSH host key does not match, before anything runs there", async () => {
    const wrong = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const bad = await box.stack("dksshbad", config(wrong));
    await expect(bad.up()).rejects.toThrow(/host key/i);
    expect(await ours("container")).toEqual([]);
    await bad.workspace.removeStack("dksshbad", { force: true });
  });

  it("up runs the docker CLI on the SSH host: the server runs in its container and a user connects", async () => {
    const result = await stack.up();
    expect(await ours("container")).toHaveLength(1);
    // The container steps ran through SSH to the test host (the step's stored target says so).
    const state = JSON.parse(readFileSync(join(box.dir, "state", ".pulumi", "stacks", "dbstack", "dkssh.json"), "utf8"));
    const step = state.checkpoint.latest.resources.find((r: { urn: string }) => r.urn.endsWith("::shop-container"));
    expect(step.outputs.target.on).toMatchObject({ kind: "ssh", host: hosts.host("dkssh").address });
    const url = new URL(result.outputs.mariadb.value.shop.urls.shop.shop.mysql);
    const c = await createConnection({ host: "127.0.0.1", port: PORT, user: "shop", password: decodeURIComponent(url.password), database: "shop" });
    try {
      const [rows] = await c.query("SELECT 1 + 1 AS two");
      expect((rows as { two: number }[])[0].two).toBe(2);
    } finally {
      await c.end();
    }
  });

  it("a second up changes nothing; destroy with data removal allowed removes the container and its volumes", async () => {
    const again = await stack.up();
    expect(Object.keys(changes(again.summary)).filter((k) => k !== "same")).toEqual([]);
    await stack.destroy();
    expect(await ours("container")).toEqual([]);
    expect(await ours("volume")).toEqual([]);
  });
});
