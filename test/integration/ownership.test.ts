/**
 * Mine or not mine, through the real engine (issue 17 rows 3 and 8, deliverables 3 and 6): two
 * clones of the project (two sandboxes: two program directories, so two host prefixes) each run a
 * stack on this machine. Stack B declares the MariaDB instance and the PostgreSQL cluster stack A
 * runs: B's up fails naming A before anything of A's is changed, A's servers keep running on their
 * own ports with their data, B's destroy leaves them, and A's destroy still works. Then A's
 * destroy (data kept) leaves nothing of dbstack's but the data and the backups, and A's next up
 * succeeds and takes its data back; a destroy with allowDataRemoval leaves nothing at all.
 *
 * The same destroy then up for a MariaDB server on an SSH test host (a network namespace with an
 * sshd; it shares this machine's file system, so its files are checked here).
 *
 * A deployment made by the dbstack this branch started from (before markers) is adopted by the
 * next up of the same stack with this code: the same program directory, its components and
 * stacks symlinks switched from the old tree (git archive) to this one.
 *
 * Owns: ports 5575, 5576 (PostgreSQL) and 3375, 3376 (MariaDB) on this machine (3376 also on
 * the test host); cluster and instance names itownp, itownm, itownssh and itownold; the test host
 * ownhost1; the sandboxes' own directories. No container.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync } from "fs";
import { tmpdir } from "os";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { pulumiEnv } from "../../scripts/lib/env";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stackHostPrefix } from "../../components/model/naming";
import { OWNER_FILE } from "../../components/targets/ownership";
import { ROOT, sandbox, setConfig, sqlite, type Sandbox, upError } from "./harness";
import { createTestHosts, type TestHosts } from "./support/hosts";

const boxA = sandbox("ownA");
const boxB = sandbox("ownB");
const PORTS = { mariadb: { a: 3375, b: 3376 }, postgres: { a: 5575, b: 5576 } };
const MARIADB = "itownm";
const POSTGRES = "itownp";
const MARIADB_DATA = `/var/lib/dbstack-mariadb/${MARIADB}`;
const POSTGRES_DATA = `/var/lib/postgresql/15/${POSTGRES}`;
const SOCKET = `/run/mysqld/dbstack-${MARIADB}.sock`;
const SQLITE_PATH = join(boxA.dir, "sqlite", "app.db");
const BACKUPS = join(boxA.dir, "backups");

/** Every stack with the config it was last given, so that cleanup can allow data removal. */
const stacks = new Map<Stack, Record<string, unknown>>();
let a: Stack;
let prefixA: string;

const server = (extra: Record<string, unknown>) => ({
  hostFacts: { memoryMb: 1024, cpus: 2, storage: "ssd" },
  maxConnections: 20,
  databases: { app: { owner: "app" } },
  users: { app: { grants: { app: "owner" } } },
  ...extra,
});

function configA(allowDataRemoval = false): Record<string, unknown> {
  return {
    allowDataRemoval,
    mariadb: { main: server({ port: PORTS.mariadb.a, instanceName: MARIADB, version: "10.11", backup: { dir: join(BACKUPS, "mariadb") }, maintenanceSchedule: "30 3 * * 0" }) },
    postgres: { main: server({ port: PORTS.postgres.a, instanceName: POSTGRES, version: 15, backup: { dir: join(BACKUPS, "postgres") }, maintenanceSchedule: "30 3 * * 0" }) },
    sqlite: { app: { path: SQLITE_PATH, backup: { dir: join(BACKUPS, "sqlite") } } },
  };
}

async function newStack(box: Sandbox, name: string, config: Record<string, unknown>): Promise<Stack> {
  const stack = await box.stack(`${name}-${process.pid}`, config);
  stacks.set(stack, config);
  return stack;
}

async function configure(stack: Stack, config: Record<string, unknown>): Promise<void> {
  stacks.set(stack, config);
  await setConfig(stack, config);
}

function listening(port: number): boolean {
  return execFileSync("ss", ["-ltnH", `sport = :${port}`], { encoding: "utf8" }).trim() !== "";
}

