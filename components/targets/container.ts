/**
 * The scripts that keep a server's container on a Docker host: its named volumes, the container
 * itself (created from the declared image, ports published only on declared addresses, limits,
 * restart policy, health check) and the probe that finds it gone. They run on the Docker host's
 * machine with the plain `docker` CLI and `DOCKER_HOST` (see HostCommand's Docker case), so they
 * work the same against Docker Engine and Podman's Docker-compatible API.
 *
 * dbstack does not rely on an image's entrypoint: the container runs a small supervisor (below)
 * that starts the server with what dbstack's own steps wrote (initdb / mariadb-install-db, the
 * rendered configuration), and stops it cleanly when the container is stopped. No secret is ever
 * in the container's configuration: passwords reach the container through `docker exec`'s stdin
 * and files of mode 0600 inside it.
 */
import { createHash } from "crypto";
import { shellQuote } from "../shell";
import { keptDataHint } from "../model/dataRemoval";
import { DEFAULT_DOCKER_ENDPOINT } from "./target";
import { renderPortFunctions } from "./processes";

/** Where the container's start and stop scripts are (written by the deployment's boot step). */
export const CONTAINER_START = "/usr/local/sbin/dbstack-start";
export const CONTAINER_STOP = "/usr/local/sbin/dbstack-stop";

/** One named volume and where it is mounted in the container. */
export interface ContainerVolume {
  name: string;
  path: string;
}

/** Everything the container is made from: a change to any of it re-creates the container (never its volumes). */
export interface ContainerSpec {
  /** Container name on the Docker host. */
  name: string;
  image: string;
  volumes: ContainerVolume[];
  /** "host", a network's name, or undefined for the engine's default bridge. */
  network?: string;
  /** Host addresses and the port published on each (the same port inside). Empty on the host network. */
  publish: { address: string; port: number }[];
  memoryMb?: number;
  cpus?: number;
  restartPolicy: string;
  /** A shell command that exits 0 while the server answers. */
  healthCommand: string;
  /** Labels that say what the container is (stack, deployment). */
  labels: Record<string, string>;
}

/**
 * The container's main process: runs the start script at every container start (the server is
 * started from its volume with dbstack's configuration), then waits; on `docker stop` it runs the
 * stop script, so the server shuts down cleanly before the container ends.
 */
export function renderSupervisor(): string {
  return [
    `trap '[ -x ${CONTAINER_STOP} ] && ${CONTAINER_STOP}; exit 0' TERM INT`,
    `if [ -x ${CONTAINER_START} ]; then ${CONTAINER_START} || echo "dbstack: the server did not start; see above" >&2; fi`,
    "while :; do sleep 3600 & wait $!; done",
  ].join("\n");
}

/** A digest of the spec: the label that tells whether a container is the declared one. */
export function specDigest(spec: ContainerSpec): string {
  return createHash("sha256").update(JSON.stringify({ ...spec, supervisor: renderSupervisor() })).digest("hex").slice(0, 16);
}

/** The `docker create` arguments of the container (quoted for the shell). */
export function createArguments(spec: ContainerSpec): string[] {
  const args = ["--name", spec.name, "--label", `dbstack.spec=${specDigest(spec)}`];
  for (const [k, v] of Object.entries(spec.labels)) args.push("--label", `${k}=${v}`);
  args.push("--restart", spec.restartPolicy, "--stop-timeout", "60");
  for (const v of spec.volumes) args.push("--volume", `${v.name}:${v.path}`);
  if (spec.network) args.push("--network", spec.network);
  for (const p of spec.publish) args.push("--publish", `${p.address.includes(":") ? `[${p.address}]` : p.address}:${p.port}:${p.port}`);
  if (spec.memoryMb !== undefined) args.push("--memory", `${spec.memoryMb}m`);
  if (spec.cpus !== undefined) args.push("--cpus", String(spec.cpus));
  args.push(
    "--health-cmd", spec.healthCommand,
    "--health-interval", "30s",
    "--health-timeout", "5s",
    "--health-retries", "3",
    "--health-start-period", "60s",
    "--entrypoint", "/bin/bash",
    spec.image,
    "-c", renderSupervisor(),
  );
  return args.map(shellQuote);
}

