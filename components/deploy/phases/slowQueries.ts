/**
 * Declared slow-query logging (args.slowQueryMs): its parameters are merged into the declared
 * ones before the configuration phase (withSlowQueryParameters), then, on the primary, what keeps
 * per-statement statistics and the rotation of the slow log (engines/slowQueryLog.ts). On a
 * Docker target the log is inside the container and rotation is left to the image.
 */
import type * as pulumi from "@pulumi/pulumi";
import { renderInstallSlowLogRotation, renderRemoveSlowLogRotation, type SlowLogRotation } from "../../engines/slowQueryLog";
import { HostCommand } from "../../targets/hostCommand";
import type { ServerContext } from "./context";
import type { PrimaryHost } from "./placement";

/** Rotated slow logs kept on the host. */
const KEPT_LOGS = 7;

/** The statistics and rotation steps; none without `slowQueryMs`. */
export function createSlowQueryLog<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, after: pulumi.Resource): HostCommand[] {
  const { engine, name, args, what, component, child, prefix, owner, kind } = ctx;
  if (args.slowQueryMs === undefined) return [];
  const statistics = new HostCommand(
    `${name}-statement-statistics`,
    { ...host.on, description: `statement statistics of ${what}`, create: host.at.apply((l) => engine.renderStatementStatistics(l)), review: { component } },
    { ...child, dependsOn: [after] },
  );
  if (host.placed) return [statistics];
  const rotation = host.at.apply((l): SlowLogRotation => ({ ...engine.slowLog(l), name: `${prefix}-${kind}-${name}-slow-log`, keep: KEPT_LOGS, marker: owner }));
  const rotate = new HostCommand(
    `${name}-slow-log-rotation`,
    {
      ...host.on,
      description: `slow-query log rotation of ${what}`,
      create: rotation.apply(renderInstallSlowLogRotation),
      delete: rotation.apply(renderRemoveSlowLogRotation),
      review: { component },
    },
    { ...child, dependsOn: [after] },
  );
  return [statistics, rotate];
}
