import { isAbsolute, resolve } from "path";
import { z } from "zod";
import { cronScheduleProblem } from "../components/backups/schedule";
import { DEFAULTS } from "../components/model/defaults";
import { crossDeploymentProblems, LOCAL_HOST } from "./configChecks";
import { hostKeyProblem } from "../components/targets/ssh";
import { GPG_RECIPIENT, RESOURCE_NAME, SAFE_PATH, UNIX_NAME } from "../components/validate";

/**
 * The stack config, as written under `config:` in Pulumi.<stack>.yaml, namespace `dbstack`.
 * Every key is validated before any resource is registered; unknown keys are errors.
 */


const path = (what: string) =>
  z
    .string({ error: `expected ${what} as a string` })
    .min(1, { error: `expected ${what}` })
    .regex(SAFE_PATH, { error: `expected ${what} made of letters, digits and . _ / @ + - only` });

const pragmas = z.strictObject({
  journalMode: z.enum(["wal", "delete", "truncate", "persist"]).optional(),
  autoVacuum: z.enum(["none", "full", "incremental"]).optional(),
  synchronous: z.enum(["off", "normal", "full", "extra"]).optional(),
  busyTimeoutMs: z
    .number({ error: "expected a number of milliseconds" })
    .int({ error: "expected a whole number of milliseconds" })
    .min(0, { error: "expected a whole number of milliseconds from 0 to 600000" })
    .max(600000, { error: "expected a whole number of milliseconds from 0 to 600000" })
    .optional(),
  foreignKeys: z.boolean({ error: "expected true or false" }).optional(),
});

const backup = z.strictObject({
  schedule: z
    .string({ error: "expected a cron schedule such as \"0 2 * * *\"" })
    .default(DEFAULTS.backup.schedule)
    .superRefine((value, ctx) => {
      const problem = cronScheduleProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: `expected a cron schedule such as "0 2 * * *": ${problem}`, input: value });
    }),
  dir: path("a backup directory").optional(),
  retentionDays: z
    .number({ error: "expected a number of days" })
    .int({ error: "expected a whole number of days from 1 to 3650" })
    .min(1, { error: "expected a whole number of days from 1 to 3650" })
    .max(3650, { error: "expected a whole number of days from 1 to 3650" })
    .default(DEFAULTS.backup.retentionDays),
  gpgRecipient: z
    .string()
    .regex(GPG_RECIPIENT, { error: "expected a GPG key id, fingerprint or e-mail address" })
    .optional(),
  offHostCommand: z.string().min(1, { error: "expected a shell command, got an empty string" }).optional(),
});

const migrations = z.union(
  [
    z.strictObject({ dir: path("a directory of NNNN_name.sql files") }),
    z.strictObject({
      command: z.string().min(1, { error: "expected a command such as \"alembic upgrade head\"" }),
      workdir: path("a working directory").optional(),
    }),
  ],
  { error: 'expected either { dir: <directory of .sql files> } or { command: "<migration command>", workdir?: <dir> }' },
);

const healthCheck = z.strictObject({
  name: z.string().min(1, { error: "expected a name for the check" }),
  sql: z.string().min(1, { error: "expected one SQL query" }),
  expect: z.string().optional(),
});

const sqliteDatabase = z.strictObject({
  host: z.string().min(1, { error: "expected \"local\" or the name of an entry in dbstack:hosts" }).default("local"),
  path: path("a database file path"),
  owner: z.string().regex(UNIX_NAME, { error: "expected a Unix user name" }).optional(),
  group: z.string().regex(UNIX_NAME, { error: "expected a Unix group name" }).optional(),
  pragmas: pragmas.optional(),
  backup: backup.optional(),
  migrations: migrations.optional(),
  healthChecks: z.array(healthCheck, { error: "expected a list of { name, sql, expect? }" }).optional(),
  toolsDir: path("a directory for dbstack's tools").optional(),
});

const identifier = (what: string) =>
  z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: `expected ${what}: lower-case letters, digits and _, starting with a letter or _` });
const cidr = z
  .string({ error: "expected a network in CIDR form, e.g. 10.0.0.0/24" })
  .refine(
    (v) => {
      const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(v);
      if (v4) return v4.slice(1, 5).every((o) => Number(o) <= 255) && Number(v4[5]) <= 32;
      const v6 = /^[0-9a-fA-F:]+\/(\d{1,3})$/.exec(v);
      return v6 !== null && v.includes(":") && Number(v6[1]) <= 128;
    },
    { error: "expected a network in CIDR form, e.g. 10.0.0.0/24 (IPv4 prefix up to 32, IPv6 up to 128)" },
  );
