import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, ROOT, sandbox, setConfig } from "./harness";

// Issue 17, rows 7 and 9: declared state converges and nothing inherits the CLI's pipes, for a
// local PostgreSQL cluster and a local MariaDB instance on this machine.
// Owns: ports 5579 (PostgreSQL) and 3379 (MariaDB), and 5580 / 3380 (held by a stranger process
// in the port cases); cluster itconvpg, instance itconvmdb; stack itconv-<pid>.
const box = sandbox("converge");
const stackName = `itconv-${process.pid}`;
const PG = { port: 5579, taken: 5580, cluster: "itconvpg" };
const MDB = { port: 3379, taken: 3380, instance: "itconvmdb" };
const CNF = `/etc/mysql/dbstack/${MDB.instance}/my.cnf`;
const PG_CONF = `/etc/postgresql/15/${PG.cluster}/postgresql.conf`;
let stack: Stack;

function config(over: { pgPort?: number; mdbPort?: number } = {}) {
  return {
    allowDataRemoval: true,
    postgres: {
      conv: {
        host: "local",
        port: over.pgPort ?? PG.port,
        clusterName: PG.cluster,
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
        toolsDir: join(box.dir, "pg-tools"),
      },
    },
    mariadb: {
      conv: {
        host: "local",
        port: over.mdbPort ?? MDB.port,
        instanceName: MDB.instance,
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
        toolsDir: join(box.dir, "mdb-tools"),
      },
    },
  };
}

/** What the server answers over TCP on `port`, as a client would see it (a real connection). */
function pgAnswers(port: number): boolean {
  try {
    execFileSync("pg_isready", ["-q", "-h", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
function mdbAnswers(port: number): boolean {
  // A TCP ping: the server answers (root may not log in over TCP from here: error 1130 is the
  // server's answer too); "Can't connect" is no answer.
  const r = spawnSync("mariadb-admin", ["--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", String(port), "--connect-timeout=3", "ping"], { encoding: "utf8" });
  return r.status === 0 || /\b1130\b|Access denied/.test(r.stderr + r.stdout);
}

function pgPid(): number {
  return Number(readFileSync(`/var/lib/postgresql/15/${PG.cluster}/postmaster.pid`, "utf8").split("\n")[0]);
}
function mdbPid(): number {
  return Number(readFileSync(`/run/mysqld/dbstack-${MDB.instance}.pid`, "utf8").trim());
}

const ENGINES = [
  {
    name: "PostgreSQL",
    answers: pgAnswers,
    port: PG.port,
    taken: PG.taken,
    pid: pgPid,
    configFile: PG_CONF,
    withPort: (port: number) => config({ pgPort: port }),
    stop: () => execFileSync("pg_ctlcluster", ["15", PG.cluster, "stop"], { stdio: "ignore" }),
  },
  {
    name: "MariaDB",
    answers: mdbAnswers,
    port: MDB.port,
    taken: MDB.taken,
    pid: mdbPid,
    configFile: CNF,
    withPort: (port: number) => config({ mdbPort: port }),
    // A clean shutdown: its supervisor (mariadbd-safe) sees a normal exit and does not restart it.
    stop: () =>
      execFileSync("mariadb-admin", ["--no-defaults", "--protocol=socket", `--socket=/run/mysqld/dbstack-${MDB.instance}.sock`, "-uroot", "shutdown"], { stdio: "ignore" }),
  },
];

/** A process that is not the server listening on `port` (127.0.0.1 and every address): the stranger of row 7. */
function stranger(port: number): Promise<ChildProcess> {
  const child = spawn("socat", [`TCP-LISTEN:${port},reuseaddr,fork`, "EXEC:/bin/true"], { stdio: "ignore" });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    const wait = () => (existsSync(`/proc/${child.pid}`) && execFileSync("bash", ["-c", `ss -Htln "sport = :${port}" | wc -l`], { encoding: "utf8" }).trim() !== "0" ? resolve(child) : setTimeout(wait, 100));
    wait();
  });
}

async function upFails(): Promise<string> {
  const err = await stack.up().then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err, "up should have failed").toBeDefined();
  return err!.message;
}

/** The processes (other than this test) that hold a descriptor on one of the pipes named `pipe:[…]`. */
function holdersOf(pipes: string[]): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link = "";
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (pipes.includes(link)) {
        let cmd = "";
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").slice(0, 100);
        } catch {
          /* gone */
        }
        out.push(`pid ${pid} fd ${fd} (${cmd.trim()})`);
      }
    }
  }
  return out;
}

