/**
 * Standbys: the replication role on the primary, then each standby on its own host (packages,
 * instance cloned or seeded from the primary, its TLS key and certificate, the primary's tuning,
 * replication, its `promote` tool). createStandby builds one.
 */
import * as pulumi from "@pulumi/pulumi";
import type { InstanceConfig, InstanceSpec, StandbySource } from "../../engines/engine";
import type { ToolFile } from "../../engines/operations";
import type { StandbyArgs } from "../../model/args";
import { tlsNames } from "../../model/naming";
import { GeneratedPassword } from "../../secrets/generatedPassword";
import { hostAccess, type HostAccess } from "../../targets/access";
import { HostCommand } from "../../targets/hostCommand";
import { describeTarget, type Target } from "../../targets/target";
import { renewalPeriod } from "../../tls/lifetime";
import { accessIn, type Placement } from "../container";
import { sshHost, type Configured } from "./configuration";
import type { ServerContext } from "./context";
import { createTools } from "./operations";
import { createContainerScripts, placeServer, type PrimaryHost } from "./placement";

/** The standbys once following: what the hooks wait for, and where each standby's tools are. */
export interface Standbys {
  /** The replication role and every standby's last step (empty without standbys). */
  replicationReady: HostCommand[];
  /** Per standby: its tools directory (holds `promote`). */
  standbyTools: Record<string, pulumi.Output<string>>;
  /** Per standby: how its steps reach it (inside its container on a Docker target), without secrets, and its port; `on`: with its keys; `at`: its instance's location (the engine's Loc). */
  standbyMembers: Record<string, { target: Target; port: number; on?: HostAccess; at?: pulumi.Output<unknown> }>;
}

/** The primary's side of replication: the role standbys connect as, and its password. */
interface ReplicationRole {
  step: HostCommand;
  /** The environment a standby's steps get the password in. */
  environment: Record<string, pulumi.Output<string>>;
  passwordEnv: string;
}

/** A standby's host once its instance exists. */
interface StandbyHost<Loc> {
  id: string;
  placed?: Placement;
  on: HostAccess;
  where: string;
  at: pulumi.Output<Loc>;
  instance: HostCommand;
}

/** The replication role on the primary (after its configuration), then every declared standby. */
export function createStandbys<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, configured: Configured): Standbys {
  const { engine, name, standbys, what, component, child } = ctx;
  const standbyTools: Record<string, pulumi.Output<string>> = {};
  const standbyMembers: Standbys["standbyMembers"] = {};
  if (standbys.length === 0) return { replicationReady: [], standbyTools, standbyMembers };
  const passwordEnv = "DBSTACK_REPLICATION_PASSWORD";
  const replicationPassword = new GeneratedPassword(`${name}-replication-password`, {}, child).result;
  const step = new HostCommand(
    `${name}-replication`,
    {
      ...host.on,
      description: `replication role of ${what}`,
      create: host.at.apply((l) => engine.renderReplicationSource(l, { passwordEnv, standbys: standbys.map((s) => ({ name: s.name, address: s.address })) })),
      environment: { [passwordEnv]: replicationPassword },
      review: { component },
    },
    { ...child, dependsOn: [configured.config] },
  );
  const role: ReplicationRole = { step, passwordEnv, environment: { [passwordEnv]: replicationPassword } };
  const replicationReady = [step];
  standbys.forEach((s, i) => {
    const made = createStandby(ctx, host, configured, role, s, i);
    replicationReady.push(made.ready);
    standbyTools[s.name] = pulumi.output(made.toolsDir);
    standbyMembers[s.name] = { target: made.target, port: s.port ?? ctx.port, on: made.on, at: made.at };
  });
  return { replicationReady, standbyTools, standbyMembers };
}

/** One standby, the `i`-th declared: returns its last step before its tools, and its tools directory. */
export function createStandby<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, configured: Configured, role: ReplicationRole, s: StandbyArgs, i: number): { ready: HostCommand; toolsDir: string; target: Target; on: HostAccess; at: pulumi.Output<Loc> } {
  const { engine, port, child } = ctx;
  const source: StandbySource = { name: s.name, primaryHost: host.address, primaryPort: port, replicationUser: engine.replicationUser, passwordEnv: role.passwordEnv };
  const standby = installStandby(ctx, host, configured, role, s, source);
  let ready = configureStandby(ctx, host, configured, standby, s, i);
  if (engine.renderFollow) {
    const follow = engine.renderFollow.bind(engine);
    ready = new HostCommand(
      `${standby.id}-follow`,
      { ...standby.on, description: `replication of standby ${s.name} from ${host.where}`, create: standby.at.apply((l) => follow(l, source)), environment: role.environment, review: { component: ctx.component } },
      { ...child, dependsOn: [ready] },
    );
  }
  if (standby.placed) createContainerScripts(ctx, `${standby.id}-boot`, standby.on, standby.at, ready);
  const toolsDir = `${ctx.toolsDir}-${s.name}`;
  createTools(
    ctx,
    standby.on,
    { id: `${standby.id}-tools`, description: `tools of standby ${s.name}`, dir: toolsDir, tools: standby.at.apply((l): ToolFile[] => [["promote", engine.renderPromote(l)]]) },
    [ready],
  );
  return { ready, toolsDir, target: standby.on.target, on: standby.on, at: standby.at };
}

