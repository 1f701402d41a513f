import { shellQuote, withHeredoc } from "../shell";
import { certificateLifetime, renderCertificateDue, type CertificateLifetime } from "./lifetime";
export { LOCAL_TLS_NAMES } from "../model/naming";

/**
 * A certificate authority per deployment, and each server host's own key and certificate, for
 * any engine (PostgreSQL's components/engines/postgres/tls.ts and MariaDB's
 * components/engines/mariadb/tls.ts both render theirs here). The design:
 *
 * - The CA's private key lives on the primary's host only, root-owned, mode 0600, in a 0700
 *   directory outside the data directory (so no base backup or snapshot copies it). It is never
 *   in the Pulumi state, never on a replica, and never travels.
 * - Every host makes its own key (the service user's, 0600) and sends only its public key; the
 *   primary's host signs a certificate for it naming the host's addresses in subjectAltName, so
 *   clients can verify the server's identity.
 * - A certificate the user gives (DBSTACK_TLS_CERT and DBSTACK_TLS_KEY in the environment) wins.
 *
 * The shell here uses two directory variables the caller's prelude sets (CA_DIR and TLS_DIR by
 * default) and never names an engine. Files: $CA_DIR/ca.key, $CA_DIR/ca.crt,
 * $TLS_DIR/server.key, $TLS_DIR/server.crt, $TLS_DIR/server.names (the subjectAltName issued).
 */

/** The subjectAltName value for `names`: IP:… for addresses, DNS:… for names; wildcards and prefixes dropped. */
export function subjectAltName(names: readonly string[]): string {
  const seen = new Set<string>();
  const entries: string[] = [];
  for (const raw of names) {
    const name = raw.replace(/^\[|\]$/g, "").replace(/\/\d+$/, "");
    if (!name || name === "*" || name === "0.0.0.0" || name === "::") continue;
    if (!/^[A-Za-z0-9.:-]+$/.test(name)) throw new Error(`TLS name ${JSON.stringify(raw)}: expected a host name or IP address`);
    const isIp = /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(":");
    const entry = `${isIp ? "IP" : "DNS"}:${name}`;
    if (!seen.has(entry)) {
      seen.add(entry);
      entries.push(entry);
    }
  }
  return entries.join(",");
}

/** Where the authority's shell keeps things, and whose the host's key is. */
export interface AuthorityShell {
  /** The system user the server runs as; it owns the TLS directory and the host's key. */
  serviceUser: string;
  /** The CA certificate's common name (a fixed text; caNameVar's value, if any, and the host name are appended). */
  caName: string;
  /**
   * A shell variable whose value follows caName in the CA's common name (PostgreSQL: CLUSTER, so
   * each cluster's CA names it). Default: none.
   */
  caNameVar?: string;
  /** The shell variable holding the CA directory. Default "CA_DIR". */
  caDirVar?: string;
  /** The shell variable holding the host's TLS directory. Default "TLS_DIR". */
  tlsDirVar?: string;
  /**
   * Shell words naming the deployment in messages, e.g. "$V/$CLUSTER" (only trusted, rendered
   * text). Default: the messages name the CA's directory, or "the deployment".
   */
  label?: string;
  /**
   * Where the "issued a TLS certificate" line goes. PostgreSQL's configure step reports it on
   * stdout, its configuration report; MariaDB's says it on stderr. Default "stderr".
   */
  issuedReport?: "stdout" | "stderr";
}

/** A shell variable name, checked: it is pasted into the rendered shell. */
function shellVar(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`tls: ${JSON.stringify(name)} is not a shell variable name`);
  return name;
}

/** The shell word of the CA directory ("$CA_DIR"), and of the host's TLS directory ("$TLS_DIR"). */
function dirs(a: AuthorityShell): { ca: string; tls: string } {
  return { ca: `$${shellVar(a.caDirVar ?? "CA_DIR")}`, tls: `$${shellVar(a.tlsDirVar ?? "TLS_DIR")}` };
}

