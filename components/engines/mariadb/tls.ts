import { scriptHeader, withHeredoc } from "../../shell";
import { renderAuthorityFunctions, renderCaCurrent, renderPrintCaCertificate, renderPrintHostPublicKey, renderServerCertificate, renderSignPublicKey, type AuthorityShell } from "../../tls/authority";
import type { CertificateLifetime } from "../../tls/lifetime";
import { renderInstancePrelude, type MariadbLocation } from "./host";

/**
 * TLS of a MariaDB deployment, on components/tls/authority.ts (the design is described there):
 * a CA per deployment in the primary's $CA_DIR (root, 0700), and on every host its own key and a
 * certificate in the instance's $TLS_DIR (mysql, 0700): server.key, server.crt, and ca.crt (the
 * CA certificate, the option file's ssl_ca). Both directories are in the instance's config
 * directory, outside the data directory, so a dump or a copy of the data never carries a key.
 */

function authority(): AuthorityShell {
  return { serviceUser: "mysql", caName: "dbstack CA of MariaDB instance" };
}

/** What the configure step's TLS block installs on a host. */
export interface InstanceTlsSpec {
  /** Host names and addresses the certificate is valid for (subjectAltName); the first is its CN. */
  names: string[];
  /** A replica's certificate, signed by the primary's CA (renderSignStandbyCertificate). Absent on the primary. */
  certificate?: string;
  /** The deployment's CA certificate (renderInstanceCa's output); needed with `certificate`. */
  caCertificate?: string;
  /** Lifetimes of the certificates issued (tls/lifetime.ts). Default: DEFAULTS.server.certificateLifetime. */
  lifetime?: CertificateLifetime;
}

/** On the primary: creates the deployment's CA if it does not exist; prints its certificate (public). */
export function renderInstanceCa(loc: MariadbLocation, lifetime?: CertificateLifetime): string {
  return [
    scriptHeader(`Certificate authority of MariaDB instance ${loc.instance}.`),
    renderInstancePrelude(loc),
    '(umask 022; mkdir -p "$CONF_DIR")',
    renderAuthorityFunctions(authority(), lifetime),
    renderPrintCaCertificate(authority()),
  ].join("\n");
}

/** Read-only, the CA step's probe: exits 0 while the instance's CA certificate is current (tls/authority.ts renderCaCurrent). */
export function renderInstanceCaProbe(loc: MariadbLocation, lifetime?: CertificateLifetime): string {
  return [renderInstancePrelude(loc), renderCaCurrent(authority(), lifetime)].join("\n") + "\n";
}

/** On a replica's host: makes the host's own key once; prints its public key (for the primary to sign). */
export function renderStandbyKey(loc: MariadbLocation): string {
  return [
    scriptHeader(`TLS key of MariaDB replica ${loc.instance}: made on this host, only its public key leaves it.`),
    renderInstancePrelude(loc),
    '(umask 022; mkdir -p "$CONF_DIR")',
    renderAuthorityFunctions(authority()),
    renderPrintHostPublicKey(authority()),
  ].join("\n");
}

/** On the primary: signs a replica's public key with the deployment's CA; prints the certificate. */
export function renderSignStandbyCertificate(primary: MariadbLocation, r: { name: string; publicKey: string; names: string[]; lifetime?: CertificateLifetime }): string {
  return [
    scriptHeader(`TLS certificate of replica ${r.name}, signed by the CA of MariaDB instance ${primary.instance}.`),
    renderInstancePrelude(primary),
    renderAuthorityFunctions(authority(), r.lifetime),
    renderSignPublicKey(r),
  ].join("\n");
}

/**
 * The TLS block of the configure step (after the instance prelude, before the option file is
 * checked): puts server.key, server.crt and ca.crt in $TLS_DIR. DBSTACK_TLS_CERT and
 * DBSTACK_TLS_KEY in the environment win (with DBSTACK_TLS_CA, the CA that signed them, when
 * given; otherwise the certificate itself is the ssl_ca). Sets tls_changed=yes when a file
 * changed, so a running server reloads them (FLUSH SSL).
 */
export function renderInstanceTls(spec: InstanceTlsSpec): string {
  if (spec.certificate !== undefined && spec.caCertificate === undefined) {
    throw new Error("tls: a replica's certificate needs the deployment's CA certificate (caCertificate)");
  }
  const caBlock =
    spec.caCertificate === undefined
      ? ['  cp "$CA_DIR/ca.crt" "$TLS_DIR/ca.crt.new"']
      : [withHeredoc('cat > "$TLS_DIR/ca.crt.new"', spec.caCertificate, "DBSTACK_CA_CERTIFICATE")];
  return [
    "# TLS: this host's own key and certificate (see components/tls/authority.ts).",
    renderAuthorityFunctions(authority(), spec.lifetime),
    renderServerCertificate({ names: spec.names, certificate: spec.certificate }, authority()),
    'if [ -n "${DBSTACK_TLS_CERT:-}" ]; then',
    '  printf \'%s\\n\' "${DBSTACK_TLS_CA:-$DBSTACK_TLS_CERT}" > "$TLS_DIR/ca.crt.new"',
    "else",
    ...caBlock,
    "fi",
    'cmp -s "$TLS_DIR/ca.crt.new" "$TLS_DIR/ca.crt" || tls_changed=yes',
    'mv -f "$TLS_DIR/ca.crt.new" "$TLS_DIR/ca.crt"',
    'chown mysql:mysql "$TLS_DIR/ca.crt"; chmod 0644 "$TLS_DIR/ca.crt"',
  ].join("\n");
}
