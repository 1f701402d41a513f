import * as pulumi from "@pulumi/pulumi";
import { describeDatabase, importStep, ownerCopyUrl } from "./importStep";
import { offHostCommandFiles } from "../backups/archive";
import { backupCronJob, renderInstallBackupSchedule, renderRemoveBackupSchedule, type BackupScheduleSpec } from "../backups/backupSchedule";
import { CRON_DIR, renderInstallCron, renderRemoveCron } from "../backups/cronEntry";
import type { InstanceConfig, InstanceSpec, ServerEngine, StandbySource, Urls } from "../engines/engine";
import { healthCheckFiles } from "../hooks/healthChecks";
import { renderHealthTool, renderPostDeployHook } from "../hooks/migrationRunner";
import { checksumOf } from "../hooks/migrations";
import type { ContainerArgs, DatabaseArgs, ServerDeploymentArgs, StandbyArgs, UserArgs } from "../model/args";
import { DEFAULTS } from "../model/defaults";
import { cronJobName, defaultBackupDir, defaultToolsDir, jobLogFile, tlsNames } from "../model/naming";
import { GeneratedPassword } from "../secrets/generatedPassword";
import { HostCommand } from "../targets/hostCommand";
import { certificateLifetime, renewalPeriod } from "../tls/lifetime";
import { HostFactsReading } from "../targets/hostFacts";
import { hostAccess, type HostAccess } from "../targets/access";
import { accessIn, placeInContainer, renderInstallContainerScripts } from "./container";
import { describeTarget, localTarget, type Target } from "../targets/target";
import { renderInstallTools, renderRemoveTools, renderToolsOwnerProbe } from "../targets/tools";
import { OwnerCheck } from "../targets/ownerCheck";
import { ownerLine } from "../targets/ownership";
import { resolveBackup, renderSaveFromEnvironment, passwordVariable, defaultHostPrefix } from "./common";
import { installedVersionProblem, validateServerArgs } from "./validateServer";
import { ArgumentError } from "../validate";

/** How a typed wrapper names the instances of its deployment on their hosts. */
export interface InstanceNaming<Standby> {
  /** The primary's instance name (PostgreSQL cluster, MariaDB instance). */
  instance: string;
  /** Declared major version, as the engine writes it. */
  version?: string;
  /** A standby's instance name on its host. */
  standbyInstance: (standby: Standby) => string;
}

/**
 * One server deployment of any engine on any target: packages and the primary's instance, its
 * tuned configuration with access rules and TLS, users with generated passwords, databases and
 * least-privilege grants, standbys on other hosts, operator tools, cron backups and maintenance,
 * and post-deploy hooks per database. The engine supplies every script (engines/engine.ts); this
 * component decides the steps and their order. PostgresCluster and MariadbServer are typed
 * wrappers around it.
 */
export class ServerDeployment<Loc, Db extends DatabaseArgs, User extends UserArgs, Standby extends StandbyArgs> extends pulumi.ComponentResource {
  /** How clients reach the primary. */
  readonly host: pulumi.Output<string>;
  readonly port: pulumi.Output<number>;
  /** Database names. */
  readonly databases: pulumi.Output<string[]>;
  /** Per user, per granted database: URLs in the flavours applications use (secret). */
  readonly urls: pulumi.Output<Record<string, Record<string, Urls>>>;
  /** What the last configuration step did (started / reloaded / restarted, and why). */
  readonly configReport: pulumi.Output<string>;
  /** Per database, what the last post-deploy hook printed. */
  readonly hookReports: pulumi.Output<Record<string, string>>;
  /** Tools on the primary's host (backup, restore, maintenance, health-<db>). */
  readonly toolsDir: pulumi.Output<string>;
  /** Per standby: its tools directory (holds `promote`). */
  readonly standbyTools: pulumi.Output<Record<string, string>>;
  /** The deployment CA's certificate (PEM, public): clients verify every host of the deployment with it. */
  readonly caCertificate: pulumi.Output<string>;