/**
 * Shell functions, defined after the caller's prelude:
 * - `ensure_ca`: creates the CA once (root, key 0600 in a 0700 directory);
 * - `issue_certificate <public key file> <cert file> <CN> <subjectAltName>`: signs a certificate
 *   for a public key with the CA (a throwaway request carries the subject, -force_pubkey puts the
 *   host's key in it; OpenSSL 1.1 and 3 alike);
 * - `ensure_server_key`: makes this host's key once (service user's, 0600);
 * - `public_key_of_key <key>`, `public_key_of_cert <cert>`: PEM public keys, for comparisons;
 * - `certificate_due <cert>`: whether a host's certificate must be issued again (tls/lifetime.ts);
 *   `ca_due <cert>`: the same for the CA's certificate, which ensure_ca renews with the same key.
 * Certificates are issued for `lifetime.certificateDays`, the CA for `lifetime.caDays`.
 */
export function renderAuthorityFunctions(a: AuthorityShell, lifetime: CertificateLifetime = certificateLifetime()): string {
  const { ca, tls } = dirs(a);
  const user = shellQuote(a.serviceUser);
  const cn = [a.caName.replace(/[^A-Za-z0-9 ._-]/g, ""), ...(a.caNameVar ? [`$${shellVar(a.caNameVar)}`] : [])].join(" ");
  return [
    "ensure_ca() {",
    `  install -d -o root -g root -m 0700 "${ca}"`,
    `  if [ ! -s "${ca}/ca.key" ] || [ ! -s "${ca}/ca.crt" ]; then`,
    `    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days ${lifetime.caDays} -sha256 \\`,
    `      -subj "/CN=${cn} on $(hostname)" \\`,
    '      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \\',
    `      -keyout "${ca}/ca.key.tmp" -out "${ca}/ca.crt.tmp" 2>/dev/null`,
    `    chmod 0600 "${ca}/ca.key.tmp"; chmod 0644 "${ca}/ca.crt.tmp"`,
    `    mv -f "${ca}/ca.key.tmp" "${ca}/ca.key"; mv -f "${ca}/ca.crt.tmp" "${ca}/ca.crt"`,
    `    echo "created the certificate authority ${a.label ? `of ${a.label}` : `in ${ca}`}" >&2`,
    `  elif ca_due "${ca}/ca.crt"; then`,
    "    # The same key and subject: certificates it signed, and every holder of the old CA certificate, keep verifying.",
    `    openssl x509 -in "${ca}/ca.crt" -signkey "${ca}/ca.key" -days ${lifetime.caDays} -sha256 -set_serial "0x$(openssl rand -hex 16)" -out "${ca}/ca.crt.tmp" 2>/dev/null`,
    `    chmod 0644 "${ca}/ca.crt.tmp"; mv -f "${ca}/ca.crt.tmp" "${ca}/ca.crt"`,
    `    echo "renewed the certificate authority's certificate ${a.label ? `of ${a.label}` : `in ${ca}`} (same key: what it signed stays valid)" >&2`,
    "  fi",
    "}",
    "issue_certificate() {",
    "  local work; work=$(mktemp -d)",
    '  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$work/throwaway.key" 2>/dev/null',
    '  openssl req -new -key "$work/throwaway.key" -subj "/CN=$3" -out "$work/request.csr"',
    // clientAuth too: an etcd member presents its certificate to its peers as a client (HA, engines/postgres/ha/etcd.ts).
    '  printf \'%s\\n\' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=$4" > "$work/ext"',
    `  openssl x509 -req -in "$work/request.csr" -force_pubkey "$1" -CA "${ca}/ca.crt" -CAkey "${ca}/ca.key" \\`,
    `    -set_serial "0x$(openssl rand -hex 16)" -days ${lifetime.certificateDays} -sha256 -extfile "$work/ext" -out "$2" 2>/dev/null`,
    '  rm -rf "$work"',
    "}",
    "ensure_server_key() {",
    `  install -d -o ${user} -g ${user} -m 0700 "${tls}"`,
    `  if [ ! -s "${tls}/server.key" ]; then`,
    `    (umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "${tls}/server.key" 2>/dev/null)`,
    `    chown ${user}:${user} "${tls}/server.key"; chmod 0600 "${tls}/server.key"`,
    "  fi",
    "}",
    'public_key_of_key() { openssl pkey -in "$1" -pubout 2>/dev/null; }',
    'public_key_of_cert() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }',
    renderCertificateDue(lifetime.certificateDays),
    renderCertificateDue(lifetime.caDays, "ca_due"),
  ].join("\n");
}

