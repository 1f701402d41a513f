import type { Stack } from "@pulumi/pulumi/automation";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
    const restored = run(join(tools, "restore"));
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
