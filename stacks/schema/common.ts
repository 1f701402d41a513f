/** Building blocks of the stack config schemas: paths, numbers, backups, hooks, and the fields every server deployment declares. */
import { z } from "zod";
import { cronScheduleProblem } from "../../components/backups/schedule";
import { DEFAULTS } from "../../components/model/defaults";
import { CONTAINER_IMAGE, DOCKER_NETWORK, GPG_RECIPIENT, IP_ADDRESS, RANGES, RESTART_POLICIES, SAFE_PATH } from "../../components/validate";
import { drill, pitr } from "./pitr";
import { metrics } from "./metrics";
import { secret } from "./secret";
import { IMPORT_REFERENCE_FORMS, parseImportReference } from "../../components/copy/importReference";
import { ALLOW_ID } from "../../components/deploy/importStep";
import { URL_FLAVOURS } from "../../components/model/urlFlavour";
import { IMPORT_SCHEMAS } from "../../components/model/importSchema";

export const path = (what: string) =>
  z
    .string({ error: `expected ${what} as a string` })
    .min(1, { error: `expected ${what}` })
    .regex(SAFE_PATH, { error: `expected ${what} made of letters, digits and . _ / @ + - only` });

const RETENTION_EXPECTED = `expected a whole number of days from ${RANGES.retentionDays[0]} to ${RANGES.retentionDays[1]}`;

export const backup = z.strictObject({
  schedule: z
    .string({ error: "expected a cron schedule such as \"0 2 * * *\"" })
    .default(DEFAULTS.backup.schedule)
    .superRefine((value, ctx) => {
      const problem = cronScheduleProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: `expected a cron schedule such as "0 2 * * *": ${problem}`, input: value });
    }),
  dir: path("a backup directory").optional(),
  retentionDays: z
    .number({ error: "expected a number of days" })
    .int({ error: RETENTION_EXPECTED })
    .min(RANGES.retentionDays[0], { error: RETENTION_EXPECTED })
    .max(RANGES.retentionDays[1], { error: RETENTION_EXPECTED })
    .default(DEFAULTS.backup.retentionDays),
  gpgRecipient: z
    .string()
    .regex(GPG_RECIPIENT, { error: "expected a GPG key id, fingerprint or e-mail address" })
    .optional(),
  offHostCommand: z.string().min(1, { error: "expected a shell command, got an empty string" }).optional(),
});

export const migrations = z.union(
  [
    z.strictObject({ dir: path("a directory of NNNN_name.sql files") }),
    z.strictObject({
      command: z.string().min(1, { error: "expected a command such as \"alembic upgrade head\"" }),
      workdir: path("a working directory").optional(),
      url: z.enum(URL_FLAVOURS, { error: `expected DATABASE_URL's flavour: ${URL_FLAVOURS.join(", ")}` }).optional(),
    }),
  ],
  { error: `expected either { dir: <directory of .sql files> } or { command: "<migration command>", workdir?: <dir>, url?: ${URL_FLAVOURS.join(" | ")} }` },
);

export const healthCheck = z.strictObject({
  name: z.string().min(1, { error: "expected a name for the check" }),
  sql: z.string().min(1, { error: "expected one SQL query" }),
  expect: z.string().optional(),
});

export const identifier = (what: string) =>
  z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: `expected ${what}: lower-case letters, digits and _, starting with a letter or _` });
export const cidr = z
  .string({ error: "expected a network in CIDR form, e.g. 10.0.0.0/24" })
  .refine(
    (v) => {
      const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(v);
      if (v4) return v4.slice(1, 5).every((o) => Number(o) <= 255) && Number(v4[5]) <= 32;
      const v6 = /^[0-9a-fA-F:]+\/(\d{1,3})$/.exec(v);
      return v6 !== null && v.includes(":") && Number(v6[1]) <= 128;
    },
    { error: "expected a network in CIDR form, e.g. 10.0.0.0/24 (IPv4 prefix up to 32, IPv6 up to 128)" },
  );
