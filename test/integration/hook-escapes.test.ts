import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandbox, setConfig, writeMigration } from "./harness";

// Issue 7, point 2, through the real Pulumi engine: migrations, checks and migration commands of a
// local PostgreSQL cluster and local SQLite databases get the owner's rights and a minimal
// environment, and the escapes the issue found fail the deploy without running anything.
const box = sandbox("hookesc");
const stackName = `it-hookesc-${process.pid}`;
const PORT = 5563;
const CLUSTER = "ithookesc";
const pgMigrations = join(box.dir, "pg-migrations");
const sqMigrations = join(box.dir, "sq-migrations");
const marker = join(box.dir, "escaped");
const pgCommandEnv = join(box.dir, "pg-command-env");
/** Where the SQLite migration command (run as the database's owner, nobody) may write. */
const sqOut = join(box.dir, "sq-out");
const sqCommandEnv = join(sqOut, "sq-command-env");
/** The environment the hook itself was started with (HostCommand's), as its child sees it in /proc. */
const pgHookEnv = join(box.dir, "pg-hook-env");
const pgTools = join(box.dir, "pg-tools");
let stack: Stack;

function config(allowDataRemoval = false) {
  return {
    allowDataRemoval,
    sqlite: {
      // SQLite's migrations and commands run as the owner, never as root (issue 17): nobody here.
      esc: { path: join(box.dir, "sq", "esc.db"), owner: "nobody", group: "nogroup", toolsDir: join(box.dir, "sq-tools-esc"), migrations: { dir: sqMigrations } },
      cmd: { path: join(box.dir, "sq", "cmd.db"), owner: "nobody", group: "nogroup", toolsDir: join(box.dir, "sq-tools-cmd"), migrations: { command: `env > ${sqCommandEnv}`, workdir: sqOut } },
    },
    postgres: {
      esc: {
        host: "local",
        port: PORT,
        instanceName: CLUSTER,
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        databases: {
          app: { owner: "app", migrations: { dir: pgMigrations }, healthChecks: [{ name: "who", sql: "SELECT current_user || ' ' || session_user" }] },
          tool: { owner: "tool", migrations: { command: `env > ${pgCommandEnv}; tr '\\0' '\\n' < /proc/$PPID/environ > ${pgHookEnv}`, workdir: box.dir } },
        },
        users: { app: { grants: { app: "owner" } }, tool: { grants: { tool: "owner" } } },
        toolsDir: pgTools,
      },
    },
  };
}

/** psql as the superuser on the test cluster (peer over its socket). */
function su(sql: string, db = "postgres"): string {
  return execFileSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-tA", "-h", "/var/run/postgresql", "-p", String(PORT), "-d", db, "-c", sql], {
    cwd: "/",
    encoding: "utf8",
  }).trim();
}

/** `env` output as a map. */
function envFile(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

async function upFails(): Promise<string> {
  const err = await stack.up().then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err, "up should have failed").toBeDefined();
  return err!.message;
}

beforeAll(async () => {
  // The SQLite owner (nobody) reaches its database below the sandbox, and writes only in sqOut.
  chmodSync(box.dir, 0o711);
  mkdirSync(sqOut);
  chownSync(sqOut, 65534, 65534);
  writeMigration(pgMigrations, "0001_items.sql", "CREATE TABLE items (id bigserial PRIMARY KEY, name text);\n");
  writeMigration(sqMigrations, "0001_items.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n");
  stack = await box.stack(stackName, config());
}, 120_000);

afterAll(async () => {
  for (const f of ["0002_shell.sql", "0002_reset.sql", "0002_env.sql"]) {
    rmSync(join(pgMigrations, f), { force: true });
    rmSync(join(sqMigrations, f), { force: true });
  }
  await setConfig(stack, config(true));
  await stack.up();
  await stack.destroy();
  await stack.workspace.removeStack(stackName);
  rmSync(box.dir, { recursive: true, force: true });
}, 300_000);

