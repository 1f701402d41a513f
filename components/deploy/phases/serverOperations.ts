/**
 * A server deployment's operations plan: the health tools of each database (logging in as its
 * owner, whose password is kept beside them), backup, restore and maintenance tools, and their
 * schedules, registered by the shared operations phase (operations.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import { backupCronJob } from "../../backups/backupSchedule";
import { CRON_DIR } from "../../backups/cronEntry";
import type { HookModel } from "../../engines/engine";
import { operationsTools, type ToolFile } from "../../engines/operations";
import { healthCheckFiles } from "../../hooks/healthChecks";
import type { HookDialect } from "../../hooks/dialect";
import { renderHealthTool } from "../../hooks/migrationRunner";
import type { DatabaseArgs } from "../../model/args";
import type { HostCommand } from "../../targets/hostCommand";
import { passwordVariable } from "../common";
import type { Accounts } from "./accounts";
import type { ServerContext } from "./context";
import { createOperations, decideBackupSchedule } from "./operations";
import { pitrDrillTarget, pitrToolFiles } from "./pitr";
import { backupDrillToolFiles, createBackupDrillSchedule } from "./backupDrill";
import type { PrimaryHost } from "./placement";

/** The operations once registered: the tools step, and how hooks and tools talk to a database. */
export interface ServerOperations<Loc> {
  tools: HostCommand;
  /** A database's hook dialect at the primary's location (hooks.ts uses the same). */
  dialectFor(loc: Loc, db: DatabaseArgs): HookDialect;
}

/** Installs the primary's tools after its configuration, and schedules its backups and maintenance. */
export function createServerOperations<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, accounts: Accounts, after: pulumi.Resource): ServerOperations<Loc> {
  const { engine, name, args, toolsDir, what, backup } = ctx;
  const backupSchedule = decideBackupSchedule(ctx, engine, host.placed);
  // The on-demand health tools log in as each database's owner: its password is kept in a
  // root-only file beside them (the deploy itself passes it in the hook's environment).
  const ownerPasswordFile = (owner: string) => `${toolsDir}/${owner}.password`;
  const owners = [...new Set(args.databases.map((d) => d.owner))];
  const hookModel = (db: DatabaseArgs): HookModel => ({
    database: db.name,
    owner: db.owner,
    ownerPasswordFile: ownerPasswordFile(db.owner),
    expectedStandbys: ctx.standbys.length,
    backup: backupSchedule && backup && { dir: backupSchedule.policy.dir, prefix: name, maxAgeHours: backup.maxAgeHours, cronFile: `${CRON_DIR}/${backupCronJob(backupSchedule).name}` },
    drill: pitrDrillTarget(ctx),
  });
  const dialectFor = (l: Loc, db: DatabaseArgs) => engine.dialect(l, hookModel(db));
  // The health-<db> tools read their declared checks from 0600 files beside them
  // (health-<db>.check-<n>.*): the checks are the user's text, never part of a script.
  const healthTools = (l: Loc): ToolFile[] =>
    args.databases.flatMap((db): ToolFile[] => {
      const tool = `health-${db.name}`;
      const files = Object.entries(healthCheckFiles(db.healthChecks ?? [], `${tool}.`)).map(([file, content]): ToolFile => [file, content, "0600"]);
      return [[tool, renderHealthTool(dialectFor(l, db), `database ${db.name} (health checks only)`, db.healthChecks ?? [], toolsDir, `${tool}.`)], ...files];
    });
  const dbNames = args.databases.map((d) => d.name);
  const tools = createOperations(
    ctx,
    host,
    {
      tools: {
        id: `${name}-tools`,
        description: `tools of ${what}`,
        dir: toolsDir,
        tools: host.at.apply((l) => operationsTools(engine, l, { name, databases: dbNames, databaseTools: healthTools(l), backup, moreTools: [...pitrToolFiles(ctx, l), ...backupDrillToolFiles(ctx, l)] })),
        secretFiles: owners.map((o) => ({ file: `${o}.password`, variable: passwordVariable(o), value: accounts.passwords.get(o)! })),
      },
      backup: backupSchedule && { description: `backup schedule of ${what}`, schedule: backupSchedule },
      maintenance: args.maintenanceSchedule ? { description: `maintenance schedule of ${what}`, schedule: args.maintenanceSchedule } : undefined,
    },
    [after],
  );
  createBackupDrillSchedule(ctx, host.on, tools);
  return { tools, dialectFor };
}
