/**
 * `npm run db:check`: is an application's schema the same on SQLite, PostgreSQL and MariaDB?
 * (components/copy/check/). See USAGE below for the forms; exits 0 when compatible (warnings
 * allowed), 1 on a difference that breaks the application or a failing migration (or when a
 * throwaway engine could not be started), 2 on bad usage.
 */
import { listOption, readOptions, UsageError } from "./lib/cli";
import { isAbsolute, resolve } from "path";
import { existsSync, statSync } from "fs";
import { redactUrl } from "../components/copy/redactUrl";
import { checkExitCode, checkLive, checkMigrations, renderReport, type MigrationSource } from "../components/copy/check";
import { killMigrationCommands, listMigrationFiles, MigrationLayoutError, migrationSteps } from "../components/copy/check/apply";
import { stopAllThrowaways } from "../components/copy/check/throwaway";
import { ENGINE_KINDS, type EngineKind } from "../components/model/engineKind";
import { isUrlFlavour, URL_FLAVOURS, type UrlFlavour } from "../components/copy/urlFlavours";

const USAGE = `usage:
  npm run db:check -- --migrations <dir> [--engines sqlite,postgres,mariadb]
  npm run db:check -- --command "<migration command>" [--engines ...]
  npm run db:check -- --source <url> --target <url>

Applies an application's migrations to a throwaway instance of each engine (SQLite: a temporary
file; PostgreSQL 15 and MariaDB: a server started in a temporary directory on 127.0.0.1 and
removed afterwards), then compares the schemas of every pair of engines: tables, columns, type
classes, nullability, defaults, primary/unique/foreign keys and indexes.

  --migrations <dir>   SQL files NNN_name.sql, applied in the order of NNN. A file
                       NNN_name.<engine>.sql (engine: sqlite, postgres, mariadb) replaces
                       NNN_name.sql on that engine only, e.g. 001_users.sql for all and
                       001_users.postgres.sql with serial keys for PostgreSQL. A variant with
                       no generic file runs on its engine only.
  --command "<cmd>"    run once per engine through bash in the current directory, e.g.
                       "alembic upgrade head", with DATABASE_URL (sqlite:////abs/path,
                       postgresql://..., mysql://...; the password is in the environment, never
                       on a command line), DBSTACK_ENGINE, PGHOST/PGPORT/PGUSER/PGPASSWORD/
                       PGDATABASE and MYSQL_HOST/MYSQL_TCP_PORT/MYSQL_USER/MYSQL_PWD/MYSQL_DATABASE.
  --url <flavour>      DATABASE_URL's flavour for --command: default (as above), sqlalchemy
                       (postgresql+psycopg://, mysql+pymysql://), libpq (postgresql://) or
                       jdbc (jdbc:postgresql://host:port/db?user=..&password=.., jdbc:mariadb://,
                       jdbc:sqlite:/path).
  --engines <list>     which engines (default sqlite,postgres,mariadb; at least two).
  --source / --target  compare two live databases instead (read only): the target must hold
                       every table, column and key of the source. URLs: sqlite:///abs/path,
                       postgresql://user@host:port/db, mysql://user@host:port/db. Leave them
                       out for DBSTACK_CHECK_SOURCE / DBSTACK_CHECK_TARGET (keeps passwords off
                       the command line), or use PGPASSWORD / MYSQL_PWD.

Exit status: 0 compatible (warnings allowed), 1 a difference that breaks the application or a
failing migration (the report names the engine, the file and the engine's error), 2 bad usage.`;

export { UsageError };

/** What a mistake prints after itself: the usage lines only, not the whole text (--help has it). */
const USAGE_LINES = `${USAGE.split("\n\n")[0]}\n  (npm run db:check -- --help for every option)`;

/** The parsed command line. */
export interface CheckArgs {
  migrations?: string;
  command?: string;
  engines: EngineKind[];
  source?: string;
  target?: string;
  /** DATABASE_URL's flavour for --command (components/copy/urlFlavours.ts). */
  url: UrlFlavour;
  help: boolean;
}

const ENGINE_ALIASES: Record<string, EngineKind> = { sqlite: "sqlite", postgres: "postgres", postgresql: "postgres", pg: "postgres", mariadb: "mariadb", mysql: "mariadb" };

