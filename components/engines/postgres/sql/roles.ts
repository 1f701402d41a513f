/**
 * The psql scripts that create, converge and drop login roles. A password never appears in the
 * rendered text: the script reads it from an environment variable with psql's \getenv (psql 15+)
 * and passes it as a psql variable, which psql quotes as a literal.
 */
import { ArgumentError, checkGrantRole, checkWholeNumber, runChecks, type Check } from "../../../validate";
import type { UserSpec } from "../spec";
import { checkDatabaseName, checkEnvName, checkRoleName, checkUserRoleName, quoteIdent, quoteLiteral } from "./identifiers";
import { psqlConnect, psqlHeader, raiseError } from "./script";

/** Largest CONNECTION LIMIT PostgreSQL accepts (int4). */
const MAX_CONNECTION_LIMIT = 2_147_483_647;

/** The engine's rules on a login role, by name, in the order they run. */
export const USER_CHECKS: readonly Check<UserSpec>[] = [
  { name: "role name", check: (user) => checkUserRoleName("users", user.name) },
  {
    name: "connectionLimit",
    check(user) {
      const field = `users.${user.name}.connectionLimit`;
      if (typeof user.connectionLimit !== "number") throw new ArgumentError(`${field}: expected a whole number, -1 for no limit, got ${JSON.stringify(user.connectionLimit)}`);
      checkWholeNumber(field, user.connectionLimit, -1, MAX_CONNECTION_LIMIT);
    },
  },
  {
    name: "grants",
    check(user) {
      const field = `users.${user.name}`;
      if (user.grants === null || typeof user.grants !== "object" || Array.isArray(user.grants)) {
        throw new ArgumentError(`${field}.grants: expected a map of database name → owner, readwrite or readonly, got ${JSON.stringify(user.grants)}`);
      }
      for (const [db, role] of Object.entries(user.grants)) {
        checkDatabaseName(`${field}.grants`, db);
        checkGrantRole(`${field}.grants.${db}`, role);
      }
    },
  },
];

/** Throws an ArgumentError naming the field for anything in `user` that must not reach a script (USER_CHECKS). */
export function checkUserSpec(user: UserSpec): void {
  runChecks(USER_CHECKS, user);
}

/**
 * Session settings that keep the statement carrying the password out of the server log
 * (log_statement, log_min_error_statement, duration logging), out of pg_stat_statements (which
 * stores utility statements verbatim before PostgreSQL 16), and out of psql's own output (no
 * echo even under -a or -e; terse errors do not quote the statement). The password is hashed
 * with SCRAM whatever the server's default.
 */
const QUIET_SESSION = [
  "\\set ECHO none",
  "\\set VERBOSITY terse",
  "\\set SHOW_CONTEXT never",
  "SET log_statement = 'none';",
  "SET log_min_error_statement = 'panic';",
  "SET log_min_duration_statement = -1;",
  "SET log_min_duration_sample = -1;",
  "SET pg_stat_statements.track_utility = off;",
  "SET password_encryption = 'scram-sha-256';",
].join("\n");

/** psql variable holding the password for the length of the script. */
const PASSWORD_VAR = "dbstack_password";

function loginRoleSql(purpose: string, name: string, attributes: string, passwordEnv: string): string {
  checkEnvName("passwordEnv", passwordEnv);
  const role = quoteIdent(name);
  return [
    psqlHeader(purpose),
    "-- The password comes from the environment; it is never written in this script.",
    QUIET_SESSION,
    `\\unset ${PASSWORD_VAR}`,
    `\\getenv ${PASSWORD_VAR} ${passwordEnv}`,
    `\\if :{?${PASSWORD_VAR}}`,
    "\\else",
    `\\set ${PASSWORD_VAR} ''`,
    "\\endif",
    "",
    "BEGIN;",
    `SELECT format('CREATE ROLE %I', ${quoteLiteral(name)}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(name)}) \\gexec`,
    `ALTER ROLE ${role} WITH ${attributes} VALID UNTIL 'infinity' PASSWORD :'${PASSWORD_VAR}';`,
    "-- PostgreSQL clears the password when given an empty one: refuse that, and roll back.",
    `SELECT rolpassword IS NULL AS dbstack_password_missing FROM pg_authid WHERE rolname = ${quoteLiteral(name)} \\gset`,
    "\\if :dbstack_password_missing",
    raiseError(`environment variable ${passwordEnv} is empty or not set: it must hold the password of role ${name}`),
    "\\endif",
    "COMMIT;",
    `\\unset ${PASSWORD_VAR}`,
    "",
  ].join("\n");
}

