/**
 * How long `npm run status` takes on a stack of 1 deployment and on a stack of 20, every
 * deployment on a namespace host reached over SSH (test/integration/support/hosts.ts): members
 * are asked in parallel, so 20 should take well under twice the time of one. The deployments are
 * SQLite databases (twenty server instances would measure the machine, not status); each is
 * asked for its file, WAL and backups over its own SSH session. The two stacks are timed in turn
 * (1, 20, 1, 20 …), so drift on the machine falls on both alike; medians of each.
 *
 *   npm run bench:status [-- --runs 3]
 *
 * Prints each run, then one line: status_s_1=<median seconds> status_s_20=<median seconds> ratio=<20/1>
 */
import { spawnSync } from "child_process";
import { rmSync } from "fs";
import { join } from "path";
import { ensurePulumiOnPath } from "../scripts/lib/env";
import { sandbox } from "../test/integration/harness";
import { createTestHosts } from "../test/integration/support/hosts";
import { median } from "./lib/stats";

const RUNS = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 3;
const HOSTS = ["st-b1", "st-b2"];
const SIZES = [1, 20];

async function main(): Promise<void> {
  ensurePulumiOnPath();
  const box = sandbox("st-bench");
  const hosts = await createTestHosts(HOSTS);
  const stacks: { size: number; name: string; destroy(): Promise<unknown> }[] = [];
  try {
    const hostConfig = Object.fromEntries(HOSTS.map((h) => [h, { address: hosts.host(h).address, privateKey: hosts.host(h).privateKey, hostKey: hosts.host(h).hostKey }]));
    for (const size of SIZES) {
      const name = `it-st-bench-${size}`;
      const sqlite = Object.fromEntries(
        Array.from({ length: size }, (_, i) => [`b${i}`, { host: HOSTS[i % HOSTS.length], path: join(box.dir, `s${size}`, `b${i}`, "app.db"), toolsDir: join(box.dir, `s${size}`, `b${i}`, "tools") }]),
      );
      const stack = await box.stack(name, { allowDataRemoval: true, hosts: hostConfig, sqlite });
      process.stderr.write(`bench:status: deploying ${size} deployment(s) on ${HOSTS.join(", ")}…\n`);
      const up = await stack.up();
      if (up.summary.result !== "succeeded") throw new Error(`up of ${name}: ${up.summary.result}`);
      stacks.push({ size, name, destroy: () => stack.destroy() });
    }
    const times: Record<number, number[]> = Object.fromEntries(SIZES.map((s) => [s, []]));
    for (let round = 1; round <= RUNS; round++) {
      for (const { size, name } of stacks) {
        const started = process.hrtime.bigint();
        const r = spawnSync("npm", ["run", "-s", "status", "--", "--stack", name, "--json"], {
          encoding: "utf8",
          env: { ...process.env, PULUMI_BACKEND_URL: box.backend, DBSTACK_PROJECT_DIR: box.projectDir },
        });
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const report = JSON.parse(r.stdout || "{}") as { members?: { reachable: boolean }[] };
        const up = report.members?.filter((m) => m.reachable).length ?? 0;
        if (up !== size) throw new Error(`status of ${name}: ${up} of ${size} members answered (exit ${r.status}): ${r.stderr.slice(-500)}`);
        times[size].push(seconds);
        console.log(`status deployments=${size} round=${round} seconds=${seconds.toFixed(2)}`);
      }
    }
    const [one, twenty] = SIZES.map((s) => median(times[s]));
    console.log(`status_s_1=${one.toFixed(2)} status_s_20=${twenty.toFixed(2)} ratio=${(twenty / one).toFixed(2)}`);
  } finally {
    for (const s of stacks) await s.destroy().catch(() => undefined);
    await hosts.destroy();
    rmSync(box.dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:status: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
