/**
 * Validation and quoting of everything a MariaDB script is rendered from. Names are validated at
 * preview time (an ArgumentError naming the field) and quoted anyway when rendered: defence in
 * depth, so a rule loosened later never turns a name into SQL.
 *
 * Every script that sends dbstack's SQL runs its sessions with SESSION_SQL_MODE (renderSqlPrelude
 * below), so string literals are quoted for a known sql_mode whatever the server's default is:
 * one without NO_BACKSLASH_ESCAPES, where a backslash in a literal is an escape character.
 */
import { heredocDelimiter, shellQuote } from "../../../shell";
import { ArgumentError } from "../../../validate";
import { renderInstancePrelude, type MariadbLocation } from "../host";

/**
 * A database or user name dbstack creates: a lower-case letter or _, then lower-case letters,
 * digits or _. At most 64 characters for databases (MariaDB's limit) and 32 for users (MySQL 8's
 * limit; MariaDB allows 80, but a name must work in both flavours).
 */
export const MARIADB_DATABASE_NAME = /^[a-z_][a-z0-9_]{0,63}$/;
export const MARIADB_USER_NAME = /^[a-z_][a-z0-9_]{0,31}$/;

/** A collation of character set utf8mb4, e.g. utf8mb4_unicode_ci, utf8mb4_bin, utf8mb4_uca1400_ai_ci. */
export const MARIADB_COLLATION = /^utf8mb4_[a-z0-9_]{1,56}$/;

/** An environment variable name a script reads a password from. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** The prefix of every name dbstack keeps for its own users and databases (replication user, ...). */
export const DBSTACK_PREFIX = "dbstack_";

/** Databases the server itself needs. */
const SYSTEM_DATABASES = new Set(["mysql", "information_schema", "performance_schema", "sys"]);

/**
 * Accounts of the server itself: root and mysql (unix_socket, created by mariadb-install-db), and
 * words the account syntax gives a meaning (PUBLIC is a role in newer MariaDB; CURRENT_USER).
 */
const SYSTEM_USERS = new Set(["root", "mysql", "public", "none", "current_user", "current_role"]);

export function checkDatabaseName(field: string, value: string): void {
  if (typeof value !== "string" || !MARIADB_DATABASE_NAME.test(value)) {
    throw new ArgumentError(
      `${field}: expected a MariaDB database name: a lower-case letter or _, then lower-case letters, digits or _ (at most 64), got ${JSON.stringify(value)}`,
    );
  }
  if (SYSTEM_DATABASES.has(value)) {
    throw new ArgumentError(`${field}: ${JSON.stringify(value)} is a database MariaDB itself needs; choose another database name`);
  }
  if (value.startsWith(DBSTACK_PREFIX)) {
    throw new ArgumentError(`${field}: names starting with ${DBSTACK_PREFIX} are kept for dbstack's own databases; choose another database name`);
  }
}

export function checkUserName(field: string, value: string): void {
  if (typeof value !== "string" || !MARIADB_USER_NAME.test(value)) {
    throw new ArgumentError(
      `${field}: expected a MariaDB user name: a lower-case letter or _, then lower-case letters, digits or _ (at most 32), got ${JSON.stringify(value)}`,
    );
  }
  if (SYSTEM_USERS.has(value)) {
    throw new ArgumentError(`${field}: ${JSON.stringify(value)} is an account of the server itself; choose another user name`);
  }
  if (value.startsWith(DBSTACK_PREFIX)) {
    throw new ArgumentError(`${field}: names starting with ${DBSTACK_PREFIX} are kept for dbstack's own users (such as dbstack_replication); choose another user name`);
  }
}

/** Like checkUserName, for dbstack's own accounts: these must start with dbstack_. */
export function checkDbstackUserName(field: string, value: string): void {
  if (typeof value !== "string" || !MARIADB_USER_NAME.test(value) || !value.startsWith(DBSTACK_PREFIX)) {
    throw new ArgumentError(`${field}: expected a name starting with ${DBSTACK_PREFIX}, got ${JSON.stringify(value)}`);
  }
}

export function checkCollation(field: string, value: string): void {
  if (typeof value !== "string" || !MARIADB_COLLATION.test(value)) {
    throw new ArgumentError(
      `${field}: expected a collation of character set utf8mb4 (dbstack's databases are always utf8mb4), such as utf8mb4_unicode_ci or utf8mb4_bin, got ${JSON.stringify(value)}`,
    );
  }
}

export function checkEnvName(field: string, value: string): void {
  if (typeof value !== "string" || !ENV_NAME.test(value)) {
    throw new ArgumentError(`${field}: expected an environment variable name (letters, digits, _), got ${JSON.stringify(value)}`);
  }
}

const OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;
/** An IPv4 pattern: four octets, each a number or %. */
function isIpv4Pattern(value: string): boolean {
  const parts = value.split(".");
  return parts.length === 4 && parts.every((p) => p === "%" || OCTET.test(p));
}
function isIpv4(value: string): boolean {
  const parts = value.split(".");
  return parts.length === 4 && parts.every((p) => OCTET.test(p));
}
/** A literal IPv6 address (hex groups and colons, optionally ::), as the server compares it textually. */
const IPV6 = /^(?=.*:)[0-9a-f:]{2,39}$/;
/** A host name pattern: DNS labels of letters, digits and -, where % and _ are the server's wildcards. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9%_]([a-z0-9%_-]{0,61}[a-z0-9%_])?(\.[a-z0-9%_]([a-z0-9%_-]{0,61}[a-z0-9%_])?)*$/;

/**
 * Why `value` is not a host pattern dbstack accepts, or undefined. Accepted: "localhost", "%",
 * an IPv4 address or pattern with % octets ("10.0.0.%"), IPv4 CIDR ("10.0.0.0/24", host bits
 * zero), an IPv6 address, or a lower-case host name pattern ("app.example.com", "%.example.com").
 */
