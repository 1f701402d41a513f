/**
 * Issue 17, rows 1 and 2, through the real Pulumi engine: a local PostgreSQL cluster, a local
 * MariaDB server and local SQLite databases whose migration files, health checks, migration
 * commands and given passwords hold hostile text (the issue's heredoc escape, every here-document
 * terminator of a rendered script, quotes, `$( )`, backquotes), and migrations that try to read
 * /etc/shadow through the client or the server. Each case asserts what a user would notice: no
 * marker file written by anyone, /etc/shadow's content in no table, and the migration either
 * failed naming it or was applied as SQL text.
 *
 * The same text also travels over SSH (SQLite databases on test hosts advhook1, as root, and
 * advhook2, as a sudo user), where the shipped files pass through ssh and `sudo -n`.
 *
 * Owns: PostgreSQL port 5571 (cluster itadvhook), MariaDB port 3371 (instance itadvhook), test
 * hosts (network namespaces) advhook1 and advhook2, its sandbox's SQLite files. No container.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandbox, setConfig, writeMigration } from "./harness";
import { createTestHosts, type TestHosts } from "./support/hosts";

const box = sandbox("advhook");
const stackName = `it-advhook-${process.pid}`;
const PG_PORT = 5571;
const MDB_PORT = 3371;
const CLUSTER = "itadvhook";
const INSTANCE = "itadvhook";
const MDB_SOCKET = `/run/mysqld/dbstack-${INSTANCE}.sock`;
/** Where any escape would leave a file: writable by every user, so an escape as any user shows. */
const marks = join(box.dir, "marks");
/** Where the SQLite owner (nobody) writes what its migration command printed. */
const sqOut = join(box.dir, "sq-out");
const dirs = { pg: join(box.dir, "pg-migrations"), mdb: join(box.dir, "mdb-migrations"), sq: join(box.dir, "sq-migrations") };
const pgTools = join(box.dir, "pg-tools");
const mdbTools = join(box.dir, "mdb-tools");
const sqDb = join(box.dir, "sq", "adv.db");
const sqNoOwnerDb = join(box.dir, "sq-root", "noowner.db");
let stack: Stack;
let hosts: TestHosts | undefined;

/** A path under `marks` that exists only if hostile text ran as shell. */
const mark = (n: string) => join(marks, n);

/** The terminators of every here-document a rendered script uses (withHeredoc bases, `<<'` in components/). */
const TERMINATORS = ["DBSTACK_SQL", "DBSTACK_EOF", "DBSTACK_FILE", "DBSTACK_UNIT", "DBSTACK_CA_CERTIFICATE", "DBSTACK_PUBLIC_KEY", "DBSTACK_CERTIFICATE", "DBSTACK_IN_CONTAINER_x"];
/** The issue's line: it ended the old runner's here-document inside $( … ) and ran as root. */
const ISSUE_LINE = `DBSTACK_SQL); id > ${mark("issue")}; false && out=$(cat <<''`;
/** Lines that would each leave a marker if they ever became shell. */
const HOSTILE = [
  ISSUE_LINE,
  ...TERMINATORS.flatMap((t) => [t, `${t})`, `${t}); touch ${mark(`t-${t}`)} #`]),
  `'; touch ${mark("sq")}; '`,
  `"; touch ${mark("dq")}; "`,
  `$(touch ${mark("subst")})`,
  `\`touch ${mark("backquote")}\``,
  `head -c 1 > /dev/null`,
  `touch ${mark("plain")}`,
];
/** The hostile lines as SQL comments (applied as SQL text), then a statement that shows it applied. */
const HOSTILE_COMMENTS = HOSTILE.map((l) => `-- ${l}`).join("\n") + "\nCREATE TABLE adv_ok (x int);\n";
/** A password given in config, with quotes, `$( )`, backquotes and a terminator in it. */
const GIVEN_PASSWORD = `pw'"$(touch ${mark("pw")})\`touch ${mark("pw2")}\`DBSTACK_SQL`;
/** A migration command's output when it runs exactly as written (not re-read by another shell). */
const COMMAND_TEXT = `DBSTACK_SQL); touch ${mark("cmd")}; '$(touch ${mark("cmd2")})`;
const command = (out: string) => `printf '%s' '${COMMAND_TEXT.replace(/'/g, `'"'"'`)}' > ${out}`;
/** A declared check whose name, SQL and expected text are hostile; it passes when read as data. */
const CHECK = { name: `${ISSUE_LINE} '$(touch ${mark("name")})`, sql: `SELECT 1 -- '; touch ${mark("check")}; $(touch ${mark("check2")}) DBSTACK_SQL`, expect: "1" };

