/**
 * The rules of a deployment's `ha` (model/ha.ts), by name, in the order they run: each message
 * names the field (the stack prefixes its config key) and never echoes a password.
 */
import type { DeployedEtcdArgs, EtcdMemberArgs, ExistingEtcdArgs, HaArgs } from "../model/ha";
import { DEFAULTS } from "../model/defaults";
import { ArgumentError, checkName, checkPlacement, checkWholeNumber, RANGES, type Check } from "../validate";
import type { ServerSubject } from "./validateServer";

/** Patroni's own lower bounds (it refuses a smaller ttl, loop_wait or retry_timeout). */
export const HA_RANGES = {
  ttlSeconds: [20, 3600],
  loopWaitSeconds: [1, 600],
  retryTimeoutSeconds: [3, 600],
  maximumLagOnFailoverBytes: [0, 1_099_511_627_776],
} as const satisfies Record<string, readonly [number, number]>;

/** A host name or an IP address: what reaches a config file or a URL, never shell. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|\[?[0-9a-fA-F:]+\]?)$/;
/** An existing etcd's client endpoint: https only (etcd's traffic carries Patroni's credentials). */
const ENDPOINT = /^https:\/\/(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):[0-9]{1,5}$/;
/** etcd user names dbstack writes into Patroni's configuration. */
const ETCD_USER = /^[A-Za-z0-9_.-]{1,64}$/;
/** Patroni's scope: a key prefix in etcd and a part of host-level names. */
const SCOPE = /^[a-z][a-z0-9_-]{0,39}$/;

type HaSubject = ServerSubject;

/** The deployment's declared `ha`, if any. */
function declared(s: HaSubject): HaArgs | undefined {
  return s.args.ha;
}

export const HA_CHECKS: readonly Check<HaSubject>[] = [
  {
    name: "ha: PostgreSQL only",
    check({ args, engine }) {
      if (args.ha !== undefined && engine.kind !== "postgres") throw new ArgumentError(`ha: high availability with Patroni is for PostgreSQL deployments; this is a ${engine.kind} deployment (its standbys are promoted with their promote tool)`);
    },
  },
  {
    name: "ha.enabled",
    check(s) {
      const ha = declared(s);
      if (ha?.enabled !== undefined && typeof ha.enabled !== "boolean") throw new ArgumentError("ha.enabled: expected true or false");
      if (ha?.synchronous !== undefined && typeof ha.synchronous !== "boolean") throw new ArgumentError("ha.synchronous: expected true or false");
    },
  },
  {
    name: "ha: a standby to fail over to",
    check(s) {
      const ha = declared(s);
      if (ha && ha.enabled !== false && (s.args.standbys ?? []).length === 0) throw new ArgumentError("ha: high availability needs at least one standby to fail over to; declare standbys (two, for a synchronous standby to remain after a failover)");
    },
  },
  {
    name: "ha: what it does not combine with yet",
    check(s) {
      const ha = declared(s);
      if (!ha || ha.enabled === false) return;
      const targets = [s.args.target, ...(s.args.standbys ?? []).map((x) => x.target)];
      if (targets.some((t) => t?.kind === "docker")) throw new ArgumentError("ha: Patroni members run on hosts (local or ssh targets), not in containers of a Docker target; remove ha or place the members on hosts");
      if (s.args.pitr !== undefined) throw new ArgumentError("pitr: archiving that follows Patroni's leader is not built yet; a deployment with ha has nightly backups only (remove pitr or ha)");
      if (s.args.tls !== undefined) throw new ArgumentError("tls: with ha, every member has its own certificate from the deployment's CA; a declared certificate is for one host (remove tls)");
      const primaryNamed = (s.args.standbys ?? []).find((x) => x.name === "primary");
      if (primaryNamed) throw new ArgumentError("standbys.primary: with ha, `primary` is the Patroni member name of the primary; name the standby otherwise");
    },
  },
  {
    name: "ha timings",
    check(s) {
      const ha = declared(s);
      if (!ha) return;
      for (const field of Object.keys(HA_RANGES) as (keyof typeof HA_RANGES)[]) {
        const [min, max] = HA_RANGES[field];
        checkWholeNumber(`ha.${field}`, ha[field], min, max);
      }
      const ttl = ha.ttlSeconds ?? DEFAULTS.ha.ttlSeconds;
      const loop = ha.loopWaitSeconds ?? DEFAULTS.ha.loopWaitSeconds;
      const retry = ha.retryTimeoutSeconds ?? DEFAULTS.ha.retryTimeoutSeconds;
      // Patroni's rule: a leader that cannot reach etcd must demote itself before its lock expires.
      if (loop + 2 * retry > ttl) {
        throw new ArgumentError(`ha.ttlSeconds: must be at least loopWaitSeconds + 2 × retryTimeoutSeconds (${loop} + 2 × ${retry} = ${loop + 2 * retry}), got ${ttl}: a leader cut off from etcd could otherwise still accept writes after its lock expired`);
      }
    },
  },
  {
    name: "ha.restApiPort",
    check(s) {
      const ha = declared(s);
      if (!ha) return;
      checkWholeNumber("ha.restApiPort", ha.restApiPort, ...RANGES.port);
      const rest = ha.restApiPort ?? DEFAULTS.ha.restApiPort;
      const pgPorts = [s.args.port, ...(s.args.standbys ?? []).map((x) => x.port ?? s.args.port)].map((p) => p ?? DEFAULTS.postgres.port);
      if (pgPorts.includes(rest)) throw new ArgumentError(`ha.restApiPort: ${rest} is a PostgreSQL port of this deployment; choose another port for Patroni's REST API`);
    },
  },
  {
    name: "ha.scope",
    check(s) {
      const scope = declared(s)?.scope;
      if (scope !== undefined && !SCOPE.test(scope)) throw new ArgumentError(`ha.scope: expected lower-case letters, digits, _ and -, starting with a letter (at most 40), got ${JSON.stringify(scope)}`);
    },
  },
  {
    name: "ha.etcd",
    check(s) {
      const ha = declared(s);
      if (!ha) return;
      const etcd = ha.etcd as { kind?: unknown } | undefined;
      if (etcd === undefined || typeof etcd !== "object") throw new ArgumentError('ha.etcd: declare the etcd cluster Patroni uses: { kind: "deploy" } (dbstack runs it) or { kind: "existing", endpoints, username, password }');
      if (etcd.kind === "deploy") return checkDeployedEtcd(ha.etcd as DeployedEtcdArgs, s);
      if (etcd.kind === "existing") return checkExistingEtcd(ha.etcd as ExistingEtcdArgs);
      throw new ArgumentError(`ha.etcd.kind: expected "deploy" or "existing", got ${JSON.stringify(etcd.kind)}`);
    },
  },
];

