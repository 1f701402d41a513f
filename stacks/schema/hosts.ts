import { z } from "zod";
import { DEFAULTS } from "../../components/model/defaults";
import { hostKeyProblem } from "../../components/targets/ssh";
import { UNIX_NAME } from "../../components/validate";
import { wholeNumber } from "./common";

const HOST_KEY_EXPECTED = 'expected the host\'s public SSH key, e.g. "ssh-ed25519 AAAA…" (ssh-keyscan -t ed25519 <address> prints it)';

/** `dbstack:hosts.<name>`: a Linux host reached over SSH. */
export const sshHost = z.strictObject({
  address: z.string({ error: "expected the host's name or IP address" }).regex(/^[A-Za-z0-9.:-]+$/, { error: "expected a host name or IP address" }),
  port: wholeNumber(1, 65535, "a port number").default(DEFAULTS.ssh.port),
  user: z.string().regex(UNIX_NAME, { error: "expected a Unix user name" }).default(DEFAULTS.ssh.user),
  sudo: z.boolean({ error: "expected true or false" }).optional(),
  hostKey: z
    .string({ error: HOST_KEY_EXPECTED })
    .superRefine((value, ctx) => {
      const problem = hostKeyProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: `${HOST_KEY_EXPECTED}: ${problem}`, input: value });
    })
    .optional(),
  privateKey: z
    .string({ error: "expected an SSH private key (set it with pulumi config set --secret --path 'dbstack:hosts.<name>.privateKey')" })
    .min(1, { error: "expected an SSH private key (set it with pulumi config set --secret --path 'dbstack:hosts.<name>.privateKey')" }),
});

