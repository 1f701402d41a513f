import { renderShippedScript } from "../../components/targets/hostFiles";
import { DEFAULT_RETENTION_DAYS, type BackupPolicy } from "../../components/backups/policy";
import { DEFAULT_BACKUP_SCHEDULE, defaultBackupMaxAgeHours } from "../../components/backups/schedule";
import { renderPostgresBackup, renderPostgresRestore, type PostgresBackupSpec } from "../../components/engines/postgres/backupScripts";
import { renderInstallTools } from "../../components/targets/tools";

/** Where the benchmark's dbstack deployment lives and what it backs up. */
export interface BackupToolsInput {
  /** The deployment's name (backup files are <name>-<UTC time>.tar.gz). */
  name: string;
  version: number;
  cluster: string;
  port: number;
  databases: string[];
  /** backup.dir: a private directory (0700). */
  backupDir: string;
  toolsDir: string;
}

/**
 * The spec PostgresCluster (components/engines/postgres/cluster.ts) passes to the backup and
 * restore renderers for a deployment that declares `backup: { dir }` and nothing else: the
 * default schedule and retention, no GPG recipient, no off-host command, the default data
 * directory. Built from the same default constants, so the benchmark measures what a user gets.
 */
export function backupSpec(input: BackupToolsInput): PostgresBackupSpec {
  const policy: BackupPolicy & { maxAgeHours: number } = {
    schedule: DEFAULT_BACKUP_SCHEDULE,
    dir: input.backupDir,
    retentionDays: DEFAULT_RETENTION_DAYS,
    gpgRecipient: undefined,
    offHostCommand: undefined,
    maxAgeHours: defaultBackupMaxAgeHours(DEFAULT_BACKUP_SCHEDULE),
  };
  return {
    version: input.version,
    cluster: input.cluster,
    port: input.port,
    dataDirectory: undefined,
    name: input.name,
    databases: input.databases,
    policy,
  };
}

/**
 * The shell script that installs the deployment's `backup` and `restore` tools into
 * input.toolsDir the way the component's tools step does (renderInstallTools: 0700 scripts in a
 * private directory, with its manifest), as bash reads it on stdin: the tools shipped as files
 * beside the install script, as HostCommand ships them (components/targets/hostFiles.ts).
 */
export function renderBenchTools(input: BackupToolsInput): string {
  const spec = backupSpec(input);
  const install = renderInstallTools(input.toolsDir, [
    ["backup", renderPostgresBackup(spec)],
    ["restore", renderPostgresRestore(spec)],
  ]);
  return renderShippedScript(install.files, install.script).toString("utf8");
}
