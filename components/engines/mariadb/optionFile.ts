import type { TunedParameter } from "../../model/tuning";
import { gtidServerOptions } from "./flavor";
import { mariadbPaths, type MariadbLocation } from "./host";
import { normalizeVariableName } from "./parameters";

/** What an instance's option file says. */
export interface OptionFileSpec {
  loc: MariadbLocation;
  /** The tuned parameters, declared overrides already merged in (components/model/tuning.ts). */
  parameters: TunedParameter[];
  /** Addresses the server listens on (bind_address; 10.11 takes several). At least one. */
  bindAddresses: string[];
  /** Refuse connections without TLS (require_secure_transport). Needs `tls`. */
  requireSecureTransport: boolean;
  /** Serve TLS with the key, certificate and CA that the configure step puts in the instance's TLS directory. */
  tls: boolean;
  /** Binary log and GTID for replication: on the primary and on every replica (a replica can be promoted). */
  replication?: { role: "primary" | "replica"; serverId: number };
}

/**
 * Options dbstack sets from the spec's other fields: a parameter of the same name would silently
 * take the instance somewhere dbstack does not look (another data directory, socket, port) or
 * undo replication, so it is refused, naming the field to declare it with instead.
 */
const OWNED_OPTIONS: Record<string, string> = {
  datadir: "dataDirectory",
  port: "port",
  socket: "the instance name",
  pid_file: "the instance name",
  log_error: "the instance name",
  user: "nothing (the server runs as mysql)",
  bind_address: "bindAddresses",
  ssl_cert: "tls",
  ssl_key: "tls",
  ssl_ca: "tls",
  require_secure_transport: "requireSecureTransport",
  server_id: "replicas",
  log_bin: "replicas",
  log_slave_updates: "replicas",
  log_replica_updates: "replicas",
  gtid_strict_mode: "replicas",
  gtid_mode: "replicas",
  enforce_gtid_consistency: "replicas",
  relay_log: "replicas",
  read_only: "replicas (a replica is read-only; promote makes it writable)",
};

/** One `name = value` line of the file, with the comment above it that says why. */
interface OptionLine {
  name: string;
  value: string;
  reason: string;
}

/**
 * The instance's option file, read by the server with --defaults-file (so no other file on the
 * host changes it): where the instance lives, how it is reached, TLS, replication, then the tuned
 * parameters, each under a comment giving its reason. Deterministic, one option per line, so a
 * preview diff shows exactly what changes.
 *
 * skip_name_resolve is ON: the server then never does a reverse DNS lookup per connection (a
 * slow or failing resolver stalls every login, and a name-based account trusts whoever controls
 * the DNS). Accounts are matched on addresses ('app'@'10.0.0.%'), and 'localhost' on the socket.
 */
