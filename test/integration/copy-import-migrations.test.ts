/**
 * `importFrom: { from, schema: "migrations" }` through the real Pulumi engine (issue 19, point 1):
 * a real application's Alembic migrations (test/fixtures/copy-app: a sequence-backed id, check
 * constraints, a generated column with an index, varchar(256) unique keys) make its schema on an
 * SQLite deployment, whose hook also fills it through the application's own SQL; a PostgreSQL
 * database of the same stack declares the same migrations and imports from the SQLite one,
 * migrations first. The up runs the migrations on PostgreSQL, then copies into the tables they
 * made (never recreating them, alembic_version left as they wrote it), moves the sequences and
 * verifies; the application then inserts new rows through its own SQL. Values are compared with
 * each engine's own SQL, not with db:copy's verification.
 *
 * The same into MariaDB (its own instance of the stack): SQLAlchemy's DateTime is whole seconds
 * there, so the import allows the microseconds' cut by id.
 *
 * Owns: ports 7311 (PostgreSQL) and 7316 (MariaDB), cluster csimp, instance csshop, stack it-cs-import.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import { cpSync, rmSync } from "fs";
import { join, resolve } from "path";
import { createConnection } from "mysql2/promise";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { summarizePreview, type PreviewEvent } from "../../scripts/lib/previewSummary";
import { changes, sandbox, setConfig, sqlite } from "./harness";
import { need } from "./support/scratch";

const box = sandbox("cs-import");
const PG_PORT = 7311;
const CLUSTER = "csimp";
const MDB_PORT = 7316;
const INSTANCE = "csshop";
const PYTHON = "/usr/bin/python3";
const APP = join(box.dir, "app");
const appDb = join(box.dir, "data", "app.db");
const ALEMBIC = `${PYTHON} -m alembic -c alembic.ini upgrade head`;
let stack: Stack;
let lastConfig: Record<string, unknown> = {};

/** sqlite `app` made and filled by the application; postgres `main` whose database `app` imports from it as `importFrom` says. */
function config(importFrom: unknown, over: { allowDataRemoval?: boolean; pgMigrations?: unknown } = {}) {
  return {
    allowDataRemoval: over.allowDataRemoval ?? false,
    sqlite: {
      // The application's own migrations, then its own SQL writing 40 projects, 200 tickets and 200 labels.
      app: { path: appDb, owner: "nobody", group: "nogroup", toolsDir: join(box.dir, "tools-app"), migrations: { command: `${ALEMBIC} && ${PYTHON} app.py fill 40`, workdir: APP } },
    },
    postgres: {
      main: {
        instanceName: CLUSTER,
        port: PG_PORT,
        hostFacts: { memoryMb: 1024, cpus: 1 },
        maxConnections: 20,
        // SQLAlchemy 1.4 (Debian 12) opens postgresql:// with psycopg2; its `sqlalchemy` flavour (psycopg 3) needs SQLAlchemy 2.
        databases: { app: { owner: "app", importFrom, migrations: over.pgMigrations ?? { command: ALEMBIC, workdir: APP, url: "libpq" } } },
        users: { app: { grants: { app: "owner" } } },
        toolsDir: join(box.dir, "tools-pg"),
      },
    },
    mariadb: {
      shop: {
        instanceName: INSTANCE,
        port: MDB_PORT,
        hostFacts: { memoryMb: 1024, cpus: 1 },
        maxConnections: 20,
        databases: {
          app: {
            owner: "shop",
            importFrom: { from: "sqlite:app", schema: "migrations", allow: ["project.created_at:fraction-digits"] },
            migrations: { command: ALEMBIC, workdir: APP, url: "sqlalchemy" },
          },
        },
        // The copy and the migrations log in over TCP from this machine.
        users: { shop: { grants: { app: "owner" }, hosts: ["localhost", "127.0.0.1"] } },
        toolsDir: join(box.dir, "tools-mariadb"),
      },
    },
  };
}

async function configure(c: Record<string, unknown>): Promise<void> {
  lastConfig = c;
  await setConfig(stack, c);
}

/** The owner's URL of postgres main/app, from the stack's outputs. */
async function ownerUrl(): Promise<URL> {
  const outputs = await stack.outputs();
  return new URL(outputs.postgres.value.main.urls.app.app.postgresql);
}

