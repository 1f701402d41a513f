import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawnSync } from "child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolvePragmas } from "../../components/engines/sqlite/pragmas";
import { markerPath, renderProvision } from "../../components/engines/sqlite/scripts";
import { stackHostPrefix } from "../../components/model/naming";
import { changes, run, sandbox, setConfig, sqlite, writeMigration } from "./harness";

const box = sandbox("sqlite");
const stackName = `it-sqlite-${process.pid}`;
const data = join(box.dir, "data");
const db = join(data, "app.db");
const backups = join(box.dir, "backups");
const tools = join(box.dir, "tools");
const migrations = join(box.dir, "migrations");
const cronFile = `/etc/cron.d/${stackHostPrefix("dbstack", stackName, box.projectDir)}-sqlite-app-backup`;

function spec(extra: Record<string, unknown> = {}) {
  return {
    sqlite: {
      app: {
        path: db,
        // Migrations and checks run as the owner, never as root (issue 17).
        owner: "nobody",
        group: "nogroup",
        toolsDir: tools,
        backup: { schedule: "30 3 * * *", dir: backups, retentionDays: 7 },
        migrations: { dir: migrations },
        healthChecks: [{ name: "users table", sql: "SELECT count(*) >= 0 FROM users", expect: "1" }],
        ...extra,
      },
    },
  };
}

let stack: Stack;

beforeAll(async () => {
  // The owner (nobody) reaches the database below the sandbox.
  chmodSync(box.dir, 0o711);
  writeMigration(migrations, "0001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n");
  writeMigration(migrations, "0002_notes.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), body TEXT);\n");
  stack = await box.stack(stackName, spec());
});

afterAll(async () => {
  await setConfig(stack, { ...spec(), allowDataRemoval: true });
  await stack.up();
  await stack.destroy();
  await stack.workspace.removeStack(stackName);
  rmSync(box.dir, { recursive: true, force: true });
});

