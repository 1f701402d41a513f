/**
 * A database URL in the flavour the application's own driver opens: applications read
 * DATABASE_URL with their framework's parser, and `mysql://` makes SQLAlchemy load MySQLdb, which
 * Python applications rarely have (PyMySQL is the common driver).
 *
 * - `default`: as dbstack spells it (`postgresql://`, `mysql://`, `sqlite:////abs/path`);
 * - `sqlalchemy`: `postgresql+psycopg://` (psycopg 3), `mysql+pymysql://`, `sqlite:////abs/path`;
 * - `libpq`: `postgresql://` (libpq's own URI; PostgreSQL only: MariaDB and SQLite keep default);
 * - `jdbc`: `jdbc:postgresql://host:port/db?user=..&password=..`, `jdbc:mariadb://…`, `jdbc:sqlite:/abs/path`.
 * The password stays where the flavour's parser reads it (user info, or JDBC's `password`
 * parameter), percent-encoded; the URL still travels only in a private environment.
 */
import { jdbcUrl, type UrlFlavour } from "../model/urlFlavour";
import { parseConnectionUrl } from "./connections";

export { isUrlFlavour, URL_FLAVOURS, type UrlFlavour } from "../model/urlFlavour";

/** `url` (any form db:copy reads) in `flavour`. */
export function flavourUrl(url: string, flavour: UrlFlavour): string {
  const t = parseConnectionUrl(url);
  if ("path" in t) return flavour === "jdbc" ? `jdbc:sqlite:${t.path}` : `sqlite:///${t.path}`;
  const rest = t.url.slice(t.url.indexOf("://") + 3);
  switch (flavour) {
    case "default":
      return t.url;
    case "libpq":
      return t.engine === "postgres" ? `postgresql://${rest}` : t.url;
    case "sqlalchemy":
      return `${t.engine === "postgres" ? "postgresql+psycopg" : "mysql+pymysql"}://${rest}`;
    case "jdbc":
      return jdbcUrl(t.engine === "postgres" ? "postgresql" : "mariadb", t.url);
  }
}
