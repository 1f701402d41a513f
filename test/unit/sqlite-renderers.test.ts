import { spawnSync } from "child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "fs";
import { join } from "path";
import { gzipSync } from "zlib";
import { describe, expect, it } from "vitest";
import type { BackupPolicy } from "../../components/backups/policy";
import { connectionPragmaSql, persistentPragmaSql, resolvePragmas, SQLITE_PRAGMA_DEFAULTS } from "../../components/engines/sqlite/pragmas";
import { sqliteTools } from "../../components/engines/sqlite/engine";
import { renderInstallTools as installTools } from "../../components/targets/tools";
import {
  renderBackupScript,
  renderProvision,
  renderRemove,
  renderRemoveBackups,
  renderEnsureAccount,
  markerPath,
  renderRestoreScript,
  renderShellScript,
  type SqliteScriptSpec,
} from "../../components/engines/sqlite/scripts";
import { sqliteUrls } from "../../components/engines/sqlite/urls";
import { modeOf, runScript, runTool, sqlite3, tempDir } from "./support/run";

/** What the component's tools step installs for `s` (deploy/phases/operations.ts). */
function renderInstallTools(s: SqliteScriptSpec) {
  return installTools(s.toolsDir, sqliteTools(s), { owner: s.stackOwner });
}

const POLICY: BackupPolicy = { schedule: "0 2 * * *", dir: "/var/lib/app/backups", retentionDays: 30 };

function spec(overrides: Partial<SqliteScriptSpec> = {}): SqliteScriptSpec {
  return {
    name: "app",
    path: "/var/lib/app/app.db",
    pragmas: resolvePragmas(undefined),
    toolsDir: "/usr/local/lib/dbstack/app",
    allowDataRemoval: false,
    ...overrides,
  };
}

/** A database, its backup dir and tools dir inside a fresh temp dir. */
function layout() {
  const root = tempDir();
  const policy: BackupPolicy = { ...POLICY, dir: join(root, "backups") };
  const s = spec({ path: join(root, "data", "app.db"), toolsDir: join(root, "tools"), backup: policy });
  mkdirSync(s.toolsDir);
  return { root, policy, spec: s };
}

function provision(s: SqliteScriptSpec) {
  const r = runScript(renderProvision(s));
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r;
}

describe("pragmas", () => {
  it("defaults to WAL, no auto-vacuum, synchronous normal, 5 s busy timeout, foreign keys on", () => {
    expect(resolvePragmas(undefined)).toEqual({
      journalMode: "wal",
      autoVacuum: "none",
      synchronous: "normal",
      busyTimeoutMs: 5000,
      foreignKeys: true,
    });
    expect(resolvePragmas({})).toEqual(SQLITE_PRAGMA_DEFAULTS);
  });

  it("applies overrides and ignores keys set to undefined", () => {
    expect(resolvePragmas({ journalMode: "delete", busyTimeoutMs: 250, foreignKeys: false, synchronous: undefined })).toEqual({
      journalMode: "delete",
      autoVacuum: "none",
      synchronous: "normal",
      busyTimeoutMs: 250,
      foreignKeys: false,
    });
  });

  it("renders the persistent pragmas, auto_vacuum before journal_mode", () => {
    expect(persistentPragmaSql(resolvePragmas(undefined))).toEqual(["PRAGMA auto_vacuum = NONE;", "PRAGMA journal_mode = WAL;"]);
    expect(persistentPragmaSql(resolvePragmas({ autoVacuum: "incremental", journalMode: "truncate" }))).toEqual([
      "PRAGMA auto_vacuum = INCREMENTAL;",
      "PRAGMA journal_mode = TRUNCATE;",
    ]);
  });

  it("renders the connection pragmas", () => {
    expect(connectionPragmaSql(resolvePragmas(undefined))).toEqual([
      "PRAGMA busy_timeout = 5000;",
      "PRAGMA foreign_keys = ON;",
      "PRAGMA synchronous = NORMAL;",
    ]);
    expect(connectionPragmaSql(resolvePragmas({ busyTimeoutMs: 0, foreignKeys: false, synchronous: "full" }))).toEqual([
      "PRAGMA busy_timeout = 0;",
      "PRAGMA foreign_keys = OFF;",
      "PRAGMA synchronous = FULL;",
    ]);
  });
});

