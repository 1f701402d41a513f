/**
 * Connection URLs of a MariaDB database in the flavours applications use. User, password and
 * database are percent-encoded, so any password survives the URL. When the deployment names the
 * file clients keep its CA certificate in (`caCertificateFile`), each URL asks for TLS with the
 * server's certificate verified against that CA and the host name, in that flavour's own words;
 * without it the URLs carry no TLS parameters (the driver's default applies).
 */
export interface MariadbUrls {
  /**
   * `mysql://user:password@host:port/db`, MySQL's URI-like connection string (MySQL Shell,
   * Connector/Python URIs, most URL-configured tools); with a CA: `?ssl-mode=VERIFY_IDENTITY&ssl-ca=<file>`.
   */
  mysql: string;
  /**
   * SQLAlchemy with PyMySQL: `mysql+pymysql://…?charset=utf8mb4`; with a CA: `&ssl_ca=<file>&ssl_check_hostname=true`
   * (SQLAlchemy passes ssl_* parameters to PyMySQL as its ssl dict, which then verifies the certificate).
   */
  mysqlPymysql: string;
  /**
   * `mariadb://user:password@host:port/db`, MariaDB Connector/Node.js and Connector/J style; with a CA:
   * `?sslMode=verify-full&serverSslCert=<file>`.
   */
  mariadb: string;
  /** SQLAlchemy with MariaDB Connector/Python: `mariadb+mariadbconnector://…`; with a CA: `?ssl_ca=<file>&ssl_verify_cert=true`. */
  mariadbConnector: string;
}

export interface MariadbConnection {
  user: string;
  password: string;
  /** Host name or IP address; an IPv6 address is bracketed in the URLs. */
  host: string;
  port: number;
  database: string;
  /** Path, on the client, of the deployment's CA certificate (its `caCertificate` output). */
  caCertificateFile?: string;
}

export function mariadbUrls(c: MariadbConnection): MariadbUrls {
  const host = c.host.includes(":") && !c.host.startsWith("[") ? `[${c.host}]` : c.host;
  const base = `${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${host}:${c.port}/${encodeURIComponent(c.database)}`;
  const ca = c.caCertificateFile === undefined ? undefined : encodeURIComponent(c.caCertificateFile);
  const query = (params: string[]) => (params.length === 0 ? "" : `?${params.join("&")}`);
  return {
    mysql: `mysql://${base}${query(ca ? ["ssl-mode=VERIFY_IDENTITY", `ssl-ca=${ca}`] : [])}`,
    mysqlPymysql: `mysql+pymysql://${base}${query(["charset=utf8mb4", ...(ca ? [`ssl_ca=${ca}`, "ssl_check_hostname=true"] : [])])}`,
    mariadb: `mariadb://${base}${query(ca ? ["sslMode=verify-full", `serverSslCert=${ca}`] : [])}`,
    mariadbConnector: `mariadb+mariadbconnector://${base}${query(ca ? [`ssl_ca=${ca}`, "ssl_verify_cert=true"] : [])}`,
  };
}
