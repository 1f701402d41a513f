/**
 * Metrics (args.metrics): an exporter beside the primary and beside each standby, each one step
 * on its member's host (engines/exporter.ts renders everything it runs), logging in as the
 * deployment's monitoring account (phases/monitoring.ts); a generated scrape password (secret);
 * and the scrape targets the deployment exports. Nothing without `metrics`; removing the
 * declaration removes the steps, whose `delete` stops the exporters.
 */
import * as pulumi from "@pulumi/pulumi";
import { EXPORTERS, exporterId, hostPort, renderExporterProbe, renderExporterRemove, renderExporterStart, renderScrapeConfig, scrapeHost, type ExporterSpec } from "../../engines/exporter";
import { DEFAULTS } from "../../model/defaults";
import { EXPORTER_PASSWORD_ENV, type ScrapeTargets } from "../../model/metrics";
import { MONITOR_PASSWORD_ENV } from "../../model/monitoring";
import { GeneratedPassword } from "../../secrets/generatedPassword";
import type { HostAccess } from "../../targets/access";
import { HostCommand } from "../../targets/hostCommand";
import type { ServerContext } from "./context";
import type { Monitoring } from "./monitoring";
import type { PrimaryHost } from "./placement";
import type { Standbys } from "./standbys";

/** The deployment's exporters once running: its scrape targets (null without `metrics`) and the scrape password (secret). */
export interface Metrics {
  targets: pulumi.Output<ScrapeTargets | null>;
  password: pulumi.Output<string | null>;
}

/** One member's exporter: where it runs and what it waits for. */
interface ExporterMember {
  member: string;
  on: HostAccess;
  address: string;
  port: number;
  serverPort: number;
  after: pulumi.Resource[];
}

/** Starts an exporter beside every member, after the monitoring account exists (and each standby follows). */
export function createMetrics<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, monitoring: Monitoring, standbys: Standbys): Metrics {
  const { engine, name, args, child } = ctx;
  const declared = args.metrics?.exporter;
  if (!declared) return { targets: pulumi.output(null), password: pulumi.output(null) };
  const password = new GeneratedPassword(`${name}-exporter-password`, {}, child).result;
  const monitorPassword = monitoring.view.apply((v) => v.password);
  const listen = declared.address ?? DEFAULTS.metrics.address;
  const members: ExporterMember[] = [
    { member: "primary", on: host.on, address: host.address, port: declared.port, serverPort: ctx.port, after: [monitoring.step] },
    ...ctx.standbys.map((s) => {
      const m = standbys.standbyMembers[s.name];
      return { member: s.name, on: m.on ?? { target: m.target }, address: s.address.replace(/\/\d+$/, ""), port: declared.standbyPorts?.[s.name] ?? declared.port, serverPort: m.port, after: [monitoring.step, ...standbys.replicationReady] };
    }),
  ];
  for (const m of members) {
    const spec: ExporterSpec = { kind: engine.kind, id: exporterId(ctx.prefix, engine.kind, name, m.member), address: listen, port: m.port, serverPort: m.serverPort, owner: ctx.owner };
    new HostCommand(
      m.member === "primary" ? `${name}-exporter` : `${name}-${m.member}-exporter`,
      {
        ...m.on,
        description: `${EXPORTERS[engine.kind].name} of ${m.member === "primary" ? ctx.what : `standby ${m.member}`} on ${hostPort(listen, m.port)}`,
        create: renderExporterStart(spec),
        delete: renderExporterRemove(spec),
        probe: renderExporterProbe(spec),
        environment: { [MONITOR_PASSWORD_ENV]: monitorPassword, [EXPORTER_PASSWORD_ENV]: password },
        review: { component: ctx.component, exporter: { member: m.member, name: EXPORTERS[engine.kind].name, listen: hostPort(listen, m.port) } },
      },
      { ...child, dependsOn: m.after },
    );
  }
  const job = `${engine.kind}-${name}`;
  const plain = {
    job,
    exporter: EXPORTERS[engine.kind].name,
    scheme: "http" as const,
    metricsPath: "/metrics" as const,
    username: DEFAULTS.metrics.username,
    targets: members.map((m) => ({ member: m.member, target: hostPort(scrapeHost(listen, m.address), m.port) })),
  };
  const targets = pulumi.output<ScrapeTargets>({ ...plain, scrapeConfig: renderScrapeConfig(plain, `/etc/prometheus/${job}.password`) });
  return { targets, password: pulumi.secret(password) };
}
