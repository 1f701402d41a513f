/**
 * What a careless or hostile config must not be able to do on the host, through the real engine:
 * take over files and directories dbstack did not create, leave PostgreSQL with a configuration it
 * rejects, and leave state behind that a later destroy trips over. (Config mistakes that preview
 * can tell are in the invalid-config corpus, test/fixtures/invalid-configs.)
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { Client } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { changes, run, sandbox, setConfig, sqlite, upError } from "./harness";

const box = sandbox("hardening");
/** Each stack with the config it was last given, so that cleanup can allow data removal. */
const stacks = new Map<Stack, Record<string, unknown>>();

afterAll(async () => {
  for (const [stack, config] of stacks) {
    await setConfig(stack, { ...config, allowDataRemoval: true }).catch(() => undefined);
    await stack.destroy().catch(() => undefined);
    await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
  }
  rmSync(box.dir, { recursive: true, force: true });
}, 300_000);

async function newStack(name: string, config: Record<string, unknown>): Promise<Stack> {
  const stack = await box.stack(`${name}-${process.pid}`, config);
  stacks.set(stack, config);
  return stack;
}

async function configure(stack: Stack, config: Record<string, unknown>): Promise<void> {
  stacks.set(stack, config);
  await setConfig(stack, config);
}

function owner(path: string): string {
  return execFileSync("stat", ["-c", "%U", path], { encoding: "utf8" }).trim();
}

describe("dbstack never takes over what it did not create", () => {
  it("refuses an existing SQLite file it did not create, leaving its owner and mode alone", async () => {
    const dir = join(box.dir, "foreign");
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "app.db");
    sqlite(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
    chownSync(path, 65534, 65534); // nobody
    chmodSync(path, 0o644);
    const stack = await newStack("foreign", { sqlite: { app: { path, toolsDir: join(box.dir, "foreign-tools") } } });
    const message = await upError(stack);
    expect(message).toContain(`path: ${path} exists, owned by nobody with mode 644, and dbstack did not create it`);
    expect(message).toContain(`chmod 600 ${path}`);
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(owner(path)).toBe("nobody");

    // Handed over as the message says (to the unprivileged account a root deploy with no owner
    // uses, with the directory where SQLite writes its journal), it is adopted with its data.
    expect(message).toContain(`chown dbstack-sqlite ${path}`);
    execFileSync("chown", ["dbstack-sqlite", dir, path]);
    chmodSync(path, 0o600);
    await stack.up();
    expect(sqlite(path, "SELECT x FROM t")).toBe("1");
    expect(existsSync(join(dir, ".app.db.dbstack"))).toBe(true);
  });

  it("refuses a backup directory others may write to, without re-permissioning it", async () => {
    const shared = join(box.dir, "shared-drop");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const stack = await newStack("sticky", {
      sqlite: { app: { path: join(box.dir, "sticky", "app.db"), toolsDir: join(box.dir, "sticky-tools"), backup: { dir: shared } } },
    });
    const message = await upError(stack);
    expect(message).toContain(`backup.dir: ${shared} is writable by other users (mode 1777)`);
    expect(statSync(shared).mode & 0o7777).toBe(0o1777);
  });

  it("refuses a tools directory holding files it did not install, and destroy removes only its own tools", async () => {
    const tools = join(box.dir, "tools-foreign");
    mkdirSync(tools);
    writeFileSync(join(tools, "notes.txt"), "mine");
    const config = { sqlite: { app: { path: join(box.dir, "tools-db", "app.db"), toolsDir: tools } } };
    const stack = await newStack("toolsdir", config);
    expect(await upError(stack)).toContain(`toolsDir: ${tools} exists and holds notes.txt, which dbstack did not install`);
    expect(readdirSync(tools)).toEqual(["notes.txt"]);

    const own = join(box.dir, "tools-own");
    await configure(stack, { sqlite: { app: { ...config.sqlite.app, toolsDir: own } } });
    await stack.up();
    // hooks/: the post-deploy hook's record of its last run (components/hooks/hookRecord.ts), removed with the hook.
    expect(readdirSync(own).sort()).toEqual([".dbstack-owner", ".dbstack-tools", "health", "hooks", "shell"]);
    expect(readFileSync(join(own, ".dbstack-owner"), "utf8")).toContain(`stack=${stack.name} `);
    writeFileSync(join(own, "keep.txt"), "an operator's file");
    await stack.destroy();
    expect(readdirSync(own)).toEqual(["keep.txt"]);
    expect(existsSync(join(box.dir, "tools-db", "app.db"))).toBe(true); // data is kept
  });
});

