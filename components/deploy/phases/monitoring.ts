/**
 * Monitoring: the least-privilege monitoring account on the primary (replication carries it to
 * the standbys), and what status needs to know of the deployment (model/monitoring.ts): each
 * member's host and port, the account and its password, the backups. The password is a secret
 * output; it reaches the primary in the step's environment only.
 */
import * as pulumi from "@pulumi/pulumi";
import { hookRecordsDir } from "../../hooks/hookRecord";
import { MONITOR_PASSWORD_ENV, MONITOR_USER, type MonitoringView } from "../../model/monitoring";
import { GeneratedPassword } from "../../secrets/generatedPassword";
import { HostCommand } from "../../targets/hostCommand";
import type { Configured } from "./configuration";
import type { ServerContext } from "./context";
import type { PrimaryHost } from "./placement";
import type { Standbys } from "./standbys";
import { pitrDrillTarget } from "./pitr";

/** The monitoring account once made, and the deployment as status sees it (a secret). */
export interface Monitoring {
  step: HostCommand;
  view: pulumi.Output<MonitoringView>;
}

/** Creates the monitoring account on the primary, after its configuration. */
export function createMonitoring<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, configured: Configured, standbys: Standbys): Monitoring {
  const { engine, name, args, what, component, child, backup, port } = ctx;
  const password = new GeneratedPassword(`${name}-monitor-password`, {}, child).result;
  const step = new HostCommand(
    `${name}-monitor`,
    {
      ...host.on,
      description: `monitoring account of ${what}`,
      create: host.at.apply((l) => engine.renderMonitorAccount(l, MONITOR_PASSWORD_ENV)),
      environment: { [MONITOR_PASSWORD_ENV]: password },
      review: { component },
    },
    { ...child, dependsOn: [configured.config] },
  );
  const view = password.apply(
    (pw): MonitoringView => ({
      engine: engine.kind,
      user: MONITOR_USER,
      password: pw,
      databases: args.databases.map((d) => d.name),
      backup: backup && { dir: backup.dir, prefix: name, maxAgeHours: backup.maxAgeHours },
      drillRecord: pitrDrillTarget(ctx)?.file,
      members: [
        { name: "primary", declaredRole: "primary", target: host.on.target, port },
        ...Object.entries(standbys.standbyMembers).map(([s, m]) => ({ name: s, declaredRole: "standby" as const, target: m.target, port: m.port })),
      ],
      hookRecords: hookRecordsDir(ctx.toolsDir),
    }),
  );
  return { step, view: pulumi.secret(view) };
}
