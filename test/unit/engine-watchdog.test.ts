import * as grpc from "@grpc/grpc-js";
import { spawn } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/env";

// The watchdog the dynamic-provider plugin preloads (tools/bin/dbstack-engine-watchdog.js):
// its pure parts, then real processes: a stand-in engine starts a stand-in provider with the
// watchdog preloaded, the provider starts a host script, and the engine dies or goes silent.
const WATCHDOG = join(ROOT, "tools/bin/dbstack-engine-watchdog.js");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const watchdog = require(WATCHDOG) as {
  parseStat(text: string): { pid: number; state: string; ppid: number; pgid: number; sid: number; startTicks: number };
  targets(procs: { pid: number; ppid: number; pgid: number; state: string }[], self: number): number[];
  GRACE_MS: number;
};

describe("the watchdog's reading of processes", () => {
  it("parses /proc/<pid>/stat, whatever the command name holds", () => {
    const stat = "4242 (we(ird) name) S 100 4242 99 0 -1 4194304 124 0 0 0 0 0 0 0 20 0 1 0 46046 3133440 381";
    expect(watchdog.parseStat(stat)).toEqual({ pid: 4242, state: "S", ppid: 100, pgid: 4242, sid: 99, startTicks: 46046 });
  });

  const procs = [
    { pid: 10, ppid: 1, pgid: 10, state: "S" }, // the provider, leading its group
    { pid: 11, ppid: 10, pgid: 10, state: "S" }, // bash -s
    { pid: 12, ppid: 11, pgid: 10, state: "S" }, // its command
    { pid: 13, ppid: 1, pgid: 10, state: "S" }, // re-parented, still in the group
    { pid: 14, ppid: 11, pgid: 10, state: "Z" }, // a zombie: nothing to stop
    { pid: 20, ppid: 11, pgid: 20, state: "S" }, // a daemon that left the group on purpose (pg_ctl)
    { pid: 30, ppid: 1, pgid: 30, state: "S" }, // someone else
  ];

  it("stops every live member of the group it leads, and nothing outside it", () => {
    expect(watchdog.targets(procs, 10).sort()).toEqual([11, 12, 13]);
  });

  it("stops only its descendants when it does not lead its group", () => {
    const notLeader = procs.map((p) => ({ ...p, pgid: 99 }));
    expect(watchdog.targets(notLeader, 10).sort()).toEqual([11, 12, 20]);
  });
});

const dir = mkdtempSync(join(tmpdir(), "dbstack-watchdog-"));
// The stand-in provider resolves @grpc/grpc-js from its own directory, as the real one does.
symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, timeoutMs: number, ok: () => boolean): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

/**
 * Starts a stand-in engine (own session) that starts a stand-in provider in a process group of
 * its own, with the watchdog preloaded and `address` as its last argument, as Pulumi does. The
 * provider runs a host script that records SIGTERM. Returns their pids once the script runs.
 */
async function start(name: string, address: string) {
  const marks = join(dir, name);
  const provider = join(dir, `${name}-provider.js`);
  writeFileSync(
    provider,
    `const { spawn } = require("child_process");
     spawn("bash", ["-c", "trap 'echo term >> ${marks}.term; exit 143' TERM; echo $$ > ${marks}.script; sleep 60 & wait"], { stdio: "ignore" });
     setInterval(() => {}, 1000);`,
  );
  const engine = spawn(
    process.execPath,
    [
      "-e",
      `const c = require("child_process").spawn(process.execPath, ["-r", ${JSON.stringify(WATCHDOG)}, ${JSON.stringify(provider)}, ${JSON.stringify(address)}], { detached: true, stdio: "ignore" });
       require("fs").writeFileSync(${JSON.stringify(`${marks}.provider`)}, String(c.pid));
       setInterval(() => {}, 1000);`,
    ],
    { detached: true, stdio: "ignore" },
  );
  await waitFor("the host script to start", 10_000, () => existsSync(`${marks}.script`) && readFileSync(`${marks}.script`, "utf8").endsWith("\n"));
  return {
    engine,
    provider: Number(readFileSync(`${marks}.provider`, "utf8")),
    script: Number(readFileSync(`${marks}.script`, "utf8")),
    terms: () => (existsSync(`${marks}.term`) ? readFileSync(`${marks}.term`, "utf8").trim() : ""),
  };
}

describe("a provider whose engine is gone", () => {
  it("exits within seconds of its engine's SIGKILL, after stopping its host script with SIGTERM", async () => {
    const run = await start("killed", "");
    expect(alive(run.provider)).toBe(true);
    run.engine.kill("SIGKILL");
    const took = await waitFor("the provider and its script to exit", 5000, () => !alive(run.provider) && !alive(run.script));
    expect(took).toBeLessThan(5000);
    expect(run.terms()).toBe("term");
  });

  it("exits when its engine's address stops answering, and not while it answers", async () => {
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const run = await start("silent", `127.0.0.1:${port}`);
    try {
      // A server without the health service answers UNIMPLEMENTED: an engine that is alive.
      await new Promise((r) => setTimeout(r, 5000));
      expect(alive(run.provider)).toBe(true);
      expect(alive(run.script)).toBe(true);

      server.forceShutdown();
      const took = await waitFor("the provider and its script to exit", 10_000, () => !alive(run.provider) && !alive(run.script));
      expect(took).toBeLessThan(10_000);
      expect(run.terms()).toBe("term");
    } finally {
      run.engine.kill("SIGKILL");
      for (const pid of [run.provider, run.script]) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  });
});