function mariadbRoot(sql: string): string {
  return execFileSync("mariadb", ["--no-defaults", "--protocol=socket", `--socket=${SOCKET}`, "-uroot", "--batch", "--skip-column-names", "-e", sql], { encoding: "utf8" }).trim();
}

function postgresSu(sql: string): string {
  return execFileSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-tA", "-h", "/var/run/postgresql", "-p", String(PORTS.postgres.a), "-d", "app", "-c", sql], { encoding: "utf8", cwd: "/" }).trim();
}

/** The rows each engine holds: what must survive another stack's up and destroy, and A's own destroy that keeps data. */
function dataOfA(): Record<string, string> {
  return { mariadb: mariadbRoot("SELECT v FROM app.kept"), postgres: postgresSu("SELECT v FROM kept"), sqlite: sqlite(SQLITE_PATH, "SELECT v FROM kept") };
}

/** dbstack's host-level files of a stack on this machine (tools, cron files, logs, default backups), by its prefix. */
function hostFilesOf(prefix: string): string[] {
  const found: string[] = [];
  for (const dir of ["/usr/local/lib", "/etc/cron.d", "/var/log", "/var/backups"]) {
    for (const f of readdirSync(dir)) if (f.startsWith(prefix)) found.push(join(dir, f));
  }
  return found;
}

/**
 * Stops and removes this file's instances and clusters, also those a crashed or failed earlier run
 * left (their data is throwaway): kept with their stack's marker, they would be refused as
 * another stack's.
 */
function dropTestInstances(): void {
  for (const i of [MARIADB, "itownm2", "itownssh", "itownold"]) {
    execFileSync("bash", [
      "-c",
      // By their pid files only (the supervisor first, so that it does not restart the server).
      `for f in /run/mysqld/dbstack-${i}.supervisor.pid /run/mysqld/dbstack-${i}.pid; do pid=$(cat "$f" 2>/dev/null) && [ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 1; done; ` +
        `rm -rf /etc/mysql/dbstack/${i} /var/lib/dbstack-mariadb/${i} /run/mysqld/dbstack-${i}.*; true`,
    ]);
  }
  execFileSync("bash", ["-c", `pg_dropcluster --stop 15 ${POSTGRES} 2>/dev/null; rm -rf /etc/postgresql/15/${POSTGRES} ${POSTGRES_DATA} /var/lib/postgresql/.dbstack-15-${POSTGRES}.*; true`]);
}

beforeAll(async () => {
  dropTestInstances();
  a = await newStack(boxA, "owna", configA());
  prefixA = stackHostPrefix("dbstack", a.name, boxA.projectDir);
  await a.up();
  mariadbRoot("CREATE TABLE app.kept (v VARCHAR(20)); INSERT INTO app.kept VALUES ('maria-a')");
  postgresSu("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('pg-a')");
  sqlite(SQLITE_PATH, "CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('sqlite-a')");
}, 600_000);

afterAll(async () => {
  for (const [stack, config] of stacks) {
    // Destroy runs the delete scripts the last up recorded: an up with allowDataRemoval first.
    await setConfig(stack, { ...config, allowDataRemoval: true }).catch(() => undefined);
    await stack.up().catch(() => undefined);
    await stack.destroy().catch(() => undefined);
    await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
  }
  dropTestInstances();
  for (const box of [boxA, boxB]) rmSync(box.dir, { recursive: true, force: true });
}, 600_000);

describe("stack A's deployments carry its marker", () => {
  it("on the instance, the cluster, their data directories and the tools directories, naming project, stack and clone", () => {
    const line = `dbstack project=dbstack stack=${a.name} id=${prefixA}\n`;
    for (const marker of [
      `/etc/mysql/dbstack/${MARIADB}/owner`,
      join(MARIADB_DATA, OWNER_FILE),
      `/etc/postgresql/15/${POSTGRES}/${OWNER_FILE}`,
      join(POSTGRES_DATA, OWNER_FILE),
      `/usr/local/lib/${prefixA}/mariadb-main/${OWNER_FILE}`,
      `/usr/local/lib/${prefixA}/postgres-main/${OWNER_FILE}`,
    ]) {
      expect(readFileSync(marker, "utf8"), marker).toBe(line);
    }
  });
});

