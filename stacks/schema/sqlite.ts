import { z } from "zod";
import { RANGES, UNIX_NAME } from "../../components/validate";
import { backup, healthCheck, migrations, path } from "./common";
import { drill } from "./pitr";

const BUSY_TIMEOUT_EXPECTED = `expected a whole number of milliseconds from ${RANGES.busyTimeoutMs[0]} to ${RANGES.busyTimeoutMs[1]}`;

const pragmas = z.strictObject({
  journalMode: z.enum(["wal", "delete", "truncate", "persist"]).optional(),
  autoVacuum: z.enum(["none", "full", "incremental"]).optional(),
  synchronous: z.enum(["off", "normal", "full", "extra"]).optional(),
  busyTimeoutMs: z
    .number({ error: "expected a number of milliseconds" })
    .int({ error: "expected a whole number of milliseconds" })
    .min(RANGES.busyTimeoutMs[0], { error: BUSY_TIMEOUT_EXPECTED })
    .max(RANGES.busyTimeoutMs[1], { error: BUSY_TIMEOUT_EXPECTED })
    .optional(),
  foreignKeys: z.boolean({ error: "expected true or false" }).optional(),
});


/** `dbstack:sqlite.<name>`: one SQLite database file. */
export const sqliteDatabase = z.strictObject({
  host: z.string().min(1, { error: "expected \"local\" or the name of an entry in dbstack:hosts" }).default("local"),
  path: path("a database file path"),
  owner: z.string().regex(UNIX_NAME, { error: "expected a Unix user name" }).optional(),
  group: z.string().regex(UNIX_NAME, { error: "expected a Unix group name" }).optional(),
  pragmas: pragmas.optional(),
  backup: backup.extend({ drill: drill.omit({ port: true }).optional() }).optional(),
  migrations: migrations.optional(),
  healthChecks: z.array(healthCheck, { error: "expected a list of { name, sql, expect? }" }).optional(),
  toolsDir: path("a directory for dbstack's tools").optional(),
});

