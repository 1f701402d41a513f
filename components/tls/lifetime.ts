import { X509Certificate } from "crypto";
import { DEFAULTS } from "../model/defaults";

/**
 * How long the certificates dbstack issues live, and when `up` issues a host's certificate again.
 *
 * A certificate that never expires (dbstack's first ones lasted ten years) stays valid after its
 * key leaked or the host was retired; one that expires unnoticed stops replication and every
 * verify-full client at once. So host certificates are short (a year by default) and renewed by
 * `up` well before they expire: when less than a third of the declared lifetime remains. A
 * certificate valid for longer than declared (a lifetime shortened, or one of the old ten-year
 * certificates) is issued again too. The CA lives longer than any certificate it signs.
 *
 * The decision is made twice, by the same rule: here as a pure function (what the unit tests
 * pin), and on the host by `certificate_due` (rendered below from the same numbers), where the
 * certificate is.
 *
 * The CA certificate follows the same rule with its own lifetime (`caDays`), checked by the CA
 * step's probe at every `up`; it is renewed with the same key and subject, so every certificate
 * it signed, and every client or standby that holds the old CA certificate, keeps verifying.
 */

export interface CertificateLifetime {
  /** Days a host's certificate is valid. */
  certificateDays: number;
  /** Days the deployment's CA certificate is valid. */
  caDays: number;
}

const DAY = 86_400;

/** The declared lifetime with the defaults filled in. */
export function certificateLifetime(declared?: { certificateDays?: number; caDays?: number }): CertificateLifetime {
  return {
    certificateDays: declared?.certificateDays ?? DEFAULTS.server.certificateLifetime.certificateDays,
    caDays: declared?.caDays ?? DEFAULTS.server.certificateLifetime.caDays,
  };
}

/** Seconds before its end in which a certificate is renewed: a third of its declared lifetime. */
export function renewalWindowSeconds(certificateDays: number): number {
  return Math.floor((certificateDays * DAY) / 3);
}

/** Why a host's certificate must be issued again at `now`, or undefined when it is current. */
export function certificateRenewalReason(
  cert: { notBefore: Date; notAfter: Date } | undefined,
  now: Date,
  certificateDays: number,
): "missing" | "expires within the renewal window" | "valid for longer than declared" | undefined {
  if (!cert) return "missing";
  const remaining = (cert.notAfter.getTime() - now.getTime()) / 1000;
  if (remaining < renewalWindowSeconds(certificateDays)) return "expires within the renewal window";
  if ((cert.notAfter.getTime() - cert.notBefore.getTime()) / 1000 > certificateDays * DAY) return "valid for longer than declared";
  return undefined;
}

/** Whether a host's certificate must be issued again at `now` (certificateRenewalReason says why). */
export function certificateRenewalDue(cert: { notBefore: Date; notAfter: Date } | undefined, now: Date, certificateDays: number): boolean {
  return certificateRenewalReason(cert, now, certificateDays) !== undefined;
}

/**
 * The renewal period `now` falls in: it changes every renewal window. A step that signs a
 * certificate for another host (a standby's, on the primary's host, where that certificate is
 * not) carries it as a trigger, so it signs again once per window: the certificate it hands
 * out always has at least two thirds of its lifetime left when issued, and is replaced before a
 * third remains as long as `up` runs at least once per window.
 */
export function renewalPeriod(now: Date, certificateDays: number): number {
  return Math.floor(now.getTime() / 1000 / renewalWindowSeconds(certificateDays));
}

/**
 * Shell: `certificate_due <cert file>` (or the function `name`) exits 0 when the certificate must
 * be issued again (missing, unreadable, ending within the renewal window, or valid for longer than
 * declared): certificateRenewalReason on the host, for a lifetime of `certificateDays`.
 */
export function renderCertificateDue(certificateDays: number, name = "certificate_due"): string {
  return [
    `${name}() {`,
    '  [ -s "$1" ] || return 0',
    `  openssl x509 -in "$1" -noout -checkend ${renewalWindowSeconds(certificateDays)} >/dev/null 2>&1 || return 0`,
    "  local start end",
    '  start=$(date -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s) || return 0',
    '  end=$(date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s) || return 0',
    `  [ $((end - start)) -gt ${certificateDays * DAY} ]`,
    "}",
  ].join("\n");
}

/** Days before its end from which a certificate the user gives (`tls`) draws a warning at every preview and up. */
export const DECLARED_CERTIFICATE_WARNING_DAYS = 30;

/**
 * What `up` says about a certificate the user gives (`tls.certificate`), which dbstack cannot
 * renew (it does not hold the CA that signed it): an error once it has expired (every client that
 * verifies would refuse the server), a warning within DECLARED_CERTIFICATE_WARNING_DAYS of its
 * end, nothing otherwise. A value that is not a PEM certificate is left to the configure step.
 */
export function declaredCertificateNotice(pem: string, now: Date): { error?: string; warning?: string } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return {};
  }
  const end = new Date(cert.validTo);
  const days = Math.floor((end.getTime() - now.getTime()) / 1000 / DAY);
  const renew = "dbstack cannot renew a certificate it did not issue: give a current one, or leave `tls` out and dbstack issues and renews its own";
  if (end.getTime() <= now.getTime()) return { error: `tls.certificate: expired on ${end.toISOString()}; ${renew}` };
  if (days < DECLARED_CERTIFICATE_WARNING_DAYS) return { warning: `tls.certificate: expires on ${end.toISOString()} (in ${days} days); ${renew}` };
  return {};
}