describe("sqliteUrls", () => {
  it("names an absolute path three ways", () => {
    expect(sqliteUrls("/var/lib/app/app.db")).toEqual({
      path: "/var/lib/app/app.db",
      sqlalchemy: "sqlite:////var/lib/app/app.db",
      fileUri: "file:///var/lib/app/app.db",
    });
  });

  it("percent-encodes the file URI but keeps the plain path", () => {
    const urls = sqliteUrls("/srv/my data/app#1.db");
    expect(urls.path).toBe("/srv/my data/app#1.db");
    expect(urls.fileUri).toBe("file:///srv/my%20data/app%231.db");
  });

  it("refuses a relative path", () => {
    expect(() => sqliteUrls("data/app.db")).toThrow('sqlite path must be absolute, got "data/app.db"');
  });
});

describe("rendered scripts (text)", () => {
  it("are deterministic: the same spec renders the same text", () => {
    const s = spec({ backup: POLICY });
    for (const render of [renderProvision, renderRemove, renderInstallTools]) expect(render(s)).toEqual(render(spec({ backup: POLICY })));
    expect(renderBackupScript(s, POLICY)).toBe(renderBackupScript(spec(), { ...POLICY }));
    expect(renderRestoreScript(s, POLICY)).toBe(renderRestoreScript(spec(), { ...POLICY }));
  });

  it("removal keeps the data unless allowDataRemoval is set", () => {
    const kept = renderRemove(spec());
    expect(kept).toContain("kept sqlite database app at /var/lib/app/app.db");
    expect(kept).toContain("dbstack:allowDataRemoval");
    expect(kept).not.toMatch(/\brm\b/);
  });

  it("removal with allowDataRemoval deletes the file and its -wal and -shm files", () => {
    const removed = renderRemove(spec({ allowDataRemoval: true }));
    expect(removed).toMatch(/^rm -f '\/var\/lib\/app\/app\.db' /);
    expect(removed).toContain("'/var/lib/app/app.db-wal'");
    expect(removed).toContain("'/var/lib/app/app.db-shm'");
  });

  it("backs up with the online backup API and gzip, never by copying the live file", () => {
    const script = renderBackupScript(spec(), POLICY);
    expect(script).toContain(`sqlite "$DB" ".backup '$work/snapshot.db'"`);
    expect(script).toContain("gzip ");
    expect(script).not.toMatch(/\bcp\b/);
  });

  it("expires backups after retentionDays, counted in minutes", () => {
    expect(renderBackupScript(spec(), POLICY)).toContain("-mmin +43200 ");
    expect(renderBackupScript(spec(), { ...POLICY, retentionDays: 7 })).toContain("-mmin +10080 ");
  });

  it("encrypts with gpg only when a recipient is set", () => {
    expect(renderBackupScript(spec(), POLICY)).not.toContain("gpg");
    const script = renderBackupScript(spec(), { ...POLICY, gpgRecipient: "ops@example.com" });
    expect(script).toContain("gpg --batch --yes --trust-model always --recipient 'ops@example.com' ");
  });

  it("runs an off-host command only when one is set", () => {
    expect(renderBackupScript(spec(), POLICY)).not.toContain("BACKUP_FILE");
    const policy = { ...POLICY, offHostCommand: `rsync "$BACKUP_FILE" backup-host:/srv/` };
    const script = renderBackupScript(spec(), policy);
    // The command is a 0600 file beside the tool, installed with it; the tool holds none of its text.
    expect(script).toContain('BACKUP_FILE="$file" bash "${BASH_SOURCE[0]}.off-host"');
    expect(script).not.toContain("rsync");
    expect(renderInstallTools(spec({ backup: policy })).files["backup.off-host"]).toBe(`rsync "$BACKUP_FILE" backup-host:/srv/\n`);
  });
});

