import { createHash } from "crypto";
import { readdirSync, readFileSync, statSync } from "fs";
import { join } from "path";
import type { EngineKind } from "../model/engineKind";
import type { Migration } from "../model/hooks";

/** Declared in model/hooks.ts (the model every engine shares); exported here too, beside what runs it. */
export type { Migration };

/**
 * Migration file names, one rule for the deploy and for db:check: a version prefix of digits, a
 * readable name, and optionally the engine the file is for: `0001_create_users.sql` on every
 * engine, `0001_create_users.postgres.sql` instead of it on PostgreSQL only (engines: sqlite,
 * postgres or postgresql, mariadb or mysql).
 */
export const MIGRATION_FILE = /^(\d+)_([A-Za-z0-9_-]+)(?:\.([A-Za-z]+))?\.sql$/;

/** The engine suffixes a migration file may carry, and the engine each names. */
const ENGINE_SUFFIXES: Record<string, EngineKind> = { sqlite: "sqlite", postgres: "postgres", postgresql: "postgres", mariadb: "mariadb", mysql: "mariadb" };

/** One migration of one engine: its id (the file name without engine and `.sql`, the same on every engine), its order and the file chosen. */
export interface MigrationFile {
  id: string;
  order: number;
  file: string;
}

/**
 * The migration files `engine` applies, in order, from a directory's file names: pure. Files that
 * are not `.sql` are ignored; a `.sql` file with another name, an unknown engine suffix, or two
 * migrations sharing a number, is an error naming the file (a misnamed migration skipped silently
 * would deploy a schema the application does not expect). A file for the engine replaces the
 * generic file of the same id; a migration with only other engines' files is not applied.
 */
export function migrationFilesFor(names: string[], engine: EngineKind, dir?: string): MigrationFile[] {
  const path = (name: string) => (dir === undefined ? name : join(dir, name));
  const byNumber = new Map<string, { id: string; order: number; generic?: string; own?: string }>();
  for (const name of [...names].sort()) {
    if (!/\.sql$/i.test(name)) continue;
    const match = MIGRATION_FILE.exec(name);
    if (!match) throw new Error(`migration file ${path(name)}: name must look like 0001_create_users.sql, or 0001_create_users.<engine>.sql for one engine (digits, underscore, letters)`);
    const suffix = match[3]?.toLowerCase();
    const fileEngine = suffix === undefined ? undefined : ENGINE_SUFFIXES[suffix];
    if (suffix !== undefined && fileEngine === undefined) {
      throw new Error(`migration file ${path(name)}: .${match[3]} is not an engine (${Object.keys(ENGINE_SUFFIXES).join(", ")})`);
    }
    const id = `${match[1]}_${match[2]}`;
    const number = String(Number(match[1]));
    const entry = byNumber.get(number) ?? { id, order: Number(match[1]) };
    if (entry.id !== id) throw new Error(`migration files ${entry.generic ?? entry.own ?? entry.id} and ${name}${dir === undefined ? "" : ` in ${dir}`} share the number ${match[1]}`);
    if (fileEngine === undefined) entry.generic = name;
    else if (fileEngine === engine) entry.own = name;
    byNumber.set(number, entry);
  }
  return [...byNumber.values()]
    .sort((a, b) => a.order - b.order)
    .flatMap((m) => {
      const file = m.own ?? m.generic;
      return file === undefined ? [] : [{ id: m.id, order: m.order, file }];
    });
}

export function checksumOf(sql: string): string {
  return createHash("sha256").update(sql, "utf8").digest("hex");
}

/**
 * Reads a directory's migrations for `engine` (migrationFilesFor), ordered by their numeric
 * prefix. An error names the directory or the file.
 */
export function loadMigrations(dir: string, engine: EngineKind): Migration[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error("not a directory");
    names = readdirSync(dir);
  } catch (err) {
    throw new Error(`migrations directory ${dir} cannot be read: ${(err as Error).message}`);
  }
  return migrationFilesFor(names, engine, dir).map(({ id, file }) => {
    const sql = readFileSync(join(dir, file), "utf8");
    return { id, checksum: checksumOf(sql), sql };
  });
}
