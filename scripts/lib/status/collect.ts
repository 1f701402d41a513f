/**
 * Asks every member of a stack's deployments how it is, all at once: each member's probe runs on
 * its host through the one seam (runOnTarget: this machine, SSH with the pinned host keys, or
 * inside the container on a Docker host), the monitoring password in the probe's environment.
 * Only reads.
 */
import { renderMariadbStatusProbe } from "../../../components/engines/mariadb/monitoring";
import { renderPostgresStatusProbe } from "../../../components/engines/postgres/monitoring";
import { renderSqliteStatusProbe } from "../../../components/engines/sqlite/monitoring";
import { renderHookRecordProbe } from "../../../components/hooks/hookRecord";
import { MONITOR_PASSWORD_ENV, type MonitoringView, type SqliteMonitoringView } from "../../../components/model/monitoring";
import type { Target } from "../../../components/model/target";
import { runOnTarget } from "../../../components/targets/hostCommand";
import { describeTarget } from "../../../components/targets/target";
import type { StackView } from "../deploymentRefs";
import { parseProbeOutput } from "./probe";
import { judge, type EngineName, type MemberStatus, type StatusBounds, type StatusReport } from "./report";

/** One probe to run: where, with what, and how to read its answer. */
export interface ProbePlan {
  deployment: string;
  engine: EngineName;
  member: string;
  declaredRole: MemberStatus["declaredRole"];
  target: Target;
  script: string;
  /** The monitoring password, for the probe's environment. */
  password?: string;
  /** The backup bound, when this member's host keeps the deployment's backups. */
  maxAgeHours?: number;
}

export interface PlanOptions {
  deployment?: string;
  quickCheck: boolean;
  bounds: StatusBounds;
}

/** The outputs status reads, beside what deploymentRefs reads. */
type MonitoredOutputs = {
  postgres?: Record<string, { monitoring?: MonitoringView }>;
  mariadb?: Record<string, { monitoring?: MonitoringView }>;
  sqlite?: Record<string, { monitoring?: string }>;
};

/** A probe that also prints the hook records of `dir` (on the host that runs the hooks). */
function withHookRecords(script: string, dir: string | undefined): string {
  return dir === undefined ? script : `${script}\n${renderHookRecordProbe(dir)}\n`;
}

/** Every probe of the stack (of one deployment with `deployment`), in report order. Pure. */
export function planProbes(view: StackView, opts: PlanOptions): ProbePlan[] {
  const outputs = view.outputs as MonitoredOutputs;
  const plans: ProbePlan[] = [];
  const wanted = (name: string) => opts.deployment === undefined || opts.deployment === name;
  for (const engine of ["postgres", "mariadb"] as const) {
    for (const [name, out] of Object.entries(outputs[engine] ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      if (!wanted(name)) continue;
      const m = out.monitoring;
      if (!m) throw new Error(`${engine} ${name}: the stack has no monitoring output for it; run \`pulumi up\` with this version of dbstack first`);
      for (const member of m.members) {
        const backup = member.declaredRole === "primary" ? m.backup : undefined;
        const drillRecord = member.declaredRole === "primary" ? m.drillRecord : undefined;
        const common = { port: member.port, longTransactionSeconds: opts.bounds.longTransactionSeconds, backup, drillRecord };
        plans.push({
          deployment: name,
          engine,
          member: member.name,
          declaredRole: member.declaredRole,
          target: member.target,
          script: withHookRecords(engine === "postgres" ? renderPostgresStatusProbe(common) : renderMariadbStatusProbe({ ...common, databases: m.databases }), member.declaredRole === "primary" ? m.hookRecords : undefined),
          password: m.password,
          maxAgeHours: backup?.maxAgeHours,
        });
      }
    }
  }
  for (const [name, out] of Object.entries(outputs.sqlite ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (!wanted(name) || !out.monitoring) continue;
    const m = JSON.parse(out.monitoring) as SqliteMonitoringView;
    plans.push({
      deployment: name,
      engine: "sqlite",
      member: "file",
      declaredRole: "file",
      target: m.target,
      script: withHookRecords(renderSqliteStatusProbe({ path: m.path, quickCheck: opts.quickCheck, backup: m.backup }), m.hookRecords),
      maxAgeHours: m.backup?.maxAgeHours,
    });
  }
  if (opts.deployment !== undefined && plans.length === 0) throw new Error(`--deployment ${opts.deployment}: the stack ${view.stack} has no deployment of that name`);
  return plans;
}

/** The SSH key and pinned host keys of the machine a target runs on (from the stack's config and state). */
export function machineKeys(target: Target, view: StackView): { privateKey?: string; hostKeys?: string } {
  const machine = target.kind === "docker" ? target.on : target;
  if (!machine || machine.kind !== "ssh") return {};
  const host = machine.configKey?.replace(/^dbstack:hosts\./, "");
  const h = host === undefined ? undefined : view.config.hosts[host];
  return { privateKey: h?.privateKey, hostKeys: machine.hostKey ?? (host === undefined ? undefined : view.recordedHostKeys[host]) };
}

/** Runs one probe; a host that cannot be reached is a member that is down. */
async function runProbe(plan: ProbePlan, view: StackView, now: () => Date): Promise<MemberStatus> {
  const where = describeTarget(plan.target);
  const base = { deployment: plan.deployment, engine: plan.engine, member: plan.member, declaredRole: plan.declaredRole, where };
  try {
    const stdout = await runOnTarget(
      {
        target: plan.target,
        ...machineKeys(plan.target, view),
        description: `status of ${plan.engine} ${plan.deployment}/${plan.member}`,
        create: "",
        stdout: "",
        environment: plan.password === undefined ? undefined : { [MONITOR_PASSWORD_ENV]: plan.password },
      },
      plan.script,
    );
    return { ...base, ...parseProbeOutput(plan.engine, stdout, { maxAgeHours: plan.maxAgeHours, now: now() }) };
  } catch (err) {
    const why = (err as Error).message.split("\n").map((l) => l.trim()).filter(Boolean).slice(-1)[0] ?? "unreachable";
    return { ...base, reachable: false, error: `unreachable: ${why}` };
  }
}

/** Every member's status, asked in parallel, and the problems found. */
export async function collectStatus(view: StackView, opts: PlanOptions & { now?: () => Date }): Promise<StatusReport> {
  const now = opts.now ?? (() => new Date());
  const at = now().toISOString();
  const members = await Promise.all(planProbes(view, opts).map((p) => runProbe(p, view, now)));
  return { stack: view.stack, at, members, problems: judge(members, opts.bounds) };
}
