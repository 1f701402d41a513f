/**
 * Validation and quoting of everything a PostgreSQL script is rendered from. Names are validated
 * at preview time (a clear error naming the field) and quoted anyway when rendered: defence in
 * depth, so a rule loosened later never turns a name into SQL.
 */
import { sqlLiteral } from "../../../shell";
import { ArgumentError } from "../../../validate";

/** A name dbstack creates: a lower-case letter or _, then lower-case letters, digits or _ (at most 63, NAMEDATALEN - 1). */
export const PG_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** An extension name: as PG_IDENTIFIER, plus "-" (contrib ships "uuid-ossp"). */
export const PG_EXTENSION_NAME = /^[a-z_][a-z0-9_-]{0,62}$/;

/** An environment variable name psql's \getenv reads. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * Role names a declared user must not take: PostgreSQL reserves pg_* and these words, and
 * "postgres" is the superuser the scripts run as (converging it would make it NOSUPERUSER).
 */
const RESERVED_ROLES = new Set(["postgres", "public", "none", "current_user", "current_role", "session_user"]);

/** Databases dbstack must not take over: the templates and the maintenance database its scripts connect to. */
const RESERVED_DATABASES = new Set(["postgres", "template0", "template1"]);

export function checkIdentifier(field: string, value: string): void {
  if (typeof value !== "string" || !PG_IDENTIFIER.test(value)) {
    throw new ArgumentError(
      `${field}: expected a PostgreSQL name: a lower-case letter or _, then lower-case letters, digits or _ (at most 63), got ${JSON.stringify(value)}`,
    );
  }
}

export function checkRoleName(field: string, value: string): void {
  checkIdentifier(field, value);
  if (value.startsWith("pg_") || RESERVED_ROLES.has(value)) {
    throw new ArgumentError(`${field}: ${JSON.stringify(value)} is reserved for PostgreSQL's own roles; choose another role name`);
  }
}

/** A role a user declares: also kept out of the names dbstack uses for its own roles. */
export function checkUserRoleName(field: string, value: string): void {
  checkRoleName(field, value);
  if (value.startsWith("dbstack_")) {
    throw new ArgumentError(`${field}: names starting with dbstack_ are kept for dbstack's own roles (such as dbstack_replication); choose another role name`);
  }
}

export function checkDatabaseName(field: string, value: string): void {
  checkIdentifier(field, value);
  if (RESERVED_DATABASES.has(value)) {
    throw new ArgumentError(`${field}: ${JSON.stringify(value)} is a database PostgreSQL itself needs; choose another database name`);
  }
}

export function checkExtensionName(field: string, value: string): void {
  if (typeof value !== "string" || !PG_EXTENSION_NAME.test(value)) {
    throw new ArgumentError(
      `${field}: expected an extension name: a lower-case letter or _, then lower-case letters, digits, _ or - (at most 63), got ${JSON.stringify(value)}`,
    );
  }
}

export function checkEnvName(field: string, value: string): void {
  if (typeof value !== "string" || !ENV_NAME.test(value)) {
    throw new ArgumentError(`${field}: expected an environment variable name (letters, digits, _), got ${JSON.stringify(value)}`);
  }
}

/** Quotes an identifier: double quotes, inner ones doubled. Used even for validated names. */
export function quoteIdent(name: string): string {
  if (name.includes("\0")) throw new ArgumentError(`identifier contains a NUL character: ${JSON.stringify(name)}`);
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Quotes a string literal: single quotes, inner ones doubled. Backslashes need nothing:
 * standard_conforming_strings is on (the default since PostgreSQL 9.1) and psql follows it.
 */
export function quoteLiteral(value: string): string {
  if (value.includes("\0")) throw new ArgumentError(`literal contains a NUL character: ${JSON.stringify(value)}`);
  return sqlLiteral(value);
}

/** Dollar-quotes a body (a DO block) with a tag that does not occur in it, so nothing in the body ends the quote. */
export function dollarQuote(body: string, base = "dbstack"): string {
  let tag = `$${base}$`;
  for (let i = 1; body.includes(tag); i++) tag = `$${base}_${i}$`;
  return `${tag}\n${body}\n${tag}`;
}
