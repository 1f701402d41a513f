import * as pulumi from "@pulumi/pulumi";
import type { InstanceSpec, ServerEngine } from "../engines/engine";
import type { ContainerArgs } from "../model/args";
import { DEFAULTS } from "../model/defaults";
import { containerName } from "../model/naming";
import { writeFileCommand } from "../shell";
import { hostAccess, type HostAccess } from "../targets/access";
import {
  CONTAINER_START,
  CONTAINER_STOP,
  networksOf,
  renderContainerProbe,
  renderCreateVolumes,
  renderDockerExecCommand,
  renderEnsureContainer,
  renderRemoveContainer,
  renderRemoveVolumes,
  type ContainerSpec,
  type ContainerVolume,
} from "../targets/container";
import { HostCommand } from "../targets/hostCommand";
import type { DockerTarget } from "../targets/target";

/** A server's container on a Docker host, and how the deployment's steps reach it. */
export interface Placement {
  /** How the engine's steps reach the server: inside the container, re-run when it is re-created. */
  on: HostAccess;
  /** How host-level steps (cron jobs) reach the Docker host's machine. */
  machine: HostAccess;
  /** The container's name: what a cron job `docker exec`s into. */
  container: string;
  /** The networks the container is on (CIDRs): clients through a published port arrive from them. */
  networks: pulumi.Output<string[]>;
  /** The container step: later steps depend on it. */
  step: HostCommand;
  /** Whether the server shares the host's network (then it listens on the declared addresses). */
  hostNetwork: boolean;
  /** Where clients reach the port: the first declared published address, or the Docker host. */
  address: string;
  /** The command a cron job on the Docker host runs to start `tool` (a path) inside the container. */
  cronCommand(tool: string): string;
}

/**
 * The access rules of a server in `placed` (unchanged when it is not in a container): on a bridge
 * network it listens on the container's interfaces (what reaches it is decided by the published
 * addresses), and clients arrive from the container's `networks`, which are allowed too (TLS and a
 * password are still required).
 */
export function accessIn<A extends { listenAddresses: string[]; allowedCidrs: string[] }>(access: A, placed: Placement | undefined, networks: string[]): A {
  if (!placed) return access;
  return { ...access, listenAddresses: placed.hostNetwork ? access.listenAddresses : ["*"], allowedCidrs: [...new Set([...access.allowedCidrs, ...networks])] };
}

export interface PlacementArgs {
  engine: ServerEngine<any, any, any>;
  target: DockerTarget;
  /** The deployment (or `<deployment>-<standby>`) name, as in the host-level names. */
  name: string;
  instance: InstanceSpec;
  container?: ContainerArgs;
  /** Volumes beyond the engine's (the backups). */
  extraVolumes: { suffix: string; path: string }[];
  prefix: string;
  /** The marker line of the stack that owns the container and volumes (targets/ownership.ts): their `dbstack.owner` label. */
  owner: string;
  component: string;
  allowDataRemoval: boolean;
}

/**
 * The named volumes (data-bearing: kept on destroy unless the stack allows removal) and the
 * container of one server on a Docker target, children `<id>-volumes` and `<id>-container`.
 * The container step probes on every preview and up: a container removed or stopped from
 * outside shows as a change, and the next up brings it back on the same volumes; a re-created
 * container re-runs every step inside it (its id is their `placement`).
 */
export function placeInContainer(id: string, a: PlacementArgs, parent: pulumi.Resource): Placement {
  const name = containerName(a.prefix, a.engine.kind, a.name);
  const c = a.container ?? {};
  const machine = hostAccess(id, { ...a.target, container: undefined }, parent);
  const labels = { "dbstack.deployment": a.component, "dbstack.prefix": a.prefix, "dbstack.owner": a.owner };
  const volumes: ContainerVolume[] = [...a.engine.containerVolumes(a.instance), ...a.extraVolumes].map((v) => ({ name: `${name}-${v.suffix}`, path: v.path }));
  const hostNetwork = c.network === "host";
  const publishAddresses = c.publishAddresses ?? [...DEFAULTS.container.publishAddresses];
  const spec: ContainerSpec = {
    name,
    image: c.image ?? a.engine.defaultImage,
    volumes,
    network: c.network,
    publish: hostNetwork ? [] : publishAddresses.map((address) => ({ address, port: a.instance.port })),
    memoryMb: c.memoryMb,
    cpus: c.cpus,
    restartPolicy: c.restartPolicy ?? DEFAULTS.container.restartPolicy,
    healthCommand: a.engine.healthCommand(a.instance),
    labels,
  };
  const review = { component: a.component };
  const volumeStep = new HostCommand(
    `${id}-volumes`,
    {
      ...machine,
      description: `volumes ${volumes.map((v) => v.name).join(", ")}`,
      identity: volumes.map((v) => v.name).join(","),
      create: renderCreateVolumes(volumes, labels),
      delete: renderRemoveVolumes(volumes, a.allowDataRemoval, labels),
      review: { ...review, dataBearing: true, dataRemovalAllowed: a.allowDataRemoval },
    },
    { parent },
  );
  const ensure = renderEnsureContainer(spec, hostNetwork ? [a.instance.port] : []);
  const step = new HostCommand(
    `${id}-container`,
    {
      ...machine,
      description: `container ${name}`,
      identity: name,
      create: ensure,
      delete: renderRemoveContainer(name, labels),
      probe: renderContainerProbe(spec),
      review,
    },
    { parent, dependsOn: [volumeStep] },
  );
  const made = step.stdout.apply((s) => JSON.parse(s.trim().split("\n").pop() ?? "{}") as { id: string; addresses: string });
  const where = machine.target.kind === "docker" && machine.target.on?.kind === "ssh" ? machine.target.on.host : "localhost";
  const published = publishAddresses.find((p) => p !== "0.0.0.0" && p !== "::");
  return {
    on: { ...machine, target: { ...a.target, on: (machine.target as DockerTarget).on, container: name }, placement: made.apply((m) => m.id) },
    machine,
    container: name,
    networks: made.apply((m) => networksOf(m.addresses.split(/\s+/).filter(Boolean))),
    step,
    hostNetwork,
    address: hostNetwork || !published || where !== "localhost" ? where : published,
    cronCommand: (tool) => renderDockerExecCommand(a.target, name, tool),
  };
}

/**
 * Writes the container's start and stop scripts (the engine's, for this instance): the
 * container's supervisor runs them when the container starts and stops, so a restarted container
 * brings its server up from its volume with dbstack's configuration.
 */
export function renderInstallContainerScripts(start: string, stop: string): string {
  return ["set -euo pipefail", writeFileCommand(CONTAINER_START, `#!/bin/bash\nset -euo pipefail\n${start}\n`, "0700"), writeFileCommand(CONTAINER_STOP, `#!/bin/bash\nset -uo pipefail\n${stop}\n`, "0700"), `echo "installed ${CONTAINER_START} and ${CONTAINER_STOP}"`].join("\n");
}
