import * as pulumi from "@pulumi/pulumi";
import { backupCronJob, renderInstallBackupSchedule, renderRemoveBackupSchedule } from "../../backups/backupSchedule";
import { CRON_DIR, renderInstallCron, renderRemoveCron } from "../../backups/cronEntry";
import { DEFAULT_RETENTION_DAYS, type BackupPolicy } from "../../backups/policy";
import { DEFAULT_BACKUP_SCHEDULE, defaultBackupMaxAgeHours } from "../../backups/schedule";
import { renderPostDeployHook } from "../../hooks/migrationRunner";
import { checksumOf } from "../../hooks/migrations";
import { cronJobName, DEFAULT_HOST_PREFIX, defaultToolsDir } from "../../model/naming";
import { GeneratedPassword } from "../../secrets/generatedPassword";
import { scriptHeader, shellQuote, withHeredoc } from "../../shell";
import { HostCommand } from "../../targets/hostCommand";
import { HostFactsReading } from "../../targets/hostFacts";
import { SshHostKeys } from "../../targets/hostKeys";
import { describeTarget, localTarget, type Target } from "../../targets/target";
import { renderInstallTools, renderRemoveTools } from "../../targets/tools";
import { ArgumentError, checkName, checkPlacement, checkSchedule, checkToolsDirApart, checkWholeNumber } from "../../validate";
import { renderAccessConf, renderHba, type AccessSpec } from "./access";
import type { PostgresClusterArgs, PostgresDatabaseArgs, PostgresUserArgs } from "./args";
import { renderPostgresBackup, renderPostgresMaintenance, renderPostgresRestore, RESTORED_MARK } from "./backupScripts";
import { renderConfigureCluster, renderCreateCluster, renderRemoveCluster } from "./clusterScripts";
import { postgresDialect } from "./dialect";
import { parseInstalledServer, renderClusterPrelude, renderInstallServer, type ClusterLocation } from "./host";
import { restartParameters } from "./parameters";
import type { DatabaseSpec, UserSpec } from "./spec";
import { checkDatabaseSpec, renderDatabaseSql } from "./sql/databases";
import { checkGrants, renderGrantsSql } from "./sql/grants";
import { checkUserSpec, renderDropRoleSql, renderReplicationRoleSql, renderRoleSql } from "./sql/roles";
import { renderAwaitStreaming, renderPromote, renderReplicationSlots, renderStandby } from "./standbyScripts";
import { LOCAL_TLS_NAMES, renderClusterCa, renderSignStandbyCertificate, renderStandbyKey } from "./tls";
import { computeTuning, overridesProblem, renderTuningConf, tuningValues } from "./tuning";
import { postgresUrls, type PostgresUrls } from "./urls";

/** The replication role standbys connect as. */
export const REPLICATION_USER = "dbstack_replication";

/**
 * A PostgreSQL deployment: one cluster (pg_createcluster) on its host with tuned configuration,
 * TLS and pg_hba rules; its databases, users with generated passwords and least-privilege
 * grants; cron backups and maintenance; post-deploy hooks per database; and streaming standbys
 * on other hosts.
 */
export class PostgresCluster extends pulumi.ComponentResource {
  /** How clients reach the primary. */
  readonly host: pulumi.Output<string>;
  readonly port: pulumi.Output<number>;
  /** Database names. */
  readonly databases: pulumi.Output<string[]>;
  /** Per user, per granted database: URLs in the flavours applications use (secret). */
  readonly urls: pulumi.Output<Record<string, Record<string, PostgresUrls>>>;
  /** What the last configuration step did (started / reloaded / restarted, and why). */
  readonly configReport: pulumi.Output<string>;
  /** Per database, what the last post-deploy hook printed. */
  readonly hookReports: pulumi.Output<Record<string, string>>;
  /** Tools on the primary's host (backup, restore, maintenance, health-<db>). */
  readonly toolsDir: pulumi.Output<string>;
  /** Per standby: its tools directory (holds `promote`). */
  readonly standbyTools: pulumi.Output<Record<string, string>>;
  /**
   * The cluster CA's certificate (PEM, public): it signed the certificate of every host of the
   * deployment. Clients verify the server with it (sslmode=verify-full, sslrootcert=<this, as a file>).
   */
  readonly caCertificate: pulumi.Output<string>;

  constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    validateArgs(name, args);
    super("dbstack:postgres:Cluster", name, {}, opts);
    const target = args.target ?? localTarget();
    const component = `postgres cluster ${name}`;
    const allowDataRemoval = args.allowDataRemoval ?? false;
    const prefix = args.hostPrefix ?? DEFAULT_HOST_PREFIX;
    const toolsDir = args.toolsDir ?? defaultToolsDir(prefix, name);
    const port = args.port ?? 5432;
    const address = args.address ?? (target.kind === "ssh" ? target.host : "localhost");
    const standbys = args.standbys ?? [];
    const loc: ClusterLocation = { version: args.version, cluster: args.clusterName ?? name, port, dataDirectory: args.dataDirectory };
    const on = { target, privateKey: args.privateKey, hostKeys: args.hostKeys ?? recordHostKeys(`${name}-host-keys`, target, this) };
    const where = describeTarget(target);
    const child = { parent: this };

    const databases: DatabaseSpec[] = args.databases.map((d) => databaseSpec(d));
    const users: UserSpec[] = args.users.map(userSpec);

    // Packages and host facts -----------------------------------------------------------------
    const server = new HostCommand(`${name}-server`, { ...on, description: `PostgreSQL packages on ${where}`, create: renderInstallServer(args.version), review: { component } }, child);
    const facts = server.stdout.apply(parseInstalledServer);
    const version = facts.apply((f) => f.version);
    /** The cluster's location once the installed version is known. */
    const at = version.apply((v): ClusterLocation => ({ ...loc, version: v }));
    const cluster = new HostCommand(
      `${name}-cluster`,
      {
        ...on,
        description: `PostgreSQL cluster ${loc.cluster} on ${where}`,
        identity: `${loc.cluster}:${loc.dataDirectory ?? "default"}`,
        create: at.apply((l) => renderCreateCluster(l)),
        delete: at.apply((l) => renderRemoveCluster(l, allowDataRemoval)),
        review: { component, dataBearing: true, dataRemovalAllowed: allowDataRemoval },
      },
      { ...child, dependsOn: [server] },
    );

    // Configuration: tuning, access, TLS ------------------------------------------------------
    // Memory and CPUs are read on every run, so a resized host is retuned (and the preview says so).
    const live = new HostFactsReading(`${name}-host-facts`, on, child);
    const tuned = pulumi.all([facts, live.memoryMb, live.cpus]).apply(([f, memoryMb, cpus]) =>
      computeTuning(
        { memoryMb: args.hostFacts?.memoryMb ?? memoryMb ?? f.memoryMb, cpus: args.hostFacts?.cpus ?? cpus ?? f.cpus, storage: args.hostFacts?.storage ?? "ssd" },
        { workload: args.workload ?? "mixed", maxConnections: args.maxConnections ?? 100, version: f.version, overrides: args.parameters ?? {} },
      ),
    );
    const access: AccessSpec = {
      listenAddresses: args.listenAddresses ?? ["localhost"],
      allowedCidrs: args.allowedCidrs ?? [],
      replicationCidrs: standbys.map((s) => hbaAddress(s.address)),
      replicationUser: REPLICATION_USER,
    };
    const files = tuned.apply((t) => ({ tuningConf: renderTuningConf(t), accessConf: renderAccessConf(access, standbys.length > 0), hba: renderHba(access) }));
    const restartValues = pulumi.all([tuned, version]).apply(([t, v]) => {
      const restart = restartParameters(v);
      return Object.fromEntries(Object.entries({ ...tuningValues(t), listen_addresses: access.listenAddresses.join(","), port: String(port) }).filter(([k]) => restart.has(k)));
    });
    const tlsEnv = args.tls ? { DBSTACK_TLS_CERT: args.tls.certificate, DBSTACK_TLS_KEY: args.tls.privateKey } : undefined;
    // The cluster's CA lives on the primary's host only (see tls.ts); its certificate is public.
    const ca = new HostCommand(
      `${name}-ca`,
      { ...on, description: `TLS certificate authority of PostgreSQL cluster ${loc.cluster} on ${where}`, create: at.apply((l) => renderClusterCa(l)), review: { component } },
      { ...child, dependsOn: [cluster] },
    );
    const primaryNames = tlsNames([address, ...(target.kind === "ssh" ? [target.host] : []), ...access.listenAddresses]);
    const config = new HostCommand(
      `${name}-config`,
      {
        ...on,
        description: `configuration of PostgreSQL cluster ${loc.cluster} on ${where}`,
        create: pulumi.all([at, files]).apply(([l, f]) => renderConfigureCluster(l, { ...f, tls: { names: primaryNames } })),
        environment: tlsEnv,
        review: restartValues.apply((r) => ({ component, restartParameters: r })),
      },
      { ...child, dependsOn: [cluster, ca] },
    );

