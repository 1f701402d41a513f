// The dbstack Pulumi program: validates the stack config, then declares the databases.
import * as pulumi from "@pulumi/pulumi";
import { resolve } from "path";
import { ConfigError, parseStackConfig } from "./config";
import { failFastOnProgramError } from "./failFast";
import { plaintextSecretProblems, secretsProblem } from "./secrets";
import type * as MariadbStack from "./mariadb";
import type * as PostgresStack from "./postgres";
import type * as SqliteStack from "./sqlite";
import type { Ctx } from "./hosts";

/**
 * Each engine's modules load only when the stack declares a deployment of it: loading (and
 * transpiling) the ones it does not use would cost every preview and up of every stack.
 */
function engineModule<T>(declared: Record<string, unknown>, load: () => T): T | undefined {
  return Object.keys(declared).length > 0 ? load() : undefined;
}

function main() {
  const stack = pulumi.getStack();
  const problem = secretsProblem(stack, process.env);
  if (problem) throw new pulumi.RunError(problem);
  try {
    const config = parseStackConfig(pulumi.runtime.allConfig(), "dbstack", { stack });
    const secretKeys = new Set<string>(JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS || "[]"));
    const plaintext = plaintextSecretProblems(config, secretKeys);
    if (plaintext.length > 0) throw new ConfigError(`secrets in plaintext config:\n  - ${plaintext.join("\n  - ")}`);
    // Relative paths in config are relative to the project root (where Pulumi.yaml is).
    const ctx = { projectDir: resolve(__dirname, ".."), stack, allowDataRemoval: config.allowDataRemoval, hosts: config.hosts, dockerHosts: config.dockerHosts };
    const sq = engineModule(config.sqlite, () => require("./sqlite") as typeof SqliteStack);
    const pg = engineModule(config.postgres, () => require("./postgres") as typeof PostgresStack);
    const my = engineModule(config.mariadb, () => require("./mariadb") as typeof MariadbStack);
    const sqlite = Object.fromEntries(Object.entries(config.sqlite).map(([name, cfg]) => [name, sq!.sqliteOutputs(sq!.sqliteDatabaseFromConfig(name, cfg, ctx))]));
    const postgres = Object.fromEntries(Object.entries(config.postgres).map(([name, cfg]) => [name, pg!.postgresOutputs(pg!.postgresClusterFromConfig(name, cfg, ctx))]));
    const mariadb = Object.fromEntries(Object.entries(config.mariadb).map(([name, cfg]) => [name, my!.mariadbOutputs(my!.mariadbServerFromConfig(name, cfg, ctx))]));
    // A reference to a deployment that was not built fails, instead of leaving its copy waiting.
    (ctx as Ctx).imports?.settle();
    return { sqlite, postgres, mariadb, allowDataRemoval: config.allowDataRemoval };
  } catch (err) {
    // A config mistake is the user's to fix: show the message, not a stack trace.
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}

failFastOnProgramError();
const outputs = main();
export const sqlite = outputs.sqlite;
export const postgres = outputs.postgres;
export const mariadb = outputs.mariadb;
export const allowDataRemoval = outputs.allowDataRemoval;
