/**
 * The SQLite engine: what the shared operations phase needs (engines/engine.ts, OperationsEngine);
 * the shared hooks phase takes sqliteDialect (dialect.ts). SQLite has no server: its database
 * file is its instance, so the file's script spec is its location. Every member delegates to a
 * renderer of this folder.
 */
import type { OperationsEngine } from "../engine";
import { operationsTools, type ToolFile } from "../operations";
import { DEFAULTS } from "../../model/defaults";
import { sqliteDrillTools } from "./drillScripts";
import { renderBackupScript, renderDatabaseTools, renderRestoreScript, type SqliteScriptSpec } from "./scripts";

export const sqliteEngine: OperationsEngine<SqliteScriptSpec> = {
  kind: "sqlite",
  backupExtension: ".db",
  renderBackup: (spec, backup) => renderBackupScript(spec, backup.policy),
  renderRestore: (spec, backup) => renderRestoreScript(spec, backup.policy),
  // No maintenance tool: SQLite needs no vacuum schedule of dbstack's.
};

/** The tools of an SQLite database, in install order: shell, health (and its checks' files), backup and restore. */
export function sqliteTools(spec: SqliteScriptSpec): ToolFile[] {
  const drill = spec.drill && spec.backup && sqliteDrillTools({ name: spec.name, policy: spec.backup, toolsDir: spec.toolsDir, onFailure: spec.drill.onFailure !== undefined, history: DEFAULTS.pitr.drillHistory }, spec.drill.onFailure);
  return operationsTools(sqliteEngine, spec, { name: spec.name, databases: [spec.name], databaseTools: renderDatabaseTools(spec), backup: spec.backup, moreTools: drill || [] });
}
