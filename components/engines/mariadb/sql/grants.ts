/**
 * The script that converges one user's privileges to exactly what its grants declare, on every
 * account of the user: the declared privileges on each granted database are granted, then every
 * other privilege the accounts hold (on other databases, other privilege types, global, table
 * and column privileges, GRANT OPTION) is revoked. What is held is read from the server
 * (information_schema), not from remembered state, so narrowing a grant, removing one, or a
 * privilege granted by hand are all revoked. Granting first and revoking after means a user
 * never loses, even for a moment, a privilege it keeps.
 */
import { scriptHeader, shellQuote, withHeredoc } from "../../../shell";
import { checkDeclaredOnce, checkGrantsDeclared, runChecks, type Check } from "../../../validate";
import type { MariadbLocation } from "../host";
import { accountHosts, checkUserSpec, type MariadbGrantRole, type MariadbUserSpec } from "./accounts";
import { checkDatabaseSpec, type MariadbDatabaseSpec } from "./databases";
import { grantDatabasePattern, grantTarget, quoteAccount, quoteLiteral, renderGeneratedSql, renderSqlPrelude } from "./identifiers";

/**
 * The database-level privileges of each role, as information_schema.SCHEMA_PRIVILEGES names them.
 * owner: every object privilege on the database (what migrations need: tables, views, routines,
 * triggers, events) but not GRANT OPTION: only dbstack hands out privileges. readwrite: data,
 * not schema; EXECUTE for the routines the owner writes, SHOW VIEW for dumps of views.
 * readonly: SELECT and SHOW VIEW.
 */