    // Databases and users ---------------------------------------------------------------------
    const passwords = new Map<string, pulumi.Output<string>>();
    const roleSteps: HostCommand[] = [];
    for (const u of args.users) {
      const password = u.password
        ? pulumi.secret(u.password)
        : new GeneratedPassword(`${name}-${u.name}-password`, { rotation: u.passwordRotation ?? 0 }, child).result;
      passwords.set(u.name, password);
      const env = passwordVariable(u.name);
      const user = userSpec(u);
      roleSteps.push(
        new HostCommand(
          `${name}-role-${u.name}`,
          {
            ...on,
            description: `role ${u.name} in PostgreSQL cluster ${loc.cluster}`,
            create: at.apply((l) => psqlScript(l, `role ${u.name}`, renderRoleSql(user, env))),
            delete: at.apply((l) => renderRemoveRole(l, u.name, databases, allowDataRemoval)),
            environment: { [env]: password },
            review: { component },
          },
          { ...child, dependsOn: [config] },
        ),
      );
    }
    const dbResources = databases.map(
      (db) =>
        new HostCommand(
          `${name}-db-${db.name}`,
          {
            ...on,
            description: `database ${db.name} in PostgreSQL cluster ${loc.cluster}`,
            create: at.apply((l) => psqlScript(l, `database ${db.name}`, renderDatabaseSql(db))),
            delete: at.apply((l) => renderDropDatabase(l, db.name, allowDataRemoval)),
            review: { component, dataBearing: true, dataRemovalAllowed: allowDataRemoval },
          },
          // Owners exist before their databases (and are dropped after them).
          { ...child, dependsOn: roleSteps },
        ),
    );
    const grantSteps = users.map(
      (user) =>
        new HostCommand(
          `${name}-grants-${user.name}`,
          {
            ...on,
            description: `grants of ${user.name} in PostgreSQL cluster ${loc.cluster}`,
            create: at.apply((l) => psqlScript(l, `grants of ${user.name}`, renderGrantsSql(user, databases))),
            review: {
              component,
              grants: Object.fromEntries(Object.entries(user.grants).map(([db, role]) => [`${user.name} on ${db}`, { role }])),
            },
          },
          { ...child, dependsOn: [...roleSteps, ...dbResources] },
        ),
    );

