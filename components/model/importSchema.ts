/**
 * How `importFrom` meets the database's schema (ImportFromArgs.schema):
 * - `copy`: the copy runs before the database's post-deploy hook and creates the tables itself,
 *   bringing the source's migration bookkeeping with it; the hook's migrations then see the
 *   source's version and apply only what is newer;
 * - `migrations`: the hook (the application's migrations, then the health checks) runs first and
 *   makes the tables; the copy then fills them, columns mapped by name and checked to fit
 *   (copy/intoSchema.ts), moves their sequences and leaves the bookkeeping table as the target's
 *   migrations wrote it. The database must declare `migrations`.
 */
export const IMPORT_SCHEMAS = ["copy", "migrations"] as const;

/** One of IMPORT_SCHEMAS. */
export type ImportSchema = (typeof IMPORT_SCHEMAS)[number];
