/**
 * Configuration: the host's measured facts, the tuned parameters, network access, the
 * deployment's TLS certificate authority and the primary's configuration (and, in a container,
 * its start and stop scripts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { AccessModel, InstanceConfig } from "../../engines/engine";
import { DEFAULTS } from "../../model/defaults";
import { tlsNames } from "../../model/naming";
import { HostCommand } from "../../targets/hostCommand";
import { HostFactsReading } from "../../targets/hostFacts";
import type { Target } from "../../targets/target";
import { certificateLifetime, declaredCertificateNotice, type CertificateLifetime } from "../../tls/lifetime";
import { ArgumentError } from "../../validate";
import { accessIn } from "../container";
import type { ServerContext } from "./context";
import { createContainerScripts, type PrimaryHost } from "./placement";

/** The primary once configured: what standbys copy and what hooks and tools wait for. */
export interface Configured {
  /** The primary's configuration; standbys get its tuning. */
  primaryConfig: pulumi.Output<InstanceConfig>;
  /** The values of restart-only parameters (for the preview). */
  restartValues: pulumi.Output<Record<string, string>>;
  /** The primary's network access as declared (before a container's). */
  access: AccessModel;
  /** The declared listen addresses. */
  declaredListen: string[];
  lifetime: CertificateLifetime;
  /** The CA step; its output is the CA's certificate (public). */
  ca: HostCommand;
  /** The configure step; its output says what it did. */
  config: HostCommand;
}

/** Tunes and configures the primary, with the deployment's CA on its host. */
export function createConfiguration<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>): Configured {
  const { engine, name, args, what, component, child } = ctx;
  const { on, where, placed, at } = host;
  const planned = planConfiguration(ctx, host);
  const { primaryConfig, restartValues, lifetime, ca } = planned;
  const tlsEnv = args.tls ? { DBSTACK_TLS_CERT: givenCertificate(args.tls.certificate, ctx.parent), DBSTACK_TLS_KEY: args.tls.privateKey } : undefined;
  const config = new HostCommand(
    `${name}-config`,
    {
      ...on,
      description: `configuration of ${what} on ${where}`,
      create: pulumi.all([at, primaryConfig]).apply(([l, c]) => engine.renderConfigure(l as Loc, c)),
      // A server that is down (stopped from outside, or by a failed up) re-runs the step, which starts it.
      probe: at.apply((l) => engine.renderServingProbe(l, args.tls ? undefined : lifetime.certificateDays)),
      environment: tlsEnv,
      review: restartValues.apply((r) => ({ component, restartParameters: r })),
    },
    { ...child, dependsOn: [host.instance, ca] },
  );
  if (placed) createContainerScripts(ctx, `${name}-boot`, on, at, config);
  return { ...planned, config };
}

/** The configuration before its step: the host's tuning, access, and the deployment's CA (on the primary's host). */
export function planConfiguration<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>): Omit<Configured, "config"> {
  const { engine, name, args, port, standbys, what, component, child } = ctx;
  const { on, where, placed, at } = host;
  // Memory and CPUs are read on every run, so a resized host is retuned (and the preview says so).
  const live = new HostFactsReading(`${name}-host-facts`, on, child);
  const tuned = pulumi.all([host.facts, live.memoryMb, live.cpus]).apply(([f, memoryMb, cpus]) =>
    engine.tune(
      {
        // A container's declared limits are what the server may use.
        memoryMb: args.hostFacts?.memoryMb ?? args.container?.memoryMb ?? memoryMb ?? f.memoryMb,
        cpus: args.hostFacts?.cpus ?? (args.container?.cpus === undefined ? undefined : Math.max(1, Math.floor(args.container.cpus))) ?? cpus ?? f.cpus,
        storage: args.hostFacts?.storage ?? DEFAULTS.server.storage,
      },
      { workload: args.workload ?? DEFAULTS.server.workload, maxConnections: args.maxConnections ?? DEFAULTS.server.maxConnections, version: f.version, overrides: args.parameters ?? {} },
    ),
  );
  const declaredListen = args.listenAddresses ?? [...DEFAULTS.server.listenAddresses];
  const lifetime = certificateLifetime(args.certificateLifetime);
  const access = {
    listenAddresses: declaredListen,
    allowedCidrs: args.allowedCidrs ?? [...DEFAULTS.server.allowedCidrs],
    standbyAddresses: standbys.map((s) => s.address),
    replicationUser: engine.replicationUser,
  };
  const networks = placed?.networks ?? pulumi.output([] as string[]);
  const primaryConfig = pulumi.all([tuned, networks]).apply(
    ([t, nets]): InstanceConfig => ({
      tuned: t,
      access: accessIn(access, placed, nets),
      role: "primary",
      serverId: 1,
      hasStandbys: standbys.length > 0,
      tls: { names: tlsNames([host.address, ...sshHost(ctx.target), ...access.listenAddresses]), lifetime },
      archiving: args.pitr !== undefined,
    }),
  );
  const restartValues = pulumi.all([host.version, primaryConfig]).apply(([v, c]) => engine.restartValues(v, c, port));
  // The deployment's CA lives on the primary's host only; its certificate is public.
  const ca = new HostCommand(
    `${name}-ca`,
    {
      ...on,
      description: `TLS certificate authority of ${what} on ${where}`,
      create: at.apply((l) => engine.renderCa(l, lifetime)),
      // A CA certificate due for renewal re-runs the step, which renews it (same key) and prints the new one.
      probe: at.apply((l) => engine.renderCaProbe(l, lifetime)),
      review: { component },
    },
    { ...child, dependsOn: [host.instance] },
  );
  return { primaryConfig, restartValues, access, declaredListen, lifetime, ca };
}

/** A target's SSH host name, which certificates of a host reached over SSH are valid for. */
export function sshHost(target: Target): string[] {
  return target.kind === "ssh" ? [target.host] : [];
}

/** A certificate the user gives is theirs to renew: an expired one fails the up, one about to expire warns. */
function givenCertificate(certificate: pulumi.Input<string>, parent: pulumi.Resource): pulumi.Output<string> {
  return pulumi.output(certificate).apply((pem) => {
    const notice = declaredCertificateNotice(pem, new Date());
    if (notice.error) throw new ArgumentError(notice.error);
    if (notice.warning) pulumi.log.warn(notice.warning, parent);
    return pem;
  });
}
