/** An SQLite database as declared: its arguments and the rules they must follow (the component is deploy/sqliteDatabase.ts). */
import type { BackupArgs } from "../../model/args";
import type { HealthCheck } from "../../hooks/healthChecks";
import type { MigrationSource } from "../../hooks/migrationRunner";
import type { Target } from "../../targets/target";
import { dotCommandLine } from "./dialect";
import type { SqlitePragmas } from "./pragmas";
import { ArgumentError, checkPlacement, checkToolsDirApart, checkUnixName, checkWholeNumber, RANGES, runChecks, type Check } from "../../validate";
import { BACKUP_DRILL_CHECKS } from "../../pitrChecks";
import { backupDirPlacement, backupGpgRecipient, backupRetention, backupSchedule, deploymentName, toolsDirPlacement } from "../../deploymentChecks";

/** Where an SQLite database keeps data, for the tools directory's check (see toolsDirProblem). */
export function sqliteDataDirs(path: string, backupDir: string | undefined): [string, string | undefined][] {
  return [
    [`the database file ${path}`, path.slice(0, path.lastIndexOf("/")) || "/"],
    [`backup.dir ${backupDir}`, backupDir],
  ];
}

/** What SQLite's rules read: the database's name and its arguments. */
interface SqliteSubject {
  name: string;
  args: SqliteDatabaseArgs;
}

/**
 * The rules of an SQLite database, by name, in the order they run: the ones every deployment
 * shares (deploymentChecks.ts) among SQLite's own. Each message names the argument.
 */
export const SQLITE_CHECKS: readonly Check<SqliteSubject>[] = [
  deploymentName,
  { name: "path", check: ({ args }) => checkPlacement("path", args.path, false) },
  toolsDirPlacement,
  { name: "owner", check: ({ args }) => checkUnixName("owner", args.owner) },
  { name: "group", check: ({ args }) => checkUnixName("group", args.group) },
  backupDirPlacement,
  { name: "toolsDir holds no data", check: ({ args }) => checkToolsDirApart(args.toolsDir, sqliteDataDirs(args.path, args.backup?.dir)) },
  backupSchedule,
  backupRetention,
  backupGpgRecipient,
  { name: "pragmas.busyTimeoutMs", check: ({ args }) => checkWholeNumber("pragmas.busyTimeoutMs", args.pragmas?.busyTimeoutMs, ...RANGES.busyTimeoutMs) },
  {
    // Migrations, declared checks and the migration command run as the owner, never as root
    // (engines/sqlite/dialect.ts, renderRefuseRootClient).
    name: "hooks never run as root",
    check({ args }) {
      if (args.owner === "root" && (args.migrations || (args.healthChecks ?? []).length > 0)) {
        throw new ArgumentError(
          "owner: root would run this database's migrations, health checks and migration command as root, which dbstack never does; declare the unprivileged OS user the application runs as",
        );
      }
    },
  },
  {
    name: "migrations are SQL, not dot-commands",
    check({ args }) {
      if (args.migrations?.kind !== "sql") return;
      for (const m of args.migrations.migrations) {
        const line = dotCommandLine(m.sql);
        if (line !== undefined) {
          throw new ArgumentError(
            `migrations: ${m.id}.sql line ${line} starts with "." and sqlite3 would run it as a dot-command, not SQL; migrations are SQL only (indent the line if it belongs to a statement)`,
          );
        }
      }
    },
  },
];

/** Rejects bad arguments before any resource is registered (SQLITE_CHECKS); each message names the argument. */
export function validateSqliteArgs(name: string, args: SqliteDatabaseArgs): void {
  runChecks(SQLITE_CHECKS, { name, args });
  runChecks(BACKUP_DRILL_CHECKS, { args, engine: { kind: "sqlite" } });
}

/** Cron backups of the file (sqlite3 .backup); `dir` defaults to `backups` beside the database file. */
export type SqliteBackupArgs = Omit<BackupArgs, "maxAgeHours">;

export interface SqliteDatabaseArgs {
  /** Where the database lives. Default: this machine. */
  target?: Target;
  /** Absolute path of the database file. Its directory is created 0700, the file 0600. */
  path: string;
  /**
   * The OS user that owns the file and its directory when deploying as root, e.g. the app's user;
   * migrations, declared health checks and the migration command run as this user (runuser), never
   * as root (`root`, or a user whose uid is 0, is refused). Every directory above the file must be
   * searchable by it, or the deploy fails naming `path` (dbstack re-permissions no directory it did
   * not create). Default: `dbstack-sqlite` (DEFAULTS.sqlite.owner), a system account dbstack creates
   * when missing, with no login shell and no home, and never deletes (other stacks and clones on the
   * host may use it); a file dbstack created earlier as root (its marker says so) is handed to it.
   * A deploy as an unprivileged user keeps the file as that user's and runs everything as it.
   */
  owner?: string;
  /** Group of the file and its directory when deploying as root. Default: the owner's name. */
  group?: string;
  /** Pragmas; see SqlitePragmas for which persist in the file and which are per connection. */
  pragmas?: SqlitePragmas;
  /** Cron backups. Default: none. */
  backup?: SqliteBackupArgs;
  /** Schema migrations run after deploy: a directory's SQL files, or an external command. Default: none. */
  migrations?: MigrationSource;
  /** Health checks run after migrations, besides the built-in ones (integrity_check, SELECT 1, version). */
  healthChecks?: HealthCheck[];
  /** Where the backup, restore, health and shell tools are installed. Default `/usr/local/lib/<hostPrefix>/sqlite-<name>`. */
  toolsDir?: string;
  /** Whether `pulumi destroy` deletes the database file and its backups. Default false: they are kept. */
  allowDataRemoval?: boolean;
  /** First part of host-level names (cron file, tools directory). Default `dbstack-<stack>-<id>` (see model/naming.ts). */
  hostPrefix?: string;
}
