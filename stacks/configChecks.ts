import { isAbsolute } from "path";
import { cronJobName, defaultToolsDir } from "../components/model/naming";
import { sqliteDataDirs } from "../components/engines/sqlite/database";
import { placementProblem, toolsDirProblem } from "../components/validate";
import type { StackConfig } from "./config";

/** The name `host:` uses for this machine; no entry of dbstack:hosts may take it. */
export const LOCAL_HOST = "local";

/** Role names dbstack keeps for itself (the replication role, and any it adds later). */
export const RESERVED_USER_PREFIX = "dbstack_";

/**
 * Checks that need the whole stack config: references between keys, and deployments that would
 * share something on one host (a file, a directory, a cluster, a port), where one would silently
 * break or destroy the other. Each problem names the keys involved.
 */
export function crossDeploymentProblems(config: StackConfig): string[] {
  const problems: string[] = [];
  const hostOf = (key: string, host: string): string | undefined => {
    if (host === LOCAL_HOST || host in config.hosts) return host;
    const known = Object.keys(config.hosts);
    problems.push(`${key}: no host ${JSON.stringify(host)} in dbstack:hosts (declared: ${known.length ? known.join(", ") : "none"}; or use "local")`);
    return undefined;
  };

  // Paths on the host: absolute ones can be checked here (relative ones are inside the project).
  const placed = (key: string, value: string | undefined, ownDirectory: boolean) => {
    if (value === undefined || !isAbsolute(value)) return;
    const problem = placementProblem(value, ownDirectory);
    if (problem) problems.push(`${key}: ${problem}`);
  };

  // Everything SQLite databases put on this machine.
  const files = new Map<string, string>();
  const toolDirs = new Map<string, string>();
  const cronJobs = new Map<string, string>();
  const claim = (map: Map<string, string>, value: string, key: string, what: string) => {
    const other = map.get(value);
    if (other) problems.push(`${key}: ${other} already uses ${what} ${value}; two deployments must not share it`);
    else map.set(value, key);
  };
  for (const [name, db] of Object.entries(config.sqlite)) {
    const key = `dbstack:sqlite.${name}`;
    placed(`${key}.path`, db.path, false);
    placed(`${key}.toolsDir`, db.toolsDir, true);
    placed(`${key}.backup.dir`, db.backup?.dir, true);
    claim(files, db.path, `${key}.path`, "the database file");
    if (db.backup) claim(cronJobs, cronJobName(undefined, name, "backup"), `${key}.backup`, "the cron job");
    const tools = db.toolsDir ?? defaultToolsDir(undefined, name);
    claim(toolDirs, tools, `${key}${db.toolsDir ? ".toolsDir" : ""}`, "the tools directory");
    const overlap = db.toolsDir && toolsDirProblem(db.toolsDir, sqliteDataDirs(db.path, db.backup?.dir));
    if (overlap) problems.push(`${key}.toolsDir: ${overlap}`);
  }

  // PostgreSQL: clusters and ports per host, standbys included.
  const clusters = new Map<string, string>();
  const ports = new Map<string, string>();
  for (const [name, pg] of Object.entries(config.postgres)) {
    const key = `dbstack:postgres.${name}`;
    placed(`${key}.dataDirectory`, pg.dataDirectory, true);
    placed(`${key}.toolsDir`, pg.toolsDir, true);
    placed(`${key}.backup.dir`, pg.backup?.dir, true);
    if (pg.backup) claim(cronJobs, cronJobName(undefined, name, "backup"), `${key}.backup`, "the cron job");
    const tools = pg.toolsDir ?? defaultToolsDir(undefined, name);
    claim(toolDirs, tools, `${key}${pg.toolsDir ? ".toolsDir" : ""}`, "the tools directory");
    const servers: [string, string, string, number][] = [[`${key}`, pg.host, pg.clusterName ?? name, pg.port]];
    for (const [s, standby] of Object.entries(pg.standbys)) {
      servers.push([`${key}.standbys.${s}`, standby.host, standby.clusterName ?? pg.clusterName ?? name, standby.port ?? pg.port]);
    }
    for (const [k, host, cluster, port] of servers) {
      const h = hostOf(`${k}.host`, host);
      if (h === undefined) continue;
      claim(clusters, `${h}/${cluster}`, `${k}.clusterName`, "the PostgreSQL cluster");
      claim(ports, `${h}:${port}`, `${k}.port`, "the port");
    }
    for (const user of Object.keys(pg.users)) {
      if (user.startsWith(RESERVED_USER_PREFIX)) {
        problems.push(`${key}.users.${user}: names starting with ${RESERVED_USER_PREFIX} are kept for dbstack's own roles (such as dbstack_replication); choose another name`);
      }
    }
  }
  return problems;
}
