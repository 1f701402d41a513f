import { shellQuote } from "../shell";
import type { ShellCheck } from "./healthChecks";

/** Where a deployment's drill results are and how old the last may be: what the last-drill check reads. */
export interface DrillAgeTarget {
  /** The result file, `<dir>/drills/last.json` (backups/drillResult.ts). */
  file: string;
  /** Hours after which the last drill is too old (1.5 times the longest gap of its schedule). */
  maxAgeHours: number;
  /** The cron file that runs the drills: its age tells how long "no drill yet" may last. */
  cronFile: string;
}

/**
 * The "last restore drill" health check: reports the last drill's result and age, and WARNS
 * (it never fails the deploy: a failed drill is the backups' alarm, not the server's) when that
 * drill failed, is older than its schedule allows, or none has run long after the schedule was
 * installed. A drill result the check cannot read is a warning too.
 */
export function lastDrillCheck(d: DrillAgeTarget): ShellCheck {
  const f = shellQuote(d.file);
  return {
    name: "last restore drill",
    shell: [
      `if ! [ -f ${f} ]; then`,
      `  installed=$(stat -c %Y ${shellQuote(d.cronFile)} 2>/dev/null || date +%s)`,
      '  waited_h=$(( ($(date +%s) - installed) / 3600 ))',
      `  if [ "$waited_h" -ge ${d.maxAgeHours} ]; then echo "WARNING: no restore drill has run since its schedule was installed \${waited_h}h ago (limit ${d.maxAgeHours}h): check the drill log"; else echo "no restore drill yet (schedule installed \${waited_h}h ago)"; fi`,
      "  exit 0",
      "fi",
      `if ! result=$(jq -r '[(.ok | tostring), .startedAt, .backup, .reason] | @tsv' ${f} 2>/dev/null); then echo "WARNING: the last drill's result ${d.file} cannot be read"; exit 0; fi`,
      "IFS=$'\\t' read -r ok started backup reason <<<\"$result\"",
      'age_h=$(( ($(date +%s) - $(date -d "$started" +%s 2>/dev/null || echo 0)) / 3600 ))',
      'if [ "$ok" != true ]; then echo "WARNING: the last restore drill failed ($started, backup $backup): $reason"',
      `elif [ "$age_h" -ge ${d.maxAgeHours} ]; then echo "WARNING: the last restore drill is \${age_h}h old (limit ${d.maxAgeHours}h): check the drill log"`,
      'else echo "passed $started (${age_h}h ago, backup $backup)"',
      "fi",
    ].join("\n"),
  };
}
