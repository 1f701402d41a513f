import { isAbsolute } from "path";
import { cronJobName, defaultToolsDir } from "../components/model/naming";
import { sqliteDataDirs } from "../components/engines/sqlite/database";
import { backupDirProblem, isWithin, placementProblem, toolsDirProblem } from "../components/validate";
import { RESERVED_USER_PREFIX } from "../components/deploy/validateServer";
import type { StackConfig } from "./config";
import { parseImportReference } from "../components/copy/importReference";

type ServerEntry = StackConfig["postgres"][string] | StackConfig["mariadb"][string];
type StandbyEntry = { host: string; port?: number; clusterName?: string; instanceName?: string; container?: unknown };

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
    if (host === LOCAL_HOST || host in config.hosts || host in config.dockerHosts) return host;
    const known = [...Object.keys(config.hosts), ...Object.keys(config.dockerHosts)];
    problems.push(`${key}: no host ${JSON.stringify(host)} in dbstack:hosts or dbstack:dockerHosts (declared: ${known.length ? known.join(", ") : "none"}; or use "local")`);
    return undefined;
  };

  for (const [name, d] of Object.entries(config.dockerHosts)) {
    if (name in config.hosts) problems.push(`dbstack:dockerHosts.${name}: dbstack:hosts has an entry of the same name; \`host: ${name}\` must name one host`);
    if (d.via !== undefined && !(d.via in config.hosts)) {
      problems.push(`dbstack:dockerHosts.${name}.via: no host ${JSON.stringify(d.via)} in dbstack:hosts (declared: ${Object.keys(config.hosts).join(", ") || "none"})`);
    }
  }
  const containerServers = [...Object.entries(config.postgres).map(([n, c]) => [`dbstack:postgres.${n}`, c] as const), ...Object.entries(config.mariadb).map(([n, c]) => [`dbstack:mariadb.${n}`, c] as const)];
  for (const [key, cfg] of containerServers) {
    const entries: [string, string, unknown][] = [[key, cfg.host, cfg.container], ...Object.entries(cfg.standbys as Record<string, StandbyEntry>).map(([s, st]) => [`${key}.standbys.${s}`, st.host, st.container] as [string, string, unknown])];
    for (const [k, host, c] of entries) {
      if (c !== undefined && !(host in config.dockerHosts)) problems.push(`${k}.container: a container needs a Docker host; \`${k}.host\` is ${JSON.stringify(host)}, not an entry of dbstack:dockerHosts`);
    }
  }

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
  /** Directories a deployment keeps data in, per host: the server's data directories, SQLite's files. */
  const dataDirs: { key: string; host: string; dir: string; file?: boolean }[] = [];
  /** Directories that must stay outside every data directory of their host: backups, tools. */
  const outsideData: { key: string; host: string; dir: string; what: "backup" | "tools" }[] = [];
  for (const [name, db] of Object.entries(config.sqlite)) {
    const key = `dbstack:sqlite.${name}`;
    const ENGINE = "sqlite";
    if (db.host in config.dockerHosts) {
      problems.push(
        `${key}.host: ${JSON.stringify(db.host)} is a Docker host (dbstack:dockerHosts); an SQLite database is a file on this machine or on an SSH host, never on a Docker host outside any container: use "local" or an entry of dbstack:hosts`,
      );
      continue;
    }
    const host = hostOf(`${key}.host`, db.host);
    if (host !== undefined && isAbsolute(db.path)) dataDirs.push({ key: `${key}.path`, host, dir: db.path, file: true });
    if (host !== undefined && db.backup?.dir && isAbsolute(db.backup.dir)) outsideData.push({ key: `${key}.backup.dir`, host, dir: db.backup.dir, what: "backup" });
    if (host !== undefined && db.toolsDir && isAbsolute(db.toolsDir)) outsideData.push({ key: `${key}.toolsDir`, host, dir: db.toolsDir, what: "tools" });
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

  // Server deployments: instances and ports per host, standbys included.
  const instances = { postgres: new Map<string, string>(), mariadb: new Map<string, string>() };
  const ports = new Map<string, string>();
  const servers: (readonly [engine: "postgres" | "mariadb", name: string, cfg: ServerEntry, instanceKey: string, instance: (s?: StandbyEntry) => string])[] = [
    ...Object.entries(config.postgres).map(([name, pg]) => ["postgres", name, pg, "clusterName", (s?: StandbyEntry) => s?.clusterName ?? pg.clusterName ?? name] as const),
    ...Object.entries(config.mariadb).map(([name, m]) => ["mariadb", name, m, "instanceName", (s?: StandbyEntry) => s?.instanceName ?? m.instanceName ?? name] as const),
  ];
  for (const [engine, name, cfg, instanceKey, instanceOf] of servers) {
    const key = `dbstack:${engine}.${name}`;
    const noun = engine === "postgres" ? "the PostgreSQL cluster" : "the MariaDB instance";
    placed(`${key}.dataDirectory`, cfg.dataDirectory, true);
    placed(`${key}.toolsDir`, cfg.toolsDir, true);
    placed(`${key}.backup.dir`, cfg.backup?.dir, true);
    const primaryHost = cfg.host === LOCAL_HOST || cfg.host in config.hosts || cfg.host in config.dockerHosts ? cfg.host : undefined;
    if (cfg.backup && primaryHost) claim(cronJobs, `${primaryHost}:${cronJobName(STACK_PREFIX, engine, name, "backup")}`, `${key}.backup`, "the cron job");
    const tools = cfg.toolsDir ?? defaultToolsDir(STACK_PREFIX, engine, name);
    if (primaryHost) claim(toolDirs, `${primaryHost}:${tools}`, `${key}${cfg.toolsDir ? ".toolsDir" : ""}`, "the tools directory");
    // On a Docker host the data and backups are in the container's volumes, apart from every other deployment's.
    if (primaryHost && !(primaryHost in config.dockerHosts)) {
      const dir = cfg.dataDirectory ?? defaultDataDirectory(engine, instanceOf(), cfg.version);
      if (dir) dataDirs.push({ key: `${key}.dataDirectory`, host: primaryHost, dir });
      if (cfg.backup?.dir) outsideData.push({ key: `${key}.backup.dir`, host: primaryHost, dir: cfg.backup.dir, what: "backup" });
      if (cfg.toolsDir) outsideData.push({ key: `${key}.toolsDir`, host: primaryHost, dir: cfg.toolsDir, what: "tools" });
    }
    const placedOn: [string, string, string, number][] = [[key, cfg.host, instanceOf(), cfg.port]];
    for (const [s, standby] of Object.entries(cfg.standbys as Record<string, StandbyEntry>)) {
      placedOn.push([`${key}.standbys.${s}`, standby.host, instanceOf(standby), standby.port ?? cfg.port]);
    }
    for (const [k, host, instance, port] of placedOn) {
      const h = hostOf(`${k}.host`, host);
      if (h === undefined) continue;
      // On a Docker host every instance has a container (and volumes) of its own.
      if (!(h in config.dockerHosts)) claim(instances[engine], `${h}:${instance}`, `${k}.${instanceKey}`, noun);
      claim(ports, `${h}:${port}`, `${k}.port`, "the port");
    }
    for (const user of Object.keys(cfg.users)) {
      if (user.startsWith(RESERVED_USER_PREFIX)) {
        problems.push(`${key}.users.${user}: names starting with ${RESERVED_USER_PREFIX} are kept for dbstack's own roles (such as dbstack_replication); choose another name`);
      }
    }
  }
  problems.push(...dataDirectoryProblems(dataDirs, outsideData));
  problems.push(...importFromProblems(config));
  return problems;
}

