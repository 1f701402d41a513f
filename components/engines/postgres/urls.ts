/** Connection URLs in the flavours applications use; TLS is required. */
export interface PostgresUrls {
  /** libpq / most drivers: `postgresql://user:password@host:port/db?sslmode=require`. */
  postgresql: string;
  /** SQLAlchemy with psycopg 3: `postgresql+psycopg://…`. */
  psycopg: string;
}

export function postgresUrls(c: { user: string; password: string; host: string; port: number; database: string }): PostgresUrls {
  const host = c.host.includes(":") && !c.host.startsWith("[") ? `[${c.host}]` : c.host;
  const rest = `${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${host}:${c.port}/${encodeURIComponent(c.database)}?sslmode=require`;
  return { postgresql: `postgresql://${rest}`, psycopg: `postgresql+psycopg://${rest}` };
}
