/**
 * `importFrom.schema`: which databases are copied before their hook and which after their
 * migrations (model/importSchema.ts), and the rule that a migrations-first import has migrations
 * to run. Pure.
 */
import type { DatabaseArgs } from "../model/args";
import { DEFAULTS } from "../model/defaults";
import { IMPORT_SCHEMAS, type ImportSchema } from "../model/importSchema";
import { ArgumentError, type Check } from "../validate";

/** Who makes a database's tables when it imports (its declared `importFrom.schema`, or the default). */
export function importSchemaOf(db: Pick<DatabaseArgs, "importFrom">): ImportSchema {
  return db.importFrom?.schema ?? DEFAULTS.importFrom.schema;
}

/** Whether a database's import waits for its post-deploy hook (its migrations make the tables). */
export function importsAfterMigrations(db: Pick<DatabaseArgs, "importFrom">): boolean {
  return db.importFrom !== undefined && importSchemaOf(db) === "migrations";
}

/** Why a database's `importFrom.schema` cannot be, if it cannot: an unknown value, or `migrations` without migrations. */
export function importSchemaProblem(db: Pick<DatabaseArgs, "name" | "importFrom" | "migrations">): string | undefined {
  const schema: unknown = db.importFrom?.schema;
  if (schema === undefined) return undefined;
  const field = `databases.${db.name}.importFrom.schema`;
  if (!(IMPORT_SCHEMAS as readonly unknown[]).includes(schema)) return `${field}: expected ${IMPORT_SCHEMAS.map((s) => JSON.stringify(s)).join(" or ")}, got ${JSON.stringify(schema)}`;
  if (schema === "migrations" && db.migrations === undefined) {
    return `${field}: "migrations" copies into the tables the database's migrations make, but databases.${db.name} declares no migrations (declare them, or leave schema out to let the copy create the tables)`;
  }
  return undefined;
}

/** The rule, for a deployment's named list of checks. */
export const importSchemaCheck: Check<{ args: { databases: readonly DatabaseArgs[] } }> = {
  name: "importFrom.schema",
  check({ args }) {
    for (const db of args.databases) {
      const problem = importSchemaProblem(db);
      if (problem) throw new ArgumentError(problem);
    }
  },
};