/**
 * Renders the idempotent psql script that creates `user` as a login role when missing and
 * converges its attributes (no superuser, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS; the
 * declared CONNECTION LIMIT) and its password, read from the environment variable `passwordEnv`.
 * Re-running with another password in that variable rotates it.
 */
export function renderRoleSql(user: UserSpec, passwordEnv: string): string {
  checkUserSpec(user);
  return loginRoleSql(
    `role ${user.name}: login role, created when missing, attributes and password converged`,
    user.name,
    `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT ${user.connectionLimit}`,
    passwordEnv,
  );
}

/**
 * Renders the idempotent psql script for the role a streaming-replication standby connects as:
 * REPLICATION and nothing else (it is granted CONNECT on no database).
 */
export function renderReplicationRoleSql(name: string, passwordEnv: string): string {
  checkRoleName("replication role", name);
  return loginRoleSql(
    `role ${name}: replication role, created when missing, attributes and password converged`,
    name,
    "LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOBYPASSRLS CONNECTION LIMIT -1",
    passwordEnv,
  );
}

/**
 * The role pg_rewind logs in as (a Patroni member rewinding itself after a failover): a login
 * role with EXECUTE on the four functions pg_rewind reads the new leader's files with, nothing more.
 */
export function renderRewindRoleSql(name: string, passwordEnv: string): string {
  checkRoleName("rewind role", name);
  const role = quoteIdent(name);
  return [
    loginRoleSql(`role ${name}: pg_rewind's role, created when missing, attributes and password converged`, name, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5", passwordEnv),
    ...["pg_ls_dir(text, boolean, boolean)", "pg_stat_file(text, boolean)", "pg_read_binary_file(text)", "pg_read_binary_file(text, bigint, bigint, boolean)"].map((f) => `GRANT EXECUTE ON FUNCTION pg_catalog.${f} TO ${role};`),
    "",
  ].join("\n");
}

/**
 * Renders the idempotent psql script that removes the role `user`: it stops logging in and its
 * sessions end; in each database what it owns passes to the database's owner (REASSIGN OWNED:
 * no data is lost) and its privileges there are revoked (DROP OWNED); then the role is dropped.
 * `databases` are all the databases of the cluster; one that no longer exists (dropped before its
 * users on a destroy that allows data removal) is skipped. Does nothing when the role does not exist.
 */
export function renderDropRoleSql(user: string, databases: { name: string; owner: string }[]): string {
  checkRoleName("users", user);
  for (const db of databases) {
    checkDatabaseName("databases", db.name);
    checkRoleName(`databases.${db.name}.owner`, db.owner);
    if (db.owner === user) {
      throw new ArgumentError(`users.${user}: cannot remove role ${user}, it owns database ${db.name}; give databases.${db.name}.owner another user first`);
    }
  }
  const role = quoteIdent(user);
  return [
    psqlHeader(`role ${user}: removed; what it owns passes to each database's owner`),
    `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(user)}) AS dbstack_role_exists \\gset`,
    "\\if :dbstack_role_exists",
    `ALTER ROLE ${role} NOLOGIN;`,
    `SELECT count(pg_terminate_backend(pid, 5000)) AS sessions_ended FROM pg_stat_activity WHERE usename = ${quoteLiteral(user)};`,
    ...databases.flatMap((db) => [
      psqlConnect("postgres"),
      `SELECT EXISTS (SELECT FROM pg_database WHERE datname = ${quoteLiteral(db.name)}) AS dbstack_db_exists \\gset`,
      "\\if :dbstack_db_exists",
      psqlConnect(db.name),
      `REASSIGN OWNED BY ${role} TO ${quoteIdent(db.owner)};`,
      `DROP OWNED BY ${role};`,
      "\\endif",
    ]),
    psqlConnect("postgres"),
    `DROP ROLE IF EXISTS ${role};`,
    "\\endif",
    "",
  ].join("\n");
}

/**
 * Renders the idempotent psql script for the monitoring role (model/monitoring.ts): a login role
 * with pg_monitor (statistics and settings, never table contents), no other right, a few
 * sessions at most, and read-only transactions by default.
 */
export function renderMonitorRoleSql(name: string, passwordEnv: string, connectionLimit: number): string {
  checkRoleName("monitoring role", name);
  checkWholeNumber("monitoring connection limit", connectionLimit, 1, MAX_CONNECTION_LIMIT);
  return [
    loginRoleSql(
      `role ${name}: monitoring role (pg_monitor), created when missing, attributes and password converged`,
      name,
      `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT ${connectionLimit}`,
      passwordEnv,
    ),
    `GRANT pg_monitor TO ${quoteIdent(name)};`,
    `ALTER ROLE ${quoteIdent(name)} SET default_transaction_read_only = on;`,
    "",
  ].join("\n");
}
