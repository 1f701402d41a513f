/**
 * The psql script that converges one user's privileges to exactly what its grants declare, in
 * every database of the cluster: whatever the user holds is revoked first, then the declared
 * grant is given, in one transaction per database, so that narrowing or removing a grant revokes.
 * Objects in schema public are covered, those that exist and those the owner creates later.
 */
import type { GrantRole } from "../../../model/grants";
import { ArgumentError, checkDeclaredOnce, checkGrantsDeclared, runChecks, type Check } from "../../../validate";
import type { DatabaseSpec, UserSpec } from "../spec";
import { checkDatabaseSpec } from "./databases";
import { quoteIdent, quoteLiteral } from "./identifiers";
import { checkUserSpec } from "./roles";
import { psqlConnect, psqlHeader } from "./script";

/** What the grant rules read: one user, and the cluster's databases. */
interface GrantSubject {
  user: UserSpec;
  databases: DatabaseSpec[];
}

/**
 * The engine's rules on a user's grants against the cluster's databases, by name, in the order
 * they run. Owner is membership in the owner's role, which is cluster-wide: it covers every
 * database that role owns, so an owner grant must not reach further than declared.
 */
export const GRANT_CHECKS: readonly Check<GrantSubject>[] = [
  { name: "the user", check: ({ user }) => checkUserSpec(user) },
  { name: "the databases", check: ({ databases }) => databases.forEach(checkDatabaseSpec) },
  { name: "databases declared once", check: ({ databases }) => checkDeclaredOnce(databases) },
  { name: "grants name declared databases", check: ({ user, databases }) => checkGrantsDeclared(user, databases) },
  {
    name: "a database's owner is granted owner there",
    check({ user, databases }) {
      for (const db of databases) {
        const role = user.grants[db.name];
        if (db.owner === user.name && role !== undefined && role !== "owner") {
          throw new ArgumentError(`users.${user.name}.grants.${db.name}: ${user.name} owns database ${db.name}, so its grant there can only be owner, got ${role}`);
        }
      }
    },
  },
  {
    name: "owner grants reach no further than declared",
    check({ user, databases }) {
      for (const owner of ownerRolesOf(user, databases)) {
        const granted = databases.find((db) => db.owner === owner && user.grants[db.name] === "owner")!;
        const wider = databases.find((db) => db.owner === owner && user.grants[db.name] !== "owner");
        if (wider) {
          throw new ArgumentError(
            `users.${user.name}.grants.${granted.name}: owner makes ${user.name} a member of role ${owner}, which also owns database ${wider.name}, ` +
              `where ${user.name} is granted ${user.grants[wider.name] ?? "nothing"}; grant owner on ${wider.name} too, or give the databases different owners`,
          );
        }
      }
    },
  },
];

/** Throws an ArgumentError naming the field when `user`'s grants cannot be rendered against the cluster's `databases` (GRANT_CHECKS). */
export function checkGrants(user: UserSpec, databases: DatabaseSpec[]): void {
  runChecks(GRANT_CHECKS, { user, databases });
}

/** The owner roles `user` is a member of: those of the databases it is granted owner on and does not own itself. */
function ownerRolesOf(user: UserSpec, databases: DatabaseSpec[]): Set<string> {
  return new Set(databases.filter((db) => user.grants[db.name] === "owner" && db.owner !== user.name).map((db) => db.owner));
}

/** Statements that make `user` a member of exactly `memberOf` among the cluster's owner roles. */
function membershipSql(user: string, owners: string[], memberOf: Set<string>): string[] {
  return owners.map((owner) => {
    const isMember =
      "SELECT FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member" +
      ` WHERE r.rolname = ${quoteLiteral(owner)} AND u.rolname = ${quoteLiteral(user)}`;
    return memberOf.has(owner)
      ? `SELECT format('GRANT %I TO %I', ${quoteLiteral(owner)}, ${quoteLiteral(user)}) WHERE NOT EXISTS (${isMember}) \\gexec`
      : `SELECT format('REVOKE %I FROM %I', ${quoteLiteral(owner)}, ${quoteLiteral(user)}) WHERE EXISTS (${isMember}) \\gexec`;
  });
}

/**
 * Revokes what `user` may hold in the current database: database privileges, schema public,
 * its tables and sequences (with their column privileges), and default privileges for objects
 * the owner creates there. Objects the user owns itself keep their owner's privileges.
 */
