import type { ServerEngine } from "../engines/engine";
import type { DatabaseArgs, ServerDeploymentArgs, UserArgs } from "../model/args";
import { childNameProblem } from "../model/naming";

type EngineRules<Db extends DatabaseArgs, User extends UserArgs> = Pick<ServerEngine<unknown, Db, User>, "kind" | "overridesProblem" | "checkDatabase" | "checkUser">;
import { ArgumentError, checkGpgRecipient, checkName, checkPlacement, checkSchedule, checkToolsDirApart, checkWholeNumber } from "../validate";

/** Names starting with this are dbstack's own (the replication role, and any it adds later). */
export const RESERVED_USER_PREFIX = "dbstack_";

/**
 * The rules every server deployment shares, before anything is registered: each message names the
 * argument (the stack prefixes its config key). Engine rules (identifiers, grants, parameters)
 * follow in the engine's validate().
 */
export function validateServerArgs<Db extends DatabaseArgs, User extends UserArgs>(name: string, args: ServerDeploymentArgs<Db, User>, engine: EngineRules<Db, User>): void {
  checkName("name", name);
  checkWholeNumber("port", args.port, 1, 65535);
  checkWholeNumber("maxConnections", args.maxConnections, 1, 10000);
  checkPlacement("dataDirectory", args.dataDirectory, true);
  checkPlacement("toolsDir", args.toolsDir, true);
  checkPlacement("backup.dir", args.backup?.dir, true);
  checkToolsDirApart(args.toolsDir, [[`dataDirectory ${args.dataDirectory}`, args.dataDirectory], [`backup.dir ${args.backup?.dir}`, args.backup?.dir]]);
  checkSchedule("backup.schedule", args.backup?.schedule);
  checkSchedule("maintenanceSchedule", args.maintenanceSchedule);
  checkWholeNumber("backup.retentionDays", args.backup?.retentionDays, 1, 3650);
  checkWholeNumber("backup.maxAgeHours", args.backup?.maxAgeHours, 1, 8760);
  checkGpgRecipient("backup.gpgRecipient", args.backup?.gpgRecipient);
  if (args.databases.length === 0) throw new ArgumentError(`databases: expected at least one database for ${engine.kind} deployment ${name}`);
  const dbNames = new Set(args.databases.map((d) => d.name));
  const userNames = new Set(args.users.map((u) => u.name));
  for (const d of args.databases) {
    if (!userNames.has(d.owner)) throw new ArgumentError(`databases.${d.name}.owner: ${JSON.stringify(d.owner)} is not one of the declared users (${[...userNames].join(", ")})`);
  }
  for (const u of args.users) {
    if (u.name.startsWith(RESERVED_USER_PREFIX)) {
      throw new ArgumentError(`users.${u.name}: names starting with ${RESERVED_USER_PREFIX} are kept for dbstack's own roles (such as dbstack_replication); choose another name`);
    }
    const collision = childNameProblem("user", u.name);
    if (collision) throw new ArgumentError(`users.${u.name}: ${collision}`);
    for (const db of Object.keys(u.grants)) {
      if (!dbNames.has(db)) throw new ArgumentError(`users.${u.name}.grants.${db}: no database ${db} is declared`);
    }
  }
  for (const s of args.standbys ?? []) {
    checkName(`standbys.${s.name}`, s.name);
    checkWholeNumber(`standbys.${s.name}.port`, s.port, 1, 65535);
    const collision = childNameProblem("standby", s.name);
    if (collision) throw new ArgumentError(`standbys.${s.name}: ${collision}`);
  }
  // The engine's own rules, before anything is registered.
  const overrides = engine.overridesProblem(args.parameters ?? {});
  if (overrides) throw new ArgumentError(`parameters: ${overrides}`);
  for (const d of args.databases) engine.checkDatabase(d);
  for (const u of args.users) engine.checkUser(u, args.databases);
}
