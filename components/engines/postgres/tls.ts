import { scriptHeader, shellQuote, withHeredoc } from "../../shell";
import { renderClusterPrelude, type ClusterLocation } from "./host";

/**
 * TLS for a PostgreSQL deployment: a certificate authority per cluster, and on every host (the
 * primary and each standby) its own key and a certificate signed by that CA naming the host's
 * addresses in subjectAltName, so that clients can use sslmode=verify-full.
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
export interface ServerTlsSpec {
  /** Host names and addresses the certificate is valid for (subjectAltName). */
  names: string[];
  /**
   * A certificate the primary's CA signed for this host's key (a standby's). Absent: the host
   * holds the CA (the primary) and signs its own certificate.
   */
  certificate?: string;
}

/** The subjectAltName value for `names`: IP:… for addresses, DNS:… for names; wildcards dropped. */
export function subjectAltName(names: readonly string[]): string {
  const seen = new Set<string>();
  const entries: string[] = [];
  for (const raw of names) {
    const name = raw.replace(/^\[|\]$/g, "").replace(/\/\d+$/, "");
    if (!name || name === "*" || name === "0.0.0.0" || name === "::") continue;
    const isIp = /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(":");
    const entry = `${isIp ? "IP" : "DNS"}:${name}`;
    if (!/^[A-Za-z0-9.:-]+$/.test(name)) throw new Error(`TLS name ${JSON.stringify(raw)}: expected a host name or IP address`);
    if (!seen.has(entry)) {
      seen.add(entry);
      entries.push(entry);
    }
  }
  return entries.join(",");
}

export { LOCAL_TLS_NAMES } from "../../model/naming";

/**
 * Shell functions of the TLS scripts (after the cluster prelude): paths, `ensure_ca` (creates the
 * cluster's CA once) and `issue_certificate <public key file> <cert file> <CN> <subjectAltName>`,
 * which signs a certificate for a public key with the CA. OpenSSL 1.1 and 3 both: a throwaway
 * request carries the subject, -force_pubkey puts the host's key in the certificate.
 */
function renderTlsFunctions(): string {
  return [
    'CA_DIR="$CONF_DIR/dbstack-ca"',
    'TLS_DIR="$CONF_DIR/dbstack-tls"',
    "ensure_ca() {",
    '  install -d -o root -g root -m 0700 "$CA_DIR"',
    '  if [ ! -s "$CA_DIR/ca.key" ] || [ ! -s "$CA_DIR/ca.crt" ]; then',
    '    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 3650 -sha256 \\',
    '      -subj "/CN=dbstack CA of PostgreSQL cluster $CLUSTER on $(hostname)" \\',
    '      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \\',
    '      -keyout "$CA_DIR/ca.key.tmp" -out "$CA_DIR/ca.crt.tmp" 2>/dev/null',
    '    chmod 0600 "$CA_DIR/ca.key.tmp"; chmod 0644 "$CA_DIR/ca.crt.tmp"',
    '    mv -f "$CA_DIR/ca.key.tmp" "$CA_DIR/ca.key"; mv -f "$CA_DIR/ca.crt.tmp" "$CA_DIR/ca.crt"',
    '    echo "created the certificate authority of $V/$CLUSTER" >&2',
    "  fi",
    "}",
    "issue_certificate() {",
    "  local work; work=$(mktemp -d)",
    '  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$work/throwaway.key" 2>/dev/null',
    '  openssl req -new -key "$work/throwaway.key" -subj "/CN=$3" -out "$work/request.csr"',
    '  printf \'%s\\n\' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" "subjectAltName=$4" > "$work/ext"',
    '  openssl x509 -req -in "$work/request.csr" -force_pubkey "$1" -CA "$CA_DIR/ca.crt" -CAkey "$CA_DIR/ca.key" \\',
    '    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 -extfile "$work/ext" -out "$2" 2>/dev/null',
    '  rm -rf "$work"',
    "}",
    "ensure_server_key() {",
    '  install -d -o postgres -g postgres -m 0700 "$TLS_DIR"',
    '  if [ ! -s "$TLS_DIR/server.key" ]; then',
    '    (umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$TLS_DIR/server.key" 2>/dev/null)',
    '    chown postgres:postgres "$TLS_DIR/server.key"; chmod 0600 "$TLS_DIR/server.key"',
    "  fi",
    "}",
    'public_key_of_key() { openssl pkey -in "$1" -pubout 2>/dev/null; }',
    'public_key_of_cert() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }',
  ].join("\n");
}

/**
 * On the primary: creates the cluster's CA if it does not exist, and prints its certificate (the
 * deployment's `caCertificate` output, public).
 */
export function renderClusterCa(loc: ClusterLocation): string {
  return [
    scriptHeader(`Certificate authority of PostgreSQL cluster ${loc.cluster}.`),
    renderClusterPrelude(loc),
    'cluster_exists || { echo "cluster $V/$CLUSTER does not exist" >&2; exit 1; }',
    renderTlsFunctions(),
    "ensure_ca",
    'cat "$CA_DIR/ca.crt"',
  ].join("\n");
}

/** On a standby: makes the host's own key once, and prints its public key (for the primary to sign). */
export function renderStandbyKey(loc: ClusterLocation): string {
  return [
    scriptHeader(`TLS key of PostgreSQL standby ${loc.cluster}: made on this host, only its public key leaves it.`),
    renderClusterPrelude(loc),
    'cluster_exists || { echo "cluster $V/$CLUSTER does not exist" >&2; exit 1; }',
    renderTlsFunctions(),
    "ensure_server_key",
    'public_key_of_key "$TLS_DIR/server.key"',
  ].join("\n");
}

