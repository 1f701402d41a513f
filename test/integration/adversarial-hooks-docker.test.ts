/**
 * Issue 17, row 1, on a Docker target: the hooks of a PostgreSQL and a MariaDB server in
 * containers get migrations and health checks holding hostile text (the issue's heredoc escape,
 * every here-document terminator of a rendered script, quotes, `$( )`, backquotes) and given
 * passwords with quotes and `$( )`. Their shipped files travel through `docker exec -i` into the
 * container (no here-document around the script any more). Nothing may run as shell, on the
 * Docker host or in a container; the MariaDB client there refuses LOCAL INFILE.
 *
 * Ports: 5572 (PostgreSQL, host network), 3372 (MariaDB, published on 127.0.0.1). Needs the
 * container engine: run under `flock /tmp/dbstack-containers-tests.lock`.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { readdirSync, rmSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandbox, setConfig, writeMigration } from "./harness";
import { docker, ensureImages, startContainerEngine, type ContainerEngine, type TestImages, CONTAINER_BEFORE_ALL_MS } from "./support/containers";

const PG_PORT = 5572;
const MDB_PORT = 3372;
const box = sandbox("advhook-docker");
const STACK = "advdk";
const dirs = { pg: join(box.dir, "pg-migrations"), mdb: join(box.dir, "mdb-migrations") };
let engine: ContainerEngine;
let images: TestImages;
let stack: Stack;

/** Markers go to /tmp, which exists on the Docker host and in every container: an escape anywhere leaves one. */
const MARK = "advhook-mark";
const mark = (n: string) => `/tmp/${MARK}-${n}`;
const TERMINATORS = ["DBSTACK_SQL", "DBSTACK_EOF", "DBSTACK_FILE", "DBSTACK_UNIT", "DBSTACK_CA_CERTIFICATE", "DBSTACK_PUBLIC_KEY", "DBSTACK_CERTIFICATE", "DBSTACK_IN_CONTAINER_x"];
const ISSUE_LINE = `DBSTACK_SQL); id > ${mark("issue")}; false && out=$(cat <<''`;
const HOSTILE = [
  ISSUE_LINE,
  ...TERMINATORS.flatMap((t) => [t, `${t})`, `${t}); touch ${mark(t)} #`]),
  `'; touch ${mark("sq")}; '`,
  `"; touch ${mark("dq")}; "`,
  `$(touch ${mark("subst")})`,
  `\`touch ${mark("backquote")}\``,
  `touch ${mark("plain")}`,
];
const HOSTILE_COMMENTS = HOSTILE.map((l) => `-- ${l}`).join("\n") + "\nCREATE TABLE adv_ok (x int);\n";
const GIVEN_PASSWORD = `pw'"$(touch ${mark("pw")})\`touch ${mark("pw2")}\`DBSTACK_SQL`;
const CHECK = { name: `${ISSUE_LINE} '$(touch ${mark("name")})`, sql: `SELECT 1 -- '; touch ${mark("check")}; $(touch ${mark("check2")}) DBSTACK_SQL`, expect: "1" };

function config() {
  return {
    allowDataRemoval: true,
    dockerHosts: { dk: { endpoint: engine.dockerHost } },
    postgres: {
      adv: {
        host: "dk",
        port: PG_PORT,
        container: { image: images.postgres, network: "host", memoryMb: 512, cpus: 1 },
        listenAddresses: ["127.0.0.1"],
        databases: { app: { owner: "app", migrations: { dir: dirs.pg }, healthChecks: [CHECK] } },
        users: { app: { grants: { app: "owner" }, password: GIVEN_PASSWORD } },
      },
    },
    mariadb: {
      adv: {
        host: "dk",
        port: MDB_PORT,
        container: { image: images.mariadb, memoryMb: 512 },
        databases: { shop: { owner: "shop", migrations: { dir: dirs.mdb }, healthChecks: [CHECK] } },
        users: { shop: { grants: { shop: "owner" }, hosts: ["localhost", "%"], password: GIVEN_PASSWORD } },
      },
    },
  };
}

/** Sets the config; the keys holding given passwords as secrets. */
async function configure(): Promise<void> {
  const c = config();
  await setConfig(stack, { allowDataRemoval: c.allowDataRemoval, dockerHosts: c.dockerHosts });
  await stack.setConfig("dbstack:postgres", { value: JSON.stringify(c.postgres), secret: true });
  await stack.setConfig("dbstack:mariadb", { value: JSON.stringify(c.mariadb), secret: true });
}

