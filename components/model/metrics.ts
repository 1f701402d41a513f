/**
 * Declared metrics of a server deployment (ServerDeploymentArgs.metrics): a Prometheus exporter
 * beside each member (postgres_exporter, mysqld_exporter from the distribution's packages),
 * logging in as the deployment's least-privilege monitoring account (model/monitoring.ts) and
 * answering scrapes that carry a generated basic-auth password. What the deployment tells a
 * Prometheus about them is its `metrics` output (ScrapeTargets).
 */

/** The one exporter of each member of a server deployment. */
export interface ExporterArgs {
  /** Address the exporter listens on, on each member's host (an IP address; "0.0.0.0" for all). Default "127.0.0.1". */
  address?: string;
  /** TCP port of the primary's exporter. Required: never an exporter's default port (9187, 9104), which the packages' own daemons may hold. */
  port: number;
  /**
   * Per standby (by its declared name): its exporter's port on its host. Default: `port` (a
   * standby on the primary's own host must declare one of its own).
   */
  standbyPorts?: Record<string, number>;
  /**
   * How a scrape authenticates: "basic" (a generated password, bcrypt-hashed in the exporter's web
   * configuration, over plain HTTP); "tls" (the same password, over HTTPS: each exporter has its own
   * key, made on its host, and a certificate signed by the deployment's CA). Default "basic".
   */
  auth?: "basic" | "tls";
}

/** What a server deployment declares under `metrics`. */
export interface MetricsArgs {
  /** The exporters: one beside the primary and one beside each standby. */
  exporter: ExporterArgs;
}

/** The environment variable an exporter step receives the scrape (basic-auth) password in. */
export const EXPORTER_PASSWORD_ENV = "DBSTACK_EXPORTER_PASSWORD";

/** One exporter as Prometheus scrapes it. */
export interface ScrapeTarget {
  /** "primary", or the standby's declared name (the `member` label). */
  member: string;
  /** `host:port`. */
  target: string;
}

/** A deployment's scrape targets (its `metrics` output; no secret: the password is the `metricsPassword` output). */
export interface ScrapeTargets {
  /** The Prometheus job, `<engine>-<deployment>`. */
  job: string;
  /** Which exporter answers: postgres_exporter or mysqld_exporter. */
  exporter: "postgres_exporter" | "mysqld_exporter";
  /** "https" with `auth: "tls"`. */
  scheme: "http" | "https";
  metricsPath: "/metrics";
  /** The basic-auth user name of every scrape. */
  username: string;
  targets: ScrapeTarget[];
  /** A ready `scrape_configs` entry (YAML); its password_file is where you keep the `metricsPassword` output. */
  scrapeConfig: string;
  /** With `auth: "tls"`: the deployment's CA certificate (PEM, public), which every exporter's certificate is signed by (the entry's tls_config.ca_file). */
  caCertificate?: string;
}

/** The environment variable an exporter step receives its TLS certificate in (public; its key never leaves its host). */
export const EXPORTER_TLS_CERT_ENV = "DBSTACK_EXPORTER_TLS_CERT";
