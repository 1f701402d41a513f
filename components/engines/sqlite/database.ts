import * as pulumi from "@pulumi/pulumi";
import { renderInstallBackupSchedule, renderRemoveBackupSchedule } from "../../backups/backupSchedule";
import { defaultHostPrefix, resolveBackup } from "../../deploy/common";
import type { BackupArgs } from "../../model/args";
import type { HealthCheck } from "../../hooks/healthChecks";
import { renderPostDeployHook, type MigrationSource } from "../../hooks/migrationRunner";
import { checksumOf } from "../../hooks/migrations";
import { DEFAULTS } from "../../model/defaults";
import { cronJobName, defaultToolsDir } from "../../model/naming";
import { ownerLine } from "../../targets/ownership";
import { hostAccess } from "../../targets/access";
import { HostCommand } from "../../targets/hostCommand";
import { describeTarget, localTarget, type Target } from "../../targets/target";
import { dotCommandLine, sqliteDialect } from "./dialect";
import { connectionPragmaSql, resolvePragmas, type SqlitePragmas } from "./pragmas";
import {
  renderInstallTools,
  renderProvision,
  renderRemove,
  renderRemoveTools,
  type SqliteScriptSpec,
} from "./scripts";
import { sqliteUrls } from "./urls";
import {
  ArgumentError,
  checkGpgRecipient,
  checkPlacement,
  checkToolsDirApart,
  checkName,
  checkSchedule,
  checkUnixName,
  checkWholeNumber,
} from "../../validate";

/** Where an SQLite database keeps data, for the tools directory's check (see toolsDirProblem). */
export function sqliteDataDirs(path: string, backupDir: string | undefined): [string, string | undefined][] {
  return [
    [`the database file ${path}`, path.slice(0, path.lastIndexOf("/")) || "/"],
    [`backup.dir ${backupDir}`, backupDir],
  ];
}

