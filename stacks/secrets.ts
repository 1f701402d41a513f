import { readFileSync } from "fs";

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
 * Returns one problem per such key that is not secret.
 */
export function plaintextSecretProblems(
  config: { hosts: Record<string, unknown>; postgres: Record<string, { users: Record<string, { password?: string }>; tls?: unknown }> },
  secretKeys: ReadonlySet<string>,
): string[] {
  const problems: string[] = [];
  const hosts = Object.keys(config.hosts);
  if (hosts.length > 0 && !secretKeys.has("dbstack:hosts")) {
    problems.push(
      `dbstack:hosts: holds SSH private keys, so it must be a secret; set each key with: npm run pulumi -- config set --secret --path 'dbstack:hosts.${hosts[0]}.privateKey' "$(cat <key file>)"`,
    );
  }
  const postgresSecrets = Object.values(config.postgres).some((c) => c.tls || Object.values(c.users).some((u) => u.password));
  if (postgresSecrets && !secretKeys.has("dbstack:postgres")) {
    problems.push(
      "dbstack:postgres: holds a password or a TLS key, so it must be a secret; set those values with: npm run pulumi -- config set --secret --path 'dbstack:postgres.<name>.users.<user>.password' ...",
    );
  }
  return problems;
}