describe("SQLite through the real Pulumi engine", () => {
  it("up creates the file 0600 in a 0700 directory, with WAL, migrations applied and a cron entry", async () => {
    const result = await stack.up();
    expect(changes(result.summary).create).toBeGreaterThanOrEqual(5);
    expect(statSync(db).mode & 0o777).toBe(0o600);
    expect(statSync(data).mode & 0o777).toBe(0o700);
    expect(sqlite(db, "PRAGMA journal_mode")).toBe("wal");
    expect(sqlite(db, "SELECT id FROM dbstack_migrations ORDER BY id")).toBe("0001_users\n0002_notes");
    expect(sqlite(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('users','notes')")).toBe("2");
    expect(readFileSync(cronFile, "utf8")).toContain(`30 3 * * * root ${tools}/backup >> ${backups}/app-backup.log 2>&1`);
    const out = result.outputs.sqlite.value.app;
    expect(out.url).toBe(`sqlite:///${db}`);
    expect(out.fileUri).toBe(`file://${db}`);
    expect(out.connectionInit).toContain("PRAGMA foreign_keys = ON");
    expect(out.hookReport).toContain("integrity_check: ok");
    expect(out.hookReport).toContain("users table: 1");
  });

  it("the connection pragmas hold in dbstack's shell tool", () => {
    expect(run(join(tools, "shell"), ["PRAGMA foreign_keys; PRAGMA synchronous; PRAGMA busy_timeout;"])).toBe("1\n1\n5000");
  });

  it("the installed backup command writes a 0600 compressed backup that restores", async () => {
    sqlite(db, "INSERT INTO users (email) VALUES ('ana@example.com'), ('rui@example.com')");
    const before = sqlite(db, "SELECT group_concat(id || email, ',') FROM users");
    const out = run(join(tools, "backup"));
    expect(out).toMatch(/backup ok: .*app-\d{8}T\d{6}Z\.db\.gz/);
    const files = readdirSync(backups).filter((f) => f.endsWith(".db.gz"));
    expect(files).toHaveLength(1);
    expect(statSync(join(backups, files[0])).mode & 0o777).toBe(0o600);

    sqlite(db, "DELETE FROM users; INSERT INTO users (email) VALUES ('intruder@example.com')");
    const restored = run(join(tools, "restore"), ["--yes"]);
    expect(restored).toContain("restored");
    expect(sqlite(db, "SELECT group_concat(id || email, ',') FROM users")).toBe(before);
    const aside = readdirSync(data).find((f) => f.startsWith("app.db.before-restore-"));
    expect(aside).toBeDefined();
    expect(sqlite(join(data, aside!), "SELECT email FROM users")).toBe("intruder@example.com");
  });

  it("a second up with nothing changed reports zero changes (and so runs no hook)", async () => {
    const result = await stack.up();
    const c = changes(result.summary);
    expect(Object.keys(c)).toEqual(["same"]);
  });

  it("adding a migration re-runs the hook and applies only the new one", async () => {
    writeMigration(migrations, "0003_tags.sql", "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT);\n");
    const result = await stack.up();
    expect(changes(result.summary).update).toBe(1);
    expect(result.outputs.sqlite.value.app.hookReport).toContain("applied migration 0003_tags");
    expect(result.outputs.sqlite.value.app.hookReport).toContain("1 applied, 3 in total");
    expect(sqlite(db, "SELECT count(*) FROM dbstack_migrations")).toBe("3");
  });

  it("a failing migration fails up with the migration's own message and changes nothing", async () => {
    writeMigration(migrations, "0004_broken.sql", "CREATE TABLE half (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n");
    await expect(stack.up()).rejects.toThrow(/migration 0004_broken failed:[\s\S]*no such table: no_such_table/);
    expect(sqlite(db, "SELECT count(*) FROM sqlite_master WHERE name = 'half'")).toBe("0");
    rmSync(join(migrations, "0004_broken.sql"));
    const result = await stack.up();
    expect(result.summary.result).toBe("succeeded");
  });

  it("an applied migration that was edited fails the deploy", async () => {
    const file = join(migrations, "0001_users.sql");
    const original = readFileSync(file, "utf8");
    writeFileSync(file, original + "-- edited\n");
    await expect(stack.up()).rejects.toThrow(/migration 0001_users was edited after it was applied/);
    writeFileSync(file, original);
  });

  it("destroy keeps the database and its backups by default, and says so; the cron entry goes", async () => {
    const result = await stack.destroy();
    expect(result.stdout).toContain("kept sqlite database app");
    expect(result.stdout).toContain("kept the backups of app");
    expect(existsSync(db)).toBe(true);
    expect(readdirSync(backups).some((f) => f.endsWith(".db.gz"))).toBe(true);
    expect(existsSync(cronFile)).toBe(false);
    expect(existsSync(tools)).toBe(false);
  });

  it("with allowDataRemoval, destroy deletes the database and its backups", async () => {
    await setConfig(stack, { ...spec(), allowDataRemoval: true });
    await stack.up();
    expect(sqlite(db, "SELECT count(*) FROM users")).toBe("2"); // the kept data was adopted, not replaced
    const result = await stack.destroy();
    expect(result.stdout).toContain("deleted sqlite database app");
    expect(existsSync(db)).toBe(false);
    expect(existsSync(backups)).toBe(false);
  });

  it("invalid config fails before anything is touched, naming the key, without a stack trace", async () => {
    const badDb = join(box.dir, "never", "app.db");
    await setConfig(stack, { sqlite: { app: { path: badDb, backup: { retentionDays: -3 } } } });
    const err = await stack.up().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeDefined();
    expect(err!.message).toContain("dbstack:sqlite.app.backup.retentionDays: expected a whole number of days from 1 to 3650, got -3");
    expect(err!.message).not.toMatch(/\n\s+at .*\.ts:\d+/);
    expect(existsSync(badDb)).toBe(false);
  });
});

describe("SQLite with no owner, deployed as root: dbstack's own account dbstack-sqlite", () => {
  const ACCOUNT = "dbstack-sqlite";
  const dir = join(box.dir, "default");
  const appDb = join(dir, "data", "app.db");
  const oldDb = join(dir, "old", "old.db");
  const own = join(dir, "migrations");
  const backupDir = join(dir, "backups");
  const name = `it-sqlite-default-${process.pid}`;
  let s2: Stack;
  const uidOf = (user: string) => Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());

  function noOwner(extra: Record<string, unknown> = {}) {
    const db = (path: string, tools: string) => ({
      path,
      toolsDir: join(dir, tools),
      migrations: { dir: own },
      healthChecks: [{ name: "users table", sql: "SELECT count(*) >= 0 FROM users", expect: "1" }],
    });
    return {
      sqlite: {
        app: { ...db(appDb, "tools-app"), backup: { schedule: "30 3 * * *", dir: backupDir, retentionDays: 7 } },
        old: db(oldDb, "tools-old"),
        ...extra,
      },
    };
  }

  beforeAll(async () => {
    writeMigration(own, "0001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n");
    // A database dbstack created as root before it had an account of its own: root's file, its
    // marker, root's 0700 directory (what renderProvision without an owner makes).
    const earlier = renderProvision({ name: "old", path: oldDb, pragmas: resolvePragmas(undefined), toolsDir: join(dir, "tools-old"), allowDataRemoval: false });
    expect(spawnSync("bash", ["-s"], { input: earlier, encoding: "utf8" }).status).toBe(0);
    sqlite(oldDb, "CREATE TABLE kept (x TEXT); INSERT INTO kept VALUES ('from before')");
    s2 = await box.stack(name, noOwner());
  });

  afterAll(async () => {
    await setConfig(s2, { ...noOwner(), allowDataRemoval: true });
    await s2.up();
    await s2.destroy();
    await s2.workspace.removeStack(name);
  });

  it("up makes the account (system, no login shell, no home) and gives it the file and its directory; migrations and checks run", async () => {
    expect(statSync(oldDb).uid).toBe(0);
    const result = await s2.up();
    const [, , , gid, , home, shell] = execFileSync("getent", ["passwd", ACCOUNT], { encoding: "utf8" }).trim().split(":");
    expect(shell).toBe("/usr/sbin/nologin");
    expect(home).toBe("/nonexistent");
    expect(existsSync(home)).toBe(false);
    expect(uidOf(ACCOUNT)).toBeLessThan(1000); // a system account
    expect(execFileSync("getent", ["group", ACCOUNT], { encoding: "utf8" })).toContain(`${ACCOUNT}:x:${gid}:`);
    expect(statSync(markerPath(appDb)).uid).toBe(0); // dbstack's record of the file, root's as for any owner
    for (const p of [appDb, join(dir, "data")]) {
      expect(statSync(p).uid, p).toBe(uidOf(ACCOUNT));
      expect(statSync(p).gid, p).toBe(Number(gid));
    }
    expect(statSync(appDb).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "data")).mode & 0o777).toBe(0o700);
    expect(sqlite(appDb, "SELECT id FROM dbstack_migrations")).toBe("0001_users");
    expect(result.outputs.sqlite.value.app.hookReport).toContain("users table: 1");
  });

  it("a file dbstack made as root earlier (its marker beside it) is adopted: the account's now, its data kept and migrated", () => {
    for (const p of [oldDb, join(dir, "old")]) expect(statSync(p).uid, p).toBe(uidOf(ACCOUNT));
    expect(statSync(markerPath(oldDb)).uid).toBe(0);
    expect(sqlite(oldDb, "SELECT x FROM kept")).toBe("from before");
    expect(sqlite(oldDb, "SELECT id FROM dbstack_migrations")).toBe("0001_users");
  });

  it("a hostile migration reading /etc/shadow through fsdir gets nothing of root's", async () => {
    // The control: root's sqlite3 reads it with the very same SQL.
    const probe = join(mkdtempSync(join(tmpdir(), "dbstack-probe-")), "p.db");
    expect(Number(sqlite(probe, "SELECT length(data) FROM fsdir('/etc/shadow')"))).toBeGreaterThan(0);
    rmSync(join(probe, ".."), { recursive: true, force: true });

    writeMigration(own, "0002_loot.sql", "CREATE TABLE loot AS SELECT name, data FROM fsdir('/etc/shadow');\n");
    await s2.up().catch(() => undefined); // whether the client errors or reads NULL, nothing of the file may land
    const landed = sqlite(appDb, "SELECT count(*) FROM sqlite_master WHERE name = 'loot'") === "1" ? sqlite(appDb, "SELECT count(*) FROM loot WHERE data IS NOT NULL") : "0";
    expect(landed).toBe("0");
    expect(sqlite(appDb, "SELECT id FROM dbstack_migrations ORDER BY id")).toBe("0001_users\n0002_loot");
  });

  it("backup and restore work with the file owned by the account; a second up changes nothing", async () => {
    sqlite(appDb, "INSERT INTO users (email) VALUES ('ana@example.com')");
    expect(run(join(dir, "tools-app", "backup"))).toMatch(/backup ok: /);
    sqlite(appDb, "DELETE FROM users");
    expect(run(join(dir, "tools-app", "restore"), ["--yes"])).toContain("restored");
    expect(sqlite(appDb, "SELECT email FROM users")).toBe("ana@example.com");
    expect(statSync(appDb).uid).toBe(uidOf(ACCOUNT));
    expect(run(join(dir, "tools-app", "health"))).toContain("users table: 1");
    const again = await s2.up();
    expect(Object.keys(changes(again.summary))).toEqual(["same"]);
  });

  it("a path below a directory the account cannot search (a 0700 mktemp) fails naming path; nothing is changed there", async () => {
    const closed = mkdtempSync(join(tmpdir(), "dbstack-closed-"));
    const blockedDb = join(closed, "data", "x.db");
    try {
      await setConfig(s2, noOwner({ blocked: { path: blockedDb, toolsDir: join(dir, "tools-blocked"), healthChecks: [{ name: "one", sql: "SELECT 1", expect: "1" }] } }));
      await expect(s2.up()).rejects.toThrow(new RegExp(`path: ${blockedDb} is out of reach of the OS user ${ACCOUNT}[^\n]*${closed} \\(mode 700, owner root\\) is not searchable`));
      expect(statSync(closed).mode & 0o777).toBe(0o700);
      expect(existsSync(join(closed, "data"))).toBe(false);
    } finally {
      await setConfig(s2, noOwner());
      rmSync(closed, { recursive: true, force: true });
    }
  });

  it("destroy keeps the account (other stacks and clones may use it)", async () => {
    await s2.up();
    await s2.destroy();
    expect(uidOf(ACCOUNT)).toBeGreaterThan(0);
    expect(existsSync(appDb)).toBe(true); // data kept by default
  });
});
