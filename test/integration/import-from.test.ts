/**
 * `importFrom` through the real Pulumi engine: an SQLite database whose migrations create rows,
 * and a PostgreSQL database on this machine declared to be seeded from it. The up that creates
 * the PostgreSQL database copies and verifies; a later up never copies again, even when the
 * source changed or the reference did.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import { chmodSync, rmSync } from "fs";
import { join } from "path";
import { createConnection } from "mysql2/promise";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { summarizePreview, type PreviewEvent } from "../../scripts/lib/previewSummary";
import { changes, sandbox, setConfig, sqlite, writeMigration } from "./harness";

const box = sandbox("import-from");
const PG_PORT = 5691;
const CLUSTER = "impmain";
const MARIADB_PORT = 3391;
const INSTANCE = "impshop";
const appDb = join(box.dir, "data", "app.db");
const otherDb = join(box.dir, "data", "other.db");
const sqliteMigrations = join(box.dir, "sqlite-migrations");
const pgMigrations = join(box.dir, "pg-migrations");
const ITEMS_MIGRATION = [
  "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT);",
  "INSERT INTO items (name, note) VALUES ('café', NULL), ('Zoë''s', 'ünïcode ✓'), ('plain', '');",
  "",
].join("\n");
let stack: Stack;
let lastConfig: Record<string, unknown> = {};

/**
 * The stack: sqlite `app` (and `other`), and postgres `main` whose database `app` imports from
 * `importFrom`; with `shop`, also mariadb `shop` whose database `app` imports from postgres `main/app`.
 */
function config(importFrom: unknown, over: { allowDataRemoval?: boolean; shop?: unknown[] } = {}) {
  return {
    allowDataRemoval: over.allowDataRemoval ?? false,
    sqlite: {
      // Migrations run as the owner, never as root (issue 17); both files share the owner's directory.
      app: { path: appDb, owner: "nobody", group: "nogroup", toolsDir: join(box.dir, "tools-app"), migrations: { dir: sqliteMigrations } },
      other: { path: otherDb, owner: "nobody", group: "nogroup", toolsDir: join(box.dir, "tools-other") },
    },
    postgres: {
      main: {
        instanceName: CLUSTER,
        port: PG_PORT,
        hostFacts: { memoryMb: 1024, cpus: 1 },
        maxConnections: 20,
        // The application's migrations: 0001 (the source's, copied with its record) and 0002, PostgreSQL's own.
        databases: { app: { owner: "app", importFrom, migrations: { dir: pgMigrations } } },
        users: { app: { grants: { app: "owner" } }, reader: { grants: { app: "readonly" } } },
        toolsDir: join(box.dir, "tools-pg"),
      },
    },
    mariadb: over.shop
      ? {
          shop: {
            instanceName: INSTANCE,
            port: MARIADB_PORT,
            hostFacts: { memoryMb: 1024, cpus: 1 },
            maxConnections: 20,
            databases: { app: { owner: "shop", importFrom: { from: "postgres:main/app", allow: over.shop } } },
            // The copy logs in over TCP from this machine: 127.0.0.1 besides the socket's localhost.
            users: { shop: { grants: { app: "owner" }, hosts: ["localhost", "127.0.0.1"] } },
            toolsDir: join(box.dir, "tools-mariadb"),
          },
        }
      : {},
  };
}

async function configure(c: Record<string, unknown>): Promise<void> {
  lastConfig = c;
  await setConfig(stack, c);
}

async function previewFlags(): Promise<string[]> {
  const events: PreviewEvent[] = [];
  await stack.preview({ onEvent: (e) => events.push(e as PreviewEvent) });
  return summarizePreview("imp", events).flags.filter((f) => f.kind === "import").map((f) => f.message);
}

