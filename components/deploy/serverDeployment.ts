import * as pulumi from "@pulumi/pulumi";
import type { ServerEngine, Urls } from "../engines/engine";
import type { DatabaseArgs, ServerDeploymentArgs, StandbyArgs, UserArgs } from "../model/args";
import { DEFAULTS } from "../model/defaults";
import { createAccounts, type Accounts } from "./phases/accounts";
import { createConfiguration } from "./phases/configuration";
import { serverContext, type InstanceNaming, type ServerContext } from "./phases/context";
import { createServerHookSteps } from "./phases/hooks";
import { createImports } from "./phases/imports";
import { createMonitoring } from "./phases/monitoring";
import { createMetrics } from "./phases/metrics";
import type { ScrapeTargets } from "../model/metrics";
import { createSlowQueryLog } from "./phases/slowQueries";
import { withSlowQueryParameters } from "../engines/slowQueryLog";
import type { MonitoringView } from "../model/monitoring";
import type { DrillResult } from "../backups/drillResult";
import { createPitr, readLastDrill } from "./phases/pitr";
import { createPlacement, type PrimaryHost } from "./phases/placement";
import { createServerOperations } from "./phases/serverOperations";
import { createStandbys } from "./phases/standbys";
import { createHa, haEnabled, renderNoPatroniProbe, type HaDeployment } from "./phases/ha";
import type { ClusterLocation } from "../engines/postgres/host";
import { multiHostUrls } from "../engines/postgres/ha/urls";
import { validateServerArgs } from "./validateServer";

export type { InstanceNaming } from "./phases/context";

/**
 * One server deployment of any engine on any target: packages and the primary's instance, its
 * tuned configuration with access rules and TLS, users with generated passwords, databases and
 * least-privilege grants, standbys on other hosts, operator tools, cron backups and maintenance,
 * and post-deploy hooks per database. The engine supplies every script (engines/engine.ts); this
 * component decides the steps and their order, phase by phase (deploy/phases/). PostgresCluster
 * and MariadbServer are typed wrappers around it.
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
  /** What status needs: each member's host and port, the monitoring account and its password, the backups (secret). */
  readonly monitoring: pulumi.Output<MonitoringView>;
  /** The last restore drill's result (docs/pitr.md), read at each run; null without `pitr` or before the first drill. */
  readonly lastDrill: pulumi.Output<DrillResult | null>;
  /** Where Prometheus scrapes the deployment's exporters (job, targets, user, a scrape_configs entry); null without `metrics`. */
  readonly metrics: pulumi.Output<ScrapeTargets | null>;
  /** The scrape (basic-auth) password of the exporters (secret); null without `metrics`. */
  readonly metricsPassword: pulumi.Output<string | null>;

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
    // Declared slow-query logging is parameters of the configuration (declared ones win).
    const ctx = serverContext(this, engine, name, { ...args, parameters: withSlowQueryParameters(engine.kind, naming.instance, args.slowQueryMs, args.parameters) }, naming);

    // A PostgreSQL deployment without HA whose members Patroni runs (HA being turned off) is refused at preview.
    const placed = createPlacement(ctx, engine.kind === "postgres" && !haEnabled(args.ha) ? [renderNoPatroniProbe(ctx.prefix, name)] : []);
    // With HA on, Patroni configures and starts every member (phases/ha.ts); otherwise dbstack does.
    const ha = haEnabled(args.ha) ? createHa(ctx as unknown as ServerContext<ClusterLocation>, placed as unknown as PrimaryHost<ClusterLocation>, args.ha) : undefined;
    // With HA, every later step reaches the leader wherever it is.
    const host: PrimaryHost<Loc> = ha ? { ...placed, at: ha.at as unknown as pulumi.Output<Loc> } : placed;
    const configured = ha?.configured ?? createConfiguration(ctx, placed);
    const accounts = createAccounts(ctx, host, configured);
    const standbys = ha?.standbys ?? createStandbys(ctx, placed, configured);
    const monitoring = createMonitoring(ctx, host, configured, standbys);
    const metrics = createMetrics(ctx, host, monitoring, standbys, configured);
    const slowQueryLog = createSlowQueryLog(ctx, host, configured.config);
    const operations = createServerOperations(ctx, host, accounts, configured.config);
    // Archiving may restart the primary: it comes after every other step on the server, and imports and hooks after it.
    const pitr = createPitr(ctx, host, [operations.tools, ...accounts.grantSteps, monitoring.step, ...slowQueryLog, ...standbys.replicationReady], standbys.standbyMembers);
    const imports = createImports(ctx, host, configured, accounts, pitr);
    const hooks = createServerHookSteps(ctx, { host, configured, accounts, standbys, operations, imports, pitr });
    // importFrom.schema "migrations": the copy fills the tables the database's migrations made.
    createImports(ctx, host, configured, accounts, pitr, hooks);
    const hookReports = Object.fromEntries([...hooks].map(([db, hook]) => [db, hook.stdout]));

    this.host = pulumi.output(host.address);
    this.port = pulumi.output(ctx.port);
    this.databases = pulumi.output(args.databases.map((d) => d.name));
    this.urls = pulumi.secret(userUrls(ctx, host, accounts, ha));
    this.configReport = configured.config.stdout;
    this.hookReports = pulumi.all(hookReports);
    this.toolsDir = pulumi.output(ctx.toolsDir);
    this.standbyTools = pulumi.all(standbys.standbyTools);
    this.caCertificate = configured.ca.stdout;
    this.monitoring = monitoring.view;
    this.lastDrill = readLastDrill(ctx, host);
    this.metrics = metrics.targets;
    this.metricsPassword = metrics.password;
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
      monitoring: this.monitoring,
      lastDrill: this.lastDrill,
      metrics: this.metrics,
      metricsPassword: this.metricsPassword,
    });
  }
}

/** Per user, per granted database: the URLs applications use to reach the primary. */
function userUrls<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, accounts: Accounts, ha: HaDeployment | undefined): pulumi.Output<Record<string, Record<string, Urls>>> {
  const { engine, args, port } = ctx;
  // With HA, every URL lists every member: libpq finds the one that accepts writes (or, for reads, a standby).
  const urls = (p: { user: string; password: string; database: string }): Urls =>
    ha ? { ...multiHostUrls({ ...p, members: ha.members, caCertificateFile: args.caCertificateFile }) } : engine.urls({ ...p, host: host.address, port, caCertificateFile: args.caCertificateFile });
  const entries = args.users.map((u) =>
    accounts.passwords.get(u.name)!.apply(
      (pw) =>
        [
          u.name,
          Object.fromEntries(Object.keys(u.grants).map((db) => [db, urls({ user: u.name, password: pw, database: db })])),
        ] as const,
    ),
  );
  return pulumi.all(entries).apply((e) => Object.fromEntries(e));
}
