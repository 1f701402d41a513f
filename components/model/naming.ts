/**
 * Host-level names: the files and directories a deployment owns on its host. One place, so that
 * the components and the stack's collision checks compute the same names.
 */

/** The prefix of host-level names when none is given. Stacks pass `dbstack-<stack>`. */
export const DEFAULT_HOST_PREFIX = "dbstack";

/** Where a deployment's operator tools live by default: `/usr/local/lib/<prefix>/<name>`. */
export function defaultToolsDir(prefix: string | undefined, name: string): string {
  return `/usr/local/lib/${prefix ?? DEFAULT_HOST_PREFIX}/${name}`;
}

/** The name of a deployment's cron job (its /etc/cron.d file), e.g. `dbstack-dev-app-backup`. */
export function cronJobName(prefix: string | undefined, name: string, job: "backup" | "maintenance"): string {
  return `${prefix ?? DEFAULT_HOST_PREFIX}-${name}-${job}`.replace(/[^A-Za-z0-9_-]/g, "-");
}
