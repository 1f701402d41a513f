import type { MigrationSource } from "../components/hooks/migrationRunner";
import { loadMigrations } from "../components/hooks/migrations";
import type { EngineKind } from "../components/model/engineKind";
import type { UrlFlavour } from "../components/model/urlFlavour";
import { ConfigError, projectPath } from "./config";

/** The `migrations` config of a database, as every engine declares it. */
export type MigrationsConfig = { dir: string } | { command: string; workdir?: string; url?: UrlFlavour };

/**
 * Turns a database's `migrations` config (under `key`) into a migration source: reads the SQL
 * files of `dir` that `engine` applies (hooks/migrations.ts), or takes the command with its working directory; paths are relative to the
 * project. A directory that cannot be read is a config error naming `<key>.dir`.
 */
export function migrationSourceFromConfig(key: string, cfg: MigrationsConfig | undefined, projectDir: string, engine: EngineKind): MigrationSource | undefined {
  if (!cfg) return undefined;
  if ("dir" in cfg) {
    try {
      return { kind: "sql", migrations: loadMigrations(projectPath(projectDir, cfg.dir), engine) };
    } catch (err) {
      throw new ConfigError(`${key}.dir: ${(err as Error).message}`);
    }
  }
  return { kind: "command", command: cfg.command, workdir: projectPath(projectDir, cfg.workdir ?? "."), ...(cfg.url === undefined ? {} : { url: cfg.url }) };
}
