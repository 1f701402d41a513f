import * as pulumi from "@pulumi/pulumi";
import { SqliteDatabase } from "../components/engines/sqlite/database";
import type { MigrationSource } from "../components/hooks/migrationRunner";
import { loadMigrations } from "../components/hooks/migrations";
import { ConfigError, projectPath, type SqliteDatabaseConfig } from "./config";

/** Turns one validated `dbstack:sqlite.<name>` entry into component args; reads migration files. */
export function sqliteDatabaseFromConfig(
  name: string,
  cfg: SqliteDatabaseConfig,
  ctx: { projectDir: string; stack: string; allowDataRemoval: boolean },
): SqliteDatabase {
  const abs = (p: string) => projectPath(ctx.projectDir, p);
  let migrations: MigrationSource | undefined;
  if (cfg.migrations && "dir" in cfg.migrations) {
    try {
      migrations = { kind: "sql", migrations: loadMigrations(abs(cfg.migrations.dir)) };
    } catch (err) {
      throw new ConfigError(`dbstack:sqlite.${name}.migrations.dir: ${(err as Error).message}`);
    }
  } else if (cfg.migrations) {
    migrations = { kind: "command", command: cfg.migrations.command, workdir: abs(cfg.migrations.workdir ?? ".") };
  }
  return new SqliteDatabase(name, {
    path: abs(cfg.path),
    owner: cfg.owner,
    group: cfg.group,
    pragmas: cfg.pragmas,
    backup: cfg.backup && { ...cfg.backup, dir: cfg.backup.dir && abs(cfg.backup.dir) },
    migrations,
    healthChecks: cfg.healthChecks,
    toolsDir: cfg.toolsDir && abs(cfg.toolsDir),
    allowDataRemoval: ctx.allowDataRemoval,
    hostPrefix: `dbstack-${ctx.stack}`,
  });
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
  } satisfies Record<string, pulumi.Output<string>>;
}
