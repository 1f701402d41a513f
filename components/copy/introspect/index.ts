/** Reads a source's (or target's) schema in the engine-neutral form of ../schema.ts. */
import type { Connection } from "../connections";
import { JOURNAL_TABLE } from "../journal";
import type { Schema } from "../schema";
import { introspectMariadb } from "./mariadb";
import { introspectPostgres } from "./postgres";
import { introspectSqlite } from "./sqlite";

export { mariadbTypeClass } from "./mariadb";
export { postgresTypeClass } from "./postgres";
export { sqliteTypeClass } from "./sqlite";

/** The schema of the database behind `conn`: its user tables, parents first (dbstack's copy journal left out: it is not the application's). */
export async function introspect(conn: Connection): Promise<Schema> {
  const schema = await introspectEngine(conn);
  return { ...schema, tables: schema.tables.filter((t) => t.name !== JOURNAL_TABLE) };
}

function introspectEngine(conn: Connection): Promise<Schema> {
  switch (conn.engine) {
    case "sqlite":
      return introspectSqlite(conn);
    case "postgres":
      return introspectPostgres(conn);
    case "mariadb":
      return introspectMariadb(conn);
  }
}
