/**
 * High availability (model/ha.ts): instead of dbstack's own configuration and standbys, Patroni
 * manages every member and keeps its leader lock in etcd. This phase registers, in order: the
 * deployment's CA and tuning (as a plain deployment has them), the packages of every member's
 * host, the etcd cluster (each member's key, certificate and step, then its authentication), the
 * primary's Patroni member (which takes over the cluster pg_createcluster made, or one that ran
 * without HA before), the replication and rewind roles on the leader, then every standby's
 * Patroni member (Patroni clones it, or takes over the standby that ran before) and each member's
 * HA tools. Every script comes from engines/postgres/ha/; leader election, fencing, promotion and
 * rewinding are Patroni's (design principle 9).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ToolFile } from "../../engines/operations";
import { renderEtcdAuth, renderEtcdMember, renderRemoveEtcdMember } from "../../engines/postgres/ha/etcd";
import { memberTlsNames, renderMemberKey } from "../../engines/postgres/ha/memberTls";
import { renderInstallHaPackages } from "../../engines/postgres/ha/packages";
import { renderPatroniHba, renderPatroniMember, renderRemovePatroniMember, restUrl } from "../../engines/postgres/ha/patroni";
import { renderHaRoles } from "../../engines/postgres/ha/roles";
import { renderApplyDynamicConfig } from "../../engines/postgres/ha/dynamicConfig";
import { HA_SECRET_ENV, type EtcdClientSpec, type EtcdClusterSpec, type EtcdMemberSpec, type PatroniClusterSpec, type PatroniMemberSpec } from "../../engines/postgres/ha/spec";
import { renderHaTool, type HaToolName } from "../../engines/postgres/ha/tools";
import { renderClusterPrelude, type ClusterLocation } from "../../engines/postgres/host";
import { tuningValues } from "../../engines/postgres/tuning";
import { DEFAULTS } from "../../model/defaults";
import type { HaArgs } from "../../model/ha";
import { GeneratedPassword } from "../../secrets/generatedPassword";
import { hostAccess, type HostAccess } from "../../targets/access";
import { HostCommand } from "../../targets/hostCommand";
import { describeTarget, type Target } from "../../targets/target";
import { shellQuote } from "../../shell";
import { OWNER_FILE } from "../../targets/ownership";
import { planConfiguration, type Configured } from "./configuration";
import type { ServerContext } from "./context";
import { createTools } from "./operations";
import type { PrimaryHost } from "./placement";
import type { Standbys } from "./standbys";

/** Where a deployment's HA members keep their files on their hosts: Patroni's and etcd's homes. */
export function haHomeOf(prefix: string, name: string): string {
  return `/etc/dbstack/ha/${prefix}-${name}`;
}

/**
 * At preview, on the primary's host of a deployment without HA: fails when Patroni runs it (HA was
 * on and is being turned off), which is not built yet: dbstack's plain steps would configure a
 * cluster Patroni manages.
 */
export function renderNoPatroniProbe(prefix: string, name: string): string {
  const yml = `${haHomeOf(prefix, name)}/patroni-primary/patroni.yml`;
  return `if [ -f '${yml}' ]; then echo "ha: Patroni runs this deployment (${yml}); turning high availability off is not built yet: keep ha declared and enabled (docs/ha.md)" >&2; exit 1; fi`;
}

/** Whether a deployment's declared `ha` is on. */
export function haEnabled(ha: HaArgs | undefined): ha is HaArgs {
  return ha !== undefined && ha.enabled !== false;
}

/** One PostgreSQL member of the Patroni cluster, as the phase places it. */
interface Member {
  /** Patroni's member name: `primary`, or the standby's declared name. */
  name: string;
  /** The prefix of its steps' names. */
  id: string;
  target: Target;
  on: HostAccess;
  where: string;
  address: string;
  port: number;
  /** Its cluster's name on its host (postgresql-common's). */
  instance: string;
  /** Its step's directory: patroni.yml, patroni.env, TLS, the supervisor, daemon.log. */
  home: string;
  /** Its HA tools' directory. */
  toolsDir: string;
  /** The step that installed PostgreSQL on it (the primary's placement, or the standby's own). */
  server: HostCommand;
}