describe("post-deploy hooks through the real engine: the owner's rights and no more", () => {
  it("up succeeds; SQL checks run logged in as the owner; migration commands see a minimal environment", async () => {
    const result = await stack.up();
    expect(result.summary.result).toBe("succeeded");
    expect(result.outputs.postgres.value.esc.hookReports.app).toContain("who: app app");

    // The engine's own process holds the passphrase; the commands never see it, nor the hook's secrets.
    for (const file of [pgCommandEnv, sqCommandEnv]) {
      const seen = envFile(file);
      expect(Object.keys(seen).filter((k) => k.startsWith("PULUMI") || k.startsWith("DBSTACK_")), file).toEqual([]);
      expect(seen.PATH, file).toBeTruthy();
    }
    expect(envFile(pgCommandEnv).DATABASE_URL).toMatch(/^postgresql:\/\/tool:[A-Za-z0-9]{32}@127\.0\.0\.1:5563\/tool\?sslmode=require$/);
    expect(envFile(sqCommandEnv).DATABASE_URL).toBe(`sqlite:///${join(box.dir, "sq", "cmd.db")}`);
    // HostCommand started the hook with the minimal environment, the step's own variables and
    // the directory of its shipped files only.
    const hook = envFile(pgHookEnv);
    expect(hook.DATABASE_URL).toMatch(/^postgresql:\/\/tool:/);
    expect(hook.DBSTACK_FILES).toMatch(/^\/tmp\/dbstack-files\./);
    // (PWD, SHLVL and _ are bash's own, set by the shell that ships the files and starts the hook.)
    expect(Object.keys(hook).filter((k) => !["PATH", "HOME", "LANG", "LC_ALL", "TZ", "DATABASE_URL", "DBSTACK_OWNER_PASSWORD", "DBSTACK_FILES", "PWD", "SHLVL", "_"].includes(k))).toEqual([]);
    // The SQLite command ran as the database's owner, not as root.
    expect(statSync(sqCommandEnv).uid).toBe(65534);

    // The on-demand health tool logs in as the owner too, with the password kept for it (0600).
    expect(readFileSync(join(pgTools, "app.password"), "utf8")).toMatch(/^[A-Za-z0-9]{32}$/);
    const health = execFileSync(join(pgTools, "health-app"), { encoding: "utf8" });
    expect(health).toContain("who: app app");
  }, 300_000);

  it("psql's \\! in a migration runs no shell: the deploy fails naming the migration", async () => {
    writeMigration(pgMigrations, "0002_shell.sql", `CREATE TABLE escaped (x int);\n\\! id > ${marker}\n`);
    const message = await upFails();
    expect(message).toContain("migration 0002_shell failed");
    expect(message).toContain('syntax error at or near "\\"');
    expect(existsSync(marker)).toBe(false);
    expect(su("SELECT count(*) FROM pg_tables WHERE tablename = 'escaped'", "app")).toBe("0");
    rmSync(join(pgMigrations, "0002_shell.sql"));
  }, 300_000);

  it("RESET ROLE gives a migration nothing: creating a role fails the deploy", async () => {
    writeMigration(pgMigrations, "0002_reset.sql", "RESET ROLE;\nCREATE TABLE who AS SELECT current_user AS u;\nCREATE ROLE dbstack_escaped LOGIN;\n");
    const message = await upFails();
    expect(message).toContain("migration 0002_reset failed");
    expect(message).toContain("permission denied to create role");
    expect(su("SELECT count(*) FROM pg_roles WHERE rolname = 'dbstack_escaped'")).toBe("0");
    rmSync(join(pgMigrations, "0002_reset.sql"));
  }, 300_000);

  it("a migration cannot read the environment: \\getenv is SQL, COPY ... TO PROGRAM needs a superuser", async () => {
    writeMigration(pgMigrations, "0002_env.sql", `COPY (SELECT 1) TO PROGRAM 'env > ${marker}';\n`);
    const program = await upFails();
    expect(program).toContain("migration 0002_env failed");
    expect(program).toMatch(/must be superuser or have privileges of the pg_execute_server_program role|permission denied/);
    writeMigration(pgMigrations, "0002_env.sql", "\\getenv p PULUMI_CONFIG_PASSPHRASE\nCREATE TABLE leaked AS SELECT :'p' AS v;\n");
    const getenv = await upFails();
    expect(getenv).toContain("migration 0002_env failed");
    expect(getenv).toContain('syntax error at or near "\\"');
    expect(existsSync(marker)).toBe(false);
    expect(su("SELECT count(*) FROM pg_tables WHERE tablename = 'leaked'", "app")).toBe("0");
    rmSync(join(pgMigrations, "0002_env.sql"));
  }, 300_000);

  it("sqlite3's .shell in a migration is refused before anything runs, naming the key and the line", async () => {
    writeMigration(sqMigrations, "0002_shell.sql", `CREATE TABLE escaped (x);\n.shell id > ${marker}\n`);
    const message = await upFails();
    expect(message).toContain('dbstack:sqlite.esc.migrations: 0002_shell.sql line 2 starts with "." and sqlite3 would run it as a dot-command');
    expect(message).not.toMatch(/\n\s+at .*\.ts:\d+/);
    expect(existsSync(marker)).toBe(false);
    rmSync(join(sqMigrations, "0002_shell.sql"));
    const again = await stack.up();
    expect(again.summary.result).toBe("succeeded");
  }, 300_000);
});
