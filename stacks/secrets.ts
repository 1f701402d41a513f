import { readFileSync } from "fs";
import { CONFIG_KEYS, type StackConfig } from "./config";
import { setSecretFields } from "./schema/secret";

/** The published passphrase of dev and ephemeral stacks (scripts/lib/env.sh sets it). */
export const DEV_PASSPHRASE = "dbstack-dev-only-not-a-secret";

/** Returns why this stack may not run with the current secrets configuration, if it may not. */
export function secretsProblem(stack: string, env: NodeJS.ProcessEnv): string | undefined {
  if (stack !== "prod") return undefined;
  const fromFile = env.PULUMI_CONFIG_PASSPHRASE_FILE ? readPassphraseFile(env.PULUMI_CONFIG_PASSPHRASE_FILE) : undefined;
  if (env.PULUMI_CONFIG_PASSPHRASE === DEV_PASSPHRASE || fromFile === DEV_PASSPHRASE) {
    return "the prod stack refuses the published dev passphrase: set PULUMI_CONFIG_PASSPHRASE_FILE (or PULUMI_CONFIG_PASSPHRASE) to a real secret, or use a KMS/Vault secrets provider (pulumi stack change-secrets-provider)";
  }
  return undefined;
}

function readPassphraseFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined; // Pulumi itself reports an unreadable passphrase file.
  }
}

/**
 * Config keys that hold secrets (SSH private keys, given passwords, TLS keys) must be set with
 * `pulumi config set --secret`, or they sit in plaintext in Pulumi.<stack>.yaml and in the state.
 * One rule for every key and engine: the schemas mark their secret fields (schema/secret.ts), and
 * a top-level key with any marked field set must be a secret. Returns one problem per such key
 * that is not, naming the fields found (never their values).
 */
export function plaintextSecretProblems(config: Partial<StackConfig>, secretKeys: ReadonlySet<string>, namespace = "dbstack"): string[] {
  const problems: string[] = [];
  for (const [key, schema] of Object.entries(CONFIG_KEYS)) {
    const fullKey = `${namespace}:${key}`;
    const fields = setSecretFields(schema, (config as Record<string, unknown>)[key], fullKey);
    if (fields.length === 0 || secretKeys.has(fullKey)) continue;
    const shown = fields.slice(0, 5).join(", ") + (fields.length > 5 ? ` and ${fields.length - 5} more` : "");
    problems.push(
      `${fullKey}: holds secrets (${shown}) in plaintext, so it must be a secret; set each with: npm run pulumi -- config set --secret --path '${fields[0]}' ...`,
    );
  }
  return problems;
}