/** Rejects bad arguments before any resource is registered; each message names the argument. */
function validateArgs(name: string, args: SqliteDatabaseArgs): void {
  checkName("name", name);
  checkPlacement("path", args.path, false);
  checkPlacement("toolsDir", args.toolsDir, true);
  checkUnixName("owner", args.owner);
  checkUnixName("group", args.group);
  checkPlacement("backup.dir", args.backup?.dir, true);
  checkToolsDirApart(args.toolsDir, sqliteDataDirs(args.path, args.backup?.dir));
  checkSchedule("backup.schedule", args.backup?.schedule);
  checkWholeNumber("backup.retentionDays", args.backup?.retentionDays, 1, 3650);
  checkGpgRecipient("backup.gpgRecipient", args.backup?.gpgRecipient);
  checkWholeNumber("pragmas.busyTimeoutMs", args.pragmas?.busyTimeoutMs, 0, 600000);
  // Migrations, declared checks and the migration command run as the owner, never as root
  // (engines/sqlite/dialect.ts, renderRefuseRootClient): an owner that is root is refused here.
  if (args.owner === "root" && (args.migrations || (args.healthChecks ?? []).length > 0)) {
    throw new ArgumentError(
      "owner: root would run this database's migrations, health checks and migration command as root, which dbstack never does; declare the unprivileged OS user the application runs as",
    );
  }
  if (args.migrations?.kind === "sql") {
    for (const m of args.migrations.migrations) {
      const line = dotCommandLine(m.sql);
      if (line !== undefined) {
        throw new ArgumentError(
          `migrations: ${m.id}.sql line ${line} starts with "." and sqlite3 would run it as a dot-command, not SQL; migrations are SQL only (indent the line if it belongs to a statement)`,
        );
      }
    }
  }
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

/**
 * An SQLite database file on a host, with its pragmas, cron backups, restore tool and
 * post-deploy hooks (migrations, health checks). Needs no server.
 */
export class SqliteDatabase extends pulumi.ComponentResource {
  /** Absolute path of the database file. */
  readonly path: pulumi.Output<string>;
  /** SQLAlchemy URL (`sqlite:////abs/path`). */
  readonly url: pulumi.Output<string>;
  /** `file:` URI. */
  readonly fileUri: pulumi.Output<string>;
  /** SQL an application runs on each new connection (busy_timeout, foreign_keys, synchronous). */
  readonly connectionInit: pulumi.Output<string>;
  /** The restore command: `<toolsDir>/restore [BACKUP_FILE]`; empty when no backups are declared. */
  readonly restoreCommand: pulumi.Output<string>;
  /** The backup command cron runs; empty when no backups are declared. */
  readonly backupCommand: pulumi.Output<string>;
  /** Runs the health checks on demand: `<toolsDir>/health`. */
  readonly healthCommand: pulumi.Output<string>;
  /** Output of the last post-deploy hook: migrations applied and health check results. */
  readonly hookReport: pulumi.Output<string>;

  constructor(name: string, args: SqliteDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    validateArgs(name, args); // before anything is registered
    super("dbstack:sqlite:Database", name, {}, opts);
    const target = args.target ?? localTarget();
    const pragmas = resolvePragmas(args.pragmas);
    const dbDir = args.path.slice(0, args.path.lastIndexOf("/")) || "/";
    const backup = resolveBackup(args.backup, `${dbDir}/backups`);
    const prefix = args.hostPrefix ?? defaultHostPrefix();
    const spec: SqliteScriptSpec = {
      name,
      path: args.path,
      // Never root for user SQL: with no declared owner, a root deploy hands the file to dbstack's account.
      owner: args.owner ?? DEFAULTS.sqlite.owner,
      group: args.group,
      pragmas,
      toolsDir: args.toolsDir ?? defaultToolsDir(prefix, "sqlite", name),
      backup,
      healthChecks: args.healthChecks ?? [],
      allowDataRemoval: args.allowDataRemoval ?? false,
      stackOwner: ownerLine({ project: pulumi.getProject(), stack: pulumi.getStack(), id: prefix }),
    };
    const where = describeTarget(target);
    const urls = sqliteUrls(args.path);
    const component = `sqlite database ${name}`;
    const child = { parent: this };
    // An SSH target carries its key; the steps take it (and the pinned host keys) from here.
    const on = hostAccess(name, target, this);

    const file = new HostCommand(
      `${name}-file`,
      {
        ...on,
        description: `sqlite database ${name} (${args.path} on ${where})`,
        identity: args.path,
        create: renderProvision(spec),
        delete: renderRemove(spec),
        review: { component, dataBearing: true, dataRemovalAllowed: spec.allowDataRemoval },
      },
      child,
    );

    const installTools = renderInstallTools(spec);
    const tools = new HostCommand(
      `${name}-tools`,
      {
        ...on,
        description: `tools for sqlite database ${name}`,
        create: installTools.script,
        update: renderInstallTools(spec, true).script,
        files: installTools.files,
        delete: renderRemoveTools(spec),
        review: { component },
      },
      { ...child, dependsOn: [file] },
    );

    if (backup) {
      const schedule = {
        name,
        jobName: cronJobName(prefix, "sqlite", name, "backup"),
        policy: backup,
        script: `${spec.toolsDir}/backup`,
        extension: ".db",
        allowDataRemoval: spec.allowDataRemoval,
      };
      new HostCommand(
        `${name}-backup-schedule`,
        {
          ...on,
          description: `backup schedule for sqlite database ${name}`,
          create: renderInstallBackupSchedule(schedule),
          delete: renderRemoveBackupSchedule(schedule),
          review: {
            component,
            dataBearing: true,
            dataRemovalAllowed: spec.allowDataRemoval,
            backup: { schedule: backup.schedule, retentionDays: backup.retentionDays },
          },
        },
        { ...child, dependsOn: [tools] },
      );
    }

    // Always present: the built-in health checks run even without migrations.
    {
      // The migrations, checks and command are files beside the script (files), never part of it.
      const rendered = renderPostDeployHook({
        subject: `sqlite database ${name}`,
        dialect: sqliteDialect(spec),
        migrations: args.migrations,
        healthChecks: spec.healthChecks ?? [],
      });
      const hook = new HostCommand(
        `${name}-post-deploy`,
        {
          ...on,
          description: `post-deploy hook for sqlite database ${name}`,
          create: rendered.script,
          files: rendered.files,
          environment: { DATABASE_URL: urls.sqlalchemy },
          // A re-created file must be migrated again; a changed file spec re-runs the checks.
          triggers: [file.id, checksumOf(renderProvision(spec))],
          review: {
            component,
            migrations: args.migrations?.kind === "sql" ? args.migrations.migrations.map((m) => m.id) : [],
          },
        },
        { ...child, dependsOn: [file, tools] },
      );
      this.hookReport = hook.stdout;
    }

    this.path = pulumi.output(urls.path);
    this.url = pulumi.output(urls.sqlalchemy);
    this.fileUri = pulumi.output(urls.fileUri);
    this.connectionInit = pulumi.output(connectionPragmaSql(pragmas).join(" "));
    this.healthCommand = pulumi.output(`${spec.toolsDir}/health`);
    this.restoreCommand = pulumi.output(backup ? `${spec.toolsDir}/restore` : "");
    this.backupCommand = pulumi.output(backup ? `${spec.toolsDir}/backup` : "");
    this.registerOutputs({
      path: this.path,
      url: this.url,
      fileUri: this.fileUri,
      connectionInit: this.connectionInit,
      restoreCommand: this.restoreCommand,
      healthCommand: this.healthCommand,
      backupCommand: this.backupCommand,
      hookReport: this.hookReport,
    });
  }
}
