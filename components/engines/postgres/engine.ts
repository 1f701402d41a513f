/**
 * PostgreSQL as a server engine (engines/engine.ts): postgresql-common clusters, tuned conf.d
 * files with pg_hba rules, roles with scram passwords, streaming standbys with slots, pg_dump
 * backups and the psql hook dialect. Every member delegates to a renderer of this folder.
 */
import { shellQuote, scriptHeader, withHeredoc } from "../../shell";
import type { InstanceConfig, ServerEngine } from "../engine";
import { DEFAULTS } from "../../model/defaults";
import { keptDataHint } from "../../model/dataRemoval";
import { renderAccessConf, renderHba, type AccessSpec } from "./access";
import type { PostgresDatabaseArgs, PostgresUserArgs } from "./args";
import { postgresDumpDrillTools } from "./dumpDrill";
import { renderPostgresBackup, renderPostgresMaintenance, renderPostgresRestore, RESTORED_MARK } from "./backupScripts";
import { renderConfigureCluster, renderCreateCluster, renderOwnerProbe, renderRemoveCluster, renderServingProbe, renderVersionProbe } from "./clusterScripts";
import { renderCloseInheritedFds } from "../../targets/processes";
import { postgresDialect } from "./dialect";
import { renderPostgresMonitorAccount, renderPostgresStatementStatistics } from "./monitoring";
import { postgresPitr } from "./pitr";
import { parseInstalledServer, renderClusterPrelude, renderInstallServer, type ClusterLocation } from "./host";
import { checkParameterPolicy } from "../parameterPolicy";
import { POSTGRES_PARAMETER_POLICY } from "./parameterPolicy";
import { restartParameters } from "./parameters";
import type { DatabaseSpec, UserSpec } from "./spec";
import { checkDatabaseSpec, renderDatabaseSql } from "./sql/databases";
import { checkGrants, renderGrantsSql } from "./sql/grants";
import { checkUserSpec, renderDropRoleSql, renderReplicationRoleSql, renderRoleSql } from "./sql/roles";
import { renderAwaitStreaming, renderPromote, renderReplicationSlots, renderStandby } from "./standbyScripts";
import { renderClusterCa, renderClusterCaProbe, renderSignStandbyCertificate, renderStandbyKey } from "./tls";
import { computeTuning, overridesProblem, renderTuningConf, tuningValues } from "./tuning";
import { postgresUrls } from "./urls";

/** The replication role standbys connect as. */
export const REPLICATION_USER = "dbstack_replication";

