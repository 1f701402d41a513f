/**
 * Metrics (args.metrics): an exporter beside the primary and beside each standby, each one step
 * on its member's host (engines/exporter.ts renders everything it runs), logging in as the
 * deployment's monitoring account (phases/monitoring.ts); a generated scrape password (secret);
 * and the scrape targets the deployment exports. Nothing without `metrics`; removing the
 * declaration removes the steps, whose `delete` stops the exporters.
 */
import * as pulumi from "@pulumi/pulumi";
import { EXPORTERS, exporterId, hostPort, renderExporterProbe, renderExporterRemove, renderExporterStart, renderExporterTlsKey, renderScrapeConfig, scrapeHost, type ExporterSpec } from "../../engines/exporter";
import { DEFAULTS } from "../../model/defaults";
import { EXPORTER_PASSWORD_ENV, EXPORTER_TLS_CERT_ENV, type ScrapeTargets } from "../../model/metrics";
import { tlsNames } from "../../model/naming";
import { renewalPeriod } from "../../tls/lifetime";
import type { Configured } from "./configuration";
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

/**
 * With `auth: "tls"`, an exporter's certificate: its key made on its host (only the public key
 * travels), signed by the deployment's CA on the primary's host, valid for the address it is
 * scraped at. Signed again once per renewal window, as a standby's certificate is.
 */
function exporterCertificate<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, configured: Configured, spec: ExporterSpec, m: ExporterMember, scrapeAt: string, stepName: string): pulumi.Output<string> {
  const { engine, child } = ctx;
  // The preview's diagram draws these steps with the exporter they belong to.
  const review = { component: ctx.component, exporter: { member: m.member, name: EXPORTERS[engine.kind].name, listen: hostPort(spec.address, spec.port) } };
  const key = new HostCommand(
    `${stepName}-tls-key`,
    { ...m.on, description: `TLS key of the ${EXPORTERS[engine.kind].name} of ${m.member}`, create: renderExporterTlsKey(spec), review },
    { ...child, dependsOn: m.after },
  );
  const names = tlsNames([scrapeAt, m.address]);
  const certificate = new HostCommand(
    `${stepName}-tls-certificate`,
    {
      ...host.on,
      description: `TLS certificate of the ${EXPORTERS[engine.kind].name} of ${m.member}, signed on ${host.where}`,
      create: pulumi.all([host.at, key.stdout]).apply(([l, publicKey]) => engine.renderSignStandbyCertificate(l as Loc, { name: `exporter-${m.member}`, publicKey, names, lifetime: configured.lifetime })),
      triggers: [renewalPeriod(new Date(), configured.lifetime.certificateDays)],
      review,
    },
    { ...child, dependsOn: [configured.ca] },
  );
  return certificate.stdout;
}

/** Starts an exporter beside every member, after the monitoring account exists (and each standby follows). */
export function createMetrics<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, monitoring: Monitoring, standbys: Standbys, configured?: Configured): Metrics {
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
  const tls = (declared.auth ?? DEFAULTS.metrics.auth) === "tls";
  if (tls && !configured) throw new Error(`${name}: metrics.exporter.auth "tls" needs the deployment's CA`);
  for (const m of members) {
    const spec: ExporterSpec = { kind: engine.kind, id: exporterId(ctx.prefix, engine.kind, name, m.member), address: listen, port: m.port, serverPort: m.serverPort, owner: ctx.owner, ...(tls ? { tls } : {}) };
    const stepName = m.member === "primary" ? `${name}-exporter` : `${name}-${m.member}-exporter`;
    const certificate = tls && configured ? exporterCertificate(ctx, host, configured, spec, m, scrapeHost(listen, m.address), stepName) : undefined;
    new HostCommand(
      stepName,
      {
        ...m.on,
        description: `${EXPORTERS[engine.kind].name} of ${m.member === "primary" ? ctx.what : `standby ${m.member}`} on ${hostPort(listen, m.port)}`,
        create: renderExporterStart(spec),
        delete: renderExporterRemove(spec),
        probe: renderExporterProbe(spec),
        environment: { [MONITOR_PASSWORD_ENV]: monitorPassword, [EXPORTER_PASSWORD_ENV]: password, ...(certificate ? { [EXPORTER_TLS_CERT_ENV]: certificate } : {}) },
        review: { component: ctx.component, exporter: { member: m.member, name: EXPORTERS[engine.kind].name, listen: hostPort(listen, m.port) } },
      },
      { ...child, dependsOn: m.after },
    );
  }
  const job = `${engine.kind}-${name}`;
  const plain = {
    job,
    exporter: EXPORTERS[engine.kind].name,
    scheme: tls ? ("https" as const) : ("http" as const),
    metricsPath: "/metrics" as const,
    username: DEFAULTS.metrics.username,
    targets: members.map((m) => ({ member: m.member, target: hostPort(scrapeHost(listen, m.address), m.port) })),
  };
  const scrapeConfig = renderScrapeConfig(plain, `/etc/prometheus/${job}.password`);
  const targets = tls && configured ? configured.ca.stdout.apply((caCertificate): ScrapeTargets => ({ ...plain, scrapeConfig, caCertificate })) : pulumi.output<ScrapeTargets>({ ...plain, scrapeConfig });
  return { targets, password: pulumi.secret(password) };
}
