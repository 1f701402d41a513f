/**
 * The operator tools of any engine's deployment, decided once for every engine: what the
 * operations phase (components/deploy/phases/operations.ts) installs in a tools directory.
 */
import { offHostCommandFiles } from "../backups/archive";
import type { BackupPolicy } from "../backups/policy";
import type { OperationsEngine } from "./engine";

/** One file of a tools directory: a tool (0700, the default) or a file a tool reads (0600). */
export type ToolFile = [name: string, content: string, mode?: "0700" | "0600"];

/** What the tools of one deployment are rendered from. */
export interface ToolsSpec {
  /** Deployment name (backup file names, messages). */
  name: string;
  /** The databases the backup, restore and maintenance tools cover. */
  databases: string[];
  /** Each database's own tools, first: health checks (their checks' files beside them), SQLite's shell. */
  databaseTools: ToolFile[];
  /** Declared backups. Default: none (no backup or restore tool). */
  backup?: BackupPolicy;
  /** Tools installed last, e.g. point-in-time recovery's (deploy/phases/pitr.ts). Default: none. */
  moreTools?: ToolFile[];
}

/**
 * The tools, in install order: the databases' own, then backup and restore with the off-host
 * command beside them (when backups are declared), then maintenance (when the engine has one).
 */
export function operationsTools<Loc>(engine: OperationsEngine<Loc>, loc: Loc, spec: ToolsSpec): ToolFile[] {
  const tools = [...spec.databaseTools];
  if (spec.backup) {
    const backup = { name: spec.name, databases: spec.databases, policy: spec.backup };
    tools.push(["backup", engine.renderBackup(loc, backup)], ["restore", engine.renderRestore(loc, backup)], ...offHostCommandFiles(spec.backup));
  }
  if (engine.renderMaintenance) tools.push(["maintenance", engine.renderMaintenance(loc, { name: spec.name, databases: spec.databases })]);
  tools.push(...(spec.moreTools ?? []));
  return tools;
}