/** Fails the step with a clear message when the docker CLI or the Docker API is missing. */
function renderDockerReachable(): string {
  return [
    'command -v docker >/dev/null || { echo "dbstack: the docker CLI is not installed on $(hostname) (install docker.io, docker-ce-cli or podman-docker)" >&2; exit 1; }',
    'if ! err=$(docker version --format "{{.Server.Version}}" 2>&1 >/dev/null); then echo "dbstack: no Docker API answers at $DOCKER_HOST: $err" >&2; exit 1; fi',
  ].join("\n");
}

/**
 * Whose a container or volume is, from its labels (targets/ownership.ts): `dbstack.owner` holds
 * the owner's marker line; one made before that label existed is this stack's when its
 * `dbstack.prefix` is this stack's prefix (the prefix names project, stack and clone).
 * - `docker_claim <container|volume> <name>`: stops the script when the thing exists and is
 *   not this stack's (another stack's, or not dbstack's at all), naming its owner;
 * - `docker_mine <container|volume> <name>`: succeeds when it exists and is this stack's.
 */
function renderDockerOwnership(labels: Record<string, string>): string {
  const owner = labels["dbstack.owner"] ?? "";
  const prefix = labels["dbstack.prefix"] ?? "";
  return [
    `DOCKER_OWNER=${shellQuote(owner)}; DOCKER_PREFIX=${shellQuote(prefix)}`,
    "docker_labels() {",
    `  if [ "$1" = volume ]; then docker volume inspect --format '{{index .Labels "dbstack.owner"}}|{{index .Labels "dbstack.prefix"}}' "$2" 2>/dev/null`,
    `  else docker inspect --type container --format '{{index .Config.Labels "dbstack.owner"}}|{{index .Config.Labels "dbstack.prefix"}}' "$2" 2>/dev/null; fi`,
    "}",
    "docker_owner_state() {",
    '  local labels o p; labels=$(docker_labels "$1" "$2") || { echo absent; return 0; }',
    '  o=${labels%%|*}; p=${labels#*|}; [ "$o" = "<no value>" ] && o=""; [ "$p" = "<no value>" ] && p=""',
    '  if [ "$o" = "$DOCKER_OWNER" ] || { [ -z "$o" ] && [ -n "$p" ] && [ "$p" = "$DOCKER_PREFIX" ]; }; then echo mine; else echo "foreign ${o:-${p:+dbstack prefix $p}}"; fi',
    "}",
    'docker_mine() { [ "$(docker_owner_state "$1" "$2")" = mine ]; }',
    "docker_claim() {",
    '  local state; state=$(docker_owner_state "$1" "$2")',
    '  case "$state" in',
    "    absent|mine) return 0 ;;",
    '    *) local who=${state#foreign }; echo "container: the Docker $1 $2 exists and belongs to ${who:-something dbstack did not make (no dbstack labels)}, not to this stack (${DOCKER_OWNER#dbstack }); dbstack never takes over, changes or deletes it: remove it, or give the deployment another name or Docker host" >&2; exit 1 ;;',
    "  esac",
    "}",
  ].join("\n");
}

/** Creates the volumes that do not exist yet; never touches an existing one, and refuses one that is not this stack's. */
export function renderCreateVolumes(volumes: ContainerVolume[], labels: Record<string, string>): string {
  const labelArgs = Object.entries(labels).map(([k, v]) => `--label ${shellQuote(`${k}=${v}`)}`).join(" ");
  return [
    "set -euo pipefail",
    renderDockerReachable(),
    renderDockerOwnership(labels),
    ...volumes.map((v) => `docker_claim volume ${shellQuote(v.name)}`),
    ...volumes.map((v) => `docker volume inspect ${shellQuote(v.name)} >/dev/null 2>&1 || { docker volume create ${labelArgs} ${shellQuote(v.name)} >/dev/null && echo "created volume ${v.name}" >&2; }`),
  ].join("\n");
}

