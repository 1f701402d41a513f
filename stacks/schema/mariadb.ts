import { z } from "zod";
import { DEFAULTS } from "../../components/model/defaults";
import { databaseFields, databaseMap, identifier, serverFields, standbyFields, standbyName, userFields } from "./common";

const instanceName = z.string().regex(/^[a-z][a-z0-9_-]{0,30}$/, { error: "expected an instance name: lower-case letters, digits, _ and -" });

const mariadbDatabase = z.strictObject({
  ...databaseFields,
  collation: z
    .string()
    .regex(/^utf8mb4_[a-z0-9_]+$/, { error: "expected a utf8mb4 collation such as utf8mb4_unicode_ci or utf8mb4_0900_ai_ci" })
    .default(DEFAULTS.mariadb.database.collation),
});

const hostPattern = z
  .string()
  .regex(/^(%|localhost|[A-Za-z0-9.:%_-]+(\/\d{1,3})?)$/, { error: "expected a host pattern: localhost, %, 10.0.0.%, an address or a CIDR network" });

const mariadbUser = z.strictObject({
  ...userFields,
  hosts: z.array(hostPattern).min(1, { error: "expected at least one host pattern" }).default([...DEFAULTS.mariadb.user.hosts]),
  requireSsl: z.boolean({ error: "expected true or false" }).default(DEFAULTS.mariadb.user.requireSsl),
});

/** `dbstack:mariadb.<name>`: a MariaDB (or MySQL-flavoured) server deployment. */
export const mariadbServer = z.strictObject({
  ...serverFields(DEFAULTS.mariadb.port, "server variable"),
  flavor: z.enum(["mariadb", "mysql"], { error: "expected mariadb or mysql" }).default(DEFAULTS.mariadb.flavor),
  version: z.string().regex(/^\d+\.\d+$/, { error: "expected a major version such as \"10.11\"" }).optional(),
  instanceName: instanceName.optional(),
  requireSecureTransport: z.boolean({ error: "expected true or false" }).default(false),
  databases: databaseMap(mariadbDatabase),
  users: z.record(identifier("a user name"), mariadbUser),
  standbys: z.record(standbyName, z.strictObject({ ...standbyFields, instanceName: instanceName.optional() })).default({}),
});
