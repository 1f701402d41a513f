/** Reads a source's (or target's) schema in the engine-neutral form of ../schema.ts. */
import type { Connection } from "../connections";
import { dialectFor } from "../dialects";
import { JOURNAL_TABLE } from "../journal";
import type { Schema } from "../schema";

export { mariadbTypeClass } from "./mariadb";
export { postgresTypeClass } from "./postgres";
export { sqliteTypeClass } from "./sqlite";

/** The schema of the database behind `conn`: its user tables, parents first (dbstack's copy journal left out: it is not the application's). */
export async function introspect(conn: Connection): Promise<Schema> {
  const schema = await dialectFor(conn.engine).introspect(conn);
  return { ...schema, tables: schema.tables.filter((t) => t.name !== JOURNAL_TABLE) };
}
