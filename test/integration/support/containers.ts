/**
 * Integration-test container engine: Podman's Docker-compatible API service on this machine, and
 * a PostgreSQL and a MariaDB image built locally from Debian packages.
 *
 * Why Podman and local images: no Docker engine runs on the test machines and no registry can be
 * reached, so nothing can be pulled. Podman from Debian runs containers here when it uses runc
 * (crun fails), cgroupfs, and default ulimits no higher than the process may set (it lacks
 * CAP_SYS_RESOURCE). Its API answers the ordinary `docker` CLI through DOCKER_HOST, so everything
 * a test does with the engine is what it would do against Docker Engine; only this file knows
 * the engine is Podman.
 *
 * Where things live:
 *   /run/dbstack-containers/           containers.conf, storage.conf, podman.sock, the service's
 *                                      log and owner file, Podman's run-time state
 *   $DBSTACK_CACHE/containers/storage  images and containers (kept: the image cache survives runs)
 *   $DBSTACK_CACHE/containers/debs     .deb files debootstrap downloaded (shared by both images)
 *   $DBSTACK_CACHE/containers/build    debootstrap work directories (removed after each build)
 * ($DBSTACK_CACHE defaults to ~/.cache/dbstack, as in scripts/setup.sh.)
 *
 * Requirements: root, podman, runc, netavark and iptables (published ports on the bridge),
 * debootstrap, the `docker` CLI, flock (util-linux), tar, apt-cache (apt). Anything missing is an
 * Error naming the package to install; nothing is skipped.
 */
import { exec, processStart, type CommandResult, type RunOptions } from "./exec";
export type { CommandResult, RunOptions };
import { spawn } from "child_process";
import { createHash } from "crypto";
import { constants as fsc, existsSync, readFileSync, readdirSync, openSync, closeSync } from "fs";
import { access, mkdir, readFile, rm, writeFile } from "fs/promises";
import { homedir } from "os";
import { delimiter, join } from "path";

/** Podman's run-time directory: socket, config files, run root. Fixed, so a later run finds a crashed one's leftovers. */
export const STATE_DIR = "/run/dbstack-containers";
/** The API socket the service listens on. */
export const SOCKET = join(STATE_DIR, "podman.sock");
/** DOCKER_HOST for the `docker` CLI (and any Docker API client) to reach the service. */
export const DOCKER_HOST = `unix://${SOCKET}`;
/** The Debian release the test images are built from (its package names, e.g. postgresql-15, are used below). */
export const SUITE = "bookworm";
/** Repository of the test images' names; the tag is the cache key. */
export const IMAGE_REPOSITORY = "localhost/dbstack-test";

const CONTAINERS_CONF = join(STATE_DIR, "containers.conf");
const STORAGE_CONF = join(STATE_DIR, "storage.conf");
const SERVICE_LOG = join(STATE_DIR, "service.log");
const OWNER_FILE = join(STATE_DIR, "owner.json");
const START_LOCK = join(STATE_DIR, ".lock");
/**
 * Held from startContainerEngine until stop(): one test file uses the service at a time. Vitest
 * runs files of several projects side by side (its fileParallelism is not per project), so the
 * container files wait here for each other instead of failing on a service another file owns.
 */
const SESSION_LOCK = "/run/dbstack-containers.session.lock";
/** How long a file waits for the container engine another file is using. */
const SESSION_WAIT_SECONDS = 1800;
/** A container test file's beforeAll timeout: the wait for the engine, then its own set-up. */
export const CONTAINER_BEFORE_ALL_MS = (SESSION_WAIT_SECONDS + 900) * 1000;

/** The persistent directory of images, containers, downloaded packages and build work. */
export function containersCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DBSTACK_CACHE || join(homedir(), ".cache", "dbstack"), "containers");
}

// ------------------------------------------------------------------------------------------------
// Configuration (pure renderers)

