import { renderPrivateDir, shellQuote } from "../shell";
import { keptDataHint } from "../model/dataRemoval";
import { STAMP_GLOB } from "./archive";
import { renderInstallCron, renderRemoveCron, type CronJob } from "./cronEntry";
import type { BackupPolicy } from "./policy";

export interface BackupScheduleSpec {
  /** Deployment name: backups are <name>-<UTC time><extension>.gz[.gpg], the log <name>-backup.log. */
  name: string;
  /** Cron job name (becomes /etc/cron.d/<jobName>). */
  jobName: string;
  policy: BackupPolicy;
  /** The installed backup script cron runs. */
  script: string;
  /** The backup files' extension before .gz: ".db", ".tar". */
  extension: string;
  allowDataRemoval: boolean;
}

/** The cron job of a backup schedule: root runs the script, output to the deployment's own log. */
export function backupCronJob(spec: BackupScheduleSpec): CronJob {
  return {
    name: spec.jobName.replace(/[^A-Za-z0-9_-]/g, "-"),
    schedule: spec.policy.schedule,
    // root: the backup reads the database and writes root-owned 0600 files.
    user: "root",
    script: spec.script,
    logFile: `${spec.policy.dir}/${spec.name}-backup.log`,
  };
}

/** Creates the private backup directory, then installs the cron entry. */
export function renderInstallBackupSchedule(spec: BackupScheduleSpec): string {
  return `${renderPrivateDir(shellQuote(spec.policy.dir), "backup.dir")}\n${renderInstallCron(backupCronJob(spec))}`;
}

/** Removes the cron entry; the backups are data and stay unless the stack allows data removal. */
export function renderRemoveBackupSchedule(spec: BackupScheduleSpec): string {
  return `${renderRemoveCron(backupCronJob(spec))}\n${renderRemoveBackups(spec.name, spec.policy.dir, spec.extension, spec.allowDataRemoval)}`;
}

/**
 * Deletes one deployment's backups and log when data removal is allowed (matching only its own
 * timestamped files, so another deployment sharing the directory keeps its own), else says
 * they are kept.
 */
export function renderRemoveBackups(name: string, dir: string, extension: string, allowDataRemoval: boolean): string {
  if (!allowDataRemoval) {
    return `echo ${shellQuote(`dbstack: kept the backups of ${name} in ${dir}; ${keptDataHint("delete them")}`)} >&2`;
  }
  return [
    `find ${shellQuote(dir)} -maxdepth 1 -type f -name ${shellQuote(`${name}-${STAMP_GLOB}${extension}.gz*`)} -delete 2>/dev/null || true`,
    `rm -f ${shellQuote(`${dir}/${name}-backup.log`)}`,
    `rmdir ${shellQuote(dir)} 2>/dev/null || true`,
    // The stack's own directory of default backup directories (naming.ts), once the last of them is gone.
    ...(/^\/var\/backups\/dbstack-[A-Za-z0-9_-]+\/[^/]+$/.test(dir) ? [`rmdir ${shellQuote(dir.slice(0, dir.lastIndexOf("/")))} 2>/dev/null || true`] : []),
    `echo ${shellQuote(`dbstack: deleted the backups of ${name} in ${dir} (allowDataRemoval is set)`)} >&2`,
  ].join("\n");
}
