/**
 * The restore drill of a server deployment's nightly backups (`backup.drill`): the engine's
 * `drill` tool (shipped with the deployment's tools) and its cron job. PostgreSQL so far
 * (engines/postgres/dumpDrill.ts); pitrChecks.ts refuses the others at preview.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { ToolFile } from "../../engines/operations";
import { DEFAULTS } from "../../model/defaults";
import type { HostAccess } from "../../targets/access";
import type { HostCommand } from "../../targets/hostCommand";
import type { ServerContext } from "./context";
import { createDrillSchedule, drillSchedule } from "./drillSchedule";

/** The onFailure command's file beside the drill tool. */
const ON_FAILURE_FILE = "drill.on-failure";

/** The drill tool and its onFailure file; none without `backup.drill` (or backups). */
export function backupDrillToolFiles<Loc>(ctx: ServerContext<Loc>, loc: Loc): ToolFile[] {
  const drill = ctx.args.backup?.drill;
  if (!drill || !ctx.backup || !ctx.engine.backupDrillTools) return [];
  return ctx.engine.backupDrillTools(loc, {
    name: ctx.name,
    databases: ctx.args.databases.map((d) => d.name),
    dir: ctx.backup.dir,
    scratchPort: drill.port,
    onFailure: drill.onFailure,
    onFailureFile: drill.onFailure === undefined ? undefined : `${ctx.toolsDir}/${ON_FAILURE_FILE}`,
    history: DEFAULTS.pitr.drillHistory,
    healthChecks: ctx.args.databases
      .map((d) => ({ database: d.name, owner: d.owner, checks: (d.healthChecks ?? []).map((c) => ({ expect: c.expect !== undefined, match: c.match !== undefined })) }))
      .filter((d) => d.checks.length > 0),
    checkDir: ctx.toolsDir,
  });
}

/** The drill's cron job after the tools; none without `backup.drill`. */
export function createBackupDrillSchedule<Loc>(ctx: ServerContext<Loc>, on: HostAccess, tools: pulumi.Resource): HostCommand | undefined {
  const drill = ctx.args.backup?.drill;
  if (!drill || !ctx.backup || !ctx.engine.backupDrillTools) return undefined;
  return createDrillSchedule(ctx, on, drillSchedule(drill, ctx.backup.schedule), tools);
}
