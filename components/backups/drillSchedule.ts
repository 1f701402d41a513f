import { DEFAULTS } from "../model/defaults";
import type { CronSchedule } from "./schedule";

/**
 * A drill's default schedule: daily, an hour after the backups' time of day when their schedule
 * fires at one fixed minute and hour (`0 1 * * 1-6` gives `0 2 * * *`), so the drill finds the
 * night's backup; otherwise DEFAULTS.pitr.drillSchedule.
 */
export function drillScheduleAfter(backupSchedule: CronSchedule): CronSchedule {
  const [minute, hour, ...rest] = backupSchedule.trim().split(/ +/);
  if (rest.length !== 3 || !/^[0-9]{1,2}$/.test(minute ?? "") || !/^[0-9]{1,2}$/.test(hour ?? "")) return DEFAULTS.pitr.drillSchedule;
  return `${Number(minute)} ${(Number(hour) + 1) % 24} * * *`;
}
