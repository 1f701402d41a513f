/**
 * The step context every phase of a deployment shares: who the steps belong to, what they are
 * called, whose they are on a host. Built once, before any step is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import type { InstanceSpec, ServerEngine } from "../../engines/engine";
import type { DatabaseArgs, ServerDeploymentArgs, StandbyArgs, UserArgs } from "../../model/args";
import { DEFAULTS } from "../../model/defaults";
import { defaultBackupDir, defaultToolsDir } from "../../model/naming";
import type { EngineKind } from "../../model/engineKind";
import { ownerLine } from "../../targets/ownership";
import { localTarget, type Target } from "../../targets/target";
import { defaultHostPrefix, resolveBackup, type ResolvedBackup } from "../common";

/** What the phases of any deployment (server or SQLite file) share. */
export interface StepContext {
  /** The component every step is a child of. */
  parent: pulumi.ComponentResource;
  /** The deployment's name: every child's name starts with it. */
  name: string;
  kind: EngineKind;
  /** How the preview summary names the component, e.g. `postgres cluster app`. */
  component: string;
  /** First part of host-level names (cron files, logs, containers). */
  prefix: string;
  /** The marker line of the stack that owns what the steps make on a host (targets/ownership.ts). */
  owner: string;
  /** Whether destroy (or a replacement) may delete data. */
  allowDataRemoval: boolean;
  /** The operator tools' directory on the (primary's) host. */
  toolsDir: string;
  /** Declared backups with their defaults. Default: none. */
  backup?: ResolvedBackup;
}

/** How a typed wrapper names the instances of its deployment on their hosts. */
export interface InstanceNaming<Standby> {
  /** The primary's instance name (PostgreSQL cluster, MariaDB instance). */
  instance: string;
  /** Declared major version, as the engine writes it. */
  version?: string;
  /** A standby's instance name on its host. */
  standbyInstance(standby: Standby): string;
}

/** A server deployment's step context: the shared one, its engine, its declared arguments and the primary's instance. */
export interface ServerContext<Loc, Db extends DatabaseArgs = DatabaseArgs, User extends UserArgs = UserArgs, Standby extends StandbyArgs = StandbyArgs> extends StepContext {
  kind: ServerEngine<Loc, Db, User>["kind"];
  engine: ServerEngine<Loc, Db, User>;
  args: ServerDeploymentArgs<Db, User, Standby>;
  naming: InstanceNaming<Standby>;
  /** Where the primary runs. */
  target: Target;
  port: number;
  standbys: Standby[];
  /** The primary's instance before its version is known. */
  spec: InstanceSpec;
  /** The primary in messages, e.g. `PostgreSQL cluster main`. */
  what: string;
  /** Options of every child: parented to the component. */
  child: { parent: pulumi.Resource };
}

/** The step context of a server deployment: every default applied, nothing registered. */
export function serverContext<Loc, Db extends DatabaseArgs, User extends UserArgs, Standby extends StandbyArgs>(
  parent: pulumi.ComponentResource,
  engine: ServerEngine<Loc, Db, User>,
  name: string,
  args: ServerDeploymentArgs<Db, User, Standby>,
  naming: InstanceNaming<Standby>,
): ServerContext<Loc, Db, User, Standby> {
  const prefix = args.hostPrefix ?? defaultHostPrefix();
  const port = args.port ?? engine.defaultPort;
  // Whose everything this deployment makes on a host is: the marker every instance, data
  // directory and tools directory carries (targets/ownership.ts).
  const owner = ownerLine({ project: pulumi.getProject(), stack: pulumi.getStack(), id: prefix });
  const spec: InstanceSpec = { instance: naming.instance, port, dataDirectory: args.dataDirectory, version: naming.version, owner };
  return {
    parent,
    name,
    kind: engine.kind,
    component: `${engine.kind} ${engine.instanceNoun} ${name}`,
    prefix,
    owner,
    allowDataRemoval: args.allowDataRemoval ?? DEFAULTS.allowDataRemoval,
    toolsDir: args.toolsDir ?? defaultToolsDir(prefix, engine.kind, name),
    backup: resolveBackup(args.backup, defaultBackupDir(prefix, engine.kind, name)),
    engine,
    args,
    naming,
    target: args.target ?? localTarget(),
    port,
    standbys: args.standbys ?? [],
    spec,
    what: `${engine.title} ${engine.instanceNoun} ${spec.instance}`,
    child: { parent },
  };
}
