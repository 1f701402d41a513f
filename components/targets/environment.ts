/**
 * The variables a host script inherits from the process that runs it (Pulumi's language host):
 * what any shell needs to find programs and format text. Everything else in that process's
 * environment (PULUMI_CONFIG_PASSPHRASE, cloud credentials, DATABASE_URL of the operator's own
 * shell ...) stays out: a script gets it only when its step declares it.
 */
export const INHERITED_VARIABLES = ["PATH", "HOME", "LANG", "LC_ALL", "TZ"] as const;

/** PATH when the parent has none: Debian's default for root. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The environment of a host script: the inherited variables the parent has, then the step's
 * declared ones (which win). Pure: HostCommand's provider is serialized together with it.
 */
export function minimalEnvironment(parent: Record<string, string | undefined>, declared: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH };
  for (const name of INHERITED_VARIABLES) {
    const value = parent[name];
    if (value !== undefined && value !== "") env[name] = value;
  }
  return { ...env, ...declared };
}
