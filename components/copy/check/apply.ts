/**
 * Applies an application's migrations to one database: a directory of numbered SQL files, or an
 * external command (`alembic upgrade head`, `npx prisma migrate deploy`, ...) that finds the
 * database in its environment.
 *
 * Directory form: files `NNN_name.sql` are applied in the order of NNN (then name). A file
 * `NNN_name.<engine>.sql` (engine: sqlite, postgres, mariadb; `postgresql` and `mysql` are
 * accepted too) replaces `NNN_name.sql` on that engine only, for the statements no SQL dialect
 * shares (serial vs AUTO_INCREMENT vs INTEGER PRIMARY KEY). A variant without a generic file is
 * applied on its engine only. Each file runs as one script: SQLite's exec, PostgreSQL's simple
 * query protocol (one implicit transaction per file), MariaDB with multiple statements (DDL
 * commits as it goes, as it does for any MariaDB migration tool).
 *
 * Command form: the command runs through `bash -c` once per engine, with DATABASE_URL (password
 * included: the environment of a child is readable only by its user, a command line by everyone),
 * DBSTACK_ENGINE, and the engine's own variables (PGHOST.../PGPASSWORD, MYSQL_HOST.../MYSQL_PWD,
 * DBSTACK_SQLITE_PATH).
 */
import { flavourUrl, type UrlFlavour } from "../urlFlavours";
import { spawn, type ChildProcess } from "child_process";
import { readdirSync, readFileSync } from "fs";
import * as mysql from "mysql2/promise";
import { join } from "path";
import { unknownEngine, type EngineKind } from "../../model/engineKind";
import { mariadbOptions, openConnection, parseConnectionUrl, redactUrl, type Connection } from "../connections";
import { dialectFor } from "../dialects";
import { migrationFilesFor } from "../../hooks/migrations";

/** One migration step for one engine: the file chosen for it. */
export interface MigrationStep {
  /** The step's key: "001_init" for 001_init.sql and 001_init.postgres.sql. */
  key: string;
  file: string;
}

/** A migration file whose name the directory form does not accept. */
export class MigrationLayoutError extends Error {}

/**
 * The files to apply on `engine`, in order, from a directory listing (file names only): the
 * deploy's own rule (hooks/migrations.ts migrationFilesFor), so db:check accepts exactly the
 * migration files a deploy applies. A name the rule refuses is a MigrationLayoutError.
 */
export function migrationSteps(fileNames: string[], engine: EngineKind): MigrationStep[] {
  try {
    return migrationFilesFor(fileNames, engine).map((m) => ({ key: m.id, file: m.file }));
  } catch (err) {
    throw new MigrationLayoutError((err as Error).message);
  }
}

/** The .sql files of a migrations directory, for migrationSteps. */
export function listMigrationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
}

/** A migration that failed: the file (or command) and the engine's own message. */
export class MigrationError extends Error {
  constructor(
    readonly file: string,
    message: string,
    /** The files applied before the failing one. */
    readonly applied: string[] = [],
  ) {
    super(message);
  }
}

/** 1-based line of a 0-based character offset in `text`. */
function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split("\n").length;
}

/** Runs one SQL file's text on the database at `url`; throws the engine's error, with a line where the engine gives a position. */
export async function applySqlText(url: string, sql: string): Promise<void> {
  const target = parseConnectionUrl(url);
  switch (target.engine) {
    case "sqlite":
      return withConnection(url, async (conn) => {
        if (conn.native.engine === "sqlite") conn.native.db.exec(sql);
      });
    case "postgres":
      return withConnection(url, async (conn) => {
        if (conn.native.engine !== "postgres") return;
        try {
          await conn.native.client.query(sql);
        } catch (err) {
          const pos = Number((err as { position?: string }).position);
          if (Number.isFinite(pos) && pos > 0) (err as Error).message = `line ${lineOf(sql, pos - 1)}: ${(err as Error).message}`;
          throw err;
        }
      });
    case "mariadb": {
      // connections.ts opens MariaDB with single statements; a migration file holds many.
      const conn = await mysql.createConnection({ ...mariadbOptions(url), multipleStatements: true });
      try {
        await conn.query(sql);
      } finally {
        await conn.end().catch(() => undefined);
      }
      return;
    }
    default:
      return unknownEngine(target);
  }
}