/**
 * Read-only, the CA step's probe (after the caller's prelude): exits 0 while the CA certificate is
 * current, non-zero when it is missing or due (within a third of `caDays` of its end, or valid for
 * longer than declared), so the next `up` runs the CA step, which renews it (ensure_ca).
 */
export function renderCaCurrent(a: AuthorityShell, lifetime: CertificateLifetime = certificateLifetime()): string {
  return [renderCertificateDue(lifetime.caDays, "ca_due"), `! ca_due "${dirs(a).ca}/ca.crt"`].join("\n");
}

/**
 * The CA step on the primary's host (after renderAuthorityFunctions): creates the CA if it is
 * missing and prints its certificate (public), and nothing else on stdout.
 */
export function renderPrintCaCertificate(a: AuthorityShell): string {
  return ["ensure_ca", `cat "${dirs(a).ca}/ca.crt"`].join("\n");
}

/**
 * The key step on a replica's host (after renderAuthorityFunctions): makes the host's key once
 * and prints only its public key, for the primary's host to sign (renderSignPublicKey).
 */
export function renderPrintHostPublicKey(a: AuthorityShell): string {
  return ["ensure_server_key", `public_key_of_key "${dirs(a).tls}/server.key"`].join("\n");
}

/**
 * Signs a public key sent by another host (after renderAuthorityFunctions and the caller's
 * prelude; creates the CA if it is missing): prints the certificate, and nothing else on stdout.
 */
export function renderSignPublicKey(host: { name: string; publicKey: string; names: string[] }): string {
  return [
    "ensure_ca",
    "work=$(mktemp -d); trap 'rm -rf \"$work\"' EXIT",
    withHeredoc('cat > "$work/host.pub"', host.publicKey, "DBSTACK_PUBLIC_KEY"),
    `openssl pkey -pubin -in "$work/host.pub" -noout 2>/dev/null || { echo ${shellQuote(`${host.name} sent no valid public key`)} >&2; exit 1; }`,
    `issue_certificate "$work/host.pub" "$work/host.crt" ${shellQuote(host.names[0] ?? host.name)} ${shellQuote(subjectAltName(host.names))}`,
    'cat "$work/host.crt"',
  ].join("\n");
}

/** What a host's certificate block installs. */
export interface ServerCertificateSpec {
  /** Host names and addresses the certificate is valid for (subjectAltName). */
  names: string[];
  /**
   * A certificate the primary's CA signed for this host's key (a replica's). Absent: this host
   * holds the CA (the primary) and signs its own.
   */
  certificate?: string;
  /** Lifetimes of the certificates issued (tls/lifetime.ts). Default: DEFAULTS.server.certificateLifetime. */
  lifetime?: CertificateLifetime;
}

/**
 * Puts this host's key and certificate in $TLS_DIR (server.key 0600, server.crt 0644, both the
 * service user's), after renderAuthorityFunctions:
 * - DBSTACK_TLS_CERT and DBSTACK_TLS_KEY in the environment: the user's own certificate and key;
 * - otherwise, without `certificate` (the primary): a key made once here and a certificate signed
 *   by the CA, issued again when the names change, the CA does not verify it, the key changed, or
 *   it is due for renewal (certificate_due: near its end, or valid for longer than declared);
 * - with `certificate` (a replica): its own key and that certificate, which must match the key.
 * Sets `tls_changed=yes` when it wrote a new certificate (a running server reloads it).
 */