export const ROLE_PRIVILEGES: Record<MariadbGrantRole, readonly string[]> = {
  owner: [
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX", "REFERENCES", "CREATE VIEW", "SHOW VIEW",
    "TRIGGER", "EVENT", "CREATE ROUTINE", "ALTER ROUTINE", "EXECUTE", "CREATE TEMPORARY TABLES", "LOCK TABLES",
  ],
  readwrite: ["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "SHOW VIEW"],
  readonly: ["SELECT", "SHOW VIEW"],
};

/** The engine's rules on a user's grants against the instance's databases, by name, in the order they run. */
export const GRANT_CHECKS: readonly Check<{ user: MariadbUserSpec; databases: MariadbDatabaseSpec[] }>[] = [
  { name: "the user", check: ({ user }) => checkUserSpec(user) },
  { name: "the databases", check: ({ databases }) => databases.forEach(checkDatabaseSpec) },
  { name: "databases declared once", check: ({ databases }) => checkDeclaredOnce(databases) },
  { name: "grants name declared databases", check: ({ user, databases }) => checkGrantsDeclared(user, databases) },
];

/** Throws an ArgumentError naming the field when `user`'s grants cannot be rendered against the instance's `databases` (GRANT_CHECKS). */
export function checkGrants(user: MariadbUserSpec, databases: MariadbDatabaseSpec[]): void {
  runChecks(GRANT_CHECKS, { user, databases });
}

/**
 * SQL that prints the REVOKE statements taking from `grantees` every privilege not in `keep`
 * (pairs of stored database pattern and privilege type), to be fed to a second session.
 */
function revokeQuery(grantees: string[], keep: [string, string][]): string {
  const who = `GRANTEE IN (${grantees.map(quoteLiteral).join(", ")})`;
  const kept = keep.length === 0 ? "" : ` AND (TABLE_SCHEMA, PRIVILEGE_TYPE) NOT IN (${keep.map(([db, p]) => `(${quoteLiteral(db)}, ${quoteLiteral(p)})`).join(", ")})`;
  const schema = "'`', REPLACE(TABLE_SCHEMA, '`', '``'), '`'";
  const table = `${schema}, '.\`', REPLACE(TABLE_NAME, '\`', '\`\`'), '\`'`;
  return [
    "-- Database privileges that are not declared (other databases, or beyond the declared role).",
    `SELECT CONCAT('REVOKE ', PRIVILEGE_TYPE, ' ON ', ${schema}, '.* FROM ', GRANTEE, ';') FROM information_schema.SCHEMA_PRIVILEGES`,
    ` WHERE ${who}${kept} ORDER BY GRANTEE, TABLE_SCHEMA, PRIVILEGE_TYPE;`,
    "-- GRANT OPTION is never declared.",
    `SELECT DISTINCT CONCAT('REVOKE GRANT OPTION ON ', ${schema}, '.* FROM ', GRANTEE, ';') FROM information_schema.SCHEMA_PRIVILEGES`,
    ` WHERE ${who} AND IS_GRANTABLE = 'YES' ORDER BY 1;`,
    "-- Global privileges (ON *.*, every database): none is declared; USAGE is the bare account.",
    "SELECT CONCAT('REVOKE ', PRIVILEGE_TYPE, ' ON *.* FROM ', GRANTEE, ';') FROM information_schema.USER_PRIVILEGES",
    ` WHERE ${who} AND PRIVILEGE_TYPE <> 'USAGE' ORDER BY GRANTEE, PRIVILEGE_TYPE;`,
    "SELECT DISTINCT CONCAT('REVOKE GRANT OPTION ON *.* FROM ', GRANTEE, ';') FROM information_schema.USER_PRIVILEGES",
    ` WHERE ${who} AND IS_GRANTABLE = 'YES' ORDER BY 1;`,
    "-- Table and column privileges: dbstack grants per database only.",
    `SELECT CONCAT('REVOKE ', PRIVILEGE_TYPE, ' ON ', ${table}, ' FROM ', GRANTEE, ';') FROM information_schema.TABLE_PRIVILEGES`,
    ` WHERE ${who} ORDER BY GRANTEE, TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE;`,
    `SELECT CONCAT('REVOKE ', PRIVILEGE_TYPE, ' (\`', REPLACE(COLUMN_NAME, '\`', '\`\`'), '\`) ON ', ${table}, ' FROM ', GRANTEE, ';') FROM information_schema.COLUMN_PRIVILEGES`,
    ` WHERE ${who} ORDER BY GRANTEE, TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, PRIVILEGE_TYPE;`,
  ].join("\n");
}

/**
 * Renders the idempotent bash script that converges the privileges of every account of `user`
 * to `user.grants` over the instance's `databases` (all of them). Run after the accounts script
 * (the accounts must exist); the databases need not exist yet (MariaDB keeps database grants by
 * name). Routine-level grants (mysql.procs_priv, which the server gives a routine's creator
 * automatically) are left alone: the database-level EXECUTE and ALTER ROUTINE decide anyway.
 */
export function renderGrantsScript(loc: MariadbLocation, user: MariadbUserSpec, databases: MariadbDatabaseSpec[]): string {
  checkGrants(user, databases);
  const accounts = user.hosts.map((host) => quoteAccount(user.name, host));
  const granted = databases.filter((db) => user.grants[db.name] !== undefined);
  const grants = granted.flatMap((db) => {
    const role = user.grants[db.name];
    return accounts.map((account) => `GRANT ${ROLE_PRIVILEGES[role].join(", ")} ON ${grantTarget(db.name)} TO ${account};`);
  });
  const keep = granted.flatMap((db) => ROLE_PRIVILEGES[user.grants[db.name]].map((p): [string, string] => [grantDatabasePattern(db.name), p]));
  // GRANTEE as information_schema writes it: 'user'@'host', without escaping (names and hosts are validated).
  const grantees = accountHosts(user).map((host) => `'${user.name}'@'${host}'`);
  const summary = granted.length === 0 ? "no database" : granted.map((db) => `${db.name} ${user.grants[db.name]}`).join(", ");
  return [
    scriptHeader(`MariaDB instance ${loc.instance}: privileges of user ${user.name} converged to exactly what its spec declares (${summary}).`),
    renderSqlPrelude(loc),
    "",
    ...(grants.length === 0 ? [] : ["# First what is declared (GRANT is idempotent) ...", withHeredoc("sql_root", grants.join("\n"), "DBSTACK_SQL")]),
    "# ... then every privilege held beyond it, as the server reports it now.",
    renderGeneratedSql(revokeQuery(grantees, keep)),
    `echo ${shellQuote(`user ${user.name}: privileges converged (${summary})`)}`,
    "",
  ].join("\n");
}