describe("rendered scripts run against sqlite3", () => {
  it("provision creates the directory 0700 and the file 0600 in WAL mode, and is idempotent", () => {
    const { spec: s } = layout();
    const first = provision(s);
    expect(first.stdout).toBe(`sqlite database app: ${s.path} (created: yes, journal_mode: wal)\n`);
    expect(modeOf(statSync(s.path))).toBe(0o600);
    expect(modeOf(statSync(join(s.path, "..")))).toBe(0o700);
    expect(sqlite3(s.path, "PRAGMA journal_mode;")).toBe("wal");

    sqlite3(s.path, "CREATE TABLE kept(x); INSERT INTO kept VALUES ('still here');");
    expect(provision(s).stdout).toContain("(created: no, journal_mode: wal)");
    expect(sqlite3(s.path, "SELECT x FROM kept;")).toBe("still here");
  });

  it("provision sets the declared journal mode", () => {
    const { spec: s } = layout();
    expect(provision({ ...s, pragmas: resolvePragmas({ journalMode: "delete" }) }).stdout).toContain("journal_mode: delete");
    expect(sqlite3(s.path, "PRAGMA journal_mode;")).toBe("delete");
  });

  it("provision refuses a path that is a directory", () => {
    const { spec: s } = layout();
    mkdirSync(s.path, { recursive: true });
    const r = runScript(renderProvision(s));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${s.path} exists and is not a regular file`);
  });

  it("provision leaves an existing directory's mode alone and makes only a directory it creates private", () => {
    const root = tempDir();
    const shared = join(root, "srv");
    mkdirSync(shared);
    chmodSync(shared, 0o755);
    const inShared = spec({ path: join(shared, "app.db"), toolsDir: join(root, "tools") });
    provision(inShared);
    expect(modeOf(statSync(shared))).toBe(0o755);
    expect(modeOf(statSync(inShared.path))).toBe(0o600);
    // Re-running provision does not tighten it either.
    provision(inShared);
    expect(modeOf(statSync(shared))).toBe(0o755);

    const created = spec({ path: join(root, "new", "data", "app.db"), toolsDir: join(root, "tools") });
    provision(created);
    // Directories it creates above its own are searchable, not listable: the owner passes through.
    expect(modeOf(statSync(join(root, "new")))).toBe(0o711);
    expect(modeOf(statSync(join(root, "new", "data")))).toBe(0o700);
    expect(modeOf(statSync(created.path))).toBe(0o600);
  });

  it("remove keeps the database by default and deletes it and its side files when allowed", () => {
    const { spec: s } = layout();
    provision(s);
    sqlite3(s.path, "CREATE TABLE t(x);");
    writeFileSync(`${s.path}-wal`, "");
    writeFileSync(`${s.path}-shm`, "");

    const kept = runScript(renderRemove(s));
    expect(kept.code).toBe(0);
    expect(kept.stderr).toContain("kept sqlite database app");
    expect(existsSync(s.path)).toBe(true);

    const neighbour = join(s.path, "..", "other.db");
    writeFileSync(neighbour, "");
    const removed = runScript(renderRemove({ ...s, allowDataRemoval: true }));
    expect(removed.code).toBe(0);
    expect(removed.stderr).toContain("deleted sqlite database app");
    expect(readdirSync(join(s.path, ".."))).toEqual(["other.db"]);
  });

  it("backup writes <name>-<UTC time>.db.gz 0600, and restore brings the old rows back", () => {
    const { spec: s, policy } = layout();
    provision(s);
    sqlite3(s.path, "CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('first'), ('second');");

    const backup = runTool(join(s.toolsDir, "backup"), renderBackupScript(s, policy));
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    const files = readdirSync(policy.dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^app-\d{8}T\d{6}Z\.db\.gz$/);
    const archive = join(policy.dir, files[0]);
    expect(modeOf(statSync(archive))).toBe(0o600);
    expect(backup.stdout).toContain(`backup ok: ${archive}`);

    sqlite3(s.path, "DELETE FROM notes; INSERT INTO notes VALUES ('changed');");
    const restore = runTool(join(s.toolsDir, "restore"), renderRestoreScript(s, policy), ["--yes"]);
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain(`restored ${s.path} from ${archive}`);
    expect(sqlite3(s.path, "SELECT body FROM notes ORDER BY body;")).toBe("first\nsecond");

    const aside = readdirSync(join(s.path, "..")).filter((f) => /^app\.db\.before-restore-\d{8}T\d{6}Z$/.test(f));
    expect(aside).toHaveLength(1);
    const asidePath = join(s.path, "..", aside[0]);
    expect(sqlite3(asidePath, "SELECT body FROM notes;")).toBe("changed");
    expect(modeOf(statSync(asidePath))).toBe(0o600);
  });

  it("restore over the database needs --yes without a terminal, and keeps the newest three safety copies", () => {
    const { spec: s, policy } = layout();
    provision(s);
    sqlite3(s.path, "CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('backed up');");
    expect(runTool(join(s.toolsDir, "backup"), renderBackupScript(s, policy)).code).toBe(0);
    sqlite3(s.path, "UPDATE notes SET body = 'live';");
    const tool = renderRestoreScript(s, policy);

    const unconfirmed = runTool(join(s.toolsDir, "restore"), tool);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/restore replaces sqlite database .* run it again with --yes/);
    expect(sqlite3(s.path, "SELECT body FROM notes;")).toBe("live");
    const dir = join(s.path, "..");
    expect(readdirSync(dir).filter((f) => f.includes("before-restore"))).toEqual([]);

    const older = ["20000101T000000Z", "20000102T000000Z", "20000103T000000Z"].map((t) => join(dir, `app.db.before-restore-${t}`));
    for (const f of older) writeFileSync(f, "", { mode: 0o600 });
    const r = runTool(join(s.toolsDir, "restore"), tool, ["--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(sqlite3(s.path, "SELECT body FROM notes;")).toBe("backed up");
    expect(r.stdout).toContain(`removed an older safety copy (3 are kept): ${older[0]}`);
    const kept = readdirSync(dir).filter((f) => f.includes("before-restore")).sort();
    expect(kept).toHaveLength(3);
    expect(kept.slice(0, 2)).toEqual(["app.db.before-restore-20000102T000000Z", "app.db.before-restore-20000103T000000Z"]);

    const unknown = runTool(join(s.toolsDir, "restore"), tool, ["--force"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("restore: unknown option --force");
  });

  it("backup expires only archives older than retentionDays", () => {
    const { spec: s, policy } = layout();
    provision(s);
    mkdirSync(policy.dir);
    const day = 24 * 3600;
    const now = Date.now() / 1000;
    const old = join(policy.dir, "app-20000101T000000Z.db.gz");
    const recent = join(policy.dir, "app-20000102T000000Z.db.gz");
    writeFileSync(old, "");
    writeFileSync(recent, "");
    utimesSync(old, now - 31 * day, now - 31 * day);
    utimesSync(recent, now - 29 * day, now - 29 * day);

    const r = runTool(join(s.toolsDir, "backup"), renderBackupScript(s, policy));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`expired: ${old}`);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    expect(readdirSync(policy.dir)).toHaveLength(2);
  });

  it("backup of a missing database fails loudly and leaves no partial files", () => {
    const { spec: s, policy } = layout();
    const r = runTool(join(s.toolsDir, "backup"), renderBackupScript(s, policy));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`dbstack backup of app failed: database file ${s.path} does not exist`);
    expect(readdirSync(policy.dir)).toEqual([]);
  });

  it("restore refuses a backup that is not a sound database and leaves the data alone", () => {
    const { root, spec: s, policy } = layout();
    provision(s);
    sqlite3(s.path, "CREATE TABLE t(x); INSERT INTO t VALUES ('live');");
    const bad = join(root, "bad.db.gz");
    writeFileSync(bad, gzipSync("this is not an sqlite database"));

    const r = runTool(join(s.toolsDir, "restore"), renderRestoreScript(s, policy), [bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`backup ${bad} is not a sound sqlite database`);
    expect(sqlite3(s.path, "SELECT x FROM t;")).toBe("live");
  });

  it("restore with no backup says where it looked", () => {
    const { spec: s, policy } = layout();
    provision(s);
    mkdirSync(policy.dir);
    const r = runTool(join(s.toolsDir, "restore"), renderRestoreScript(s, policy));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`no backup to restore in ${policy.dir}`);
  });

  it("backup encrypts to the gpg recipient, ships off-host, and restore decrypts", () => {
    const { root, spec: s, policy: plain } = layout();
    const gnupg = join(root, "gnupg");
    mkdirSync(gnupg, { mode: 0o700 });
    const gpgEnv = { ...process.env, GNUPGHOME: gnupg };
    const gpg = (...args: string[]) => spawnSync("gpg", ["--batch", ...args], { env: gpgEnv, encoding: "utf8" });
    try {
      expect(gpg("--passphrase", "", "--quick-gen-key", "dbstack test <backup@example.invalid>", "future-default", "default", "never").status).toBe(0);
      const shipped = join(root, "offhost");
      mkdirSync(shipped);
      const policy: BackupPolicy = { ...plain, gpgRecipient: "backup@example.invalid", offHostCommand: `cp "$BACKUP_FILE" ${shipped}/` };
      provision(s);
      sqlite3(s.path, "CREATE TABLE t(x); INSERT INTO t VALUES ('secret');");

      // Installed as the tools step installs it: the off-host command in a file beside the tool.
      writeFileSync(join(s.toolsDir, "backup.off-host"), policy.offHostCommand!, { mode: 0o600 });
      const backup = runTool(join(s.toolsDir, "backup"), renderBackupScript(s, policy), [], { GNUPGHOME: gnupg });
      expect(backup.code).toBe(0);
      const [archive] = readdirSync(policy.dir);
      expect(archive).toMatch(/^app-\d{8}T\d{6}Z\.db\.gz\.gpg$/);
      expect(readdirSync(shipped)).toEqual([archive]);
      // Not readable without the key: the archive is not a gzip stream.
      expect(readFileSync(join(policy.dir, archive)).subarray(0, 2)).not.toEqual(Buffer.from([0x1f, 0x8b]));

      sqlite3(s.path, "UPDATE t SET x = 'overwritten';");
      const restore = runTool(join(s.toolsDir, "restore"), renderRestoreScript(s, policy), ["--yes"], { GNUPGHOME: gnupg });
      expect(restore.code).toBe(0);
      expect(sqlite3(s.path, "SELECT x FROM t;")).toBe("secret");
    } finally {
      spawnSync("gpgconf", ["--kill", "gpg-agent"], { env: gpgEnv });
    }
  });
});

describe("two databases, app and app-logs, sharing a backup directory", () => {
  /** Databases "app" and "app-logs" with their own tools dirs and one backup dir, each holding one row naming it. */
  function shared() {
    const root = tempDir();
    const policy: BackupPolicy = { ...POLICY, dir: join(root, "backups") };
    const make = (name: string) => {
      const s = spec({ name, path: join(root, "data", `${name}.db`), toolsDir: join(root, `tools-${name}`), backup: policy });
      mkdirSync(s.toolsDir);
      provision(s);
      sqlite3(s.path, `CREATE TABLE owner(name TEXT); INSERT INTO owner VALUES ('${name}');`);
      return s;
    };
    return { root, policy, app: make("app"), logs: make("app-logs") };
  }

  function backup(s: SqliteScriptSpec, policy: BackupPolicy) {
    const r = runTool(join(s.toolsDir, "backup"), renderBackupScript(s, policy));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return r;
  }

  const filesOf = (dir: string, name: string) => readdirSync(dir).filter((f) => new RegExp(`^${name}-\\d{8}T\\d{6}Z\\.db\\.gz$`).test(f)).sort();

  it("restore with no argument restores the database's own newest backup, not the other's", () => {
    const { policy, app, logs } = shared();
    backup(app, policy);
    // app-logs' backup is the newest file in the directory, and sorts after app's by name.
    backup(logs, policy);
    const [appArchive] = filesOf(policy.dir, "app");
    expect(filesOf(policy.dir, "app-logs")).toHaveLength(1);

    sqlite3(app.path, "UPDATE owner SET name = 'changed';");
    const r = runTool(join(app.toolsDir, "restore"), renderRestoreScript(app, policy), ["--yes"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`restored ${app.path} from ${join(policy.dir, appArchive)}\n`);
    expect(sqlite3(app.path, "SELECT name FROM owner;")).toBe("app");
    expect(sqlite3(logs.path, "SELECT name FROM owner;")).toBe("app-logs");
  });

  it("retention of app expires only app's old backups", () => {
    const { policy, app, logs } = shared();
    backup(app, policy);
    backup(logs, policy);
    // Older backups of both, under names a real backup would have had.
    const oldApp = join(policy.dir, "app-20000101T020000Z.db.gz");
    const oldLogs = join(policy.dir, "app-logs-20000101T020000Z.db.gz");
    writeFileSync(oldApp, gzipSync("old app backup"));
    writeFileSync(oldLogs, gzipSync("old app-logs backup"));
    const everything = readdirSync(policy.dir).filter((f) => f.endsWith(".db.gz")).map((f) => join(policy.dir, f));
    expect(everything).toHaveLength(4);
    const touched = spawnSync("touch", ["-d", "40 days ago", ...everything], { encoding: "utf8" });
    expect(touched.status).toBe(0);
    const logsBefore = filesOf(policy.dir, "app-logs");

    const r = backup(app, policy);
    expect(r.stdout).toContain(`expired: ${oldApp}\n`);
    expect(r.stdout).not.toContain("app-logs-");
    // Only the backup just made is left of app's; app-logs' old files are all still there.
    const appLeft = filesOf(policy.dir, "app");
    expect(appLeft).toHaveLength(1);
    expect(r.stdout).toContain(`backup ok: ${join(policy.dir, appLeft[0])}`);
    expect(filesOf(policy.dir, "app-logs")).toEqual(logsBefore);
    expect(logsBefore).toHaveLength(2);
    expect(existsSync(oldLogs)).toBe(true);
  });

  it("destroy with allowDataRemoval deletes app's backups and leaves app-logs' backups", () => {
    const { policy, app, logs } = shared();
    backup(app, policy);
    backup(logs, policy);
    const logsBefore = filesOf(policy.dir, "app-logs");
    expect(logsBefore).toHaveLength(1);
    expect(filesOf(policy.dir, "app")).toHaveLength(1);

    const r = runScript(renderRemoveBackups({ ...app, allowDataRemoval: true }, policy));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`deleted the backups of app in ${policy.dir}`);
    expect(filesOf(policy.dir, "app")).toEqual([]);
    expect(filesOf(policy.dir, "app-logs")).toEqual(logsBefore);

    // And app-logs' backup still restores.
    sqlite3(logs.path, "UPDATE owner SET name = 'changed';");
    const restore = runTool(join(logs.toolsDir, "restore"), renderRestoreScript(logs, policy), ["--yes"]);
    expect(restore.code).toBe(0);
    expect(sqlite3(logs.path, "SELECT name FROM owner;")).toBe("app-logs");
  });
});

/** uid of `nobody`, the declared owner of these tests (dbstack's own account is made by the integration tests). */
const NOBODY = 65534;

describe("the owner a root deploy runs the database as", () => {
  it("dbstack's account is created only when it is the owner: a system user with no login shell and no home", () => {
    const account = renderEnsureAccount(spec({ owner: "dbstack-sqlite" }));
    expect(account).toContain("groupadd --system 'dbstack-sqlite'");
    expect(account).toContain("useradd --system --gid 'dbstack-sqlite' --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin 'dbstack-sqlite'");
    expect(account).toMatch(/if \[ "\$\(id -u\)" = 0 \] && ! id -u 'dbstack-sqlite'/);
    expect(account).not.toMatch(/userdel|groupdel/);
    expect(renderProvision(spec({ owner: "dbstack-sqlite" }))).toContain(account);
    expect(renderEnsureAccount(spec({ owner: "app" }))).toBe("");
    expect(renderProvision(spec({ owner: "app" }))).not.toContain("useradd");
    expect(renderProvision(spec())).not.toContain("useradd");
    expect(renderRemove(spec({ owner: "dbstack-sqlite", allowDataRemoval: true }))).not.toMatch(/userdel|groupdel/);
  });

  it("a directory above the file that the owner cannot search fails the deploy naming path and it, before anything is made", () => {
    const root = tempDir(); // mkdtemp: 0700, root's
    const s = spec({ path: join(root, "data", "app.db"), toolsDir: join(root, "tools"), owner: "nobody", group: "nogroup" });
    const r = runScript(renderProvision(s));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`path: ${s.path} is out of reach of the OS user nobody that owns it and runs its migrations and checks: ${root} (mode 700, owner root) is not searchable`);
    expect(r.stderr).toContain("dbstack changes no directory it did not create");
    expect(existsSync(join(root, "data"))).toBe(false);
    expect(modeOf(statSync(root))).toBe(0o700);
  });

  it("an existing directory the owner cannot write in fails naming path (SQLite writes its journals there)", () => {
    const root = tempDir();
    chmodSync(root, 0o711);
    mkdirSync(join(root, "srv"), { mode: 0o755 });
    const s = spec({ path: join(root, "srv", "app.db"), toolsDir: join(root, "tools"), owner: "nobody", group: "nogroup" });
    const r = runScript(renderProvision(s));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`path: ${s.path}: the OS user nobody that owns it cannot write in its directory ${join(root, "srv")}`);
    expect(existsSync(s.path)).toBe(false);
  });

  it("a file and directory dbstack made as root before it had an owner are handed to the owner, data kept", () => {
    const root = tempDir();
    chmodSync(root, 0o711);
    const before = spec({ path: join(root, "data", "app.db"), toolsDir: join(root, "tools") });
    provision(before); // as dbstack deployed it as root with no owner
    sqlite3(before.path, "CREATE TABLE kept(x); INSERT INTO kept VALUES ('still here');");
    expect(statSync(before.path).uid).toBe(0);
    expect(modeOf(statSync(join(root, "data")))).toBe(0o700);

    const r = provision({ ...before, owner: "nobody", group: "nogroup" });
    expect(r.stdout).toContain("(created: no, journal_mode: wal)");
    for (const p of [join(root, "data"), before.path]) expect(statSync(p).uid, p).toBe(NOBODY);
    // The marker is dbstack's record of the file (which stack made it): root's, as with any declared owner.
    expect(statSync(markerPath(before.path)).uid).toBe(0);
    expect(modeOf(statSync(join(root, "data")))).toBe(0o700);
    expect(modeOf(statSync(before.path))).toBe(0o600);
    expect(sqlite3(before.path, "SELECT x FROM kept;")).toBe("still here");
  });

  it("a root directory holding anything but the database's files is not taken over, even with the marker", () => {
    const root = tempDir();
    chmodSync(root, 0o711);
    const before = spec({ path: join(root, "data", "app.db"), toolsDir: join(root, "tools") });
    provision(before);
    writeFileSync(join(root, "data", ".bashrc"), "root's own\n");
    const r = runScript(renderProvision({ ...before, owner: "nobody", group: "nogroup" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`path: ${before.path} is out of reach of the OS user nobody`);
    expect(statSync(join(root, "data")).uid).toBe(0);
    expect(statSync(before.path).uid).toBe(0);
  });

  it("two databases in one new directory, deployed at once, both reach it: it never appears half made", () => {
    const root = tempDir();
    chmodSync(root, 0o711);
    const scripts = ["a", "b"].map((n) => {
      const file = join(root, `provision-${n}.sh`);
      writeFileSync(file, renderProvision(spec({ name: n, path: join(root, "data", `${n}.db`), toolsDir: join(root, "tools"), owner: "nobody", group: "nogroup" })));
      return file;
    });
    for (let round = 0; round < 5; round++) {
      rmSync(join(root, "data"), { recursive: true, force: true });
      const r = spawnSync("bash", ["-c", `bash ${scripts[0]} & a=$!; bash ${scripts[1]}; b=$?; wait $a; echo "$? $b"`], { encoding: "utf8" });
      expect(r.stdout.trim().split("\n").pop(), r.stderr).toBe("0 0");
    }
    expect(statSync(join(root, "data")).uid).toBe(NOBODY);
    expect(readdirSync(root).filter((f) => f.startsWith(".dbstack-new."))).toEqual([]);
  });

  it("a file dbstack did not create is still never taken over by the owner", () => {
    const root = tempDir();
    chmodSync(root, 0o711);
    mkdirSync(join(root, "data"), { mode: 0o700 });
    chownSync(join(root, "data"), NOBODY, NOBODY);
    const s = spec({ path: join(root, "data", "app.db"), toolsDir: join(root, "tools"), owner: "nobody", group: "nogroup" });
    writeFileSync(s.path, "", { mode: 0o600 });
    const r = runScript(renderProvision(s));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("owned by root with mode 600, and dbstack did not create it");
    expect(statSync(s.path).uid).toBe(0);
  });
});

describe("every installed tool answers --help and does nothing else (issue 20)", () => {
  it("backup --help prints what it is and exits 0 without backing up; restore --help prints its usage", () => {
    const { policy, spec: s } = layout();
    provision(s);
    const installed = runScript(installTools(s.toolsDir, [["backup", renderBackupScript(s, policy)], ["restore", renderRestoreScript(s, policy)]]));
    expect(installed.code, installed.stderr).toBe(0);
    for (const flag of ["--help", "-h"]) {
      const r = spawnSync(join(s.toolsDir, "backup"), [flag], { encoding: "utf8" });
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`Backs up sqlite database app (${s.path}) to ${policy.dir}.\n`);
    }
    expect(existsSync(policy.dir) ? readdirSync(policy.dir) : [], "a backup was taken").toEqual([]);
    const restore = spawnSync(join(s.toolsDir, "restore"), ["--help"], { encoding: "utf8" });
    expect(restore.status).toBe(0);
    expect(restore.stdout).toContain(`usage: ${s.toolsDir}/restore [--yes] [BACKUP_FILE]`);
  });

  it("an option a tool's usage does not name is refused with its usage, and the tool does nothing", () => {
    const { policy, spec: s } = layout();
    provision(s);
    sqlite3(s.path, "CREATE TABLE t(x); INSERT INTO t VALUES ('live');");
    const tools: [string, string][] = [["backup", renderBackupScript(s, policy)], ["restore", renderRestoreScript(s, policy)], ["shell", renderShellScript(s)]];
    expect(runScript(installTools(s.toolsDir, tools)).code).toBe(0);
    const refused = [["backup", ["--full"], "--full"], ["restore", ["--yes", "--force"], "--force"], ["shell", ["-init", "/etc/shadow"], "-init"], ["shell", ["-cmd", ".shell id"], "-cmd"]] as const;
    for (const [tool, args, option] of refused) {
      const r = spawnSync(join(s.toolsDir, tool), [...args], { encoding: "utf8" });
      expect(r.status, `${tool} ${args.join(" ")}`).toBe(2);
      expect(r.stderr).toContain(`${tool}: unknown option ${option}`);
      expect(r.stdout).toBe("");
    }
    expect(existsSync(policy.dir) ? readdirSync(policy.dir) : [], "a backup was taken").toEqual([]);
    // What the usage names still works.
    const json = spawnSync(join(s.toolsDir, "shell"), ["-json", "SELECT x FROM t"], { encoding: "utf8" });
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([{ x: "live" }]);
  });
});
