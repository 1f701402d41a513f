/** The stack config schema of a server deployment's `metrics` (components/model/metrics.ts), with the components' ranges. */
import { z } from "zod";
import { DEFAULTS } from "../../components/model/defaults";
import { IP_ADDRESS, RANGES } from "../../components/validate";

const port = z
  .number({ error: "expected a port number" })
  .int({ error: `expected a port number, a whole number from ${RANGES.port[0]} to ${RANGES.port[1]}` })
  .min(RANGES.port[0], { error: `expected a port number from ${RANGES.port[0]} to ${RANGES.port[1]}` })
  .max(RANGES.port[1], { error: `expected a port number from ${RANGES.port[0]} to ${RANGES.port[1]}` });

export const metrics = z.strictObject({
  exporter: z.strictObject({
    address: z.string({ error: "expected an IP address to listen on" }).regex(IP_ADDRESS, { error: "expected an IP address to listen on (such as 127.0.0.1 or 0.0.0.0)" }).default(DEFAULTS.metrics.address),
    port,
    standbyPorts: z.record(z.string(), port).optional(),
    auth: z.enum(["basic", "tls"], { error: 'expected "basic" (basic authentication over HTTP) or "tls" (the same over HTTPS)' }).default(DEFAULTS.metrics.auth),
  }),
});