/** What the rest of the deployment sees of an HA deployment: its configuration and its members. */
export interface HaDeployment {
  /** Where the later phases' steps reach the server: the primary's cluster, with psql_su routed to the leader wherever it is. */
  at: pulumi.Output<ClusterLocation>;
  configured: Configured;
  standbys: Standbys;
  /** Every member's address and port, the primary first: the multi-host URLs list them. */
  members: { name: string; address: string; port: number }[];
}

const ROLES = { replicationUser: "dbstack_replication", rewindUser: "dbstack_rewind", restApiUser: "dbstack_patroni", etcdPatroniUser: "patroni" } as const;
const HA_TOOLS: HaToolName[] = ["switchover", "failover", "pause", "resume", "ha-status"];

/** The HA deployment of a PostgreSQL deployment that declares `ha` (enabled). */
export function createHa(ctx: ServerContext<ClusterLocation>, host: PrimaryHost<ClusterLocation>, ha: HaArgs): HaDeployment {
  const { name, prefix, naming, child, component, allowDataRemoval } = ctx;
  const planned = planConfiguration(ctx, host);
  const { ca } = planned;
  const scope = ha.scope ?? naming.instance;
  const haHome = haHomeOf(prefix, name);
  const password = (what: string) => new GeneratedPassword(`${name}-${what}-password`, {}, child).result;
  const secrets: Record<string, pulumi.Output<string>> = {
    [HA_SECRET_ENV.superuser]: password("ha-superuser"),
    // The same resource as a plain deployment's replication password: adopting keeps it.
    [HA_SECRET_ENV.replication]: password("replication"),
    [HA_SECRET_ENV.rewind]: password("ha-rewind"),
    [HA_SECRET_ENV.restApi]: password("ha-restapi"),
  };

  const members: Member[] = [
    { name: "primary", id: name, target: ctx.target, on: host.on, where: host.where, address: host.address, port: ctx.port, instance: naming.instance, home: `${haHome}/patroni-primary`, toolsDir: `${ctx.toolsDir}-primary`, server: host.server },
    ...ctx.standbys.map((s): Member => {
      const id = `${name}-${s.name}`;
      const on = hostAccess(id, s.target, ctx.parent);
      const where = describeTarget(on.target);
      const server = new HostCommand(`${id}-server`, { ...on, description: `${ctx.engine.title} packages on ${where}`, create: ctx.engine.renderInstall(naming.version), review: { component } }, child);
      return { name: s.name, id, target: s.target, on, where, address: s.address.replace(/\/\d+$/, ""), port: s.port ?? ctx.port, instance: naming.standbyInstance(s), home: `${haHome}/patroni-${s.name}`, toolsDir: `${ctx.toolsDir}-${s.name}`, server };
    }),
  ];

  // Where each member's certificate is signed: on the primary's host, by the deployment's CA.
  const sign = (id: string, what: string, publicKey: pulumi.Output<string>, address: string) =>
    new HostCommand(
      `${id}-certificate`,
      {
        ...host.on,
        description: `TLS certificate of ${what}, signed on ${host.where}`,
        create: pulumi.all([host.at, publicKey]).apply(([l, k]) => ctx.engine.renderSignStandbyCertificate(l, { name: id, publicKey: k, names: memberTlsNames(address), lifetime: planned.lifetime })),
        review: { component },
      },
      { ...child, dependsOn: [ca] },
    );

  const etcdMembersOnHosts = new Set(ha.etcd.kind === "deploy" && ha.etcd.members === undefined ? members.slice(0, DEFAULTS.ha.etcd.members).map((m) => m.name) : []);
  const packages = new Map(
    members.map((m) => [
      m.name,
      new HostCommand(`${m.id}-ha-packages`, { ...m.on, description: `Patroni's packages on ${m.where}`, create: renderInstallHaPackages({ patroni: true, etcd: etcdMembersOnHosts.has(m.name) }), review: { component } }, { ...child, dependsOn: [m.server] }),
    ]),
  );

  const etcd = createEtcd(ctx, ha, members, packages, sign, ca.stdout);

  // Patroni's cluster: the same everywhere but for each member's own part.
  const spec = pulumi.all([host.version, planned.primaryConfig, ca.stdout, etcd.client]).apply(([version, config, caCertificate, client]): PatroniClusterSpec => {
    const v = Number(version);
    const patroniMembers = members.map((m): PatroniMemberSpec => ({
      name: m.name,
      address: m.address,
      port: m.port,
      version: v,
      dataDirectory: m.name === "primary" && ctx.args.dataDirectory ? ctx.args.dataDirectory : `/var/lib/postgresql/${v}/${m.instance}`,
      configDirectory: `/etc/postgresql/${v}/${m.instance}`,
      home: m.home,
    }));
    const access = { listenAddresses: config.access.listenAddresses, allowedCidrs: config.access.allowedCidrs, replicationCidrs: [], replicationUser: ROLES.replicationUser };
    return {
      scope,
      members: patroniMembers,
      synchronous: ha.synchronous ?? DEFAULTS.ha.synchronous,
      ttlSeconds: ha.ttlSeconds ?? DEFAULTS.ha.ttlSeconds,
      loopWaitSeconds: ha.loopWaitSeconds ?? DEFAULTS.ha.loopWaitSeconds,
      retryTimeoutSeconds: ha.retryTimeoutSeconds ?? DEFAULTS.ha.retryTimeoutSeconds,
      maximumLagOnFailoverBytes: ha.maximumLagOnFailoverBytes ?? DEFAULTS.ha.maximumLagOnFailoverBytes,
      restApiPort: ha.restApiPort ?? DEFAULTS.ha.restApiPort,
      etcd: { ...client, caCertificate: client.caCertificate ?? (ha.etcd.kind === "deploy" ? caCertificate : undefined) },
      parameters: patroniParameters(tuningValues(config.tuned)),
      hba: renderPatroniHba(access, patroniMembers, ROLES.rewindUser),
      replicationUser: ROLES.replicationUser,
      rewindUser: ROLES.rewindUser,
      restApiUser: ROLES.restApiUser,
    };
  });
  const memberSpec = (m: Member) => spec.apply((c) => c.members.find((x) => x.name === m.name)!);
  const environment = { ...secrets, [HA_SECRET_ENV.etcdPatroni]: etcd.patroniPassword };

  const memberStep = (m: Member, dependsOn: pulumi.Resource[]) => {
    const key = new HostCommand(`${m.id}-ha-tls-key`, { ...m.on, description: `TLS key of Patroni member ${m.name} on ${m.where}`, create: renderMemberKey(`Patroni member ${m.name}`, m.home, "postgres"), review: { component } }, { ...child, dependsOn: [packages.get(m.name)!] });
    const certificate = sign(`${m.id}-ha-tls`, `Patroni member ${m.name}`, key.stdout, m.address);
    return new HostCommand(
      `${m.id}-patroni`,
      {
        ...m.on,
        description: `Patroni member ${m.name} of ${ctx.what} on ${m.where}`,
        identity: `${scope}/${m.name}`,
        create: pulumi.all([spec, memberSpec(m), certificate.stdout, ca.stdout, host.version]).apply(([c, pm, cert, caCertificate, v]) =>
          renderPatroniMember(c, pm, { certificate: cert, caCertificate }, renderTakeOver({ version: Number(v), cluster: m.instance, port: m.port, dataDirectory: pm.dataDirectory }), m.name === "primary" ? 120 : 1800),
        ),
        delete: memberSpec(m).apply((pm) => renderRemovePatroniMember(pm, allowDataRemoval)),
        // A member whose supervisor is gone (a crashed host, a kill) is started again by the next up.
        probe: memberSpec(m).apply((pm) => renderSupervisorProbe(pm.home)),
        environment,
        review: {
          component,
          standby: m.name === "primary" ? undefined : m.name,
          dataBearing: true,
          dataRemovalAllowed: allowDataRemoval,
          patroni: `Patroni member ${m.name} reloads a changed patroni.yml in place; changed passwords or certificate restart it, and if it leads then, Patroni fails over to a standby`,
        },
      },
      { ...child, dependsOn: [...dependsOn, certificate, ...etcd.ready] },
    );
  };

  const primary = memberStep(members[0], [host.instance, ca]);
  const at = pulumi.all([host.at, spec]).apply(([l, c]) => ({ ...l, patroni: { member: "primary", home: members[0].home, restUrl: restUrl(c, c.members[0]) } }));
  const roles = new HostCommand(
    `${name}-ha-roles`,
    { ...host.on, description: `replication and rewind roles of ${ctx.what}`, create: at.apply((l) => renderHaRoles(l, ROLES)), environment: secrets, review: { component } },
    { ...child, dependsOn: [primary] },
  );
  const standbySteps = members.slice(1).map((m) => memberStep(m, [roles]));
  // A standby's instance under its plain deployment's name and identity: a deployment that turns
  // HA on updates it (into this record) instead of deleting it, whose recorded delete would stop,
  // or with data removal drop, the cluster Patroni now runs. Its data is the Patroni member's.
  members.slice(1).forEach((m, i) => {
    new HostCommand(
      m.id,
      {
        ...m.on,
        description: `standby ${m.name} of ${ctx.what} on ${m.where}`,
        identity: `${m.instance}@standby`,
        create: `echo ${shellQuote(`standby ${m.name}: cluster ${m.instance}, run by its Patroni member`)}`,
        delete: `echo ${shellQuote(`dbstack: standby ${m.name}'s cluster ${m.instance} is its Patroni member's; that step stops it and keeps or removes its data`)} >&2`,
        review: { component, standby: m.name },
      },
      { ...child, dependsOn: [standbySteps[i]] },
    );
  });
  // Cluster-wide settings converge through Patroni (its dynamic configuration), once every member runs.
  const dynamic = new HostCommand(
    `${name}-ha-config`,
    {
      ...host.on,
      description: `Patroni's dynamic configuration of ${ctx.what}`,
      create: pulumi.all([spec, memberSpec(members[0])]).apply(([c, pm]) => renderApplyDynamicConfig(c, pm)),
      environment: { [HA_SECRET_ENV.restApi]: secrets[HA_SECRET_ENV.restApi] },
      // Parameters that take effect at a restart: members restart in turn, the leader in place (no failover).
      review: planned.restartValues.apply((r) => ({ component, restartParameters: r, patroni: "members restart in turn; Patroni does not fail over" })),
    },
    { ...child, dependsOn: standbySteps.length > 0 ? standbySteps : [roles] },
  );

  const standbyTools: Record<string, pulumi.Output<string>> = {};
  const standbyMembers: Standbys["standbyMembers"] = {};
  members.forEach((m, i) => {
    const after = i === 0 ? roles : standbySteps[i - 1];
    createTools(
      ctx,
      m.on,
      { id: i === 0 ? `${m.id}-ha-tools` : `${m.id}-tools`, description: `HA tools of member ${m.name}`, dir: m.toolsDir, tools: pulumi.all([spec, memberSpec(m)]).apply(([c, pm]): ToolFile[] => HA_TOOLS.map((t) => [t, renderHaTool(t, c, pm)])) },
      [after],
    );
    if (i > 0) {
      standbyTools[m.name] = pulumi.output(m.toolsDir);
      standbyMembers[m.name] = { target: m.on.target, port: m.port, on: m.on };
    }
  });

  return {
    at,
    configured: { ...planned, config: primary },
    standbys: { replicationReady: [roles, ...standbySteps, dynamic], standbyTools, standbyMembers },
    members: members.map((m) => ({ name: m.name, address: m.address, port: m.port })),
  };
}