/** A whole number in [min, max]; `what` reads like "a port number" or "a number of connections". */
const wholeNumber = (min: number, max: number, what: string) =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}, a whole number from ${min} to ${max}` })
    .min(min, { error: `expected ${what} from ${min} to ${max}` })
    .max(max, { error: `expected ${what} from ${min} to ${max}` });

const HOST_KEY_EXPECTED = 'expected the host\'s public SSH key, e.g. "ssh-ed25519 AAAA…" (ssh-keyscan -t ed25519 <address> prints it)';

const sshHost = z.strictObject({
  address: z.string({ error: "expected the host's name or IP address" }).regex(/^[A-Za-z0-9.:-]+$/, { error: "expected a host name or IP address" }),
  port: wholeNumber(1, 65535, "a port number").default(DEFAULTS.ssh.port),
  user: z.string().regex(UNIX_NAME, { error: "expected a Unix user name" }).default(DEFAULTS.ssh.user),
  sudo: z.boolean({ error: "expected true or false" }).optional(),
  hostKey: z
    .string({ error: HOST_KEY_EXPECTED })
    .superRefine((value, ctx) => {
      const problem = hostKeyProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: `${HOST_KEY_EXPECTED}: ${problem}`, input: value });
    })
    .optional(),
  privateKey: z
    .string({ error: "expected an SSH private key (set it with pulumi config set --secret --path 'dbstack:hosts.<name>.privateKey')" })
    .min(1, { error: "expected an SSH private key (set it with pulumi config set --secret --path 'dbstack:hosts.<name>.privateKey')" }),
});

const postgresDatabase = z.strictObject({
  owner: identifier("a user name"),
  encoding: z.string().regex(/^[A-Za-z0-9_]+$/).default(DEFAULTS.postgres.database.encoding),
  locale: z.string().regex(/^[A-Za-z0-9_.@-]+$/, { error: "expected a locale such as C.UTF-8 or pt_BR.UTF-8" }).default(DEFAULTS.postgres.database.locale),
  dateStyle: z.string().regex(/^[A-Za-z]+(, ?[A-Za-z]+)?$/, { error: "expected a DateStyle such as \"ISO, DMY\"" }).default(DEFAULTS.postgres.database.dateStyle),
  timeZone: z.string().regex(/^[A-Za-z0-9_/+-]+$/, { error: "expected a time zone such as UTC or America/Sao_Paulo" }).default(DEFAULTS.postgres.database.timeZone),
  extensions: z.array(z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: "expected an extension name" })).default([...DEFAULTS.postgres.database.extensions]),
  migrations: migrations.optional(),
  healthChecks: z.array(healthCheck, { error: "expected a list of { name, sql, expect? }" }).optional(),
});

const postgresUser = z.strictObject({
  grants: z.record(identifier("a database name"), z.enum(["owner", "readwrite", "readonly"], { error: "expected owner, readwrite or readonly" })),
  connectionLimit: wholeNumber(-1, 100000, "a number of connections (-1 for no limit)").default(DEFAULTS.user.connectionLimit),
  password: z.string().min(12, { error: "expected a password of at least 12 characters (or leave it out to generate one)" }).optional(),
  passwordRotation: z.union([z.string(), z.number()]).optional(),
});

const postgresCluster = z.strictObject({
  host: z.string().min(1, { error: "expected \"local\" or the name of an entry in dbstack:hosts" }).default("local"),
  address: z.string().regex(/^[A-Za-z0-9.:-]+$/).optional(),
  version: wholeNumber(12, 18, "a PostgreSQL major version").optional(),
  clusterName: z.string().regex(/^[a-z][a-z0-9_-]{0,30}$/, { error: "expected a cluster name: lower-case letters, digits, _ and -" }).optional(),
  port: wholeNumber(1, 65535, "a port number").default(DEFAULTS.postgres.port),
  dataDirectory: path("a data directory").optional(),
  hostFacts: z
    .strictObject({
      memoryMb: wholeNumber(256, 16777216, "a memory size in MiB").optional(),
      cpus: wholeNumber(1, 1024, "a number of CPUs").optional(),
      storage: z.enum(["ssd", "hdd", "network"], { error: "expected ssd, hdd or network" }).optional(),
    })
    .optional(),
  workload: z.enum(["web", "oltp", "dw", "mixed"], { error: "expected web, oltp, dw or mixed" }).default(DEFAULTS.server.workload),
  maxConnections: wholeNumber(1, 10000, "a number of connections").default(DEFAULTS.server.maxConnections),
  parameters: z
    .record(
      z.string().regex(/^[a-z_.]+$/, { error: "expected a postgresql.conf parameter name" }),
      z
        .union([z.string(), z.number()], { error: "expected a value: a number or a string" })
        .transform(String)
        .refine((v) => /^[^\x00-\x1f\x7f]*$/.test(v), { error: "expected a one-line value (no newline or control character)" }),
    )
    .default({}),
  listenAddresses: z.array(z.string().regex(/^[A-Za-z0-9.:*-]+$/)).default([...DEFAULTS.server.listenAddresses]),
  allowedCidrs: z.array(cidr).default([...DEFAULTS.server.allowedCidrs]),
  tls: z.strictObject({ certificate: z.string().min(1), privateKey: z.string().min(1) }).optional(),
  databases: z.record(identifier("a database name"), postgresDatabase).refine((r) => Object.keys(r).length > 0, { error: "expected at least one database" }),
  users: z.record(identifier("a user name"), postgresUser),
  backup: backup.extend({ maxAgeHours: wholeNumber(1, 8760, "a number of hours").optional() }).optional(),
  maintenanceSchedule: z
    .string()
    .superRefine((value, ctx) => {
      const problem = cronScheduleProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: `expected a cron schedule: ${problem}`, input: value });
    })
    .optional(),
  standbys: z
    .record(
      z.string().regex(/^[a-z][a-z0-9_]{0,30}$/, { error: "expected a standby name: lower-case letters, digits and _" }),
      z.strictObject({
        host: z.string().min(1),
        address: z
          .string({ error: "expected the standby's address as the primary sees it (an IP address or host name)" })
          .regex(/^[A-Za-z0-9.:/-]+$/, { error: "expected the standby's address as the primary sees it (an IP address or host name)" }),
        clusterName: z.string().regex(/^[a-z][a-z0-9_-]{0,30}$/).optional(),
        port: wholeNumber(1, 65535, "a port number").optional(),
      }),
    )
    .default({}),
  toolsDir: path("a directory for dbstack's tools").optional(),
});

/** Top-level keys of the `dbstack` namespace and their schemas. */
export const CONFIG_KEYS = {
  allowDataRemoval: z.boolean({ error: "expected true or false" }).default(DEFAULTS.allowDataRemoval),
  hosts: z
    .record(
      z
        .string()
        .regex(RESOURCE_NAME, { error: "expected a host name: lower-case letter, then letters, digits, _ or -" })
        .refine((k) => k !== LOCAL_HOST, { error: `"${LOCAL_HOST}" is this machine's name in \`host:\`; give the SSH host another name` }),
      sshHost,
    )
    .default({}),
  /**
   * Whether every SSH host must declare its hostKey. Default: true for the prod stack, false
   * otherwise (a host without one is trusted on first use: its keys are recorded in the state).
   */
  requireHostKeys: z.boolean({ error: "expected true or false" }).optional(),
  postgres: z.record(z.string().regex(RESOURCE_NAME, { error: "expected a deployment name: lower-case letter, then letters, digits, _ or -" }), postgresCluster).default({}),
  sqlite: z
    .record(z.string().regex(RESOURCE_NAME, { error: "expected a database name: lower-case letter, then letters, digits, _ or -" }), sqliteDatabase, {
      // Only for a value that is not a map at all; a bad key keeps the key's own message.
      error: (issue) => (issue.code === "invalid_type" ? "expected a map of database name to database spec" : undefined),
    })
    .default({}),
};

