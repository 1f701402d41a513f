import { shellQuote, writeFileCommand } from "../shell";
import type { CronSchedule } from "./schedule";

export interface CronJob {
  /** Unique job name: becomes /etc/cron.d/<name> (letters, digits, - and _ only, as cron requires). */
  name: string;
  schedule: CronSchedule;
  /** User the job runs as. */
  user: string;
  /** Absolute path of the script to run. */
  script: string;
  /** File that collects the job's output. */
  logFile: string;
}

export const CRON_DIR = "/etc/cron.d";

/** The /etc/cron.d file for a job. */
export function renderCronFile(job: CronJob): string {
  if (!/^[A-Za-z0-9_-]+$/.test(job.name)) throw new Error(`cron job name ${JSON.stringify(job.name)}: use letters, digits, - and _`);
  return [
    `# dbstack: ${job.name}. Managed by Pulumi; edit the stack config, not this file.`,
    "SHELL=/bin/bash",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    `${job.schedule} ${job.user} ${job.script} >> ${job.logFile} 2>&1`,
    "",
  ].join("\n");
}

/** Installs the cron file (0644 root, as cron requires). */
export function renderInstallCron(job: CronJob): string {
  return [
    "set -euo pipefail",
    `[ -d ${CRON_DIR} ] && [ -w ${CRON_DIR} ] || { echo "cannot write ${CRON_DIR}: install cron and run as root" >&2; exit 1; }`,
    writeFileCommand(`${CRON_DIR}/${job.name}`, renderCronFile(job), "0644"),
    `echo "installed ${CRON_DIR}/${job.name}: ${job.schedule}"`,
  ].join("\n");
}

export function renderRemoveCron(job: CronJob): string {
  return `rm -f ${shellQuote(`${CRON_DIR}/${job.name}`)}\necho "removed ${CRON_DIR}/${job.name}"`;
}