describe("another clone's stack never takes over stack A's servers (issue 17 row 3)", () => {
  it("A's own preview after its up plans no change (its owner check passes on its own markers)", async () => {
    const preview = await a.preview();
    expect(preview.changeSummary).toEqual({ same: expect.any(Number) });
  }, 600_000);

  const cases: [engine: "mariadb" | "postgres", config: () => Record<string, unknown>, refusal: () => string][] = [
    [
      "mariadb",
      () => ({ allowDataRemoval: true, mariadb: { main: server({ port: PORTS.mariadb.b, instanceName: MARIADB, version: "10.11" }) } }),
      () => `instanceName: MariaDB instance ${MARIADB} belongs to another dbstack stack (project=dbstack stack=${a.name} id=${prefixA}`,
    ],
    [
      "postgres",
      () => ({ allowDataRemoval: true, postgres: { main: server({ port: PORTS.postgres.b, instanceName: POSTGRES, version: 15 }) } }),
      () => `instanceName: PostgreSQL cluster 15/${POSTGRES} belongs to another dbstack stack (project=dbstack stack=${a.name} id=${prefixA}`,
    ],
  ];
  for (const [engine, config, refusal] of cases) {
    it(`${engine}: B's preview and up fail naming A; A keeps running on its own port with its data; B's destroy leaves it`, async () => {
      const before = dataOfA();
      const b = await newStack(boxB, `ownb-${engine}`, config());
      // At preview: the host is read before anything is planned.
      const preview = await b.preview().then(
        () => "the preview succeeded",
        (err: Error) => String(err.message),
      );
      expect(preview).toContain(refusal());
      const message = await upError(b);
      expect(message).toContain(refusal());
      expect(listening(PORTS[engine].a), `A's ${engine} still listens on its port`).toBe(true);
      expect(listening(PORTS[engine].b), `B's port ${PORTS[engine].b}`).toBe(false);
      expect(dataOfA()).toEqual(before);
      await b.destroy();
      expect(listening(PORTS[engine].a)).toBe(true);
      expect(dataOfA()).toEqual(before);
      expect(existsSync(engine === "mariadb" ? MARIADB_DATA : POSTGRES_DATA)).toBe(true);
    }, 600_000);
  }

  it("a data directory another stack's marker names is refused at preview even under another instance name", async () => {
    const b = await newStack(boxB, "ownb-datadir", { allowDataRemoval: true, mariadb: { main: server({ port: PORTS.mariadb.b, instanceName: "itownm2", dataDirectory: MARIADB_DATA }) } });
    const preview = await b.preview().then(
      () => "the preview succeeded",
      (err: Error) => String(err.message),
    );
    expect(preview).toContain(`dataDirectory: the data directory ${MARIADB_DATA} belongs to another dbstack stack`);
    const message = await upError(b);
    expect(message).toContain(`dataDirectory: the data directory ${MARIADB_DATA} belongs to another dbstack stack (project=dbstack stack=${a.name} id=${prefixA}`);
    expect(listening(PORTS.mariadb.b)).toBe(false);
    await b.destroy();
    expect(existsSync("/etc/mysql/dbstack/itownm2"), "B's destroy leaves nothing of its own behind either").toBe(false);
    expect(mariadbRoot("SELECT v FROM app.kept")).toBe("maria-a");
  }, 600_000);
});