beforeAll(async () => {
  stack = await box.stack(stackName, config());
  const up = await stack.up();
  expect(up.summary.result).toBe("succeeded");
}, 600_000);

afterAll(async () => {
  if (stack) {
    await setConfig(stack, config());
    await stack.destroy().catch(() => undefined);
    await stack.workspace.removeStack(stackName).catch(() => undefined);
  }
}, 600_000);

describe("a port another process holds (row 7)", () => {
  it.each(ENGINES)("$name: refused before the server is stopped, naming `port` and the holder; the server and its configuration stay as they were", async (e) => {
    const before = readFileSync(e.configFile, "utf8");
    const pid = e.pid();
    const holder = await stranger(e.taken);
    try {
      await setConfig(stack, e.withPort(e.taken));
      const message = await upFails();
      expect(message).toContain(`port: ${e.taken} is already in use by another process: pid ${holder.pid} (socat TCP-LISTEN:${e.taken}`);
      expect(message).toMatch(/left as they were/);
      // No outage: the same server process still answers on its port; its configuration is unchanged.
      expect(e.answers(e.port)).toBe(true);
      expect(e.pid()).toBe(pid);
      expect(readFileSync(e.configFile, "utf8")).toBe(before);
      expect(existsSync(`${e.configFile}.dbstack-pending`)).toBe(false);
    } finally {
      holder.kill("SIGKILL");
      await setConfig(stack, config());
    }
    // Back to the declared port: the server was never down, and is still serving.
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(e.answers(e.port)).toBe(true);
  });
});

describe("a server stopped from outside (row 7's second half)", () => {
  it.each(ENGINES)("$name: the preview shows its configure step as changed, and up starts it again", async (e) => {
    e.stop();
    expect(e.answers(e.port)).toBe(false);
    const preview = await stack.preview();
    expect(changes({ resourceChanges: preview.changeSummary }).update ?? 0).toBeGreaterThanOrEqual(1);
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(changes(up.summary).update ?? 0).toBeGreaterThanOrEqual(1);
    expect(e.answers(e.port)).toBe(true);
    // A second up with the server running changes nothing.
    const again = await stack.up();
    expect(changes(again.summary)).toEqual({ same: expect.any(Number) });
  });
});

describe("npm run pulumi -- up | tee log (row 9)", () => {
  it("returns as soon as the up ends, and no server holds the caller's pipes (nor a stray descriptor it left open)", async () => {
    // Both servers down, so this up starts them: the servers are the processes that would inherit the pipes.
    for (const e of ENGINES) e.stop();
    const log = join(box.dir, "pipeline.log");
    const pipes = join(box.dir, "pipes");
    // fd 3: a stray descriptor the caller left open (as CI runners do).
    const command = [
      `readlink /proc/$$/fd/1 > ${pipes}; readlink /proc/$$/fd/3 >> ${pipes}`,
      `bash scripts/pulumi.sh up --yes --skip-preview --stack ${stackName} --cwd ${box.projectDir} 2>&1 | tee ${log}`,
    ].join("\n");
    const child = spawn("bash", ["-c", command], {
      cwd: ROOT,
      env: { ...process.env, PULUMI_BACKEND_URL: box.backend },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    let endedAt = 0;
    child.stdout!.on("data", (d: Buffer) => {
      output += d.toString();
      if (!endedAt && /Duration: /.test(output)) endedAt = Date.now();
    });
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const closed = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 300_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    const held = holdersOf(readFileSync(pipes, "utf8").trim().split("\n"));
    if (closed === null) process.kill(-child.pid!, "SIGKILL");
    expect(endedAt, output).toBeGreaterThan(0);
    expect(held, "processes holding the caller's pipes").toEqual([]);
    expect(closed, output).toBe(0);
    expect(Date.now() - endedAt).toBeLessThan(15_000);
    expect(readFileSync(log, "utf8")).toMatch(/Duration: /);
    // The up started both servers, and nothing of pulumi.sh (bash, tee, grep) is left behind.
    for (const e of ENGINES) expect(e.answers(e.port), e.name).toBe(true);
    const leftovers = execFileSync("bash", ["-c", `pgrep -af '[s]cripts/pulumi.sh up --yes --skip-preview --stack ${stackName}' || true`], { encoding: "utf8" }).trim();
    expect(leftovers).toBe("");
  }, 400_000);
});
