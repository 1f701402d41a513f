import * as pulumi from "@pulumi/pulumi";
import { stackHostPrefix } from "../../components/model/naming";
import { beforeAll, describe, expect, it } from "vitest";
import { buildComponent, installMocks, output, type Registered } from "./support/mocks";
import type { SqliteDatabaseArgs } from "../../components/engines/sqlite/database";

const registered: Registered[] = [];

let SqliteDatabase: typeof import("../../components/deploy/sqliteDatabase").SqliteDatabase;

beforeAll(async () => {
  // Mocks first: the component module must load against the mock monitor.
  await installMocks(registered, () => ({ stdout: "" }));
  ({ SqliteDatabase } = await import("../../components/deploy/sqliteDatabase"));
});

const HOST_COMMAND = "pulumi-nodejs:dynamic/dbstack:HostCommand";

const ARGS: SqliteDatabaseArgs = {
  path: "/var/lib/app/app.db",
  toolsDir: "/opt/dbstack/app",
  backup: { dir: "/var/backups/app", retentionDays: 7 },
  migrations: { kind: "sql", migrations: [{ id: "0001_create_users", checksum: "0".repeat(64), sql: "CREATE TABLE users(email TEXT);" }] },
};

/** Builds a database under a unique name and waits until all its children have registered. */
async function build(name: string, args: SqliteDatabaseArgs) {
  const { component: db, children, urns } = await buildComponent(name, (opts) => new SqliteDatabase(name, args, opts), registered);
  return { db, children, urns };
}

