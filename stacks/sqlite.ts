import * as pulumi from "@pulumi/pulumi";
import { SqliteDatabase } from "../components/deploy/sqliteDatabase";
import { ConfigError, projectPath, type SqliteDatabaseConfig } from "./config";
import { migrationSourceFromConfig } from "./migrations";
import { resolveHost, type Ctx } from "./hosts";
import { importSources, underKey } from "./server";

/** Turns one validated `dbstack:sqlite.<name>` entry into component args; reads migration files. */
export function sqliteDatabaseFromConfig(
  name: string,
  cfg: SqliteDatabaseConfig,
  ctx: Ctx,
): SqliteDatabase {
  const abs = (p: string) => projectPath(ctx.projectDir, p);
  const migrations = migrationSourceFromConfig(`dbstack:sqlite.${name}.migrations`, cfg.migrations, ctx.projectDir, "sqlite");
  const db = underKey(`dbstack:sqlite.${name}`, () => new SqliteDatabase(name, {
    target: resolveHost(`dbstack:sqlite.${name}.host`, cfg.host, ctx),
    path: abs(cfg.path),
    owner: cfg.owner,
    group: cfg.group,
    pragmas: cfg.pragmas,
    backup: cfg.backup && { ...cfg.backup, dir: cfg.backup.dir && abs(cfg.backup.dir) },
    migrations,
    healthChecks: cfg.healthChecks,
    toolsDir: cfg.toolsDir && abs(cfg.toolsDir),
    allowDataRemoval: ctx.allowDataRemoval,
  }));
  importSources(ctx).provide(name, { engine: "sqlite", component: db, url: db.url });
  return db;
}

/** The outputs a stack exports for each SQLite database. */
export function sqliteOutputs(db: SqliteDatabase) {
  return {
    path: db.path,
    url: db.url,
    fileUri: db.fileUri,
    connectionInit: db.connectionInit,
    backupCommand: db.backupCommand,
    restoreCommand: db.restoreCommand,
    healthCommand: db.healthCommand,
    hookReport: db.hookReport,
    monitoring: db.monitoring,
  } satisfies Record<string, pulumi.Output<string>>;
}