/**
 * The containers.conf the harness gives Podman through CONTAINERS_CONF.
 * - runtime runc: crun fails on these machines.
 * - cgroup_manager cgroupfs: no systemd runs here.
 * - default_ulimits: Podman's defaults raise RLIMIT_NOFILE/NPROC above what the process may set
 *   (no CAP_SYS_RESOURCE) and every container start fails; these are within the limits.
 * - log_driver k8s-file and events_logger file: the journald defaults need a running journal.
 * - tmp_dir under the harness's own run directory, so nothing is shared with another Podman user.
 * - network_backend netavark, named so Podman does not probe the CNI plugins it lacks.
 */
export function renderContainersConf(stateDir: string = STATE_DIR): string {
  return [
    "# Written by dbstack's test harness (test/integration/support/containers.ts).",
    "[containers]",
    'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
    'log_driver = "k8s-file"',
    "",
    "[engine]",
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `tmp_dir = "${join(stateDir, "libpod")}"`,
    "",
    "[network]",
    'network_backend = "netavark"',
    "",
  ].join("\n");
}

/**
 * The storage.conf given through CONTAINERS_STORAGE_CONF: images and containers in the cache
 * directory (so a second run finds the images), run-time state under the harness's run directory.
 */
export function renderStorageConf(cacheDir: string, stateDir: string = STATE_DIR): string {
  return [
    "# Written by dbstack's test harness (test/integration/support/containers.ts).",
    "[storage]",
    'driver = "overlay"',
    `graphroot = "${join(cacheDir, "storage")}"`,
    `runroot = "${join(stateDir, "storage")}"`,
    "",
  ].join("\n");
}

/** The environment every podman command of the harness runs with. */
function podmanEnv(): NodeJS.ProcessEnv {
  return { ...process.env, CONTAINERS_CONF, CONTAINERS_STORAGE_CONF: STORAGE_CONF };
}

async function writeConfig(): Promise<void> {
  const cache = containersCacheDir();
  // Paths go into TOML strings, /proc/mounts parsing and shell words unquoted by Podman: keep them plain.
  if (!/^[A-Za-z0-9._\/-]+$/.test(cache)) {
    throw new Error(`container harness: the cache directory ${JSON.stringify(cache)} may hold only letters, digits and . _ / -: set DBSTACK_CACHE to such a path`);
  }
  await mkdir(STATE_DIR, { recursive: true, mode: 0o755 });
  await mkdir(join(cache, "storage"), { recursive: true, mode: 0o700 });
  await writeFile(CONTAINERS_CONF, renderContainersConf(), { mode: 0o644 });
  await writeFile(STORAGE_CONF, renderStorageConf(cache), { mode: 0o644 });
}

// ------------------------------------------------------------------------------------------------
// Commands


/**
 * Runs the `docker` CLI against `dockerHost` (never a shell). Secrets go in `opts.input`
 * (`docker exec -i ...`), never in `args`: arguments show in `ps` and in `docker inspect`.
 */
export function docker(dockerHost: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
  return exec("docker", args, { ...opts, env: { ...opts.env, DOCKER_HOST: dockerHost } });
}

const SEARCH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

