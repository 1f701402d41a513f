import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawn, spawnSync } from "child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, sandbox, setConfig, upError } from "./harness";

// Issue 22: MariaDB point-in-time recovery (mariadb-backup + archived binary logs) and its
// restore drills, on this machine. Owns: port 7201 (the instance), 7202 (the drill's scratch
// instance), 7203 (a restore beside); instance mpitr; stack it-mp-<pid>. The repository, tools and
// restores live in the sandbox.
const box = sandbox("mpitr");
const stackName = `it-mp-${process.pid}`;
const PORT = 7201;
const DRILL_PORT = 7202;
const BESIDE_PORT = 7203;
const INSTANCE = "mpitr";
const RPO_S = 5;
const repo = join(box.dir, "repo");
const foreignRepo = join(box.dir, "foreign-repo");
const tools = join(box.dir, "tools");
const beside = join(box.dir, "beside");
const onFailureMark = join(box.dir, "on-failure.json");
const dataDir = `/var/lib/dbstack-mariadb/${INSTANCE}`;
const socket = `/run/mysqld/dbstack-${INSTANCE}.sock`;
let stack: Stack;

function config(dir = repo) {
  return {
    allowDataRemoval: true,
    mariadb: {
      mpitr: {
        host: "local",
        port: PORT,
        instanceName: INSTANCE,
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
        toolsDir: tools,
        pitr: { dir, archiveTimeoutS: RPO_S, drill: { port: DRILL_PORT, onFailure: `cp "$DRILL_RESULT" ${onFailureMark}` } },
      },
    },
  };
}

/** The client as root over a socket (unix_socket authentication); rows tab-separated. */
function sql(text: string, sock = socket, db = "app"): string {
  return execFileSync("mariadb", ["--no-defaults", "--protocol=socket", `--socket=${sock}`, "-uroot", "--batch", "--skip-column-names", db], { input: text, encoding: "utf8", cwd: "/" }).trim();
}

/** The client without blocking the test's event loop (long writes). */
function sqlAsync(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("mariadb", ["--no-defaults", "--protocol=socket", `--socket=${socket}`, "-uroot", "--batch", "app"], { cwd: "/", stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`mariadb failed (${code}): ${err}`))));
    child.stdin.end(text);
  });
}

function tool(name: string, args: string[] = [], env: Record<string, string> = {}): { status: number; out: string; err: string } {
  const r = spawnSync(join(tools, name), args, { encoding: "utf8", cwd: "/", env: { ...process.env, ...env } });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function lastDrill(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(repo, "drills", "last.json"), "utf8"));
}

function newestBackup(): string {
  return readdirSync(join(repo, "backups")).filter((f) => /^[0-9]{8}-[0-9]{6}F\.tar\.zst\.enc$/.test(f)).sort().pop()!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ok: () => boolean, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await sleep(250);
  }
}

/** Kills the instance as a lost disk would: its supervisor first (it would restart the server), then the server. */
function killInstance(): void {
  for (const pidFile of [`/run/mysqld/dbstack-${INSTANCE}.supervisor.pid`, `/run/mysqld/dbstack-${INSTANCE}.pid`]) {
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : 0;
    if (pid > 0) spawnSync("kill", ["-9", String(pid)]);
  }
}

function stopBeside(): void {
  spawnSync("mariadb-admin", ["--no-defaults", `--socket=${beside}.run/mysqld.sock`, "-uroot", "shutdown"], { cwd: "/" });
}

/** An instant as a time in a zone 2 hours east of UTC ('2026-12-07 16:00:05+02:00'): the tool must not take it for UTC or host time. */
function inPlusTwo(epochS: number): string {
  return new Date((epochS + 7200) * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "+02:00");
}

beforeAll(async () => {
  mkdirSync(foreignRepo, { recursive: true });
  writeFileSync(join(foreignRepo, ".dbstack-owner"), "dbstack project=dbstack stack=someone-else id=x\n");
  writeFileSync(join(foreignRepo, "backup.info"), "theirs\n");
  stack = await box.stack(stackName, config(foreignRepo));
}, 60_000);

