import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import type { SqliteDatabaseArgs } from "../../components/engines/sqlite/database";

type Registered = pulumi.runtime.MockResourceArgs;
const registered: Registered[] = [];

function output<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply(resolve));
}

let SqliteDatabase: typeof import("../../components/engines/sqlite/database").SqliteDatabase;

beforeAll(async () => {
  // Mocks first: the component module must load against the mock monitor.
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push(args);
        return { id: `${args.name}-id`, state: { ...args.inputs, stdout: "" } };
      },
      call: (args) => args.inputs,
    },
    "dbstack",
    "unit",
    false,
  );
  ({ SqliteDatabase } = await import("../../components/engines/sqlite/database"));
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
  const resources: pulumi.Resource[] = [];
  const collect: pulumi.ResourceTransformation = (t) => {
    resources.push(t.resource);
    return undefined;
  };
  const db = new SqliteDatabase(name, args, { transformations: [collect] });
  // Transformations see the component itself too; keep its children.
  const urns = await Promise.all(resources.filter((r) => r !== db).map((r) => output(r.urn)));
  const children = new Map(registered.filter((r) => r.name.startsWith(`${name}-`)).map((r) => [r.name, r]));
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
    expect(create).toContain("/etc/cron.d/dbstack-dev-cron-backup");
    expect(create).toContain("0 2 * * * root /opt/dbstack/app/backup >> /var/backups/app/backup.log 2>&1");
  });

  it("gives the post-deploy hook DATABASE_URL and the migrations", async () => {
    const { children } = await build("hook", ARGS);
    const hook = children.get("hook-post-deploy")!.inputs;
    expect(hook.environment).toEqual({ DATABASE_URL: "sqlite:////var/lib/app/app.db" });
    expect(hook.create).toContain("applied migration 0001_create_users");
    expect(hook.create).toContain("CREATE TABLE users(email TEXT);");
  });
});
