/**
 * The psql script that converges one database to its spec: created when missing (encoding and
 * locale fixed then), owner, DateStyle and TimeZone, CONNECT for granted users only, extensions.
 */
import { ArgumentError, runChecks, type Check } from "../../../validate";
import type { DatabaseSpec } from "../spec";
import { checkDatabaseName, checkExtensionName, checkRoleName, dollarQuote, quoteIdent, quoteLiteral } from "./identifiers";
import { psqlConnect, psqlHeader } from "./script";

/** An encoding name as PostgreSQL spells them: UTF8, LATIN1, WIN1252, EUC_JP ... */
const ENCODING = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
/** A libc locale name: C, C.UTF-8, pt_BR.UTF-8, de_DE.utf8@euro ... */
const LOCALE = /^[A-Za-z][A-Za-z0-9_.@-]{0,63}$/;
/** A TimeZone value: a zone name (America/Sao_Paulo), an abbreviation (UTC) or a POSIX spec (UTC+3, <-03>+3). */
const TIME_ZONE = /^[A-Za-z0-9_+\-/:<>.]{1,64}$/;
/** The words a DateStyle value is made of (PostgreSQL's check_datestyle accepts these, case-insensitively). */
const DATESTYLE_WORDS = new Set([
  "iso", "sql", "postgres", "german", "ymd", "dmy", "mdy", "euro", "european", "us", "noneuro", "noneuropean", "default",
]);

/** The engine's rules on a database, by name, in the order they run; each message names the field. */
export const DATABASE_CHECKS: readonly Check<DatabaseSpec>[] = [
  { name: "name", check: (db) => checkDatabaseName("databases", db.name) },
  { name: "owner", check: (db) => checkRoleName(`databases.${db.name}.owner`, db.owner) },
  {
    name: "encoding",
    check(db) {
      if (typeof db.encoding !== "string" || !ENCODING.test(db.encoding)) {
        throw new ArgumentError(`databases.${db.name}.encoding: expected an encoding name such as UTF8 or LATIN1, got ${JSON.stringify(db.encoding)}`);
      }
    },
  },
  {
    name: "locale",
    check(db) {
      if (typeof db.locale !== "string" || !LOCALE.test(db.locale)) {
        throw new ArgumentError(`databases.${db.name}.locale: expected a locale name such as C.UTF-8 or pt_BR.UTF-8, got ${JSON.stringify(db.locale)}`);
      }
    },
  },
  {
    name: "dateStyle",
    check(db) {
      const words = typeof db.dateStyle === "string" ? db.dateStyle.split(",").map((w) => w.trim().toLowerCase()) : [""];
      if (words.length > 2 || words.some((w) => !DATESTYLE_WORDS.has(w))) {
        throw new ArgumentError(
          `databases.${db.name}.dateStyle: expected an output format and/or a field order, e.g. "ISO, DMY" or "ISO, MDY", got ${JSON.stringify(db.dateStyle)}`,
        );
      }
    },
  },
  {
    name: "timeZone",
    check(db) {
      if (typeof db.timeZone !== "string" || !TIME_ZONE.test(db.timeZone)) {
        throw new ArgumentError(`databases.${db.name}.timeZone: expected a time zone such as UTC or America/Sao_Paulo, got ${JSON.stringify(db.timeZone)}`);
      }
    },
  },
  {
    name: "extensions",
    check(db) {
      const field = `databases.${db.name}.extensions`;
      if (!Array.isArray(db.extensions)) throw new ArgumentError(`${field}: expected a list of extension names, got ${JSON.stringify(db.extensions)}`);
      db.extensions.forEach((ext, i) => checkExtensionName(`${field}[${i}]`, ext));
    },
  },
];

/** Throws an ArgumentError naming the field for anything in `db` that must not reach a script (DATABASE_CHECKS). */
export function checkDatabaseSpec(db: DatabaseSpec): void {
  runChecks(DATABASE_CHECKS, db);
}

/**
 * Encoding and locale are fixed when a database is created; a database that already exists with
 * others fails the script before anything is changed, rather than being silently kept as it is.
 * Locale names are compared case-insensitively and without "-" (C.UTF-8 is C.utf8 to glibc).
 */
function encodingCheck(db: DatabaseSpec): string {
  const name = quoteLiteral(db.name);
  const encoding = quoteLiteral(db.encoding);
  const locale = quoteLiteral(db.locale);
  const sameLocale = (column: string) => `lower(replace(existing.${column}, '-', '')) = lower(replace(${locale}, '-', ''))`;
  return `DO ${dollarQuote(`DECLARE
  existing record;
BEGIN
  SELECT pg_encoding_to_char(d.encoding) AS encoding, d.datcollate, d.datctype INTO existing
    FROM pg_database d WHERE d.datname = ${name};
  IF FOUND AND NOT (existing.encoding = pg_encoding_to_char(pg_char_to_encoding(${encoding}))
                    AND ${sameLocale("datcollate")} AND ${sameLocale("datctype")}) THEN
    RAISE EXCEPTION 'database "%" exists with encoding %, LC_COLLATE % and LC_CTYPE %, but the spec declares encoding % and locale %',
        ${name}, existing.encoding, existing.datcollate, existing.datctype, ${encoding}, ${locale}
      USING HINT = 'Encoding and locale are fixed when a database is created: declare the ones it has, or dump it, drop it, let dbstack create it again and restore the dump.';
  END IF;
END`)};`;
}

/**
 * Renders the idempotent psql script for one database. Run after the roles exist (the owner is
 * one of them); grants are rendered per user by renderGrantsSql.
 */
export function renderDatabaseSql(db: DatabaseSpec): string {
  checkDatabaseSpec(db);
  const name = quoteIdent(db.name);
  const create = [
    "SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L LC_COLLATE %L LC_CTYPE %L TEMPLATE template0',",
    `              ${[db.name, db.owner, db.encoding, db.locale, db.locale].map(quoteLiteral).join(", ")})`,
    ` WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${quoteLiteral(db.name)}) \\gexec`,
  ].join("\n");
  return [
    psqlHeader(`database ${db.name}: created when missing, then converged to the declared spec`),
    "",
    encodingCheck(db),
    "",
    "-- CREATE DATABASE cannot run in a transaction block and has no IF NOT EXISTS.",
    create,
    "",
    `ALTER DATABASE ${name} OWNER TO ${quoteIdent(db.owner)};`,
    `ALTER DATABASE ${name} SET datestyle TO ${quoteLiteral(db.dateStyle)};`,
    `ALTER DATABASE ${name} SET timezone TO ${quoteLiteral(db.timeZone)};`,
    "-- Least privilege: only the owner and the users granted CONNECT connect, and nobody else creates temporary tables.",
    `REVOKE CONNECT, TEMPORARY ON DATABASE ${name} FROM PUBLIC;`,
    ...(db.extensions.length === 0
      ? []
      : [
          "",
          "-- Extensions go to schema public (not a schema named after the superuser that the owner could create).",
          psqlConnect(db.name, "public"),
          ...db.extensions.map((ext) => `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(ext)};`),
        ]),
    "",
  ].join("\n");
}
