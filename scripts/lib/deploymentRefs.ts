/**
 * db:copy endpoints named by deployment instead of URL: `postgres:main/app`, `postgres:main/app@ro`,
 * `mariadb:shop/app`, `sqlite:app`, resolved from a stack's outputs and config.
 *
 * - A server database resolves to its owner's URL from the stack's `urls` output (`@user` picks
 *   that user's), in the flavour the copy's drivers read (`postgresql`, `mysql`). The URL, with its
 *   password, stays in this process: never on a command line, never printed (see redactUrl).
 * - TLS is verified: the deployment's CA (its `caCertificate` output) goes to a temporary file and
 *   the URL asks for verify-full (PostgreSQL) / VERIFY_IDENTITY (MariaDB). The certificates name
 *   127.0.0.1, so this holds through a port forward too. (node-postgres reads the stack's own
 *   `sslmode=require` as verify-full against the system CAs, which a deployment's own CA is not in.)
 * - A deployment on an SSH host (`host: <name in dbstack:hosts>`) is reached through a local port
 *   forward (components/copy/forward.ts) to 127.0.0.1:<port> on the host, with the deploy's pinning:
 *   the declared `hostKey`, otherwise the keys the stack recorded on first contact, read from the
 *   state (`pulumi stack export`, the `host-<name>-keys` SshHostKeys resource). Neither: refused.
 *   The private key is the config secret `dbstack:hosts.<name>.privateKey`.
 * - An SQLite reference resolves to the database file's path; a file on an SSH host is refused
 *   (a port forward cannot carry a file).
 *
 * The stack is read with the Pulumi CLI and the environment every dbstack command uses
 * (scripts/lib/env.ts: backend, passphrase), from the project directory: this repository, or
 * DBSTACK_PROJECT_DIR when the stack's Pulumi.<stack>.yaml lives in another copy of the project.
 */
import { execFileSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parseConnectionUrl } from "../../components/copy/connections";
import { openForward, rewriteUrlHostPort, type ForwardSpec } from "../../components/copy/forward";
import { formatDeploymentReference, parseDeploymentReference, type DeploymentReference } from "../../components/copy/importReference";
import { COPY_URL, ENGINE_KINDS, SERVER_ENGINE_KINDS, sqliteCopyUrl } from "../../components/model/engineKind";
import { parseStackConfig, type StackConfig } from "../../stacks/config";
import { ensurePulumiOnPath, pulumiEnv, ROOT } from "./env";

/**
 * Whether `text` is meant as a deployment reference rather than a URL or path: an engine name, a
 * colon, and no `//` (`sqlite:///path` and `postgres://…` stay URLs).
 */
export function looksLikeDeploymentRef(text: string): boolean {
  return ENGINE_KINDS.some((engine) => text.startsWith(`${engine}:`) && !text.startsWith(`${engine}:/`));
}

/**
 * Parses `postgres:<deployment>/<database>[@<user>]`, `mariadb:<deployment>/<database>[@<user>]`
 * or `sqlite:<deployment>`; undefined for anything that is not a reference (a URL or path). A
 * malformed reference is an error saying the accepted forms.
 */
export function parseDeploymentRef(text: string): DeploymentReference | undefined {
  if (!looksLikeDeploymentRef(text)) return undefined;
  const ref = parseDeploymentReference(text);
  if (ref) return ref;
  throw new Error(
    `${JSON.stringify(text)} is not a deployment reference: expected postgres:<deployment>/<database>[@<user>], ` +
      "mariadb:<deployment>/<database>[@<user>] or sqlite:<deployment> (or a URL: postgresql://…, mysql://…, sqlite:///path)",
  );
}

/** The outputs of one server deployment a stack exports (stacks/server.ts serverOutputs). */
export interface ServerDeploymentOutputs {
  host: string;
  port: number;
  databases?: string[];
  /** user -> database -> flavour -> URL (with the password). */
  urls: Record<string, Record<string, Record<string, string>>>;
  caCertificate?: string;
}

/** What resolution needs of a stack: its outputs, its parsed config, and the host keys its state recorded. */
export interface StackView {
  stack: string;
  outputs: {
    postgres?: Record<string, ServerDeploymentOutputs>;
    mariadb?: Record<string, ServerDeploymentOutputs>;
    sqlite?: Record<string, { path: string }>;
  };
  config: Pick<StackConfig, "hosts" | "postgres" | "mariadb" | "sqlite">;
  /** Keys recorded on first contact, by host name in dbstack:hosts ("type base64" lines). */
  recordedHostKeys: Record<string, string>;
}

