/**
 * Connection URLs in the flavours applications use. TLS is always required; the verify-full
 * flavours also check the server's certificate against the deployment's CA (its `caCertificate`
 * output) and that it names the host connected to.
 */
export interface PostgresUrls {
  /** libpq / most drivers: `postgresql://user:password@host:port/db?sslmode=require`. */
  postgresql: string;
  /** SQLAlchemy with psycopg 3: `postgresql+psycopg://…?sslmode=require`. */
  psycopg: string;
  /**
   * `postgresql://…?sslmode=verify-full`, with `&sslrootcert=<file>` when the deployment names
   * the file clients keep its CA certificate in; otherwise libpq reads the CA from
   * PGSSLROOTCERT, or ~/.postgresql/root.crt.
   */
  postgresqlVerifyFull: string;
  /** The same for SQLAlchemy with psycopg 3. */
  psycopgVerifyFull: string;
}

export function postgresUrls(c: { user: string; password: string; host: string; port: number; database: string; caCertificateFile?: string }): PostgresUrls {
  const host = c.host.includes(":") && !c.host.startsWith("[") ? `[${c.host}]` : c.host;
  const base = `${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${host}:${c.port}/${encodeURIComponent(c.database)}`;
  const require = `${base}?sslmode=require`;
  const verify = `${base}?sslmode=verify-full${c.caCertificateFile ? `&sslrootcert=${encodeURIComponent(c.caCertificateFile)}` : ""}`;
  return {
    postgresql: `postgresql://${require}`,
    psycopg: `postgresql+psycopg://${require}`,
    postgresqlVerifyFull: `postgresql://${verify}`,
    psycopgVerifyFull: `postgresql+psycopg://${verify}`,
  };
}
