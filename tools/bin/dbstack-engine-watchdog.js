// @ts-check
// Preloaded (node -r) into the dynamic-provider process by pulumi-resource-pulumi-nodejs: makes
// the provider exit when the Pulumi engine that started it is gone, and stops the host scripts it
// is running. Plain JavaScript because node loads it before anything could compile TypeScript.
//
// Why: the engine starts each provider in a process group of its own and, when an update ends
// normally, interrupts that group. When the engine dies without that (SIGKILL of `pulumi`, a
// cancelled CI job, a dropped SSH session), nothing tells the provider: it used to stay forever,
// re-parented to PID 1, still running the host script it had started.
//
// How the engine is known to be gone (either sign suffices):
//  - the parent PID changes: the engine starts the plugin wrapper, which execs node, so the
//    parent is the engine itself; re-parenting (to PID 1 or a subreaper) means it died, however
//    it died. Read from /proc every second (Node's process.ppid is fixed at start-up).
//    prctl(PR_SET_PDEATHSIG) is not reachable from Node, and it fires on the death of the
//    parent's forking *thread*, which a Go engine does not guarantee to keep.
//  - the engine's address (the plugin's last argument) stops answering a gRPC health check,
//    as the upstream providers check it (there every 5 minutes; here every 2 seconds). Only
//    UNAVAILABLE (nothing listens any more), twice in a row, counts: a slow answer on a loaded
//    machine, or UNIMPLEMENTED, is a live engine. This covers platforms without /proc.
//
// The rule for a host script that is running when the engine dies: it is STOPPED. SIGTERM goes
// to the provider's process group (every script and command it started, which did not detach
// on purpose: a PostgreSQL server started by pg_ctl runs in a session of its own and is left
// alone, exactly as when the engine ends an update normally), then SIGKILL after GRACE_MS.
// Why not let it finish: nothing can record its result any more (the engine is gone), so the
// next `up` runs the step again in any case, and a script still running then would race with
// its own second run (two pg_basebackups into one directory, two migration runs). Stopping gives
// a bounded end, and every dbstack step is written to be re-run after a stop at any point:
// host scripts are idempotent, a half-done pg_basebackup leaves a marker that makes the next run
// start the clone again, SQL migrations run in transactions (a killed psql or sqlite3 rolls
// back; the migration is applied by the next `up`), and an external migration command gets
// SIGTERM, which tools such as Alembic treat like any failed run. Over SSH the local ssh client
// is stopped; the remote script loses its session and ends at its next read or write of it.
"use strict";

const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

/** Time between SIGTERM and SIGKILL of the host scripts when the engine is gone. */
const GRACE_MS = 5000;
const PARENT_POLL_MS = 1000;
const HEALTH_INTERVAL_MS = 2000;
const HEALTH_FAILURES_GONE = 2;

/**
 * Parses /proc/<pid>/stat: the command name may hold spaces and parentheses, so fields are
 * counted from the last ')'.
 * @param {string} text
 * @returns {{ pid: number, state: string, ppid: number, pgid: number, sid: number, startTicks: number }}
 */
function parseStat(text) {
  const close = text.lastIndexOf(")");
  const pid = Number(text.slice(0, text.indexOf(" ")));
  const f = text.slice(close + 2).split(" ");
  // f[0] is field 3 (state); field 22 (starttime) is f[19].
  return { pid, state: f[0], ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]), startTicks: Number(f[19]) };
}