export function renderServerCertificate(spec: ServerCertificateSpec, a: AuthorityShell): string {
  const { ca, tls } = dirs(a);
  const issued = a.label
    ? `echo "issued a TLS certificate for ${a.label} signed by its CA ($want)"`
    : `echo "issued a TLS certificate signed by the deployment's CA ($want)"`;
  const user = shellQuote(a.serviceUser);
  const san = subjectAltName(spec.names);
  const lines = [
    "tls_changed=no",
    `install -d -o ${user} -g ${user} -m 0700 "${tls}"`,
    'if [ -n "${DBSTACK_TLS_CERT:-}" ]; then',
    '  [ -n "${DBSTACK_TLS_KEY:-}" ] || { echo "DBSTACK_TLS_CERT is set without DBSTACK_TLS_KEY" >&2; exit 1; }',
    `  printf '%s\\n' "$DBSTACK_TLS_CERT" > "${tls}/server.crt.new"; (umask 077; printf '%s\\n' "$DBSTACK_TLS_KEY" > "${tls}/server.key.new")`,
    `  if ! cmp -s "${tls}/server.crt.new" "${tls}/server.crt" || ! cmp -s "${tls}/server.key.new" "${tls}/server.key"; then tls_changed=yes; fi`,
    `  mv -f "${tls}/server.crt.new" "${tls}/server.crt"; mv -f "${tls}/server.key.new" "${tls}/server.key"`,
    `  rm -f "${tls}/server.names"`,
  ];
  if (spec.certificate === undefined) {
    lines.push(
      "else",
      "  ensure_ca",
      "  ensure_server_key",
      `  want=${shellQuote(san)}`,
      `  if [ ! -s "${tls}/server.crt" ] || [ "$(cat "${tls}/server.names" 2>/dev/null)" != "$want" ] \\`,
      `      || ! openssl verify -CAfile "${ca}/ca.crt" "${tls}/server.crt" >/dev/null 2>&1 \\`,
      `      || [ "$(public_key_of_cert "${tls}/server.crt")" != "$(public_key_of_key "${tls}/server.key")" ] \\`,
      `      || certificate_due "${tls}/server.crt"; then`,
      `    public_key_of_key "${tls}/server.key" > "${tls}/server.pub"`,
      `    issue_certificate "${tls}/server.pub" "${tls}/server.crt" ${shellQuote(spec.names[0] ?? "localhost")} "$want"`,
      `    rm -f "${tls}/server.pub"; printf '%s' "$want" > "${tls}/server.names"`,
      `    ${issued}${a.issuedReport === "stdout" ? "" : " >&2"}`,
      "    tls_changed=yes",
      "  fi",
    );
  } else {
    lines.push(
      "else",
      `  [ -s "${tls}/server.key" ] || { echo "this host has no TLS key in ${tls} (its key step did not run): run up again" >&2; exit 1; }`,
      // (A here-document's end tag must start its line: not indented.)
      withHeredoc(`cat > "${tls}/server.crt.new"`, spec.certificate, "DBSTACK_CERTIFICATE"),
      `  if [ "$(public_key_of_cert "${tls}/server.crt.new")" != "$(public_key_of_key "${tls}/server.key")" ]; then`,
      `    rm -f "${tls}/server.crt.new"`,
      `    echo "the certificate signed for this host does not match its key in ${tls}/server.key (was the key replaced?)" >&2; exit 1`,
      "  fi",
      `  cmp -s "${tls}/server.crt.new" "${tls}/server.crt" || tls_changed=yes`,
      `  mv -f "${tls}/server.crt.new" "${tls}/server.crt"`,
      `  printf '%s' ${shellQuote(san)} > "${tls}/server.names"`,
    );
  }
  lines.push(
    "fi",
    `chown ${user}:${user} "${tls}/server.crt" "${tls}/server.key"; chmod 0644 "${tls}/server.crt"; chmod 0600 "${tls}/server.key"`,
  );
  return lines.join("\n");
}