/** The standby's container (on a Docker target), packages and instance, made from its primary. */
function installStandby<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, configured: Configured, role: ReplicationRole, s: StandbyArgs, source: StandbySource): StandbyHost<Loc> {
  const { engine, naming, args, port, what, component, allowDataRemoval, child } = ctx;
  const id = `${ctx.name}-${s.name}`;
  const spec: InstanceSpec = { instance: naming.standbyInstance(s), port: s.port ?? port, version: naming.version, owner: ctx.owner };
  const placed = placeServer(ctx, id, s.target, spec, s.container ?? args.container, []);
  const on = placed?.on ?? hostAccess(id, s.target, ctx.parent);
  const where = describeTarget(on.target);
  const at = host.version.apply((v) => engine.locate(spec, v));
  const server = new HostCommand(
    `${id}-server`,
    { ...on, description: `${engine.title} packages on ${where}`, create: engine.renderInstall(naming.version), review: { component } },
    { ...child, dependsOn: placed ? [placed.step] : [] },
  );
  // The standby verifies its primary against the deployment's CA (unless the primary's certificate is the user's own).
  const from = pulumi.all([at, configured.ca.stdout]).apply(([l, caCertificate]) => ({ l: l as Loc, source: { ...source, caCertificate: args.tls ? undefined : caCertificate } }));
  const instance = new HostCommand(
    id,
    {
      ...on,
      description: `standby ${s.name} of ${what} on ${where}`,
      // What the standby is: its instance. Its host's address, port, user and keys say how it
      // is reached, and changing them must never re-create (and so delete) a standby.
      identity: `${spec.instance}@standby`,
      create: from.apply(({ l, source }) => engine.renderCreateStandby(l, source)),
      update: from.apply(({ l, source }) => engine.renderCreateStandby(l, source, { adopt: true })),
      delete: at.apply((l) => engine.renderRemove(l, allowDataRemoval)),
      environment: role.environment,
      review: { component, standby: s.name, dataBearing: true, dataRemovalAllowed: allowDataRemoval },
    },
    { ...child, dependsOn: [server, role.step] },
  );
  return { id, placed, on, where, at, instance };
}

/**
 * The standby's TLS key (made on its host: only its public key travels, to be signed by the
 * deployment's CA on the primary's host; the primary's key never leaves the primary), its
 * certificate, and its configuration: the primary's tuning, so that a hot standby can always follow it.
 */
function configureStandby<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, configured: Configured, standby: StandbyHost<Loc>, s: StandbyArgs, i: number): HostCommand {
  const { engine, component, child } = ctx;
  const { id, on, where, at, placed } = standby;
  const { ca, lifetime } = configured;
  const access = { ...configured.access, listenAddresses: standbyListenAddresses(configured.declaredListen, s.address) };
  const names = tlsNames([s.address, ...sshHost(s.target), ...access.listenAddresses]);
  const key = new HostCommand(
    `${id}-tls-key`,
    { ...on, description: `TLS key of standby ${s.name} on ${where}`, create: at.apply((l) => engine.renderStandbyKey(l)), review: { component } },
    { ...child, dependsOn: [standby.instance] },
  );
  const certificate = new HostCommand(
    `${id}-tls-certificate`,
    {
      ...host.on,
      description: `TLS certificate of standby ${s.name}, signed on ${host.where}`,
      create: pulumi.all([host.at, key.stdout]).apply(([l, publicKey]) => engine.renderSignStandbyCertificate(l as Loc, { name: s.name, publicKey, names, lifetime })),
      // Signed again once per renewal window (tls/lifetime.ts): the standby's certificate is not on this host to check.
      triggers: [renewalPeriod(new Date(), lifetime.certificateDays)],
      review: { component },
    },
    { ...child, dependsOn: [ca] },
  );
  const config = pulumi
    .all([configured.primaryConfig, certificate.stdout, ca.stdout, placed?.networks ?? []])
    .apply(([c, cert, caCertificate, nets]): InstanceConfig => ({
      ...c,
      access: accessIn(access, placed, nets),
      role: "standby",
      serverId: i + 2,
      tls: { names, certificate: cert, caCertificate, lifetime },
    }));
  return new HostCommand(
    `${id}-config`,
    {
      ...on,
      description: `configuration of standby ${s.name} on ${where}`,
      create: pulumi.all([at, config]).apply(([l, c]) => engine.renderConfigure(l as Loc, c)),
      probe: at.apply((l) => engine.renderServingProbe(l, lifetime.certificateDays)),
      review: configured.restartValues.apply((r) => ({ component, restartParameters: r })),
    },
    { ...child, dependsOn: [standby.instance, certificate] },
  );
}

/** A standby listens where the primary does: on its own address when the primary listens beyond localhost. */
function standbyListenAddresses(primary: string[], standbyAddress: string): string[] {
  if (primary.includes("*")) return ["*"];
  const local = new Set(["localhost", "127.0.0.1", "::1"]);
  return primary.some((a) => !local.has(a)) ? ["localhost", standbyAddress.replace(/\/\d+$/, "")] : ["localhost"];
}