function checkDeployedEtcd(etcd: DeployedEtcdArgs, s: HaSubject): void {
  if (etcd.members === undefined) {
    if (s.args.ha?.enabled === false) return;
    const hosts = 1 + (s.args.standbys ?? []).length;
    if (hosts < 3) throw new ArgumentError(`ha.etcd.members: by default etcd runs on the primary's host and the first two standbys' hosts, but this deployment has ${hosts} host${hosts === 1 ? "" : "s"}; declare three etcd members (an odd number)`);
    return;
  }
  const n = etcd.members.length;
  if (n < 3 || n % 2 === 0) throw new ArgumentError(`ha.etcd.members: expected an odd number of members of at least three (three tolerate one failure; an even number tolerates no more than one fewer), got ${n}`);
  const names = new Set<string>();
  const endpoints = new Set<string>();
  for (const m of etcd.members) {
    checkMember(m);
    if (names.has(m.name)) throw new ArgumentError(`ha.etcd.members.${m.name}: declared twice`);
    names.add(m.name);
    for (const port of [m.clientPort ?? DEFAULTS.ha.etcd.clientPort, m.peerPort ?? DEFAULTS.ha.etcd.peerPort]) {
      const at = `${m.address}:${port}`;
      if (endpoints.has(at)) throw new ArgumentError(`ha.etcd.members.${m.name}: ${at} is already another member's (or this member's other) port`);
      endpoints.add(at);
    }
  }
}

function checkMember(m: EtcdMemberArgs): void {
  checkName("ha.etcd.members", m.name);
  const field = `ha.etcd.members.${m.name}`;
  if (typeof m.address !== "string" || !HOST.test(m.address)) throw new ArgumentError(`${field}.address: expected a host name or an IP address, got ${JSON.stringify(m.address)}`);
  checkWholeNumber(`${field}.clientPort`, m.clientPort, ...RANGES.port);
  checkWholeNumber(`${field}.peerPort`, m.peerPort, ...RANGES.port);
  checkPlacement(`${field}.dataDirectory`, m.dataDirectory, true);
}

function checkExistingEtcd(etcd: ExistingEtcdArgs): void {
  if (!Array.isArray(etcd.endpoints) || etcd.endpoints.length === 0) throw new ArgumentError("ha.etcd.endpoints: expected at least one https://host:port endpoint");
  for (const e of etcd.endpoints) {
    if (typeof e !== "string" || !ENDPOINT.test(e)) throw new ArgumentError(`ha.etcd.endpoints: expected https://host:port (TLS is required: etcd's traffic carries Patroni's credentials), got ${JSON.stringify(e)}`);
  }
  if (typeof etcd.username !== "string" || !ETCD_USER.test(etcd.username)) throw new ArgumentError(`ha.etcd.username: expected an etcd user name (letters, digits, _ . -), got ${JSON.stringify(etcd.username)}`);
  // The password is only checked for presence: its value is never echoed.
  if (etcd.password === undefined || etcd.password === "") throw new ArgumentError("ha.etcd.password: the password of ha.etcd.username is required (a secret)");
}
