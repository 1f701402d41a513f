/**
 * The rules every deployment shares, whatever its engine (a server deployment, an SQLite
 * database): its name, its tools directory and its backups. Each is a named check; a deployment's
 * list (deploy/validateServer.ts for servers) takes these and adds its own, in the order it runs them.
 */
import type { BackupArgs } from "./model/args";
import { checkGpgRecipient, checkName, checkPlacement, checkSchedule, checkWholeNumber, RANGES, type Check } from "./validate";

/** What the shared rules read of a deployment: its name and the fields every engine declares alike. */
export interface DeploymentSubject {
  name: string;
  args: { toolsDir?: string; backup?: Pick<BackupArgs, "dir" | "schedule" | "retentionDays" | "gpgRecipient"> };
}

/** The deployment's name becomes part of host-level names (cron jobs, directories, containers). */
export const deploymentName: Check<DeploymentSubject> = { name: "name", check: (s) => checkName("name", s.name) };

/** Tools are rewritten on every deploy and removed on destroy: a directory of their own, out of the system's trees. */
export const toolsDirPlacement: Check<DeploymentSubject> = { name: "toolsDir", check: (s) => checkPlacement("toolsDir", s.args.toolsDir, true) };

/** Backups go to a directory of their own, out of the system's trees. */
export const backupDirPlacement: Check<DeploymentSubject> = { name: "backup.dir", check: (s) => checkPlacement("backup.dir", s.args.backup?.dir, true) };

/** The backup schedule is one cron line that fires. */
export const backupSchedule: Check<DeploymentSubject> = { name: "backup.schedule", check: (s) => checkSchedule("backup.schedule", s.args.backup?.schedule) };

/** Backups are kept a whole number of days. */
export const backupRetention: Check<DeploymentSubject> = {
  name: "backup.retentionDays",
  check: (s) => checkWholeNumber("backup.retentionDays", s.args.backup?.retentionDays, ...RANGES.retentionDays),
};

/** Backups are encrypted to a key gpg can name. */
export const backupGpgRecipient: Check<DeploymentSubject> = { name: "backup.gpgRecipient", check: (s) => checkGpgRecipient("backup.gpgRecipient", s.args.backup?.gpgRecipient) };

/** The shared rules, in the order a deployment that adds none of its own runs them. */
export const DEPLOYMENT_CHECKS: readonly Check<DeploymentSubject>[] = [
  deploymentName,
  toolsDirPlacement,
  backupDirPlacement,
  backupSchedule,
  backupRetention,
  backupGpgRecipient,
];