export const postgresEngine: ServerEngine<ClusterLocation, PostgresDatabaseArgs, PostgresUserArgs> = {
  kind: "postgres",
  title: "PostgreSQL",
  instanceNoun: "cluster",
  defaultPort: DEFAULTS.postgres.port,
  replicationUser: REPLICATION_USER,
  databaseUrlFlavor: "postgresql",
  backupExtension: ".tar",

  overridesProblem: (overrides, unsafe) => overridesProblem(overrides) ?? checkParameterPolicy(POSTGRES_PARAMETER_POLICY, overrides, unsafe).problem,
  parameterWarnings: (overrides, unsafe) => checkParameterPolicy(POSTGRES_PARAMETER_POLICY, overrides, unsafe).warnings,
  checkDatabase: (db) => checkDatabaseSpec(databaseSpec(db)),
  checkUser(u, databases) {
    const user = userSpec(u);
    checkUserSpec(user);
    checkGrants(user, databases.map(databaseSpec));
  },

  renderInstall: (version) => renderInstallServer(version === undefined ? undefined : Number(version)),
  parseInstalled(stdout) {
    const f = parseInstalledServer(stdout);
    return { ...f, version: String(f.version) };
  },
  locate: (i, version) => ({ version: version ? Number(version) : undefined, cluster: i.instance, port: i.port, dataDirectory: i.dataDirectory, owner: i.owner }),
  renderCreate: renderCreateCluster,
  renderRemove: renderRemoveCluster,
  renderOwnerProbe,
  renderVersionProbe: (loc, declared) => renderVersionProbe(loc, declared),

  defaultImage: DEFAULTS.container.images.postgres,
  containerVolumes: (i) => [
    { suffix: "data", path: i.dataDirectory ?? "/var/lib/postgresql" },
    { suffix: "config", path: "/etc/postgresql" },
  ],
  renderStart: (loc) => `${renderClusterPrelude(loc)}\n${renderCloseInheritedFds()}\nif cluster_exists && ! cluster_running; then ( close_inherited_fds; exec pg_ctlcluster "$V" "$CLUSTER" start </dev/null ); fi`,
  renderStop: (loc) => `${renderClusterPrelude(loc)}\nif cluster_exists && cluster_running; then pg_ctlcluster "$V" "$CLUSTER" stop -m fast; fi`,
  healthCommand: (i) => `pg_isready -q -h 127.0.0.1 -p ${i.port}`,

  tune: (facts, spec) => computeTuning(facts, { ...spec, version: Number(spec.version) }),
  restartValues(version, config, port) {
    const restart = restartParameters(Number(version));
    const values = { ...tuningValues(config.tuned), listen_addresses: config.access.listenAddresses.join(","), port: String(port) };
    return Object.fromEntries(Object.entries(values).filter(([k]) => restart.has(k)));
  },
  renderConfigure(loc, config) {
    const access = accessSpec(config);
    const script = renderConfigureCluster(loc, {
      tuningConf: renderTuningConf(config.tuned),
      accessConf: renderAccessConf(access, config.role === "standby" || config.hasStandbys),
      hba: renderHba(access),
      tls: config.tls,
    });
    // A standby's step ends when it streams from its primary.
    return config.role === "standby" ? `${script}\n${renderAwaitStreaming()}` : script;
  },

  renderServingProbe: renderServingProbe,

  renderCa: renderClusterCa,
  renderCaProbe: renderClusterCaProbe,
  renderStandbyKey: renderStandbyKey,
  renderSignStandbyCertificate: renderSignStandbyCertificate,

  renderUser: (loc, u, passwordEnv) => psqlScript(loc, `role ${u.name}`, renderRoleSql(userSpec(u), passwordEnv)),
  renderRemoveUser: (loc, u, databases, allowDataRemoval) => renderRemoveRole(loc, u.name, databases.map(databaseSpec), allowDataRemoval),
  renderDatabase: (loc, db) => psqlScript(loc, `database ${db.name}`, renderDatabaseSql(databaseSpec(db))),
  renderRemoveDatabase: (loc, db, allowDataRemoval) => renderDropDatabase(loc, db.name, allowDataRemoval),
  renderGrants: (loc, u, databases) => psqlScript(loc, `grants of ${u.name}`, renderGrantsSql(userSpec(u), databases.map(databaseSpec))),

  renderReplicationSource: (loc, source) =>
    psqlScript(loc, "replication role", renderReplicationRoleSql(REPLICATION_USER, source.passwordEnv)) +
    "\n" +
    renderReplicationSlots(loc, source.standbys.map((s) => slotName(s.name))),
  renderCreateStandby: (loc, source, opts) =>
    renderStandby({ ...loc, slot: slotName(source.name), primaryHost: source.primaryHost, primaryPort: source.primaryPort, replicationUser: source.replicationUser, caCertificate: source.caCertificate }, opts),
  renderPromote: renderPromote,

  renderBackup: (loc, spec) => renderPostgresBackup({ ...loc, ...spec }),
  renderRestore: (loc, spec) => renderPostgresRestore({ ...loc, ...spec }),
  renderMaintenance: (loc, spec) => renderPostgresMaintenance({ ...loc, name: spec.name }),
  backupDrillTools: (loc, spec) => postgresDumpDrillTools({ ...loc, ...spec }, spec.onFailure),
  dialect: (loc, hook) => postgresDialect({ ...loc, ...hook }),
  urls: (c) => ({ ...postgresUrls(c) }),
  renderMonitorAccount: renderPostgresMonitorAccount,
  renderStatementStatistics: renderPostgresStatementStatistics,
  // Debian's server logs to its cluster's log file, which postgresql-common's logrotate rule rotates.
  slowLog: (loc) => ({ file: `/var/log/postgresql/postgresql-${loc.version}-${loc.cluster}.log`, owner: "postgres", group: "adm", coveredBy: "/etc/logrotate.d/postgresql-common" }),
  pitr: postgresPitr,
};

/** pg_hba's view of an instance's access. */
function accessSpec(config: InstanceConfig): AccessSpec {
  return {
    listenAddresses: config.access.listenAddresses,
    allowedCidrs: config.access.allowedCidrs,
    replicationCidrs: config.access.standbyAddresses.map(hbaAddress),
    replicationUser: config.access.replicationUser,
  };
}

/** A database with PostgreSQL's defaults (defaults.ts) applied. */
function databaseSpec(d: PostgresDatabaseArgs): DatabaseSpec {
  const D = DEFAULTS.postgres.database;
  return {
    name: d.name,
    owner: d.owner,
    encoding: d.encoding ?? D.encoding,
    locale: d.locale ?? D.locale,
    dateStyle: d.dateStyle ?? D.dateStyle,
    timeZone: d.timeZone ?? D.timeZone,
    extensions: d.extensions ?? [...D.extensions],
  };
}

