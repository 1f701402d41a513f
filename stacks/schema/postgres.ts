import { z } from "zod";
import { DEFAULTS } from "../../components/model/defaults";
import { ha } from "./ha";
import { databaseFields, databaseMap, identifier, serverFields, standbyFields, standbyName, userFields, wholeNumber } from "./common";

const instanceName = z.string().regex(/^[a-z][a-z0-9_-]{0,30}$/, { error: "expected an instance (cluster) name: lower-case letters, digits, _ and -" });

const postgresDatabase = z.strictObject({
  ...databaseFields,
  encoding: z.string().regex(/^[A-Za-z0-9_]+$/).default(DEFAULTS.postgres.database.encoding),
  locale: z.string().regex(/^[A-Za-z0-9_.@-]+$/, { error: "expected a locale such as C.UTF-8 or pt_BR.UTF-8" }).default(DEFAULTS.postgres.database.locale),
  dateStyle: z.string().regex(/^[A-Za-z]+(, ?[A-Za-z]+)?$/, { error: "expected a DateStyle such as \"ISO, DMY\"" }).default(DEFAULTS.postgres.database.dateStyle),
  timeZone: z.string().regex(/^[A-Za-z0-9_/+-]+$/, { error: "expected a time zone such as UTC or America/Sao_Paulo" }).default(DEFAULTS.postgres.database.timeZone),
  extensions: z.array(z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: "expected an extension name" })).default([...DEFAULTS.postgres.database.extensions]),
});

/** `dbstack:postgres.<name>`: a PostgreSQL deployment. */
export const postgresCluster = z.strictObject({
  ...serverFields(DEFAULTS.postgres.port, "postgresql.conf parameter"),
  version: wholeNumber(12, 18, "a PostgreSQL major version").optional(),
  instanceName: instanceName.optional(),
  /** The old name of instanceName: still read, with a warning (the component says which key to rename). */
  clusterName: instanceName.optional(),
  databases: databaseMap(postgresDatabase),
  users: z.record(identifier("a user name"), z.strictObject(userFields)),
  standbys: z.record(standbyName, z.strictObject({ ...standbyFields, instanceName: instanceName.optional(), clusterName: instanceName.optional() })).default({}),
  /** High availability with Patroni on etcd (components/model/ha.ts, docs/ha.md). Default: none. */
  ha: ha.optional(),
});
