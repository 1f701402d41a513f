import { STAMP_GLOB } from "../backups/archive";
import { shellQuote } from "../shell";
import type { ShellCheck } from "./healthChecks";

/** Where a deployment's backups are and how old the newest may be: what the newest-backup check reads. */
export interface BackupAgeTarget {
  /** The backup directory. */
  dir: string;
  /** The backup files' prefix: files are <prefix>-<UTC time>.tar.gz[.gpg]. */
  prefix: string;
  /** Hours after which the newest backup is too old and the check fails. */
  maxAgeHours: number;
  /** The cron file that runs the backups: its age tells how long "no backup yet" may last. */
  cronFile: string;
}

/**
 * The built-in "newest backup" health check of the server engines: reports the newest backup
 * file and its age in hours, and fails when it is older than maxAgeHours. With no backup yet it
 * passes only while the schedule (the cron file's age) is younger than that limit, so a fresh
 * deployment is not failed for a backup cron has not had the chance to run.
 */
export function newestBackupCheck(b: BackupAgeTarget): ShellCheck {
  const glob = `${b.prefix}-${STAMP_GLOB}.tar.gz*`;
  return {
    name: "newest backup",
    shell: [
      `newest=$(find ${shellQuote(b.dir)} -maxdepth 1 -type f -name ${shellQuote(glob)} -printf '%T@ %f\\n' 2>/dev/null | sort -n | tail -n 1)`,
      'if [ -z "$newest" ]; then',
      "  # No backup yet is fine only while the schedule is younger than the age limit.",
      `  installed=$(stat -c %Y ${shellQuote(b.cronFile)} 2>/dev/null || date +%s)`,
      '  waited_h=$(( ($(date +%s) - installed) / 3600 ))',
      `  [ "$waited_h" -lt ${b.maxAgeHours} ] || { echo "no backup since the schedule was installed \${waited_h}h ago (limit ${b.maxAgeHours}h): check the backup log"; exit 1; }`,
      '  echo "no backup yet (schedule installed ${waited_h}h ago)"',
      "else",
      '  age_h=$(( ($(date +%s) - ${newest%%.*}) / 3600 ))',
      `  echo "\${newest#* } (\${age_h}h old)"; [ "$age_h" -lt ${b.maxAgeHours} ] || { echo "newest backup is \${age_h}h old (limit ${b.maxAgeHours}h)"; exit 1; }`,
      "fi",
    ].join("\n"),
  };
}