  constructor(
    type: string,
    engine: ServerEngine<Loc, Db, User>,
    name: string,
    args: ServerDeploymentArgs<Db, User, Standby>,
    naming: InstanceNaming<Standby>,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    validateServerArgs(name, args, engine);
    super(type, name, {}, opts);
    // Accepted parameters a reviewer should know about (statement logs, unsafe ones allowed): in the preview's diagnostics.
    for (const w of engine.parameterWarnings(args.parameters ?? {}, args.unsafeParameters ?? DEFAULTS.server.unsafeParameters)) pulumi.log.warn(w, this);
    const target = args.target ?? localTarget();
    const component = `${engine.kind} ${engine.instanceNoun} ${name}`;
    const allowDataRemoval = args.allowDataRemoval ?? DEFAULTS.allowDataRemoval;
    const prefix = args.hostPrefix ?? defaultHostPrefix();
    const toolsDir = args.toolsDir ?? defaultToolsDir(prefix, engine.kind, name);
    const port = args.port ?? engine.defaultPort;
    const standbys = args.standbys ?? [];
    // Whose everything this deployment makes on a host is: the marker every instance, data
    // directory and tools directory carries (targets/ownership.ts).
    const owner = ownerLine({ project: pulumi.getProject(), stack: pulumi.getStack(), id: prefix });
    const spec: InstanceSpec = { instance: naming.instance, port, dataDirectory: args.dataDirectory, version: naming.version, owner };
    const backup = resolveBackup(args.backup, defaultBackupDir(prefix, engine.kind, name));
    // On a Docker target the server runs in a container of its own (volumes, container, boot
    // scripts); every engine step then runs inside it, and cron jobs on the Docker host.
    const place = (id: string, t: Target, instance: InstanceSpec, container: ContainerArgs | undefined, extraVolumes: { suffix: string; path: string }[]) =>
      t.kind === "docker"
        ? placeInContainer(id, { engine, target: t, name: id, instance, container, extraVolumes, prefix, owner, component, allowDataRemoval }, this)
        : undefined;
    /** A container's start and stop scripts, after its instance is configured. */
    const containerScripts = (id: string, access: HostAccess, loc: pulumi.Output<Loc>, after: pulumi.Resource) =>
      new HostCommand(
        id,
        {
          ...access,
          description: `start and stop scripts of ${id}'s container`,
          create: loc.apply((l) => renderInstallContainerScripts(engine.renderStart(l), engine.renderStop(l))),
          review: { component },
        },
        { ...child, dependsOn: [after] },
      );
    const placed = place(name, target, spec, args.container, backup ? [{ suffix: "backups", path: backup.dir }] : []);
    const on = placed?.on ?? hostAccess(name, target, this);
    const address = args.address ?? placed?.address ?? hostAddress(target);
    const where = describeTarget(on.target);
    const what = `${engine.title} ${engine.instanceNoun} ${spec.instance}`;
    const child = { parent: this };

    // Whose the host's instance, data and tools directories are: read at preview, before any step.
    const ownerCheck = new OwnerCheck(
      `${name}-owner-check`,
      {
        ...on,
        description: `owner of ${what} on ${where}`,
        script: [engine.renderOwnerProbe(engine.locate(spec, naming.version ?? "")), renderToolsOwnerProbe(toolsDir, owner)].join("\n"),
      },
      { ...child, dependsOn: placed ? [placed.step] : [] },
    );

    // Packages and host facts -----------------------------------------------------------------
    const server = new HostCommand(
      `${name}-server`,
      { ...on, description: `${engine.title} packages on ${where}`, create: engine.renderInstall(naming.version), review: { component } },
      { ...child, dependsOn: [ownerCheck] },
    );
    const facts = server.stdout.apply((s) => engine.parseInstalled(s));
    // A declared version the host does not run is an error (at preview once the host was read), never ignored.
    const version = facts.apply((f) => {
      const problem = installedVersionProblem(naming.version, f.version, engine.title, where);
      if (problem) throw new ArgumentError(problem);
      return f.version;
    });
    /** The instance's location once the installed version is known. */
    const at = version.apply((v) => engine.locate(spec, v));
    const instance = new HostCommand(
      `${name}-${engine.instanceNoun}`,
      {
        ...on,
        description: `${what} on ${where}`,
        identity: `${spec.instance}:${spec.dataDirectory ?? "default"}`,
        create: at.apply((l) => engine.renderCreate(l)),
        // An update runs only for an instance already in this stack's state: one made before
        // markers is adopted (marked) there, never at create.
        update: at.apply((l) => engine.renderCreate(l, { adopt: true })),
        delete: at.apply((l) => engine.renderRemove(l, allowDataRemoval)),
        review: { component, dataBearing: true, dataRemovalAllowed: allowDataRemoval },
      },
      { ...child, dependsOn: [server] },
    );

    // Configuration: tuning, access, TLS ------------------------------------------------------
    // Memory and CPUs are read on every run, so a resized host is retuned (and the preview says so).
    const live = new HostFactsReading(`${name}-host-facts`, on, child);
    const tuned = pulumi.all([facts, live.memoryMb, live.cpus]).apply(([f, memoryMb, cpus]) =>
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
        tls: { names: tlsNames([address, ...sshHost(target), ...access.listenAddresses]), lifetime },
      }),
    );
    const restartValues = pulumi.all([version, primaryConfig]).apply(([v, c]) => engine.restartValues(v, c, port));
    const tlsEnv = args.tls ? { DBSTACK_TLS_CERT: args.tls.certificate, DBSTACK_TLS_KEY: args.tls.privateKey } : undefined;
    // The deployment's CA lives on the primary's host only; its certificate is public.
    const ca = new HostCommand(
      `${name}-ca`,
      { ...on, description: `TLS certificate authority of ${what} on ${where}`, create: at.apply((l) => engine.renderCa(l, lifetime)), review: { component } },
      { ...child, dependsOn: [instance] },
    );
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
      { ...child, dependsOn: [instance, ca] },
    );
    if (placed) containerScripts(`${name}-boot`, on, at, config);

    // Databases and users ---------------------------------------------------------------------
    const passwords = new Map<string, pulumi.Output<string>>();
    const userSteps: HostCommand[] = [];
    for (const u of args.users) {
      const password = u.password
        ? pulumi.secret(u.password)
        : new GeneratedPassword(`${name}-${u.name}-password`, { rotation: u.passwordRotation ?? DEFAULTS.user.passwordRotation }, child).result;
      passwords.set(u.name, password);
      const env = passwordVariable(u.name);
      userSteps.push(
        new HostCommand(
          `${name}-role-${u.name}`,
          {
            ...on,
            description: `user ${u.name} in ${what}`,
            create: at.apply((l) => engine.renderUser(l, u, env)),
            delete: at.apply((l) => engine.renderRemoveUser(l, u, args.databases, allowDataRemoval)),
            environment: { [env]: password },
            review: { component },
          },
          { ...child, dependsOn: [config] },
        ),
      );
    }
    const dbSteps = args.databases.map(
      (db) =>
        new HostCommand(
          `${name}-db-${db.name}`,
          {
            ...on,
            description: `database ${db.name} in ${what}`,
            create: at.apply((l) => engine.renderDatabase(l, db)),
            delete: at.apply((l) => engine.renderRemoveDatabase(l, db, allowDataRemoval)),
            review: { component, dataBearing: true, dataRemovalAllowed: allowDataRemoval },
          },
          // Owners exist before their databases (and are dropped after them).
          { ...child, dependsOn: userSteps },
        ),
    );
    const grantSteps = args.users.map(
      (user) =>
        new HostCommand(
          `${name}-grants-${user.name}`,
          {
            ...on,
            description: `grants of ${user.name} in ${what}`,
            create: at.apply((l) => engine.renderGrants(l, user, args.databases)),
            review: {
              component,
              grants: Object.fromEntries(Object.entries(user.grants).map(([db, role]) => [`${user.name} on ${db}`, { role }])),
            },
          },
          { ...child, dependsOn: [...userSteps, ...dbSteps] },
        ),
    );

    // Standbys: the replication role on the primary, then each standby ------------------------
    const standbyTools: Record<string, pulumi.Output<string>> = {};
    let replicationReady: HostCommand[] = [];
    if (standbys.length > 0) {
      const passwordEnv = "DBSTACK_REPLICATION_PASSWORD";
      const replicationPassword = new GeneratedPassword(`${name}-replication-password`, {}, child).result;
      const replication = new HostCommand(
        `${name}-replication`,
        {
          ...on,
          description: `replication role of ${what}`,
          create: at.apply((l) => engine.renderReplicationSource(l, { passwordEnv, standbys: standbys.map((s) => ({ name: s.name, address: s.address })) })),
          environment: { [passwordEnv]: replicationPassword },
          review: { component },
        },
        { ...child, dependsOn: [config] },
      );
      replicationReady = [replication];
      standbys.forEach((s, i) => {
        const source: StandbySource = { name: s.name, primaryHost: address, primaryPort: port, replicationUser: engine.replicationUser, passwordEnv };
        const sId = `${name}-${s.name}`;
        const sSpec: InstanceSpec = { instance: naming.standbyInstance(s), port: s.port ?? port, version: naming.version, owner };
        const sPlaced = place(sId, s.target, sSpec, s.container ?? args.container, []);
        const sOn = sPlaced?.on ?? hostAccess(sId, s.target, this);
        const sWhere = describeTarget(sOn.target);
        const sAt = version.apply((v) => engine.locate(sSpec, v));
        const sEnv = { [passwordEnv]: replicationPassword };
        const sServer = new HostCommand(
          `${sId}-server`,
          { ...sOn, description: `${engine.title} packages on ${sWhere}`, create: engine.renderInstall(naming.version), review: { component } },
          { ...child, dependsOn: sPlaced ? [sPlaced.step] : [] },
        );
        const sInstance = new HostCommand(
          sId,
          {
            ...sOn,
            description: `standby ${s.name} of ${what} on ${sWhere}`,
            // What the standby is: its instance. Its host's address, port, user and keys say how it
            // is reached, and changing them must never re-create (and so delete) a standby.
            identity: `${sSpec.instance}@standby`,
            // The standby verifies its primary against the deployment's CA (unless the primary's certificate is the user's own).
            create: pulumi.all([sAt, ca.stdout]).apply(([l, caCertificate]) => engine.renderCreateStandby(l as Loc, { ...source, caCertificate: args.tls ? undefined : caCertificate })),
            update: pulumi.all([sAt, ca.stdout]).apply(([l, caCertificate]) => engine.renderCreateStandby(l as Loc, { ...source, caCertificate: args.tls ? undefined : caCertificate }, { adopt: true })),
            delete: sAt.apply((l) => engine.renderRemove(l, allowDataRemoval)),
            environment: sEnv,
            review: { component, standby: s.name, dataBearing: true, dataRemovalAllowed: allowDataRemoval },
          },
          { ...child, dependsOn: [sServer, replication] },
        );
        // TLS: the standby makes its own key; only its public key travels, to be signed by the
        // deployment's CA on the primary's host. The primary's key never leaves the primary.
        const sAccess = { ...access, listenAddresses: standbyListenAddresses(declaredListen, s.address) };
        const sNames = tlsNames([s.address, ...sshHost(s.target), ...sAccess.listenAddresses]);
        const sKey = new HostCommand(
          `${sId}-tls-key`,
          { ...sOn, description: `TLS key of standby ${s.name} on ${sWhere}`, create: sAt.apply((l) => engine.renderStandbyKey(l)), review: { component } },
          { ...child, dependsOn: [sInstance] },
        );
        const sCert = new HostCommand(
          `${sId}-tls-certificate`,
          {
            ...on,
            description: `TLS certificate of standby ${s.name}, signed on ${where}`,
            create: pulumi.all([at, sKey.stdout]).apply(([l, publicKey]) => engine.renderSignStandbyCertificate(l as Loc, { name: s.name, publicKey, names: sNames, lifetime })),
            // Signed again once per renewal window (tls/lifetime.ts): the standby's certificate is not on this host to check.
            triggers: [renewalPeriod(new Date(), lifetime.certificateDays)],
            review: { component },
          },
          { ...child, dependsOn: [ca] },
        );
        // Standbys get the primary's tuning, so that a hot standby can always follow it.
        const sConfigSpec = pulumi
          .all([primaryConfig, sCert.stdout, ca.stdout, sPlaced?.networks ?? []])
          .apply(([c, certificate, caCertificate, nets]): InstanceConfig => ({
            ...c,
            access: accessIn(sAccess, sPlaced, nets),
            role: "standby",
            serverId: i + 2,
            tls: { names: sNames, certificate, caCertificate, lifetime },
          }));
        let sReady = new HostCommand(
          `${sId}-config`,
          {
            ...sOn,
            description: `configuration of standby ${s.name} on ${sWhere}`,
            create: pulumi.all([sAt, sConfigSpec]).apply(([l, c]) => engine.renderConfigure(l as Loc, c)),
            probe: sAt.apply((l) => engine.renderServingProbe(l, lifetime.certificateDays)),
            review: restartValues.apply((r) => ({ component, restartParameters: r })),
          },
          { ...child, dependsOn: [sInstance, sCert] },
        );
        if (engine.renderFollow) {
          const follow = engine.renderFollow.bind(engine);
          sReady = new HostCommand(
            `${sId}-follow`,
            { ...sOn, description: `replication of standby ${s.name} from ${where}`, create: sAt.apply((l) => follow(l, source)), environment: sEnv, review: { component } },
            { ...child, dependsOn: [sReady] },
          );
        }
        if (sPlaced) containerScripts(`${sId}-boot`, sOn, sAt, sReady);
        replicationReady.push(sReady);
        const sTools = `${toolsDir}-${s.name}`;
        new HostCommand(
          `${sId}-tools`,
          {
            ...sOn,
            description: `tools of standby ${s.name}`,
            create: sAt.apply((l) => renderInstallTools(sTools, [["promote", engine.renderPromote(l)]], { owner }).script),
            update: sAt.apply((l) => renderInstallTools(sTools, [["promote", engine.renderPromote(l)]], { owner, adopt: true }).script),
            files: sAt.apply((l) => renderInstallTools(sTools, [["promote", engine.renderPromote(l)]], { owner }).files),
            delete: renderRemoveTools(sTools, owner),
            review: { component },
          },
          { ...child, dependsOn: [sReady] },
        );
        standbyTools[s.name] = pulumi.output(sTools);
      });
    }

    // Backups, maintenance, tools --------------------------------------------------------------
    // In a container, cron on the Docker host runs the tool inside it (its files stay in the container's backups volume).
    const cronScript = (tool: string) => (placed ? placed.cronCommand(`${toolsDir}/${tool}`) : `${toolsDir}/${tool}`);
    const backupSchedule: BackupScheduleSpec | undefined = backup && {
      name,
      jobName: cronJobName(prefix, engine.kind, name, "backup"),
      policy: backup,
      script: cronScript("backup"),
      extension: engine.backupExtension,
      allowDataRemoval,
    };
    // The on-demand health tools log in as each database's owner: its password is kept in a
    // root-only file beside them (the deploy itself passes it in the hook's environment).
    const ownerPasswordFile = (owner: string) => `${toolsDir}/${owner}.password`;
    const owners = [...new Set(args.databases.map((d) => d.owner))];
    const dbNames = args.databases.map((d) => d.name);
    const dialectFor = (l: Loc, db: Db) =>
      engine.dialect(l, {
        database: db.name,
        owner: db.owner,
        ownerPasswordFile: ownerPasswordFile(db.owner),
        expectedStandbys: standbys.length,
        backup: backupSchedule && { dir: backupSchedule.policy.dir, prefix: name, maxAgeHours: backup!.maxAgeHours, cronFile: `${CRON_DIR}/${backupCronJob(backupSchedule).name}` },
      });
    // The health-<db> tools read their declared checks from 0600 files beside them
    // (health-<db>.check-<n>.*): the checks are the user's text, never part of a script.
    const toolScripts = at.apply((l) => {
      const tools: [string, string, ("0700" | "0600")?][] = [];
      for (const db of args.databases) {
        const tool = `health-${db.name}`;
        tools.push([tool, renderHealthTool(dialectFor(l, db), `database ${db.name} (health checks only)`, db.healthChecks ?? [], toolsDir, `${tool}.`)]);
        for (const [file, content] of Object.entries(healthCheckFiles(db.healthChecks ?? [], `${tool}.`))) tools.push([file, content, "0600"]);
      }
      if (backup) {
        tools.push(["backup", engine.renderBackup(l, { name, databases: dbNames, policy: backup })], ["restore", engine.renderRestore(l, { name, databases: dbNames, policy: backup })]);
        tools.push(...offHostCommandFiles(backup));
      }
      tools.push(["maintenance", engine.renderMaintenance(l, { name, databases: dbNames })]);
      return tools;
    });
    // The password files are listed with the tools: destroy removes them, and the next up knows them.
    const installTools = (t: [string, string, ("0700" | "0600")?][], adopt: boolean) => {
      const shipped = renderInstallTools(toolsDir, t, { owner, adopt, files: owners.map((o) => ownerPasswordFile(o).slice(toolsDir.length + 1)) });
      return { script: [shipped.script, ...owners.map((o) => renderSaveFromEnvironment(ownerPasswordFile(o), passwordVariable(o)))].join("\n"), files: shipped.files };
    };
    const tools = new HostCommand(
      `${name}-tools`,
      {
        ...on,
        description: `tools of ${what}`,
        create: toolScripts.apply((t) => installTools(t, false).script),
        update: toolScripts.apply((t) => installTools(t, true).script),
        files: toolScripts.apply((t) => installTools(t, false).files),
        delete: renderRemoveTools(toolsDir, owner),
        environment: Object.fromEntries(owners.map((o) => [passwordVariable(o), passwords.get(o)!])),
        review: { component },
      },
      { ...child, dependsOn: [config] },
    );
    if (backupSchedule) {
      // On a Docker host the cron job logs beside the host's other logs; the backups volume is its own step.
      const dockerJob = placed && { ...backupCronJob(backupSchedule), logFile: jobLogFile(prefix, engine.kind, name, "backup") };
      new HostCommand(
        `${name}-backup-schedule`,
        {
          ...(placed?.machine ?? on),
          description: `backup schedule of ${what}`,
          create: dockerJob ? renderInstallCron(dockerJob) : renderInstallBackupSchedule(backupSchedule),
          delete: dockerJob ? renderRemoveCron(dockerJob) : renderRemoveBackupSchedule(backupSchedule),
          review: {
            component,
            backup: { schedule: backupSchedule.policy.schedule, retentionDays: backupSchedule.policy.retentionDays },
            dataBearing: !placed,
            dataRemovalAllowed: allowDataRemoval,
          },
        },
        { ...child, dependsOn: [tools] },
      );
    }
    if (args.maintenanceSchedule) {
      const job = {
        name: cronJobName(prefix, engine.kind, name, "maintenance"),
        schedule: args.maintenanceSchedule,
        user: "root",
        script: cronScript("maintenance"),
        logFile: jobLogFile(prefix, engine.kind, name, "maintenance"),
      };
      new HostCommand(
        `${name}-maintenance-schedule`,
        { ...(placed?.machine ?? on), description: `maintenance schedule of ${what}`, create: renderInstallCron(job), delete: renderRemoveCron(job), review: { component } },
        { ...child, dependsOn: [tools] },
      );
    }

    // Data imports (importFrom): once, into the new database, after its grants, before its hook ---
    // See copy/importStep.ts for the order and why. The copy runs on this machine, as the owner.
    const imports = new Map<string, HostCommand>();
    for (const db of args.databases) {
      if (!db.importFrom) continue;
      const copyHost = target.kind === "local" ? "127.0.0.1" : address;
      const ownerUrl = passwords.get(db.owner)!.apply((pw) => ownerCopyUrl(engine.kind, { user: db.owner, password: pw, host: copyHost, port, database: db.name }));
      const step = importStep(
        `${name}-db-${db.name}-import`,
        {
          importFrom: db.importFrom,
          target: describeDatabase(engine.kind, name, db.name),
          targetUrl: ownerUrl,
          targetCa: ca.stdout,
          // A replaced instance holds a new, empty database: it is seeded again.
          instance: `${spec.instance}:${spec.dataDirectory ?? "default"}`,
          component,
          defaultProjectDir: pulumi.runtime.getRootDirectory() || process.cwd(),
        },
        { ...child, dependsOn: grantSteps },
      );
      imports.set(db.name, step);
    }

    // Post-deploy hooks per database ----------------------------------------------------------
    const hookReports: Record<string, pulumi.Output<string>> = {};
    for (const db of args.databases) {
      const ownerPassword = passwords.get(db.owner)!;
      const hookScript = at.apply((l) =>
        renderPostDeployHook({ subject: `database ${db.name} of ${what}`, dialect: dialectFor(l, db), migrations: db.migrations, healthChecks: db.healthChecks ?? [] }),
      );
      const hook = new HostCommand(
        `${name}-post-deploy-${db.name}`,
        {
          ...on,
          description: `post-deploy hook for database ${db.name}`,
          // The migrations, checks and command are files beside the script (files), never part of it.
          create: hookScript.apply((h) => h.script),
          files: hookScript.apply((h) => h.files),
          environment: {
            // The hook's client logs in as the owner with this; an external migration command gets DATABASE_URL only.
            DBSTACK_OWNER_PASSWORD: ownerPassword,
            DATABASE_URL: ownerPassword.apply((pw) => engine.urls({ user: db.owner, password: pw, host: "127.0.0.1", port, database: db.name })[engine.databaseUrlFlavor]),
          },
          triggers: [instance.id, config.stdout.apply((s) => checksumOf(s))],
          review: { component, migrations: db.migrations?.kind === "sql" ? db.migrations.migrations.map((m) => m.id) : [] },
        },
        { ...child, dependsOn: [...grantSteps, tools, ...replicationReady, ...(imports.has(db.name) ? [imports.get(db.name)!] : [])] },
      );
      hookReports[db.name] = hook.stdout;
    }

    // Outputs ---------------------------------------------------------------------------------
    const urlEntries = args.users.map((u) =>
      passwords.get(u.name)!.apply(
        (pw) =>
          [
            u.name,
            Object.fromEntries(Object.keys(u.grants).map((db) => [db, engine.urls({ user: u.name, password: pw, host: address, port, database: db, caCertificateFile: args.caCertificateFile })])),
          ] as const,
      ),
    );
    this.host = pulumi.output(address);
    this.port = pulumi.output(port);
    this.databases = pulumi.output(dbNames);
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

function hostAddress(target: Target): string {
  return target.kind === "ssh" ? target.host : "localhost";
}

function sshHost(target: Target): string[] {
  return target.kind === "ssh" ? [target.host] : [];
}

/** A standby listens where the primary does: on its own address when the primary listens beyond localhost. */
function standbyListenAddresses(primary: string[], standbyAddress: string): string[] {
  if (primary.includes("*")) return ["*"];
  const local = new Set(["localhost", "127.0.0.1", "::1"]);
  return primary.some((a) => !local.has(a)) ? ["localhost", standbyAddress.replace(/\/\d+$/, "")] : ["localhost"];
}
