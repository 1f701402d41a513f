/**
 * The stack config schema of a PostgreSQL deployment's `ha` (components/model/ha.ts): shapes and
 * types here; ranges, addresses and the rules between fields are the component's (deploy/validateHa.ts),
 * which names the field in every error.
 */
import { z } from "zod";

const port = z.number({ error: "expected a port number" }).int({ error: "expected a port number" });
const seconds = z.number({ error: "expected a number of seconds" }).int({ error: "expected a whole number of seconds" });

const etcdMember = z.strictObject({
  /** A host of the stack's `hosts` (as a deployment's `host`). */
  host: z.string({ error: "expected the name of a host of dbstack:hosts" }),
  address: z.string({ error: "expected a host name or an IP address" }),
  clientPort: port.optional(),
  peerPort: port.optional(),
  dataDirectory: z.string().optional(),
});

export const ha = z.strictObject({
  enabled: z.boolean({ error: "expected true or false" }).optional(),
  etcd: z.discriminatedUnion(
    "kind",
    [
      z.strictObject({ kind: z.literal("deploy"), members: z.record(z.string(), etcdMember).optional() }),
      z.strictObject({
        kind: z.literal("existing"),
        endpoints: z.array(z.string()),
        username: z.string(),
        password: z.string({ error: "expected the etcd user's password (set it with --secret)" }),
        caCertificate: z.string().optional(),
      }),
    ],
    { error: 'expected { kind: "deploy" } or { kind: "existing", endpoints, username, password }' },
  ),
  synchronous: z.boolean({ error: "expected true or false" }).optional(),
  ttlSeconds: seconds.optional(),
  loopWaitSeconds: seconds.optional(),
  retryTimeoutSeconds: seconds.optional(),
  maximumLagOnFailoverBytes: z.number().int().optional(),
  restApiPort: port.optional(),
  scope: z.string().optional(),
});

export type HaConfig = z.output<typeof ha>;