/**
 * Before a member's Patroni starts: postgresql-common must not start the cluster by itself (Patroni
 * does), and a cluster pg_ctlcluster runs (a deployment that ran without HA) is stopped cleanly so
 * that Patroni takes its data directory over.
 */
function renderTakeOver(loc: ClusterLocation): string[] {
  return [
    "(",
    renderClusterPrelude(loc),
    'install -d -o postgres -g postgres -m 0755 "$CONF_DIR"',
    "# A member Patroni clones has no postgresql.conf of postgresql-common's: Patroni moves this one to",
    "# postgresql.base.conf and includes it, and the host's tools (pg_lsclusters, pg_ctlcluster status) find the cluster.",
    'if [ ! -f "$CONF_DIR/postgresql.conf" ] && [ ! -f "$CONF_DIR/postgresql.base.conf" ]; then',
    `  printf '%s\n' "# Written by dbstack: Patroni renames this file postgresql.base.conf and includes it." "data_directory = '$DATA_DIR'" > "$CONF_DIR/postgresql.conf"`,
    '  chown postgres:postgres "$CONF_DIR/postgresql.conf"; chmod 0644 "$CONF_DIR/postgresql.conf"',
    "fi",
    'if [ "$(tr -d "[:space:]" < "$CONF_DIR/start.conf" 2>/dev/null)" != manual ]; then echo manual > "$CONF_DIR/start.conf"; chown postgres:postgres "$CONF_DIR/start.conf"; fi',
    "# pg_rewind (as postgres) rewrites every file of a data directory: dbstack's owner marker there must be postgres's.",
    `if [ -f "$DATA_DIR/${OWNER_FILE}" ]; then chown postgres:postgres "$DATA_DIR/${OWNER_FILE}"; fi`,
    'if [ -f "$CONF_DIR/postgresql.conf" ] && ! grep -q "Do not edit this file manually" "$CONF_DIR/postgresql.conf" && cluster_running; then',
    '  pg_ctlcluster "$V" "$CLUSTER" stop -m fast >&2',
    '  echo "stopped cluster $V/$CLUSTER, which ran without Patroni: Patroni takes it over"',
    "fi",
    ")",
  ];
}

