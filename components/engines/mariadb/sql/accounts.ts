/**
 * The scripts that converge a user's MariaDB accounts: one 'user'@'host' account per declared
 * host pattern, all with the same password, TLS requirement and connection limit.
 */
import { scriptHeader, shellQuote } from "../../../shell";
import { ArgumentError, checkGrantRole, checkWholeNumber, runChecks, type Check } from "../../../validate";
import { identifiedBy, quietSessionSql, type Flavor } from "../flavor";
import type { MariadbLocation } from "../host";
import {
  accountHost,
  checkDatabaseName,
  checkEnvName,
  checkHostPattern,
  checkUserName,
  quoteAccount,
  quoteLiteral,
  renderGeneratedSql,
  renderSqlPrelude,
} from "./identifiers";

/** The rights a grant gives on one database; what each means is in grants.ts. */
export type MariadbGrantRole = "owner" | "readwrite" | "readonly";

/** A declared MariaDB user. */
export interface MariadbUserSpec {
  /** User name (the account's user part): a lower-case letter or _, then lower-case letters, digits or _, at most 32. */
  name: string;
  /** Database name -> role there. Databases not listed are revoked. */
  grants: Record<string, MariadbGrantRole>;
  /**
   * Host patterns the user connects from; one account 'name'@'host' each. "localhost" (the Unix
   * socket, and what migrations and checks of a database owner use), "%" (anywhere), "10.0.0.%",
   * an IP address, or CIDR 10.0.0.0/24 (stored as MariaDB's 10.0.0.0/255.255.255.0).
   */
  hosts: string[];
  /** REQUIRE SSL on every account of the user (connections over the socket count as secure). */
  requireSsl: boolean;
  /** MAX_USER_CONNECTIONS per account; 0 means no limit of its own (the server's max_user_connections applies). */
  connectionLimit: number;
}

/** MariaDB's upper bound of MAX_USER_CONNECTIONS. */
const MAX_CONNECTION_LIMIT = 2147483647;

/** The engine's rules on a user, by name, in the order they run; each message names the field. */
export const USER_CHECKS: readonly Check<MariadbUserSpec>[] = [
  { name: "user name", check: (user) => checkUserName("users", user.name) },
  {
    name: "hosts",
    check(user) {
      const field = `users.${user.name}.hosts`;
      if (!Array.isArray(user.hosts) || user.hosts.length === 0) {
        throw new ArgumentError(`${field}: expected at least one host pattern, such as "localhost" or "10.0.0.%"`);
      }
      const seen = new Map<string, string>();
      user.hosts.forEach((host, i) => {
        checkHostPattern(`${field}[${i}]`, host);
        const stored = accountHost(host);
        const clash = seen.get(stored);
        if (clash !== undefined) throw new ArgumentError(`${field}[${i}]: ${JSON.stringify(host)} is the same account host as ${JSON.stringify(clash)}`);
        seen.set(stored, host);
      });
    },
  },
  {
    name: "requireSsl",
    check(user) {
      if (typeof user.requireSsl !== "boolean") throw new ArgumentError(`users.${user.name}.requireSsl: expected true or false, got ${JSON.stringify(user.requireSsl)}`);
    },
  },
  {
    name: "connectionLimit",
    check(user) {
      const field = `users.${user.name}.connectionLimit`;
      if (user.connectionLimit === undefined) throw new ArgumentError(`${field}: expected a whole number (0 = no limit)`);
      checkWholeNumber(field, user.connectionLimit, 0, MAX_CONNECTION_LIMIT);
    },
  },
  {
    name: "grants",
    check(user) {
      const field = `users.${user.name}`;
      if (typeof user.grants !== "object" || user.grants === null) throw new ArgumentError(`${field}.grants: expected a map of database name to role`);
      for (const [db, role] of Object.entries(user.grants)) {
        checkDatabaseName(`${field}.grants`, db);
        checkGrantRole(`${field}.grants.${db}`, role);
      }
    },
  },
];

/** Throws an ArgumentError naming the field for anything in `user` that must not reach a script (USER_CHECKS). */
export function checkUserSpec(user: MariadbUserSpec): void {
  runChecks(USER_CHECKS, user);
}

/** The user's accounts as the server stores their host part, in declared order. */
export function accountHosts(user: MariadbUserSpec): string[] {
  return user.hosts.map(accountHost);
}

/**
 * SQL that prints one `DROP USER` statement per account of `user` whose host is not in
 * `keepHosts` (all of them when it is empty), to be fed to a second session. Found in mysql.user,
 * not in remembered state, so an account created by hand or by an earlier spec is found too.
 */
export function dropAccountsQuery(user: string, keepHosts: string[]): string {
  const keep = keepHosts.length === 0 ? "" : ` AND Host NOT IN (${keepHosts.map(quoteLiteral).join(", ")})`;
  return `SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user WHERE User = ${quoteLiteral(user)}${keep} ORDER BY Host;`;
}