/** Runs on destroy: the volumes hold the data, so they are deleted only when the stack allows it, and only the stack's own. */
export function renderRemoveVolumes(volumes: ContainerVolume[], allowDataRemoval: boolean, labels: Record<string, string> = {}): string {
  const names = volumes.map((v) => v.name).join(" ");
  if (!allowDataRemoval) {
    return `echo ${shellQuote(`dbstack: kept the volumes ${names}; ${keptDataHint("delete them")} (or run: docker volume rm ${names})`)} >&2`;
  }
  const q = (v: ContainerVolume) => shellQuote(v.name);
  return [
    "set -euo pipefail",
    renderDockerOwnership(labels),
    ...volumes.map(
      (v) =>
        `if docker_mine volume ${q(v)}; then docker volume rm ${q(v)} >/dev/null; elif docker volume inspect ${q(v)} >/dev/null 2>&1; then echo ${shellQuote(`dbstack: left the volume ${v.name} as it is: it is not this stack's`)} >&2; fi`,
    ),
    `echo ${shellQuote(`dbstack: deleted the volumes ${names} (allowDataRemoval is set)`)} >&2`,
  ].join("\n");
}

/**
 * Brings the container to the spec: pulls the image when it is not on the host, re-creates a
 * container made from another spec (its volumes stay), creates a missing one, starts a stopped
 * one. Prints `{"id": …, "addresses": "10.88.0.5/16 …"}`: the id changes only when the
 * container is re-created; the addresses are the container's on its networks.
 */
export function renderEnsureContainer(spec: ContainerSpec, hostNetworkPorts: number[] = []): string {
  const name = shellQuote(spec.name);
  const image = shellQuote(spec.image);
  const ports = [...new Set([...spec.publish.map((p) => p.port), ...hostNetworkPorts])];
  return [
    "set -euo pipefail",
    renderDockerReachable(),
    `if ! docker image inspect ${image} >/dev/null 2>&1; then`,
    `  echo "pulling ${spec.image}" >&2`,
    `  docker pull ${image} >&2 || { echo "dbstack: image ${spec.image} is not on the Docker host and could not be pulled" >&2; exit 1; }`,
    "fi",
    renderDockerOwnership(spec.labels),
    `docker_claim container ${name}`,
    `current=$(docker inspect --format '{{index .Config.Labels "dbstack.spec"}}' ${name} 2>/dev/null || true)`,
    ...(ports.length ? [`if [ "$current" != ${shellQuote(specDigest(spec))} ]; then`, renderPortsFree(spec.name, image, ports), "fi"] : []),
    `if [ -n "$current" ] && [ "$current" != ${shellQuote(specDigest(spec))} ]; then`,
    `  echo "re-creating container ${spec.name}: its declared spec changed (its volumes are kept)" >&2`,
    `  docker stop --time 60 ${name} >/dev/null 2>&1 || true`,
    `  docker rm -f ${name} >/dev/null`,
    '  current=""',
    "fi",
    'if [ -z "$current" ]; then',
    `  docker create ${createArguments(spec).join(" ")} >/dev/null`,
    `  echo "created container ${spec.name} from ${spec.image}" >&2`,
    "fi",
    `if [ "$(docker inspect --format '{{.State.Running}}' ${name})" != true ]; then`,
    `  docker start ${name} >/dev/null`,
    `  echo "started container ${spec.name}" >&2`,
    "fi",
    `id=$(docker inspect --format '{{.Id}}' ${name})`,
    `addresses=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{if .IPAddress}}{{.IPAddress}}/{{.IPPrefixLen}} {{end}}{{end}}' ${name})`,
    'printf \'{"id":"%s","addresses":"%s"}\\n\' "$id" "$addresses"',
  ].join("\n");
}

/**
 * Before a container is created or re-created: every port the new container would hold on the
 * Docker host (the ports it publishes, or its server's port on the host network) that the current
 * container does not publish already must be free there, or the new container would not start
 * ("address already in use") after the running one was removed: an outage. The sockets
 * are read by a throwaway container of the image on the host's network and process namespaces
 * (the Docker host may be another machine than the one running the CLI); a listener that is a
 * process of the current container (one on the host network) is its own server, not a holder.
 * Stops the script naming `port` and the holder, with the running container left as it is.
 */