    // Standbys: replication role and slots on the primary, then each standby ----------------
    const standbyTools: Record<string, pulumi.Output<string>> = {};
    let replicationReady: HostCommand[] = [];
    if (standbys.length > 0) {
      const replicationPassword = new GeneratedPassword(`${name}-replication-password`, {}, child).result;
      const replication = new HostCommand(
        `${name}-replication`,
        {
          ...on,
          description: `replication role and slots of PostgreSQL cluster ${loc.cluster}`,
          create: at.apply(
            (l) =>
              psqlScript(l, "replication role", renderReplicationRoleSql(REPLICATION_USER, "DBSTACK_REPLICATION_PASSWORD")) +
              "\n" +
              renderReplicationSlots(l, standbys.map((s) => slotName(s.name))),
          ),
          environment: { DBSTACK_REPLICATION_PASSWORD: replicationPassword },
          review: { component },
        },
        { ...child, dependsOn: [config] },
      );
      replicationReady = [replication];
      for (const s of standbys) {
        const sOn = {
          target: s.target,
          privateKey: s.privateKey ?? args.privateKey,
          hostKeys: s.hostKeys ?? recordHostKeys(`${name}-${s.name}-host-keys`, s.target, this),
        };
        const sWhere = describeTarget(s.target);
        const sLoc = { version: args.version, cluster: s.clusterName ?? loc.cluster, port: s.port ?? port, dataDirectory: undefined };
        const sServer = new HostCommand(`${name}-${s.name}-server`, { ...sOn, description: `PostgreSQL packages on ${sWhere}`, create: renderInstallServer(args.version), review: { component } }, child);
        const clone = new HostCommand(
          `${name}-${s.name}`,
          {
            ...sOn,
            description: `standby ${s.name} of PostgreSQL cluster ${loc.cluster} on ${sWhere}`,
            // What the standby is: its cluster. Its host's address, port, user and keys say how it is
            // reached, and changing them must never re-create (and so delete) a standby.
            identity: `${sLoc.cluster}@standby`,
            create: version.apply((v) =>
              renderStandby({ ...sLoc, version: v, slot: slotName(s.name), primaryHost: address, primaryPort: port, replicationUser: REPLICATION_USER }),
            ),
            delete: version.apply((v) => renderRemoveCluster({ ...sLoc, version: v }, allowDataRemoval)),
            environment: { DBSTACK_REPLICATION_PASSWORD: replicationPassword },
            review: { component, standby: s.name, dataBearing: true, dataRemovalAllowed: allowDataRemoval },
          },
          { ...child, dependsOn: [sServer, replication] },
        );
        // Standbys get the primary's tuning, so a hot standby can always follow it; they listen
        // on their own address where the primary listens beyond localhost.
        const sAccess: AccessSpec = { ...access, listenAddresses: standbyListenAddresses(access.listenAddresses, s.address) };
        // TLS: the standby makes its own key; only its public key travels, to be signed by the
        // cluster's CA on the primary's host. The primary's key never leaves the primary.
        const sNames = tlsNames([s.address, ...(s.target.kind === "ssh" ? [s.target.host] : []), ...sAccess.listenAddresses]);
        const sKey = new HostCommand(
          `${name}-${s.name}-tls-key`,
          { ...sOn, description: `TLS key of standby ${s.name} on ${sWhere}`, create: version.apply((v) => renderStandbyKey({ ...sLoc, version: v })), review: { component } },
          { ...child, dependsOn: [clone] },
        );
        const sCert = new HostCommand(
          `${name}-${s.name}-tls-certificate`,
          {
            ...on,
            description: `TLS certificate of standby ${s.name}, signed on ${where}`,
            create: pulumi.all([at, sKey.stdout]).apply(([l, publicKey]) => renderSignStandbyCertificate(l, { name: s.name, publicKey, names: sNames })),
            review: { component },
          },
          { ...child, dependsOn: [ca] },
        );
        const sFiles = pulumi
          .all([files, sCert.stdout])
          .apply(([f, certificate]) => ({ ...f, accessConf: renderAccessConf(sAccess, true), tls: { names: sNames, certificate } }));
        const sConfig = new HostCommand(
          `${name}-${s.name}-config`,
          {
            ...sOn,
            description: `configuration of standby ${s.name} on ${sWhere}`,
            create: pulumi.all([version, sFiles]).apply(([v, f]) => `${renderConfigureCluster({ ...sLoc, version: v }, f)}\n${renderAwaitStreaming()}`),
            review: restartValues.apply((r) => ({ component, restartParameters: r })),
          },
          { ...child, dependsOn: [clone, sCert] },
        );
        replicationReady.push(sConfig);
        const sTools = `${toolsDir}-${s.name}`;
        new HostCommand(
          `${name}-${s.name}-tools`,
          {
            ...sOn,
            description: `tools of standby ${s.name}`,
            create: version.apply((v) => renderInstallTools(sTools, [["promote", renderPromote({ ...sLoc, version: v })]])),
            delete: renderRemoveTools(sTools),
            review: { component },
          },
          { ...child, dependsOn: [sConfig] },
        );
        standbyTools[s.name] = pulumi.output(sTools);
      }
    }

