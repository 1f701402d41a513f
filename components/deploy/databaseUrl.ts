/**
 * The DATABASE_URL a migration command gets, in the flavour its declaration names
 * (`migrations: { command, url: sqlalchemy }`): which of the engine's URLs (engines/<engine>/urls.ts)
 * each flavour is, as data; `jdbc` is built from the URL whose parameters the JDBC driver reads.
 */
import type { ServerEngineKind } from "../model/engineKind";
import { jdbcUrl, type UrlFlavour } from "../model/urlFlavour";

/** Per engine: the URL key of each flavour (jdbc: the key its parameters come from). */
const FLAVOUR_KEYS: Record<ServerEngineKind, Record<Exclude<UrlFlavour, "default">, string>> = {
  postgres: { sqlalchemy: "psycopg", libpq: "postgresql", jdbc: "postgresql" },
  mariadb: { sqlalchemy: "mysqlPymysql", libpq: "mysql", jdbc: "mariadb" },
};

/** The URL of `urls` (an engine's flavours) a command declared with `flavour` gets; `defaultKey` is the engine's databaseUrlFlavor. */
export function databaseUrl(kind: ServerEngineKind, urls: object, defaultKey: string, flavour: UrlFlavour = "default"): string {
  const byKey = urls as Record<string, string>;
  if (flavour === "default") return byKey[defaultKey];
  const key = FLAVOUR_KEYS[kind][flavour];
  return flavour === "jdbc" ? jdbcUrl(kind === "postgres" ? "postgresql" : "mariadb", byKey[key]) : byKey[key];
}

/** The same for an SQLite database file (`sqlalchemy` is the default there: `sqlite:////abs/path`). */
export function sqliteDatabaseUrl(urls: { sqlalchemy: string; path: string }, flavour: UrlFlavour = "default"): string {
  return flavour === "jdbc" ? `jdbc:sqlite:${urls.path}` : urls.sqlalchemy;
}
