// The dbstack Pulumi program: validates the stack config, then declares the databases.
import * as pulumi from "@pulumi/pulumi";
import { resolve } from "path";
import { ConfigError, parseStackConfig } from "./config";
import { plaintextSecretProblems, secretsProblem } from "./secrets";
import { mariadbOutputs, mariadbServerFromConfig } from "./mariadb";
import { postgresClusterFromConfig, postgresOutputs } from "./postgres";
import { sqliteDatabaseFromConfig, sqliteOutputs } from "./sqlite";

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
    const ctx = { projectDir: resolve(__dirname, ".."), stack, allowDataRemoval: config.allowDataRemoval, hosts: config.hosts };
    const sqlite = Object.fromEntries(
      Object.entries(config.sqlite).map(([name, cfg]) => [name, sqliteOutputs(sqliteDatabaseFromConfig(name, cfg, ctx))]),
    );
    const postgres = Object.fromEntries(
      Object.entries(config.postgres).map(([name, cfg]) => [name, postgresOutputs(postgresClusterFromConfig(name, cfg, ctx))]),
    );
    const mariadb = Object.fromEntries(
      Object.entries(config.mariadb).map(([name, cfg]) => [name, mariadbOutputs(mariadbServerFromConfig(name, cfg, ctx))]),
    );
    return { sqlite, postgres, mariadb, allowDataRemoval: config.allowDataRemoval };
  } catch (err) {
    // A config mistake is the user's to fix: show the message, not a stack trace.
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}

const outputs = main();
export const sqlite = outputs.sqlite;
export const postgres = outputs.postgres;
export const mariadb = outputs.mariadb;
export const allowDataRemoval = outputs.allowDataRemoval;
