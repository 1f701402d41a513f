/**
 * MariaDB (and the MySQL flavour) as a server engine (engines/engine.ts): instances of their own
 * beside the distribution's server, an option file tuned to the host and applied with SET GLOBAL
 * or a restart, accounts per host pattern, GTID replicas seeded from a consistent snapshot,
 * mariadb-dump backups and the hook dialect. Every member delegates to a renderer of this folder.
 */
import { DEFAULTS } from "../../model/defaults";
import { ArgumentError } from "../../validate";
import type { InstanceConfig, ServerEngine } from "../engine";
import type { MariadbDatabaseArgs, MariadbUserArgs } from "./args";
import { renderMariadbBackup, renderMariadbMaintenance, renderMariadbRestore } from "./backupScripts";
import { mariadbDialect } from "./dialect";
import { renderMariadbMonitorAccount } from "./monitoring";
import { MARIADB_SLOW_LOG } from "../slowQueryLog";
import type { Flavor } from "./flavor";
import { mariadbPaths, parseInstalledServer, renderInstallServer, renderVersionProbe, type MariadbLocation } from "./host";
import { renderConfigureInstance, renderCreateInstance, renderOwnerProbe, renderRemoveInstance, renderServingProbe, renderStartInstance, renderStopInstance } from "./instanceScripts";
import { renderOptionFile, serverVariables } from "./optionFile";
import { checkParameterPolicy } from "../parameterPolicy";
import { MARIADB_PARAMETER_POLICY } from "./parameterPolicy";
import { restartVariables } from "./parameters";
import { renderPromote, renderStandby, renderReplicationSource } from "./standbyScripts";
import { renderAccountScript, renderDropAccountScript, checkUserSpec, type MariadbUserSpec } from "./sql/accounts";
import { checkDatabaseSpec, renderDatabaseScript, renderDropDatabaseScript, type MariadbDatabaseSpec } from "./sql/databases";
import { checkGrants, renderGrantsScript } from "./sql/grants";
import { renderInstanceCa, renderInstanceCaProbe, renderStandbyKey, renderSignStandbyCertificate } from "./tls";
import { computeTuning, overridesProblem } from "./tuning";
import { mariadbUrls } from "./urls";
import { mariadbPitr } from "./pitr";

/** The account replicas connect as. */
export const MARIADB_REPLICATION_USER = "dbstack_replication";

