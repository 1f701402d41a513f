import * as pulumi from "@pulumi/pulumi";
import { SshHostKeys } from "../components/targets/hostKeys";
import { localTarget, type Target } from "../components/targets/target";
import { ConfigError, type DockerHostConfig, type SshHostConfig } from "./config";
import { unknownHostProblem } from "./configChecks";
import type { ImportSources } from "./imports";

/** What every deployment of the stack is built with. */
export interface Ctx {
  projectDir: string;
  stack: string;
  allowDataRemoval: boolean;
  hosts: Record<string, SshHostConfig>;
  /** Docker engines (dbstack:dockerHosts). Default: none. */
  dockerHosts?: Record<string, DockerHostConfig>;
  /** The pinned keys of each dbstack:hosts entry in use, one record per host (shared by every deployment on it). */
  hostKeys?: Map<string, SshHostKeys>;
  /** The deployments built so far, for `importFrom` references (created on first use). */
  imports?: ImportSources;
}

/**
 * Resolves `host: local | <name in dbstack:hosts>` to a target that carries its (secret) key and
 * the host keys pinned for it.
 */
export function resolveHost(key: string, host: string, ctx: Ctx): Target {
  if (host === "local") return localTarget();
  const docker = ctx.dockerHosts?.[host];
  if (docker) {
    const on = docker.via === undefined ? undefined : resolveHost(`dbstack:dockerHosts.${host}.via`, docker.via, ctx);
    if (on?.kind === "docker") throw new ConfigError(`dbstack:dockerHosts.${host}.via: ${docker.via} is a Docker host; expected an entry of dbstack:hosts`);
    return { kind: "docker", endpoint: docker.endpoint, on, configKey: `dbstack:dockerHosts.${host}` };
  }
  const h = ctx.hosts[host];
  if (!h) throw new ConfigError(unknownHostProblem(key, host, ctx.hosts, ctx.dockerHosts ?? {}));
  const target: Target = { kind: "ssh", host: h.address, port: h.port, user: h.user, sudo: h.sudo, hostKey: h.hostKey, configKey: `dbstack:hosts.${host}` };
  // Trust on first use, once per host: the keys it offers the first time are kept in the state.
  ctx.hostKeys ??= new Map();
  let pinned = ctx.hostKeys.get(host);
  if (!pinned) {
    pinned = new SshHostKeys(`host-${host}-keys`, { target });
    ctx.hostKeys.set(host, pinned);
  }
  return { ...target, privateKey: pulumi.secret(h.privateKey), recordedHostKeys: pinned.keys };
}

