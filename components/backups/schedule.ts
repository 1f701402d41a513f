/** A cron schedule in the five-field form (`m h dom mon dow`) or one of cron's @ shorthands. */
export type CronSchedule = string;

/** dbstack's default backup time: daily at 02:00, host time. */
export const DEFAULT_BACKUP_SCHEDULE: CronSchedule = "0 2 * * *";

const SHORTHANDS = new Set(["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"]);
const FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
  { name: "day of week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

/** Returns why `schedule` is not a valid cron schedule, or undefined when it is. */
export function cronScheduleProblem(schedule: string): string | undefined {
  const trimmed = schedule.trim();
  if (SHORTHANDS.has(trimmed)) return undefined;
  const parts = trimmed.split(/\s+/);
  if (parts.length !== 5) return `a cron schedule has 5 fields (minute hour day-of-month month day-of-week), this one has ${parts.length}`;
  for (let i = 0; i < 5; i++) {
    const problem = fieldProblem(parts[i], FIELDS[i]);
    if (problem) return problem;
  }
  return undefined;
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