/** Parameter values as Patroni takes them: a value quoted for postgresql.conf ('try') is the bare value. */
function patroniParameters(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, /^'.*'$/s.test(v) ? v.slice(1, -1).replace(/''/g, "'") : v]));
}

/** Passes while the member's supervisor runs. */
function renderSupervisorProbe(home: string): string {
  return [
    `pid=$(cat '${home}/supervisor.pid' 2>/dev/null) || exit 1`,
    `tr "\\0" " " < "/proc/$pid/cmdline" 2>/dev/null | grep -qF '${home}/supervise'`,
  ].join("\n");
}

/** The etcd Patroni uses: the deployed cluster's steps, or an existing one's endpoints. */
function createEtcd(
  ctx: ServerContext<ClusterLocation>,
  ha: HaArgs,
  members: Member[],
  packages: Map<string, HostCommand>,
  sign: (id: string, what: string, publicKey: pulumi.Output<string>, address: string) => HostCommand,
  caCertificate: pulumi.Output<string>,
): { client: pulumi.Output<EtcdClientSpec>; patroniPassword: pulumi.Output<string>; ready: pulumi.Resource[] } {
  const { name, prefix, child, component, allowDataRemoval } = ctx;
  if (ha.etcd.kind === "existing") {
    const e = ha.etcd;
    return {
      client: pulumi.output(e.caCertificate).apply((caCertificate) => ({ hosts: e.endpoints.map((x) => x.replace(/^https:\/\//, "")), username: e.username, caCertificate })),
      patroniPassword: pulumi.secret(pulumi.output(e.password)),
      ready: [],
    };
  }
  const rootPassword = new GeneratedPassword(`${name}-etcd-root-password`, {}, child).result;
  const patroniPassword = new GeneratedPassword(`${name}-etcd-patroni-password`, {}, child).result;
  const declared = ha.etcd.members;
  const placed = (declared ?? members.slice(0, DEFAULTS.ha.etcd.members).map((m) => ({ name: m.name, target: m.target, address: m.address }))).map((d) => {
    const onMember = members.find((m) => m.name === d.name && declared === undefined);
    const id = `${name}-etcd-${d.name}`;
    const on = onMember?.on ?? hostAccess(id, d.target, ctx.parent);
    const decl = d as { clientPort?: number; peerPort?: number; dataDirectory?: string };
    const spec: EtcdMemberSpec = {
      name: d.name,
      address: d.address,
      clientPort: decl.clientPort ?? DEFAULTS.ha.etcd.clientPort,
      peerPort: decl.peerPort ?? DEFAULTS.ha.etcd.peerPort,
      dataDirectory: decl.dataDirectory ?? `/var/lib/etcd/${prefix}-${name}-${d.name}`,
      home: `${haHomeOf(prefix, name)}/etcd-${d.name}`,
    };
    const after = onMember
      ? packages.get(onMember.name)!
      : new HostCommand(`${id}-packages`, { ...on, description: `etcd's packages on ${describeTarget(on.target)}`, create: renderInstallHaPackages({ patroni: false, etcd: true }), review: { component } }, child);
    return { id, on, spec, after };
  });
  const cluster: EtcdClusterSpec = { token: `dbstack-${prefix}-${name}`, members: placed.map((p) => p.spec), patroniPrefix: `/service/${ha.scope ?? ctx.naming.instance}/`, patroniUser: ROLES.etcdPatroniUser };
  const steps = placed.map((p) => {
    const where = describeTarget(p.on.target);
    const key = new HostCommand(`${p.id}-tls-key`, { ...p.on, description: `TLS key of etcd member ${p.spec.name} on ${where}`, create: renderMemberKey(`etcd member ${p.spec.name}`, p.spec.home, "etcd"), review: { component } }, { ...child, dependsOn: [p.after] });
    const certificate = sign(`${p.id}-tls`, `etcd member ${p.spec.name}`, key.stdout, p.spec.address);
    return new HostCommand(
      p.id,
      {
        ...p.on,
        description: `etcd member ${p.spec.name} on ${where}`,
        identity: `${cluster.token}/${p.spec.name}`,
        create: pulumi.all([certificate.stdout, caCertificate]).apply(([c, ca]) => renderEtcdMember(cluster, p.spec, { certificate: c, caCertificate: ca })),
        delete: renderRemoveEtcdMember(p.spec, allowDataRemoval),
        probe: renderSupervisorProbe(p.spec.home),
        review: { component, dataBearing: true, dataRemovalAllowed: allowDataRemoval },
      },
      { ...child, dependsOn: [certificate] },
    );
  });
  const first = placed[0];
  const auth = new HostCommand(
    `${name}-etcd-auth`,
    {
      ...first.on,
      description: `authentication of the etcd cluster of ${ctx.what}`,
      create: renderEtcdAuth(cluster, first.spec),
      environment: { [HA_SECRET_ENV.etcdRoot]: rootPassword, [HA_SECRET_ENV.etcdPatroni]: patroniPassword },
      review: { component },
    },
    { ...child, dependsOn: steps },
  );
  return {
    client: pulumi.output({ hosts: cluster.members.map((m) => `${m.address.includes(":") ? `[${m.address}]` : m.address}:${m.clientPort}`), username: ROLES.etcdPatroniUser, caCertificate: undefined as string | undefined }),
    patroniPassword,
    ready: [auth],
  };
}
