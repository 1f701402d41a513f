/**
 * Point-in-time recovery of a server deployment (its `pitr`): the repository's cipher secret, the
 * setup step (repository, archiving, first backup) and the cron jobs of full and differential
 * backups and of the restore drill. The engine renders everything (engines/pitr.ts); the tools
 * ship with the deployment's other tools (serverOperations.ts, pitrToolFiles).
 */
import * as pulumi from "@pulumi/pulumi";
import { drillScheduleAfter } from "../../backups/drillSchedule";
import { CRON_DIR, renderInstallCron, renderRemoveCron, type CronJob } from "../../backups/cronEntry";
import { drillsDir, parseDrillResult, type DrillResult } from "../../backups/drillResult";
import { defaultBackupMaxAgeHours } from "../../backups/schedule";
import type { PitrSpec } from "../../engines/pitr";
import type { ToolFile } from "../../engines/operations";
import { DEFAULTS } from "../../model/defaults";
import { hostSlug, jobLogFile } from "../../model/naming";
import { GeneratedPassword } from "../../secrets/generatedPassword";
import { HostCommand, runOnTarget } from "../../targets/hostCommand";
import { shellQuote } from "../../shell";
import type { ServerContext } from "./context";
import type { PrimaryHost } from "./placement";

/** The onFailure command's file beside the drill tool. */
export const DRILL_ON_FAILURE_FILE = "pitr-drill.on-failure";

/** A deployment's PITR plan: the renderers' spec and the schedules, every default applied. */
export interface PitrPlan {
  spec: PitrSpec;
  fullSchedule: string;
  diffSchedule: string;
  drillSchedule: string;
  /** The declared onFailure command (the user's text, shipped as a 0600 file). */
  onFailure?: string;
}

/** The repository's default directory: `/var/lib/dbstack-pitr/<prefix>-<engine>-<name>`. */
export function defaultPitrDir(prefix: string, ctx: { kind: ServerContext<unknown>["kind"]; name: string }): string {
  return `/var/lib/dbstack-pitr/${prefix}-${hostSlug(ctx.kind, ctx.name)}`;
}

/** The PITR plan of the declared `pitr` (none without). */
export function decidePitr(ctx: ServerContext<unknown>): PitrPlan | undefined {
  const p = ctx.args.pitr;
  if (!p) return undefined;
  const stanza = `${ctx.prefix}-${ctx.name}`;
  const diffSchedule = p.diffSchedule ?? DEFAULTS.pitr.diffSchedule;
  return {
    spec: {
      name: ctx.name,
      stanza,
      confFile: `/etc/dbstack-pitr/${stanza}.conf`,
      dir: p.dir ?? defaultPitrDir(ctx.prefix, ctx),
      archiveTimeoutS: p.archiveTimeoutS ?? DEFAULTS.pitr.archiveTimeoutS,
      retentionFull: p.retentionFull ?? DEFAULTS.pitr.retentionFull,
      encrypt: p.encrypt ?? DEFAULTS.pitr.encrypt,
      databases: ctx.args.databases.map((d) => d.name),
      drillPort: p.drill?.port,
      drillHistory: DEFAULTS.pitr.drillHistory,
      onFailureFile: p.drill?.onFailure === undefined ? undefined : `${ctx.toolsDir}/${DRILL_ON_FAILURE_FILE}`,
    },
    fullSchedule: p.fullSchedule ?? DEFAULTS.pitr.fullSchedule,
    diffSchedule,
    drillSchedule: p.drill?.schedule ?? drillScheduleAfter(diffSchedule),
    onFailure: p.drill?.onFailure,
  };
}

/** The PITR tools of the deployment at the primary's location, with the onFailure file (0600); none without `pitr`. */
export function pitrToolFiles<Loc>(ctx: ServerContext<Loc>, loc: Loc): ToolFile[] {
  const plan = decidePitr(ctx as ServerContext<unknown>);
  if (!plan || !ctx.engine.pitr) return [];
  const onFailure: ToolFile[] = plan.onFailure === undefined ? [] : [[DRILL_ON_FAILURE_FILE, plan.onFailure.endsWith("\n") ? plan.onFailure : `${plan.onFailure}\n`, "0600"]];
  return [...ctx.engine.pitr.tools(loc, plan.spec), ...onFailure];
}