export type StackConfig = { [K in keyof typeof CONFIG_KEYS]: z.output<(typeof CONFIG_KEYS)[K]> };
export type SqliteDatabaseConfig = z.output<typeof sqliteDatabase>;
export type PostgresClusterConfig = z.output<typeof postgresCluster>;
export type SshHostConfig = z.output<typeof sshHost>;

export class ConfigError extends Error {}

/**
 * Parses the raw `dbstack:*` config (values as Pulumi gives them: JSON text for structured
 * values). Throws ConfigError listing every problem, each naming its key, what was given and
 * what is expected.
 */
export function parseStackConfig(raw: Record<string, string>, namespace = "dbstack", opts: { stack?: string } = {}): StackConfig {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  const known = Object.keys(CONFIG_KEYS);
  for (const fullKey of Object.keys(raw).sort()) {
    const [ns, key] = splitKey(fullKey);
    if (ns !== namespace) continue;
    if (!known.includes(key)) problems.push(`${fullKey}: unknown key; the ${namespace} keys are ${known.join(", ")}`);
  }
  for (const key of known) {
    const schema = CONFIG_KEYS[key as keyof typeof CONFIG_KEYS];
    const fullKey = `${namespace}:${key}`;
    const value = fullKey in raw ? parseValue(raw[fullKey]) : undefined;
    const result = schema.safeParse(value, { reportInput: true });
    if (result.success) out[key] = result.data;
    else problems.push(...result.error.issues.map((issue) => describeIssue(fullKey, issue)));
  }
  if (problems.length === 0) problems.push(...crossDeploymentProblems(out as StackConfig));
  if (problems.length === 0) problems.push(...undeclaredHostKeyProblems(out as StackConfig, namespace, opts.stack));
  if (problems.length > 0) {
    throw new ConfigError(`invalid stack config (${problems.length} problem${problems.length > 1 ? "s" : ""}):\n  - ${problems.join("\n  - ")}`);
  }
  return out as StackConfig;
}

