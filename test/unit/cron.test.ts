import { describe, expect, it } from "vitest";
import { renderCronFile, type CronJob } from "../../components/backups/cronEntry";

const job: CronJob = {
  name: "dbstack-dev-app-backup",
  schedule: "0 2 * * *",
  user: "root",
  script: "/usr/local/lib/dbstack/app/backup",
  logFile: "/var/lib/app/backups/backup.log",
};

describe("renderCronFile", () => {
  it("renders the /etc/cron.d file: header, shell, path, one job line, final newline", () => {
    expect(renderCronFile(job).split("\n")).toEqual([
      "# dbstack: dbstack-dev-app-backup. Managed by Pulumi; edit the stack config, not this file.",
      "SHELL=/bin/bash",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "0 2 * * * root /usr/local/lib/dbstack/app/backup >> /var/lib/app/backups/backup.log 2>&1",
      "",
    ]);
  });

  it("uses the job's schedule and user", () => {
    const text = renderCronFile({ ...job, schedule: "*/15 * * * mon-fri", user: "app" });
    expect(text).toContain("\n*/15 * * * mon-fri app /usr/local/lib/dbstack/app/backup >> ");
  });

  // cron ignores /etc/cron.d files whose names hold a dot; a slash would leave the directory.
  it.each(["app.backup", "app backup", "../etc/passwd", "", "app\nbackup"])("rejects the job name %j", (name) => {
    expect(() => renderCronFile({ ...job, name })).toThrow(`cron job name ${JSON.stringify(name)}: use letters, digits, - and _`);
  });
});