describe("destroy, then up, of the same stack (issue 17 row 8)", () => {
  it("destroy keeping the data leaves nothing of dbstack's but the data and the backups", async () => {
    for (const tool of ["mariadb-main", "postgres-main"]) execFileSync(`/usr/local/lib/${prefixA}/${tool}/backup`);
    await a.destroy();
    expect(listening(PORTS.mariadb.a)).toBe(false);
    expect(listening(PORTS.postgres.a)).toBe(false);
    expect(hostFilesOf(prefixA), "tools, password files, cron files and logs of the stack").toEqual([]);
    // The data, with the marker that says whose it is; and the backups.
    for (const dir of [MARIADB_DATA, POSTGRES_DATA]) expect(readFileSync(join(dir, OWNER_FILE), "utf8")).toContain(prefixA);
    expect(existsSync(SQLITE_PATH)).toBe(true);
    for (const engine of ["mariadb", "postgres"]) expect(readdirSync(join(BACKUPS, engine)).length, `${engine} backups`).toBeGreaterThan(0);
  }, 600_000);

  it("the next up succeeds and takes the kept data back", async () => {
    await a.up();
    expect(dataOfA()).toEqual({ mariadb: "maria-a", postgres: "pg-a", sqlite: "sqlite-a" });
  }, 600_000);

  it("destroy with allowDataRemoval leaves nothing of the stack on the host, and up then starts afresh", async () => {
    await configure(a, configA(true));
    await a.up();
    await a.destroy();
    expect(hostFilesOf(prefixA)).toEqual([]);
    for (const gone of [MARIADB_DATA, POSTGRES_DATA, `/etc/mysql/dbstack/${MARIADB}`, `/etc/postgresql/15/${POSTGRES}`, SQLITE_PATH]) expect(existsSync(gone), gone).toBe(false);
    await a.up();
    expect(spawnSync("mariadb", ["--no-defaults", `--socket=${SOCKET}`, "-uroot", "-e", "SELECT 1 FROM app.kept"]).status, "a fresh instance").not.toBe(0);
    expect(readFileSync(join(MARIADB_DATA, OWNER_FILE), "utf8")).toContain(prefixA);
  }, 900_000);
});

describe("destroy, then up, of a server on an SSH host", () => {
  const INSTANCE = "itownssh";
  let hosts: TestHosts;
  let s: Stack;
  let prefixS: string;
  const configS = (allowDataRemoval: boolean) => {
    const h = hosts.host("ownhost1");
    return {
      allowDataRemoval,
      hosts: { h1: { address: h.address, privateKey: h.privateKey, hostKey: h.hostKey } },
      mariadb: { main: server({ host: "h1", port: PORTS.mariadb.b, instanceName: INSTANCE, version: "10.11", backup: {}, maintenanceSchedule: "30 3 * * 0" }) },
    };
  };
  const onHost = async (sql: string) => {
    const r = await hosts.ssh("ownhost1", `mariadb --no-defaults --protocol=socket --socket=/run/mysqld/dbstack-${INSTANCE}.sock -uroot --batch --skip-column-names -e ${JSON.stringify(sql)}`);
    if (r.code !== 0) throw new Error(`mariadb on ownhost1 failed: ${r.stderr}`);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    hosts = await createTestHosts(["ownhost1"]);
    s = await newStack(boxA, "ownssh", configS(false));
    prefixS = stackHostPrefix("dbstack", s.name, boxA.projectDir);
  }, 300_000);

  afterAll(async () => {
    try {
      await configure(s, configS(true));
      await s.up().catch(() => undefined);
      await s.destroy();
    } finally {
      await hosts?.destroy();
    }
  }, 600_000);

  it("destroy keeping the data leaves only the data and the backups; the next up takes the data back", async () => {
    await s.up();
    await onHost("CREATE TABLE app.kept (v VARCHAR(20)); INSERT INTO app.kept VALUES ('over-ssh')");
    await s.destroy();
    expect(hostFilesOf(prefixS).filter((f) => !f.startsWith("/var/backups/")), "tools, password files, cron files and logs").toEqual([]);
    expect(readFileSync(join(`/var/lib/dbstack-mariadb/${INSTANCE}`, OWNER_FILE), "utf8")).toContain(prefixS);
    expect((await hosts.ssh("ownhost1", `mariadb-admin --no-defaults --socket=/run/mysqld/dbstack-${INSTANCE}.sock -uroot ping`)).code, "stopped").not.toBe(0);
    await s.up();
    expect(await onHost("SELECT v FROM app.kept")).toBe("over-ssh");
  }, 900_000);

  it("destroy with allowDataRemoval leaves nothing of the stack on the host, backups included", async () => {
    await configure(s, configS(true));
    await s.up();
    await s.destroy();
    expect(hostFilesOf(prefixS)).toEqual([]);
    expect(existsSync(`/var/lib/dbstack-mariadb/${INSTANCE}`)).toBe(false);
  }, 900_000);
});