/** Whether a stack must declare its SSH hosts' keys: `requireHostKeys`, by default only prod. */
export function hostKeysRequired(config: Pick<StackConfig, "requireHostKeys">, stack: string | undefined): boolean {
  return config.requireHostKeys ?? stack === "prod";
}

/** One problem per SSH host without a hostKey, when the stack requires declared keys. */
function undeclaredHostKeyProblems(config: StackConfig, namespace: string, stack: string | undefined): string[] {
  if (!hostKeysRequired(config, stack)) return [];
  const why =
    config.requireHostKeys === undefined
      ? `the ${stack} stack requires declared host keys (set ${namespace}:requireHostKeys to false to trust hosts on first use)`
      : `${namespace}:requireHostKeys is true`;
  return Object.entries(config.hosts)
    .filter(([, h]) => h.hostKey === undefined)
    .map(
      ([name, h]) =>
        `${namespace}:hosts.${name}.hostKey: missing; ${why}: set it to the host's public key, checked out of band ` +
        `(ssh-keyscan -p ${h.port} ${h.address} | ssh-keygen -lf - shows its fingerprint)`,
    );
}

function splitKey(fullKey: string): [string, string] {
  const i = fullKey.indexOf(":");
  return i < 0 ? ["", fullKey] : [fullKey.slice(0, i), fullKey.slice(i + 1)];
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describeIssue(fullKey: string, issue: z.core.$ZodIssue): string {
  const key = [fullKey, ...issue.path.map(String)].join(".");
  if (issue.code === "invalid_key") {
    // A bad map key: report the key's own rule against the key.
    const inner = issue.issues[0];
    return `${key}: ${inner?.message ?? "bad key"}, got ${JSON.stringify(issue.input ?? issue.path.at(-1))}`;
  }
  if (issue.code === "invalid_type" && issue.input === undefined) {
    return `${key}: missing; expected ${issue.message.startsWith("Invalid input") ? `a ${issue.expected}` : issue.message.replace(/^expected /, "")}`;
  }
  if (issue.code === "unrecognized_keys") {
    return `${key}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")} (a typo?)`;
  }
  const given = !("input" in issue) || issue.input === undefined
    ? ", but it is missing"
    : isSecretKey(issue.path)
      ? " (the value given is not shown: it is a secret)"
      : `, got ${JSON.stringify(issue.input)}`;
  return `${key}: ${issue.message}${given}`;
}

/** Keys whose values are secrets: an error about them never repeats the value. */
const SECRET_FIELDS = new Set(["password", "privateKey", "certificate", "tls"]);

function isSecretKey(path: PropertyKey[]): boolean {
  return path.some((p) => typeof p === "string" && SECRET_FIELDS.has(p));
}

/** Resolves a config path against the project directory. */
export function projectPath(projectDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(projectDir, p);
}
