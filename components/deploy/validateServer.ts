import type { ServerEngine } from "../engines/engine";
import type { ContainerArgs, DatabaseArgs, ServerDeploymentArgs, UserArgs } from "../model/args";
import type { Target } from "../targets/target";
import { childNameProblem } from "../model/naming";
import { DEFAULTS } from "../model/defaults";

type EngineRules<Db extends DatabaseArgs, User extends UserArgs> = Pick<ServerEngine<unknown, Db, User>, "kind" | "overridesProblem" | "checkDatabase" | "checkUser">;
import { ArgumentError, backupDirProblem, checkGpgRecipient, checkName, checkPlacement, checkSchedule, checkToolsDirApart, checkWholeNumber } from "../validate";

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
  const backupInData = args.backup?.dir === undefined ? undefined : backupDirProblem(args.backup.dir, [[`the data directory ${args.dataDirectory}`, args.dataDirectory]]);
  if (backupInData) throw new ArgumentError(`backup.dir: ${backupInData}`);
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
  checkContainer("container", args.container, args.target);
  for (const s of args.standbys ?? []) {
    checkName(`standbys.${s.name}`, s.name);
    checkContainer(`standbys.${s.name}.container`, s.container, s.target);
    checkWholeNumber(`standbys.${s.name}.port`, s.port, 1, 65535);
    const collision = childNameProblem("standby", s.name);
    if (collision) throw new ArgumentError(`standbys.${s.name}: ${collision}`);
  }
  // The engine's own rules, before anything is registered.
  const overrides = engine.overridesProblem(args.parameters ?? {}, args.unsafeParameters ?? DEFAULTS.server.unsafeParameters);
  if (overrides) throw new ArgumentError(overrides.startsWith("parameters.") || overrides.startsWith("unsafeParameters") ? overrides : `parameters: ${overrides}`);
  for (const d of args.databases) engine.checkDatabase(d);
  for (const u of args.users) engine.checkUser(u, args.databases);
}

const RESTART_POLICIES = ["no", "on-failure", "always", "unless-stopped"];

/** A container spec: only on a Docker target, with limits, addresses and a policy Docker takes. */
function checkContainer(field: string, c: ContainerArgs | undefined, target: Target | undefined): void {
  if (c === undefined) return;
  if (target?.kind !== "docker") throw new ArgumentError(`${field}: a container is declared but the target is ${target?.kind ?? "local"}; it needs a Docker target (target.kind "docker")`);
  if (c.image !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/.test(c.image)) throw new ArgumentError(`${field}.image: ${JSON.stringify(c.image)} is not an image reference (name[:tag] or name@sha256:digest)`);
  checkWholeNumber(`${field}.memoryMb`, c.memoryMb, 64, 16_777_216);
  if (c.cpus !== undefined && !(typeof c.cpus === "number" && c.cpus > 0 && c.cpus <= 1024)) throw new ArgumentError(`${field}.cpus: expected a number of CPUs above 0, got ${JSON.stringify(c.cpus)}`);
  for (const a of c.publishAddresses ?? []) {
    if (!/^[0-9.]+$|^[0-9a-fA-F:]+$/.test(a)) throw new ArgumentError(`${field}.publishAddresses: ${JSON.stringify(a)} is not an IP address of the Docker host`);
  }
  if (c.network !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(c.network)) throw new ArgumentError(`${field}.network: ${JSON.stringify(c.network)} is not a Docker network name`);
  if (c.restartPolicy !== undefined && !RESTART_POLICIES.includes(c.restartPolicy)) throw new ArgumentError(`${field}.restartPolicy: expected one of ${RESTART_POLICIES.join(", ")}`);
}
