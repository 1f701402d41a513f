/**
 * A deployment of a stack named by engine and name: `sqlite:<name>`, `postgres:<name>/<database>`
 * or `mariadb:<name>/<database>`, and for db:copy also `@<user>` after a server database. One
 * grammar with one set of name rules, read by the stack's `importFrom` (stacks/) and by db:copy's
 * --from/--to (scripts/lib/deploymentRefs.ts). Kept apart from the import step so that the config
 * schema reads it without loading the step.
 */
import type { ServerEngineKind } from "../model/engineKind";
import { RESOURCE_NAME } from "../validate";

/** A parsed reference: a deployment of the stack (and, for a server, one of its databases and who logs in). */
export type DeploymentReference =
  | {
      engine: ServerEngineKind;
      /** The deployment's name under dbstack:<engine>. */
      deployment: string;
      database: string;
      /** The user to log in as (db:copy only); undefined for the database's owner. */
      user?: string;
    }
  | { engine: "sqlite"; deployment: string; database?: undefined; user?: undefined };

/** A deployment name (as the stack config's keys), and a database or user name (lower-case SQL identifiers). */
const DEPLOYMENT = RESOURCE_NAME.source.replace(/^\^|\$$/g, "");
const IDENTIFIER = "[a-z_][a-z0-9_]{0,62}";
const REFERENCE = new RegExp(`^(?:sqlite:(${DEPLOYMENT})|(postgres|mariadb):(${DEPLOYMENT})/(${IDENTIFIER})(?:@(${IDENTIFIER}))?)$`);

/** What an `importFrom` reference looks like, for error messages. */
export const IMPORT_REFERENCE_FORMS = '"sqlite:<name>", "postgres:<name>/<database>" or "mariadb:<name>/<database>"';

/** Parses `sqlite:app`, `postgres:main/app`, `mariadb:shop/app` or `postgres:main/app@ro`; undefined when it is none of them. */
export function parseDeploymentReference(text: string): DeploymentReference | undefined {
  const m = REFERENCE.exec(text);
  if (!m) return undefined;
  if (m[1] !== undefined) return { engine: "sqlite", deployment: m[1] };
  const [, , engine, deployment, database, user] = m;
  return { engine: engine as ServerEngineKind, deployment, database, ...(user === undefined ? {} : { user }) };
}

/** Parses an `importFrom` reference: as parseDeploymentReference, without a user (the copy logs in as the database's owner). */
export function parseImportReference(text: string): DeploymentReference | undefined {
  const ref = parseDeploymentReference(text);
  return ref?.user === undefined ? ref : undefined;
}

/** The text form of a reference, for messages. */
export function formatDeploymentReference(ref: DeploymentReference): string {
  return ref.database === undefined ? `${ref.engine}:${ref.deployment}` : `${ref.engine}:${ref.deployment}/${ref.database}${ref.user ? `@${ref.user}` : ""}`;
}
