import { isAbsolute } from "path";
import { cronJobName, defaultToolsDir } from "../components/model/naming";
import { sqliteDataDirs } from "../components/engines/sqlite/database";
import { placementProblem, toolsDirProblem } from "../components/validate";
import { RESERVED_USER_PREFIX } from "../components/deploy/validateServer";
import type { StackConfig } from "./config";

/** Every deployment of one stack has the same prefix of host-level names: any stands for it here. */
const STACK_PREFIX = "dbstack-stack";

/** The name `host:` uses for this machine; no entry of dbstack:hosts may take it. */
export const LOCAL_HOST = "local";

export { RESERVED_USER_PREFIX };

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
  /** Claims `value` on a host (`host:value`) for `key`; a second claim is a problem naming both keys. */
  const claim = (map: Map<string, string>, scoped: string, key: string, what: string) => {
    const [host, ...rest] = scoped.split(":");
    const value = rest.join(":");
    const other = map.get(scoped);
    const on = host === LOCAL_HOST ? "" : ` on host ${host}`;
    if (other) problems.push(`${key}: ${other} already uses ${what} ${value}${on}; two deployments must not share it`);
    else map.set(scoped, key);
  };
  for (const [name, db] of Object.entries(config.sqlite)) {
    const key = `dbstack:sqlite.${name}`;
    const ENGINE = "sqlite";
    const host = hostOf(`${key}.host`, db.host);
    placed(`${key}.path`, db.path, false);
    placed(`${key}.toolsDir`, db.toolsDir, true);
    placed(`${key}.backup.dir`, db.backup?.dir, true);
    const overlap = db.toolsDir && toolsDirProblem(db.toolsDir, sqliteDataDirs(db.path, db.backup?.dir));
    if (overlap) problems.push(`${key}.toolsDir: ${overlap}`);
    if (host === undefined) continue;
    claim(files, `${host}:${db.path}`, `${key}.path`, "the database file");
    if (db.backup) claim(cronJobs, `${host}:${cronJobName(STACK_PREFIX, ENGINE, name, "backup")}`, `${key}.backup`, "the cron job");
    const tools = db.toolsDir ?? defaultToolsDir(STACK_PREFIX, ENGINE, name);
    claim(toolDirs, `${host}:${tools}`, `${key}${db.toolsDir ? ".toolsDir" : ""}`, "the tools directory");
  }

  // PostgreSQL: clusters and ports per host, standbys included.
  const clusters = new Map<string, string>();
  const ports = new Map<string, string>();
  for (const [name, pg] of Object.entries(config.postgres)) {
    const key = `dbstack:postgres.${name}`;
    const ENGINE = "postgres";
    placed(`${key}.dataDirectory`, pg.dataDirectory, true);
    placed(`${key}.toolsDir`, pg.toolsDir, true);
    placed(`${key}.backup.dir`, pg.backup?.dir, true);
    const pgHost = pg.host === LOCAL_HOST || pg.host in config.hosts ? pg.host : undefined;
    if (pg.backup && pgHost) claim(cronJobs, `${pgHost}:${cronJobName(STACK_PREFIX, ENGINE, name, "backup")}`, `${key}.backup`, "the cron job");
    const tools = pg.toolsDir ?? defaultToolsDir(STACK_PREFIX, ENGINE, name);
    if (pgHost) claim(toolDirs, `${pgHost}:${tools}`, `${key}${pg.toolsDir ? ".toolsDir" : ""}`, "the tools directory");
    const servers: [string, string, string, number][] = [[`${key}`, pg.host, pg.clusterName ?? name, pg.port]];
    for (const [s, standby] of Object.entries(pg.standbys)) {
      servers.push([`${key}.standbys.${s}`, standby.host, standby.clusterName ?? pg.clusterName ?? name, standby.port ?? pg.port]);
    }
    for (const [k, host, cluster, port] of servers) {
      const h = hostOf(`${k}.host`, host);
      if (h === undefined) continue;
      claim(clusters, `${h}:${cluster}`, `${k}.clusterName`, "the PostgreSQL cluster");
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