/** A reference resolved to what the copy connects to; `url` carries a password (keep it in-process). */
export interface ResolvedEndpoint {
  /** e.g. `postgres main/app as app on deploy@10.0.0.5`, for messages; no secret. */
  label: string;
  url: string;
  /** The deployment's CA certificate (PEM), verified against when connecting. */
  caCertificate?: string;
  /** Set when the deployment is on an SSH host: the URL's host and port are replaced by a forward's. */
  forward?: ForwardSpec;
}

/** Resolves a reference against a stack (pure). Errors name what the stack does have. */
export function resolveDeploymentRef(ref: DeploymentReference, view: StackView): ResolvedEndpoint {
  const text = formatDeploymentReference(ref);
  if (ref.engine === "sqlite") {
    const out = view.outputs.sqlite?.[ref.deployment];
    if (!out) throw new Error(`${text}: no sqlite deployment ${JSON.stringify(ref.deployment)} in stack ${view.stack}; ${inventory(view)}`);
    const host = view.config.sqlite[ref.deployment]?.host ?? "local";
    if (host !== "local") {
      throw new Error(`${text}: the database file is on the SSH host ${JSON.stringify(host)}; db:copy reads SQLite files on this machine only (copy the file here first, e.g. with its backup command)`);
    }
    return { label: `sqlite ${ref.deployment} (${out.path})`, url: sqliteCopyUrl(out.path) };
  }
  const out = view.outputs[ref.engine]?.[ref.deployment];
  if (!out) throw new Error(`${text}: no ${ref.engine} deployment ${JSON.stringify(ref.deployment)} in stack ${view.stack}; ${inventory(view)}`);
  const cfg = view.config[ref.engine][ref.deployment];
  const databases = out.databases ?? Object.keys(cfg?.databases ?? {});
  if (!databases.includes(ref.database)) {
    throw new Error(`${text}: ${ref.engine} ${ref.deployment} has no database ${JSON.stringify(ref.database)} (databases: ${databases.join(", ") || "none"})`);
  }
  const owner = cfg?.databases[ref.database]?.owner;
  const user = ref.user ?? owner;
  const withAccess = Object.keys(out.urls ?? {}).filter((u) => out.urls[u]?.[ref.database] !== undefined).sort();
  if (user === undefined) throw new Error(`${text}: the stack's config names no owner of ${ref.database}; pick a user with @<user> (users with access: ${withAccess.join(", ") || "none"})`);
  const url = out.urls?.[user]?.[ref.database]?.[COPY_URL[ref.engine].flavour];
  if (url === undefined) {
    throw new Error(`${text}: user ${JSON.stringify(user)} has no URL for ${ref.engine} ${ref.deployment}/${ref.database} (users with access: ${withAccess.join(", ") || "none"})`);
  }
  const caCertificate = out.caCertificate?.trim() ? out.caCertificate : undefined;
  const hostName = cfg?.host ?? "local";
  const base = `${ref.engine} ${ref.deployment}/${ref.database} as ${user}`;
  if (hostName === "local") return { label: base, url, caCertificate };
  const h = view.config.hosts[hostName];
  if (!h) throw new Error(`${text}: the deployment's host ${JSON.stringify(hostName)} is not in dbstack:hosts of stack ${view.stack}`);
  const declared = h.hostKey !== undefined;
  const hostKeys = h.hostKey ?? view.recordedHostKeys[hostName];
  if (!hostKeys) {
    throw new Error(
      `${text}: no pinned SSH host key for dbstack:hosts.${hostName}: declare dbstack:hosts.${hostName}.hostKey, or run an up that records it; nothing was sent to the host`,
    );
  }
  if (ref.engine === "mariadb") {
    // Through the forward the server sees a TCP login from 127.0.0.1, and with skip_name_resolve
    // (dbstack's option file) 'localhost' matches the socket only: say so before connecting.
    const hosts = view.config.mariadb[ref.deployment]?.users[user]?.hosts ?? [];
    if (!hosts.some((pattern) => hostPatternMatches(pattern, "127.0.0.1"))) {
      throw new Error(
        `${text}: through the SSH port forward ${user} logs in from 127.0.0.1 on the host, which none of its hosts (${hosts.join(", ") || "none"}) matches ` +
          `('localhost' is the socket only); add "127.0.0.1" to dbstack:mariadb.${ref.deployment}.users.${user}.hosts and run up`,
      );
    }
  }
  const ssh = { host: h.address, port: h.port, user: h.user };
  return {
    label: `${base} through ssh ${h.user}@${h.address}${h.port === 22 ? "" : `:${h.port}`}`,
    url,
    caCertificate,
    forward: { ssh, privateKey: h.privateKey, hostKeys, declared, configKey: `dbstack:hosts.${hostName}`, remotePort: out.port },
  };
}

