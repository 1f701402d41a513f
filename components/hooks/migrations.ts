import { createHash } from "crypto";
import { readdirSync, readFileSync, statSync } from "fs";
import { join } from "path";
import type { Migration } from "../model/hooks";

/** Declared in model/hooks.ts (the model every engine shares); exported here too, beside what runs it. */
export type { Migration };

/** Migration file names: a version prefix of digits, then a readable name. */
export const MIGRATION_FILE = /^(\d+)_([A-Za-z0-9_-]+)\.sql$/;

export function checksumOf(sql: string): string {
  return createHash("sha256").update(sql, "utf8").digest("hex");
}

/**
 * Reads the `*.sql` files of a directory as migrations, ordered by their numeric prefix.
 * Files that are not `.sql` are ignored; a `.sql` file with a bad name, or two files with the
 * same number, is an error naming the file.
 */
export function loadMigrations(dir: string): Migration[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error("not a directory");
    names = readdirSync(dir);
  } catch (err) {
    throw new Error(`migrations directory ${dir} cannot be read: ${(err as Error).message}`);
  }
  const seen = new Map<string, string>();
  const migrations = names
    .filter((name) => name.endsWith(".sql"))
    .map((name) => {
      const match = MIGRATION_FILE.exec(name);
      if (!match) {
        throw new Error(`migration file ${join(dir, name)}: name must look like 0001_create_users.sql (digits, underscore, letters)`);
      }
      const number = String(Number(match[1]));
      const clash = seen.get(number);
      if (clash) throw new Error(`migration files ${clash} and ${name} in ${dir} share the number ${match[1]}`);
      seen.set(number, name);
      const sql = readFileSync(join(dir, name), "utf8");
      return { id: name.slice(0, -4), checksum: checksumOf(sql), sql, order: Number(match[1]) };
    });
  return migrations.sort((a, b) => a.order - b.order).map(({ id, checksum, sql }) => ({ id, checksum, sql }));
}
