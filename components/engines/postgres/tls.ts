import { scriptHeader } from "../../shell";
import { renderAuthorityFunctions, renderCaCurrent, renderPrintCaCertificate, renderPrintHostPublicKey, renderServerCertificate, renderSignPublicKey, type AuthorityShell, type ServerCertificateSpec } from "../../tls/authority";
import type { CertificateLifetime } from "../../tls/lifetime";
import { renderClusterPrelude, type ClusterLocation } from "./host";

/**
 * TLS for a PostgreSQL deployment, on components/tls/authority.ts (shared with MariaDB): a
 * certificate authority per cluster, and on every host (the primary and each standby) its own key
 * and a certificate signed by that CA naming the host's addresses in subjectAltName, so that
 * clients can use sslmode=verify-full.
 *
 * Where the CA's private key lives: on the primary's host only, root-owned, mode 0600, in
 * `$CONF_DIR/dbstack-ca/` (outside the data directory, so pg_basebackup never copies it). It is
 * never in the Pulumi state, never on a standby, and never travels: a standby makes its own key,
 * sends only its public key, and gets back a certificate the primary's host signed. Keeping it in
 * the state instead would put a key that can impersonate every host of the cluster in every state
 * backup and on every machine that runs `pulumi up`, and would send it to each standby to sign.
 *
 * Each host's key is in `$CONF_DIR/dbstack-tls/` (postgres, 0600), outside the data directory
 * for the same reason: the primary's key never reaches a standby. (dbstack up to this change kept
 * the key in the data directory, where pg_basebackup copied it; those files are removed.)
 */

/** What a host's TLS block does. */
export type ServerTlsSpec = ServerCertificateSpec;

export { LOCAL_TLS_NAMES, subjectAltName } from "../../tls/authority";

/**
 * The cluster's place on components/tls/authority.ts: the CA is named after the cluster, the
 * host's key is postgres's, and messages name the cluster ($V/$CLUSTER). The configure step
 * reports an issued certificate on stdout, with its other changes.
 */
const AUTHORITY: AuthorityShell = {
  serviceUser: "postgres",
  caName: "dbstack CA of PostgreSQL cluster",
  caNameVar: "CLUSTER",
  label: "$V/$CLUSTER",
  issuedReport: "stdout",
};

/**
 * Shell of the TLS scripts (after the cluster prelude): the CA and key directories, then the
 * authority's functions (ensure_ca, issue_certificate, ensure_server_key, public_key_of_*).
 */
function renderTlsFunctions(lifetime?: CertificateLifetime): string {
  return [TLS_DIRS, renderAuthorityFunctions(AUTHORITY, lifetime)].join("\n");
}

/** Where the cluster's CA and the host's key are (after the cluster prelude). */
const TLS_DIRS = 'CA_DIR="$CONF_DIR/dbstack-ca"; TLS_DIR="$CONF_DIR/dbstack-tls"';

/** Read-only, the CA step's probe: exits 0 while the cluster's CA certificate is current (tls/authority.ts renderCaCurrent). */
export function renderClusterCaProbe(loc: ClusterLocation, lifetime?: CertificateLifetime): string {
  return [renderClusterPrelude(loc), TLS_DIRS, renderCaCurrent(AUTHORITY, lifetime)].join("\n") + "\n";
}

/**
 * On the primary: creates the cluster's CA if it does not exist, and prints its certificate (the
 * deployment's `caCertificate` output, public).
 */
export function renderClusterCa(loc: ClusterLocation, lifetime?: CertificateLifetime): string {
  return [
    scriptHeader(`Certificate authority of PostgreSQL cluster ${loc.cluster}.`),
    renderClusterPrelude(loc),
    'cluster_exists || { echo "cluster $V/$CLUSTER does not exist" >&2; exit 1; }',
    renderTlsFunctions(lifetime),
    renderPrintCaCertificate(AUTHORITY),
  ].join("\n");
}

/** On a standby: makes the host's own key once, and prints its public key (for the primary to sign). */
export function renderStandbyKey(loc: ClusterLocation): string {
  return [
    scriptHeader(`TLS key of PostgreSQL standby ${loc.cluster}: made on this host, only its public key leaves it.`),
    renderClusterPrelude(loc),
    'cluster_exists || { echo "cluster $V/$CLUSTER does not exist" >&2; exit 1; }',
    renderTlsFunctions(),
    renderPrintHostPublicKey(AUTHORITY),
  ].join("\n");
}

/** On the primary: signs a standby's public key with the cluster's CA; prints the certificate. */
export function renderSignStandbyCertificate(primary: ClusterLocation, standby: { name: string; publicKey: string; names: string[]; lifetime?: CertificateLifetime }): string {
  return [
    scriptHeader(`TLS certificate of standby ${standby.name}, signed by the CA of PostgreSQL cluster ${primary.cluster}.`),
    renderClusterPrelude(primary),
    'cluster_exists || { echo "cluster $V/$CLUSTER does not exist" >&2; exit 1; }',
    renderTlsFunctions(standby.lifetime),
    renderSignPublicKey(standby),
  ].join("\n");
}

/**
 * The TLS block of the configuration script (after the cluster prelude, before the
 * configuration is applied): installs the host's certificate and key and points PostgreSQL at
 * them (conf.d/06-dbstack-tls.conf, absolute paths).
 *
 * - DBSTACK_TLS_CERT and DBSTACK_TLS_KEY in the environment: the user's own certificate and key
 *   (the certificate without the key is refused).
 * - Otherwise, on the primary (no `certificate`): a key made once on this host, and a
 *   certificate signed by the cluster's CA, issued again when the names change, the CA does
 *   not verify it or it is not for the host's key.
 * - On a standby (`certificate` given): its own key (renderStandbyKey) and that certificate.
 */
export function renderServerTls(spec: ServerTlsSpec): string {
  return [
    "# TLS: this host's own key and certificate (see components/tls/authority.ts).",
    renderTlsFunctions(spec.lifetime),
    renderServerCertificate(spec, AUTHORITY),
    `printf "ssl_cert_file = '%s'\\nssl_key_file = '%s'\\n" "$TLS_DIR/server.crt" "$TLS_DIR/server.key" > "$CONF_DIR/conf.d/06-dbstack-tls.conf"`,
    'chown postgres:postgres "$CONF_DIR/conf.d/06-dbstack-tls.conf"; chmod 0644 "$CONF_DIR/conf.d/06-dbstack-tls.conf"',
    "# Earlier versions kept the key in the data directory, which pg_basebackup copies to standbys.",
    'rm -f "$DATA_DIR/dbstack-server.crt" "$DATA_DIR/dbstack-server.key"',
  ].join("\n");
}
