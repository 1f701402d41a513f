// npm run recover -- --stack <name> [--dry-run]
//
// Recovers a stack after an interrupted `pulumi up/destroy` (a killed CLI, a cancelled CI job):
//  1. removes the stack's lock files whose process is gone (file backends; a lock whose process
//     is alive on this host, or that was taken on another host, is never removed),
//  2. exports the stack, lists its pending operations and what each means, and clears them
//     (stack import of the export without them),
// and says what it did. Then `npm run pulumi -- up --stack <name>` converges.
// The backend and passphrase are those of every dbstack command (scripts/lib/env.ts).
import { execFileSync } from "child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { hostname, tmpdir } from "os";
import { join } from "path";
import { readOptions, UsageError } from "./lib/cli";
import { ensurePulumiOnPath, pulumiEnv, ROOT } from "./lib/env";
import {
  clearPending,
  describePending,
  type ExportedStack,
  judgeLock,
  lockDirs,
  parseLock,
  type ProcessFacts,
} from "./lib/recover";

const say = (msg: string) => console.log(`recover: ${msg}`);

/** Whether `pid` is alive here, and when it started (Linux /proc; left out elsewhere). */
function processFacts(pid: number): ProcessFacts {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return { alive: false };
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const startTicks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
    // USER_HZ is 100 on every Linux architecture dbstack runs on.
    return { alive: true, startedAt: new Date((btime + startTicks / 100) * 1000) };
  } catch {
    return { alive: true };
  }
}

function projectName(): string {
  const m = /^name:\s*(\S+)/m.exec(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8"));
  return m ? m[1] : "dbstack";
}

/** Removes stale locks; returns how many locks it had to leave (live, other host, unreadable). */
function recoverLocks(backendUrl: string, stack: string, dryRun: boolean): number {
  if (!backendUrl.startsWith("file://")) {
    say(`locks: the backend ${backendUrl} is not a file backend; if an update there is stuck, \`npm run pulumi -- cancel --stack ${stack}\` ends it`);
    return 0;
  }
  const backendDir = backendUrl.slice("file://".length).replace(/\?.*$/, "");
  const files = lockDirs(backendDir, projectName(), stack).flatMap((dir) =>
    existsSync(dir) ? readdirSync(dir).filter((f) => !f.endsWith(".attrs")).map((f) => join(dir, f)) : [],
  );
  if (files.length === 0) {
    say("locks: the stack is not locked");
    return 0;
  }
  let kept = 0;
  for (const file of files) {
    const judged = judgeLock(parseLock(file, readFileSync(file, "utf8")), hostname(), processFacts);
    if (judged.verdict === "stale") {
      if (!dryRun) {
        rmSync(file, { force: true });
        rmSync(`${file}.attrs`, { force: true });
      }
      say(`locks: ${dryRun ? "would remove" : "removed"} ${file} (${judged.reason})`);
    } else {
      kept++;
      say(`locks: left ${file} (${judged.reason})`);
    }
  }
  return kept;
}

function pulumi(args: string[], env: NodeJS.ProcessEnv): string {
  return execFileSync("pulumi", args, { cwd: ROOT, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 512 * 1024 * 1024 });
}

function recoverPending(stack: string, env: NodeJS.ProcessEnv, dryRun: boolean): void {
  // The export keeps secrets encrypted; it still goes to a private directory, removed after.
  const dir = mkdtempSync(join(tmpdir(), "dbstack-recover-"));
  try {
    const exportFile = join(dir, "stack.json");
    pulumi(["stack", "export", "--stack", stack, "--file", exportFile], env);
    const { cleared, next } = clearPending(JSON.parse(readFileSync(exportFile, "utf8")) as ExportedStack);
    if (cleared.length === 0) {
      say("pending operations: none");
      return;
    }
    say(`pending operations: ${cleared.length}`);
    for (const op of cleared) say(`  ${op.type} ${op.resource.urn}\n           ${describePending(op)}`);
    if (dryRun) {
      say("pending operations: left as they are (--dry-run)");
      return;
    }
    const importFile = join(dir, "cleared.json");
    writeFileSync(importFile, JSON.stringify(next), { mode: 0o600 });
    pulumi(["stack", "import", "--stack", stack, "--file", importFile], env);
    say(`pending operations: cleared ${cleared.length} (stack import)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): number {
  const usage = "usage: npm run recover -- --stack <name> [--dry-run]";
  let values;
  try {
    values = readOptions(process.argv.slice(2), { stack: { type: "string", short: "s" }, "dry-run": { type: "boolean" } });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message === "") {
      console.log(`recover: clears what an interrupted up left (stale locks, pending operations), after checking nothing is running.\n${usage}`);
      return 0;
    }
    console.error(`recover: ${err.message}\n${usage}`);
    return 2;
  }
  const stack = values.stack as string | undefined;
  if (!stack) {
    console.error(`recover: --stack is required\n${usage}`);
    return 2;
  }
  const dryRun = values["dry-run"] === true;
  ensurePulumiOnPath();
  const env = { ...process.env, ...pulumiEnv(stack) };
  say(`stack ${stack}, backend ${env.PULUMI_BACKEND_URL}${dryRun ? " (dry run: nothing is changed)" : ""}`);

  const kept = recoverLocks(env.PULUMI_BACKEND_URL!, stack, dryRun);
  if (kept > 0) {
    // A live lock means an update is running: its pending operations are real, not leftovers.
    say(`stopped: ${kept} lock(s) left in place, so pending operations were not touched. Wait for that update, or, once you know its process is gone, remove the lock with \`npm run pulumi -- cancel --stack ${stack}\` and run recover again`);
    return 1;
  }
  try {
    recoverPending(stack, env, dryRun);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    console.error(`recover: ${(e.stderr || e.message).trim()}`);
    return 1;
  }
  say(dryRun ? "done (dry run)" : `done: run \`npm run pulumi -- up --stack ${stack}\` to bring the stack to its declared state`);
  return 0;
}

process.exitCode = main();
