/**
 * The stack's rules on what its deployments put on each host: paths out of the system's trees,
 * nothing claimed twice (a database file, a tools directory, a cron job, an instance, a port),
 * data directories neither shared nor nested. One would otherwise silently break or destroy the
 * other; each problem names the keys involved.
 */
import type { ServerEngineKind } from "../components/model/engineKind";
import { isAbsolute } from "path";
import { sqliteDataDirs } from "../components/engines/sqlite/database";
import { cronJobName, defaultToolsDir } from "../components/model/naming";
import { backupDirProblem, isWithin, placementProblem, toolsDirProblem } from "../components/validate";
import type { StackConfig } from "./config";
import { isStackHost, LOCAL_HOST, serverEntries, STACK_PREFIX, type StandbyEntry } from "./stackEntries";

/** The SQLite databases whose host is a host of the stack but not a Docker host (those have rules of their own). */
function placedSqlite(config: StackConfig) {
  return Object.entries(config.sqlite).filter(([, db]) => !(db.host in config.dockerHosts));
}

/** Absolute paths in the config that point where dbstack never puts anything (relative ones are inside the project). */
export function placementProblems(config: StackConfig): string[] {
  const problems: string[] = [];
  const placed = (key: string, value: string | undefined, ownDirectory: boolean) => {
    if (value === undefined || !isAbsolute(value)) return;
    const problem = placementProblem(value, ownDirectory);
    if (problem) problems.push(`${key}: ${problem}`);
  };
  for (const [name, db] of placedSqlite(config)) {
    const key = `dbstack:sqlite.${name}`;
    placed(`${key}.path`, db.path, false);
    placed(`${key}.toolsDir`, db.toolsDir, true);
    placed(`${key}.backup.dir`, db.backup?.dir, true);
    const overlap = db.toolsDir && toolsDirProblem(db.toolsDir, sqliteDataDirs(db.path, db.backup?.dir));
    if (overlap) problems.push(`${key}.toolsDir: ${overlap}`);
  }
  for (const { key, cfg } of serverEntries(config)) {
    placed(`${key}.dataDirectory`, cfg.dataDirectory, true);
    placed(`${key}.toolsDir`, cfg.toolsDir, true);
    placed(`${key}.backup.dir`, cfg.backup?.dir, true);
  }
  return problems;
}

/** Two deployments on one host claiming the same database file, tools directory, cron job, instance or port. */
export function sharedOnHostProblems(config: StackConfig): string[] {
  const problems: string[] = [];
  const files = new Map<string, string>();
  const toolDirs = new Map<string, string>();
  const cronJobs = new Map<string, string>();
  const instances = { postgres: new Map<string, string>(), mariadb: new Map<string, string>() };
  const ports = new Map<string, string>();
  /** Claims `value` on `host` for `key`; a second claim is a problem naming both keys. */
  const claim = (map: Map<string, string>, host: string, value: string, key: string, what: string) => {
    const scoped = `${host}:${value}`;
    const other = map.get(scoped);
    const on = host === LOCAL_HOST ? "" : ` on host ${host}`;
    if (other) problems.push(`${key}: ${other} already uses ${what} ${value}${on}; two deployments must not share it`);
    else map.set(scoped, key);
  };
  for (const [name, db] of placedSqlite(config)) {
    if (!isStackHost(config, db.host)) continue;
    const key = `dbstack:sqlite.${name}`;
    claim(files, db.host, db.path, `${key}.path`, "the database file");
    if (db.backup) claim(cronJobs, db.host, cronJobName(STACK_PREFIX, "sqlite", name, "backup"), `${key}.backup`, "the cron job");
    claim(toolDirs, db.host, db.toolsDir ?? defaultToolsDir(STACK_PREFIX, "sqlite", name), `${key}${db.toolsDir ? ".toolsDir" : ""}`, "the tools directory");
  }
  for (const { engine, name, key, cfg, instanceKey, instanceOf } of serverEntries(config)) {
    if (isStackHost(config, cfg.host)) {
      if (cfg.backup) claim(cronJobs, cfg.host, cronJobName(STACK_PREFIX, engine, name, "backup"), `${key}.backup`, "the cron job");
      claim(toolDirs, cfg.host, cfg.toolsDir ?? defaultToolsDir(STACK_PREFIX, engine, name), `${key}${cfg.toolsDir ? ".toolsDir" : ""}`, "the tools directory");
    }
    const noun = engine === "postgres" ? "the PostgreSQL cluster" : "the MariaDB instance";
    const placedOn: [string, string, string, number][] = [[key, cfg.host, instanceOf(), cfg.port]];
    for (const [s, standby] of Object.entries(cfg.standbys as Record<string, StandbyEntry>)) {
      placedOn.push([`${key}.standbys.${s}`, standby.host, instanceOf(standby), standby.port ?? cfg.port]);
    }
    for (const [k, host, instance, port] of placedOn) {
      if (!isStackHost(config, host)) continue;
      // On a Docker host every instance has a container (and volumes) of its own.
      if (!(host in config.dockerHosts)) claim(instances[engine], host, instance, `${k}.${instanceKey}`, noun);
      claim(ports, host, String(port), `${k}.port`, "the port");
    }
  }
  // Declared metrics: each member's exporter takes a port on its member's host too.
  for (const { key, cfg } of serverEntries(config)) {
    const e = cfg.metrics?.exporter;
    if (!e) continue;
    const exporters: [string, string, number][] = [[cfg.host, `${key}.metrics.exporter.port`, e.port]];
    for (const [s, standby] of Object.entries(cfg.standbys as Record<string, StandbyEntry>)) {
      const own = e.standbyPorts?.[s];
      exporters.push([standby.host, own === undefined ? `${key}.metrics.exporter.port` : `${key}.metrics.exporter.standbyPorts.${s}`, own ?? e.port]);
    }
    for (const [host, k, port] of exporters) if (isStackHost(config, host) && !(host in config.dockerHosts)) claim(ports, host, String(port), k, "the port");
  }
  return problems;
}

