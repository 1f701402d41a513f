import * as pulumi from "@pulumi/pulumi";
import type { SqliteMonitoringView } from "../model/monitoring";
import { sqliteEngine, sqliteTools } from "../engines/sqlite/engine";
import { validateSqliteArgs, type SqliteDatabaseArgs } from "../engines/sqlite/database";
import { sqliteDialect } from "../engines/sqlite/dialect";
import { connectionPragmaSql, resolvePragmas } from "../engines/sqlite/pragmas";
import { renderProvision, renderRemove, type SqliteScriptSpec } from "../engines/sqlite/scripts";
import { sqliteUrls } from "../engines/sqlite/urls";
import { checksumOf } from "../hooks/migrations";
import { hookRecordPath, hookRecordsDir } from "../hooks/hookRecord";
import { DEFAULTS } from "../model/defaults";
import { defaultToolsDir } from "../model/naming";
import { hostAccess, type HostAccess } from "../targets/access";
import { HostCommand } from "../targets/hostCommand";
import { ownerLine } from "../targets/ownership";
import { describeTarget, localTarget } from "../targets/target";
import { defaultHostPrefix, resolveBackup } from "./common";
import type { StepContext } from "./phases/context";
import { createPostDeployHook } from "./phases/hooks";
import { createDrillSchedule, drillSchedule } from "./phases/drillSchedule";
import { createOperations, decideBackupSchedule } from "./phases/operations";
import { sqliteDatabaseUrl } from "./databaseUrl";

/**
 * An SQLite database file on a host, with its pragmas, cron backups, restore tool and
 * post-deploy hooks (migrations, health checks). Needs no server: its file is its placement and
 * install; its tools, backups and hook are the shared operations and hooks phases (deploy/phases/).
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
  /** What status needs (JSON of model/monitoring.ts's SqliteMonitoringView): the file's host, its backups. */
  readonly monitoring: pulumi.Output<string>;

  constructor(name: string, args: SqliteDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    validateSqliteArgs(name, args); // before anything is registered
    super("dbstack:sqlite:Database", name, {}, opts);
    const ctx = sqliteContext(this, name, args);
    const spec = sqliteSpec(ctx, name, args);
    const urls = sqliteUrls(args.path);
    // An SSH target carries its key; the steps take it (and the pinned host keys) from here.
    const on = hostAccess(name, args.target ?? localTarget(), this);

    const file = createFile(ctx, on, spec);
    const schedule = decideBackupSchedule(ctx, sqliteEngine, undefined);
    const tools = createOperations(
      ctx,
      { on },
      {
        tools: { id: `${name}-tools`, description: `tools for sqlite database ${name}`, dir: spec.toolsDir, tools: sqliteTools(spec) },
        backup: schedule && { description: `backup schedule for sqlite database ${name}`, schedule },
      },
      [file],
    );
    if (spec.drill) createDrillSchedule(ctx, on, spec.drill.schedule, tools);
    // Always present: the built-in health checks run even without migrations.
    const hook = createPostDeployHook(ctx, on, {
      id: `${name}-post-deploy`,
      description: `post-deploy hook for sqlite database ${name}`,
      subject: `sqlite database ${name}`,
      dialect: sqliteDialect(spec),
      migrations: args.migrations,
      healthChecks: spec.healthChecks ?? [],
      environment: { DATABASE_URL: sqliteDatabaseUrl(urls, args.migrations?.kind === "command" ? args.migrations.url : undefined) },
      // A re-created file must be migrated again; a changed file spec re-runs the checks.
      triggers: [file.id, checksumOf(renderProvision(spec))],
      dependsOn: [file, tools],
      record: hookRecordPath(ctx.toolsDir, name),
    });

    this.hookReport = hook.stdout;
    this.path = pulumi.output(urls.path);
    this.url = pulumi.output(urls.sqlalchemy);
    this.fileUri = pulumi.output(urls.fileUri);
    this.connectionInit = pulumi.output(connectionPragmaSql(spec.pragmas).join(" "));
    this.healthCommand = pulumi.output(`${spec.toolsDir}/health`);
    this.restoreCommand = pulumi.output(ctx.backup ? `${spec.toolsDir}/restore` : "");
    this.backupCommand = pulumi.output(ctx.backup ? `${spec.toolsDir}/backup` : "");
    const monitoring: SqliteMonitoringView = {
      engine: "sqlite",
      path: urls.path,
      target: on.target,
      backup: ctx.backup && { dir: ctx.backup.dir, prefix: name, maxAgeHours: ctx.backup.maxAgeHours },
      hookRecords: hookRecordsDir(ctx.toolsDir),
    };
    this.monitoring = pulumi.output(JSON.stringify(monitoring));
    this.registerOutputs({
      path: this.path,
      url: this.url,
      fileUri: this.fileUri,
      connectionInit: this.connectionInit,
      restoreCommand: this.restoreCommand,
      healthCommand: this.healthCommand,
      backupCommand: this.backupCommand,
      hookReport: this.hookReport,
      monitoring: this.monitoring,
    });
  }
}

/** The step context of an SQLite database: every default applied, nothing registered. */
function sqliteContext(parent: pulumi.ComponentResource, name: string, args: SqliteDatabaseArgs): StepContext {
  const dbDir = args.path.slice(0, args.path.lastIndexOf("/")) || "/";
  const prefix = args.hostPrefix ?? defaultHostPrefix();
  return {
    parent,
    name,
    kind: "sqlite",
    component: `sqlite database ${name}`,
    prefix,
    owner: ownerLine({ project: pulumi.getProject(), stack: pulumi.getStack(), id: prefix }),
    allowDataRemoval: args.allowDataRemoval ?? false,
    toolsDir: args.toolsDir ?? defaultToolsDir(prefix, "sqlite", name),
    backup: resolveBackup(args.backup, `${dbDir}/backups`),
  };
}

/** What SQLite's scripts render from: the file, its owner, pragmas, tools and backups. */
function sqliteSpec(ctx: StepContext, name: string, args: SqliteDatabaseArgs): SqliteScriptSpec {
  return {
    name,
    path: args.path,
    // Never root for user SQL: with no declared owner, a root deploy hands the file to dbstack's account.
    owner: args.owner ?? DEFAULTS.sqlite.owner,
    group: args.group,
    pragmas: resolvePragmas(args.pragmas),
    toolsDir: ctx.toolsDir,
    backup: ctx.backup,
    healthChecks: args.healthChecks ?? [],
    allowDataRemoval: ctx.allowDataRemoval,
    stackOwner: ctx.owner,
    drill: ctx.backup && args.backup?.drill && { schedule: drillSchedule(args.backup.drill, ctx.backup.schedule), onFailure: args.backup.drill.onFailure },
  };
}

/** The database file: SQLite's placement and install (data-bearing: kept on destroy unless removal is allowed). */
function createFile(ctx: StepContext, on: HostAccess, spec: SqliteScriptSpec): HostCommand {
  return new HostCommand(
    `${ctx.name}-file`,
    {
      ...on,
      description: `sqlite database ${ctx.name} (${spec.path} on ${describeTarget(on.target)})`,
      identity: spec.path,
      create: renderProvision(spec),
      delete: renderRemove(spec),
      review: { component: ctx.component, dataBearing: true, dataRemovalAllowed: ctx.allowDataRemoval },
    },
    { parent: ctx.parent },
  );
}