    // Backups, maintenance, tools --------------------------------------------------------------
    const backup: (BackupPolicy & { maxAgeHours: number }) | undefined = args.backup && {
      schedule: args.backup.schedule ?? DEFAULT_BACKUP_SCHEDULE,
      dir: args.backup.dir ?? `/var/backups/${prefix}/${name}`,
      retentionDays: args.backup.retentionDays ?? DEFAULT_RETENTION_DAYS,
      gpgRecipient: args.backup.gpgRecipient,
      offHostCommand: args.backup.offHostCommand,
      maxAgeHours: args.backup.maxAgeHours ?? defaultBackupMaxAgeHours(args.backup.schedule ?? DEFAULT_BACKUP_SCHEDULE),
    };
    const backupSchedule = backup && { name, jobName: cronJobName(prefix, name, "backup"), policy: backup, script: `${toolsDir}/backup`, extension: ".tar", allowDataRemoval };
    // The on-demand health tools log in as each database's owner too: its password is kept in a
    // root-only file beside them (the deploy itself passes it in the hook's environment).
    const ownerPasswordFile = (owner: string) => `${toolsDir}/${owner}.password`;
    const owners = [...new Set(args.databases.map((d) => d.owner))];
    const hookTarget = (v: number, db: PostgresDatabaseArgs) => ({
      ...loc,
      version: v,
      database: db.name,
      owner: db.owner,
      ownerPasswordFile: ownerPasswordFile(db.owner),
      expectedStandbys: standbys.length,
      backup: backupSchedule && {
        dir: backupSchedule.policy.dir,
        prefix: name,
        maxAgeHours: backupSchedule.policy.maxAgeHours,
        cronFile: `${CRON_DIR}/${backupCronJob(backupSchedule).name}`,
      },
    });
    const toolScripts = version.apply((v) => {
      const tools: [string, string][] = args.databases.map((db) => [
        `health-${db.name}`,
        renderPostDeployHook({ subject: `database ${db.name} (health checks only)`, dialect: postgresDialect(hookTarget(v, db)), healthChecks: db.healthChecks ?? [] }),
      ]);
      if (backup) {
        const spec = { ...loc, version: v, name, databases: databases.map((d) => d.name), policy: backup };
        tools.push(["backup", renderPostgresBackup(spec)], ["restore", renderPostgresRestore(spec)]);
      }
      tools.push(["maintenance", renderPostgresMaintenance({ ...loc, version: v, name })]);
      return tools;
    });
    const tools = new HostCommand(
      `${name}-tools`,
      {
        ...on,
        description: `tools of PostgreSQL cluster ${loc.cluster}`,
        create: toolScripts.apply((t) =>
          [renderInstallTools(toolsDir, t), ...owners.map((o) => renderSaveFromEnvironment(ownerPasswordFile(o), passwordVariable(o)))].join("\n"),
        ),
        delete: renderRemoveTools(toolsDir),
        environment: Object.fromEntries(owners.map((o) => [passwordVariable(o), passwords.get(o)!])),
        review: { component },
      },
      { ...child, dependsOn: [config] },
    );
    if (backupSchedule) {
      const schedule = backupSchedule;
      new HostCommand(
        `${name}-backup-schedule`,
        {
          ...on,
          description: `backup schedule of PostgreSQL cluster ${loc.cluster}`,
          create: renderInstallBackupSchedule(schedule),
          delete: renderRemoveBackupSchedule(schedule),
          review: {
            component,
            backup: { schedule: schedule.policy.schedule, retentionDays: schedule.policy.retentionDays },
            dataBearing: true,
            dataRemovalAllowed: allowDataRemoval,
          },
        },
        { ...child, dependsOn: [tools] },
      );
    }
    if (args.maintenanceSchedule) {
      const job = {
        name: cronJobName(prefix, name, "maintenance"),
        schedule: args.maintenanceSchedule,
        user: "root",
        script: `${toolsDir}/maintenance`,
        logFile: `/var/log/${prefix}-${name}-maintenance.log`,
      };
      new HostCommand(
        `${name}-maintenance-schedule`,
        {
          ...on,
          description: `maintenance schedule of PostgreSQL cluster ${loc.cluster}`,
          create: renderInstallCron(job),
          delete: renderRemoveCron(job),
          review: { component },
        },
        { ...child, dependsOn: [tools] },
      );
    }