/** Splits the SQL of a statement around the place the password literal goes. */
function aroundPassword(render: (passwordSql: string) => string): [string, string] {
  const mark = "\u0001DBSTACK_PASSWORD\u0001";
  const [before, after, ...rest] = render(mark).split(mark);
  if (after === undefined || rest.length > 0) throw new Error("the password must appear exactly once in the statement");
  return [before, after];
}

/**
 * Renders the bash script that creates or converges the accounts of `user`: for each declared
 * host, CREATE USER IF NOT EXISTS then ALTER USER (so an existing account gets the current
 * password, TLS requirement and limit); then the user's accounts for hosts no longer declared are
 * dropped. The password is read from the environment variable `passwordEnv` by bash, escaped for
 * an SQL string literal with parameter expansion, and written with the builtin printf into the
 * client's stdin: it is never an argument of any process nor written to a file. An empty or
 * unset variable fails the script before anything changes. Run before the grants script.
 */
export function renderAccountScript(loc: MariadbLocation, user: MariadbUserSpec, passwordEnv: string, flavor: Flavor = loc.flavor ?? "mariadb"): string {
  checkUserSpec(user);
  checkEnvName("passwordEnv", passwordEnv);
  const options = `REQUIRE ${user.requireSsl ? "SSL" : "NONE"} WITH MAX_USER_CONNECTIONS ${user.connectionLimit}`;
  const statements = user.hosts.flatMap((host) => {
    const account = quoteAccount(user.name, host);
    return [
      aroundPassword((pw) => `CREATE USER IF NOT EXISTS ${account} ${identifiedBy(flavor, pw)} ${options};`),
      aroundPassword((pw) => `ALTER USER ${account} ${identifiedBy(flavor, pw)} ${options};`),
    ];
  });
  const missing = `environment variable ${passwordEnv} is empty or not set: it must hold the password of user ${user.name}`;
  return [
    scriptHeader(`MariaDB instance ${loc.instance}: accounts of user ${user.name} (${user.hosts.join(", ")}), created or converged.`),
    renderSqlPrelude(loc),
    "",
    "# The password comes from the environment; it is never written in this script.",
    `[ -n "\${${passwordEnv}:-}" ] || { echo ${shellQuote(missing)} >&2; exit 1; }`,
    "# An SQL string literal (dbstack's sql_mode: backslash escapes on): \\ -> \\\\ and ' -> ''.",
    "# Quoted patterns and replacements: bash 5.2 would otherwise read & in a replacement as the match.",
    `pw_sql=\${${passwordEnv}//"\\\\"/"\\\\\\\\"}`,
    `pw_sql="'\${pw_sql//"'"/"''"}'"`,
    "# printf is a bash builtin: the statements reach the client on its stdin, never as arguments.",
    "{",
    "  # No statement of this session reaches the general or slow log: they carry the password.",
    `  printf '%s\\n' ${shellQuote(quietSessionSql(flavor))}`,
    ...statements.map(([before, after]) => `  printf '%s%s%s\\n' ${shellQuote(before)} "$pw_sql" ${shellQuote(after)}`),
    "} | sql_root",
    "unset pw_sql",
    "",
    "# Accounts of this user for hosts that are no longer declared.",
    renderGeneratedSql(dropAccountsQuery(user.name, accountHosts(user))),
    `echo ${shellQuote(`user ${user.name}: accounts ${accountHosts(user).map((h) => `'${user.name}'@'${h}'`).join(", ")} converged`)}`,
    "",
  ].join("\n");
}

/**
 * Renders the bash script that removes every account of user `userName`, whatever its host, and
 * ends the sessions it has open (DROP USER alone leaves them running with the privileges they
 * had). Nothing is lost with the accounts: in MariaDB, tables, views and routines belong to
 * their database, not to an account (a view or routine the user defined keeps it as DEFINER and
 * fails when run in definer mode until another account with that name exists or it is redefined).
 * Does nothing when the user has no account.
 */
export function renderDropAccountScript(loc: MariadbLocation, userName: string): string {
  checkUserName("users", userName);
  const killSessions = `SELECT CONCAT('KILL CONNECTION ', ID, ';') FROM information_schema.PROCESSLIST WHERE USER = ${quoteLiteral(userName)};`;
  return [
    scriptHeader(`MariaDB instance ${loc.instance}: every account of user ${userName} removed (no data belongs to an account).`),
    renderSqlPrelude(loc),
    "",
    renderGeneratedSql(dropAccountsQuery(userName, [])),
    "# After the drop, so no new session can start; --force: a session may end by itself meanwhile.",
    renderGeneratedSql(killSessions, "sql_root --force 2>/dev/null || true"),
    `echo ${shellQuote(`user ${userName}: every account removed`)}`,
    "",
  ].join("\n");
}