/**
 * Whether a MariaDB account host pattern admits an IPv4 address: `%`, the address, a LIKE
 * pattern (`127.0.0.%`, `_` one character), or a CIDR network (`127.0.0.0/8`).
 */
export function hostPatternMatches(pattern: string, address: string): boolean {
  const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(pattern);
  if (cidr) {
    const bits = Math.min(Number(cidr[2]), 32);
    const toInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
    // The network part: the address divided by the size of the host part (no 32-bit bit ops in JS).
    const network = (a: string) => Math.floor(toInt(a) / 2 ** (32 - bits));
    return /^\d+\.\d+\.\d+\.\d+$/.test(address) && network(address) === network(cidr[1]);
  }
  if (pattern === "localhost") return false;
  const re = new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/%/g, ".*").replace(/_/g, ".")}$`);
  return re.test(address);
}

/** What a stack deploys, as references a user can type: "it has: postgres:main/app, postgres:main/shop, sqlite:app". */
export function inventory(view: StackView): string {
  const refs: string[] = [];
  for (const engine of SERVER_ENGINE_KINDS) {
    for (const [name, out] of Object.entries(view.outputs[engine] ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      const dbs = out.databases ?? Object.keys(view.config[engine][name]?.databases ?? {});
      refs.push(...dbs.map((db) => `${engine}:${name}/${db}`));
    }
  }
  refs.push(...Object.keys(view.outputs.sqlite ?? {}).sort().map((name) => `sqlite:${name}`));
  return refs.length ? `it has: ${refs.join(", ")}` : "it deploys no databases (has it been up'd?)";
}

/**
 * The URL the copy connects with: through the forward's local port when there is one, and
 * verifying the server's certificate against the CA in `caFile` when there is one. Pure.
 */
export function endpointUrl(url: string, opts: { caFile?: string; forwardedPort?: number }): string {
  let out = opts.forwardedPort === undefined ? url : rewriteUrlHostPort(url, "127.0.0.1", opts.forwardedPort);
  if (opts.caFile === undefined || !/^(postgres(ql)?|mysql|mariadb):/i.test(out)) return out;
  const target = parseConnectionUrl(out);
  if ("path" in target) return out;
  const form = COPY_URL[target.engine];
  const u = new URL(out);
  // Replace whatever TLS parameters the stack's URL carries by the one verified form.
  for (const p of ["sslmode", "sslrootcert", "uselibpqcompat", "ssl-mode", "ssl-ca", "sslMode", "serverSslCert"]) u.searchParams.delete(p);
  u.searchParams.set(form.verify.name, form.verify.value);
  u.searchParams.set(form.caParameter, opts.caFile);
  return u.toString();
}

/** An endpoint ready to connect to; `close` stops its forward and removes its files. */
export interface OpenEndpoint {
  url: string;
  label: string;
  close(): Promise<void>;
}

/** Opens a resolved endpoint: CA file, port forward, final URL. Leaves nothing open when it fails. */
export async function openResolvedEndpoint(resolved: ResolvedEndpoint): Promise<OpenEndpoint> {
  let dir: string | undefined;
  let caFile: string | undefined;
  if (resolved.caCertificate !== undefined) {
    dir = mkdtempSync(join(tmpdir(), "dbstack-copy-ca-"));
    caFile = join(dir, "ca.crt");
    writeFileSync(caFile, resolved.caCertificate, { mode: 0o600 });
  }
  // Removed on Ctrl-C or a kill too (then the process dies of the signal), not only on close.
  const onSignal = (signal: NodeJS.Signals) => {
    removeDir();
    process.kill(process.pid, signal);
  };
  const removeDir = () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const sig of SIGNALS) process.removeListener(sig, onSignal);
  };
  if (dir) for (const sig of SIGNALS) process.once(sig, onSignal);
  try {
    const forward = resolved.forward ? await openForward(resolved.forward) : undefined;
    return {
      url: endpointUrl(resolved.url, { caFile, forwardedPort: forward?.localPort }),
      label: forward ? `${resolved.label} (forwarded to 127.0.0.1:${forward.localPort})` : resolved.label,
      async close() {
        try {
          await forward?.close();
        } finally {
          removeDir();
        }
      },
    };
  } catch (err) {
    removeDir();
    throw err;
  }
}

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Runs the Pulumi CLI for `stack` with the project's environment; its stdout. */
function pulumi(args: string[], stack: string, projectDir: string): string {
  try {
    return execFileSync("pulumi", [...args, "--stack", stack], {
      cwd: projectDir,
      env: { ...process.env, ...pulumiEnv(stack) },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 512 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const why = (e.stderr ?? "").trim().split("\n").slice(-5).join(" / ") || e.message;
    throw new Error(`could not read stack ${stack} (pulumi ${args.slice(0, 2).join(" ")}): ${why}`);
  }
}

/** The keys SshHostKeys recorded per host (`host-<name>-keys` resources), from the stack's state. */
export function recordedHostKeysFromExport(exported: unknown): Record<string, string> {
  const resources = (exported as { deployment?: { resources?: { urn?: string; outputs?: { keys?: unknown } }[] } })?.deployment?.resources ?? [];
  const out: Record<string, string> = {};
  for (const r of resources) {
    const m = /::host-(.+)-keys$/.exec(r.urn ?? "");
    if (m && typeof r.outputs?.keys === "string" && r.outputs.keys.trim()) out[m[1]] = r.outputs.keys;
  }
  return out;
}

/**
 * Reads what resolution needs from a stack with the Pulumi CLI: outputs and config with secrets
 * shown (through a pipe into this process, never printed), and, when a host has no declared key,
 * the state's recorded keys.
 */
export function readStackView(stack: string, projectDir: string = process.env.DBSTACK_PROJECT_DIR || ROOT): StackView {
  ensurePulumiOnPath();
  const outputs = JSON.parse(pulumi(["stack", "output", "--json", "--show-secrets"], stack, projectDir) || "{}") as StackView["outputs"];
  const rawConfig = JSON.parse(pulumi(["config", "--json", "--show-secrets"], stack, projectDir) || "{}") as Record<string, { value?: unknown }>;
  const raw = Object.fromEntries(
    Object.entries(rawConfig)
      .filter(([, v]) => v.value !== undefined)
      .map(([k, v]) => [k, typeof v.value === "string" ? v.value : JSON.stringify(v.value)]),
  );
  const config = parseStackConfig(raw, "dbstack", { stack });
  const needsRecorded = Object.values(config.hosts).some((h) => h.hostKey === undefined);
  const recordedHostKeys = needsRecorded ? recordedHostKeysFromExport(JSON.parse(pulumi(["stack", "export"], stack, projectDir))) : {};
  return { stack, outputs, config, recordedHostKeys };
}

/** The copy's two endpoints, open; `close` ends both (call it in a finally). */
export interface OpenEndpoints {
  from: string;
  to: string;
  close(): Promise<void>;
}

/**
 * Turns db:copy's --from/--to into URLs: references are resolved against `stack` (read once) and
 * opened (forwards, CA files); URLs and paths pass through unchanged. `say` gets one line per
 * resolved reference (no secrets).
 */
export async function openEndpoints(
  from: string,
  to: string,
  opts: { stack?: string; say?: (line: string) => void; readView?: (stack: string) => StackView },
): Promise<OpenEndpoints> {
  const refs = [parseDeploymentRef(from), parseDeploymentRef(to)];
  if (refs.every((r) => r === undefined)) return { from, to, close: async () => undefined };
  if (!opts.stack) {
    const named = refs.filter((r): r is DeploymentReference => r !== undefined).map(formatDeploymentReference);
    throw new Error(`${named.join(" and ")}: a deployment reference needs --stack <name> (the stack whose outputs name it)`);
  }
  const view = (opts.readView ?? readStackView)(opts.stack);
  // Resolve both before opening anything: a typo in --to must not cost an SSH connection for --from.
  const resolved = refs.map((r) => (r === undefined ? undefined : resolveDeploymentRef(r, view)));
  const opened: OpenEndpoint[] = [];
  const closeAll = async () => {
    for (const o of [...opened].reverse()) await o.close().catch(() => undefined);
  };
  try {
    const urls: string[] = [];
    for (const [i, r] of resolved.entries()) {
      if (r === undefined) {
        urls.push(i === 0 ? from : to);
        continue;
      }
      const o = await openResolvedEndpoint(r);
      opened.push(o);
      opts.say?.(`${i === 0 ? "from" : "to"} ${o.label}`);
      urls.push(o.url);
    }
    return { from: urls[0], to: urls[1], close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
