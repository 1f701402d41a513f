import { DEFAULTS } from "../model/defaults";
import { CronExpressionParser } from "cron-parser";

/** A cron schedule in the five-field form (`m h dom mon dow`) or one of cron's @ shorthands. */
export type CronSchedule = string;

/** dbstack's default backup time: daily at 02:00, host time. */
export const DEFAULT_BACKUP_SCHEDULE: CronSchedule = DEFAULTS.backup.schedule;

const SHORTHANDS = new Set(["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"]);
const FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
  { name: "day of week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

/**
 * Returns why `schedule` is not a valid cron schedule, or undefined when it is. Valid means: one
 * line of cron's own syntax (a schedule becomes one line of an /etc/cron.d file, so a newline
 * would silently break the file) that fires at least once (`0 2 30 2 *` never does).
 */
export function cronScheduleProblem(schedule: string): string | undefined {
  if (/[^\x20-\x7e]/.test(schedule)) return "a cron schedule is one line of printable characters (fields separated by spaces); this one holds a newline, tab or control character";
  const trimmed = schedule.trim();
  if (SHORTHANDS.has(trimmed)) return undefined;
  const parts = trimmed.split(/ +/);
  if (parts.length !== 5) return `a cron schedule has 5 fields (minute hour day-of-month month day-of-week), this one has ${parts.length}`;
  for (let i = 0; i < 5; i++) {
    const problem = fieldProblem(parts[i], FIELDS[i]);
    if (problem) return problem;
  }
  if (firesAt(forParser(trimmed), 2).length === 0) return "this schedule never fires (no such date, e.g. 30 February)";
  return undefined;
}

/** Later than any gap a valid schedule can have (29 February, every leap year), plus margin. */
const HORIZON_MS = 9 * 366 * 24 * 3600 * 1000;
/** Consecutive fires examined for the longest gap between two runs. */
const MAX_FIRES = 2_000;
/** Spacing of the sample origins that catch long gaps in schedules that fire in bursts (`* * 1 * *`). */
const SAMPLE_STEP_MS = 6 * 3600 * 1000;
/** A fixed origin, so the result is a pure function of the schedule. */
const ORIGIN = new Date("2024-01-01T00:00:00Z");

/** The next `count` fire times after the origin (UTC), fewer if the schedule fires less often. */
function firesAt(schedule: string, count: number): number[] {
  let it;
  try {
    it = CronExpressionParser.parse(schedule, { currentDate: ORIGIN, endDate: new Date(ORIGIN.getTime() + HORIZON_MS), tz: "UTC" });
  } catch {
    return [];
  }
  const out: number[] = [];
  while (out.length < count && it.hasNext()) out.push(it.next().getTime());
  return out;
}

/**
 * The longest time, in hours, between two runs of a valid schedule (daily: 24; `0 2 * * 1`: 168;
 * `0 2 29 2 *`: about four years). Backup freshness checks allow one and a half of it.
 */
export function longestIntervalHours(schedule: CronSchedule): number {
  const key = forParser(schedule.trim());
  const known = longestIntervals.get(key);
  if (known !== undefined) return known;
  const fires = firesAt(key, MAX_FIRES);
  if (fires.length < 2) throw new Error(`schedule ${JSON.stringify(schedule)} does not fire twice in nine years`);
  let longest = 0;
  for (let i = 1; i < fires.length; i++) longest = Math.max(longest, fires[i] - fires[i - 1]);
  // The wait from any moment to the next run is a lower bound of the longest gap, and equals it
  // for a moment just after a run: sampling moments over a year finds gaps that a burst of
  // frequent runs (every minute of the 1st of the month) hides from MAX_FIRES consecutive fires.
  const it = CronExpressionParser.parse(key, { currentDate: ORIGIN, tz: "UTC" });
  for (let t = ORIGIN.getTime(); t < ORIGIN.getTime() + 366 * 24 * 3600 * 1000; t += SAMPLE_STEP_MS) {
    it.reset(new Date(t));
    longest = Math.max(longest, it.next().getTime() - t);
  }
  const hours = longest / 3_600_000;
  longestIntervals.set(key, hours);
  return hours;
}
const longestIntervals = new Map<string, number>();

/** How old the newest backup may be before health checks fail: 1.5 times the longest interval, whole hours. */
export function defaultBackupMaxAgeHours(schedule: CronSchedule): number {
  return Math.ceil(1.5 * longestIntervalHours(schedule));
}

/**
 * The schedule as cron-parser reads it: cron takes both 0 and 7 for Sunday, cron-parser refuses
 * `0,7` as a duplicate, so an explicit day-of-week list is rewritten with 7 as 0. A field that
 * starts with `*` is left alone: cron combines day of month and day of week differently then.
 */
function forParser(schedule: string): string {
  if (schedule.startsWith("@")) return schedule;
  const parts = schedule.split(/ +/);
  const dow = parts[4];
  if (dow.startsWith("*")) return schedule;
  const days = new Set<number>();
  for (const item of dow.split(",")) {
    const [range, step] = item.split("/");
    const [lo, hi] = range.split("-").map((b) => valueOf(b, FIELDS[4])!);
    for (let d = lo; d <= (hi ?? (step ? 7 : lo)); d += Number(step ?? 1)) days.add(d % 7);
  }
  return [...parts.slice(0, 4), [...days].sort((a, b) => a - b).join(",")].join(" ");
}

function fieldProblem(field: string, spec: (typeof FIELDS)[number]): string | undefined {
  for (const item of field.split(",")) {
    const [range, step, extra] = item.split("/");
    if (extra !== undefined || (step !== undefined && !/^[1-9]\d*$/.test(step))) return `${spec.name} field "${field}": bad step`;
    if (range === "*") continue;
    const bounds = range.split("-");
    if (bounds.length > 2) return `${spec.name} field "${field}": bad range`;
    const values = bounds.map((b) => valueOf(b, spec));
    if (values.some((v) => v === undefined)) return `${spec.name} field "${field}": values must be ${spec.min}-${spec.max}`;
    if (values.length === 2 && values[0]! > values[1]!) return `${spec.name} field "${field}": range runs backwards`;
  }
  return undefined;
}

function valueOf(token: string, spec: (typeof FIELDS)[number]): number | undefined {
  const named = spec.names?.indexOf(token.toLowerCase()) ?? -1;
  if (named >= 0) return named + (spec.min === 1 ? 1 : 0);
  if (!/^\d+$/.test(token)) return undefined;
  const n = Number(token);
  return n >= spec.min && n <= spec.max ? n : undefined;
}