function userSpec(u: PostgresUserArgs): UserSpec {
  return { name: u.name, grants: u.grants, connectionLimit: u.connectionLimit ?? DEFAULTS.user.connectionLimit };
}

/** A pg_hba address for one host: IPv4 /32, IPv6 /128, a host name as is (pg_hba resolves it). */
function hbaAddress(address: string): string {
  if (address.includes("/")) return address;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) return `${address}/32`;
  if (address.includes(":")) return `${address}/128`;
  return address;
}

function slotName(standby: string): string {
  return `dbstack_${standby.replace(/-/g, "_")}`;
}

/**
 * A psql script run as postgres over the cluster's socket, SQL on stdin. Scripts of one cluster
 * run one at a time (a host lock): concurrent GRANTs on the same catalog rows fail with "tuple
 * concurrently updated".
 */
function psqlScript(loc: ClusterLocation, purpose: string, sql: string): string {
  return [
    scriptHeader(`PostgreSQL cluster ${loc.cluster}: ${purpose}.`),
    renderClusterPrelude(loc),
    'exec 8>"/run/lock/dbstack-postgres-$V-$CLUSTER.lock"',
    'flock -w 300 8 || { echo "another dbstack step on $V/$CLUSTER held its lock for 300s" >&2; exit 1; }',
    withHeredoc("psql_su -d postgres -f -", sql, "DBSTACK_SQL"),
  ].join("\n");
}

/**
 * Removing a user drops its role (what it owns passes to the database owners). The owner of a
 * database is kept while its database is: it is dropped only when data removal is allowed, after
 * its databases.
 */
function renderRemoveRole(loc: ClusterLocation, user: string, databases: DatabaseSpec[], allowDataRemoval: boolean): string {
  const owned = databases.filter((d) => d.owner === user).map((d) => d.name);
  if (owned.length > 0 && !allowDataRemoval) {
    return `echo ${shellQuote(`dbstack: kept role ${user}: it owns database ${owned.join(", ")}, which is kept`)} >&2`;
  }
  const others = databases.filter((d) => d.owner !== user);
  // Databases dbstack does not manage (a restore's copy, say) may hold the role's privileges too.
  const release = `DO $dbstack$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${user}') THEN EXECUTE format('REASSIGN OWNED BY %I TO %I', '${user}', (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database())); EXECUTE format('DROP OWNED BY %I', '${user}'); END IF; END $dbstack$`;
  // Databases a restore created for this role (copies, databases set aside) go with it.
  const restored = `SELECT datname FROM pg_database WHERE pg_get_userbyid(datdba) = '${user}' AND shobj_description(oid, 'pg_database') LIKE '${RESTORED_MARK}%'`;
  return [
    renderClusterPrelude(loc),
    "if cluster_running; then",
    ...(allowDataRemoval
      ? [
          `  for db in $(psql_su -d postgres -tA -c ${shellQuote(restored)}); do`,
          `    psql_su -d postgres -c "DROP DATABASE \"$db\" WITH (FORCE)" >&2 && echo "dbstack: dropped $db, which a restore created (allowDataRemoval is set)" >&2`,
          "  done",
        ]
      : [
          `  kept=$(psql_su -d postgres -tA -c "SELECT string_agg(datname, ', ') FROM pg_database WHERE pg_get_userbyid(datdba) = '${user}'")`,
          `  if [ -n "$kept" ]; then echo "dbstack: kept role ${user}: it owns database $kept, which is kept" >&2; exit 0; fi`,
        ]),
    `  for db in $(psql_su -d postgres -tA -c "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND pg_get_userbyid(datdba) <> '${user}'"); do`,
    `    psql_su -d "$db" -c ${shellQuote(release)} >/dev/null`,
    "  done",
    withHeredoc("  psql_su -d postgres -f -", renderDropRoleSql(user, others), "DBSTACK_SQL"),
    "fi",
  ].join("\n");
}

function renderDropDatabase(loc: ClusterLocation, db: string, allowDataRemoval: boolean): string {
  if (!allowDataRemoval) {
    return `echo ${shellQuote(`dbstack: kept database ${db} of PostgreSQL cluster ${loc.cluster}; ${keptDataHint("drop it")}`)} >&2`;
  }
  return [
    renderClusterPrelude(loc),
    'if cluster_running; then',
    `  psql_su -d postgres -c ${shellQuote(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)} >&2`,
    "fi",
    `echo ${shellQuote(`dbstack: dropped database ${db} (allowDataRemoval is set)`)} >&2`,
  ].join("\n");
}