describe("SqliteDatabase", () => {
  it("registers the file, tools, backup schedule and post-deploy hook as HostCommands", async () => {
    const { children } = await build("app", ARGS);
    expect([...children.keys()].sort()).toEqual(["app-backup-schedule", "app-file", "app-post-deploy", "app-tools"]);
    for (const child of children.values()) {
      expect(child.type).toBe(HOST_COMMAND);
      expect(child.type).toContain("HostCommand");
      expect(child.inputs).toHaveProperty("__provider");
    }
  });

  it("parents every child to the component", async () => {
    const { db, urns } = await build("parented", ARGS);
    expect(await output(db.urn)).toBe("urn:pulumi:unit::dbstack::dbstack:sqlite:Database::parented");
    // A child's URN carries its parent's type: Database$HostCommand.
    expect(urns.sort()).toEqual(
      ["backup-schedule", "file", "post-deploy", "tools"].map((c) => `urn:pulumi:unit::dbstack::dbstack:sqlite:Database$${HOST_COMMAND}::parented-${c}`),
    );
  });

  it("has no backup schedule and empty backup and restore commands without backup", async () => {
    const { db, children } = await build("nobackup", { path: "/var/lib/app/nobackup.db" });
    expect([...children.keys()].sort()).toEqual(["nobackup-file", "nobackup-post-deploy", "nobackup-tools"]);
    expect(await output(db.restoreCommand)).toBe("");
    expect(await output(db.backupCommand)).toBe("");
  });

  it("exposes the path, URLs, connection init and tool commands", async () => {
    const { db } = await build("outputs", ARGS);
    expect(await output(db.path)).toBe("/var/lib/app/app.db");
    expect(await output(db.url)).toBe("sqlite:////var/lib/app/app.db");
    expect(await output(db.fileUri)).toBe("file:///var/lib/app/app.db");
    expect(await output(db.connectionInit)).toBe("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
    expect(await output(db.restoreCommand)).toBe("/opt/dbstack/app/restore");
    expect(await output(db.backupCommand)).toBe("/opt/dbstack/app/backup");
  });

  it("keeps the database file on destroy by default", async () => {
    const { children } = await build("keep", ARGS);
    const file = children.get("keep-file")!.inputs;
    expect(file.delete).toContain("kept sqlite database keep at /var/lib/app/app.db");
    expect(file.delete).not.toMatch(/\brm\b/);
    expect(children.get("keep-backup-schedule")!.inputs.delete).toContain("kept the backups of keep in /var/backups/app");
  });

  it("deletes the database file and backups on destroy with allowDataRemoval", async () => {
    const { children } = await build("remove", { ...ARGS, allowDataRemoval: true });
    expect(children.get("remove-file")!.inputs.delete).toContain("rm -f '/var/lib/app/app.db' '/var/lib/app/app.db-wal' '/var/lib/app/app.db-shm'");
    expect(children.get("remove-backup-schedule")!.inputs.delete).toContain("find '/var/backups/app' -maxdepth 1 -type f -name 'remove-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.db.gz*' -delete");
  });

  it("schedules the backup tool in cron under the host prefix, with the declared schedule defaulted", async () => {
    const { children } = await build("cron", { ...ARGS, hostPrefix: "dbstack-dev" });
    const create: string = children.get("cron-backup-schedule")!.inputs.create;
    expect(create).toContain("/etc/cron.d/dbstack-dev-sqlite-cron-backup");
    expect(create).toContain("0 2 * * * root /opt/dbstack/app/backup >> /var/backups/app/cron-backup.log 2>&1");
  });

  it("gives the post-deploy hook DATABASE_URL and the migrations", async () => {
    const { children } = await build("hook", ARGS);
    const hook = children.get("hook-post-deploy")!.inputs;
    // The environment reaches the engine as a secret (Pulumi's secret signature), so it is encrypted in state.
    expect(hook.environment).toEqual({
      "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
      value: { DATABASE_URL: "sqlite:////var/lib/app/app.db" },
    });
    expect(hook.create).toContain("applied migration 0001_create_users");
    // The user's SQL is a file beside the script (readable in a diff), never part of it.
    expect(hook.files["migration-0001_create_users.sql"]).toContain("CREATE TABLE users(email TEXT);");
    expect(hook.create).not.toContain("CREATE TABLE users(email TEXT);");
  });
});

describe("SqliteDatabase owner", () => {
  it("with no owner declared, a root deploy owns the file as, and runs the hooks and tools as, dbstack-sqlite (DEFAULTS.sqlite.owner), created if missing", async () => {
    const { DEFAULTS } = await import("../../components/model/defaults");
    expect(DEFAULTS.sqlite.owner).toBe("dbstack-sqlite");
    const { children } = await build("defaultowner", { ...ARGS, healthChecks: [{ name: "users", sql: "SELECT count(*) >= 0 FROM users", expect: "1" }] });
    const file: string = children.get("defaultowner-file")!.inputs.create;
    expect(file).toContain("useradd --system --gid 'dbstack-sqlite' --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin 'dbstack-sqlite'");
    expect(file).toContain(`if [ "$(id -u)" = 0 ]; then chown 'dbstack-sqlite:dbstack-sqlite' '/var/lib/app/app.db'; fi`);
    expect(file).toContain("is out of reach of the OS user");
    expect(children.get("defaultowner-post-deploy")!.inputs.create).toContain("DB_OWNER='dbstack-sqlite'");
    // The tools (shell, health, restore) are files the tools step installs: they run as the account too.
    const tools: Record<string, string> = children.get("defaultowner-tools")!.inputs.files;
    for (const tool of ["shell", "health", "restore"]) expect(tools[tool], tool).toContain("DB_OWNER='dbstack-sqlite'");
    const hook: string = children.get("defaultowner-post-deploy")!.inputs.create;
    expect(hook).toContain('runuser -u "$DB_OWNER"');
    // The account is never removed: destroy has no userdel in any step.
    for (const [name, child] of children) expect(child.inputs.delete ?? "", name).not.toMatch(/userdel|groupdel/);
  });

  it("a declared owner is used as is, and dbstack creates no account for it", async () => {
    const { children } = await build("declaredowner", { ...ARGS, owner: "app", group: "www-data" });
    const file: string = children.get("declaredowner-file")!.inputs.create;
    expect(file).not.toContain("useradd");
    expect(file).toContain("chown 'app:www-data' '/var/lib/app/app.db'");
    expect(children.get("declaredowner-post-deploy")!.inputs.create).toContain("DB_OWNER='app'");
  });
});

describe("SqliteDatabase on an SSH host", () => {
  it("hands every step the key its target carries, as a secret, and pins the host's keys", async () => {
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nsqlite-unit-key\n-----END OPENSSH PRIVATE KEY-----";
    const { children } = await build("remote", { path: "/var/lib/app/remote.db", target: { kind: "ssh", host: "10.0.0.7", privateKey: key }, backup: {} });
    expect([...children.keys()]).toContain("remote-host-keys");
    for (const step of ["remote-file", "remote-tools", "remote-backup-schedule", "remote-post-deploy"]) {
      const inputs = children.get(step)!.inputs;
      expect(JSON.stringify(inputs.privateKey)).toContain("sqlite-unit-key");
      expect(JSON.stringify(inputs.privateKey)).toContain("4dabf18193072939515e22adb298388d"); // Pulumi's secret signature
      expect(JSON.stringify(inputs.target)).not.toContain("sqlite-unit-key");
    }
  });
});

describe("SqliteDatabase default tools directory", () => {
  it("is under /usr/local/lib/<hostPrefix>/sqlite-<name>, so two stacks or two engines never share it", async () => {
    const { db, children } = await build("app", { path: "/var/lib/app/app.db", hostPrefix: "dbstack-dev", backup: {} });
    const create: string = children.get("app-tools")!.inputs.create;
    expect(create).toContain("mkdir -p '/usr/local/lib/dbstack-dev/sqlite-app'; chmod 700 '/usr/local/lib/dbstack-dev/sqlite-app'");
    expect(create).toContain("installed shell, health, backup, restore in /usr/local/lib/dbstack-dev/sqlite-app");
    expect(create).not.toContain("/usr/local/lib/dbstack/");
    // Destroy removes the tools its manifest lists, then the directory only if it is empty: never rm -rf.
    const remove: string = children.get("app-tools")!.inputs.delete;
    expect(remove).toContain("done < '/usr/local/lib/dbstack-dev/sqlite-app/.dbstack-tools'");
    expect(remove).toContain("rmdir '/usr/local/lib/dbstack-dev/sqlite-app' 2>/dev/null");
    expect(remove).not.toContain("rm -rf");
    expect(await output(db.healthCommand)).toBe("/usr/local/lib/dbstack-dev/sqlite-app/health");
    expect(await output(db.backupCommand)).toBe("/usr/local/lib/dbstack-dev/sqlite-app/backup");
  });

  it("is under /usr/local/lib/dbstack-<stack>-<id>/sqlite-<name> without a hostPrefix: the id is the project's, stack's and clone's", async () => {
    const { db } = await build("plain", { path: "/var/lib/app/plain.db" });
    const health = await output(db.healthCommand);
    expect(health).toMatch(/^\/usr\/local\/lib\/dbstack-unit-[0-9a-f]{6}\/sqlite-plain\/health$/);
    expect(health).toBe(`/usr/local/lib/${stackHostPrefix("dbstack", "unit", pulumi.runtime.getRootDirectory() || process.cwd())}/sqlite-plain/health`);
  });
});

describe("SqliteDatabase argument validation", () => {
  /** The message of the error constructing the database throws; fails the test if it throws none. */
  function argumentError(name: string, args: SqliteDatabaseArgs): string {
    try {
      new SqliteDatabase(name, args);
    } catch (err) {
      expect(err).toBeInstanceOf(Error);
      return (err as Error).message;
    }
    throw new Error(`SqliteDatabase accepted ${name} ${JSON.stringify(args)}`);
  }

  const GOOD: SqliteDatabaseArgs = { path: "/var/lib/app/app.db" };

  it.each([
    ["path", "relative.db", "bad-relative", { ...GOOD, path: "relative.db" }],
    ["path", "/a b.db", "bad-space", { ...GOOD, path: "/a b.db" }],
    ["owner", "Bad User", "bad-owner", { ...GOOD, owner: "Bad User" }],
    ["backup.schedule", "0 25 * * *", "bad-schedule", { ...GOOD, backup: { schedule: "0 25 * * *" } }],
    ["backup.retentionDays", 0, "bad-retention", { ...GOOD, backup: { retentionDays: 0 } }],
    ["name", "App", "App", GOOD],
  ] as [string, string | number, string, SqliteDatabaseArgs][])("rejects %s %j, naming the argument and the value", (field, value, name, args) => {
    const message = argumentError(name, args);
    expect(message.startsWith(`${field}: `), message).toBe(true);
    expect(message).toContain(JSON.stringify(value));
  });

  it("rejects owner root when the database has migrations or checks (they never run as root), naming owner", () => {
    const checks = { ...GOOD, owner: "root", healthChecks: [{ name: "one", sql: "SELECT 1" }] };
    expect(argumentError("rootchecks", checks)).toMatch(/^owner: root would run this database's migrations, health checks and migration command as root/);
    const command: SqliteDatabaseArgs = { ...GOOD, owner: "root", migrations: { kind: "command", command: "true", workdir: "/" } };
    expect(argumentError("rootcmd", command)).toMatch(/^owner: root would run/);
    // Without user SQL or command, root may own the file.
    expect(() => new SqliteDatabase("rootfile", { ...GOOD, owner: "root" })).not.toThrow();
  });

  it("rejects a migration with a line sqlite3 would run as a dot-command, naming the file and the line", () => {
    const sql = "CREATE TABLE t (x);\n.shell id\n";
    const message = argumentError("dotcmd", { ...GOOD, migrations: { kind: "sql", migrations: [{ id: "0002_shell", sql, checksum: "x" }] } });
    expect(message).toBe(
      'migrations: 0002_shell.sql line 2 starts with "." and sqlite3 would run it as a dot-command, not SQL; migrations are SQL only (indent the line if it belongs to a statement)',
    );
    // Indented, the same line is SQL (and a syntax error, not a command).
    expect(() => new SqliteDatabase("indented", { ...GOOD, migrations: { kind: "sql", migrations: [{ id: "0002_x", sql: "SELECT 1;\n  .shell id\n", checksum: "x" }] } })).not.toThrow();
  });
});