describe("PostgreSQL configuration converges and never holds what the server rejects", () => {
  const cluster = `ithard${process.pid % 1000}`;
  const base = (extra: Record<string, unknown>) => ({
    postgres: {
      hard: {
        instanceName: cluster,
        port: 5521,
        hostFacts: { memoryMb: 1024, cpus: 1 },
        maxConnections: 20,
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
        backup: { dir: join(box.dir, "pg-backups") },
        toolsDir: join(box.dir, "pg-tools"),
        ...extra,
      },
    },
  });
  const psql = (port: number, sql: string) =>
    execFileSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-tA", "-h", "/var/run/postgresql", "-p", String(port), "-d", "postgres", "-c", sql], {
      encoding: "utf8",
      cwd: "/",
    }).trim();
  let stack: Stack;

  it("deploys, then refuses a misspelt parameter naming it, keeping the live configuration", async () => {
    stack = await newStack("pg", base({}));
    await stack.up();
    const workMem = psql(5521, "SHOW work_mem");
    await configure(stack, base({ parameters: { shared_bufers: "64MB", work_mem: "64MB" } }));
    const message = await upError(stack);
    expect(message).toContain("parameters.shared_bufers: PostgreSQL has no such parameter");
    expect(message).toContain("the previous configuration is kept");
    expect(psql(5521, "SHOW work_mem")).toBe(workMem);
    // The files on disk are the ones the server accepts: a restart comes back up.
    execFileSync("pg_ctlcluster", ["15", cluster, "restart"]);
    expect(psql(5521, "SELECT count(*) FROM pg_file_settings WHERE error IS NOT NULL")).toBe("0");

    await configure(stack, base({ parameters: { work_mem: "'12 parsecs'" } }));
    expect(await upError(stack)).toContain("parameters.work_mem: invalid value");
  });

  it("moves the server to a changed port", async () => {
    await configure(stack, base({ port: 5522 }));
    const result = await stack.up();
    expect(result.outputs.postgres.value.hard.configReport).toContain("port 5521 -> 5522");
    expect(psql(5522, "SELECT current_setting('port')")).toBe("5522");
    await expect(new Client({ host: "127.0.0.1", port: 5521, user: "app", database: "app", connectionTimeoutMillis: 3000 }).connect()).rejects.toThrow(
      /ECONNREFUSED/,
    );
    expect(changes((await stack.up()).summary)).not.toHaveProperty("update");
  });

  it("gives a restored copy the source's access rules, and destroy with data removal drops it", async () => {
    const tools = join(box.dir, "pg-tools");
    run(join(tools, "backup"));
    run(join(tools, "restore"), ["app", "--into", "app_copy"]);
    expect(psql(5522, "SELECT has_database_privilege('public', 'app_copy', 'CONNECT')")).toBe("f");
    expect(psql(5522, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app_copy'")).toBe("app");
    await configure(stack, { ...base({ port: 5522 }), allowDataRemoval: true });
    await stack.up();
    await stack.destroy();
    expect(existsSync(`/etc/postgresql/15/${cluster}`)).toBe(false);
    expect(existsSync(`/run/lock/dbstack-postgres-15-${cluster}.lock`)).toBe(false);
  });
});
