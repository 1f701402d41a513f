/**
 * Declared slow-query logging (ServerDeploymentArgs.slowQueryMs), for every server engine: the
 * server parameters it sets (data, one table per engine), and the rotation of the slow log on the
 * host (logrotate where it is installed, a daily cron job otherwise). Pure renderers.
 */
import { shellQuote, scriptHeader } from "../shell";
import { ArgumentError } from "../validate";
import type { EngineKind } from "../model/engineKind";

/** slowQueryMs's range: a millisecond to an hour. */
export const SLOW_QUERY_MS_RANGE = [1, 3_600_000] as const;

/** Why `slowQueryMs` cannot be used, if it cannot (names the field). */
export function checkSlowQueryMs(value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < SLOW_QUERY_MS_RANGE[0] || value > SLOW_QUERY_MS_RANGE[1]) {
    throw new ArgumentError(`slowQueryMs: expected a whole number of milliseconds from ${SLOW_QUERY_MS_RANGE[0]} to ${SLOW_QUERY_MS_RANGE[1]}, got ${JSON.stringify(value)}`);
  }
}

/**
 * The MariaDB slow log's name, relative: the server puts it in its own data directory, so a
 * replica (which takes its primary's parameters) writes its own file, never its primary's, even
 * on the same host. Out of /var/log/mysql, whose *.log Debian's own logrotate rule takes (two
 * rules for one file make logrotate fail).
 */
export const MARIADB_SLOW_LOG = "dbstack-slow.log";

/** The parameters slow-query logging sets, per engine, for an instance. */
export const SLOW_QUERY_PARAMETERS: Record<Exclude<EngineKind, "sqlite">, (ms: number, instance: string) => Record<string, string>> = {
  postgres: (ms) => ({
    log_min_duration_statement: String(ms),
    shared_preload_libraries: "'pg_stat_statements'",
    "pg_stat_statements.track": "top",
  }),
  mariadb: (ms) => ({
    slow_query_log: "ON",
    long_query_time: (ms / 1000).toFixed(3),
    slow_query_log_file: MARIADB_SLOW_LOG,
    performance_schema: "ON",
  }),
};

/**
 * The declared parameters with slow-query logging's merged in (declared ones win), or the
 * declared ones as they are without `slowQueryMs`.
 */
export function withSlowQueryParameters(kind: Exclude<EngineKind, "sqlite">, instance: string, slowQueryMs: number | undefined, declared: Record<string, string> | undefined): Record<string, string> | undefined {
  if (slowQueryMs === undefined) return declared;
  return { ...SLOW_QUERY_PARAMETERS[kind](slowQueryMs, instance), ...(declared ?? {}) };
}

/** What a slow log's rotation is rendered for. */
export interface SlowLogRotation {
  /** Host-level name of the rule: `/etc/logrotate.d/<name>` or `/etc/cron.d/<name>`. */
  name: string;
  /** The log file. */
  file: string;
  /** The file's owner and group (logrotate's `su`: the log's directory is not root's). */
  owner: string;
  group: string;
  /** Rotated logs kept. */
  keep: number;
  /** A logrotate rule the distribution ships for this file already (then logrotate's is left to it). Default: none. */
  coveredBy?: string;
  /** The marker line of the stack that owns the rule (targets/ownership.ts). */
  marker: string;
}

/** The logrotate rule: daily, compressed, truncated in place (the server keeps its file open). */
export function renderLogrotateRule(r: SlowLogRotation): string {
  return [
    `# ${r.marker}`,
    "# Rendered by dbstack: rotation of a slow-query log. Overwritten by the next `pulumi up`.",
    `${r.file} {`,
    "  daily",
    `  rotate ${r.keep}`,
    "  missingok",
    "  notifempty",
    "  compress",
    "  delaycompress",
    "  copytruncate",
    `  su ${r.owner} ${r.group}`,
    "}",
    "",
  ].join("\n");
}

/** The cron rule used where logrotate is not installed: daily, one old copy kept, truncated in place. */
export function renderCronRotation(r: SlowLogRotation): string {
  const f = shellQuote(r.file);
  return [
    `# ${r.marker}`,
    "# Rendered by dbstack: rotation of a slow-query log (logrotate is not installed). Overwritten by the next `pulumi up`.",
    `17 4 * * * root [ -s ${f} ] && cp -p ${f} ${f}.1 && : > ${f}`,
    "",
  ].join("\n");
}

/** Installs the rule that fits the host: logrotate's where it is installed, cron's otherwise (and removes the other). */
export function renderInstallSlowLogRotation(r: SlowLogRotation): string {
  const rotate = `/etc/logrotate.d/${r.name}`;
  const cron = `/etc/cron.d/${r.name}`;
  return [
    scriptHeader(`Rotation of the slow-query log ${r.file}.`),
    "umask 022",
    "if command -v logrotate >/dev/null 2>&1 || [ -x /usr/sbin/logrotate ]; then",
    ...(r.coveredBy
      ? [
          `  if [ -f ${shellQuote(r.coveredBy)} ]; then`,
          `    rm -f ${shellQuote(cron)}`,
          `    echo ${shellQuote(`slow-query log ${r.file}: rotated by logrotate with the distribution's rule (${r.coveredBy})`)}`,
          "    exit 0",
          "  fi",
        ]
      : []),
    `  printf '%s' ${shellQuote(renderLogrotateRule(r))} > ${shellQuote(`${rotate}.dbstack-tmp`)}`,
    `  mv -f ${shellQuote(`${rotate}.dbstack-tmp`)} ${shellQuote(rotate)}`,
    `  rm -f ${shellQuote(cron)}`,
    `  echo ${shellQuote(`slow-query log ${r.file}: rotated daily by logrotate (${rotate}), ${r.keep} kept`)}`,
    "else",
    `  printf '%s' ${shellQuote(renderCronRotation(r))} > ${shellQuote(`${cron}.dbstack-tmp`)}`,
    `  mv -f ${shellQuote(`${cron}.dbstack-tmp`)} ${shellQuote(cron)}`,
    `  echo ${shellQuote(`slow-query log ${r.file}: rotated daily by cron (${cron}; logrotate is not installed), 1 kept`)}`,
    "fi",
  ].join("\n");
}

/** Removes the rule (either kind) when it carries this stack's marker; the log itself is left. */
export function renderRemoveSlowLogRotation(r: SlowLogRotation): string {
  return [
    scriptHeader(`Rotation of the slow-query log ${r.file}: removed.`),
    ...[`/etc/logrotate.d/${r.name}`, `/etc/cron.d/${r.name}`].map((f) => `if [ -f ${shellQuote(f)} ] && grep -qxF ${shellQuote(`# ${r.marker}`)} ${shellQuote(f)}; then rm -f ${shellQuote(f)}; fi`),
  ].join("\n");
}