/** Runs `use` on a connection to `url` (an SQLite file is created when missing), closing it afterwards. */
async function withConnection(url: string, use: (conn: Connection) => Promise<void>): Promise<void> {
  const conn = await openConnection(url, { create: true });
  try {
    await use(conn);
  } finally {
    await conn.close();
  }
}

/** Applies the steps in order; the first failure throws a MigrationError naming its file. Returns the files applied. */
export async function applyMigrationDir(url: string, dir: string, engine: EngineKind): Promise<string[]> {
  const applied: string[] = [];
  for (const step of migrationSteps(listMigrationFiles(dir), engine)) {
    const sql = readFileSync(join(dir, step.file), "utf8");
    try {
      await applySqlText(url, sql);
    } catch (err) {
      throw new MigrationError(step.file, `${dialectFor(engine).title} error: ${(err as Error).message}`, applied);
    }
    applied.push(step.file);
  }
  return applied;
}

/**
 * The environment an external migration command gets for the database at `url`: DATABASE_URL
 * (SQLite as sqlite:////abs/path, the form SQLAlchemy and most URL parsers read; in `flavour`,
 * see ../urlFlavours.ts), DBSTACK_ENGINE, and the engine's client variables.
 */
export function commandEnvironment(url: string, engine: EngineKind, flavour: UrlFlavour = "default"): Record<string, string> {
  const env: Record<string, string> = { DBSTACK_ENGINE: engine };
  const target = parseConnectionUrl(url);
  if ("path" in target) {
    env.DATABASE_URL = flavourUrl(url, flavour);
    env.DBSTACK_SQLITE_PATH = target.path;
    return env;
  }
  env.DATABASE_URL = flavourUrl(url, flavour);
  return { ...env, ...dialectFor(target.engine).clientEnvironment?.(new URL(url)) };
}

/** The last `max` characters of a command's output, with every password in it replaced by ***. */
function tail(text: string, secrets: string[], max = 4000): string {
  let t = text.length > max ? `...${text.slice(-max)}` : text;
  for (const s of secrets) if (s !== "") t = t.split(s).join("***");
  return t;
}

const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // Already gone.
  }
}

/** Ends every migration command still running (with its children): for db:check's signal handlers. */
export function killMigrationCommands(): void {
  for (const child of running) killGroup(child);
}

/**
 * Runs `command` (through bash -c, in `cwd`) against the database at `url`; throws a
 * MigrationError with the end of its output when it exits non-zero (or runs past `timeoutMs`). Its output is captured, not
 * streamed, so the report shows it where it belongs (and without the password).
 */
export async function applyMigrationCommand(url: string, engine: EngineKind, command: string, cwd: string, timeoutMs = 600_000, flavour: UrlFlavour = "default"): Promise<void> {
  const env = commandEnvironment(url, engine, flavour);
  const secrets = [env.PGPASSWORD ?? "", env.MYSQL_PWD ?? "", (() => { try { return decodeURIComponent(new URL(url).password); } catch { return ""; } })()];
  // Its own process group, so a timeout or a Ctrl-C of db:check ends the command's whole tree
  // (alembic and whatever it started) before the throwaway database goes away under it.
  const child = spawn("bash", ["-c", command], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => killGroup(child), timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  if (code !== 0) {
    throw new MigrationError(command, `command exited ${code === null ? "on a signal (timeout?)" : code} against ${redactUrl(url)}:\n${tail(out, secrets).trimEnd()}`);
  }
}
