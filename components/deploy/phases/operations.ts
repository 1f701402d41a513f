/**
 * Operations, one wiring for every engine (server or SQLite file): the operator tools'
 * directory, the backup schedule and the maintenance schedule. The engine renders the tools
 * (engines/operations.ts decides which); this phase registers the steps that ship and schedule
 * them. serverOperations.ts decides a server deployment's plan, deploy/sqliteDatabase.ts SQLite's.
 */
import * as pulumi from "@pulumi/pulumi";
import { renderInstallBackupSchedule, renderRemoveBackupSchedule, backupCronJob, type BackupScheduleSpec } from "../../backups/backupSchedule";
import { renderInstallCron, renderRemoveCron } from "../../backups/cronEntry";
import { offHostProgram } from "../../backups/offHostReview";
import type { OperationsEngine } from "../../engines/engine";
import type { ToolFile } from "../../engines/operations";
import { cronJobName, jobLogFile } from "../../model/naming";
import type { HostAccess } from "../../targets/access";
import { HostCommand } from "../../targets/hostCommand";
import { renderInstallTools, renderRemoveTools } from "../../targets/tools";
import { renderSaveFromEnvironment } from "../common";
import type { Placement } from "../container";
import type { StepContext } from "./context";

/** Where a deployment's steps run: its host, or its container and the Docker host's machine. */
export interface Reach {
  on: HostAccess;
  /** Its container on a Docker target: cron jobs then run on the Docker host and exec into it. */
  placed?: Placement;
}

/** A tools directory on one host and the step that installs it. */
export interface ToolsPlan {
  /** The step's name. */
  id: string;
  description: string;
  dir: string;
  tools: pulumi.Input<ToolFile[]>;
  /**
   * Secrets saved beside the tools as root-only files (a database owner's password for the
   * health tools), each from a variable of the step's environment. Absent: the step has no environment.
   */
  secretFiles?: { file: string; variable: string; value: pulumi.Input<string> }[];
}

/** What the operations phase registers; descriptions are what previews and errors call each step. */
export interface OperationsPlan {
  tools: ToolsPlan;
  backup?: { description: string; schedule: BackupScheduleSpec };
  maintenance?: { description: string; schedule: string };
}

/** The operator tools, then the backup and maintenance schedules that run them; returns the tools step. */
export function createOperations(ctx: StepContext, reach: Reach, plan: OperationsPlan, dependsOn: pulumi.Resource[]): HostCommand {
  const tools = createTools(ctx, reach.on, plan.tools, dependsOn);
  if (plan.backup) createBackupSchedule(ctx, reach, plan.backup.description, plan.backup.schedule, tools);
  if (plan.maintenance) createMaintenanceSchedule(ctx, reach, plan.maintenance.description, plan.maintenance.schedule, tools);
  return tools;
}

/** The command a cron job runs to start `tool` of the tools directory (inside the container, on a Docker target). */
export function cronCommand(ctx: StepContext, placed: Placement | undefined, tool: string): string {
  return placed ? placed.cronCommand(`${ctx.toolsDir}/${tool}`) : `${ctx.toolsDir}/${tool}`;
}

/** The backup schedule of the declared backups (none without): cron runs the `backup` tool. */
export function decideBackupSchedule(ctx: StepContext, engine: Pick<OperationsEngine<unknown>, "backupExtension">, placed: Placement | undefined): BackupScheduleSpec | undefined {
  return (
    ctx.backup && {
      name: ctx.name,
      jobName: cronJobName(ctx.prefix, ctx.kind, ctx.name, "backup"),
      policy: ctx.backup,
      script: cronCommand(ctx, placed, "backup"),
      extension: engine.backupExtension,
      allowDataRemoval: ctx.allowDataRemoval,
    }
  );
}

/** Installs a tools directory (the marker of the stack in it); destroy removes what it installed. */
export function createTools(ctx: StepContext, on: HostAccess, plan: ToolsPlan, dependsOn: pulumi.Resource[]): HostCommand {
  const secretFiles = plan.secretFiles;
  // The secret files are listed with the tools: destroy removes them, and the next up knows them.
  const install = (t: ToolFile[], adopt: boolean) => {
    const shipped = renderInstallTools(plan.dir, t, { owner: ctx.owner, adopt, files: secretFiles?.map((s) => s.file) });
    return { script: [shipped.script, ...(secretFiles ?? []).map((s) => renderSaveFromEnvironment(`${plan.dir}/${s.file}`, s.variable))].join("\n"), files: shipped.files };
  };
  const tools = pulumi.output(plan.tools);
  return new HostCommand(
    plan.id,
    {
      ...on,
      description: plan.description,
      create: tools.apply((t) => install(t, false).script),
      update: tools.apply((t) => install(t, true).script),
      files: tools.apply((t) => install(t, false).files),
      delete: renderRemoveTools(plan.dir, ctx.owner),
      environment: secretFiles && Object.fromEntries(secretFiles.map((s) => [s.variable, s.value])),
      review: { component: ctx.component },
    },
    { parent: ctx.parent, dependsOn },
  );
}

/** The backup schedule's cron entry (and the backup directory); destroy keeps the backups unless data removal is allowed. */
function createBackupSchedule(ctx: StepContext, reach: Reach, description: string, schedule: BackupScheduleSpec, tools: HostCommand): HostCommand {
  const { placed } = reach;
  // On a Docker host the cron job logs beside the host's other logs; the backups volume is its own step.
  const dockerJob = placed && { ...backupCronJob(schedule), logFile: jobLogFile(ctx.prefix, ctx.kind, ctx.name, "backup") };
  return new HostCommand(
    `${ctx.name}-backup-schedule`,
    {
      ...(placed?.machine ?? reach.on),
      description,
      create: dockerJob ? renderInstallCron(dockerJob) : renderInstallBackupSchedule(schedule),
      delete: dockerJob ? renderRemoveCron(dockerJob) : renderRemoveBackupSchedule(schedule),
      review: {
        component: ctx.component,
        backup: { schedule: schedule.policy.schedule, retentionDays: schedule.policy.retentionDays, ...(schedule.policy.offHostCommand ? { offHost: offHostProgram(schedule.policy.offHostCommand) } : {}) },
        dataBearing: !placed,
        dataRemovalAllowed: ctx.allowDataRemoval,
      },
    },
    { parent: ctx.parent, dependsOn: [tools] },
  );
}

/** The maintenance tool's cron entry. */
function createMaintenanceSchedule(ctx: StepContext, reach: Reach, description: string, schedule: string, tools: HostCommand): HostCommand {
  const job = {
    name: cronJobName(ctx.prefix, ctx.kind, ctx.name, "maintenance"),
    schedule,
    user: "root",
    script: cronCommand(ctx, reach.placed, "maintenance"),
    logFile: jobLogFile(ctx.prefix, ctx.kind, ctx.name, "maintenance"),
  };
  return new HostCommand(
    `${ctx.name}-maintenance-schedule`,
    { ...(reach.placed?.machine ?? reach.on), description, create: renderInstallCron(job), delete: renderRemoveCron(job), review: { component: ctx.component } },
    { parent: ctx.parent, dependsOn: [tools] },
  );
}
