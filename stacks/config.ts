import { isAbsolute, resolve } from "path";
import { z } from "zod";
import { DEFAULTS } from "../components/model/defaults";
import { RESOURCE_NAME } from "../components/validate";
import { LOCAL_HOST, stackProblems } from "./configChecks";
import { dockerHost, sshHost } from "./schema/hosts";
import { mariadbServer } from "./schema/mariadb";
import { postgresCluster } from "./schema/postgres";
import { sqliteDatabase } from "./schema/sqlite";

/**
 * The stack config, as written under `config:` in Pulumi.<stack>.yaml, namespace `dbstack`.
 * Every key is validated before any resource is registered; unknown keys are errors. The schemas
 * of each kind of deployment are in schema/; their defaults come from components/model/defaults.ts.
 */

/** The name of an entry of dbstack:hosts or dbstack:dockerHosts (what `host:` refers to). */
function hostName(what: string) {
  return z
    .string()
    .regex(RESOURCE_NAME, { error: "expected a host name: lower-case letter, then letters, digits, _ or -" })
    .refine((k) => k !== LOCAL_HOST, { error: `"${LOCAL_HOST}" is this machine's name in \`host:\`; give the ${what} another name` });
}

/** Top-level keys of the `dbstack` namespace and their schemas. */
export const CONFIG_KEYS = {
  allowDataRemoval: z.boolean({ error: "expected true or false" }).default(DEFAULTS.allowDataRemoval),
  hosts: z.record(hostName("SSH host"), sshHost).default({}),
  /** Docker engines deployments can run in (`host: <name>`): see schema/hosts.ts. */
  dockerHosts: z.record(hostName("Docker host"), dockerHost).default({}),
  /**
   * Whether every SSH host must declare its hostKey. Default: true for the prod stack, false
   * otherwise (a host without one is trusted on first use: its keys are recorded in the state).
   */
  requireHostKeys: z.boolean({ error: "expected true or false" }).optional(),
  postgres: z.record(z.string().regex(RESOURCE_NAME, { error: "expected a deployment name: lower-case letter, then letters, digits, _ or -" }), postgresCluster).default({}),
  mariadb: z.record(z.string().regex(RESOURCE_NAME, { error: "expected a deployment name: lower-case letter, then letters, digits, _ or -" }), mariadbServer).default({}),
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
export type MariadbServerConfig = z.output<typeof mariadbServer>;
export type SshHostConfig = z.output<typeof sshHost>;
export type DockerHostConfig = z.output<typeof dockerHost>;

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
  // The rules across the whole stack (configChecks.ts), once every value has its shape.
  if (problems.length === 0) problems.push(...stackProblems({ config: out as StackConfig, namespace, stack: opts.stack }));
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
