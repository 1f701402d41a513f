import { cronScheduleProblem } from "./backups/schedule";
import { GRANT_RANK } from "./model/grants";

/**
 * Input rules shared by the component Args and the stack config schema: one source of truth for
 * what a name, a path or a Unix user may contain. Values that pass reach scripts, cron lines and
 * sqlite dot-commands safely (and are still quoted there).
 */
export const RESOURCE_NAME = /^[a-z][a-z0-9_-]{0,39}$/;
export const UNIX_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
export const SAFE_PATH = /^[A-Za-z0-9._/@+-]+$/;
export const GPG_RECIPIENT = /^[A-Za-z0-9._@+<>-]+$/;

/** A container image: name[:tag] or name@sha256:digest. */
export const CONTAINER_IMAGE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;
/** An IP address (v4 or v6) of a Docker host. */
export const IP_ADDRESS = /^[0-9.]+$|^[0-9a-fA-F:]+$/;
/** A Docker network's name (or `host`). */
export const DOCKER_NETWORK = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** The restart policies Docker takes. */
export const RESTART_POLICIES = ["no", "on-failure", "always", "unless-stopped"] as const;

/**
 * The ranges of declared whole numbers, [min, max], shared by the stack config schema and the
 * components' own checks, so that both accept the same values.
 */