/** A server's data directory when the config does not declare one (the engines' layouts), if it is known before the host is read. */
function defaultDataDirectory(engine: "postgres" | "mariadb", instance: string, version: unknown): string | undefined {
  if (engine === "mariadb") return `/var/lib/dbstack-mariadb/${instance}`;
  return version === undefined ? undefined : `/var/lib/postgresql/${String(version)}/${instance}`;
}

/**
 * Data directories on one host are neither shared nor nested, whatever their engines: one
 * server's files inside another's would be read, locked or deleted by the wrong server (and a
 * destroy of one would delete the other). Backups and tools stay outside every data directory.
 */
function dataDirectoryProblems(
  dataDirs: { key: string; host: string; dir: string; file?: boolean }[],
  outsideData: { key: string; host: string; dir: string; what: "backup" | "tools" }[],
): string[] {
  const problems: string[] = [];
  const on = (host: string) => (host === LOCAL_HOST ? "" : ` on host ${host}`);
  dataDirs.forEach((d, i) => {
    for (const other of dataDirs.slice(0, i)) {
      if (other.host !== d.host || (d.file && other.file)) continue; // two files: the file claim above says it
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

/** Whether a MariaDB account host pattern (`%` and `_` wildcards, or a CIDR network) admits 127.0.0.1. */
function matchesLoopback(pattern: string): boolean {
  const cidr = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(pattern);
  if (cidr) {
    const bits = Number(cidr[5]);
    const address = cidr.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
    const loopback = 0x7f000001;
    const size = 2 ** (32 - Math.min(bits, 32));
    return Math.floor(address / size) === Math.floor(loopback / size);
  }
  const regex = new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/%/g, ".*").replace(/_/g, ".")}$`);
  return regex.test("127.0.0.1");
}

/**
 * `importFrom` references: each names a deployment (and database) declared in this stack, not its
 * own deployment (a step cannot wait for the deployment it belongs to), an SQLite file on this
 * machine (where the copy runs), and no two deployments import from each other (no order could
 * build them).
 */
export function importFromProblems(config: StackConfig): string[] {
  const problems: string[] = [];
  /** deployment → the deployments it imports from, with the key of the first reference. */
  const edges = new Map<string, Map<string, string>>();
  for (const engine of ["postgres", "mariadb"] as const) {
    for (const [name, cfg] of Object.entries(config[engine] as Record<string, ServerEntry>)) {
      for (const [db, d] of Object.entries(cfg.databases)) {
        if (d.importFrom === undefined) continue;
        const key = `dbstack:${engine}.${name}.databases.${db}.importFrom`;
        const text = typeof d.importFrom === "string" ? d.importFrom : d.importFrom.from;
        const ref = parseImportReference(text);
        if (!ref) continue; // the schema has said why
        const declared = Object.keys(config[ref.engine]);
        if (ref.engine === engine && ref.deployment === name) {
          problems.push(`${key}: ${JSON.stringify(text)} is ${ref.database === db ? "this database itself" : "a database of the same deployment"}; import from another deployment of the stack`);
          continue;
        }
        if (!(ref.deployment in config[ref.engine])) {
          problems.push(`${key}: no ${ref.engine} deployment ${JSON.stringify(ref.deployment)} in the stack (dbstack:${ref.engine} declares ${declared.length ? declared.join(", ") : "none"})`);
          continue;
        }
        if (ref.engine === "sqlite") {
          const source = config.sqlite[ref.deployment];
          if (source.host !== LOCAL_HOST) {
            problems.push(`${key}: dbstack:sqlite.${ref.deployment} is on host ${source.host}; the copy runs on the machine running Pulumi and reads the file there, so the source must be on host "local"`);
            continue;
          }
        } else {
          const dbs = Object.keys((config[ref.engine][ref.deployment] as ServerEntry).databases);
          if (!dbs.includes(ref.database!)) {
            problems.push(`${key}: ${ref.engine} deployment ${ref.deployment} has no database ${JSON.stringify(ref.database)} (it declares ${dbs.join(", ")})`);
            continue;
          }
        }
        // The copy logs in to a MariaDB target as the owner over TCP from this machine, which a
        // server on this machine sees as 127.0.0.1 (never as `localhost`, a socket-only account).
        if (engine === "mariadb" && cfg.host === LOCAL_HOST) {
          const hosts = (cfg.users[d.owner] as { hosts?: string[] } | undefined)?.hosts ?? [];
          if (!hosts.some(matchesLoopback)) {
            problems.push(
              `${key}: the copy logs in as ${d.owner} over TCP from this machine (127.0.0.1), which dbstack:mariadb.${name}.users.${d.owner}.hosts ` +
                `(${hosts.join(", ")}) does not allow; add "127.0.0.1"`,
            );
            continue;
          }
        }
        const from = `${engine}:${name}`;
        const to = `${ref.engine}:${ref.deployment}`;
        const out = edges.get(from) ?? new Map<string, string>();
        if (!out.has(to)) out.set(to, key);
        edges.set(from, out);
      }
    }
  }
  // A cycle: each deployment's copy would wait for the other's to be built.
  const reported = new Set<string>();
  const walk = (node: string, path: string[]): void => {
    for (const [next, key] of edges.get(node) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) {
        const cycle = [...path.slice(at), next];
        const id = [...cycle.slice(0, -1)].sort().join(" ");
        if (!reported.has(id)) {
          reported.add(id);
          problems.push(`${key}: deployments would import from each other (${cycle.join(" → ")}); no order can build them`);
        }
        continue;
      }
      walk(next, [...path, next]);
    }
  };
  for (const node of edges.keys()) walk(node, [node]);
  return problems;
}