export function renderOptionFile(spec: OptionFileSpec): string {
  const p = mariadbPaths(spec.loc);
  if (spec.bindAddresses.length === 0) throw new Error("bindAddresses: at least one address is needed (127.0.0.1 for this host only)");
  for (const a of spec.bindAddresses) {
    if (!/^[A-Za-z0-9.:*-]+$/.test(a)) throw new Error(`bindAddresses: ${JSON.stringify(a)} is not a host address`);
  }
  if (spec.requireSecureTransport && !spec.tls) throw new Error("requireSecureTransport: needs tls, or no client could connect over TCP");

  const byName = new Map<string, TunedParameter>();
  for (const param of spec.parameters) {
    const name = normalizeVariableName(param.name);
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`parameters.${param.name}: not a MariaDB variable name`);
    if (OWNED_OPTIONS[name]) throw new Error(`parameters.${param.name}: set by dbstack from ${OWNED_OPTIONS[name]}; declare it there`);
    if (/[\r\n]/.test(param.value)) throw new Error(`parameters.${param.name}: the value must be one line`);
    byName.set(name, { ...param, name });
  }

  const location: OptionLine[] = [
    { name: "datadir", value: p.dataDirectory, reason: "the instance's own data directory" },
    { name: "port", value: String(spec.loc.port), reason: "the instance's own port" },
    { name: "socket", value: p.socket, reason: "root connects here (unix_socket authentication)" },
    { name: "pid_file", value: p.pidFile, reason: "" },
    { name: "log_error", value: p.errorLog, reason: "start failures and crashes are reported here" },
    { name: "user", value: "mysql", reason: "" },
  ];
  const access: OptionLine[] = [
    { name: "bind_address", value: spec.bindAddresses.join(","), reason: "declared bindAddresses" },
    { name: "skip_name_resolve", value: "ON", reason: "no reverse DNS per connection: accounts match on addresses" },
  ];
  if (spec.tls) {
    access.push(
      { name: "ssl_cert", value: `${p.tlsDir}/server.crt`, reason: "this host's certificate" },
      { name: "ssl_key", value: `${p.tlsDir}/server.key`, reason: "this host's key, made on this host" },
      { name: "ssl_ca", value: `${p.tlsDir}/ca.crt`, reason: "the deployment's certificate authority" },
    );
  }
  if (spec.requireSecureTransport) access.push({ name: "require_secure_transport", value: "ON", reason: "declared requireSecureTransport" });

  const defaults: OptionLine[] = [
    { name: "character_set_server", value: "utf8mb4", reason: "all of Unicode by default (10.11's default is latin1)" },
    { name: "collation_server", value: "utf8mb4_unicode_ci", reason: "" },
    // The server never asks a client for one of its files (LOAD DATA LOCAL INFILE): a client run as
    // root would send /etc/shadow. dbstack's clients refuse anyway (--local-infile=0); this covers
    // the others. A declared parameters.local_infile replaces this default.
    { name: "local_infile", value: "OFF", reason: "no LOAD DATA LOCAL INFILE: the server never asks a client for its files" },
  ].filter((o) => !byName.has(o.name));

  const replication: OptionLine[] = [];
  if (spec.replication) {
    const { role, serverId } = spec.replication;
    if (!Number.isInteger(serverId) || serverId < 1 || serverId > 4294967295) {
      throw new Error(`replicas: server id ${serverId} must be an integer from 1 to 4294967295`);
    }
    for (const [name, value] of Object.entries(gtidServerOptions(spec.loc.flavor ?? "mariadb", serverId))) {
      replication.push({ name, value, reason: name === "server_id" ? `unique in the deployment (${role})` : "" });
    }
    replication.push({ name: "relay_log", value: "relay-bin", reason: "named after nothing that changes (the default carries the host name)" });
    if (role === "replica") replication.push({ name: "read_only", value: "ON", reason: "a replica takes writes from its source only" });
  }

  const sections: Array<[string, OptionLine[]]> = [
    ["Where the instance lives", location],
    ["How clients reach it", access],
    ["Defaults", defaults],
    ...(spec.replication ? [[`Replication: binary log and GTID (${spec.replication.role})`, replication] as [string, OptionLine[]]] : []),
    ["Tuned parameters (declared overrides included)", [...byName.values()]],
  ];
  const out = [
    `# MariaDB instance ${spec.loc.instance}: rendered by dbstack; changes here are overwritten by the next \`pulumi up\`.`,
    "# The server reads this file only (--defaults-file).",
    "",
    "[mysqld]",
  ];
  for (const [title, lines] of sections) {
    if (lines.length === 0) continue;
    out.push("", `# ${title}`);
    for (const line of lines) {
      if (line.reason) out.push(`# ${line.reason.replace(/[\r\n]+/g, " ")}`);
      out.push(`${line.name} = ${optionValue(line.value)}`);
    }
  }
  out.push("", "[client]", "# `mariadb --defaults-file=<this file>` reaches the instance over its socket.", `socket = ${optionValue(p.socket)}`, `port = ${spec.loc.port}`, "");
  return out.join("\n");
}

/** A value as the option file parser reads it back unchanged: quoted when it holds spaces, comment marks, quotes or escapes. */
function optionValue(value: string): string {
  if (value !== "" && /^[^\s#;'"\\]+$/.test(value)) return value;
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * The [mysqld] options of an option file, by name as the server reads it (lower case, dashes
 * as underscores); the last one of a name wins, as in the server. A bare option (skip-name-resolve)
 * reads as "ON". Quoted values are unquoted.
 */
export function serverVariables(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1].trim().toLowerCase();
      continue;
    }
    if (section !== "mysqld") continue;
    const eq = line.indexOf("=");
    const name = normalizeVariableName(eq < 0 ? line : line.slice(0, eq));
    let value = eq < 0 ? "ON" : line.slice(eq + 1).trim();
    const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(value) ?? /^'((?:[^'\\]|\\.)*)'$/.exec(value);
    if (quoted) value = quoted[1].replace(/\\(.)/g, "$1");
    values[name] = value;
  }
  return values;
}
