/**
 * The cron job of a backup schedule's restore drill (`backup.drill`, SQLite so far): root runs the
 * `drill` tool, on the declared schedule or an hour after the backups (drillScheduleAfter).
 */
import type * as pulumi from "@pulumi/pulumi";
import { drillScheduleAfter } from "../../backups/drillSchedule";
import { renderInstallCron, renderRemoveCron, type CronJob } from "../../backups/cronEntry";
import type { DrillArgs } from "../../model/pitr";
import { hostSlug, jobLogFile } from "../../model/naming";
import type { HostAccess } from "../../targets/access";
import { HostCommand } from "../../targets/hostCommand";
import type { StepContext } from "./context";

/** The drill's schedule: declared, or an hour after the backups. */
export function drillSchedule(drill: DrillArgs, backupSchedule: string): string {
  return drill.schedule ?? drillScheduleAfter(backupSchedule);
}

/** The drill's cron job. */
export function drillCronJob(ctx: Pick<StepContext, "prefix" | "kind" | "name" | "toolsDir">, schedule: string): CronJob {
  return {
    name: `${ctx.prefix}-${hostSlug(ctx.kind, ctx.name)}-drill`.replace(/[^A-Za-z0-9_-]/g, "-"),
    schedule,
    user: "root",
    script: `${ctx.toolsDir}/drill`,
    logFile: jobLogFile(ctx.prefix, ctx.kind, ctx.name, "drill"),
  };
}

/** Installs the drill's cron entry after the tools; destroy removes it (the results stay with the backups). */
export function createDrillSchedule(ctx: StepContext, on: HostAccess, schedule: string, tools: pulumi.Resource): HostCommand {
  const job = drillCronJob(ctx, schedule);
  return new HostCommand(
    `${ctx.name}-drill-schedule`,
    { ...on, description: `restore drill schedule of ${ctx.component}: ${schedule}`, create: renderInstallCron(job), delete: renderRemoveCron(job), review: { component: ctx.component } },
    { parent: ctx.parent, dependsOn: [tools] },
  );
}