/** Parses the command line (scripts/lib/cli.ts); throws UsageError on anything it does not know. */
export function parseCheckArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CheckArgs {
  let o;
  try {
    o = readOptions(argv, { migrations: { type: "string" }, command: { type: "string" }, engines: { type: "string" }, source: { type: "string" }, target: { type: "string" }, url: { type: "string" } });
  } catch (err) {
    if (err instanceof UsageError && err.message === "") return { engines: [...ENGINE_KINDS], url: "default", help: true };
    throw err;
  }
  const url = (o.url as string | undefined) ?? "default";
  if (!isUrlFlavour(url)) throw new UsageError(`--url ${JSON.stringify(url)} is not a URL flavour: use ${URL_FLAVOURS.join(", ")}`);
  if (o.url !== undefined && o.command === undefined) throw new UsageError("--url names DATABASE_URL's flavour for --command: it goes with --command only");
  const args: CheckArgs = { migrations: o.migrations as string | undefined, command: o.command as string | undefined, source: o.source as string | undefined, target: o.target as string | undefined, engines: [...ENGINE_KINDS], url, help: false };
  const list = listOption(o.engines);
  if (list) {
    const engines = list.map((e) => {
      const engine = ENGINE_ALIASES[e.toLowerCase()];
      if (engine === undefined) throw new UsageError(`unknown engine ${JSON.stringify(e)}: use sqlite, postgres, mariadb`);
      return engine;
    });
    args.engines = [...new Set(engines)];
    if (args.engines.length < 2) throw new UsageError("--engines needs at least two engines to compare");
  }
  if (args.help) return args;
  const migrationForms = [args.migrations, args.command].filter((x) => x !== undefined).length;
  if (migrationForms > 1) throw new UsageError("give either --migrations or --command, not both");
  if (migrationForms === 1 && (args.source !== undefined || args.target !== undefined)) throw new UsageError("--source/--target compare live databases: they do not go with --migrations/--command");
  if (migrationForms === 0) {
    args.source ??= env.DBSTACK_CHECK_SOURCE || undefined;
    args.target ??= env.DBSTACK_CHECK_TARGET || undefined;
    if (args.source === undefined && args.target === undefined) throw new UsageError("nothing to check: give --migrations <dir>, --command \"<cmd>\" or --source/--target");
    if (args.source === undefined || args.target === undefined) throw new UsageError("live mode needs both a source and a target (--source/--target or DBSTACK_CHECK_SOURCE/DBSTACK_CHECK_TARGET)");
  }
  return args;
}

/** The directory the user ran `npm run` from: npm runs scripts in the package root and leaves the user's directory in INIT_CWD. */
function userCwd(): string {
  return process.env.npm_lifecycle_event === "db:check" && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
}

async function main(argv: string[]): Promise<number> {
  let args: CheckArgs;
  try {
    args = parseCheckArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`db:check: ${err.message}\n${USAGE_LINES}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const cwd = userCwd();
  const progress = (line: string) => process.stderr.write(`db:check: ${line}\n`);
  if (args.source !== undefined && args.target !== undefined) {
    for (const [flag, url] of [["--source", args.source], ["--target", args.target]]) {
      if (argv.some((a) => a === url || a === `${flag}=${url}`) && redactUrl(url) !== url) {
        progress(`warning: ${flag} carries a password on the command line (visible to every user through ps); use ${flag === "--source" ? "DBSTACK_CHECK_SOURCE" : "DBSTACK_CHECK_TARGET"} or PGPASSWORD/MYSQL_PWD`);
      }
    }
    const result = await checkLive(args.source, args.target);
    process.stdout.write(renderReport(result));
    return checkExitCode(result);
  }
  let migrations: MigrationSource;
  if (args.migrations !== undefined) {
    const dir = isAbsolute(args.migrations) ? args.migrations : resolve(cwd, args.migrations);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      process.stderr.write(`db:check: --migrations ${dir} is not a directory\n${USAGE_LINES}\n`);
      return 2;
    }
    try {
      if (args.engines.every((e) => migrationSteps(listMigrationFiles(dir), e).length === 0)) {
        process.stderr.write(`db:check: no migration files (NNN_name.sql) in ${dir}\n${USAGE_LINES}\n`);
        return 2;
      }
    } catch (err) {
      if (!(err instanceof MigrationLayoutError)) throw err;
      process.stderr.write(`db:check: ${err.message}\n${USAGE_LINES}\n`);
      return 2;
    }
    migrations = { kind: "dir", dir };
  } else {
    migrations = { kind: "command", command: args.command as string, cwd, url: args.url };
  }
  const result = await checkMigrations({ migrations, engines: args.engines, progress });
  process.stdout.write(renderReport(result));
  return checkExitCode(result);
}

if (require.main === module) {
  // A Ctrl-C or a kill must not leave a throwaway server listening or its directory behind.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      process.stderr.write(`db:check: ${signal}: removing throwaway instances\n`);
      killMigrationCommands();
      void stopAllThrowaways().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    });
  }
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    async (err: unknown) => {
      await stopAllThrowaways();
      // Driver errors can quote a connection string: redact anything URL-shaped before printing.
      process.stderr.write(`db:check: ${String((err as Error).stack ?? err).replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, (u) => redactUrl(u))}\n`);
      process.exitCode = 1;
    },
  );
}