function revokeSql(user: string, db: DatabaseSpec): string[] {
  const u = quoteIdent(user);
  const forOwner = `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(db.owner)} IN SCHEMA public`;
  const userOid = `(SELECT oid FROM pg_roles WHERE rolname = ${quoteLiteral(user)})`;
  return [
    `REVOKE ALL ON DATABASE ${quoteIdent(db.name)} FROM ${u};`,
    `REVOKE ALL ON SCHEMA public FROM ${u};`,
    `SELECT format('REVOKE ALL ON %s %I.%I FROM %I', CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname, c.relname, ${quoteLiteral(user)})`,
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace",
    ` WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relowner <> ${userOid}`,
    `   AND (EXISTS (SELECT FROM aclexplode(c.relacl) a WHERE a.grantee = ${userOid})`,
    `        OR EXISTS (SELECT FROM pg_attribute t, aclexplode(t.attacl) a WHERE t.attrelid = c.oid AND a.grantee = ${userOid}))`,
    " ORDER BY c.relname \\gexec",
    `${forOwner} REVOKE ALL ON TABLES FROM ${u};`,
    `${forOwner} REVOKE ALL ON SEQUENCES FROM ${u};`,
  ];
}

/** Grants `role` on `db` to `user`, for the objects that exist and those the owner creates later. */
function grantSql(user: string, db: DatabaseSpec, role: GrantRole): string[] {
  const u = quoteIdent(user);
  const connect = `GRANT CONNECT ON DATABASE ${quoteIdent(db.name)} TO ${u};`;
  // Owner: membership in the owner's role (granted above, cluster-wide) gives everything else.
  if (role === "owner") return [connect];
  const forOwner = `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(db.owner)} IN SCHEMA public`;
  const tables = role === "readwrite" ? "SELECT, INSERT, UPDATE, DELETE" : "SELECT";
  // USAGE on a sequence allows nextval(), a write: readonly gets SELECT (currval, last_value) only.
  const sequences = role === "readwrite" ? "USAGE, SELECT, UPDATE" : "SELECT";
  return [
    connect,
    `GRANT USAGE ON SCHEMA public TO ${u};`,
    `GRANT ${tables} ON ALL TABLES IN SCHEMA public TO ${u};`,
    `GRANT ${sequences} ON ALL SEQUENCES IN SCHEMA public TO ${u};`,
    "-- Tables and sequences the owner creates later (migrations run as the owner).",
    `${forOwner} GRANT ${tables} ON TABLES TO ${u};`,
    `${forOwner} GRANT ${sequences} ON SEQUENCES TO ${u};`,
  ];
}

/**
 * Renders the idempotent psql script that converges `user`'s privileges to `user.grants` in
 * every one of the cluster's `databases` (all of them, so a database left out of the grants is
 * revoked). Run after the roles and databases scripts.
 */
export function renderGrantsSql(user: UserSpec, databases: DatabaseSpec[]): string {
  checkGrants(user, databases);
  const owners = [...new Set(databases.map((db) => db.owner))].filter((owner) => owner !== user.name).sort();
  const lines = [psqlHeader(`grants of user ${user.name}: converged to exactly what its spec declares`)];
  if (owners.length > 0) {
    lines.push(
      "",
      "-- Role membership is cluster-wide: a member of exactly the owner roles of the databases granted owner.",
      "BEGIN;",
      ...membershipSql(user.name, owners, ownerRolesOf(user, databases)),
      "COMMIT;",
    );
  }
  for (const db of databases) {
    const role = user.grants[db.name];
    if (db.owner === user.name) {
      lines.push("", `-- database ${db.name}: owned by ${user.name}, which needs no grant there.`);
      continue;
    }
    lines.push(
      "",
      role
        ? `-- database ${db.name}: ${role}. First revoke whatever ${user.name} holds there, then grant what is declared.`
        : `-- database ${db.name}: no grant. Revoke whatever ${user.name} holds there.`,
      psqlConnect(db.name),
      "BEGIN;",
      ...revokeSql(user.name, db),
      ...(role ? grantSql(user.name, db, role) : []),
      "COMMIT;",
    );
  }
  lines.push("");
  return lines.join("\n");
}