function hostPatternProblem(value: string): string | undefined {
  if (typeof value !== "string") return "expected a string";
  const cidr = /^([0-9.]+)\/([0-9]{1,2})$/.exec(value);
  if (cidr) {
    const bits = Number(cidr[2]);
    if (!isIpv4(cidr[1]) || bits > 32) return "expected an IPv4 network such as 10.0.0.0/24";
    const address = ipv4ToNumber(cidr[1]);
    if ((address & ~maskOf(bits)) >>> 0 !== 0) {
      return `${cidr[1]} has bits set outside the /${bits} mask; write the network address (e.g. ${numberToIpv4((address & maskOf(bits)) >>> 0)}/${bits})`;
    }
    return undefined;
  }
  if (value === "localhost" || value === "%" || isIpv4Pattern(value) || IPV6.test(value)) return undefined;
  if (/^[0-9.%]+$/.test(value)) return "expected four octets (0-255 or %) such as 10.0.0.% or 192.168.1.20";
  if (HOST_NAME.test(value)) return undefined;
  return 'expected "localhost", "%", an IPv4 address or pattern (10.0.0.%), a CIDR network (10.0.0.0/24), an IPv6 address or a lower-case host name';
}

export function checkHostPattern(field: string, value: string): void {
  const problem = hostPatternProblem(value);
  if (problem) throw new ArgumentError(`${field}: ${problem}, got ${JSON.stringify(value)}`);
}

function ipv4ToNumber(ip: string): number {
  return ip.split(".").reduce((n, octet) => ((n << 8) | Number(octet)) >>> 0, 0);
}
function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
}
function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * The host part MariaDB stores for a declared host pattern: CIDR becomes the server's
 * address/netmask form (10.0.0.0/24 -> 10.0.0.0/255.255.255.0); anything else is kept as it is.
 */
export function accountHost(pattern: string): string {
  const cidr = /^([0-9.]+)\/([0-9]{1,2})$/.exec(pattern);
  return cidr ? `${cidr[1]}/${numberToIpv4(maskOf(Number(cidr[2])))}` : pattern;
}

/** Quotes an identifier: backticks, inner ones doubled. Used even for validated names. */
export function quoteIdent(name: string): string {
  if (name.includes("\0")) throw new ArgumentError(`identifier contains a NUL character: ${JSON.stringify(name)}`);
  return `\`${name.replace(/`/g, "``")}\``;
}

/**
 * Quotes a string literal for a session without NO_BACKSLASH_ESCAPES (dbstack's scripts set
 * their sql_mode): backslashes doubled, single quotes doubled. A newline or NUL would be kept
 * by the server but never belongs in a name, so a NUL is refused.
 */
export function quoteLiteral(value: string): string {
  if (value.includes("\0")) throw new ArgumentError(`literal contains a NUL character: ${JSON.stringify(value)}`);
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** An account as SQL: 'user'@'host' with the host in the server's form. */
export function quoteAccount(user: string, hostPattern: string): string {
  return `${quoteLiteral(user)}@${quoteLiteral(accountHost(hostPattern))}`;
}

/**
 * How a database is named in GRANT and REVOKE ... ON `db`.*: there `_` and `%` are wildcards
 * (a grant on `my_db` would also cover `myXdb`), so they are escaped with a backslash. The
 * server stores the escaped form in mysql.db and shows it in SCHEMA_PRIVILEGES.
 */
export function grantDatabasePattern(name: string): string {
  return name.replace(/([\\_%])/g, "\\$1");
}

/** `db`.* for GRANT/REVOKE, with the database's wildcards escaped. */
export function grantTarget(database: string): string {
  return `${quoteIdent(grantDatabasePattern(database))}.*`;
}

/**
 * The sql_mode of dbstack's own sessions: strict, and without NO_BACKSLASH_ESCAPES or
 * ANSI_QUOTES, which would change what quoteLiteral and quoteIdent mean. Valid in MariaDB and
 * MySQL 8 alike (MySQL 8 refuses NO_AUTO_CREATE_USER, MariaDB's default).
 */
export const SESSION_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION";

/**
 * The prelude of every MariaDB SQL script: the instance's prelude, `sql_root` (mariadb_root with
 * dbstack's sql_mode and raw output, so values printed for a second session, such as generated
 * statements, are not escaped once more), and a clear stop when the instance is not running.
 */
export function renderSqlPrelude(loc: MariadbLocation): string {
  return [
    renderInstancePrelude(loc),
    `sql_root() { mariadb_root --raw --init-command=${shellQuote(`SET SESSION sql_mode = '${SESSION_SQL_MODE}'`)} "$@"; }`,
    'instance_running || { echo "MariaDB instance $INSTANCE is not running (no answer on $SOCKET)" >&2; exit 1; }',
  ].join("\n");
}

/**
 * Shell that runs `query` (on stdin of a first session) and feeds the statements it prints to a
 * second session: how dbstack acts on what the server holds now (accounts, privileges) without
 * stored procedures. Both sessions use sql_root; statements are built with QUOTE() and backtick
 * quoting in the first, which sql_root's sql_mode and raw output keep intact.
 */
export function renderGeneratedSql(query: string, secondSession = "sql_root"): string {
  const tag = heredocDelimiter(query, "DBSTACK_SQL");
  return `sql_root <<'${tag}' | ${secondSession}\n${query}\n${tag}`;
}
