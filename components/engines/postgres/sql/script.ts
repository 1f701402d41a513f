/**
 * The pieces every rendered psql script shares. Scripts are fed on stdin to
 * `psql -X -v ON_ERROR_STOP=1` as the postgres superuser, connected to the `postgres` database.
 */
import { dollarQuote, quoteIdent, quoteLiteral } from "./identifiers";

/**
 * The opening lines: stop at the first error even when run without `-v ON_ERROR_STOP=1`, and
 * resolve every name this session uses in pg_catalog first.
 */
export function psqlHeader(purpose: string): string {
  return [
    `-- ${purpose}`,
    "-- Rendered by dbstack from the stack's declared spec; run by psql -X -v ON_ERROR_STOP=1 as postgres.",
    "\\set ON_ERROR_STOP on",
    `SET search_path = ${quoteIdent("pg_catalog")};`,
  ].join("\n");
}

/**
 * Connects to `database` as the same superuser. A database owner controls the schemas of its
 * database, so each new session first sets the search_path: pg_catalog alone by default, so that
 * nothing the owner creates can stand in for a function or operator these scripts use.
 */
export function psqlConnect(database: string, searchPath = "pg_catalog"): string {
  return [`\\connect ${quoteIdent(database)}`, `SET search_path = ${quoteIdent(searchPath)};`].join("\n");
}

/** A statement that fails the script with `message` (ON_ERROR_STOP makes psql exit non-zero). */
export function raiseError(message: string, hint?: string): string {
  const using = [`MESSAGE = ${quoteLiteral(message)}`, ...(hint === undefined ? [] : [`HINT = ${quoteLiteral(hint)}`])];
  return `DO ${dollarQuote(`BEGIN\n  RAISE EXCEPTION USING ${using.join(", ")};\nEND`)};`;
}