/** Rows of `sql` in postgres main/app, as its owner. */
async function pgQuery(sql: string): Promise<Record<string, unknown>[]> {
  const url = await ownerUrl();
  const client = new Client({ host: "127.0.0.1", port: PG_PORT, user: "app", database: "app", password: decodeURIComponent(url.password), ssl: { rejectUnauthorized: false } });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Runs the application against postgres main/app (SQLAlchemy with psycopg2); returns what it printed. */
async function app(args: string[]): Promise<string> {
  const url = await ownerUrl();
  const env = { ...process.env, DATABASE_URL: `postgresql+psycopg2://${url.href.slice("postgresql://".length)}` };
  return execFileSync(PYTHON, ["app.py", ...args], { cwd: APP, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

const rowsOf = (rs: Record<string, unknown>[]) => rs.map((r) => Object.values(r).map((v) => (v === null ? "NULL" : String(v))).join("|"));

/** Rows of `sql` in mariadb shop/app, as its owner. */
async function mdbQuery(sql: string): Promise<Record<string, unknown>[]> {
  const outputs = await stack.outputs();
  const url = new URL(outputs.mariadb.value.shop.urls.shop.app.mysql);
  const c = await createConnection({ host: "127.0.0.1", port: MDB_PORT, user: "shop", database: "app", password: decodeURIComponent(url.password), ssl: { rejectUnauthorized: false } });
  try {
    const [rows] = await c.query(sql);
    return rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

/** Runs the application against mariadb shop/app (SQLAlchemy with PyMySQL). */
async function mdbApp(args: string[]): Promise<string> {
  const outputs = await stack.outputs();
  const url = new URL(outputs.mariadb.value.shop.urls.shop.app.mysql);
  const env = { ...process.env, DATABASE_URL: `mysql+pymysql://shop:${url.password}@127.0.0.1:${MDB_PORT}/app?charset=utf8mb4` };
  return execFileSync(PYTHON, ["app.py", ...args], { cwd: APP, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** Stops and removes this file's MariaDB instance (by its pid file), also one a crashed earlier run left. */
function dropTestInstance(): void {
  execFileSync("bash", [
    "-c",
    `pid=$(cat /run/mysqld/dbstack-${INSTANCE}.pid 2>/dev/null); if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done; fi; ` +
      `rm -rf /etc/mysql/dbstack/${INSTANCE} /var/lib/dbstack-mariadb/${INSTANCE} /run/mysqld/dbstack-${INSTANCE}.*; true`,
  ]);
}

/** Removes this file's cluster, also one a crashed earlier run left (its data is throwaway). */
function dropTestCluster(): void {
  execFileSync("bash", ["-c", `pg_dropcluster --stop 15 ${CLUSTER} 2>/dev/null; rm -rf /etc/postgresql/15/${CLUSTER} /var/lib/postgresql/15/${CLUSTER} /var/lib/postgresql/.dbstack-15-${CLUSTER}.pgpass`]);
}

beforeAll(async () => {
  let python = true;
  try {
    execFileSync(PYTHON, ["-c", "import alembic, sqlalchemy, psycopg2, pymysql"], { stdio: "pipe" });
  } catch {
    python = false;
  }
  need("Alembic with SQLAlchemy, psycopg2 and PyMySQL", python, "apt-get install python3-alembic python3-sqlalchemy python3-psycopg2 python3-pymysql", "importFrom into the application's schema");
  dropTestCluster();
  dropTestInstance();
  // The application, where its unprivileged SQLite owner (nobody) can read it.
  cpSync(resolve(__dirname, "../fixtures/copy-app"), APP, { recursive: true });
  stack = await box.stack("it-cs-import", {});
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

describe('importFrom with schema "migrations": an Alembic application moved from SQLite into PostgreSQL', () => {
  it("refuses migrations first on a database that declares no migrations, naming the field, before anything runs", async () => {
    await configure({ ...config({ from: "sqlite:app", schema: "migrations" }), postgres: { main: { ...config(null).postgres.main, databases: { app: { owner: "app", importFrom: { from: "sqlite:app", schema: "migrations" } } } } } });
    const error = await stack.preview().then(
      () => "",
      (err: Error) => err.message,
    );
    expect(error).toContain('dbstack:postgres.main.databases.app.importFrom.schema: "migrations" copies into the tables the database\'s migrations make, but databases.app declares no migrations');
    expect(execFileSync("bash", ["-c", `ls /etc/postgresql/15 2>/dev/null | grep -cx ${CLUSTER} || true`], { encoding: "utf8" }).trim()).toBe("0");
  });

  it("runs the migrations, then copies into their tables and verifies, in the up that creates the database", async () => {
    await configure(config({ from: "sqlite:app", schema: "migrations" }));
    const events: PreviewEvent[] = [];
    await stack.preview({ onEvent: (e) => events.push(e as PreviewEvent) });
    expect(summarizePreview("cs", events).flags.filter((f) => f.kind === "import").map((f) => f.message).sort()).toEqual(["data copied from sqlite `app` into mariadb `shop/app`", "data copied from sqlite `app` into postgres `main/app`"]);

    const result = await stack.up();
    expect(changes(result.summary).create).toBeGreaterThan(0);

    // Every row, as each engine's own SQL reads it.
    const src = {
      project: sqlite(appDb, "SELECT id || '|' || slug || '|' || name || '|' || created_at FROM project ORDER BY id").split("\n"),
      ticket: sqlite(appDb, "SELECT id || '|' || project_id || '|' || title || '|' || priority || '|' || printf('%.2f', estimate) || '|' || done || '|' || coalesce(due, 'NULL') FROM ticket ORDER BY id").split("\n"),
      label: sqlite(appDb, "SELECT id || '|' || ticket_id || '|' || text FROM label ORDER BY id").split("\n"),
    };
    expect([src.project.length, src.ticket.length, src.label.length]).toEqual([40, 200, 200]);
    expect(rowsOf(await pgQuery("SELECT id, slug, name, to_char(created_at, 'YYYY-MM-DD HH24:MI:SS.US') FROM project ORDER BY id"))).toEqual(src.project);
    expect(rowsOf(await pgQuery("SELECT id, project_id, title, priority, estimate::text, CASE WHEN done THEN 1 ELSE 0 END, due::text FROM ticket ORDER BY id"))).toEqual(src.ticket);
    // The generated column is the target's own (PostgreSQL's lower() folds Ä, SQLite's does not): computed, never copied.
    expect((await pgQuery("SELECT count(*)::int AS n FROM ticket WHERE title_key = lower(title)"))[0].n).toBe(200);
    expect(rowsOf(await pgQuery("SELECT id, ticket_id, text FROM label ORDER BY id"))).toEqual(src.label);
  });

  it("keeps the schema the migrations made: their sequence defaults, checks and generated column, alembic_version as they wrote it", async () => {
    // Tables the copy created would have identity columns; the migrations' have nextval() defaults.
    const defaults = await pgQuery("SELECT table_name, column_default FROM information_schema.columns WHERE column_name = 'id' AND table_name IN ('project', 'ticket', 'label') ORDER BY table_name");
    expect(defaults).toEqual([
      { table_name: "label", column_default: "nextval('label_id_seq'::regclass)" },
      { table_name: "project", column_default: "nextval('project_id_seq'::regclass)" },
      { table_name: "ticket", column_default: null },
    ]);
    expect((await pgQuery("SELECT count(*)::int AS n FROM pg_sequences WHERE sequencename = 'ticket_id_seq'"))[0].n).toBe(1);
    expect((await pgQuery("SELECT is_generated FROM information_schema.columns WHERE table_name = 'ticket' AND column_name = 'title_key'"))[0].is_generated).toBe("ALWAYS");
    expect(await pgQuery("SELECT version_num FROM alembic_version")).toEqual([{ version_num: "0002" }]);
    // The application's checks hold on the target.
    await expect(pgQuery("UPDATE ticket SET priority = 9 WHERE id = 1")).rejects.toThrow(/ck_ticket_priority/);
  });

  it("lets the application insert new rows through its own SQL: every sequence was moved past the copied keys", async () => {
    expect(await app(["add", "Brand New Ticket"])).toBe("201 brand new ticket");
    expect(await app(["label", "fresh"])).toBe("202");
  });

  it("a second up changes nothing and copies nothing", async () => {
    const result = await stack.up();
    expect(changes(result.summary)).not.toHaveProperty("create");
    expect(changes(result.summary)).not.toHaveProperty("update");
    expect((await pgQuery("SELECT count(*)::int AS n FROM ticket"))[0].n).toBe(201);
  });
});

describe('importFrom with schema "migrations": the same application into MariaDB', () => {
  it("copied into the tables its migrations made, every row exact (microseconds cut as allowed), its sequence moved", async () => {
    const cut = (s: string) => s.replace(/\.\d+$/, "");
    const project = sqlite(appDb, "SELECT id || '|' || slug || '|' || name || '|' || created_at FROM project ORDER BY id").split("\n").map(cut);
    const ticket = sqlite(appDb, "SELECT id || '|' || project_id || '|' || title || '|' || priority || '|' || printf('%.2f', estimate) || '|' || done || '|' || coalesce(due, 'NULL') FROM ticket ORDER BY id").split("\n");
    const label = sqlite(appDb, "SELECT id || '|' || ticket_id || '|' || text FROM label ORDER BY id").split("\n");
    expect(rowsOf(await mdbQuery("SELECT id, slug, name, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s') FROM project ORDER BY id"))).toEqual(project);
    expect(rowsOf(await mdbQuery("SELECT id, project_id, title, priority, CAST(estimate AS CHAR), done, CAST(due AS CHAR) FROM ticket ORDER BY id"))).toEqual(ticket);
    expect(rowsOf(await mdbQuery("SELECT id, ticket_id, text FROM label ORDER BY id"))).toEqual(label);
    expect(await mdbQuery("SELECT version_num FROM alembic_version")).toEqual([{ version_num: "0002" }]);
    // The migrations' own sequence, which db:copy creating the tables could not make on MariaDB.
    expect(await mdbApp(["add", "Brand New Ticket"])).toBe("201 brand new ticket");
  });
});
