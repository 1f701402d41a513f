/**
 * Integration-test hosts: several "Linux hosts reached over SSH" on this one machine.
 *
 * Each host is a network namespace `dbs-<name>` with its own address on a private bridge and its
 * own sshd. The file system, users and installed packages are the machine's (only the network is
 * separate), so a "host" is a distinct SSH endpoint and network stack, not a distinct disk.
 *
 *   root namespace   dbsbr0  10.213.0.1/24      (Linux bridge, no NAT, no forwarding)
 *   dbs-<name>       eth0    10.213.0.11, .12…  (veth; peer `dbsv<N>` in the root namespace,
 *                                               N = last octet of the host's address)
 *
 * Namespaces have no default route: a host reaches only the bridge subnet and its loopback, and the
 * root namespace reaches the hosts through the bridge's connected route. Nothing is forwarded.
 *
 * Naming and concurrency. vitest.config.ts sets `fileParallelism: false`, so test files run one
 * at a time; still, each test file should use its own fixed, small set of host names (e.g.
 * "pg-primary", "pg-replica" in a PostgreSQL test) so two files can never ask for the same
 * namespace. Addresses are allocated (under a lock, from a registry in /run/dbstack-testhosts)
 * from the lowest free slot, so host sets that are alive at the same time never share an address;
 * asking for a name another live process owns is an error, never a silent takeover. Namespaces
 * left by a crashed run (their owner process is gone) are removed at the next creation.
 *
 * Requirements: root, iproute2 (`ip`), openssh-server (`sshd`), openssh-client (`ssh`,
 * `ssh-keygen`), bash; with `sudoUser`, also `sudo` and `useradd` (passwd). Anything missing is
 * an Error naming the package to install; nothing is skipped.
 */
import { spawn, type ChildProcess } from "child_process";
import { exec, processStart, type CommandResult, type RunOptions } from "./exec";
export type { CommandResult, RunOptions };
import { constants as fsc } from "fs";
import {
  access,
  appendFile,
  chmod,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readdir,
  rename,
  rm,
  writeFile,
} from "fs/promises";
import { existsSync, readFileSync } from "fs";
import { tmpdir } from "os";
import { delimiter, join } from "path";

export const BRIDGE = "dbsbr0";
export const SUBNET_PREFIX = "10.213.0";
export const BRIDGE_ADDRESS = `${SUBNET_PREFIX}.1`;
export const NAMESPACE_PREFIX = "dbs-";
const FIRST_HOST_OCTET = 11;
const LAST_HOST_OCTET = 250;
const REGISTRY = "/run/dbstack-testhosts";
const LOCK = join(REGISTRY, ".lock");

export interface TestHostsOptions {
  /**
   * A non-root Unix user to create (if missing) with the same authorized key and passwordless
   * sudo (/etc/sudoers.d/dbstack-test-<user>), e.g. "deploy". The user is machine-wide (shared by
   * all hosts); it is left in place by destroy(), its sudoers drop-in is removed.
   */
  sudoUser?: string;
  /** How long to wait for each sshd to accept a connection. Default 30 s. */
  readyTimeoutMs?: number;
}

export interface TestHost {
  /** The name given to createTestHosts. */
  name: string;
  /** The network namespace, `dbs-<name>`. */
  namespace: string;
  /** The host's IPv4 address on the test bridge (sshd listens here). */
  address: string;
  port: 22;
  /** SSH user with full rights. */
  user: "root";
  /** The non-root sudo user (opts.sudoUser), if requested. */
  sudoUser?: string;
  /** Client private key (OpenSSH format text), authorized for root and sudoUser on every host. */
  privateKey: string;
  privateKeyPath: string;
  /** A known_hosts file listing every host of this set (use with StrictHostKeyChecking=yes). */
  knownHostsPath: string;
  /** This host's public host key line, "ssh-ed25519 AAAA…". */
  hostKey: string;
  /** SHA256 fingerprint of the host key, as `ssh-keygen -lf` prints it ("SHA256:…"). */
  hostKeyFingerprint: string;
}

