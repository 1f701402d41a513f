import { z } from "zod";
import { DEFAULTS } from "../../components/model/defaults";
import { hostKeyProblem } from "../../components/targets/ssh";
import { RANGES, UNIX_NAME } from "../../components/validate";
import { wholeNumber } from "./common";
import { secret } from "./secret";

const HOST_KEY_EXPECTED = 'expected the host\'s public SSH key, e.g. "ssh-ed25519 AAAA…" (ssh-keyscan -t ed25519 <address> prints it)';

/** `dbstack:hosts.<name>`: a Linux host reached over SSH. */
export const sshHost = z.strictObject({
  address: z.string({ error: "expected the host's name or IP address" }).regex(/^[A-Za-z0-9.:-]+$/, { error: "expected a host name or IP address" }),
  port: wholeNumber(...RANGES.port, "a port number").default(DEFAULTS.ssh.port),
  user: z.string().regex(UNIX_NAME, { error: "expected a Unix user name" }).default(DEFAULTS.ssh.user),
  sudo: z.boolean({ error: "expected true or false" }).optional(),
  hostKey: z
    .string({ error: HOST_KEY_EXPECTED })
    .superRefine((value, ctx) => {
      const problem = hostKeyProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: `${HOST_KEY_EXPECTED}: ${problem}`, input: value });
    })
    .optional(),
  privateKey: secret(
    z
      .string({ error: "expected an SSH private key (set it with pulumi config set --secret --path 'dbstack:hosts.<name>.privateKey')" })
      .min(1, { error: "expected an SSH private key (set it with pulumi config set --secret --path 'dbstack:hosts.<name>.privateKey')" }),
  ),
});


/**
 * `dbstack:dockerHosts.<name>`: a Docker engine, on this machine or on an entry of dbstack:hosts
 * (reached over SSH with that host's pinned key). Deployments with `host: <name>` run in containers there.
 */
export const dockerHost = z.strictObject({
  endpoint: z
    .string({ error: "expected the Docker API endpoint as DOCKER_HOST takes it, e.g. unix:///var/run/docker.sock" })
    .regex(/^(unix:\/\/\/[A-Za-z0-9._/-]+|tcp:\/\/[A-Za-z0-9.:-]+)$/, { error: "expected the Docker API endpoint as DOCKER_HOST takes it, e.g. unix:///var/run/docker.sock or tcp://host:2376" })
    .default(DEFAULTS.container.endpoint),
  via: z.string({ error: "expected the name of an entry in dbstack:hosts" }).optional(),
});