/** The first line of /etc/shadow (root's): it must be in no table of any engine. */
const SHADOW_ROOT = readFileSync("/etc/shadow", "utf8").split("\n")[0];

/** What the SSH case adds: the test hosts and one SQLite database on each. */
interface SshExtra {
  hosts: TestHosts;
}

function config(extra: { noOwner?: boolean; ssh?: SshExtra } = {}) {
  const ssh = extra.ssh;
  return {
    ...(ssh
      ? {
          hosts: {
            h1: { address: ssh.hosts.host("advhook1").address, user: "root", privateKey: ssh.hosts.host("advhook1").privateKey, hostKey: ssh.hosts.host("advhook1").hostKey },
            h2: { address: ssh.hosts.host("advhook2").address, user: "deploy", sudo: true, privateKey: ssh.hosts.host("advhook2").privateKey, hostKey: ssh.hosts.host("advhook2").hostKey },
          },
        }
      : {}),
    allowDataRemoval: true,
    postgres: {
      adv: {
        host: "local",
        port: PG_PORT,
        instanceName: CLUSTER,
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        databases: {
          app: { owner: "app", migrations: { dir: dirs.pg }, healthChecks: [CHECK] },
          cmd: { owner: "tool", migrations: { command: command(join(box.dir, "pg-command-out")), workdir: box.dir } },
        },
        users: { app: { grants: { app: "owner" }, password: GIVEN_PASSWORD }, tool: { grants: { cmd: "owner" } } },
        toolsDir: pgTools,
      },
    },
    mariadb: {
      adv: {
        host: "local",
        port: MDB_PORT,
        instanceName: INSTANCE,
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        listenAddresses: ["127.0.0.1"],
        databases: { shop: { owner: "shop", migrations: { dir: dirs.mdb }, healthChecks: [CHECK] } },
        users: { shop: { grants: { shop: "owner" }, hosts: ["localhost"], password: GIVEN_PASSWORD } },
        toolsDir: mdbTools,
      },
    },
    sqlite: {
      adv: { path: sqDb, owner: "nobody", group: "nogroup", toolsDir: join(box.dir, "sq-tools"), migrations: { dir: dirs.sq }, healthChecks: [CHECK] },
      cmd: { path: join(box.dir, "sq", "cmd.db"), owner: "nobody", group: "nogroup", toolsDir: join(box.dir, "sq-tools-cmd"), migrations: { command: command(join(sqOut, "out")), workdir: sqOut } },
      ...(extra.noOwner ? { noowner: { path: sqNoOwnerDb, toolsDir: join(box.dir, "sq-tools-root"), migrations: { dir: dirs.sq } } } : {}),
      ...(ssh
        ? {
            // Over SSH as root (no sudo): the hostile migrations and check.
            ssh1: { host: "h1", path: join(box.dir, "ssh1", "adv.db"), owner: "nobody", group: "nogroup", toolsDir: join(box.dir, "ssh1-tools"), migrations: { dir: dirs.sq }, healthChecks: [CHECK] },
            // Over SSH as a sudo user (sudo -n bash -s): the migration command and the check.
            ssh2: {
              host: "h2",
              path: join(box.dir, "ssh2", "adv.db"),
              owner: "nobody",
              group: "nogroup",
              toolsDir: join(box.dir, "ssh2-tools"),
              migrations: { command: command(join(sqOut, "ssh-out")), workdir: sqOut },
              healthChecks: [CHECK],
            },
          }
        : {}),
    },
  };
}

