/**
 * Placement and install: the primary's container on a Docker target, the owner check, the
 * engine's packages (and the host's facts they report), the installed version, the instance.
 */
import * as pulumi from "@pulumi/pulumi";
import type { InstalledServer, InstanceSpec } from "../../engines/engine";
import type { ContainerArgs } from "../../model/args";
import { hostAccess, type HostAccess } from "../../targets/access";
import { HostCommand } from "../../targets/hostCommand";
import { OwnerCheck, renderPreviewProbes } from "../../targets/ownerCheck";
import { describeTarget, type Target } from "../../targets/target";
import { renderToolsOwnerProbe } from "../../targets/tools";
import { ArgumentError } from "../../validate";
import { placeInContainer, renderInstallContainerScripts, type Placement } from "../container";
import { installedVersionProblem } from "../../model/versionMatch";
import type { ServerContext } from "./context";

/** The primary's host once placed and installed: what every later phase runs on and waits for. */
export interface PrimaryHost<Loc> {
  /** Its container on a Docker target. */
  placed?: Placement;
  /** How the engine's steps reach the primary (inside its container on a Docker target). */
  on: HostAccess;
  /** Where clients reach the primary. */
  address: string;
  /** The primary's host in messages. */
  where: string;
  /** The packages step; its output holds the host's facts. */
  server: HostCommand;
  facts: pulumi.Output<InstalledServer>;
  /** The installed major version (a declared one the host does not run is an error). */
  version: pulumi.Output<string>;
  /** The instance's location once the installed version is known. */
  at: pulumi.Output<Loc>;
  /** The instance step: a replaced instance is a new, empty one. */
  instance: HostCommand;
}

/**
 * On a Docker target the server runs in a container of its own (volumes, container, boot
 * scripts); every engine step then runs inside it, and cron jobs on the Docker host. Undefined
 * on any other target.
 */
export function placeServer<Loc>(
  ctx: ServerContext<Loc>,
  id: string,
  target: Target,
  instance: InstanceSpec,
  container: ContainerArgs | undefined,
  extraVolumes: { suffix: string; path: string }[],
): Placement | undefined {
  const { engine, prefix, owner, component, allowDataRemoval } = ctx;
  return target.kind === "docker"
    ? placeInContainer(id, { engine, target, name: id, instance, container, extraVolumes, prefix, owner, component, allowDataRemoval }, ctx.parent)
    : undefined;
}

/** A container's start and stop scripts, after its instance is configured. */
export function createContainerScripts<Loc>(ctx: ServerContext<Loc>, id: string, access: HostAccess, loc: pulumi.Output<Loc>, after: pulumi.Resource): HostCommand {
  const { engine } = ctx;
  return new HostCommand(
    id,
    {
      ...access,
      description: `start and stop scripts of ${id}'s container`,
      create: loc.apply((l) => renderInstallContainerScripts(engine.renderStart(l), engine.renderStop(l))),
      review: { component: ctx.component },
    },
    { ...ctx.child, dependsOn: [after] },
  );
}

/** Places the primary, checks whose its host's instance and tools are, installs the packages and creates the instance. */
export function createPlacement<Loc>(ctx: ServerContext<Loc>, previewProbes: string[] = []): PrimaryHost<Loc> {
  const { engine, name, args, naming, spec, what, component, allowDataRemoval, child } = ctx;
  const placed = placeServer(ctx, name, ctx.target, spec, args.container, ctx.backup ? [{ suffix: "backups", path: ctx.backup.dir }] : []);
  const on = placed?.on ?? hostAccess(name, ctx.target, ctx.parent);
  const address = args.address ?? placed?.address ?? hostAddress(ctx.target);
  const where = describeTarget(on.target);

  // Whose the host's instance, data and tools directories are, and whether it runs the declared
  // version: read at preview, before any step.
  const declaredAt = engine.locate(spec, naming.version ?? "");
  const ownerCheck = new OwnerCheck(
    `${name}-owner-check`,
    {
      ...on,
      description: `owner of ${what} on ${where}`,
      script: renderPreviewProbes([
        engine.renderOwnerProbe(declaredAt),
        renderToolsOwnerProbe(ctx.toolsDir, ctx.owner),
        ...(naming.version === undefined ? [] : [engine.renderVersionProbe(declaredAt, naming.version, where)]),
        ...previewProbes,
      ]),
    },
    { ...child, dependsOn: placed ? [placed.step] : [] },
  );

  // Packages and host facts
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
  return { placed, on, address, where, server, facts, version, at, instance };
}

function hostAddress(target: Target): string {
  return target.kind === "ssh" ? target.host : "localhost";
}
