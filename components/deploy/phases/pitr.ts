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
import type { PitrRemoteSpec, PitrSpec, PitrStandbySpec } from "../../engines/pitr";
import type { ToolFile } from "../../engines/operations";
import { DEFAULTS } from "../../model/defaults";
import { hostSlug, jobLogFile } from "../../model/naming";
import { GeneratedPassword } from "../../secrets/generatedPassword";
import { GeneratedSshKey } from "../../secrets/generatedSshKey";
import { hostAccess } from "../../targets/access";
import { HostCommand, runOnTarget } from "../../targets/hostCommand";
import { shellQuote } from "../../shell";
import type { ServerContext } from "./context";
import type { PrimaryHost } from "./placement";
import type { Standbys } from "./standbys";

/** The onFailure command's file beside the drill tool. */
export const DRILL_ON_FAILURE_FILE = "pitr-drill.on-failure";

/** A deployment's PITR plan: the renderers' spec and the schedules, every default applied. */
export interface PitrPlan {
  spec: PitrSpec;
  fullSchedule: string;
  /** Differential backups' schedule; undefined when the engine takes full backups only. */
  diffSchedule?: string;
  drillSchedule: string;
  /** The declared onFailure command (the user's text, shipped as a 0600 file). */
  onFailure?: string;
  /** The archiver's command (under the tools directory) cron runs on DEFAULTS.pitr.archiveSchedule; undefined when the server archives. */
  archiveCommand?: string;
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
  const fullOnly = ctx.engine.pitr?.fullOnly ?? false;
  const fullSchedule = p.fullSchedule ?? (fullOnly ? DEFAULTS.pitr.fullOnlySchedule : DEFAULTS.pitr.fullSchedule);
  const diffSchedule = fullOnly ? undefined : (p.diffSchedule ?? DEFAULTS.pitr.diffSchedule);
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
      remote: decideRepositoryHost(ctx, stanza),
    },
    fullSchedule,
    diffSchedule,
    drillSchedule: p.drill?.schedule ?? drillScheduleAfter(diffSchedule ?? fullSchedule),
    onFailure: p.drill?.onFailure,
    archiveCommand: ctx.engine.pitr?.archiveCommand,
  };
}

/**
 * The repository host's part of the spec (pitr.repositoryHost); undefined without one. Its files
 * sit under /etc/dbstack-pitr named for the stanza, apart from the database host's (the two hosts
 * may share a file system, as the test hosts do).
 */
export function decideRepositoryHost(ctx: ServerContext<unknown>, stanza: string): PitrRemoteSpec | undefined {
  const r = ctx.args.pitr?.repositoryHost;
  const engine = ctx.engine.pitr?.repositoryHost;
  const primary = ctx.args.target;
  if (!r || !engine || r.target.kind !== "ssh" || primary?.kind !== "ssh") return undefined;
  return {
    host: r.target.host,
    port: r.target.port ?? 22,
    user: engine.user,
    home: engine.home,
    dir: r.dir ?? defaultPitrDir(ctx.prefix, ctx),
    confFile: `/etc/dbstack-pitr/${stanza}.repository.conf`,
    sshDir: `/etc/dbstack-pitr/${stanza}.repository-ssh`,
    dbHost: primary.host,
    dbPort: primary.port ?? 22,
    dbSshDir: `/etc/dbstack-pitr/${stanza}.ssh`,
  };
}

/**
 * The repository host's step (before the setup, which archives to it and creates the stanza
 * there) and the environment the database host's setup takes: its key, the repository host's
 * public key and pinned host keys. Undefined without a repository host.
 */