/** A server's data directory when the config does not declare one (the engines' layouts), if it is known before the host is read. */
function defaultDataDirectory(engine: ServerEngineKind, instance: string, version: unknown): string | undefined {
  if (engine === "mariadb") return `/var/lib/dbstack-mariadb/${instance}`;
  return version === undefined ? undefined : `/var/lib/postgresql/${String(version)}/${instance}`;
}

/**
 * Data directories on one host are neither shared nor nested, whatever their engines: one
 * server's files inside another's would be read, locked or deleted by the wrong server (and a
 * destroy of one would delete the other). Backups and tools stay outside every data directory.
 * On a Docker host the data and backups are in each container's volumes, apart from every other deployment's.
 */
export function dataDirectoryProblems(config: StackConfig): string[] {
  /** Directories a deployment keeps data in, per host: the server's data directories, SQLite's files. */
  const dataDirs: { key: string; host: string; dir: string; file?: boolean }[] = [];
  /** Directories that must stay outside every data directory of their host: backups, tools. */
  const outsideData: { key: string; host: string; dir: string; what: "backup" | "tools" }[] = [];
  for (const [name, db] of placedSqlite(config)) {
    if (!isStackHost(config, db.host)) continue;
    const key = `dbstack:sqlite.${name}`;
    if (isAbsolute(db.path)) dataDirs.push({ key: `${key}.path`, host: db.host, dir: db.path, file: true });
    if (db.backup?.dir && isAbsolute(db.backup.dir)) outsideData.push({ key: `${key}.backup.dir`, host: db.host, dir: db.backup.dir, what: "backup" });
    if (db.toolsDir && isAbsolute(db.toolsDir)) outsideData.push({ key: `${key}.toolsDir`, host: db.host, dir: db.toolsDir, what: "tools" });
  }
  for (const { engine, key, cfg, instanceOf } of serverEntries(config)) {
    if (!isStackHost(config, cfg.host) || cfg.host in config.dockerHosts) continue;
    const dir = cfg.dataDirectory ?? defaultDataDirectory(engine, instanceOf(), cfg.version);
    if (dir) dataDirs.push({ key: `${key}.dataDirectory`, host: cfg.host, dir });
    if (cfg.backup?.dir) outsideData.push({ key: `${key}.backup.dir`, host: cfg.host, dir: cfg.backup.dir, what: "backup" });
    if (cfg.toolsDir) outsideData.push({ key: `${key}.toolsDir`, host: cfg.host, dir: cfg.toolsDir, what: "tools" });
  }

  const problems: string[] = [];
  const on = (host: string) => (host === LOCAL_HOST ? "" : ` on host ${host}`);
  dataDirs.forEach((d, i) => {
    for (const other of dataDirs.slice(0, i)) {
      if (other.host !== d.host || (d.file && other.file)) continue; // two files: the file claim says it
      if (!d.file && !other.file && isWithin(d.dir, other.dir) && isWithin(other.dir, d.dir)) {
        problems.push(`${d.key}: ${other.key} already uses the data directory ${d.dir}${on(d.host)}; two deployments must not share a data directory`);
      } else if (isWithin(d.dir, other.dir) && !other.file) {
        problems.push(`${d.key}: ${d.dir} is inside ${other.dir}, the data directory of ${other.key}${on(d.host)}; data directories must not be nested`);
      } else if (isWithin(other.dir, d.dir) && !d.file) {
        problems.push(`${d.key}: ${d.dir} holds ${other.dir}, the data of ${other.key}${on(d.host)}; data directories must not be nested`);
      }
    }
  });
  for (const o of outsideData) {
    const servers = dataDirs.filter((d) => d.host === o.host && !d.file);
    const problem =
      o.what === "backup"
        ? backupDirProblem(o.dir, servers.map((d) => [`the data directory of ${d.key}${on(d.host)}`, d.dir]))
        : servers.filter((d) => isWithin(o.dir, d.dir)).map((d) => `${o.dir} is inside the data directory of ${d.key}${on(d.host)}; tools live outside every data directory`)[0];
    if (problem) problems.push(`${o.key}: ${problem}`);
  }
  return problems;
}