/** Rows of `sql` in postgres main/app, as `user` (its password from the stack's outputs). */
async function pgQuery(user: string, sql: string): Promise<Record<string, unknown>[]> {
  const outputs = await stack.outputs();
  const url = new URL(outputs.postgres.value.main.urls[user].app.postgresql);
  const client = new Client({ host: "127.0.0.1", port: PG_PORT, user, database: "app", password: decodeURIComponent(url.password), ssl: { rejectUnauthorized: false } });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Removes this file's cluster, also one a crashed earlier run left (its data is throwaway). */
function dropTestCluster(): void {
  execFileSync("bash", ["-c", `pg_dropcluster --stop 15 ${CLUSTER} 2>/dev/null; rm -rf /etc/postgresql/15/${CLUSTER} /var/lib/postgresql/15/${CLUSTER} /var/lib/postgresql/.dbstack-15-${CLUSTER}.pgpass`]);
}

/** Stops and removes this file's MariaDB instance (by its pid file), also one a crashed earlier run left. */
function dropTestInstance(): void {
  execFileSync("bash", [
    "-c",
    `pid=$(cat /run/mysqld/dbstack-${INSTANCE}.pid 2>/dev/null); if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done; fi; ` +
      `rm -rf /etc/mysql/dbstack/${INSTANCE} /var/lib/dbstack-mariadb/${INSTANCE} /run/mysqld/dbstack-${INSTANCE}.*; true`,
  ]);
}

beforeAll(async () => {
  // The SQLite owner (nobody) reaches its files below the sandbox.
  chmodSync(box.dir, 0o711);
  dropTestCluster();
  dropTestInstance();
  writeMigration(sqliteMigrations, "0001_items.sql", ITEMS_MIGRATION);
  writeMigration(pgMigrations, "0001_items.sql", ITEMS_MIGRATION);
  // Fails unless the copy ran first: items exists only once the data is in.
  writeMigration(pgMigrations, "0002_sku.sql", "ALTER TABLE items ADD COLUMN sku text;\n");
  stack = await box.stack("imp", {});
}, 120_000);

afterAll(async () => {
  try {
    if (stack) {
      await setConfig(stack, { ...lastConfig, allowDataRemoval: true }).catch(() => undefined);
      await stack.up().catch(() => undefined);
      await stack.destroy().catch(() => undefined);
    }
  } finally {
    dropTestCluster();
    dropTestInstance();
    rmSync(box.dir, { recursive: true, force: true });
  }
}, 600_000);

describe("importFrom: a PostgreSQL database seeded once from an SQLite deployment", () => {
  it("refuses a reference to what the stack does not declare, naming the field, before anything runs", async () => {
    await configure(config("sqlite:nope"));
    const error = await stack.preview().then(
      () => "",
      (err: Error) => err.message,
    );
    expect(error).toContain('dbstack:postgres.main.databases.app.importFrom: no sqlite deployment "nope" in the stack (dbstack:sqlite declares app, other)');

    await configure(config("postgres:main/app"));
    const self = await stack.preview().then(
      () => "",
      (err: Error) => err.message,
    );
    expect(self).toContain('dbstack:postgres.main.databases.app.importFrom: "postgres:main/app" is this database itself');
  });

  it("flags the copy in the preview of the up that creates the database", async () => {
    await configure(config("sqlite:app"));
    expect(await previewFlags()).toEqual(["data copied from sqlite `app` into postgres `main/app`"]);
  });

  it("copies and verifies the rows during that up, owned by the owner and readable under the declared grants", async () => {
    const result = await stack.up();
    expect(changes(result.summary).create).toBeGreaterThan(0);
    const source = sqlite(appDb, "SELECT id || '|' || name || '|' || coalesce(note, '<null>') FROM items ORDER BY id");
    const copied = await pgQuery("app", "SELECT id, name, note FROM items ORDER BY id");
    expect(copied.map((r) => `${r.id}|${r.name}|${r.note ?? "<null>"}`).join("\n")).toBe(source);
    expect(copied).toHaveLength(3);
    expect((await pgQuery("reader", "SELECT count(*)::int AS n FROM items"))[0].n).toBe(3);
    expect((await pgQuery("app", "SELECT tableowner FROM pg_tables WHERE tablename = 'items'"))[0].tableowner).toBe("app");
  });

  it("runs the database's migrations after the copy, skipping the ones the source applied", async () => {
    const applied = await pgQuery("app", "SELECT id FROM dbstack_migrations ORDER BY id");
    expect(applied.map((r) => r.id)).toEqual(["0001_items", "0002_sku"]);
    expect((await pgQuery("app", "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'sku'"))[0].n).toBe(1);
    const report = (await stack.outputs()).postgres.value.main.hookReports.app as string;
    expect(report).toContain("migrations: 1 applied, 2 in total");
  });

  it("never copies again: a later up changes nothing, though the source has new rows", async () => {
    sqlite(appDb, "INSERT INTO items (name) VALUES ('added after the import')");
    expect(await previewFlags()).toEqual([]);
    const result = await stack.up();
    expect(changes(result.summary)).not.toHaveProperty("create");
    expect(changes(result.summary)).not.toHaveProperty("update");
    expect((await pgQuery("app", "SELECT count(*)::int AS n FROM items"))[0].n).toBe(3);
  });

  it("says a changed importFrom copies nothing, and copies nothing", async () => {
    sqlite(otherDb, "CREATE TABLE IF NOT EXISTS others (id INTEGER PRIMARY KEY); INSERT INTO others DEFAULT VALUES");
    await configure(config("sqlite:other"));
    expect(await previewFlags()).toEqual(["importFrom changed from sqlite `app` to sqlite `other`: nothing is copied (postgres `main/app` was seeded when it was created)"]);
    await stack.up();
    expect((await pgQuery("app", "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'others'"))[0].n).toBe(0);
    expect((await pgQuery("app", "SELECT count(*)::int AS n FROM items"))[0].n).toBe(3);
  });
});

describe("importFrom: a MariaDB database seeded once from a PostgreSQL deployment", () => {
  // The copied dbstack_migrations.id is a PostgreSQL text key: MariaDB keys hold 768 characters.
  const lossy = "dbstack_migrations.id:text->text(768)";

  it("refuses a lossy conversion the config does not allow, naming it, and writes nothing", async () => {
    await configure(config("sqlite:other", { shop: [] }));
    expect(await previewFlags()).toEqual(["data copied from postgres `main/app` into mariadb `shop/app`"]);
    const error = await stack.up().then(
      () => "",
      (err: Error) => err.message,
    );
    expect(error).toContain("importFrom: copy of postgres `main/app` into mariadb `shop/app` failed");
    expect(error).toContain(`${lossy}: dbstack_migrations.id is a key column`);
    expect(error).not.toMatch(/postgresql:\/\/app:[^*]/);
    // Refused before anything was written: the new database is empty, so the next up can copy.
    const tables = execFileSync("mariadb", [`--socket=/run/mysqld/dbstack-${INSTANCE}.sock`, "-N", "-e", "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'app'"], {
      encoding: "utf8",
    }).trim();
    expect(tables).toBe("0");
  });

  it("copies postgres main/app into the new mariadb shop/app once allowed, TLS verified against each deployment's CA", async () => {
    await configure(config("sqlite:other", { shop: [lossy] }));
    await stack.up();
    const outputs = await stack.outputs();
    const url = new URL(outputs.mariadb.value.shop.urls.shop.app.mysql);
    const conn = await createConnection({ host: "127.0.0.1", port: MARIADB_PORT, user: "shop", password: decodeURIComponent(url.password), database: "app", ssl: { rejectUnauthorized: false } });
    try {
      const [rows] = await conn.query("SELECT id, name, note FROM items ORDER BY id");
      const pg = await pgQuery("app", "SELECT id, name, note FROM items ORDER BY id");
      expect((rows as Record<string, unknown>[]).map((r) => [Number(r.id), r.name, r.note])).toEqual(pg.map((r) => [Number(r.id), r.name, r.note]));
    } finally {
      await conn.end();
    }
    expect(changes((await stack.up()).summary)).not.toHaveProperty("update");
  });
});