/** @returns {{ pid: number, ppid: number, pgid: number, state: string }[]} every process on the machine */
function listProcesses() {
  if (fs.existsSync("/proc/self/stat")) {
    const out = [];
    for (const entry of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        out.push(parseStat(fs.readFileSync(`/proc/${entry}/stat`, "utf8")));
      } catch {
        // exited while listing
      }
    }
    return out;
  }
  return execFileSync("ps", ["-A", "-o", "pid=,ppid=,pgid=,stat="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((line) => {
      const [pid, ppid, pgid, state] = line.trim().split(/\s+/);
      return { pid: Number(pid), ppid: Number(ppid), pgid: Number(pgid), state: state ?? "" };
    });
}

/** @returns {number | undefined} this process's parent PID as it is now, where /proc tells */
function currentParent() {
  try {
    return parseStat(fs.readFileSync("/proc/self/stat", "utf8")).ppid;
  } catch {
    return undefined;
  }
}

/**
 * The processes to stop: every other live member of our process group when we lead it (the
 * engine starts plugins that way), else our descendants (never someone else's group).
 * @param {{ pid: number, ppid: number, pgid: number, state: string }[]} procs
 * @param {number} self
 * @returns {number[]}
 */
function targets(procs, self) {
  const live = procs.filter((p) => p.pid !== self && !p.state.startsWith("Z"));
  const me = procs.find((p) => p.pid === self);
  if (me && me.pgid === self) return live.filter((p) => p.pgid === self).map((p) => p.pid);
  const below = new Set([self]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of live) {
      if (!below.has(p.pid) && below.has(p.ppid)) {
        below.add(p.pid);
        grew = true;
      }
    }
  }
  below.delete(self);
  return [...below];
}

/** @param {number[]} pids @param {NodeJS.Signals} sig */
function signalAll(pids, sig) {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

let stopping = false;

/** Stops the host scripts (SIGTERM, SIGKILL after GRACE_MS) and exits. */
function engineGone() {
  if (stopping) return;
  stopping = true;
  // Nothing is logged: the engine that would read it is gone.
  const termed = new Set();
  const deadline = Date.now() + GRACE_MS;
  const round = () => {
    const left = targets(listProcesses(), process.pid);
    if (left.length === 0) process.exit(1);
    if (Date.now() >= deadline) {
      signalAll(left, "SIGKILL");
      process.exit(1);
    }
    // Also what a script started after the first round (a shell between two commands).
    const fresh = left.filter((pid) => !termed.has(pid));
    fresh.forEach((pid) => termed.add(pid));
    signalAll(fresh, "SIGTERM");
  };
  round();
  const poll = setInterval(round, 100);
  poll.unref();
  // Keep the process alive through the grace period even if nothing else does.
  setTimeout(() => process.exit(1), GRACE_MS + 1000);
}

/** @param {string} address */
function watchHealth(address) {
  /** @type {typeof import("@grpc/grpc-js")} */
  let grpc;
  try {
    // @grpc/grpc-js as @pulumi/pulumi's provider host resolves it.
    const from = process.argv[1] ? [path.dirname(process.argv[1])] : undefined;
    grpc = require(require.resolve("@grpc/grpc-js", { paths: from }));
  } catch {
    return; // no gRPC here: the parent check still stands
  }
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  let failures = 0;
  const check = () => {
    const deadline = new Date(Date.now() + HEALTH_INTERVAL_MS);
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (/** @type {unknown} */ _req) => Buffer.alloc(0), // an empty HealthCheckRequest
      (/** @type {Buffer} */ buf) => buf,
      {},
      { deadline },
      (/** @type {{ code?: number } | null} */ err) => {
        if (err && err.code === grpc.status.UNAVAILABLE) {
          if (++failures >= HEALTH_FAILURES_GONE) engineGone();
        } else {
          failures = 0;
        }
      },
    );
  };
  setInterval(check, HEALTH_INTERVAL_MS).unref();
}

/** Starts watching; `engineAddress` is the address the engine passed to the plugin. */
function start(/** @type {string | undefined} */ engineAddress) {
  const parent = currentParent();
  if (parent !== undefined && parent > 1) {
    setInterval(() => {
      if (currentParent() !== parent) engineGone();
    }, PARENT_POLL_MS).unref();
  }
  if (engineAddress && /^[\w.:[\]-]+:\d+$/.test(engineAddress)) watchHealth(engineAddress);
}

module.exports = { parseStat, targets, start, GRACE_MS };

// Started only when preloaded (node -r <this file>) by the plugin wrapper, not when a test
// requires it; the engine's address is the plugin's last argument.
const preloaded = process.execArgv.some((a, i, all) => {
  if (all[i - 1] !== "-r" && all[i - 1] !== "--require") return false;
  try {
    return fs.realpathSync(path.resolve(a)) === __filename; // __filename has symlinks resolved
  } catch {
    return false;
  }
});
if (preloaded) {
  const args = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  start(args[args.length - 1]);
}
