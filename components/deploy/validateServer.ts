import { checkSlowQueryMs } from "../engines/slowQueryLog";
import { checkMetrics } from "../engines/exporter";
import type { ServerEngine } from "../engines/engine";
import type { ContainerArgs, DatabaseArgs, ServerDeploymentArgs, UserArgs } from "../model/args";
import type { Target } from "../targets/target";
import { childNameProblem } from "../model/naming";
import { DEFAULTS } from "../model/defaults";
import { BACKUP_DRILL_CHECKS, PITR_CHECKS } from "../pitrChecks";
import { HA_CHECKS } from "./validateHa";
import { importSchemaCheck } from "./importSchema";
import { backupDirPlacement, backupGpgRecipient, backupRetention, backupSchedule, deploymentName, toolsDirPlacement } from "../deploymentChecks";
import {
  ArgumentError,
  backupDirProblem,
  checkName,
  checkPlacement,
  checkSchedule,
  checkToolsDirApart,
  checkWholeNumber,
  CONTAINER_IMAGE,
  DOCKER_NETWORK,
  IP_ADDRESS,
  RANGES,
  RESTART_POLICIES,
  runChecks,
  type Check,
} from "../validate";

type EngineRules<Db extends DatabaseArgs, User extends UserArgs> = Pick<ServerEngine<unknown, Db, User>, "kind" | "overridesProblem" | "checkDatabase" | "checkUser">;

/** What a server deployment's rules read: its name, its arguments, and the engine's own rules. */
export interface ServerSubject<Db extends DatabaseArgs = DatabaseArgs, User extends UserArgs = UserArgs> {
  name: string;
  args: ServerDeploymentArgs<Db, User>;
  engine: EngineRules<Db, User>;
}

/** Names starting with this are dbstack's own (the replication role, and any it adds later). */
export const RESERVED_USER_PREFIX = "dbstack_";

/** Why a user may not have this name, if it may not: dbstack's own roles start with RESERVED_USER_PREFIX. */
export function reservedUserNameProblem(user: string): string | undefined {
  if (!user.startsWith(RESERVED_USER_PREFIX)) return undefined;
  return `names starting with ${RESERVED_USER_PREFIX} are kept for dbstack's own roles (such as dbstack_replication); choose another name`;
}

/**
 * The rules of a server deployment (PostgreSQL, MariaDB), by name, in the order they run: the
 * server's own, with the ones every deployment shares (deploymentChecks.ts) among them where they
 * have always run, then the engine's (parameters, identifiers, users and grants). Each message
 * names the argument; the stack prefixes its config key.
 */