afterAll(async () => {
  stopBeside();
  if (stack) {
    await setConfig(stack, config()).catch(() => undefined);
    await stack.destroy().catch(() => undefined);
    await stack.workspace.removeStack(stackName).catch(() => undefined);
  }
  // A destroy that could not finish (the test lost the data directory on purpose) leaves nothing of this test's own instance behind.
  if (existsSync(`/etc/mysql/dbstack/${INSTANCE}`)) {
    console.error(`pitr-mariadb: destroy left /etc/mysql/dbstack/${INSTANCE}; removing this test's instance`);
    killInstance();
    rmSync(`/etc/mysql/dbstack/${INSTANCE}`, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
  for (const d of readdirSync("/var/lib/dbstack-mariadb")) if (d.startsWith(`${INSTANCE}.`) || d.startsWith("dbstack-drill.")) rmSync(`/var/lib/dbstack-mariadb/${d}`, { recursive: true, force: true });
  rmSync(box.dir, { recursive: true, force: true });
}, 600_000);

describe("MariaDB point-in-time recovery: bad input first", () => {
  it("a repository in the system's tree or a diffSchedule is refused at preview, naming the field", async () => {
    await setConfig(stack, { ...config(), mariadb: { mpitr: { ...config().mariadb.mpitr, pitr: { dir: "/etc/dbstack-x" } } } });
    await expect(stack.preview()).rejects.toThrow(/pitr\.dir: /);
    await setConfig(stack, { ...config(), mariadb: { mpitr: { ...config().mariadb.mpitr, pitr: { diffSchedule: "0 1 * * *" } } } });
    await expect(stack.preview()).rejects.toThrow(/pitr\.diffSchedule: mariadb point-in-time recovery takes full physical backups only/);
  }, 120_000);

  it("another stack's repository is refused, naming pitr.dir, and left as it was", async () => {
    await setConfig(stack, config(foreignRepo));
    const err = await upError(stack);
    expect(err).toMatch(/pitr\.dir: the repository .*foreign-repo belongs to another dbstack stack/);
    expect(readdirSync(foreignRepo).sort()).toEqual([".dbstack-owner", "backup.info"]);
    await setConfig(stack, config());
  }, 600_000);
});

describe("MariaDB point-in-time recovery (mariadb-backup, archived binary logs)", () => {
  it("up turns the binary log on, takes the first backup into an encrypted repository, and schedules backups, archiving and the drill; no secret in state or world-readable files", async () => {
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(sql("SELECT @@log_bin, @@binlog_format, @@server_id")).toBe("1\tROW\t1");
    expect(newestBackup()).toMatch(/F\.tar\.zst\.enc$/);
    const conf = readdirSync("/etc/dbstack-pitr").map((f) => join("/etc/dbstack-pitr", f)).filter((f) => f.includes("mpitr"));
    expect(conf.length).toBe(2);
    for (const f of conf) expect(statSync(f).mode & 0o777).toBe(0o600);
    const password = /password="([^"]+)"/.exec(readFileSync(conf.find((f) => f.endsWith(".conf"))!, "utf8"))![1];
    const key = readFileSync(conf.find((f) => f.endsWith(".key"))!, "utf8");
    const state = readFileSync(join(box.dir, "state", ".pulumi", "stacks", "dbstack", `${stackName}.json`), "utf8");
    expect(state).toContain("mpitr-pitr-account");
    expect(state.includes(password)).toBe(false);
    expect(state.includes(key)).toBe(false);
    expect(JSON.stringify(await stack.outputs())).not.toContain(password);
    // Least privilege: the backup account cannot read the application's data.
    expect(sql("SHOW GRANTS FOR 'dbstack_pitr'@'localhost'")).toMatch(/GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, BINLOG ADMIN ON \*\.\*/);
    const cron = readdirSync("/etc/cron.d").filter((f) => f.includes("mariadb-mpitr-pitr-"));
    expect(cron.sort().map((f) => f.replace(/.*-pitr-/, ""))).toEqual(["archive", "drill", "full"]);
    expect(readFileSync(join("/etc/cron.d", cron.find((f) => f.endsWith("archive"))!), "utf8")).toContain(`* * * * * root ${tools}/pitr-archive --for 58`);
    expect(readFileSync(join("/etc/cron.d", cron.find((f) => f.endsWith("drill"))!), "utf8")).toContain(`0 2 * * * root ${tools}/pitr-drill`);
  }, 600_000);

  it("a second up reports zero changes", async () => {
    const up = await stack.up();
    expect(changes(up.summary)).toEqual({ same: expect.any(Number) });
  }, 300_000);

  it("pitr-restore refuses a target time with shell or SQL in it, and an in-place restore without --yes, before anything is touched", () => {
    for (const bad of ["2026-01-01 00:00:00'; DROP TABLE x; --", "2026-01-01 00:00:00$(touch /tmp/pwned)", "$(id)"]) {
      const r = tool("pitr-restore", ["--to-time", bad]);
      expect(r.status).toBe(2);
      expect(r.err).toContain("--to-time: not a timestamp");
    }
    const r = tool("pitr-restore", ["--to-latest", "--in-place"]);
    expect(r.status).toBe(2);
    expect(r.err).toContain("add --yes");
    expect(sql("SELECT 1")).toBe("1");
    expect(existsSync("/tmp/pwned")).toBe(false);
  });

  let lastAck = 0;
  it("restore --to-time T (given in another zone, the host's zone set elsewhere) after the data directory is destroyed gives exactly the rows committed up to T; --to-latest loses at most the RPO", async () => {
    sql("CREATE TABLE t (n int PRIMARY KEY, at double NOT NULL)");
    const rows = (from: number, to: number, pause: number) => Array.from({ length: to - from + 1 }, (_, i) => `INSERT INTO t VALUES (${from + i}, UNIX_TIMESTAMP(NOW(6))); DO SLEEP(${pause});`).join("\n");
    // cron starts the archiver every minute: wait until it has run once.
    await waitFor("the archiver started by cron", () => existsSync(join(repo, ".archiver.lock")), 90);
    sql(rows(1, 20, 0.02));
    // Binary log events carry whole seconds: T is a whole second, with no write within 300 ms of it.
    const T = Math.ceil((Date.now() + 300) / 1000);
    await waitFor("T to pass", () => Date.now() >= T * 1000 + 300, 5);
    sql(rows(21, 40, 0.02));
    // Writes go on for several RPOs, then the disk is lost: no clean shutdown.
    await sqlAsync(rows(41, 200, 0.1));
    lastAck = Number(sql("SELECT max(at) FROM t"));
    killInstance();
    rmSync(dataDir, { recursive: true, force: true });

    const toT = tool("pitr-restore", ["--to-time", inPlusTwo(T), "--into", beside, "--port", String(BESIDE_PORT)], { TZ: "America/New_York" });
    expect(toT.status, toT.err).toBe(0);
    expect(toT.out).toMatch(/restored backup [0-9]{8}-[0-9]{6}F, replayed to 20[0-9-]+ [0-9:]+ UTC/);
    expect(toT.out).toMatch(/last transaction replayed at 20[0-9-]+T[0-9:]+Z/);
    expect(sql("SELECT group_concat(n ORDER BY n) FROM t", `${beside}.run/mysqld.sock`)).toBe(Array.from({ length: 20 }, (_, i) => i + 1).join(","));
    stopBeside();

    const archivedBefore = archivedBinlogs();
    const latest = tool("pitr-restore", ["--to-latest", "--in-place", "--yes"]);
    expect(latest.status, latest.err).toBe(0);
    expect(latest.out).toContain(`runs the restored data on port ${PORT}`);
    const [count, maxN, maxAt] = sql("SELECT count(*), max(n), max(at) FROM t").split("\t").map(Number);
    expect(count).toBe(maxN); // no gap: a prefix of the acknowledged rows
    // What is lost: the rows acknowledged after the last archived binary log, at most the RPO
    // (plus cron's start of the next archiver run and the copy).
    expect(lastAck - maxAt).toBeLessThanOrEqual(RPO_S + 4);
    expect(maxN).toBeGreaterThanOrEqual(40);
    // The restored instance's binary logs are numbered after the archive's: none takes an archived name.
    const first = sql("SHOW BINARY LOGS").split("\n")[0].split("\t")[0];
    expect(binlogNumber(first)).toBeGreaterThan(binlogNumber(archivedBefore[archivedBefore.length - 1]));
  }, 600_000);

  it("an in-place restore of a running instance sets its data directory aside as a safety copy first, and brings back every archived write", async () => {
    sql("INSERT INTO t VALUES (9999, UNIX_TIMESTAMP(NOW(6)))");
    // The row is in the binary log current right after its commit (or an earlier one); the archiver
    // (cron's) closes and copies it within the RPO.
    const holding = sql("SHOW MASTER STATUS").split("\t")[0];
    await waitFor(`the binary log holding row 9999 (${holding}) to be archived`, () => archivedBinlogs().includes(holding), 90);
    const r = tool("pitr-restore", ["--to-latest", "--in-place", "--yes"]);
    expect(r.status, r.err).toBe(0);
    const safety = /kept as (\S+)/.exec(r.out)![1];
    expect(safety).toMatch(new RegExp(`^${dataDir}\\.before-restore-[0-9]{8}T[0-9]{6}Z$`));
    expect(existsSync(join(safety, "mysql"))).toBe(true);
    const backups = readdirSync(join(repo, "backups")).filter((f) => f.endsWith(".info")).sort().map((f) => `${f}: ${readFileSync(join(repo, "backups", f), "utf8").replace(/\n/g, " ")}`);
    expect(sql("SELECT count(*) FROM t WHERE n = 9999"), `${r.out}\nrow in ${holding}; archived: ${archivedBinlogs().join(" ")}\n${backups.join("\n")}`).toBe("1");
    expect(sql("SELECT @@port")).toBe(String(PORT));
  }, 300_000);

  it("a drill on a good backup passes and records its result; the scratch instance is gone", () => {
    const r = tool("pitr-drill");
    expect(r.status, r.err).toBe(0);
    const result = lastDrill();
    expect(Object.keys(result)).toEqual(["deployment", "engine", "startedAt", "durationS", "backup", "backupAgeH", "recoveryPoint", "ok", "reason"]);
    expect(result).toMatchObject({ deployment: "mpitr", engine: "mariadb", backup: newestBackup().replace(/\.tar\.zst\.enc$/, ""), ok: true, reason: "" });
    expect(result.recoveryPoint).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(statSync(join(repo, "drills", "last.json")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(repo, "drills", "history.jsonl"), "utf8").trim().split("\n")).toHaveLength(1);
    expect(readdirSync("/var/lib/dbstack-mariadb").filter((f) => f.startsWith("dbstack-drill."))).toEqual([]);
    expect(existsSync(onFailureMark)).toBe(false);
    expect(tool("health-app").out).toMatch(/last restore drill: passed /);
  }, 300_000);

  it("a drill on a corrupted newest backup fails, records why, and runs onFailure", () => {
    const file = join(repo, "backups", newestBackup());
    flipBytes(file);
    const r = tool("pitr-drill");
    expect(r.status).toBe(1);
    const result = lastDrill();
    expect(result).toMatchObject({ ok: false, backup: newestBackup().replace(/\.tar\.zst\.enc$/, "") });
    expect(String(result.reason)).toMatch(/does not match its checksum/);
    expect(JSON.parse(readFileSync(onFailureMark, "utf8"))).toEqual(result);
    expect(readFileSync(join(repo, "drills", "history.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
    const health = tool("health-app");
    expect(health.status, health.err).toBe(0);
    expect(health.out).toMatch(/last restore drill: WARNING: the last restore drill failed/);
    expect(readdirSync("/var/lib/dbstack-mariadb").filter((f) => f.startsWith("dbstack-drill."))).toEqual([]);
  }, 300_000);

  it("retention keeps retentionFull backups, and only the binary logs the oldest kept one needs; the kept backups still pass a drill", () => {
    for (let i = 0; i < 2; i++) expect(tool("pitr-backup").status).toBe(0);
    const backups = readdirSync(join(repo, "backups")).filter((f) => f.endsWith(".info")).sort();
    expect(backups).toHaveLength(2);
    const oldestStart = /^binlog_file=(.*)$/m.exec(readFileSync(join(repo, "backups", backups[0]), "utf8"))![1];
    for (const b of archivedBinlogs()) expect(binlogNumber(b)).toBeGreaterThanOrEqual(binlogNumber(oldestStart));
    expect(binlogNumber(sql("SHOW BINARY LOGS").split("\n")[0].split("\t")[0])).toBeGreaterThanOrEqual(binlogNumber(oldestStart));
    const r = tool("pitr-drill");
    expect(r.status, r.err).toBe(0);
    expect(lastDrill()).toMatchObject({ ok: true, backup: backups[1].replace(/\.info$/, "") });
  }, 300_000);

  it("the last drill is the lastDrill stack output after an up, which reports zero changes", async () => {
    const up = await stack.up();
    expect(changes(up.summary)).toEqual({ same: expect.any(Number) });
    const outputs = await stack.outputs();
    expect(outputs.mariadb.value.mpitr.lastDrill).toEqual(lastDrill());
  }, 300_000);
});

/** The archived binary logs' names, in order. */
function archivedBinlogs(): string[] {
  return readdirSync(join(repo, "binlogs")).filter((f) => f.endsWith(".zst.enc.sha256")).map((f) => f.replace(/\.zst\.enc\.sha256$/, "")).sort();
}

function binlogNumber(name: string): number {
  return Number(name.replace(/^.*\./, ""));
}

function flipBytes(file: string): void {
  const fd = openSync(file, "r+");
  try {
    const at = Math.floor(statSync(file).size / 2);
    const b = Buffer.alloc(16);
    readSync(fd, b, 0, 16, at);
    for (let i = 0; i < 16; i++) b[i] ^= 0xff;
    writeSync(fd, b, 0, 16, at);
  } finally {
    closeSync(fd);
  }
}
