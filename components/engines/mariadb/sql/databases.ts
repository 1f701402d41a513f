import { keptDataHint } from "../../../model/dataRemoval";
import { DEFAULTS } from "../../../model/defaults";
/**
 * The scripts that create, converge and drop a MariaDB database. Character set is always
 * utf8mb4 (MariaDB's utf8/utf8mb3 cannot hold characters outside the BMP, emoji among them);
 * the collation is declared.
 */
import { scriptHeader, shellQuote, withHeredoc } from "../../../shell";
import { runChecks, type Check } from "../../../validate";
import type { MariadbLocation } from "../host";
import { checkCollation, checkDatabaseName, grantDatabasePattern, quoteIdent, quoteLiteral, renderGeneratedSql, renderSqlPrelude } from "./identifiers";

/** A declared MariaDB database. */
export interface MariadbDatabaseSpec {
  /** Database name: a lower-case letter or _, then lower-case letters, digits or _, at most 64. */
  name: string;
  /** Default collation of the database, of character set utf8mb4. Default (given by the model) "utf8mb4_unicode_ci". */
  collation: string;
}

/** The collation a database gets when the spec names none (defaults.ts). */
export const DEFAULT_MARIADB_COLLATION = DEFAULTS.mariadb.database.collation;

/** The engine's rules on a database, by name, in the order they run; each message names the field. */
export const DATABASE_CHECKS: readonly Check<MariadbDatabaseSpec>[] = [
  { name: "name", check: (db) => checkDatabaseName("databases", db.name) },
  { name: "collation", check: (db) => checkCollation(`databases.${db.name}.collation`, db.collation) },
];

/** Throws an ArgumentError naming the field for anything in `db` that must not reach a script (DATABASE_CHECKS). */
export function checkDatabaseSpec(db: MariadbDatabaseSpec): void {
  runChecks(DATABASE_CHECKS, db);
}

/**
 * Renders the bash script that creates database `db` when missing and converges its default
 * character set and collation. ALTER DATABASE changes the default that new tables get; the
 * tables that exist keep theirs (converting them rewrites every row, a migration's decision,
 * not a deploy's). An unknown collation fails the script with the server's message.
 */
export function renderDatabaseScript(loc: MariadbLocation, db: MariadbDatabaseSpec): string {
  checkDatabaseSpec(db);
  const name = quoteIdent(db.name);
  const sql = [
    `CREATE DATABASE IF NOT EXISTS ${name} CHARACTER SET utf8mb4 COLLATE ${db.collation};`,
    `ALTER DATABASE ${name} CHARACTER SET utf8mb4 COLLATE ${db.collation};`,
    `SELECT CONCAT('database ', SCHEMA_NAME, ': ', DEFAULT_CHARACTER_SET_NAME, ', ', DEFAULT_COLLATION_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${quoteLiteral(db.name)};`,
  ].join("\n");
  return [
    scriptHeader(`MariaDB instance ${loc.instance}: database ${db.name} (utf8mb4, ${db.collation}), created when missing and converged.`),
    renderSqlPrelude(loc),
    "",
    withHeredoc("sql_root", sql, "DBSTACK_SQL"),
    "",
  ].join("\n");
}

/**
 * Renders the bash script run when database `name` leaves the spec (or the stack is destroyed).
 * Data is sacred: unless `allowDataRemoval` (the stack's dbstack:allowDataRemoval), the database
 * is kept and the script says so. When allowed, the database is dropped and every privilege on
 * it revoked: MariaDB keeps grants on a database name after DROP DATABASE, so a database created
 * later with that name would otherwise open to the old grantees.
 */
export function renderDropDatabaseScript(loc: MariadbLocation, name: string, allowDataRemoval: boolean): string {
  checkDatabaseName("databases", name);
  if (!allowDataRemoval) {
    return [
      scriptHeader(`MariaDB instance ${loc.instance}: database ${name} left the spec and is kept.`),
      `echo ${shellQuote(
        `database ${name} is no longer declared but is kept with its data; ${keptDataHint("drop it")}`,
      )}`,
      "",
    ].join("\n");
  }
  const pattern = quoteLiteral(grantDatabasePattern(name));
  const revokes = [
    "SELECT DISTINCT CONCAT('REVOKE ALL PRIVILEGES ON `', REPLACE(TABLE_SCHEMA, '`', '``'), '`.* FROM ', GRANTEE, ';')",
    `  FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA IN (${pattern}, ${quoteLiteral(name)});`,
    "SELECT DISTINCT CONCAT('REVOKE GRANT OPTION ON `', REPLACE(TABLE_SCHEMA, '`', '``'), '`.* FROM ', GRANTEE, ';')",
    `  FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA IN (${pattern}, ${quoteLiteral(name)}) AND IS_GRANTABLE = 'YES';`,
    "SELECT DISTINCT CONCAT('REVOKE ALL PRIVILEGES ON `', REPLACE(TABLE_SCHEMA, '`', '``'), '`.`', REPLACE(TABLE_NAME, '`', '``'), '` FROM ', GRANTEE, ';')",
    `  FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA = ${quoteLiteral(name)};`,
  ].join("\n");
  return [
    scriptHeader(`MariaDB instance ${loc.instance}: database ${name} dropped (dbstack:allowDataRemoval is true).`),
    renderSqlPrelude(loc),
    "",
    withHeredoc("sql_root", `DROP DATABASE IF EXISTS ${quoteIdent(name)};`, "DBSTACK_SQL"),
    "# Grants outlive the database in MariaDB: revoke them, so a new database of that name starts closed.",
    renderGeneratedSql(revokes),
    `echo ${shellQuote(`database ${name} dropped with its data, and every privilege on it revoked`)}`,
    "",
  ].join("\n");
}