export const SERVER_CHECKS: readonly Check<ServerSubject>[] = [
  deploymentName,
  { name: "port", check: ({ args }) => checkWholeNumber("port", args.port, ...RANGES.port) },
  { name: "maxConnections", check: ({ args }) => checkWholeNumber("maxConnections", args.maxConnections, ...RANGES.maxConnections) },
  { name: "dataDirectory", check: ({ args }) => checkPlacement("dataDirectory", args.dataDirectory, true) },
  toolsDirPlacement,
  backupDirPlacement,
  {
    name: "toolsDir holds no data",
    check: ({ args }) => checkToolsDirApart(args.toolsDir, [[`dataDirectory ${args.dataDirectory}`, args.dataDirectory], [`backup.dir ${args.backup?.dir}`, args.backup?.dir]]),
  },
  {
    name: "backup.dir outside the data directory",
    check({ args }) {
      const problem = args.backup?.dir === undefined ? undefined : backupDirProblem(args.backup.dir, [[`the data directory ${args.dataDirectory}`, args.dataDirectory]]);
      if (problem) throw new ArgumentError(`backup.dir: ${problem}`);
    },
  },
  backupSchedule,
  { name: "maintenanceSchedule", check: ({ args }) => checkSchedule("maintenanceSchedule", args.maintenanceSchedule) },
  backupRetention,
  { name: "backup.maxAgeHours", check: ({ args }) => checkWholeNumber("backup.maxAgeHours", args.backup?.maxAgeHours, ...RANGES.maxAgeHours) },
  backupGpgRecipient,
  {
    name: "at least one database",
    check({ name, args, engine }) {
      if (args.databases.length === 0) throw new ArgumentError(`databases: expected at least one database for ${engine.kind} deployment ${name}`);
    },
  },
  {
    name: "owners are declared users",
    check({ args }) {
      const userNames = new Set(args.users.map((u) => u.name));
      for (const d of args.databases) {
        if (!userNames.has(d.owner)) throw new ArgumentError(`databases.${d.name}.owner: ${JSON.stringify(d.owner)} is not one of the declared users (${[...userNames].join(", ")})`);
      }
    },
  },
  {
    name: "users: names and grants",
    check({ args }) {
      const dbNames = new Set(args.databases.map((d) => d.name));
      for (const u of args.users) {
        const problem = reservedUserNameProblem(u.name) ?? childNameProblem("user", u.name);
        if (problem) throw new ArgumentError(`users.${u.name}: ${problem}`);
        for (const db of Object.keys(u.grants)) {
          if (!dbNames.has(db)) throw new ArgumentError(`users.${u.name}.grants.${db}: no database ${db} is declared`);
        }
      }
    },
  },
  { name: "container", check: ({ args }) => checkContainer("container", args.container, args.target) },
  {
    name: "standbys",
    check({ args }) {
      for (const s of args.standbys ?? []) {
        checkName(`standbys.${s.name}`, s.name);
        checkContainer(`standbys.${s.name}.container`, s.container, s.target);
        checkWholeNumber(`standbys.${s.name}.port`, s.port, ...RANGES.port);
        const collision = childNameProblem("standby", s.name);
        if (collision) throw new ArgumentError(`standbys.${s.name}: ${collision}`);
      }
    },
  },
  {
    name: "engine: parameters",
    check({ args, engine }) {
      const problem = engine.overridesProblem(args.parameters ?? {}, args.unsafeParameters ?? DEFAULTS.server.unsafeParameters);
      if (problem) throw new ArgumentError(problem.startsWith("parameters.") || problem.startsWith("unsafeParameters") ? problem : `parameters: ${problem}`);
    },
  },
  { name: "engine: databases", check: ({ args, engine }) => args.databases.forEach((d) => engine.checkDatabase(d)) },
  { name: "engine: users", check: ({ args, engine }) => args.users.forEach((u) => engine.checkUser(u, args.databases)) },
  { name: "slowQueryMs", check: ({ args }) => checkSlowQueryMs(args.slowQueryMs) },
  {
    name: "metrics",
    check({ args, engine }) {
      const serverPort = args.port ?? DEFAULTS[engine.kind].port;
      checkMetrics(args.metrics, {
        primary: { name: "primary", target: args.target, serverPort },
        standbys: (args.standbys ?? []).map((s) => ({ name: s.name, target: s.target, address: s.address, serverPort: s.port ?? serverPort })),
      });
    },
  },
  ...PITR_CHECKS,
  ...BACKUP_DRILL_CHECKS,
  ...HA_CHECKS,
  importSchemaCheck,
];

/** Runs SERVER_CHECKS before anything is registered: the first broken rule throws an ArgumentError naming the argument. */
export function validateServerArgs<Db extends DatabaseArgs, User extends UserArgs>(name: string, args: ServerDeploymentArgs<Db, User>, engine: EngineRules<Db, User>): void {
  runChecks(SERVER_CHECKS as readonly Check<ServerSubject<Db, User>>[], { name, args, engine });
}


/** A container spec: only on a Docker target, with limits, addresses and a policy Docker takes. */
function checkContainer(field: string, c: ContainerArgs | undefined, target: Target | undefined): void {
  if (c === undefined) return;
  if (target?.kind !== "docker") throw new ArgumentError(`${field}: a container is declared but the target is ${target?.kind ?? "local"}; it needs a Docker target (target.kind "docker")`);
  if (c.image !== undefined && !CONTAINER_IMAGE.test(c.image)) throw new ArgumentError(`${field}.image: ${JSON.stringify(c.image)} is not an image reference (name[:tag] or name@sha256:digest)`);
  checkWholeNumber(`${field}.memoryMb`, c.memoryMb, ...RANGES.containerMemoryMb);
  if (c.cpus !== undefined && !(typeof c.cpus === "number" && c.cpus > 0 && c.cpus <= 1024)) throw new ArgumentError(`${field}.cpus: expected a number of CPUs above 0, got ${JSON.stringify(c.cpus)}`);
  for (const a of c.publishAddresses ?? []) {
    if (!IP_ADDRESS.test(a)) throw new ArgumentError(`${field}.publishAddresses: ${JSON.stringify(a)} is not an IP address of the Docker host`);
  }
  if (c.network !== undefined && !DOCKER_NETWORK.test(c.network)) throw new ArgumentError(`${field}.network: ${JSON.stringify(c.network)} is not a Docker network name`);
  if (c.restartPolicy !== undefined && !(RESTART_POLICIES as readonly string[]).includes(c.restartPolicy)) throw new ArgumentError(`${field}.restartPolicy: expected one of ${RESTART_POLICIES.join(", ")}`);
}