/** On the primary: signs a standby's public key with the cluster's CA; prints the certificate. */
export function renderSignStandbyCertificate(primary: ClusterLocation, standby: { name: string; publicKey: string; names: string[] }): string {
  return [
    scriptHeader(`TLS certificate of standby ${standby.name}, signed by the CA of PostgreSQL cluster ${primary.cluster}.`),
    renderClusterPrelude(primary),
    'cluster_exists || { echo "cluster $V/$CLUSTER does not exist" >&2; exit 1; }',
    renderTlsFunctions(),
    "ensure_ca",
    "work=$(mktemp -d); trap 'rm -rf \"$work\"' EXIT",
    withHeredoc('cat > "$work/standby.pub"', standby.publicKey, "DBSTACK_PUBLIC_KEY"),
    'openssl pkey -pubin -in "$work/standby.pub" -noout 2>/dev/null || { echo "the standby sent no valid public key" >&2; exit 1; }',
    `issue_certificate "$work/standby.pub" "$work/standby.crt" ${shellQuote(standby.names[0] ?? standby.name)} ${shellQuote(subjectAltName(standby.names))}`,
    'cat "$work/standby.crt"',
  ].join("\n");
}

/**
 * The TLS block of the configuration script (after the cluster prelude, before the
 * configuration is applied): installs the host's certificate and key and points PostgreSQL at
 * them (conf.d/06-dbstack-tls.conf, absolute paths).
 *
 * - DBSTACK_TLS_CERT and DBSTACK_TLS_KEY in the environment: the user's own certificate and key.
 * - Otherwise, on the primary (no `certificate`): a key made once on this host, and a
 *   certificate signed by the cluster's CA, issued again when the names change or the CA does
 *   not verify it.
 * - On a standby (`certificate` given): its own key (renderStandbyKey) and that certificate.
 */
export function renderServerTls(spec: ServerTlsSpec): string {
  const san = subjectAltName(spec.names);
  const cn = shellQuote(spec.names[0] ?? "localhost");
  const lines = [
    "# TLS: this host's own key and certificate (see components/engines/postgres/tls.ts).",
    renderTlsFunctions(),
    'install -d -o postgres -g postgres -m 0700 "$TLS_DIR"',
    'if [ -n "${DBSTACK_TLS_CERT:-}" ]; then',
    '  printf \'%s\\n\' "$DBSTACK_TLS_CERT" > "$TLS_DIR/server.crt"; (umask 077; printf \'%s\\n\' "$DBSTACK_TLS_KEY" > "$TLS_DIR/server.key")',
    '  rm -f "$TLS_DIR/server.names"',
  ];
  if (spec.certificate === undefined) {
    lines.push(
      "else",
      "  ensure_ca",
      "  ensure_server_key",
      `  want=${shellQuote(san)}`,
      '  if [ ! -s "$TLS_DIR/server.crt" ] || [ "$(cat "$TLS_DIR/server.names" 2>/dev/null)" != "$want" ] \\',
      '      || ! openssl verify -CAfile "$CA_DIR/ca.crt" "$TLS_DIR/server.crt" >/dev/null 2>&1 \\',
      '      || [ "$(public_key_of_cert "$TLS_DIR/server.crt")" != "$(public_key_of_key "$TLS_DIR/server.key")" ]; then',
      '    public_key_of_key "$TLS_DIR/server.key" > "$TLS_DIR/server.pub"',
      `    issue_certificate "$TLS_DIR/server.pub" "$TLS_DIR/server.crt" ${cn} "$want"`,
      '    rm -f "$TLS_DIR/server.pub"; printf \'%s\' "$want" > "$TLS_DIR/server.names"',
      '    echo "issued a TLS certificate for $V/$CLUSTER signed by its CA ($want)"',
      "  fi",
    );
  } else {
    lines.push(
      "else",
      '  [ -s "$TLS_DIR/server.key" ] || { echo "this standby has no TLS key in $TLS_DIR (its key step did not run): run up again" >&2; exit 1; }',
      // (A here-document's end tag must start its line: not indented.)
      withHeredoc('cat > "$TLS_DIR/server.crt.new"', spec.certificate, "DBSTACK_CERTIFICATE"),
      '  if [ "$(public_key_of_cert "$TLS_DIR/server.crt.new")" != "$(public_key_of_key "$TLS_DIR/server.key")" ]; then',
      '    rm -f "$TLS_DIR/server.crt.new"',
      '    echo "the certificate signed for this standby does not match its key in $TLS_DIR/server.key (was the key replaced?)" >&2; exit 1',
      "  fi",
      '  mv -f "$TLS_DIR/server.crt.new" "$TLS_DIR/server.crt"',
      `  printf '%s' ${shellQuote(san)} > "$TLS_DIR/server.names"`,
    );
  }
  lines.push(
    "fi",
    'chown postgres:postgres "$TLS_DIR/server.crt" "$TLS_DIR/server.key"; chmod 0644 "$TLS_DIR/server.crt"; chmod 0600 "$TLS_DIR/server.key"',
    `printf "ssl_cert_file = '%s'\\nssl_key_file = '%s'\\n" "$TLS_DIR/server.crt" "$TLS_DIR/server.key" > "$CONF_DIR/conf.d/06-dbstack-tls.conf"`,
    'chown postgres:postgres "$CONF_DIR/conf.d/06-dbstack-tls.conf"; chmod 0644 "$CONF_DIR/conf.d/06-dbstack-tls.conf"',
    "# Earlier versions kept the key in the data directory, which pg_basebackup copies to standbys.",
    'rm -f "$DATA_DIR/dbstack-server.crt" "$DATA_DIR/dbstack-server.key"',
  );
  return lines.join("\n");
}