/** Sets the config; the keys holding given passwords as secrets, as the README tells users to. */
async function configure(extra: { noOwner?: boolean; ssh?: SshExtra } = {}): Promise<void> {
  const c = config(extra);
  await setConfig(stack, { allowDataRemoval: c.allowDataRemoval, sqlite: c.sqlite, ...(c.hosts ? { hosts: c.hosts } : {}) });
  await stack.setConfig("dbstack:postgres", { value: JSON.stringify(c.postgres), secret: true });
  await stack.setConfig("dbstack:mariadb", { value: JSON.stringify(c.mariadb), secret: true });
}

/** An up that must fail; every hook runs (continueOnError), so each engine's failure is in the message. */
async function upFails(): Promise<string> {
  const err = await stack.up({ continueOnError: true }).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err, "up should have failed").toBeDefined();
  return err!.message;
}

/** Every table's content of each engine's database, as text. */
function dumps(): Record<string, string> {
  return {
    postgres: execFileSync("runuser", ["-u", "postgres", "--", "pg_dump", "-h", "/var/run/postgresql", "-p", String(PG_PORT), "app"], { cwd: "/", encoding: "utf8" }),
    mariadb: execFileSync("mariadb-dump", ["--no-defaults", `--socket=${MDB_SOCKET}`, "-uroot", "shop"], { encoding: "utf8" }),
    // As the file's owner: root's sqlite3 could leave root-owned -wal/-shm files beside it.
    sqlite: execFileSync("runuser", ["-u", "nobody", "--", "sqlite3", sqDb, ".dump"], { cwd: "/", encoding: "utf8" }),
  };
}

/** Nothing harmful on the host: no marker written by anyone, no /etc/shadow line in any table. */
function assertNothingHarmful(): void {
  expect(readdirSync(marks)).toEqual([]);
  for (const [engine, text] of Object.entries(dumps())) expect(text.includes(SHADOW_ROOT), `${engine} holds /etc/shadow`).toBe(false);
}

function removeCase(id: string): void {
  for (const d of Object.values(dirs)) rmSync(join(d, `${id}.sql`), { force: true });
}

beforeAll(async () => {
  chmodSync(box.dir, 0o711);
  mkdirSync(marks, { mode: 0o777 });
  chmodSync(marks, 0o1777);
  mkdirSync(sqOut);
  chownSync(sqOut, 65534, 65534);
  for (const d of Object.values(dirs)) writeMigration(d, "0001_hostile_text.sql", HOSTILE_COMMENTS);
  stack = await box.stack(stackName, {});
  await configure();
}, 120_000);

afterAll(async () => {
  for (const d of Object.values(dirs)) for (const f of readdirSync(d)) if (f !== "0001_hostile_text.sql") rmSync(join(d, f), { force: true });
  await configure();
  await stack.up().catch(() => undefined);
  await stack.destroy();
  await stack.workspace.removeStack(stackName);
  await hosts?.destroy();
  rmSync(box.dir, { recursive: true, force: true });
}, 600_000);

