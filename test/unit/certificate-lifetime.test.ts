import { spawnSync } from "child_process";
import { readFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { renderAuthorityFunctions, renderCaCurrent, renderServerCertificate } from "../../components/tls/authority";
import { certificateLifetime, certificateRenewalDue, declaredCertificateNotice, certificateRenewalReason, renderCertificateDue, renewalPeriod, renewalWindowSeconds } from "../../components/tls/lifetime";
import { tempDir } from "./support/run";

// Issue 17, deliverable 8: certificates have a declared lifetime, and `up` renews a host's
// certificate before it expires. The decision as a pure function, and the same decision made on
// the host by certificate_due on real certificates.
const DAY = 86_400_000;
const NOW = new Date("2026-12-07T05:00:00Z");
const at = (days: number) => new Date(NOW.getTime() + days * DAY);

describe("certificateRenewalReason", () => {
  it.each([
    ["no certificate", undefined, 365, "missing"],
    ["just issued for the declared lifetime", { notBefore: at(0), notAfter: at(365) }, 365, undefined],
    ["two thirds of its life left, and a bit", { notBefore: at(-121), notAfter: at(244) }, 365, undefined],
    ["less than a third left (121 days of 365)", { notBefore: at(-245), notAfter: at(120) }, 365, "expires within the renewal window"],
    ["expires tomorrow", { notBefore: at(-364), notAfter: at(1) }, 365, "expires within the renewal window"],
    ["already expired", { notBefore: at(-400), notAfter: at(-35) }, 365, "expires within the renewal window"],
    ["one of the old ten-year certificates", { notBefore: at(-10), notAfter: at(3640) }, 365, "valid for longer than declared"],
    ["a 30-day lifetime, 11 days left", { notBefore: at(-19), notAfter: at(11) }, 30, undefined],
    ["a 30-day lifetime, 9 days left", { notBefore: at(-21), notAfter: at(9) }, 30, "expires within the renewal window"],
  ])("%s", (_case, cert, days, reason) => {
    expect(certificateRenewalReason(cert, NOW, days)).toBe(reason);
    expect(certificateRenewalDue(cert, NOW, days)).toBe(reason !== undefined);
  });

  it("defaults: a year for host certificates, ten for the CA; the renewal window is a third of the lifetime", () => {
    expect(certificateLifetime()).toEqual({ certificateDays: 365, caDays: 3650 });
    expect(certificateLifetime({ certificateDays: 90 })).toEqual({ certificateDays: 90, caDays: 3650 });
    expect(renewalWindowSeconds(365)).toBe(Math.floor((365 * 86_400) / 3));
  });

  it("renewalPeriod changes once per renewal window, so a standby's certificate is signed again in time", () => {
    const p = renewalPeriod(NOW, 90);
    expect(renewalPeriod(new Date(NOW.getTime() + 1000), 90)).toBe(p);
    expect(renewalPeriod(new Date(NOW.getTime() + 30 * DAY + 1000), 90)).toBe(p + 1);
  });
});

describe("certificate_due on the host agrees with certificateRenewalDue", () => {
  /** A self-signed certificate valid for `days` days from now (openssl's own clock). */
  function certificate(dir: string, days: number): string {
    const file = join(dir, `cert-${days}.pem`);
    const made = spawnSync("openssl", ["req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-days", String(days), "-subj", "/CN=t", "-keyout", join(dir, "k.pem"), "-out", file], { encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    return file;
  }

  it.each([
    [365, 365, false],
    [365, 100, true], // ends within a third of the declared year
    [365, 3650, true], // valid for longer than declared
    [30, 30, false],
    [30, 9, true],
  ])("declared %i days, certificate of %i days: due = %s", (declared, days, due) => {
    const dir = tempDir();
    const file = certificate(dir, days);
    const run = spawnSync("bash", ["-c", `${renderCertificateDue(declared)}\ncertificate_due ${file}`]);
    expect(run.status === 0).toBe(due);
    expect(certificateRenewalDue({ notBefore: new Date(), notAfter: new Date(Date.now() + days * DAY) }, new Date(), declared)).toBe(due);
  });

  it("a missing certificate is due", () => {
    expect(spawnSync("bash", ["-c", `${renderCertificateDue(365)}\ncertificate_due /nonexistent/cert.pem`]).status).toBe(0);
  });
});

describe("the authority issues for the declared lifetime and re-issues a due certificate", () => {
  it("the CA and host certificates carry the declared days; the primary's certificate is issued again when due", () => {
    const fns = renderAuthorityFunctions({ serviceUser: "postgres", caName: "t" }, { certificateDays: 90, caDays: 1000 });
    expect(fns).toContain("-days 1000 -sha256");
    expect(fns).toContain('-days 90 -sha256 -extfile "$work/ext"');
    expect(fns).not.toContain("-days 3650");
    expect(fns).toContain(`-checkend ${renewalWindowSeconds(90)}`);
    const block = renderServerCertificate({ names: ["localhost"] }, { serviceUser: "postgres", caName: "t" });
    expect(block).toContain('|| certificate_due "$TLS_DIR/server.crt"; then');
  });

  it("issues a real certificate for the declared days, which is then not due", () => {
    const dir = tempDir();
    const fns = renderAuthorityFunctions({ serviceUser: "root", caName: "t", caDirVar: "CA", tlsDirVar: "TLS" }, { certificateDays: 90, caDays: 1000 });
    const script = [
      `CA=${dir}/ca; TLS=${dir}/tls`,
      fns,
      "set -euo pipefail",
      "ensure_ca 2>/dev/null; ensure_server_key",
      'public_key_of_key "$TLS/server.key" > "$TLS/server.pub"',
      'issue_certificate "$TLS/server.pub" "$TLS/server.crt" localhost DNS:localhost',
      'certificate_due "$TLS/server.crt" && echo due || echo current',
      'openssl x509 -in "$TLS/server.crt" -noout -startdate -enddate',
      'openssl x509 -in "$CA/ca.crt" -noout -startdate -enddate',
    ].join("\n");
    const run = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const [verdict, certStart, certEnd, caStart, caEnd] = run.stdout.trim().split("\n");
    expect(verdict).toBe("current");
    const days = (a: string, b: string) => Math.round((Date.parse(b.split("=")[1]) - Date.parse(a.split("=")[1])) / DAY);
    expect(days(certStart, certEnd)).toBe(90);
    expect(days(caStart, caEnd)).toBe(1000);
  });

  it("renews a CA certificate that is due with the same key: what it signed, and holders of the old CA certificate, keep verifying", () => {
    const dir = tempDir();
    const shell = { serviceUser: "root", caName: "t", caDirVar: "CA", tlsDirVar: "TLS" };
    const run = (caDays: number, body: string[]) =>
      spawnSync("bash", ["-c", [`CA=${dir}/ca; TLS=${dir}/tls`, renderAuthorityFunctions(shell, { certificateDays: 30, caDays }), "set -euo pipefail", ...body].join("\n")], { encoding: "utf8" });
    const probe = (caDays: number) => spawnSync("bash", ["-c", [`CA=${dir}/ca`, renderCaCurrent(shell, { certificateDays: 30, caDays })].join("\n")]).status;
    // A CA issued for 1000 days, and a host certificate it signed.
    const first = run(1000, ["ensure_ca", "ensure_server_key", 'public_key_of_key "$TLS/server.key" > "$TLS/server.pub"', 'issue_certificate "$TLS/server.pub" "$TLS/server.crt" localhost DNS:localhost', 'cp "$CA/ca.crt" "$CA/old.crt"']);
    expect(first.status, first.stderr).toBe(0);
    expect(probe(1000), "a fresh CA is current").toBe(0);
    // The declared CA lifetime shortened to 300 days: the CA certificate is due; ensure_ca renews it.
    expect(probe(300), "a CA valid for longer than declared is due").not.toBe(0);
    const renewed = run(300, ["ensure_ca", 'openssl x509 -in "$CA/ca.crt" -noout -startdate -enddate', 'diff <(openssl x509 -in "$CA/ca.crt" -noout -pubkey) <(openssl x509 -in "$CA/old.crt" -noout -pubkey) && echo same-key', 'openssl verify -CAfile "$CA/ca.crt" "$TLS/server.crt"', 'openssl verify -CAfile "$CA/old.crt" "$TLS/server.crt"']);
    expect(renewed.status, renewed.stderr).toBe(0);
    expect(renewed.stderr).toContain("renewed the certificate authority's certificate");
    const [start, end, sameKey, verifyNew, verifyOld] = renewed.stdout.trim().split("\n");
    expect(Math.round((Date.parse(end.split("=")[1]) - Date.parse(start.split("=")[1])) / DAY)).toBe(300);
    expect(sameKey).toBe("same-key");
    expect(verifyNew).toContain(": OK");
    expect(verifyOld).toContain(": OK");
    expect(probe(300), "the renewed CA is current").toBe(0);
    // Current: ensure_ca leaves it as it is.
    const again = run(300, ["ensure_ca"]);
    expect(again.stderr).not.toContain("renewed");
  });
});

describe("a certificate the user gives (tls) is theirs to renew: dbstack warns before it ends and refuses it once expired", () => {
  /** A self-signed certificate for 100 days from now, as a user would give it. */
  const pem = () => {
    const dir = tempDir();
    const made = spawnSync("openssl", ["req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-days", "100", "-subj", "/CN=db.example", "-keyout", join(dir, "user.key"), "-out", join(dir, "user.crt")], { encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    return readFileSync(join(dir, "user.crt"), "utf8");
  };
  const inDays = (n: number) => new Date(Date.now() + n * DAY);

  it("current for long: nothing", () => {
    expect(declaredCertificateNotice(pem(), new Date())).toEqual({});
  });

  it("within 30 days of its end: a warning naming the field and the date", () => {
    const notice = declaredCertificateNotice(pem(), inDays(80));
    expect(notice.error).toBeUndefined();
    expect(notice.warning).toMatch(/^tls\.certificate: expires on \d{4}-\d\d-\d\dT.* \(in 1\d days\); dbstack cannot renew a certificate it did not issue/);
  });

  it("expired: an error naming the field", () => {
    expect(declaredCertificateNotice(pem(), inDays(101)).error).toMatch(/^tls\.certificate: expired on /);
  });

  it("not a certificate: left to the configure step", () => {
    expect(declaredCertificateNotice("CERT", new Date())).toEqual({});
  });
});