/** A whole number in [min, max]; `what` reads like "a port number" or "a number of connections". */
export const wholeNumber = (min: number, max: number, what: string) =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}, a whole number from ${min} to ${max}` })
    .min(min, { error: `expected ${what} from ${min} to ${max}` })
    .max(max, { error: `expected ${what} from ${min} to ${max}` });


/** A cron schedule that must parse and fire. */
export const cronSchedule = z.string().superRefine((value, ctx) => {
  const problem = cronScheduleProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: `expected a cron schedule: ${problem}`, input: value });
});

/** A user's grants: database name to owner, readwrite or readonly. */
export const grants = z.record(identifier("a database name"), z.enum(["owner", "readwrite", "readonly"], { error: "expected owner, readwrite or readonly" }));

/** What every user declares, on every server engine. */
export const userFields = {
  grants,
  connectionLimit: wholeNumber(-1, 100000, "a number of connections (-1 for no limit)").default(DEFAULTS.user.connectionLimit),
  password: secret(z.string().min(12, { error: "expected a password of at least 12 characters (or leave it out to generate one)" })).optional(),
  passwordRotation: z.union([z.string(), z.number()]).optional(),
};

/**
 * `importFrom`: another deployment of the stack whose data seeds this database once, when it is
 * created. The reference alone, or with the ids of lossy conversions accepted. That the
 * deployment and database exist is checked against the whole stack (importFromChecks.ts, one of STACK_CHECKS).
 */
const importReference = z
  .string({ error: `expected ${IMPORT_REFERENCE_FORMS}` })
  .refine((v) => parseImportReference(v) !== undefined, { error: `expected ${IMPORT_REFERENCE_FORMS}` });
export const importFrom = z.union(
  [
    importReference,
    z.strictObject({
      from: importReference,
      allow: z.array(z.string().regex(ALLOW_ID, { error: "expected a conversion id as `npm run db:copy -- --dry-run` lists it (no spaces or commas)" })).default([]),
      schema: z.enum(IMPORT_SCHEMAS, { error: `expected who makes the tables: ${IMPORT_SCHEMAS.join(" or ")}` }).optional(),
    }),
  ],
  { error: `expected ${IMPORT_REFERENCE_FORMS}, or { from: <that>, allow: [<conversion id>, ...], schema?: ${IMPORT_SCHEMAS.join(" | ")} }` },
);

/** What every database declares, on every server engine. */
export const databaseFields = {
  owner: identifier("a user name"),
  migrations: migrations.optional(),
  healthChecks: z.array(healthCheck, { error: "expected a list of { name, sql, expect? }" }).optional(),
  importFrom: importFrom.optional(),
};

/** `container:` of a server deployment (or standby) on a Docker host: see ContainerArgs. */
export const container = z.strictObject({
  image: z.string().regex(CONTAINER_IMAGE, { error: "expected an image reference: name[:tag] or name@sha256:<digest>" }).optional(),
  memoryMb: wholeNumber(...RANGES.containerMemoryMb, "a memory limit in MiB").optional(),
  cpus: z.number({ error: "expected a number of CPUs" }).positive({ error: "expected a number of CPUs above 0" }).optional(),
  publishAddresses: z.array(z.string().regex(IP_ADDRESS, { error: "expected an IP address of the Docker host" })).optional(),
  network: z.string().regex(DOCKER_NETWORK, { error: "expected a Docker network name, or host" }).optional(),
  restartPolicy: z.enum(RESTART_POLICIES, { error: "expected no, on-failure, always or unless-stopped" }).optional(),
});

/** What every standby declares, on every server engine. */
export const standbyFields = {
  host: z.string().min(1, { error: "expected \"local\" or the name of an entry in dbstack:hosts" }),
  address: z
    .string({ error: "expected the standby's address as the primary sees it (an IP address or host name)" })
    .regex(/^[A-Za-z0-9.:/-]+$/, { error: "expected the standby's address as the primary sees it (an IP address or host name)" }),
  port: wholeNumber(...RANGES.port, "a port number").optional(),
  container: container.optional(),
};

/** A standby's name: lower-case letters, digits and _. */
export const standbyName = z.string().regex(/^[a-z][a-z0-9_]{0,30}$/, { error: "expected a standby name: lower-case letters, digits and _" });

/** The fields every server deployment (PostgreSQL, MariaDB) declares; `port` defaults to the engine's. */
export function serverFields(defaultPort: number, parameterName: string) {
  return {
    host: z.string().min(1, { error: "expected \"local\" or the name of an entry in dbstack:hosts" }).default("local"),
    address: z.string().regex(/^[A-Za-z0-9.:-]+$/).optional(),
    port: wholeNumber(...RANGES.port, "a port number").default(defaultPort),
    dataDirectory: path("a data directory").optional(),
    container: container.optional(),
    hostFacts: z
      .strictObject({
        memoryMb: wholeNumber(256, 16777216, "a memory size in MiB").optional(),
        cpus: wholeNumber(1, 1024, "a number of CPUs").optional(),
        storage: z.enum(["ssd", "hdd", "network"], { error: "expected ssd, hdd or network" }).optional(),
      })
      .optional(),
    workload: z.enum(["web", "oltp", "dw", "mixed"], { error: "expected web, oltp, dw or mixed" }).default(DEFAULTS.server.workload),
    maxConnections: wholeNumber(...RANGES.maxConnections, "a number of connections").default(DEFAULTS.server.maxConnections),
    parameters: z
      .record(
        z.string().regex(/^[a-z_.]+$/, { error: `expected a ${parameterName} name` }),
        z
          .union([z.string(), z.number()], { error: "expected a value: a number or a string" })
          .transform(String)
          .refine((v) => /^[^\x00-\x1f\x7f]*$/.test(v), { error: "expected a one-line value (no newline or control character)" }),
      )
      .default({}),
    /** Unsafe parameters accepted in `parameters` (see ServerDeploymentArgs.unsafeParameters); checked against the engine's table by the component. */
    unsafeParameters: z
      .array(z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: `expected the name of an unsafe ${parameterName}` }), { error: `expected a list of ${parameterName} names` })
      .default([...DEFAULTS.server.unsafeParameters]),
    listenAddresses: z.array(z.string().regex(/^[A-Za-z0-9.:*-]+$/)).default([...DEFAULTS.server.listenAddresses]),
    allowedCidrs: z.array(cidr).default([...DEFAULTS.server.allowedCidrs]),
    tls: z.strictObject({ certificate: z.string().min(1), privateKey: secret(z.string().min(1)) }).optional(),
    certificateLifetime: z
      .strictObject({ certificateDays: wholeNumber(1, 3650, "a number of days").optional(), caDays: wholeNumber(30, 36500, "a number of days").optional() })
      .refine((l) => (l.caDays ?? DEFAULTS.server.certificateLifetime.caDays) > (l.certificateDays ?? DEFAULTS.server.certificateLifetime.certificateDays), {
        error: "expected caDays longer than certificateDays (a certificate cannot outlive the CA that signed it)",
      })
      .optional(),
    backup: backup.extend({ maxAgeHours: wholeNumber(...RANGES.maxAgeHours, "a number of hours").optional(), drill: drill.optional() }).optional(),
    maintenanceSchedule: cronSchedule.optional(),
    toolsDir: path("a directory for dbstack's tools").optional(),
    slowQueryMs: wholeNumber(1, 3_600_000, "a number of milliseconds").optional(),
    pitr: pitr.optional(),
    metrics: metrics.optional(),
  };
}

/** A map of databases that must not be empty. */
export function databaseMap<T extends z.ZodType>(database: T) {
  return z.record(identifier("a database name"), database).refine((r) => Object.keys(r).length > 0, { error: "expected at least one database" });
}
