import { createHash } from "crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "fs";
import { dirname, join } from "path";
import { describe, expect, it } from "vitest";
import { dotCommandLine, sqliteDialect } from "../../components/engines/sqlite/dialect";
import { resolvePragmas } from "../../components/engines/sqlite/pragmas";
import type { HealthCheck } from "../../components/hooks/healthChecks";
import { renderPostDeployHook, type MigrationSource } from "../../components/hooks/migrationRunner";
import { loadMigrations } from "../../components/hooks/migrations";
import { migrationSteps } from "../../components/copy/check/apply";
import { runScript, runScriptAsNobody, sqlite3, tempDir } from "./support/run";

function migrationDir(files: Record<string, string>): string {
  const dir = join(tempDir(), "migrations");
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

describe("loadMigrations", () => {
  it("reads the files the engine applies: NNN_name.<engine>.sql replaces NNN_name.sql there, with the same id on every engine (db:check's rule too)", () => {
    const dir = migrationDir({ "0001_users.sql": "generic", "0001_users.postgres.sql": "pg", "0002_orders.mysql.sql": "my", "0003_late.sql": "late" });
    const read = (engine: "sqlite" | "postgres" | "mariadb") => loadMigrations(dir, engine).map((m) => `${m.id}=${m.sql}`);
    expect(read("postgres")).toEqual(["0001_users=pg", "0003_late=late"]);
    expect(read("mariadb")).toEqual(["0001_users=generic", "0002_orders=my", "0003_late=late"]);
    expect(read("sqlite")).toEqual(["0001_users=generic", "0003_late=late"]);
    expect(migrationSteps(["0001_users.sql", "0001_users.postgres.sql", "0002_orders.mysql.sql", "0003_late.sql"], "postgres").map((st) => `${st.key}:${st.file}`)).toEqual(
      loadMigrations(dir, "postgres").map((m, i) => `${m.id}:${["0001_users.postgres.sql", "0003_late.sql"][i]}`),
    );
  });

  it("orders by number, not by name, and ignores files that are not .sql", () => {
    const dir = migrationDir({
      "10_add_index.sql": "CREATE INDEX i ON users(email);\n",
      "2_create_users.sql": "CREATE TABLE users(email TEXT);\n",
      "README.md": "# not a migration",
      "notes.txt": "nor this",
    });
    expect(loadMigrations(dir, "sqlite").map((m) => m.id)).toEqual(["2_create_users", "10_add_index"]);
  });

  it("keeps the SQL verbatim with its sha256 hex checksum", () => {
    const sql = "-- users\nCREATE TABLE users(email TEXT);\n";
    const [m] = loadMigrations(migrationDir({ "0001_create_users.sql": sql }), "sqlite");
    expect(m.sql).toBe(sql);
    expect(m.checksum).toBe(createHash("sha256").update(Buffer.from(sql)).digest("hex"));
    expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it("rejects a .sql file with a bad name, naming the file", () => {
    const dir = migrationDir({ "0001_ok.sql": "", "create users.sql": "" });
    expect(() => loadMigrations(dir, "sqlite")).toThrow(`migration file ${join(dir, "create users.sql")}: name must look like 0001_create_users.sql`);
  });

  it("rejects two files with the same number, naming both", () => {
    const dir = migrationDir({ "1_a.sql": "", "0001_b.sql": "" });
    expect(() => loadMigrations(dir, "sqlite")).toThrow(/migration files (1_a\.sql and 0001_b\.sql|0001_b\.sql and 1_a\.sql) in .* share the number/);
  });

  it("rejects a missing directory, naming it", () => {
    const dir = join(tempDir(), "nope");
    expect(() => loadMigrations(dir, "sqlite")).toThrow(`migrations directory ${dir} cannot be read`);
  });

  it("rejects a file given as the directory", () => {
    const file = join(tempDir(), "0001_x.sql");
    writeFileSync(file, "");
    expect(() => loadMigrations(file, "sqlite")).toThrow(`migrations directory ${file} cannot be read: not a directory`);
  });
});

describe("post-deploy hook against sqlite3", () => {
  const USERS = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n";
  const NOTES = "CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), body TEXT);\n";

  function hook(db: string, migrations?: MigrationSource, healthChecks: HealthCheck[] = []) {
    const script = renderPostDeployHook({
      subject: "sqlite database app",
      dialect: sqliteDialect({ path: db, pragmas: resolvePragmas(undefined) }),
      migrations,
      healthChecks,
    });
    // As an unprivileged user that owns the database's directory (as root, a hook with no
    // declared owner refuses user SQL: see the test at the end of this block).
    chownSync(dirname(db), 65534, 65534);
    return (env: Record<string, string> = {}) => runScriptAsNobody(script, env, dirname(db));
  }

  function sqlHook(db: string, files: Record<string, string>, healthChecks: HealthCheck[] = []) {
    return hook(db, { kind: "sql", migrations: loadMigrations(migrationDir(files), "sqlite") }, healthChecks);
  }

  it("applies pending migrations once, in order, and records them with their checksums", () => {
    const db = join(tempDir(), "app.db");
    const files = { "0001_create_users.sql": USERS, "0002_create_notes.sql": NOTES };

    const first = sqlHook(db, files)();
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("applied migration 0001_create_users\napplied migration 0002_create_notes\nmigrations: 2 applied, 2 in total\n");
    expect(sqlite3(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'notes') ORDER BY name;")).toBe("notes\nusers");
    const sha = (s: string) => createHash("sha256").update(s).digest("hex");
    expect(sqlite3(db, "SELECT id || ' ' || checksum FROM dbstack_migrations ORDER BY id;")).toBe(
      `0001_create_users ${sha(USERS)}\n0002_create_notes ${sha(NOTES)}`,
    );

    const second = sqlHook(db, files)();
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("migrations: 0 applied, 2 in total");
    expect(second.stdout).not.toContain("applied migration");
  });

  it("runs the built-in health checks and prints one line per check", () => {
    const db = join(tempDir(), "app.db");
    const r = sqlHook(db, { "0001_create_users.sql": USERS }, [{ name: "users table", sql: "SELECT count(*) >= 0 FROM users", expect: "1" }])();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/health checks:\n {2}integrity_check: ok\n {2}select 1: 1\n {2}version: 3\.\d+\.\d+\n {2}users table: 1\n$/);
  });

  it("refuses a migration edited after it was applied, before applying anything else", () => {
    const db = join(tempDir(), "app.db");
    expect(sqlHook(db, { "0001_create_users.sql": USERS })().code).toBe(0);

    const r = sqlHook(db, { "0001_create_users.sql": USERS + "-- edited\n", "0002_create_notes.sql": NOTES })();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("migration 0001_create_users was edited after it was applied");
    expect(sqlite3(db, "SELECT count(*) FROM sqlite_master WHERE name = 'notes';")).toBe("0");
  });

  it("rolls back a failing migration, names it, and applies it once it is fixed", () => {
    const db = join(tempDir(), "app.db");
    const broken = { "0001_create_users.sql": USERS, "0002_broken.sql": "CREATE TABLE t(x); INSERT INTO nope VALUES(1);\n" };

    const r = sqlHook(db, broken)();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("migration 0002_broken failed");
    expect(r.stderr).toContain("no such table: nope");
    expect(r.stdout).toContain("applied migration 0001_create_users");
    expect(sqlite3(db, "SELECT count(*) FROM sqlite_master WHERE name = 't';")).toBe("0");
    expect(sqlite3(db, "SELECT id FROM dbstack_migrations;")).toBe("0001_create_users");

    const fixed = sqlHook(db, { ...broken, "0002_broken.sql": "CREATE TABLE t(x);\n" })();
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toContain("migrations: 1 applied, 2 in total");
  });

  it("fails on a health check whose result differs from expect, naming the check", () => {
    const db = join(tempDir(), "app.db");
    const r = sqlHook(db, { "0001_create_users.sql": USERS }, [{ name: "has an admin", sql: "SELECT count(*) FROM users", expect: "1" }])();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("health check has an admin failed: expected 1, got 0");
  });

  it("fails on a health check whose query fails, naming the check", () => {
    const db = join(tempDir(), "app.db");
    const r = hook(db, undefined, [{ name: "orders table", sql: "SELECT count(*) FROM orders" }])();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("health check orders table failed");
    expect(r.stderr).toContain("no such table: orders");
  });

  it("runs a migration command in its workdir with DATABASE_URL from the environment", () => {
    const dir = tempDir();
    const db = join(dir, "app.db");
    const url = `sqlite:///${db}`;
    const run = hook(db, { kind: "command", command: `printf '%s' "$DATABASE_URL" > seen-url; pwd > seen-dir`, workdir: dir });
    const r = run({ DATABASE_URL: url });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("running migration command: printf");
    expect(readFileSync(join(dir, "seen-url"), "utf8")).toBe(url);
    expect(readFileSync(join(dir, "seen-dir"), "utf8").trim()).toBe(dir);
    expect(r.stdout).toContain("health checks:");
  });

  it("still runs the health checks after a migration command that reads stdin", () => {
    const dir = tempDir();
    const db = join(dir, "app.db");
    // runScript feeds the hook to `bash -s` on stdin, as HostCommand does: the command must not eat the rest of it.
    const r = hook(db, { kind: "command", command: "cat > /dev/null", workdir: dir })();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("running migration command: cat > /dev/null\n");
    expect(r.stdout).toMatch(/health checks:\n {2}integrity_check: ok\n {2}select 1: 1\n {2}version: 3\.\d+\.\d+\n$/);
  });

  it("fails the hook when the migration command fails", () => {
    const dir = tempDir();
    const r = hook(join(dir, "app.db"), { kind: "command", command: "echo boom >&2; exit 3", workdir: dir })();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("boom");
    expect(r.stderr).toContain("migration command failed: echo boom >&2; exit 3");
    expect(r.stdout).not.toContain("health checks:");
  });

  // Issue 7, point 2: what a migration, a check or a migration command can reach.
  it("gives a migration command a clean environment: PATH, HOME, LANG and DATABASE_URL, none of the hook's secrets", () => {
    const dir = tempDir();
    const db = join(dir, "app.db");
    const url = "postgresql://app:s3cret%20pw@127.0.0.1:5432/app?sslmode=require";
    const r = hook(db, { kind: "command", command: "env > seen-env", workdir: dir })({
      DATABASE_URL: url,
      DBSTACK_OWNER_PASSWORD: "s3cret pw",
      PULUMI_CONFIG_PASSPHRASE: "canary-passphrase",
      HOME: "/root",
      LANG: "C.UTF-8",
    });
    expect(r.code, r.stderr).toBe(0);
    const seen = Object.fromEntries(
      readFileSync(join(dir, "seen-env"), "utf8")
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    expect(seen.DATABASE_URL).toBe(url);
    expect(seen.HOME).toBe("/root");
    expect(seen.LANG).toBe("C.UTF-8");
    expect(seen.PATH).toBe(process.env.PATH);
    // What bash itself sets (PWD, SHLVL, _) and nothing else.
    const passed = ["LC_ALL", "TZ"].filter((v) => process.env[v]);
    expect(Object.keys(seen).sort()).toEqual(["DATABASE_URL", "HOME", "LANG", "PATH", "PWD", "SHLVL", "_", ...passed].sort());
  });

  it("passes DATABASE_URL to the command without putting it on a command line", () => {
    const dir = tempDir();
    const url = "postgresql://app:not-on-argv@127.0.0.1:5432/app";
    // The command looks at every process's arguments while it runs (the hook's env and bash included).
    const r = hook(join(dir, "app.db"), { kind: "command", command: "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' > seen-argv", workdir: dir })({ DATABASE_URL: url });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, "seen-argv"), "utf8")).not.toContain("not-on-argv");
  });

  it("sqlite3 runs in safe mode: .shell in a migration is refused and no shell runs", () => {
    const dir = tempDir();
    const db = join(dir, "app.db");
    const marker = join(dir, "shell-ran");
    // The component refuses such a file before deploy (dotCommandLine); this is the client's own guard behind it.
    const r = sqlHook(db, { "0001_create_users.sql": USERS, "0002_shell.sql": `CREATE TABLE t(x);\n.shell id > ${marker}\n.system id > ${marker}\n` })();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("migration 0002_shell failed");
    expect(r.stderr).toContain("cannot run .shell in safe mode");
    expect(existsSync(marker)).toBe(false);
    expect(sqlite3(db, "SELECT count(*) FROM sqlite_master WHERE name = 't';")).toBe("0");
  });

  it("safe mode also refuses ATTACH, writefile() and load_extension(), which reach files beside the database", () => {
    const dir = tempDir();
    const db = join(dir, "app.db");
    for (const [i, sql] of [`ATTACH '${dir}/other.db' AS o;`, `SELECT writefile('${dir}/w', 'x');`, `SELECT load_extension('${dir}/x');`].entries()) {
      const r = sqlHook(db, { [`000${i + 1}_x.sql`]: `${sql}\n` })();
      expect(r.code, sql).not.toBe(0);
      expect(r.stderr).toMatch(/in safe mode/);
    }
    expect(readdirSync(dir).sort()).toEqual(["app.db", "app.db.dbstack-lock"]);
  });

  it("a declared check is SQL only: one starting with a dot is not run as a dot-command", () => {
    const dir = tempDir();
    const marker = join(dir, "shell-ran");
    const r = hook(join(dir, "app.db"), undefined, [{ name: "sneaky", sql: `.shell id > ${marker}` }])();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("health check sneaky failed");
    expect(existsSync(marker)).toBe(false);
  });

  it("migrations and checks run as the declared owner, not as root", () => {
    const dir = tempDir();
    // As dbstack provisions it for an owner: the directory and the file are the owner's.
    chmodSync(dir, 0o700);
    chownSync(dir, 65534, 65534); // nobody
    const db = join(dir, "app.db");
    writeFileSync(db, "");
    chownSync(db, 65534, 65534);
    const script = renderPostDeployHook({
      subject: "sqlite database app",
      dialect: sqliteDialect({ path: db, owner: "nobody", pragmas: resolvePragmas({ journalMode: "delete" }) }),
      migrations: { kind: "sql", migrations: loadMigrations(migrationDir({ "0001_create_users.sql": USERS }), "sqlite") },
      // fsdir() is a table the sqlite3 CLI offers even in safe mode: as the owner it reads what the owner may.
      // (As root the length would be the file's; as nobody the read fails and data is NULL.)
      healthChecks: [{ name: "reads /etc/shadow", sql: "SELECT coalesce(length(data), -1) FROM fsdir('/etc/shadow')", expect: "-1" }],
    });
    const r = runScript(script);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("applied migration 0001_create_users");
    expect(r.stdout).toContain("reads /etc/shadow: -1");
    expect(statSync(db).uid).toBe(65534);
  });
});

describe("dotCommandLine", () => {
  it("finds the first line sqlite3 would take for a dot-command", () => {
    expect(dotCommandLine("CREATE TABLE t(x);\n")).toBeUndefined();
    expect(dotCommandLine("CREATE TABLE t(x);\n.shell id\n")).toBe(2);
    expect(dotCommandLine(".read x\r\n")).toBe(1);
    // Indented, it is SQL (sqlite3 only looks at the first character of a line).
    expect(dotCommandLine("SELECT 1;\n  .shell id\n")).toBeUndefined();
    expect(dotCommandLine("INSERT INTO t VALUES ('a\n.b');\n")).toBe(2);
  });
});
