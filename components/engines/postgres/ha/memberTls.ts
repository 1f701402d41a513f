/**
 * Each HA member's own TLS key and certificate (etcd's and Patroni's PostgreSQL), on
 * components/tls/authority.ts: the member makes its key on its host and sends only its public key;
 * the deployment's CA signs it on the primary's host (renderSignStandbyCertificate); the member
 * step installs the certificate, which must match its key.
 */
import { scriptHeader, shellQuote, withHeredoc } from "../../../shell";
import { renderAuthorityFunctions, renderPrintHostPublicKey, renderServerCertificate, type AuthorityShell } from "../../../tls/authority";

/**
 * The names a member's certificate is valid for: its address, and the local names its own daemon
 * and Patroni's local checks connect to (with sslmode=verify-full).
 */
export function memberTlsNames(address: string): string[] {
  return [address, "localhost", "127.0.0.1"];
}

/** The authority's shell for a member's home: its key and certificate in $HOME_DIR/tls, owned by the daemon's user. */
export function memberAuthority(serviceUser: string): AuthorityShell {
  return { serviceUser, caName: "dbstack CA", caDirVar: "NO_CA_DIR", tlsDirVar: "TLS_DIR", label: "$HOME_DIR" };
}

/** The prelude of a member's TLS: its home, TLS directory, and the authority's functions (no CA here). */
export function renderMemberTlsPrelude(home: string, serviceUser: string): string {
  return [
    `HOME_DIR=${shellQuote(home)}`,
    'TLS_DIR="$HOME_DIR/tls"',
    'NO_CA_DIR="$HOME_DIR/no-ca" # members hold no CA: their certificates are signed on the primary\'s host',
    `install -d -o root -g root -m 0755 "$HOME_DIR"`,
    renderAuthorityFunctions(memberAuthority(serviceUser)),
  ].join("\n");
}

/** On the member's host: makes its key once and prints only its public key. */
export function renderMemberKey(what: string, home: string, serviceUser: string): string {
  return [scriptHeader(`TLS key of ${what}: made on this host, only its public key leaves it.`), renderMemberTlsPrelude(home, serviceUser), renderPrintHostPublicKey(memberAuthority(serviceUser))].join("\n") + "\n";
}

/**
 * The member step's TLS block (after renderMemberTlsPrelude): installs the certificate signed for
 * its key, and the CA certificate it verifies its peers with ($HOME_DIR/ca.crt, public).
 */
export function renderInstallMemberCertificate(serviceUser: string, certificate: string, caCertificate: string, names: string[]): string {
  return [
    renderServerCertificate({ names, certificate }, memberAuthority(serviceUser)),
    withHeredoc('cat > "$HOME_DIR/ca.crt.dbstack-tmp"', caCertificate, "DBSTACK_CA_CERTIFICATE"),
    'chmod 0644 "$HOME_DIR/ca.crt.dbstack-tmp"; mv -f "$HOME_DIR/ca.crt.dbstack-tmp" "$HOME_DIR/ca.crt"',
  ].join("\n");
}