export interface SshOptions extends RunOptions {
  /** Log in as this user instead of root (e.g. the sudo user). */
  user?: string;
}

export interface TestHosts {
  hosts: TestHost[];
  /** The host with this name; throws if there is none. */
  host(name: string): TestHost;
  /** Runs `bash -c <command>` inside the host's namespace (`ip netns exec`), as root, no SSH. */
  run(hostName: string, command: string, opts?: RunOptions): Promise<CommandResult>;
  /** Runs a command on the host over SSH from the root namespace (strict host key checking). */
  ssh(hostName: string, command: string, opts?: SshOptions): Promise<CommandResult>;
  /** `ssh` arguments (before `user@address`) that reach these hosts with this set's key. */
  sshArgs(): string[];
  /** Kills every process in the namespaces, deletes namespaces, veths, (last) bridge, temp files. Idempotent. */
  destroy(): Promise<void>;
}

// ------------------------------------------------------------------------------------------------
// Commands

interface Tools {
  ip: string;
  sshd: string;
  ssh: string;
  sshKeygen: string;
  bash: string;
  sudo?: string;
  useradd?: string;
  usermod?: string;
  visudo?: string;
}

const SEARCH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

async function which(name: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...SEARCH_DIRS];
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      await access(file, fsc.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  return undefined;
}

async function findTools(opts: TestHostsOptions): Promise<Tools> {
  const problems: string[] = [];
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    problems.push("must run as root (network namespaces, bridges and sshd need it): run the tests as root");
  }
  const need = async (name: string, pkg: string, fixed?: string) => {
    const found = fixed && existsSync(fixed) ? fixed : await which(name);
    if (!found) {
      const line = problems.find((p) => p.endsWith(`(apt-get install ${pkg})`));
      if (line) problems[problems.indexOf(line)] = line.replace(" not found:", `, \`${name}\` not found:`);
      else problems.push(`\`${name}\` not found: install the Debian package ${pkg} (apt-get install ${pkg})`);
    }
    return found ?? name;
  };
  const tools: Tools = {
    ip: await need("ip", "iproute2"),
    sshd: await need("sshd", "openssh-server", "/usr/sbin/sshd"),
    ssh: await need("ssh", "openssh-client"),
    sshKeygen: await need("ssh-keygen", "openssh-client"),
    bash: await need("bash", "bash"),
  };
  if (opts.sudoUser !== undefined) {
    tools.sudo = await need("sudo", "sudo");
    tools.visudo = await need("visudo", "sudo");
    tools.useradd = await need("useradd", "passwd");
    tools.usermod = await need("usermod", "passwd");
  }
  if (problems.length) {
    throw new Error(`createTestHosts: this machine cannot provide test hosts:\n  - ${problems.join("\n  - ")}`);
  }
  return tools;
}


