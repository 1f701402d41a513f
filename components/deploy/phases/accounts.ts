/**
 * Accounts and databases: users with their passwords (declared or generated), databases after
 * their owners, then each user's grants.
 */
import * as pulumi from "@pulumi/pulumi";
import { DEFAULTS } from "../../model/defaults";
import { GeneratedPassword } from "../../secrets/generatedPassword";
import { HostCommand } from "../../targets/hostCommand";
import { passwordVariable } from "../common";
import type { Configured } from "./configuration";
import type { ServerContext } from "./context";
import type { PrimaryHost } from "./placement";

/** The accounts once made: passwords for the tools, hooks, imports and URLs; grants for what runs as a user. */
export interface Accounts {
  /** Each user's password (secret), by user name. */
  passwords: Map<string, pulumi.Output<string>>;
  /** The grant steps: a database is usable by its users once they ran. */
  grantSteps: HostCommand[];
}

/** Creates the users, the databases and the grants on the primary, after its configuration. */
export function createAccounts<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, configured: Configured): Accounts {
  const { engine, name, args, what, component, allowDataRemoval, child } = ctx;
  const { on, at } = host;
  const passwords = new Map<string, pulumi.Output<string>>();
  const userSteps: HostCommand[] = [];
  for (const u of args.users) {
    const password = u.password
      ? pulumi.secret(u.password)
      : new GeneratedPassword(`${name}-${u.name}-password`, { rotation: u.passwordRotation ?? DEFAULTS.user.passwordRotation }, child).result;
    passwords.set(u.name, password);
    const env = passwordVariable(u.name);
    userSteps.push(
      new HostCommand(
        `${name}-role-${u.name}`,
        {
          ...on,
          description: `user ${u.name} in ${what}`,
          create: at.apply((l) => engine.renderUser(l, u, env)),
          delete: at.apply((l) => engine.renderRemoveUser(l, u, args.databases, allowDataRemoval)),
          environment: { [env]: password },
          review: { component },
        },
        { ...child, dependsOn: [configured.config] },
      ),
    );
  }
  const dbSteps = args.databases.map(
    (db) =>
      new HostCommand(
        `${name}-db-${db.name}`,
        {
          ...on,
          description: `database ${db.name} in ${what}`,
          create: at.apply((l) => engine.renderDatabase(l, db)),
          delete: at.apply((l) => engine.renderRemoveDatabase(l, db, allowDataRemoval)),
          review: { component, dataBearing: true, dataRemovalAllowed: allowDataRemoval },
        },
        // Owners exist before their databases (and are dropped after them).
        { ...child, dependsOn: userSteps },
      ),
  );
  const grantSteps = args.users.map(
    (user) =>
      new HostCommand(
        `${name}-grants-${user.name}`,
        {
          ...on,
          description: `grants of ${user.name} in ${what}`,
          create: at.apply((l) => engine.renderGrants(l, user, args.databases)),
          review: {
            component,
            grants: Object.fromEntries(Object.entries(user.grants).map(([db, role]) => [`${user.name} on ${db}`, { role }])),
          },
        },
        { ...child, dependsOn: [...userSteps, ...dbSteps] },
      ),
  );
  return { passwords, grantSteps };
}