async function dk(args: string[]): Promise<string> {
  const r = await docker(engine.dockerHost, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** This stack's containers and volumes (names start with dbstack-advdk-). */
async function ours(kind: "container" | "volume"): Promise<string[]> {
  const out = kind === "container" ? await dk(["ps", "-a", "--format", "{{.Names}}"]) : await dk(["volume", "ls", "--format", "{{.Name}}"]);
  return out.split("\n").filter((n) => new RegExp(`^dbstack-${STACK}-[0-9a-f]{6}-`).test(n)).sort();
}

/** Markers on the Docker host and in each of this stack's containers. */
async function markers(): Promise<string[]> {
  const found = readdirSync("/tmp").filter((f) => f.startsWith(MARK)).map((f) => `host:${f}`);
  for (const c of await ours("container")) {
    const listed = await dk(["exec", c, "ls", "/tmp"]);
    found.push(...listed.split("\n").filter((f) => f.startsWith(MARK)).map((f) => `${c}:${f}`));
  }
  return found;
}

/** Root's SQL on the MariaDB server in its container (unix_socket over the instance's socket). */
async function mariadbRoot(sql: string): Promise<string> {
  for (const c of await ours("container")) {
    const r = await docker(engine.dockerHost, ["exec", c, "sh", "-c", 'ls /run/mysqld/dbstack-*.sock 2>/dev/null']);
    const socket = r.stdout.trim().split("\n")[0];
    if (r.code === 0 && socket) return (await dk(["exec", c, "mariadb", "--no-defaults", `--socket=${socket}`, "-uroot", "-N", "-e", sql])).trim();
  }
  throw new Error("no MariaDB container of this stack");
}

async function upFails(): Promise<string> {
  const err = await stack.up({ continueOnError: true }).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err, "up should have failed").toBeDefined();
  return err!.message;
}

async function removeOurs(): Promise<void> {
  for (const c of await ours("container")) await docker(engine.dockerHost, ["rm", "-f", c]);
  for (const v of await ours("volume")) await docker(engine.dockerHost, ["volume", "rm", "-f", v]);
}

beforeAll(async () => {
  engine = await startContainerEngine();
  images = await ensureImages();
  await removeOurs();
  for (const d of Object.values(dirs)) writeMigration(d, "0001_hostile_text.sql", HOSTILE_COMMENTS);
  stack = await box.stack(STACK, {});
  await configure();
}, CONTAINER_BEFORE_ALL_MS);

afterAll(async () => {
  try {
    await stack?.destroy().catch(() => undefined);
    await stack?.workspace.removeStack(STACK).catch(() => undefined);
    if (engine) await removeOurs();
  } finally {
    await engine?.stop();
    rmSync(box.dir, { recursive: true, force: true });
  }
}, 600_000);

describe("hostile hook text on a Docker target", () => {
  it("up succeeds: the hostile lines apply as SQL text in both containers, the check's name prints as text; no marker anywhere", async () => {
    const result = await stack.up();
    expect(result.summary.result).toBe("succeeded");
    const pg = result.outputs.postgres.value.adv.hookReports.app;
    const mdb = result.outputs.mariadb.value.adv.hookReports.shop;
    for (const report of [pg, mdb]) {
      expect(report).toContain("applied migration 0001_hostile_text");
      expect(report).toContain(`${CHECK.name}: 1`);
    }
    expect(await markers()).toEqual([]);
    // The server in the container refuses LOCAL INFILE unless declared.
    expect(await mariadbRoot("SELECT @@GLOBAL.local_infile")).toBe("0");
  }, 900_000);

  it("the issue's line and LOAD DATA LOCAL INFILE fail naming the migration; no marker, nothing loaded", async () => {
    writeMigration(dirs.pg, "0002_issue_line.sql", `${ISSUE_LINE}\n`);
    writeMigration(dirs.mdb, "0002_issue_line.sql", `CREATE TABLE leak (line text);\nLOAD DATA LOCAL INFILE '/etc/shadow' INTO TABLE leak;\n${ISSUE_LINE}\n`);
    try {
      const message = await upFails();
      expect(message).toContain("post-deploy hook for database app failed");
      expect(message).toContain("post-deploy hook for database shop failed");
      expect(message.match(/migration 0002_issue_line failed/g)?.length).toBeGreaterThanOrEqual(2);
      expect(message).toMatch(/local infile|not allowed/i);
      expect(await markers()).toEqual([]);
      // MariaDB's DDL is not transactional: the table stayed, with nothing of /etc/shadow in it.
      expect(await mariadbRoot("SELECT COUNT(*) FROM shop.leak")).toBe("0");
    } finally {
      for (const d of Object.values(dirs)) rmSync(join(d, "0002_issue_line.sql"), { force: true });
    }
  }, 900_000);
});