/** Like exec, but throws with the command and its output when it fails. */
async function must(file: string, args: string[], what?: string): Promise<string> {
  const r = await exec(file, args);
  if (r.code !== 0) {
    throw new Error(`${what ?? "command failed"}: ${[file, ...args].join(" ")} (exit ${r.code})\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// Registry and lock: which live process owns which namespace / address

interface RegistryEntry {
  namespace: string;
  octet: number;
  owner: { pid: number; start: string };
  dir: string;
  sudoUser?: string;
}


const SELF = { pid: process.pid, start: processStart(process.pid) ?? "?" };

function alive(owner: { pid: number; start: string }): boolean {
  const start = processStart(owner.pid);
  return start !== undefined && start === owner.start;
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  await mkdir(REGISTRY, { recursive: true, mode: 0o755 });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const fh = await open(LOCK, "wx");
      await fh.writeFile(JSON.stringify(SELF));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let holder: { pid: number; start: string } | undefined;
      try {
        holder = JSON.parse(await readFile(LOCK, "utf8"));
      } catch {
        /* being written, or gone */
      }
      if (holder && !alive(holder)) {
        await rm(LOCK, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`createTestHosts: ${LOCK} is held by pid ${holder?.pid ?? "?"} for over 2 minutes`);
      }
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(LOCK, { force: true });
  }
}

async function readRegistry(): Promise<RegistryEntry[]> {
  const entries: RegistryEntry[] = [];
  for (const file of await readdir(REGISTRY).catch(() => [] as string[])) {
    if (!file.endsWith(".json")) continue;
    try {
      entries.push(JSON.parse(await readFile(join(REGISTRY, file), "utf8")));
    } catch {
      await rm(join(REGISTRY, file), { force: true });
    }
  }
  return entries;
}

const registryFile = (namespace: string) => join(REGISTRY, `${namespace}.json`);

// ------------------------------------------------------------------------------------------------
// Network plumbing

const vethName = (octet: number) => `dbsv${octet}`;

async function linkExists(tools: Tools, name: string): Promise<boolean> {
  return (await exec(tools.ip, ["link", "show", "dev", name])).code === 0;
}

async function namespaceExists(tools: Tools, ns: string): Promise<boolean> {
  const out = (await exec(tools.ip, ["netns", "list"])).stdout;
  return out.split("\n").some((line) => line.split(" ")[0] === ns);
}

async function namespacePids(tools: Tools, ns: string): Promise<number[]> {
  const r = await exec(tools.ip, ["netns", "pids", ns]);
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** Kills every process in the namespace (TERM, then KILL), then deletes it. */
async function removeNamespace(tools: Tools, ns: string): Promise<void> {
  if (!(await namespaceExists(tools, ns))) return;
  for (const [signal, wait] of [["SIGTERM", 3000], ["SIGKILL", 3000]] as const) {
    const pids = await namespacePids(tools, ns);
    if (!pids.length) break;
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        /* already gone */
      }
    }
    const deadline = Date.now() + wait;
    while (Date.now() < deadline && (await namespacePids(tools, ns)).length) await sleep(50);
  }
  const left = await namespacePids(tools, ns);
  if (left.length) throw new Error(`test hosts: processes ${left.join(", ")} in ${ns} survive SIGKILL`);
  const r = await exec(tools.ip, ["netns", "delete", ns]);
  if (r.code !== 0 && (await namespaceExists(tools, ns))) {
    throw new Error(`test hosts: cannot delete namespace ${ns}: ${r.stderr}`);
  }
}

async function removeLink(tools: Tools, name: string): Promise<void> {
  if (await linkExists(tools, name)) await exec(tools.ip, ["link", "delete", "dev", name]);
}

/** Removes a registered host (namespace, veth, temp dir, registry entry). */
async function removeEntry(tools: Tools, entry: RegistryEntry): Promise<void> {
  await removeNamespace(tools, entry.namespace);
  await removeLink(tools, vethName(entry.octet));
  if (entry.dir.startsWith(tmpdir()) && entry.dir.includes("dbstack-hosts-")) {
    await rm(entry.dir, { recursive: true, force: true });
  }
  await rm(registryFile(entry.namespace), { force: true });
}

/**
 * Turns IPv6 off on a test interface before it comes up (no link-local addresses, router
 * solicitations or DAD traffic): test traffic is IPv4 on the test subnet and loopback only.
 */
async function disableIpv6(tools: Tools, dev: string, ns?: string): Promise<void> {
  const file = `/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`;
  if (!ns) {
    if (existsSync(file)) await writeFile(file, "1");
    return;
  }
  // /proc/sys/net shows the network namespace of the process that opens it.
  await exec(tools.ip, ["netns", "exec", ns, tools.bash, "-c", `[ ! -e ${file} ] || echo 1 > ${file}`]);
}

async function ensureBridge(tools: Tools): Promise<void> {
  if (!(await linkExists(tools, BRIDGE))) {
    // The subnet must not already be routed elsewhere (e.g. a real network using 10.213.0.0/24).
    const clash = (await exec(tools.ip, ["-4", "route", "show", "match", `${BRIDGE_ADDRESS}/32`])).stdout
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("default"));
    if (clash.length) {
      throw new Error(`test hosts: ${SUBNET_PREFIX}.0/24 is already routed on this machine (${clash.join("; ")})`);
    }
    await must(tools.ip, ["link", "add", "name", BRIDGE, "type", "bridge"], "cannot create bridge");
  }
  await disableIpv6(tools, BRIDGE);
  const addrs = await exec(tools.ip, ["-4", "-o", "addr", "show", "dev", BRIDGE]);
  if (!addrs.stdout.includes(` ${BRIDGE_ADDRESS}/24 `)) {
    await exec(tools.ip, ["addr", "flush", "dev", BRIDGE]);
    await must(tools.ip, ["addr", "add", `${BRIDGE_ADDRESS}/24`, "dev", BRIDGE], "cannot address bridge");
  }
  await must(tools.ip, ["link", "set", "dev", BRIDGE, "up"], "cannot bring bridge up");
}

async function createNamespace(tools: Tools, ns: string, octet: number): Promise<void> {
  const veth = vethName(octet);
  const address = `${SUBNET_PREFIX}.${octet}`;
  const inNs = (...args: string[]) => must(tools.ip, ["-n", ns, ...args], `cannot configure ${ns}`);
  await must(tools.ip, ["netns", "add", ns], "cannot create network namespace (does the kernel allow it?)");
  await must(tools.ip, ["link", "add", "name", veth, "type", "veth", "peer", "name", "eth0", "netns", ns], "cannot create veth");
  await disableIpv6(tools, veth);
  await disableIpv6(tools, "eth0", ns);
  await must(tools.ip, ["link", "set", "dev", veth, "master", BRIDGE], "cannot attach veth to bridge");
  await must(tools.ip, ["link", "set", "dev", veth, "up"], "cannot bring veth up");
  await inNs("link", "set", "dev", "lo", "up");
  await inNs("addr", "add", `${address}/24`, "dev", "eth0");
  await inNs("link", "set", "dev", "eth0", "up");
  // The /24 connected route is the only route: hosts reach each other and the root namespace
  // (10.213.0.1), and nothing else. No default route, no NAT.
  // The address may have belonged to a host removed moments ago (another test file's): the root
  // namespace's neighbour entry would still name that host's MAC, and connections would time
  // out until it expired. Forget it, so the first packet asks for the new one.
  await exec(tools.ip, ["neigh", "flush", "to", address, "dev", BRIDGE]);
}

// ------------------------------------------------------------------------------------------------
// Users

async function ensureSudoUser(tools: Tools, user: string): Promise<void> {
  if ((await exec("getent", ["passwd", user])).code !== 0) {
    await must(tools.useradd!, ["--create-home", "--shell", "/bin/bash", "--user-group", user], `cannot create user ${user}`);
  }
  // useradd leaves the password field "!" (locked); without PAM, sshd refuses every login of a
  // locked account, keys included. "*" = no password can match, but the account is not locked.
  const shadow = (await exec("getent", ["shadow", user])).stdout.split(":")[1] ?? "";
  if (shadow.startsWith("!")) await must(tools.usermod!, ["-p", "*", user], `cannot unlock ${user}`);
  const file = `/etc/sudoers.d/dbstack-test-${user}`;
  const content = `# Written by dbstack's test harness (test/integration/support/hosts.ts)\n${user} ALL=(ALL:ALL) NOPASSWD: ALL\n`;
  const tmp = `${file}.tmp`;
  await writeFile(tmp, content, { mode: 0o440 });
  await chmod(tmp, 0o440);
  const check = await exec(tools.visudo!, ["-c", "-q", "-f", tmp]);
  if (check.code !== 0) {
    await rm(tmp, { force: true });
    throw new Error(`test hosts: generated sudoers file is invalid: ${check.stderr}${check.stdout}`);
  }
  await rename(tmp, file);
}

// ------------------------------------------------------------------------------------------------
// sshd

function sshdConfig(dir: string, address: string, authorizedKeys: string): string {
  return [
    "# dbstack test host (test/integration/support/hosts.ts)",
    "Port 22",
    `ListenAddress ${address}`,
    `HostKey ${join(dir, "ssh_host_ed25519_key")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    // The test key, then each user's own (.ssh/authorized_keys: the logins dbstack sets up between hosts, e.g. pgBackRest's).
    `AuthorizedKeysFile ${authorizedKeys} .ssh/authorized_keys`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    // Files live under /tmp (world-writable): the ownership checks of StrictModes would refuse them.
    "StrictModes no",
    "PrintMotd no",
    "AcceptEnv LANG LC_*",
    "MaxStartups 100:30:200",
    "MaxSessions 50",
    "Subsystem sftp internal-sftp",
    "LogLevel VERBOSE",
    "",
  ].join("\n");
}

async function sshdLog(path: string): Promise<string> {
  const text = (await readFile(path, "utf8").catch(() => "")).trim();
  return text ? text.split("\n").slice(-40).join("\n") : `(${path} is empty)`;
}

// Kill sshds if the test process exits without destroy(); the next creation removes the namespaces.
const liveSshds = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of liveSshds) {
      try {
        child.kill("SIGKILL");
      } catch {
        /* gone */
      }
    }
  });
}

// ------------------------------------------------------------------------------------------------

const NAME_RE = /^[a-z][a-z0-9-]{0,26}$/;

/**
 * Creates one network namespace with an sshd for each name (`dbs-<name>`, addresses 10.213.0.11,
 * .12, … in order, or the next free ones if other host sets are alive). Resolves once every sshd
 * accepts an SSH login as root with the returned key. Call destroy() (e.g. in afterAll).
 */
export async function createTestHosts(names: string[], opts: TestHostsOptions = {}): Promise<TestHosts> {
  if (!names.length) throw new Error("createTestHosts: give at least one host name");
  for (const name of names) {
    if (!NAME_RE.test(name)) {
      throw new Error(`createTestHosts: host name ${JSON.stringify(name)} must match ${NAME_RE} (it becomes ${NAMESPACE_PREFIX}<name>)`);
    }
  }
  if (new Set(names).size !== names.length) throw new Error(`createTestHosts: duplicate host names in ${names.join(", ")}`);
  if (opts.sudoUser !== undefined && !/^[a-z_][a-z0-9_-]{0,30}$/.test(opts.sudoUser)) {
    throw new Error(`createTestHosts: invalid sudoUser ${JSON.stringify(opts.sudoUser)}`);
  }
  if (opts.sudoUser === "root") throw new Error("createTestHosts: sudoUser must not be root");
  const tools = await findTools(opts);
  installExitHook();

  const dir = await mkdtemp(join(tmpdir(), "dbstack-hosts-"));
  // Traversable by the sudo user: sshd reads authorized_keys as the logging-in user.
  await chmod(dir, 0o755);
  const keyPath = join(dir, "id_ed25519");
  const knownHostsPath = join(dir, "known_hosts");
  const authorizedKeys = join(dir, "authorized_keys");
  const namespaces = names.map((n) => `${NAMESPACE_PREFIX}${n}`);
  const entries: RegistryEntry[] = [];
  const sshds = new Map<string, ChildProcess>();
  let destroyed = false;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    for (const child of sshds.values()) {
      liveSshds.delete(child);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    }
    await withLock(async () => {
      for (const entry of entries) await removeEntry(tools, entry);
      // Leftovers of this set that never made it into the registry (failure half-way).
      for (const ns of namespaces) {
        const registered = (await readRegistry()).find((e) => e.namespace === ns);
        if (!registered) await removeNamespace(tools, ns);
      }
      const remaining = (await readRegistry()).filter((e) => alive(e.owner));
      if (!remaining.length) await removeLink(tools, BRIDGE);
      if (opts.sudoUser && !remaining.some((e) => e.sudoUser === opts.sudoUser)) {
        await rm(`/etc/sudoers.d/dbstack-test-${opts.sudoUser}`, { force: true });
      }
    });
    await rm(dir, { recursive: true, force: true });
  };

  try {
    // Keys: one client key for the whole set, one host key per host.
    await must(tools.sshKeygen, ["-q", "-t", "ed25519", "-N", "", "-C", "dbstack-test-client", "-f", keyPath], "ssh-keygen failed");
    const publicKey = (await readFile(`${keyPath}.pub`, "utf8")).trim();
    await writeFile(authorizedKeys, `${publicKey}\n`, { mode: 0o644 });
    await chmod(authorizedKeys, 0o644);
    await mkdir("/run/sshd", { recursive: true, mode: 0o755 }); // privilege separation directory

    // Network: under the lock, clean leftovers and allocate addresses.
    await withLock(async () => {
      let registry = await readRegistry();
      for (const entry of registry) {
        if (!alive(entry.owner)) await removeEntry(tools, entry);
      }
      registry = (await readRegistry()).filter((e) => alive(e.owner));
      for (const ns of namespaces) {
        const owner = registry.find((e) => e.namespace === ns);
        if (owner) {
          throw new Error(
            `createTestHosts: ${ns} belongs to live process ${owner.owner.pid}` +
              (owner.owner.pid === process.pid
                ? " (this process: a test file created it and has not called destroy())"
                : " (another test run; use host names unique to your test file)"),
          );
        }
        await removeNamespace(tools, ns); // leftover of a crash before registration
      }
      if (!registry.length) await removeLink(tools, BRIDGE); // leftover bridge: start clean
      await ensureBridge(tools);
      const used = new Set(registry.map((e) => e.octet));
      let octet = FIRST_HOST_OCTET;
      for (const ns of namespaces) {
        while (used.has(octet)) octet++;
        if (octet > LAST_HOST_OCTET) throw new Error("createTestHosts: no free address left in the test subnet");
        used.add(octet);
        const entry: RegistryEntry = { namespace: ns, octet, owner: SELF, dir, sudoUser: opts.sudoUser };
        await writeFile(registryFile(ns), JSON.stringify(entry));
        entries.push(entry);
        await removeLink(tools, vethName(octet)); // stale veth holding this slot
        await createNamespace(tools, ns, octet);
      }
      // Under the lock and once registered: another file's destroy() removes the shared sudoers
      // drop-in only when no live entry names its user, so it cannot remove it under this set.
      if (opts.sudoUser) await ensureSudoUser(tools, opts.sudoUser);
    });

    // Host keys, configs, known_hosts.
    const hosts: TestHost[] = [];
    const privateKey = await readFile(keyPath, "utf8");
    for (const [i, name] of names.entries()) {
      const entry = entries[i];
      const hostDir = join(dir, name);
      await mkdir(hostDir, { mode: 0o755 });
      const address = `${SUBNET_PREFIX}.${entry.octet}`;
      const hostKeyPath = join(hostDir, "ssh_host_ed25519_key");
      await must(tools.sshKeygen, ["-q", "-t", "ed25519", "-N", "", "-C", `root@${entry.namespace}`, "-f", hostKeyPath], "ssh-keygen failed");
      const [type, key] = (await readFile(`${hostKeyPath}.pub`, "utf8")).trim().split(/\s+/);
      const fingerprint = (await must(tools.sshKeygen, ["-l", "-E", "sha256", "-f", `${hostKeyPath}.pub`])).split(/\s+/)[1];
      await appendFile(knownHostsPath, `${address} ${type} ${key}\n`);
      await writeFile(join(hostDir, "sshd_config"), sshdConfig(hostDir, address, authorizedKeys));
      const test = await exec(tools.sshd, ["-t", "-f", join(hostDir, "sshd_config")]);
      if (test.code !== 0) throw new Error(`test hosts: sshd rejects its config for ${name}: ${test.stderr}`);
      hosts.push({
        name,
        namespace: entry.namespace,
        address,
        port: 22,
        user: "root",
        sudoUser: opts.sudoUser,
        privateKey,
        privateKeyPath: keyPath,
        knownHostsPath,
        hostKey: `${type} ${key}`,
        hostKeyFingerprint: fingerprint,
      });
    }
    await chmod(knownHostsPath, 0o644);

    const sshArgs = (): string[] => [
      "-i", keyPath,
      "-o", "IdentitiesOnly=yes",
      "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=yes",
      "-o", `UserKnownHostsFile=${knownHostsPath}`,
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "ConnectTimeout=5",
      "-o", "LogLevel=ERROR",
      "-F", "/dev/null",
      "-p", "22",
    ];

    // Start the sshds and wait until each accepts a login.
    const timeoutMs = opts.readyTimeoutMs ?? 30_000;
    await Promise.all(
      hosts.map(async (host) => {
        const hostDir = join(dir, host.name);
        const logPath = join(hostDir, "sshd.log");
        const log = await open(logPath, "a");
        const child = spawn(tools.ip, ["netns", "exec", host.namespace, tools.sshd, "-D", "-e", "-f", join(hostDir, "sshd_config")], {
          stdio: ["ignore", log.fd, log.fd],
        });
        await log.close();
        sshds.set(host.name, child);
        liveSshds.add(child);
        let spawnError: Error | undefined;
        child.on("error", (err) => (spawnError = err));
        const deadline = Date.now() + timeoutMs;
        let last: CommandResult | undefined;
        for (;;) {
          if (spawnError) throw new Error(`test hosts: cannot start sshd for ${host.name}: ${spawnError.message}`);
          if (child.exitCode !== null || child.signalCode !== null) {
            throw new Error(
              `test hosts: sshd for ${host.name} (${host.namespace}, ${host.address}) exited (${child.exitCode ?? child.signalCode}). sshd log:\n${await sshdLog(logPath)}`,
            );
          }
          last = await exec(tools.ssh, [...sshArgs(), `root@${host.address}`, "true"], { timeoutMs: 10_000 });
          if (last.code === 0) break;
          if (Date.now() > deadline) {
            throw new Error(
              `test hosts: sshd for ${host.name} (${host.namespace}, ${host.address}) did not accept an SSH login within ${timeoutMs} ms.\n` +
                `last ssh attempt (exit ${last.code}): ${last.stderr.trim()}\nsshd log:\n${await sshdLog(logPath)}`,
            );
          }
          await sleep(200);
        }
      }),
    );

    const host = (name: string): TestHost => {
      const found = hosts.find((h) => h.name === name);
      if (!found) throw new Error(`test hosts: no host named ${JSON.stringify(name)} (have ${names.join(", ")})`);
      return found;
    };

    return {
      hosts,
      host,
      sshArgs,
      async run(hostName, command, runOpts) {
        if (destroyed) throw new Error("test hosts: run() after destroy()");
        return exec(tools.ip, ["netns", "exec", host(hostName).namespace, tools.bash, "-c", command], runOpts);
      },
      async ssh(hostName, command, sshOpts = {}) {
        if (destroyed) throw new Error("test hosts: ssh() after destroy()");
        const h = host(hostName);
        return exec(tools.ssh, [...sshArgs(), `${sshOpts.user ?? h.user}@${h.address}`, command], sshOpts);
      },
      destroy,
    };
  } catch (err) {
    await destroy().catch(() => undefined);
    throw err;
  }
}

