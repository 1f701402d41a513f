/** The stack's rules on `importFrom`: what each reference names, and the order deployments can be built in. */
import { parseImportReference } from "../components/copy/importReference";
import type { StackConfig } from "./config";
import { LOCAL_HOST, type ServerEntry } from "./stackEntries";

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