describe("a deployment made before markers", () => {
  /** The commit this work started from: its dbstack marks nothing it makes. */
  const BEFORE_MARKERS = "aa7933bed9df9cbb3471a424a0eb5d18a628485e";
  const INSTANCE = "itownold";
  const dir = mkdtempSync(join(tmpdir(), "dbstack-ownold-"));
  const projectDir = join(dir, "project");
  let old: Stack;

  /** Points the project's program at a tree: the old dbstack, or this one. */
  const useTree = (tree: string) => {
    for (const entry of ["components", "stacks"]) {
      if (existsSync(join(projectDir, entry))) unlinkSync(join(projectDir, entry));
      symlinkSync(join(tree, entry), join(projectDir, entry));
    }
  };
  const configOld = (allowDataRemoval: boolean) => ({ allowDataRemoval, mariadb: { main: server({ port: PORTS.mariadb.b, instanceName: INSTANCE, version: "10.11" }) } });

  beforeAll(async () => {
    const tree = join(dir, "before-markers");
    mkdirSync(tree);
    mkdirSync(projectDir);
    execFileSync("bash", ["-c", `git -C ${ROOT} archive ${BEFORE_MARKERS} components stacks tsconfig.json | tar -x -C ${tree}`]);
    for (const entry of ["Pulumi.yaml", "package.json", "tsconfig.json", "node_modules"]) symlinkSync(join(ROOT, entry), join(projectDir, entry));
    // Node resolves modules from the old tree's real path: it needs the packages too.
    for (const entry of ["package.json", "node_modules"]) symlinkSync(join(ROOT, entry), join(tree, entry));
    mkdirSync(join(dir, "state"));
    useTree(tree);
    const name = `ownold-${process.pid}`;
    old = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: projectDir }, { envVars: pulumiEnv(name, { PULUMI_BACKEND_URL: `file://${join(dir, "state")}` }) });
    await configure(old, configOld(false));
    await old.up();
  }, 600_000);

  afterAll(async () => {
    useTree(ROOT);
    await configure(old, configOld(true)).catch(() => undefined);
    await old.up().catch(() => undefined);
    await old.destroy().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }, 600_000);

  it("is adopted by the next up with this code: marked, still running, and destroyed by its own stack", async () => {
    expect(existsSync(`/etc/mysql/dbstack/${INSTANCE}/owner`), "the old dbstack marks nothing").toBe(false);
    const prefix = stackHostPrefix("dbstack", old.name, projectDir);
    useTree(ROOT);
    await old.up();
    const line = `dbstack project=dbstack stack=${old.name} id=${prefix}\n`;
    expect(readFileSync(`/etc/mysql/dbstack/${INSTANCE}/owner`, "utf8")).toBe(line);
    expect(readFileSync(`/var/lib/dbstack-mariadb/${INSTANCE}/${OWNER_FILE}`, "utf8")).toBe(line);
    expect(readFileSync(`/usr/local/lib/${prefix}/mariadb-main/${OWNER_FILE}`, "utf8")).toBe(line);
    expect(listening(PORTS.mariadb.b)).toBe(true);
    await configure(old, configOld(true));
    await old.up();
    await old.destroy();
    expect(listening(PORTS.mariadb.b)).toBe(false);
    expect(existsSync(`/var/lib/dbstack-mariadb/${INSTANCE}`)).toBe(false);
    expect(hostFilesOf(prefix)).toEqual([]);
  }, 900_000);
});
