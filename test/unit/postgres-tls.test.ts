import { spawnSync } from "child_process";
import { describe, expect, it } from "vitest";
import { renderClusterCa, renderServerTls, renderSignStandbyCertificate, renderStandbyKey, subjectAltName } from "../../components/engines/postgres/tls";
import { renderClusterPrelude } from "../../components/engines/postgres/host";

const LOC = { version: 15, cluster: "main", port: 5432 };
const PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----";
const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";

const parses = (script: string) => spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });

describe("subjectAltName", () => {
  it("names addresses as IP and host names as DNS, once each, without wildcards or prefixes", () => {
    expect(subjectAltName(["10.0.0.5", "db1.example.com", "localhost", "127.0.0.1", "::1", "*", "10.0.0.5", "10.0.0.6/32", "[fd00::5]"])).toBe(
      "IP:10.0.0.5,DNS:db1.example.com,DNS:localhost,IP:127.0.0.1,IP:::1,IP:10.0.0.6,IP:fd00::5",
    );
  });

  it("refuses a name that could break out of the extension", () => {
    expect(() => subjectAltName(["db1,DNS:evil.example"])).toThrow(/expected a host name or IP address/);
  });
});

describe("TLS scripts", () => {
  it("parse, and keep every key outside the data directory", () => {
    for (const script of [
      renderClusterCa(LOC),
      renderStandbyKey(LOC),
      renderSignStandbyCertificate(LOC, { name: "replica1", publicKey: PUBLIC_KEY, names: ["10.0.0.6"] }),
      `${renderClusterPrelude(LOC)}\n${renderServerTls({ names: ["10.0.0.5"] })}`,
      `${renderClusterPrelude(LOC)}\n${renderServerTls({ names: ["10.0.0.6"], certificate: CERT })}`,
    ]) {
      const r = parses(script);
      expect(r.status, r.stderr).toBe(0);
      expect(script).not.toMatch(/(>|-keyout|-out)\s*"\$DATA_DIR/);
    }
  });

  it("the CA key is root's, mode 0600, in a 0700 directory of its own; the CA script prints only the certificate", () => {
    const script = renderClusterCa(LOC);
    expect(script).toContain('install -d -o root -g root -m 0700 "$CA_DIR"');
    expect(script).toContain('chmod 0600 "$CA_DIR/ca.key.tmp"');
    expect(script.trim().split("\n").pop()).toBe('cat "$CA_DIR/ca.crt"');
  });

  it("a standby's key step prints only its public key; the primary signs it with the names in subjectAltName", () => {
    expect(renderStandbyKey(LOC).trim().split("\n").pop()).toBe('public_key_of_key "$TLS_DIR/server.key"');
    const sign = renderSignStandbyCertificate(LOC, { name: "replica1", publicKey: PUBLIC_KEY, names: ["10.0.0.6", "localhost"] });
    expect(sign).toContain(PUBLIC_KEY);
    expect(sign).toContain(`issue_certificate "$work/host.pub" "$work/host.crt" '10.0.0.6' 'IP:10.0.0.6,DNS:localhost'`);
  });

  it("a standby installs the certificate it was given and never makes a CA", () => {
    const block = renderServerTls({ names: ["10.0.0.6"], certificate: CERT });
    expect(block).toContain(CERT);
    expect(block).not.toContain("\n  ensure_ca");
    const primary = renderServerTls({ names: ["10.0.0.5"] });
    expect(primary).toContain("\n  ensure_ca");
    expect(primary).toContain("want='IP:10.0.0.5'");
    // Both point PostgreSQL at the host's own files, and remove the copies earlier versions left in the data directory.
    for (const b of [block, primary]) {
      expect(b).toContain('"$CONF_DIR/conf.d/06-dbstack-tls.conf"');
      expect(b).toContain('rm -f "$DATA_DIR/dbstack-server.crt" "$DATA_DIR/dbstack-server.key"');
    }
  });
});
