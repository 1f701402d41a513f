import { isAbsolute, resolve } from "path";
import { z } from "zod";
import { cronScheduleProblem, DEFAULT_BACKUP_SCHEDULE } from "../components/backups/schedule";
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
    .default(DEFAULT_BACKUP_SCHEDULE)
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
    .default(30),
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
  path: path("a database file path"),
  owner: z.string().regex(UNIX_NAME, { error: "expected a Unix user name" }).optional(),
  group: z.string().regex(UNIX_NAME, { error: "expected a Unix group name" }).optional(),
  pragmas: pragmas.optional(),
  backup: backup.optional(),
  migrations: migrations.optional(),
  healthChecks: z.array(healthCheck, { error: "expected a list of { name, sql, expect? }" }).optional(),
  toolsDir: path("a directory for dbstack's tools").optional(),
});

/** Top-level keys of the `dbstack` namespace and their schemas. */
export const CONFIG_KEYS = {
  allowDataRemoval: z.boolean({ error: "expected true or false" }).default(false),
  sqlite: z
    .record(z.string().regex(RESOURCE_NAME, { error: "expected a database name: lower-case letter, then letters, digits, _ or -" }), sqliteDatabase, {
      // Only for a value that is not a map at all; a bad key keeps the key's own message.
      error: (issue) => (issue.code === "invalid_type" ? "expected a map of database name to database spec" : undefined),
    })
    .default({}),
};

export type StackConfig = { [K in keyof typeof CONFIG_KEYS]: z.output<(typeof CONFIG_KEYS)[K]> };
export type SqliteDatabaseConfig = z.output<typeof sqliteDatabase>;

export class ConfigError extends Error {}

/**
 * Parses the raw `dbstack:*` config (values as Pulumi gives them: JSON text for structured
 * values). Throws ConfigError listing every problem, each naming its key, what was given and
 * what is expected.
 */
export function parseStackConfig(raw: Record<string, string>, namespace = "dbstack"): StackConfig {
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
  if (problems.length > 0) {
    throw new ConfigError(`invalid stack config (${problems.length} problem${problems.length > 1 ? "s" : ""}):\n  - ${problems.join("\n  - ")}`);
  }
  return out as StackConfig;
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
  const given = "input" in issue && issue.input !== undefined ? `, got ${JSON.stringify(issue.input)}` : ", but it is missing";
  return `${key}: ${issue.message}${given}`;
}

/** Resolves a config path against the project directory. */
export function projectPath(projectDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(projectDir, p);
}
