/**
 * The `importFrom` reference of a stack's config: `sqlite:<name>`, `postgres:<name>/<database>`
 * or `mariadb:<name>/<database>`, a deployment of the same stack by engine and name (and a
 * database of a server deployment). Kept apart from importStep.ts so that the config schema
 * reads it without loading the step.
 */

/** The engines a database can be imported from. */
export type ImportSourceEngine = "sqlite" | "postgres" | "mariadb";
/** The engines whose databases can declare `importFrom`. */
export type ImportTargetEngine = "postgres" | "mariadb";

/** A parsed `importFrom` reference: a deployment of the same stack (and, for a server, one of its databases). */
export interface ImportReference {
  engine: ImportSourceEngine;
  /** The deployment's name under dbstack:<engine>. */
  deployment: string;
  /** The database of a server deployment; undefined for SQLite (one database per deployment). */
  database?: string;
}

const REFERENCE = /^(?:sqlite:([a-z][a-z0-9_-]{0,39})|(postgres|mariadb):([a-z][a-z0-9_-]{0,39})\/([a-z_][a-z0-9_]{0,62}))$/;

/** What a reference looks like, for error messages. */
export const IMPORT_REFERENCE_FORMS = '"sqlite:<name>", "postgres:<name>/<database>" or "mariadb:<name>/<database>"';

/** Parses `sqlite:app`, `postgres:main/app` or `mariadb:shop/app`; undefined when it is none of them. */
export function parseImportReference(text: string): ImportReference | undefined {
  const m = REFERENCE.exec(text);
  if (!m) return undefined;
  return m[1] !== undefined ? { engine: "sqlite", deployment: m[1] } : { engine: m[2] as ImportTargetEngine, deployment: m[3], database: m[4] };
}

/**
 * A lossy conversion's id as the copy names it (`table.column:from->to`): one word of a
 * comma-separated --allow list (the script quotes it), so no spaces, commas or control characters.
 */
export const ALLOW_ID = /^[^\s,\x00-\x1f\x7f]+$/;

/** How the preview names a database: sqlite `app`, postgres `main/app`. */
export function describeDatabase(engine: ImportSourceEngine, deployment: string, database?: string): string {
  return `${engine} \`${database === undefined ? deployment : `${deployment}/${database}`}\``;
}