describe("hostile text in migrations, checks, commands and passwords, through the real engine", () => {
  it("up succeeds: hostile lines apply as SQL text, checks and commands run as written, passwords stay values; nothing ran as shell", async () => {
    const result = await stack.up();
    expect(result.summary.result).toBe("succeeded");
    const pg = result.outputs.postgres.value.adv.hookReports;
    const mdb = result.outputs.mariadb.value.adv.hookReports;
    expect(pg.app).toContain("applied migration 0001_hostile_text");
    expect(mdb.shop).toContain("applied migration 0001_hostile_text");
    expect(result.outputs.sqlite.value.adv.hookReport).toContain("applied migration 0001_hostile_text");
    // The check's hostile name is printed as text, its SQL ran as SQL.
    for (const report of [pg.app, mdb.shop, result.outputs.sqlite.value.adv.hookReport]) expect(report).toContain(`${CHECK.name}: 1`);
    // The commands printed their text exactly: no shell re-read it.
    expect(readFileSync(join(box.dir, "pg-command-out"), "utf8")).toBe(COMMAND_TEXT);
    expect(readFileSync(join(sqOut, "out"), "utf8")).toBe(COMMAND_TEXT);
    expect(statSync(join(sqOut, "out")).uid).toBe(65534);
    // The given passwords log in (the hooks ran as the owners with them) and the on-demand tools work.
    expect(execFileSync(join(pgTools, "health-app"), { encoding: "utf8" })).toContain(`${CHECK.name}: 1`);
    expect(execFileSync(join(mdbTools, "health-shop"), { encoding: "utf8" })).toContain(`${CHECK.name}: 1`);
    // The declared check is a 0600 file beside the tool, not part of it.
    expect(readFileSync(join(pgTools, "health-app"), "utf8")).not.toContain("DBSTACK_SQL)");
    expect(statSync(join(pgTools, "health-app.check-1.sql")).mode & 0o777).toBe(0o600);
    // MariaDB's server refuses LOCAL INFILE unless declared.
    expect(execFileSync("mariadb", ["--no-defaults", `--socket=${MDB_SOCKET}`, "-uroot", "-N", "-e", "SELECT @@GLOBAL.local_infile"], { encoding: "utf8" }).trim()).toBe("0");
    assertNothingHarmful();
  }, 600_000);

  // Each case adds one migration to every engine at once; the hooks run side by side in one up.
  // `fails`: the engines on which the migration must fail naming it; on the others it applies, harmlessly.
  const CASES: { id: string; pg: string; mdb: string; sq: string; fails: ("pg" | "mdb" | "sq")[]; reasons: RegExp[] }[] = [
    { id: "0002_issue_line", pg: `${ISSUE_LINE}\n`, mdb: `${ISSUE_LINE}\n`, sq: `${ISSUE_LINE}\n`, fails: ["pg", "mdb", "sq"], reasons: [/syntax/i] },
    {
      id: "0003_read_shadow_via_client",
      pg: "CREATE TABLE leak3 (line text);\n\\copy leak3 FROM '/etc/shadow'\n",
      mdb: "CREATE TABLE leak3 (line text);\nLOAD DATA LOCAL INFILE '/etc/shadow' INTO TABLE leak3;\n",
      // fsdir() is offered even in sqlite3's safe mode: as the owner (nobody) it reads nothing root-only.
      sq: "CREATE TABLE leak3 AS SELECT data AS line FROM fsdir('/etc/shadow');\n",
      fails: ["pg", "mdb"],
      reasons: [/syntax error at or near "\\"/, /local infile|not allowed/i],
    },
    {
      id: "0004_read_shadow_via_server",
      pg: "CREATE TABLE leak4 (line text);\nCOPY leak4 FROM '/etc/shadow';\n",
      mdb: "CREATE TABLE leak4 (line text);\nLOAD DATA INFILE '/etc/shadow' INTO TABLE leak4;\n",
      sq: "SELECT readfile('/etc/shadow');\n",
      fails: ["pg", "mdb", "sq"],
      reasons: [/pg_read_server_files|permission denied/, /Access denied|FILE|secure-file-priv/, /readfile\(\) function in safe mode/],
    },
    {
      id: "0005_file_functions",
      pg: "CREATE TABLE leak5 AS SELECT pg_read_file('/etc/shadow') AS line;\n",
      // LOAD_FILE needs the FILE privilege the owner does not have: NULL, harmless.
      mdb: "CREATE TABLE leak5 AS SELECT LOAD_FILE('/etc/shadow') AS line;\n",
      sq: "ATTACH '/etc/shadow' AS s;\n",
      fails: ["pg", "sq"],
      reasons: [/permission denied for function pg_read_file/, /ATTACH/],
    },
    {
      id: "0006_large_objects_and_extensions",
      pg: "SELECT lo_import('/etc/shadow');\n",
      mdb: "SELECT 1;\n",
      sq: "SELECT load_extension('/etc/shadow');\n",
      fails: ["pg", "sq"],
      reasons: [/permission denied for function lo_import/, /load_extension\(\) function in safe mode/],
    },
  ];

  it.each(CASES)("$id: fails naming the migration where the engine refuses, harmless where it applies", async (c) => {
    writeMigration(dirs.pg, `${c.id}.sql`, c.pg);
    writeMigration(dirs.mdb, `${c.id}.sql`, c.mdb);
    writeMigration(dirs.sq, `${c.id}.sql`, c.sq);
    try {
      const message = await upFails();
      for (const engine of c.fails) expect(message, engine).toContain(`migration ${c.id} failed`);
      for (const reason of c.reasons) expect(message).toMatch(reason);
      expect(existsSync(mark("issue"))).toBe(false);
      assertNothingHarmful();
    } finally {
      // The failing ones are removed; one that applied harmlessly may go too (a removed file is not re-run).
      removeCase(c.id);
    }
  }, 600_000);

  it("an SQLite database with no owner, deployed as root, runs its migrations as dbstack's account dbstack-sqlite: hostile text is SQL, fsdir reads nothing of root's", async () => {
    // Applies to the owned database too (as nobody), as harmlessly.
    writeMigration(dirs.sq, "0007_noowner_fsdir.sql", "CREATE TABLE leak7 AS SELECT name, data AS line FROM fsdir('/etc/shadow');\n");
    try {
      await configure({ noOwner: true });
      const result = await stack.up();
      expect(result.summary.result).toBe("succeeded");
      const report = result.outputs.sqlite.value.noowner.hookReport;
      expect(report).toContain("applied migration 0001_hostile_text");
      expect(report).toContain("applied migration 0007_noowner_fsdir");
      const account = Number(execFileSync("id", ["-u", "dbstack-sqlite"], { encoding: "utf8" }).trim());
      expect(statSync(sqNoOwnerDb).uid).toBe(account);
      const asAccount = (sql: string) => execFileSync("runuser", ["-u", "dbstack-sqlite", "--", "sqlite3", sqNoOwnerDb, sql], { cwd: "/", encoding: "utf8" });
      // The row for the file is there (fsdir ran), its content is not: the account cannot read it.
      expect(asAccount("SELECT name, line IS NULL FROM leak7").trim()).toBe("/etc/shadow|1");
      expect(asAccount(".dump").includes(SHADOW_ROOT)).toBe(false);
      assertNothingHarmful();
    } finally {
      rmSync(join(dirs.sq, "0007_noowner_fsdir.sql"), { force: true });
      await configure();
    }
    const again = await stack.up();
    expect(again.summary.result).toBe("succeeded");
  }, 600_000);

  it("over SSH, as root and through sudo -n: the shipped migration, check and command arrive as written; nothing ran as shell", async () => {
    hosts = await createTestHosts(["advhook1", "advhook2"], { sudoUser: "deploy" });
    await configure({ ssh: { hosts } });
    const result = await stack.up();
    expect(result.summary.result).toBe("succeeded");
    const sq = result.outputs.sqlite.value;
    expect(sq.ssh1.hookReport).toContain("applied migration 0001_hostile_text");
    for (const report of [sq.ssh1.hookReport, sq.ssh2.hookReport]) expect(report).toContain(`${CHECK.name}: 1`);
    expect(readFileSync(join(sqOut, "ssh-out"), "utf8")).toBe(COMMAND_TEXT);
    expect(statSync(join(sqOut, "ssh-out")).uid).toBe(65534);
    expect(readdirSync(marks)).toEqual([]);
    // The issue's line over SSH: an SQL error naming the migration, no shell.
    writeMigration(dirs.sq, "0002_issue_line.sql", `${ISSUE_LINE}\n`);
    try {
      const message = await upFails();
      expect(message).toContain("post-deploy hook for sqlite database ssh1 failed");
      expect(message).toContain("migration 0002_issue_line failed");
    } finally {
      removeCase("0002_issue_line");
    }
    expect(readdirSync(marks)).toEqual([]);
    await configure();
    expect((await stack.up()).summary.result).toBe("succeeded");
  }, 600_000);
});