    // Post-deploy hooks per database ----------------------------------------------------------
    const hookReports: Record<string, pulumi.Output<string>> = {};
    for (const db of args.databases) {
      const ownerPassword = passwords.get(db.owner)!;
      const hook = new HostCommand(
        `${name}-post-deploy-${db.name}`,
        {
          ...on,
          description: `post-deploy hook for database ${db.name}`,
          create: version.apply((v) =>
            renderPostDeployHook({
              subject: `database ${db.name} of PostgreSQL cluster ${loc.cluster}`,
              dialect: postgresDialect(hookTarget(v, db)),
              migrations: db.migrations,
              healthChecks: db.healthChecks ?? [],
            }),
          ),
          environment: {
            // The hook's psql logs in as the owner with this; an external migration command gets DATABASE_URL only.
            DBSTACK_OWNER_PASSWORD: ownerPassword,
            DATABASE_URL: ownerPassword.apply((pw) => postgresUrls({ user: db.owner, password: pw, host: "127.0.0.1", port, database: db.name }).postgresql),
          },
          triggers: [cluster.id, config.stdout.apply((s) => checksumOf(s))],
          review: { component, migrations: db.migrations?.kind === "sql" ? db.migrations.migrations.map((m) => m.id) : [] },
        },
        { ...child, dependsOn: [...grantSteps, tools, ...replicationReady] },
      );
      hookReports[db.name] = hook.stdout;
    }

    // Outputs ---------------------------------------------------------------------------------
    const urlEntries = args.users.map((u) =>
      passwords.get(u.name)!.apply((pw) => [
        u.name,
        Object.fromEntries(
          Object.keys(u.grants).map((db) => [db, postgresUrls({ user: u.name, password: pw, host: address, port, database: db, caCertificateFile: args.caCertificateFile })]),
        ),
      ] as const),
    );
    this.host = pulumi.output(address);
    this.port = pulumi.output(port);
    this.databases = pulumi.output(databases.map((d) => d.name));
    this.urls = pulumi.secret(pulumi.all(urlEntries).apply((entries) => Object.fromEntries(entries)));
    this.configReport = config.stdout;
    this.hookReports = pulumi.all(hookReports);
    this.toolsDir = pulumi.output(toolsDir);
    this.standbyTools = pulumi.all(standbyTools);
    this.caCertificate = ca.stdout;
    this.registerOutputs({
      host: this.host,
      port: this.port,
      databases: this.databases,
      urls: this.urls,
      configReport: this.configReport,
      hookReports: this.hookReports,
      toolsDir: this.toolsDir,
      standbyTools: this.standbyTools,
      caCertificate: this.caCertificate,
    });
  }
}

/**
 * The keys of an SSH host recorded on first contact, for a component used without them (the
 * stack passes one record per dbstack:hosts entry instead). None for this machine.
 */
function recordHostKeys(name: string, target: Target, parent: pulumi.Resource): pulumi.Output<string> | undefined {
  return target.kind === "ssh" ? new SshHostKeys(name, { target }, { parent }).keys : undefined;
}

/** The names a host's TLS certificate is valid for: how clients reach it, and the host itself. */
function tlsNames(addresses: string[]): string[] {
  return [...new Set([...addresses, ...LOCAL_TLS_NAMES])];
}

/** The environment variable a step receives a user's password in. User names are SQL identifiers. */
function passwordVariable(user: string): string {
  return `DBSTACK_PASSWORD_${user.toUpperCase()}`;
}

