import { describe, expect, it } from "vitest";
import { cronScheduleProblem, DEFAULT_BACKUP_SCHEDULE, defaultBackupMaxAgeHours, longestIntervalHours } from "../../components/backups/schedule";

describe("cronScheduleProblem", () => {
  it.each(["0 2 * * *", "*/15 * * * *", "0 3 * * mon-fri", "@daily", "0 0 1,15 * *", "  30 4 * jan-jun 0,7  ", "0-30/10 * * * *"])(
    "accepts %j",
    (schedule) => {
      expect(cronScheduleProblem(schedule)).toBeUndefined();
    },
  );

  it("accepts the default backup schedule", () => {
    expect(DEFAULT_BACKUP_SCHEDULE).toBe("0 2 * * *");
    expect(cronScheduleProblem(DEFAULT_BACKUP_SCHEDULE)).toBeUndefined();
  });

  it.each([
    ["0 25 * * *", 'hour field "25": values must be 0-23'],
    ["* * *", "a cron schedule has 5 fields (minute hour day-of-month month day-of-week), this one has 3"],
    ["* * * * * *", "this one has 6"],
    ["61 * * * *", 'minute field "61": values must be 0-59'],
    ["0 2 * * 8", 'day of week field "8": values must be 0-7'],
    ["0 2 32 * *", 'day of month field "32": values must be 1-31'],
    ["0 2 * 13 *", 'month field "13": values must be 1-12'],
    ["*/0 * * * *", 'minute field "*/0": bad step'],
    ["5-1 * * * *", 'minute field "5-1": range runs backwards'],
    ["0 2 * * funday", 'day of week field "funday"'],
    ["@reboot", "5 fields"],
    ["0 2 * * *\n* * * * * root sh /tmp/evil", "one line of printable characters"],
    ["*\n* * * *", "one line of printable characters"],
    ["0 2 * * *\t", "one line of printable characters"],
    ["0 2 30 2 *", "never fires"],
    ["0 2 31 4,6,9,11 *", "never fires"],
  ])("rejects %j, naming the field", (schedule, message) => {
    expect(cronScheduleProblem(schedule)).toContain(message);
  });
});

describe("longestIntervalHours", () => {
  it.each([
    ["0 2 * * *", 24],
    ["@hourly", 1],
    ["0 2 * * 1", 168],
    ["*/15 * * * *", 0.25],
    // Every minute of the 1st: the long wait is from the 1st to the next month's 1st (31-day months).
    ["* * 1 * *", 24 * 30 + 1 / 60],
    ["0 2 31 * *", 24 * 61],
  ])("%j: %d hours", (schedule, hours) => {
    expect(longestIntervalHours(schedule)).toBeCloseTo(hours, 5);
  });

  it("allows backups one and a half intervals old: 36 hours for daily backups", () => {
    expect(defaultBackupMaxAgeHours("0 2 * * *")).toBe(36);
    expect(defaultBackupMaxAgeHours("0 3 * * 0")).toBe(252);
  });
});