async function which(name: string): Promise<string | undefined> {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...SEARCH_DIRS]) {
    try {
      await access(join(dir, name), fsc.X_OK);
      return join(dir, name);
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Throws one Error listing every missing program with the package that provides it. */
async function requireTools(what: string, tools: Array<[program: string, pkg: string, ...alsoAt: string[]]>): Promise<void> {
  const problems: string[] = [];
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    problems.push("must run as root (rootful Podman, chroot and debootstrap need it): run the tests as root");
  }
  const missing = new Map<string, string[]>();
  for (const [program, pkg, ...alsoAt] of tools) {
    if (!(await which(program)) && !alsoAt.some((p) => existsSync(p))) missing.set(pkg, [...(missing.get(pkg) ?? []), program]);
  }
  for (const [pkg, programs] of missing) {
    problems.push(`${programs.map((p) => `\`${p}\``).join(", ")} not found: install ${pkg} (apt-get install ${pkg.split(" or ")[0]})`);
  }
  if (problems.length) {
    throw new Error(`${what}: this machine cannot provide the test container engine ("bash scripts/setup.sh --for tests" installs it):\n  - ${problems.join("\n  - ")}`);
  }
}

/**
 * Runs `fn` holding an exclusive flock(1) on `lockFile`. The lock is held by a `flock` child
 * that exits when its stdin closes, so it is released when `fn` ends and also when this
 * process dies: a crashed run never leaves the lock taken.
 */
async function withFlock<T>(lockFile: string, timeoutSec: number, what: string, fn: () => Promise<T>): Promise<T> {
  const release = await takeFlock(lockFile, timeoutSec, what);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/**
 * Takes an exclusive flock(1) on `lockFile` (waiting up to `timeoutSec`) and returns what
 * releases it. Held by a `flock` child that exits when its stdin closes, so a process that dies
 * holding it releases it too.
 */
async function takeFlock(lockFile: string, timeoutSec: number, what: string): Promise<() => Promise<void>> {
  const holder = spawn("flock", ["-x", "-w", String(timeoutSec), lockFile, "sh", "-c", "echo locked; read _"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const acquired = await new Promise<boolean>((resolve) => {
    holder.stdout.setEncoding("utf8").on("data", (d: string) => d.includes("locked") && resolve(true));
    holder.on("error", () => resolve(false));
    holder.on("close", () => resolve(false));
  });
  const release = async () => {
    holder.stdin.end();
    await new Promise((r) => (holder.exitCode === null ? holder.on("close", r) : r(null)));
  };
  if (!acquired) {
    await release();
    throw new Error(`${what}: could not take the lock ${lockFile} within ${timeoutSec} s (another test run holds it)`);
  }
  return release;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** Pids of `podman system service` processes serving our socket (recorded or not). */
function servicePids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv.includes("service") && argv.includes(DOCKER_HOST) && /podman$/.test(argv[0] ?? "")) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

async function killAndWait(pid: number, timeoutMs = 10_000): Promise<void> {
  const start = processStart(pid);
  const gone = () => processStart(pid) !== start || processStart(pid) === undefined;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (!gone() && Date.now() < deadline) await sleep(100);
  if (!gone()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
    while (!gone()) await sleep(50);
  }
}

// ------------------------------------------------------------------------------------------------
// The engine

/** A running Podman API service the `docker` CLI reaches through `dockerHost`. */
export interface ContainerEngine {
  /** DOCKER_HOST value for the service, `unix:///run/dbstack-containers/podman.sock`. */
  dockerHost: string;
  /**
   * Stops the API service. Containers are not the service's children: they keep running, so
   * remove the ones a test started before calling this. Idempotent. (A crashed run's containers
   * survive too: a test removes its own, by name, before it starts them.)
   */
  stop(): Promise<void>;
}

/** Options for {@link startContainerEngine}. */
export interface StartContainerEngineOptions {
  /** How long to wait for the API to answer `docker version`. Default 60 s. */
  readyTimeoutMs?: number;
}

/**
 * Starts `podman system service --time=0` on {@link SOCKET} with the harness's containers.conf and
 * storage.conf, and resolves once `docker version` answers through it.
 *
 * A service left by a crashed run (its owner process is gone), or an earlier one of this process
 * that was not stopped, is killed first; one owned by another live process is an Error, never a
 * silent takeover.
 */
export async function startContainerEngine(opts: StartContainerEngineOptions = {}): Promise<ContainerEngine> {
  await requireTools("startContainerEngine", [
    ["podman", "podman"],
    ["runc", "runc"],
    ["conmon", "conmon"],
    // Podman's helpers live outside PATH.
    ["netavark", "netavark", "/usr/lib/podman/netavark", "/usr/libexec/podman/netavark"],
    ["iptables", "iptables"],
    ["flock", "util-linux"],
    ["docker", "the docker CLI (Debian: docker.io, or Docker's docker-ce-cli)"],
  ]);
  await mkdir(STATE_DIR, { recursive: true });
  const releaseSession = await takeFlock(SESSION_LOCK, SESSION_WAIT_SECONDS, "startContainerEngine (waiting for another test file's container engine)");
  try {
    return await startHoldingSession(opts, releaseSession);
  } catch (err) {
    await releaseSession();
    throw err;
  }
}

async function startHoldingSession(opts: StartContainerEngineOptions, releaseSession: () => Promise<void>): Promise<ContainerEngine> {
  await writeConfig();
  const self = { pid: process.pid, start: processStart(process.pid) ?? "?" };

  // Set from the moment of spawning: the service may die before the readiness loop starts.
  const state = { exited: false };
  const child = await withFlock(START_LOCK, 120, "startContainerEngine", async () => {
    const owner = await readOwner();
    const stale = servicePids();
    if (stale.length && owner && owner.pid !== self.pid && processStart(owner.pid) === owner.start) {
      throw new Error(
        `startContainerEngine: the Podman API service on ${SOCKET} (pid ${stale.join(", ")}) belongs to the live process ${owner.pid}; ` +
          "let that test run finish (or stop it) first",
      );
    }
    // Leftovers of a crashed run (or of this process, unstopped): a service, its socket.
    for (const pid of stale) await killAndWait(pid);
    await rm(SOCKET, { force: true });

    const log = openSync(SERVICE_LOG, "w", 0o600);
    try {
      // Detached and unref'd: the test process neither waits for it nor takes it down with its
      // process group; stop() ends it, and the next start ends one a crashed run left.
      const proc = spawn("podman", ["system", "service", "--time=0", DOCKER_HOST], {
        env: podmanEnv(),
        detached: true,
        stdio: ["ignore", log, log],
      });
      proc.on("exit", () => (state.exited = true));
      proc.unref();
      await writeFile(OWNER_FILE, JSON.stringify({ ...self, service: proc.pid }), { mode: 0o644 });
      return proc;
    } finally {
      closeSync(log);
    }
  });

  const pid = child.pid!;
  const stop = async () => {
    if (!state.exited) await killAndWait(pid);
    state.exited = true;
    const owner = await readOwner();
    if (owner?.service === pid) {
      await rm(OWNER_FILE, { force: true });
      await rm(SOCKET, { force: true });
    }
    await releaseSession();
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  let last: CommandResult | undefined;
  for (;;) {
    if (state.exited) {
      const log = await readFile(SERVICE_LOG, "utf8").catch(() => "");
      throw new Error(`startContainerEngine: podman system service exited at start; its log (${SERVICE_LOG}):\n${tail(log, 30)}`);
    }
    if (existsSync(SOCKET)) {
      last = await docker(DOCKER_HOST, ["version", "--format", "{{.Server.Version}}"], { timeoutMs: 10_000 });
      if (last.code === 0) break;
    }
    if (Date.now() > deadline) {
      await stop();
      const log = await readFile(SERVICE_LOG, "utf8").catch(() => "");
      throw new Error(
        `startContainerEngine: the API on ${SOCKET} did not answer \`docker version\` within ${(opts.readyTimeoutMs ?? 60_000) / 1000} s` +
          `${last ? `; docker said: ${last.stderr.trim()}` : ""}\nservice log:\n${tail(log, 30)}`,
      );
    }
    await sleep(200);
  }
  return { dockerHost: DOCKER_HOST, stop };
}

async function readOwner(): Promise<{ pid: number; start: string; service: number } | undefined> {
  try {
    return JSON.parse(await readFile(OWNER_FILE, "utf8"));
  } catch {
    return undefined;
  }
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

// ------------------------------------------------------------------------------------------------
// Images

/** Names of the test images, `localhost/dbstack-test/<engine>:<key>`, ready for `docker run`. */
export interface TestImages {
  /** Debian's postgresql-15 (binaries in /usr/lib/postgresql/15/bin, on PATH), no cluster. */
  postgres: string;
  /** Debian's mariadb-server and mariadb-client, with an empty /var/lib/mysql. */
  mariadb: string;
}

/** How one test image is made from Debian packages. */
export interface ImageRecipe {
  /** Which image: the repository name under localhost/dbstack-test/. */
  name: keyof TestImages;
  /** Packages debootstrap installs on top of the minimal base (their dependencies come along). */
  include: string[];
  /** Packages whose versions (in the suite's main component) key the image: a new version, a new image. */
  keyPackages: string[];
  /** Shell run on the unpacked tree ("$work") before the packages are configured. */
  beforeConfigure: string;
  /** Shell run on the finished tree ("$work") before it is imported. */
  finish: string;
  /** `podman import --change` instructions. */
  changes: string[];
}

/** Bumped when the recipe changes in a way the rendered text does not show (it keys every image). */
const RECIPE_VERSION = "1";
const COMMON_PACKAGES = ["bash", "procps", "openssl", "ca-certificates", "gzip", "gpg", "locales"];
const BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The two test images. Servers are never started during the build; data directories are left to the tests. */
export const IMAGE_RECIPES: readonly ImageRecipe[] = [
  {
    name: "postgres",
    include: ["postgresql-15", "postgresql-common", ...COMMON_PACKAGES],
    keyPackages: ["postgresql-15", "postgresql-common", "base-files"],
    // postgresql-common reads this when it is configured: without it, it creates and starts "main".
    beforeConfigure: [
      'mkdir -p "$work/etc/postgresql-common"',
      "echo 'create_main_cluster = false' > \"$work/etc/postgresql-common/createcluster.conf\"",
    ].join("\n"),
    finish: "",
    // As in the official postgres image: initdb, pg_ctl and postgres on PATH.
    changes: [`ENV PATH=/usr/lib/postgresql/15/bin:${BASE_PATH}`],
  },
  {
    name: "mariadb",
    include: ["mariadb-server", "mariadb-client", ...COMMON_PACKAGES],
    keyPackages: ["mariadb-server", "mariadb-client", "base-files"],
    beforeConfigure: "",
    // mariadb-server's postinst initialises /var/lib/mysql; an image ships no data (as the official one).
    finish: 'find "$work/var/lib/mysql" -mindepth 1 -delete',
    changes: [`ENV PATH=${BASE_PATH}`],
  },
];

/** The locales generated in both images, beyond the built-in C.UTF-8. */
const LOCALES = ["en_US.UTF-8 UTF-8", "pt_BR.UTF-8 UTF-8"];

/** Paths and sources one image build uses. */
export interface ImageBuildContext {
  /** Full image name to create, e.g. localhost/dbstack-test/postgres:0123abcd. */
  ref: string;
  suite: string;
  /** Debian mirror URL (http or https), e.g. http://deb.debian.org/debian. */
  mirror: string;
  /** Directory the work tree is made under (removed after the build). */
  buildDir: string;
  /** debootstrap's --cache-dir: downloaded .deb files, shared by all builds. */
  debCache: string;
}

/**
 * Renders the bash script that builds one image: debootstrap --foreign (download and unpack),
 * the recipe's pre-configure files, the second stage in a chroot (configure; debootstrap keeps
 * services from starting), locales, clean-up, then `tar | podman import`. Run it holding the
 * build lock: it removes leftover work trees of crashed builds. It does nothing when the image
 * exists already.
 */
export function renderImageBuildScript(recipe: ImageRecipe, ctx: ImageBuildContext): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const changes = recipe.changes.map((c) => `--change ${q(c)}`).join(" ");
  return `#!/usr/bin/env bash
# Builds the dbstack test image ${ctx.ref} from Debian ${ctx.suite} packages.
set -Eeuo pipefail
umask 022
ref=${q(ctx.ref)}
repo=${q(ctx.ref.slice(0, ctx.ref.lastIndexOf(":")))}
build=${q(ctx.buildDir)}
work="$build/${recipe.name}.$$"

if podman image exists "$ref"; then echo "dbstack-image: $ref exists"; exit 0; fi

# debootstrap's second stage mounts /proc, /sys (and may bind /dev) inside the tree: unmount
# everything under a tree before deleting it, and never let rm cross into another file system.
remove_tree() {
  awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$1"
}
mkdir -p "$build" ${q(ctx.debCache)}
for old in "$build"/${recipe.name}.*; do if [[ -e "$old" ]]; then remove_tree "$old"; fi; done
trap 'remove_tree "$work"' EXIT

echo "dbstack-image: debootstrap ${ctx.suite} from ${ctx.mirror} with ${recipe.include.join(" ")}"
debootstrap --foreign --variant=minbase --cache-dir=${q(ctx.debCache)} \\
  --include=${q(recipe.include.join(","))} ${q(ctx.suite)} "$work" ${q(ctx.mirror)}

${recipe.beforeConfigure}

# The second stage configures every package with a policy-rc.d that denies service starts and a
# fake start-stop-daemon in place (debootstrap's own), so no server runs during the build.
echo "dbstack-image: configuring packages (debootstrap --second-stage)"
chroot "$work" /debootstrap/debootstrap --second-stage

printf '%s\\n' ${LOCALES.map(q).join(" ")} > "$work/etc/locale.gen"
chroot "$work" locale-gen >/dev/null
${recipe.finish}
rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/* "$work"/var/log/apt "$work"/var/log/dpkg.log

versions="$(chroot "$work" dpkg-query -W -f='\${Package}=\${Version},' ${recipe.include.map(q).join(" ")})"
echo "dbstack-image: importing $ref"
tar --numeric-owner -C "$work" -c . |
  podman import ${changes} --change 'CMD ["/bin/bash"]' --change "LABEL dbstack.packages=\${versions%,}" - "$ref" >/dev/null

# Older keys of this image are dead weight (hundreds of MB each); one a container still uses stays.
podman images --format '{{.Repository}}:{{.Tag}}' | awk -v r="$repo:" -v keep="$ref" 'index($0, r) == 1 && $0 != keep' |
  while read -r stale; do podman rmi "$stale" >/dev/null 2>&1 || true; done
echo "dbstack-image: built $ref in $SECONDS s"
`;
}

/** One apt source: a `deb` line of sources.list or a deb822 stanza of a .sources file. */
interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
}

/**
 * The mirror this machine's apt uses for `suite` main: the first http(s) `deb` source that lists
 * that suite and the main component, from sources.list-style text and deb822 .sources text.
 */
export function aptMirror(files: Array<{ path: string; text: string }>, suite: string): string | undefined {
  const sources: AptSource[] = [];
  for (const { path, text } of files) {
    if (path.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const fields = new Map<string, string>();
        let key = "";
        for (const line of stanza.split("\n")) {
          if (line.startsWith("#")) continue;
          const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
          if (m) fields.set((key = m[1].toLowerCase()), m[2]);
          else if (/^\s/.test(line) && key) fields.set(key, `${fields.get(key)} ${line.trim()}`);
        }
        if ((fields.get("enabled") ?? "yes").toLowerCase() === "no") continue;
        const list = (k: string) => (fields.get(k) ?? "").split(/\s+/).filter(Boolean);
        sources.push({ types: list("types"), uris: list("uris"), suites: list("suites"), components: list("components") });
      }
    } else {
      for (const raw of text.split("\n")) {
        const line = raw.replace(/#.*/, "").replace(/\[[^\]]*\]/, " ").trim();
        const [type, uri, dist, ...components] = line.split(/\s+/);
        if (type && uri && dist) sources.push({ types: [type], uris: [uri], suites: [dist], components });
      }
    }
  }
  const hit = sources.find(
    (s) => s.types.includes("deb") && s.suites.includes(suite) && s.components.includes("main") && s.uris.some((u) => /^https?:\/\//.test(u)),
  );
  return hit?.uris.find((u) => /^https?:\/\//.test(u))?.replace(/\/+$/, "");
}

function readAptSources(): Array<{ path: string; text: string }> {
  const paths = ["/etc/apt/sources.list"];
  try {
    for (const f of readdirSync("/etc/apt/sources.list.d").sort()) {
      if (f.endsWith(".list") || f.endsWith(".sources")) paths.push(join("/etc/apt/sources.list.d", f));
    }
  } catch {
    /* none */
  }
  return paths.filter((p) => existsSync(p)).map((path) => ({ path, text: readFileSync(path, "utf8") }));
}

/** The version of `pkg` apt knows in `suite`/main (what debootstrap installs), or "unknown". */
async function suiteVersion(pkg: string, suite: string): Promise<string> {
  const r = await exec("apt-cache", ["madison", pkg]);
  for (const line of r.stdout.split("\n")) {
    const [name, version, source] = line.split("|").map((s) => s.trim());
    if (name === pkg && source && new RegExp(`\\s${suite}/main\\s`).test(` ${source} `)) return version;
  }
  return "unknown";
}

/** Image name for a recipe: the tag hashes the suite, the mirror, the key packages' versions and the rendered recipe. */
async function imageRef(recipe: ImageRecipe, suite: string, mirror: string): Promise<string> {
  const versions = await Promise.all(recipe.keyPackages.map(async (p) => `${p}=${await suiteVersion(p, suite)}`));
  const key = createHash("sha256")
    .update(JSON.stringify({ RECIPE_VERSION, suite, mirror, versions, recipe, LOCALES }))
    .digest("hex")
    .slice(0, 16);
  return `${IMAGE_REPOSITORY}/${recipe.name}:${key}`;
}

/**
 * Makes sure the PostgreSQL and MariaDB test images exist in the harness's Podman storage and
 * returns their names. The first call on a machine builds them from Debian packages (debootstrap
 * from the apt mirror this machine uses; a few minutes, printed per image); later calls find them
 * and return in about a second. Builds hold a lock, so two test files never build at once: the
 * second waits and then finds the images. The service need not be running.
 */
export async function ensureImages(): Promise<TestImages> {
  await requireTools("ensureImages", [
    ["podman", "podman"],
    ["runc", "runc"],
    ["debootstrap", "debootstrap"],
    ["flock", "util-linux"],
    ["tar", "tar"],
    ["chroot", "coreutils"],
    ["apt-cache", "apt"],
  ]);
  await writeConfig();
  const mirror = process.env.DBSTACK_DEBIAN_MIRROR || aptMirror(readAptSources(), SUITE);
  if (!mirror) {
    throw new Error(
      `ensureImages: no http(s) apt source for "${SUITE} main" in /etc/apt/sources.list or /etc/apt/sources.list.d/; ` +
        "set DBSTACK_DEBIAN_MIRROR to a Debian mirror (e.g. http://deb.debian.org/debian)",
    );
  }
  const cache = containersCacheDir();
  const images: Partial<TestImages> = {};
  const started = Date.now();
  for (const recipe of IMAGE_RECIPES) {
    const ref = await imageRef(recipe, SUITE, mirror);
    images[recipe.name] = ref;
    if ((await exec("podman", ["image", "exists", ref], { env: podmanEnv() })).code === 0) continue;

    const script = renderImageBuildScript(recipe, {
      ref,
      suite: SUITE,
      mirror,
      buildDir: join(cache, "build"),
      debCache: join(cache, "debs"),
    });
    // The build's own process tree holds the lock (flock(1) runs it), not this process: a build
    // orphaned by a crashed test run keeps it until it ends, so no second build starts on its work.
    const lock = join(cache, ".build.lock");
    const t0 = Date.now();
    const r = await exec("flock", ["-x", "-w", "3600", "-E", "75", lock, "bash", "-c", script], { env: podmanEnv(), timeoutMs: 90 * 60_000 });
    const logFile = join(cache, `build-${recipe.name}.log`);
    await writeFile(logFile, `${r.stdout}\n${r.stderr}`);
    if (r.code === 75) throw new Error(`ensureImages: another run held the build lock ${lock} for over an hour`);
    if (r.code !== 0) {
      throw new Error(`ensureImages: building ${ref} failed (exit ${r.code}); full log in ${logFile}:\n${tail(`${r.stdout}\n${r.stderr}`, 40)}`);
    }
    const built = /dbstack-image: built \S+ in (\d+) s/.exec(r.stdout);
    console.log(
      built
        ? `ensureImages: built ${ref} in ${built[1]} s`
        : `ensureImages: ${ref} was built by another run meanwhile (waited ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
  console.log(`ensureImages: images ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${images.postgres}, ${images.mariadb})`);
  return images as TestImages;
}
