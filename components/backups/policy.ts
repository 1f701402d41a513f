import { DEFAULTS } from "../model/defaults";
import type { CronSchedule } from "./schedule";

/** How an engine's backups are taken, kept and shipped. The same for every engine. */
export interface BackupPolicy {
  /** When cron runs the backup. Default `0 2 * * *` (daily at 02:00, host time). */
  schedule: CronSchedule;
  /** Directory that holds the backup files (created 0700; files are 0600). */
  dir: string;
  /** Backups older than this many days are deleted after a successful backup. Default 30. */
  retentionDays: number;
  /** Encrypt each backup to this GPG recipient (key id or e-mail; the public key must be in root's keyring). */
  gpgRecipient?: string;
  /** Run after each backup with BACKUP_FILE set to the new file, e.g. `rsync "$BACKUP_FILE" backup-host:/srv/db/`. */
  offHostCommand?: string;
  /**
   * Record each backup's figures (tables and exact row counts, in the dump's own snapshot) in
   * `<dir>/figures/<backup file>.tsv`, for its restore drill. Default false; true when `drill` is declared.
   */
  figures?: boolean;
}

export const DEFAULT_RETENTION_DAYS = DEFAULTS.backup.retentionDays;