/** The engine for one flavour, with the server-wide choices its option file carries. */
export function mariadbEngine(options: { flavor: Flavor; requireSecureTransport: boolean }): ServerEngine<MariadbLocation, MariadbDatabaseArgs, MariadbUserArgs> {
  const { flavor } = options;
  const optionFile = (loc: MariadbLocation, config: InstanceConfig) =>
    renderOptionFile({
      loc,
      parameters: config.tuned,
      bindAddresses: config.access.listenAddresses,
      requireSecureTransport: options.requireSecureTransport,
      tls: true,
      // Binary log and GTID wherever there are replicas: on the primary, and on each replica (which may be promoted);
      // and wherever point-in-time recovery archives the binary log (pitr).
      replication: config.hasStandbys || config.role === "standby" || config.archiving ? { role: config.role === "standby" ? "replica" : "primary", serverId: config.serverId } : undefined,
    });
  const title = flavor === "mariadb" ? "MariaDB" : "MySQL";
  return {
    kind: "mariadb",
    title,
    instanceNoun: "instance",
    defaultPort: DEFAULTS.mariadb.port,
    replicationUser: MARIADB_REPLICATION_USER,
    databaseUrlFlavor: "mysql",
    backupExtension: ".tar",

    overridesProblem: (overrides, unsafe) => overridesProblem(overrides) ?? checkParameterPolicy(MARIADB_PARAMETER_POLICY, overrides, unsafe).problem,
    parameterWarnings: (overrides, unsafe) => checkParameterPolicy(MARIADB_PARAMETER_POLICY, overrides, unsafe).warnings,
    checkDatabase: (db) => checkDatabaseSpec(databaseSpec(db)),
    checkUser(u, databases) {
      const user = userSpec(u);
      checkUserSpec(user);
      checkGrants(user, databases.map(databaseSpec));
      // Hooks log in as the owner over the instance's socket: its 'name'@'localhost' account.
      const owned = databases.filter((d) => d.owner === u.name).map((d) => d.name);
      if (owned.length > 0 && !user.hosts.some((h) => h === "localhost" || h === "%")) {
        throw new ArgumentError(
          `users.${u.name}.hosts: ${u.name} owns database ${owned.join(", ")}, whose migrations and health checks log in as '${u.name}'@'localhost' over the socket; add "localhost" to its hosts`,
        );
      }
    },

    renderInstall: () => renderInstallServer(flavor),
    parseInstalled: parseInstalledServer,
    locate: (i, _version) => ({ instance: i.instance, port: i.port, dataDirectory: i.dataDirectory, flavor, owner: i.owner }),
    renderCreate: renderCreateInstance,
    renderRemove: renderRemoveInstance,
    renderOwnerProbe,
    renderVersionProbe: (_loc, declared, where) => renderVersionProbe(flavor, declared, title, where),

    defaultImage: DEFAULTS.container.images.mariadb,
    containerVolumes: (i) => [
      { suffix: "data", path: i.dataDirectory ?? "/var/lib/dbstack-mariadb" },
      { suffix: "config", path: "/etc/mysql/dbstack" },
    ],
    renderStart: renderStartInstance,
    renderStop: renderStopInstance,
    // mariadb-admin ping exits 0 whenever the server answers, even when it refuses the login.
    healthCommand: (i) => `mariadb-admin --no-defaults --protocol=tcp -h127.0.0.1 -P${i.port} -uhealthcheck ping`,

    tune: (facts, spec) => computeTuning(facts, spec),
    restartValues(version, config, port) {
      const restart = restartVariables(version);
      const loc: MariadbLocation = { instance: "preview", port, flavor };
      const values = serverVariables(optionFile(loc, config));
      // Paths derive from the instance name, which cannot change without a new instance.
      return Object.fromEntries(Object.entries(values).filter(([k]) => restart.has(k) && !/(^|_)(datadir|socket|pid_file|log_error)$/.test(k)));
    },
    renderConfigure: (loc, config) => renderConfigureInstance(loc, optionFile(loc, config), { names: config.tls.names, certificate: config.tls.certificate, caCertificate: config.tls.caCertificate, lifetime: config.tls.lifetime }),
    renderServingProbe: renderServingProbe,

    renderCa: renderInstanceCa,
    renderCaProbe: renderInstanceCaProbe,
    renderStandbyKey: renderStandbyKey,
    renderSignStandbyCertificate: renderSignStandbyCertificate,

    renderUser: (loc, u, passwordEnv) => renderAccountScript(loc, userSpec(u), passwordEnv, flavor),
    // An account owns no data in MariaDB: dropping it loses nothing, so it is dropped even when data is kept.
    renderRemoveUser: (loc, u) => renderDropAccountScript(loc, u.name),
    renderDatabase: (loc, db) => renderDatabaseScript(loc, databaseSpec(db)),
    renderRemoveDatabase: (loc, db, allowDataRemoval) => renderDropDatabaseScript(loc, db.name, allowDataRemoval),
    renderGrants: (loc, u, databases) => renderGrantsScript(loc, userSpec(u), databases.map(databaseSpec)),

    renderReplicationSource: (loc, source) =>
      renderReplicationSource(loc, { user: MARIADB_REPLICATION_USER, passwordEnv: source.passwordEnv, standbyHosts: source.standbys.map((s) => s.address) }),
    renderCreateStandby: (loc, _source, opts) => renderCreateInstance(loc, opts),
    renderFollow: (loc, source) =>
      renderStandby({ loc, source: { host: source.primaryHost, port: source.primaryPort }, user: source.replicationUser, passwordEnv: source.passwordEnv, flavor }),
    renderPromote: renderPromote,

    renderBackup: (loc, spec) => renderMariadbBackup({ ...loc, ...spec }),
    renderRestore: (loc, spec) => renderMariadbRestore({ ...loc, ...spec }),
    renderMaintenance: (loc, spec) => renderMariadbMaintenance({ ...loc, ...spec }),
    dialect: (loc, hook) => mariadbDialect({ ...loc, ...hook }),
    urls: (c) => ({ ...mariadbUrls(c) }),
    renderMonitorAccount: (loc, passwordEnv) => renderMariadbMonitorAccount({ ...loc, flavor }, passwordEnv),
    // performance_schema keeps the statement digests (slowQueryLog.ts turns it on): nothing to create.
    renderStatementStatistics: (loc) => `echo ${JSON.stringify(`MariaDB instance ${loc.instance}: statement digests in performance_schema`)}`,
    slowLog: (loc) => ({ file: `${mariadbPaths(loc).dataDirectory}/${MARIADB_SLOW_LOG}`, owner: "mysql", group: "mysql" }),
    pitr: mariadbPitr,
  };
}

/** A database with MariaDB's defaults (defaults.ts) applied. */
function databaseSpec(d: MariadbDatabaseArgs): MariadbDatabaseSpec {
  return { name: d.name, collation: d.collation ?? DEFAULTS.mariadb.database.collation };
}

/** A user with MariaDB's defaults applied; the model's "no limit" (-1) is MariaDB's 0. */
function userSpec(u: MariadbUserArgs): MariadbUserSpec {
  const limit = u.connectionLimit ?? DEFAULTS.user.connectionLimit;
  return {
    name: u.name,
    grants: u.grants,
    hosts: u.hosts ?? [...DEFAULTS.mariadb.user.hosts],
    requireSsl: u.requireSsl ?? DEFAULTS.mariadb.user.requireSsl,
    connectionLimit: limit < 0 ? 0 : limit,
  };
}
