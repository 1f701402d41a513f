/** Pieces every deployment component (server or file) shares. */
import * as pulumi from "@pulumi/pulumi";
import type { BackupPolicy } from "../backups/policy";
import { defaultBackupMaxAgeHours } from "../backups/schedule";
import type { BackupArgs } from "../model/args";
import { DEFAULTS } from "../model/defaults";
import { stackHostPrefix } from "../model/naming";
import { shellQuote } from "../shell";

/** A backup policy with every default applied, and the newest-backup age limit. */
export type ResolvedBackup = BackupPolicy & { maxAgeHours: number };

/** The declared backups with their defaults (defaults.ts), or undefined when none are declared. */
export function resolveBackup(args: BackupArgs | undefined, defaultDir: string): ResolvedBackup | undefined {
  if (!args) return undefined;
  const schedule = args.schedule ?? DEFAULTS.backup.schedule;
  return {
    schedule,
    dir: args.dir ?? defaultDir,
    retentionDays: args.retentionDays ?? DEFAULTS.backup.retentionDays,
    gpgRecipient: args.gpgRecipient,
    offHostCommand: args.offHostCommand,
    ...(args.drill ? { figures: true } : {}),
    maxAgeHours: args.maxAgeHours ?? defaultBackupMaxAgeHours(schedule),
  };
}

/**
 * The prefix of host-level names of the running stack: `dbstack-<stack>-<id>` (naming.ts), from
 * the Pulumi project, the stack and the project's root directory (where Pulumi.yaml is; the
 * working directory where the engine does not say, as under unit-test mocks).
 */
export function defaultHostPrefix(): string {
  return stackHostPrefix(pulumi.getProject(), pulumi.getStack(), pulumi.runtime.getRootDirectory() || process.cwd());
}

/** The environment variable a step receives a user's password in. User names are SQL identifiers. */
export function passwordVariable(user: string): string {
  return `DBSTACK_PASSWORD_${user.toUpperCase()}`;
}

/** Writes the value of an environment variable to a root-only file (0600), atomically. */
export function renderSaveFromEnvironment(path: string, variable: string): string {
  const tmp = shellQuote(`${path}.dbstack-tmp`);
  return [`( umask 077 && printf '%s' "$${variable}" > ${tmp} )`, `chmod 600 ${tmp}`, `mv -f ${tmp} ${shellQuote(path)}`].join("\n");
}
