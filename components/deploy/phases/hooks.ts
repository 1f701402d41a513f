/**
 * Post-deploy hooks, one wiring for every engine (server or SQLite file): per database, a step
 * that applies its migrations and runs its health checks (hooks/migrationRunner.ts) with the
 * engine's dialect. A failing hook fails the deploy. createServerHooks decides a server
 * deployment's hooks; deploy/sqliteDatabase.ts SQLite's one.
 */
import * as pulumi from "@pulumi/pulumi";
import type { HookDialect } from "../../hooks/dialect";
import type { HealthCheck } from "../../hooks/healthChecks";
import { renderPostDeployHook, type MigrationSource } from "../../hooks/migrationRunner";
import { checksumOf } from "../../hooks/migrations";
import { hookRecordPath, renderHookSucceeded, renderRecordedHook, renderRemoveHookRecord } from "../../hooks/hookRecord";
import type { HostAccess } from "../../targets/access";
import { HostCommand } from "../../targets/hostCommand";
import type { Accounts } from "./accounts";
import type { Configured } from "./configuration";
import type { ServerContext, StepContext } from "./context";
import type { Imports } from "./imports";
import type { PrimaryHost } from "./placement";
import type { ServerOperations } from "./serverOperations";
import type { Standbys } from "./standbys";
import { databaseUrl } from "../databaseUrl";

/** One database's post-deploy hook. */
export interface HookPlan {
  /** The step's name. */
  id: string;
  /** What previews and errors call the step. */
  description: string;
  /** What the hook's script says it is for, e.g. `sqlite database app`. */
  subject: string;
  /** The engine's dialect, once the instance's location is known (a server's) or at once (SQLite's). */
  dialect: pulumi.Output<HookDialect> | HookDialect;
  migrations?: MigrationSource;
  healthChecks: HealthCheck[];
  /** How the hook's client and an external migration command log in. */
  environment: Record<string, pulumi.Input<string>>;
  /** What re-runs the hook besides a changed script (a re-created instance, a changed configuration). */
  triggers: pulumi.Input<unknown>[];
  dependsOn: pulumi.Resource[];
  /** Where the hook records its last result for status (hooks/hookRecord.ts); none: not recorded. */
  record?: string;
}

/** Registers one database's hook; its output is what the hook printed. */
export function createPostDeployHook(ctx: StepContext, on: HostAccess, plan: HookPlan): HostCommand {
  const render = (dialect: HookDialect) => renderPostDeployHook({ subject: plan.subject, dialect, migrations: plan.migrations, healthChecks: plan.healthChecks });
  const hook = pulumi.output(pulumi.Output.isInstance(plan.dialect) ? plan.dialect.apply(render) : render(plan.dialect));
  return new HostCommand(
    plan.id,
    {
      ...on,
      description: plan.description,
      // The migrations, checks and command are files beside the script (files), never part of it.
      create: hook.apply((h) => (plan.record ? renderRecordedHook(h.script, plan.record) : h.script)),
      ...(plan.record ? { delete: renderRemoveHookRecord(plan.record), probe: renderHookSucceeded(plan.record) } : {}),
      files: hook.apply((h) => h.files),
      environment: plan.environment,
      triggers: plan.triggers,
      review: { component: ctx.component, migrations: plan.migrations?.kind === "sql" ? plan.migrations.migrations.map((m) => m.id) : [] },
    },
    { parent: ctx.parent, dependsOn: plan.dependsOn },
  );
}

/** What a server's hooks wait for: every earlier phase's handle. */
export interface HookInputs<Loc> {
  host: PrimaryHost<Loc>;
  configured: Configured;
  accounts: Accounts;
  standbys: Standbys;
  operations: ServerOperations<Loc>;
  imports: Imports;
  /** The PITR setup, which may restart the server (none without `pitr`). */
  pitr?: pulumi.Resource;
}

/** A hook per database, after its grants, the tools, the standbys and its import; returns what each printed. */
export function createServerHooks<Loc>(ctx: ServerContext<Loc>, p: HookInputs<Loc>): Record<string, pulumi.Output<string>> {
  return Object.fromEntries([...createServerHookSteps(ctx, p)].map(([db, hook]) => [db, hook.stdout]));
}

/** The same hooks as steps, by database name (an import after its migrations waits for its database's). */
export function createServerHookSteps<Loc>(ctx: ServerContext<Loc>, p: HookInputs<Loc>): Map<string, HostCommand> {
  const { engine, name, port, what } = ctx;
  const hooks = new Map<string, HostCommand>();
  for (const db of ctx.args.databases) {
    const ownerPassword = p.accounts.passwords.get(db.owner)!;
    const imported = p.imports.get(db.name);
    const hook = createPostDeployHook(ctx, p.host.on, {
      id: `${name}-post-deploy-${db.name}`,
      description: `post-deploy hook for database ${db.name}`,
      subject: `database ${db.name} of ${what}`,
      dialect: p.host.at.apply((l) => p.operations.dialectFor(l, db)),
      migrations: db.migrations,
      healthChecks: db.healthChecks ?? [],
      environment: {
        // The hook's client logs in as the owner with this; an external migration command gets DATABASE_URL only.
        DBSTACK_OWNER_PASSWORD: ownerPassword,
        DATABASE_URL: ownerPassword.apply((pw) => databaseUrl(engine.kind, engine.urls({ user: db.owner, password: pw, host: "127.0.0.1", port, database: db.name }), engine.databaseUrlFlavor, db.migrations?.kind === "command" ? db.migrations.url : undefined)),
      },
      triggers: [p.host.instance.id, p.configured.config.stdout.apply((s) => checksumOf(s))],
      dependsOn: [...p.accounts.grantSteps, p.operations.tools, ...p.standbys.replicationReady, ...(imported ? [imported] : []), ...(p.pitr ? [p.pitr] : [])],
      record: hookRecordPath(ctx.toolsDir, db.name),
    });
    hooks.set(db.name, hook);
  }
  return hooks;
}