/** The cron jobs: full and differential backups, and the drill; root runs the tools, output to the deployment's logs. */
export function pitrCronJobs(ctx: { prefix: string; kind: ServerContext<unknown>["kind"]; name: string; toolsDir: string }, plan: PitrPlan): CronJob[] {
  const job = (what: string, schedule: string, command: string): CronJob => ({
    name: `${ctx.prefix}-${hostSlug(ctx.kind, ctx.name)}-pitr-${what}`.replace(/[^A-Za-z0-9_-]/g, "-"),
    schedule,
    user: "root",
    script: command,
    logFile: jobLogFile(ctx.prefix, ctx.kind, ctx.name, `pitr-${what}`),
  });
  return [
    job("full", plan.fullSchedule, `${ctx.toolsDir}/pitr-backup full`),
    job("diff", plan.diffSchedule, `${ctx.toolsDir}/pitr-backup diff`),
    job("drill", plan.drillSchedule, `${ctx.toolsDir}/pitr-drill`),
  ];
}

/** Where the health check finds the last drill's result, and how old it may be (none without `pitr`). */
export function pitrDrillTarget(ctx: ServerContext<unknown>): { file: string; maxAgeHours: number; cronFile: string } | undefined {
  const plan = decidePitr(ctx);
  if (!plan || !ctx.engine.pitr) return undefined;
  const drillJob = pitrCronJobs(ctx, plan).find((j) => j.name.endsWith("-pitr-drill"))!;
  return { file: `${drillsDir(plan.spec.dir)}/last.json`, maxAgeHours: defaultBackupMaxAgeHours(plan.drillSchedule), cronFile: `${CRON_DIR}/${drillJob.name}` };
}

/**
 * The last drill's result as the host has it when the program runs (preview and up), read-only
 * through the seam's runner; null without `pitr`, before the first drill, or when it cannot be
 * read. An output, not a step: a new result changes no resource.
 */
export function readLastDrill<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>): pulumi.Output<DrillResult | null> {
  const drill = pitrDrillTarget(ctx as ServerContext<unknown>);
  if (!drill) return pulumi.output(null);
  return pulumi.all([host.on.target, host.on.privateKey, host.on.hostKeys]).apply(async ([target, privateKey, hostKeys]) => {
    const script = `cat ${shellQuote(drill.file)} 2>/dev/null || true`;
    try {
      return parseDrillResult(await runOnTarget({ target, privateKey, hostKeys, description: `last restore drill of ${ctx.what}`, create: script, stdout: "" }, script));
    } catch {
      return null;
    }
  });
}

/**
 * Registers the PITR steps after `after` (the tools and every other step on the primary: the setup
 * restarts the server when archive_mode changes); returns the setup step (none without `pitr`).
 */
export function createPitr<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, after: pulumi.Resource[]): HostCommand | undefined {
  const plan = decidePitr(ctx as ServerContext<unknown>);
  const pitr = ctx.engine.pitr;
  if (!plan || !pitr) return undefined;
  const cipher = plan.spec.encrypt ? new GeneratedPassword(`${ctx.name}-pitr-cipher`, { length: 64 }, { parent: ctx.parent }).result : undefined;
  const setup = new HostCommand(
    `${ctx.name}-pitr`,
    {
      ...host.on,
      description: `point-in-time recovery of ${ctx.what} (pgBackRest stanza ${plan.spec.stanza}, archive_timeout ${plan.spec.archiveTimeoutS}s)`,
      create: host.at.apply((l) => pitr.renderSetup(l, plan.spec, ctx.toolsDir)),
      delete: host.at.apply((l) => pitr.renderRemove(l, plan.spec, ctx.allowDataRemoval)),
      environment: cipher && { [pitr.cipherVariable]: cipher },
      review: { component: ctx.component, dataBearing: true, dataRemovalAllowed: ctx.allowDataRemoval, restartParameters: { archive_mode: "on", wal_level: "replica" }, pitr: { rpoS: plan.spec.archiveTimeoutS, drillSchedule: plan.drillSchedule } },
    },
    { parent: ctx.parent, dependsOn: after },
  );
  const jobs = pitrCronJobs(ctx, plan);
  new HostCommand(
    `${ctx.name}-pitr-schedule`,
    {
      ...host.on,
      description: `point-in-time recovery schedule of ${ctx.what}: full ${plan.fullSchedule}, diff ${plan.diffSchedule}, drill ${plan.drillSchedule}`,
      create: jobs.map(renderInstallCron).join("\n"),
      delete: jobs.map(renderRemoveCron).join("\n"),
      review: { component: ctx.component },
    },
    { parent: ctx.parent, dependsOn: [setup] },
  );
  return setup;
}