function renderPortsFree(container: string, image: string, ports: number[]): string {
  const name = shellQuote(container);
  const probe = [
    "set -euo pipefail",
    renderPortFunctions(),
    "# The processes of the current container (the pid namespace is the host's): its main process and every descendant.",
    "own() {",
    '  [ "${1:-0}" -gt 0 ] || return 0',
    "  { grep -H '^PPid:' /proc/[0-9]*/status 2>/dev/null || true; } | awk -v root=\"$1\" '{ split($1, f, \"/\"); parent[f[3]] = $2 } END { keep[root] = 1; do { grew = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; grew = 1 } } while (grew); for (p in keep) print p }'",
    "}",
    'mine=$(own "$1"); shift',
    'for port in "$@"; do refuse_taken_port "$port" "the container was left as it is" $mine; done',
    "echo ports-free",
  ].join("\n");
  return [
    `  published=$(docker inspect --format '{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostPort}} {{end}}{{end}}' ${name} 2>/dev/null || true)`,
    `  main=$(docker inspect --format '{{.State.Pid}}' ${name} 2>/dev/null || echo 0)`,
    "  wanted=()",
    `  for port in ${ports.join(" ")}; do case " $published " in *" $port "*) ;; *) wanted+=("$port") ;; esac; done`,
    '  if [ ${#wanted[@]} -gt 0 ]; then',
    "    # The verdict is the probe's output: `docker run --rm` through some Docker-compatible APIs exits 0 whatever the container's status.",
    `    verdict=$(docker run --rm --network host --pid host --label dbstack.probe=ports --entrypoint bash ${image} -c ${shellQuote(probe)} probe "$main" "\${wanted[@]}") || true`,
    '    [ "$verdict" = ports-free ] || exit 1',
    "  fi",
  ].join("\n");
}

/** Exits 0 while the container exists, runs and was made from this spec (HostCommand's probe). */
export function renderContainerProbe(spec: ContainerSpec): string {
  return `[ "$(docker inspect --format '{{.State.Running}} {{index .Config.Labels "dbstack.spec"}}' ${shellQuote(spec.name)} 2>/dev/null)" = ${shellQuote(`true ${specDigest(spec)}`)} ]`;
}

/** Runs on destroy: stops the container cleanly (the server shuts down) and removes it, if it is the stack's own; its volumes are another step's. */
export function renderRemoveContainer(name: string, labels: Record<string, string> = {}): string {
  return [
    renderDockerOwnership(labels),
    `if docker inspect ${shellQuote(name)} >/dev/null 2>&1 && ! docker_mine container ${shellQuote(name)}; then`,
    `  echo ${shellQuote(`dbstack: left the container ${name} as it is: it is not this stack's`)} >&2`,
    `elif docker inspect ${shellQuote(name)} >/dev/null 2>&1; then`,
    `  docker stop --time 60 ${shellQuote(name)} >/dev/null 2>&1 || true`,
    `  docker rm -f ${shellQuote(name)} >/dev/null`,
    `  echo "dbstack: removed container ${name} (its volumes are a separate step)" >&2`,
    "fi",
  ].join("\n");
}

/** The container's networks, from the addresses renderEnsureContainer printed ("10.88.0.5/16" → "10.88.0.0/16"). */
export function networksOf(addresses: string[]): string[] {
  const out = new Set<string>();
  for (const a of addresses) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(a);
    if (!m) continue;
    const bits = Number(m[5]);
    const ip = m.slice(1, 5).reduce((n, o) => n * 256 + Number(o), 0);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    const net = (ip & mask) >>> 0;
    out.add(`${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")}/${bits}`);
  }
  return [...out];
}

/**
 * The command a cron job on the Docker host's machine runs to start a tool inside the container
 * (cron's PATH is short: the docker CLI may be in /usr/local/bin).
 */
export function renderDockerExecCommand(target: { endpoint?: string }, container: string, tool: string): string {
  return `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DOCKER_HOST=${shellQuote(target.endpoint ?? DEFAULT_DOCKER_ENDPOINT)} docker exec -u 0 ${shellQuote(container)} ${shellQuote(tool)}`;
}