/** Writes the value of an environment variable to a root-only file (0600), atomically. */
function renderSaveFromEnvironment(path: string, variable: string): string {
  const tmp = shellQuote(`${path}.dbstack-tmp`);
  return [
    `( umask 077 && printf '%s' "$${variable}" > ${tmp} )`,
    `chmod 600 ${tmp}`,
    `mv -f ${tmp} ${shellQuote(path)}`,
  ].join("\n");
}

function databaseSpec(d: PostgresDatabaseArgs): DatabaseSpec {
  return {
    name: d.name,
    owner: d.owner,
    encoding: d.encoding ?? "UTF8",
    locale: d.locale ?? "C.UTF-8",
    dateStyle: d.dateStyle ?? "ISO, MDY",
    timeZone: d.timeZone ?? "UTC",
    extensions: d.extensions ?? [],
  };
}

function userSpec(u: PostgresUserArgs): UserSpec {
  return { name: u.name, grants: u.grants, connectionLimit: u.connectionLimit ?? -1 };
}

/** A pg_hba address for one host: IPv4 /32, IPv6 /128, a host name as is (pg_hba resolves it). */
function hbaAddress(address: string): string {
  if (address.includes("/")) return address;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) return `${address}/32`;
  if (address.includes(":")) return `${address}/128`;
  return address;
}

function standbyListenAddresses(primary: string[], standbyAddress: string): string[] {
  if (primary.includes("*")) return ["*"];
  const local = new Set(["localhost", "127.0.0.1", "::1"]);
  return primary.some((a) => !local.has(a)) ? ["localhost", standbyAddress.replace(/\/\d+$/, "")] : ["localhost"];
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
    return `echo ${shellQuote(`dbstack: kept database ${db} of PostgreSQL cluster ${loc.cluster}; set dbstack:allowDataRemoval to true to drop it on destroy`)} >&2`;
  }
  return [
    renderClusterPrelude(loc),
    'if cluster_running; then',
    `  psql_su -d postgres -c ${shellQuote(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)} >&2`,
    "fi",
    `echo ${shellQuote(`dbstack: dropped database ${db} (allowDataRemoval is set)`)} >&2`,
  ].join("\n");
}


function validateArgs(name: string, args: PostgresClusterArgs): void {
  checkName("name", name);
  checkWholeNumber("port", args.port, 1, 65535);
  checkWholeNumber("maxConnections", args.maxConnections, 1, 10000);
  checkPlacement("dataDirectory", args.dataDirectory, true);
  checkPlacement("toolsDir", args.toolsDir, true);
  checkPlacement("backup.dir", args.backup?.dir, true);
  checkToolsDirApart(args.toolsDir, [[`dataDirectory ${args.dataDirectory}`, args.dataDirectory], [`backup.dir ${args.backup?.dir}`, args.backup?.dir]]);
  checkSchedule("backup.schedule", args.backup?.schedule);
  checkSchedule("maintenanceSchedule", args.maintenanceSchedule);
  checkWholeNumber("backup.retentionDays", args.backup?.retentionDays, 1, 3650);
  const dbNames = new Set(args.databases.map((d) => d.name));
  const userNames = new Set(args.users.map((u) => u.name));
  for (const d of args.databases) {
    if (!userNames.has(d.owner)) throw new Error(`databases.${d.name}.owner: ${JSON.stringify(d.owner)} is not one of the declared users (${[...userNames].join(", ")})`);
  }
  for (const u of args.users) {
    for (const db of Object.keys(u.grants)) {
      if (!dbNames.has(db)) throw new Error(`users.${u.name}.grants.${db}: no database ${db} is declared`);
    }
  }
  for (const s of args.standbys ?? []) checkName(`standbys.${s.name}`, s.name);
  // Tuning's own rule, here so that a bad override fails before anything is registered.
  const overrides = overridesProblem(args.parameters ?? {});
  if (overrides) throw new ArgumentError(`parameters: ${overrides}`);
  // The SQL renderers' own rules (reserved names, owner grants ...), before anything is registered.
  const databases = args.databases.map(databaseSpec);
  for (const d of databases) checkDatabaseSpec(d);
  for (const u of args.users) {
    const user = userSpec(u);
    checkUserSpec(user);
    checkGrants(user, databases);
  }
}

