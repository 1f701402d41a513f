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