function createRepositoryHost<Loc>(
  ctx: ServerContext<Loc>,
  host: PrimaryHost<Loc>,
  plan: PitrPlan,
  cipher: pulumi.Output<string> | undefined,
  after: pulumi.Resource[],
  standbyMembers: Standbys["standbyMembers"],
): { step: HostCommand; standbySteps: HostCommand[]; environment: Record<string, pulumi.Input<string>> } | undefined {
  const engine = ctx.engine.pitr;
  const rh = engine?.repositoryHost;
  const r = ctx.args.pitr?.repositoryHost;
  if (!plan.spec.remote || !engine || !rh || !r) return undefined;
  const comments = rh.keyComments(plan.spec);
  const dbKey = new GeneratedSshKey(`${ctx.name}-pitr-db-key`, { comment: comments.db }, { parent: ctx.parent });
  const repoKey = new GeneratedSshKey(`${ctx.name}-pitr-repository-key`, { comment: comments.repo }, { parent: ctx.parent });
  const access = hostAccess(`${ctx.name}-pitr-repository`, r.target, ctx.parent);
  const v = rh.variables;
  const remote = plan.spec.remote;
  // Backups are taken from the standbys on SSH hosts (pgBackRest's backup-standby), when there are any.
  const members = Object.entries(standbyMembers).filter(([, m]) => m.target.kind === "ssh" && m.on && m.at);
  const standbySpecs = pulumi.all(members.map(([, m]) => m.at!)).apply((locs) =>
    members.map(([name, m], i): PitrStandbySpec => {
      const t = m.target as Extract<typeof m.target, { kind: "ssh" }>;
      const at = rh.standbyOf(locs[i] as Loc);
      return { name, host: t.host, sshPort: t.port ?? 22, ...at, confFile: `/etc/dbstack-pitr/${plan.spec.stanza}.standby-${name.replace(/[^A-Za-z0-9_-]/g, "-")}.conf` };
    }),
  );
  const withStandbys = (standbys: PitrStandbySpec[]): PitrSpec => ({ ...plan.spec, remote: { ...remote, standbys } });
  const standbySteps = members.map(
    ([name, m], i) =>
      new HostCommand(
        `${ctx.name}-pitr-standby-${name}`,
        {
          ...m.on!,
          description: `pgBackRest on standby ${name} of ${ctx.what}: backups are taken from it`,
          create: standbySpecs.apply((ss) => rh.renderStandby(withStandbys(ss), ss[i])),
          delete: standbySpecs.apply((ss) => rh.renderStandbyRemove(withStandbys(ss), ss[i])),
          environment: { [v.peerKey]: repoKey.publicKey },
          review: { component: ctx.component },
        },
        { parent: ctx.parent, dependsOn: after },
      ),
  );
  const standbyHostKeys = Object.fromEntries(members.map(([, m], i) => [rh.standbyHostKeysVariable(i), pulumi.output(m.on!.hostKeys ?? "")]));
  const step = new HostCommand(
    `${ctx.name}-pitr-repository`,
    {
      ...access,
      description: `pgBackRest repository host of ${ctx.what}: ${plan.spec.remote.dir} on ${plan.spec.remote.host}`,
      create: pulumi.all([host.at, standbySpecs]).apply(([l, ss]) => rh.renderSetup(l as Loc, withStandbys(ss))),
      delete: pulumi.all([host.at, standbySpecs]).apply(([l, ss]) => rh.renderRemove(l as Loc, withStandbys(ss), ctx.allowDataRemoval)),
      environment: { ...(cipher ? { [engine.cipherVariable]: cipher } : {}), [v.privateKey]: repoKey.privateKey, [v.peerKey]: dbKey.publicKey, [v.peerHostKeys]: pulumi.output(host.on.hostKeys ?? ""), ...standbyHostKeys },
      review: { component: ctx.component, dataBearing: true, dataRemovalAllowed: ctx.allowDataRemoval },
    },
    { parent: ctx.parent, dependsOn: after },
  );
  return { step, standbySteps, environment: { [v.privateKey]: dbKey.privateKey, [v.peerKey]: repoKey.publicKey, [v.peerHostKeys]: pulumi.output(access.hostKeys ?? "") } };
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
    ...(plan.diffSchedule === undefined ? [] : [job("diff", plan.diffSchedule, `${ctx.toolsDir}/pitr-backup diff`)]),
    job("drill", plan.drillSchedule, `${ctx.toolsDir}/pitr-drill`),
    ...(plan.archiveCommand === undefined ? [] : [job("archive", DEFAULTS.pitr.archiveSchedule, `${ctx.toolsDir}/${plan.archiveCommand}`)]),
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
export function createPitr<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, after: pulumi.Resource[], standbyMembers: Standbys["standbyMembers"] = {}): HostCommand | undefined {
  const plan = decidePitr(ctx as ServerContext<unknown>);
  const pitr = ctx.engine.pitr;
  if (!plan || !pitr) return undefined;
  const cipher = plan.spec.encrypt ? new GeneratedPassword(`${ctx.name}-pitr-cipher`, { length: 64 }, { parent: ctx.parent }).result : undefined;
  const account = pitr.accountVariable ? new GeneratedPassword(`${ctx.name}-pitr-account`, { length: 32 }, { parent: ctx.parent }).result : undefined;
  const remote = createRepositoryHost(ctx, host, plan, cipher, after, standbyMembers);
  // With a repository host, the cipher secret lives there only.
  const ownCipher = remote ? undefined : cipher;
  const setup = new HostCommand(
    `${ctx.name}-pitr`,
    {
      ...host.on,
      description: `point-in-time recovery of ${ctx.what} (${pitr.describe(plan.spec)})`,
      create: host.at.apply((l) => pitr.renderSetup(l, plan.spec, ctx.toolsDir)),
      delete: host.at.apply((l) => pitr.renderRemove(l, plan.spec, ctx.allowDataRemoval)),
      environment: ownCipher || account || remote ? { ...(ownCipher ? { [pitr.cipherVariable]: ownCipher } : {}), ...(account && pitr.accountVariable ? { [pitr.accountVariable]: account } : {}), ...(remote?.environment ?? {}) } : undefined,
      review: { component: ctx.component, dataBearing: true, dataRemovalAllowed: ctx.allowDataRemoval, restartParameters: pitr.restartParameters, pitr: { rpoS: plan.spec.archiveTimeoutS, drillSchedule: plan.drillSchedule } },
    },
    { parent: ctx.parent, dependsOn: remote ? [...after, remote.step, ...remote.standbySteps] : after },
  );
  const jobs = pitrCronJobs(ctx, plan);
  new HostCommand(
    `${ctx.name}-pitr-schedule`,
    {
      ...host.on,
      description: `point-in-time recovery schedule of ${ctx.what}: full ${plan.fullSchedule}${plan.diffSchedule === undefined ? "" : `, diff ${plan.diffSchedule}`}, drill ${plan.drillSchedule}${plan.archiveCommand === undefined ? "" : `, binary logs archived every ${plan.spec.archiveTimeoutS}s`}`,
      create: jobs.map(renderInstallCron).join("\n"),
      delete: jobs.map(renderRemoveCron).join("\n"),
      review: { component: ctx.component },
    },
    { parent: ctx.parent, dependsOn: [setup] },
  );
  return setup;
}
