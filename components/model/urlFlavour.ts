/**
 * The flavours of a database URL an application's driver opens (DATABASE_URL of a migration
 * command, db:check --url): `default` as dbstack spells it (`postgresql://`, `mysql://`,
 * `sqlite:////abs/path`), `sqlalchemy` (`postgresql+psycopg://`, `mysql+pymysql://`), `libpq`
 * (`postgresql://`), `jdbc` (`jdbc:postgresql://host:port/db?user=..&password=..`, `jdbc:mariadb://`,
 * `jdbc:sqlite:/abs/path`). Pure strings: no driver behind them.
 */

/** Every flavour, in the order the docs list them. */
export const URL_FLAVOURS = ["default", "sqlalchemy", "libpq", "jdbc"] as const;
export type UrlFlavour = (typeof URL_FLAVOURS)[number];

/** Whether `name` is a flavour (for argument and config checks). */
export function isUrlFlavour(name: string): name is UrlFlavour {
  return (URL_FLAVOURS as readonly string[]).includes(name);
}

/** `jdbc:<kind>://host:port/db?user=..&password=..` (plus the URL's own parameters) of a `scheme://user:pass@host:port/db` URL. */
export function jdbcUrl(kind: "postgresql" | "mariadb", url: string): string {
  const u = new URL(url);
  const params = new URLSearchParams();
  if (u.username) params.set("user", decodeURIComponent(u.username));
  if (u.password) params.set("password", decodeURIComponent(u.password));
  for (const [k, v] of u.searchParams) params.set(k, v);
  const query = params.toString();
  return `jdbc:${kind}://${u.host}${u.pathname}${query ? `?${query}` : ""}`;
}