export const RANGES = {
  port: [1, 65535],
  maxConnections: [1, 10000],
  retentionDays: [1, 3650],
  maxAgeHours: [1, 8760],
  containerMemoryMb: [64, 16_777_216],
  busyTimeoutMs: [0, 600_000],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * One rule of a validation list, by name: `check` throws an ArgumentError naming the field when
 * the subject breaks the rule. Lists run in order and stop at the first broken rule (see runChecks).
 */
export interface Check<T> {
  /** What the rule is about, e.g. "backup.retentionDays" or "users' grants name declared databases". */
  name: string;
  check(subject: T): void;
}

/** Runs a validation list in order: the first broken rule throws. */
export function runChecks<T>(checks: readonly Check<T>[], subject: T): void {
  for (const c of checks) c.check(subject);
}

/** Thrown for bad component arguments; the message names the argument. */
export class ArgumentError extends Error {}

/** A resource name (RESOURCE_NAME): it becomes part of host-level names. */
export function checkName(field: string, value: string): void {
  if (!RESOURCE_NAME.test(value)) {
    throw new ArgumentError(`${field}: expected a lower-case letter, then letters, digits, _ or - (at most 40), got ${JSON.stringify(value)}`);
  }
}

/** An absolute path of safe characters (SAFE_PATH), when given. */
export function checkAbsolutePath(field: string, value: string | undefined): void {
  if (value === undefined) return;
  if (!value.startsWith("/") || !SAFE_PATH.test(value)) {
    throw new ArgumentError(`${field}: expected an absolute path of letters, digits and . _ / @ + - only, got ${JSON.stringify(value)}`);
  }
}

/** A Unix user or group name (UNIX_NAME), when given. */
export function checkUnixName(field: string, value: string | undefined): void {
  if (value !== undefined && !UNIX_NAME.test(value)) {
    throw new ArgumentError(`${field}: expected a Unix user or group name, got ${JSON.stringify(value)}`);
  }
}

/** A cron schedule that is one line and fires (backups/schedule.ts), when given. */
export function checkSchedule(field: string, value: string | undefined): void {
  const problem = value === undefined ? undefined : cronScheduleProblem(value);
  if (problem) throw new ArgumentError(`${field}: ${problem}, got ${JSON.stringify(value)}`);
}

/** A whole number in [min, max], when given (the ranges the stack schema shares are RANGES). */
export function checkWholeNumber(field: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
    throw new ArgumentError(`${field}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
}

/** A grant's role is one dbstack knows (every engine renders the same three). */
export function checkGrantRole(field: string, role: unknown): void {
  if (typeof role !== "string" || !Object.hasOwn(GRANT_RANK, role)) {
    throw new ArgumentError(`${field}: expected owner, readwrite or readonly, got ${JSON.stringify(role)}`);
  }
}

/** Each database is declared once (every engine's renderers refuse a list that names one twice). */
export function checkDeclaredOnce(databases: readonly { name: string }[]): void {
  const seen = new Set<string>();
  for (const db of databases) {
    if (seen.has(db.name)) throw new ArgumentError(`databases.${db.name}: declared twice`);
    seen.add(db.name);
  }
}

/** Every grant of `user` names one of `databases` (every engine's renderers refuse a grant on an undeclared database). */
export function checkGrantsDeclared(user: { name: string; grants: Record<string, unknown> }, databases: readonly { name: string }[]): void {
  const declared = new Set(databases.map((db) => db.name));
  for (const name of Object.keys(user.grants)) {
    if (!declared.has(name)) throw new ArgumentError(`users.${user.name}.grants.${name}: database ${JSON.stringify(name)} is not declared in databases`);
  }
}

/** A GPG recipient (GPG_RECIPIENT), when given. */
export function checkGpgRecipient(field: string, value: string | undefined): void {
  if (value !== undefined && !GPG_RECIPIENT.test(value)) {
    throw new ArgumentError(`${field}: expected a GPG key id, fingerprint or e-mail address, got ${JSON.stringify(value)}`);
  }
}

/** Trees that belong to the operating system: nothing of a database is ever put inside them. */
const SYSTEM_TREES = [
  "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/proc", "/sys", "/dev",
  "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/libexec", "/usr/share", "/usr/include",
  "/var/lib/dpkg", "/var/lib/apt", "/var/cache/apt", "/var/spool/cron", "/root/.ssh",
];
/** Directories many programs share: a deployment's directory may be inside one, never be one. */
const SHARED_DIRS = new Set([
  "/", "/usr", "/usr/local", "/usr/local/lib", "/usr/local/bin", "/usr/local/sbin", "/usr/local/share",
  "/var", "/var/lib", "/var/log", "/var/backups", "/var/tmp", "/var/cache", "/var/spool", "/var/mail",
  "/tmp", "/home", "/root", "/srv", "/opt", "/mnt", "/media", "/run", "/run/lock", "/dev/shm",
]);

/**
 * The distribution's own database servers keep their data here (Debian's mariadb-server and
 * postgresql packages): a dbstack deployment put there would share files with a server dbstack
 * does not run. `/var/lib/postgresql/<v>/main` is the distribution's default cluster; other
 * `/var/lib/postgresql/<v>/<cluster>` directories are postgresql-common's layout, which dbstack's
 * own clusters use.
 */
const DISTRIBUTION_DATA = [/^\/var\/lib\/mysql(\/.*)?$/, /^\/var\/lib\/postgresql$/, /^\/var\/lib\/postgresql\/[^/]+$/, /^\/var\/lib\/postgresql\/[^/]+\/main(\/.*)?$/];

/** `p` without a trailing slash; `..` and `.` segments are refused by placementProblem first. */
function normalized(p: string): string {
  const trimmed = p.replace(/\/+/g, "/").replace(/\/$/, "");
  return trimmed === "" ? "/" : trimmed;
}

/** Whether `inner` is `outer` or lies inside it. */
export function isWithin(inner: string, outer: string): boolean {
  const i = normalized(inner);
  const o = normalized(outer);
  return i === o || o === "/" || i.startsWith(`${o}/`);
}

/**
 * Why an absolute path cannot hold what dbstack would put there, or undefined. `ownDirectory`:
 * the path is a directory dbstack manages (tools, backups, a data directory), so it must not be
 * a directory other programs share; a database file only has to stay out of the system's trees.
 */
export function placementProblem(value: string, ownDirectory: boolean): string | undefined {
  if (value.split("/").some((s) => s === "." || s === "..")) return "expected a path without . or .. segments";
  const tree = SYSTEM_TREES.find((t) => isWithin(value, t));
  if (tree) return `${value} is inside ${tree}, a system directory dbstack never writes to`;
  if (DISTRIBUTION_DATA.some((d) => d.test(normalized(value)))) {
    return `${value} belongs to the distribution's own database server (/var/lib/mysql, /var/lib/postgresql, /var/lib/postgresql/<version>/main); dbstack never shares its files: choose a directory of this deployment's own`;
  }
  if (ownDirectory && SHARED_DIRS.has(normalized(value))) {
    return `${value} is a directory other programs share; give this deployment a directory of its own inside it`;
  }
  return undefined;
}

/** Checks an absolute path and where it points (see placementProblem). */
export function checkPlacement(field: string, value: string | undefined, ownDirectory: boolean): void {
  checkAbsolutePath(field, value);
  const problem = value === undefined ? undefined : placementProblem(value, ownDirectory);
  if (problem) throw new ArgumentError(`${field}: ${problem}`);
}

/**
 * Tools are rewritten on every deploy and removed on destroy: their directory must not be, or
 * hold, a directory where data lives. `holds` pairs a description ("the database file /x/a.db")
 * with the directory it lives in. Returns why not, or undefined.
 */
export function toolsDirProblem(toolsDir: string, holds: [what: string, dir: string | undefined][]): string | undefined {
  const held = holds.find(([, dir]) => dir !== undefined && isWithin(dir, toolsDir));
  return held && `${toolsDir} holds ${held[0]}; give the tools a directory of their own`;
}

/** The tools directory, when given, holds no data (toolsDirProblem). */
export function checkToolsDirApart(toolsDir: string | undefined, holds: [what: string, dir: string | undefined][]): void {
  const problem = toolsDir === undefined ? undefined : toolsDirProblem(toolsDir, holds);
  if (problem) throw new ArgumentError(`toolsDir: ${problem}`);
}

/**
 * Backups are the copy of the data that survives losing the data directory, and destroy or a
 * restore may empty a data directory: a backup directory is never the data directory or inside
 * it. `dataDirs` pairs a description with a data directory. Returns why not, or undefined.
 */
export function backupDirProblem(backupDir: string, dataDirs: [what: string, dir: string | undefined][]): string | undefined {
  const held = dataDirs.find(([, dir]) => dir !== undefined && isWithin(backupDir, dir));
  return held && `${backupDir} is ${normalized(backupDir) === normalized(held[1]!) ? "" : "inside "}${held[0]}; backups must live outside every data directory`;
}
