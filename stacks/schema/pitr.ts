/** The stack config schema of a server deployment's `pitr` (components/model/pitr.ts), with the components' ranges. */
import { z } from "zod";
import { cronScheduleProblem } from "../../components/backups/schedule";
import { PITR_RANGES } from "../../components/pitrChecks";
import { RANGES, SAFE_PATH } from "../../components/validate";

const whole = (min: number, max: number, what: string) =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}, a whole number from ${min} to ${max}` })
    .min(min, { error: `expected ${what} from ${min} to ${max}` })
    .max(max, { error: `expected ${what} from ${min} to ${max}` });

const schedule = z.string({ error: 'expected a cron schedule such as "0 1 * * 0"' }).superRefine((value, ctx) => {
  const problem = cronScheduleProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: `expected a cron schedule: ${problem}`, input: value });
});

export const drill = z.strictObject({
  schedule: schedule.optional(),
  port: whole(...RANGES.port, "a port number").optional(),
  onFailure: z.string().min(1, { error: "expected a shell command, got an empty string" }).optional(),
});

export const pitr = z.strictObject({
  dir: z.string().min(1).regex(SAFE_PATH, { error: "expected a repository directory made of letters, digits and . _ / @ + - only" }).optional(),
  archiveTimeoutS: whole(...PITR_RANGES.archiveTimeoutS, "a number of seconds").optional(),
  fullSchedule: schedule.optional(),
  diffSchedule: schedule.optional(),
  retentionFull: whole(...PITR_RANGES.retentionFull, "a number of full backups").optional(),
  encrypt: z.boolean({ error: "expected true or false" }).optional(),
  drill: drill.optional(),
  repositoryHost: z
    .strictObject({
      host: z.string({ error: "expected the name of a host in dbstack:hosts" }).min(1, { error: "expected the name of a host in dbstack:hosts" }),
      dir: z.string().min(1).regex(SAFE_PATH, { error: "expected a repository directory made of letters, digits and . _ / @ + - only" }).optional(),
    })
    .optional(),
});
