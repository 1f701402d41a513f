import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { checkMetrics, exporterDir, renderExporterStart, renderExporterTlsKey, renderScrapeConfig, renderWebConfig, type ExporterSpec } from "../../components/engines/exporter";
import { parseStackConfig } from "../../stacks/config";

// Issue 23: TLS on the exporters' web endpoint (metrics.exporter.auth: "tls").
const work = mkdtempSync(join(tmpdir(), "mx-exporter-tls-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const pg: ExporterSpec = { kind: "postgres", id: "dbstack-dev-1a2b3c-postgres-main-primary", address: "127.0.0.1", port: 7110, serverPort: 5433, owner: "dbstack-owner project=p stack=dev id=x", tls: true };
const local = { kind: "local" as const };
const members = { primary: { name: "primary", target: local, serverPort: 5433 }, standbys: [] };

describe("exporters over TLS", () => {
  it("auth \"tls\" is accepted by the component and the stack config; anything else is refused naming the field", () => {
    expect(() => checkMetrics({ exporter: { port: 7110, auth: "tls" } }, members)).not.toThrow();
    const parsed = parseStackConfig({ "dbstack:postgres": JSON.stringify({ main: { port: 5433, databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } }, metrics: { exporter: { port: 7110, auth: "tls" } } } }) });
    expect(parsed.postgres.main.metrics).toMatchObject({ exporter: { auth: "tls" } });
    expect(() => parseStackConfig({ "dbstack:postgres": JSON.stringify({ main: { port: 5433, metrics: { exporter: { port: 7110, auth: "$(id)" } } } }) })).toThrow(/dbstack:postgres\.main\.metrics\.exporter\.auth/);
  });

  it("the web configuration names the exporter's own key and certificate beside basic authentication (what exporter-toolkit reads)", () => {
    const out = spawnSync("bash", ["-c", `set -eu; DIR=${work}; hash='$2b$10$abc'; ${renderWebConfig(pg)}; cat "$DIR/web.yml.tmp"`], { encoding: "utf8" });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(["basic_auth_users:", "  prometheus: $2b$10$abc", "tls_server_config:", `  cert_file: ${exporterDir(pg.id)}/tls.crt`, `  key_file: ${exporterDir(pg.id)}/tls.key`, ""].join("\n"));
    // Without TLS, basic authentication only.
    const plain = spawnSync("bash", ["-c", `set -eu; DIR=${work}; hash=h; ${renderWebConfig({ ...pg, tls: false })}; cat "$DIR/web.yml.tmp"`], { encoding: "utf8" });
    expect(plain.stdout).toBe("basic_auth_users:\n  prometheus: h\n");
  });

  it("the key is made on the exporter's host and only its public key is printed; the start script installs the certificate only for that key", () => {
    const key = renderExporterTlsKey(pg);
    const start = renderExporterStart(pg);
    for (const script of [key, start]) expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
    expect(key).toContain('openssl pkey -in "$DIR/tls.key" -pubout');
    expect(key).not.toMatch(/cat "\$DIR\/tls\.key"/);
    expect(start).toContain("the TLS certificate given is not for the exporter's key");
    expect(start).toContain("unset DBSTACK_MONITOR_PASSWORD DBSTACK_EXPORTER_PASSWORD DBSTACK_EXPORTER_TLS_CERT hash");
    expect(start.indexOf('mv -f "$DIR/tls.crt.tmp" "$DIR/tls.crt"')).toBeLessThan(start.indexOf("stop_exporter\n"));
  });

  it("the scrape_configs entry scrapes over https, verifying with the deployment's CA (promtool accepts it)", () => {
    const yaml = renderScrapeConfig({ job: "postgres-main", exporter: "postgres_exporter", scheme: "https", metricsPath: "/metrics", username: "prometheus", targets: [{ member: "primary", target: "127.0.0.1:7110" }] }, "/etc/prometheus/postgres-main.password");
    expect(yaml).toContain('  scheme: https\n  metrics_path: /metrics\n  tls_config:\n    ca_file: "/etc/prometheus/postgres-main.ca.crt"\n  basic_auth:\n');
    const ca = join(work, "postgres-main.ca.crt");
    spawnSync("openssl", ["req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-days", "1", "-subj", "/CN=test CA", "-keyout", join(work, "ca.key"), "-out", ca]);
    writeFileSync(join(work, "prometheus.yml"), `scrape_configs:\n${yaml.replace("/etc/prometheus/postgres-main.ca.crt", ca)}`);
    const check = spawnSync("promtool", ["check", "config", join(work, "prometheus.yml")], { encoding: "utf8" });
    expect(check.error, "promtool is missing: install the Debian package prometheus").toBeUndefined();
    expect(`${check.status} ${check.stdout}${check.stderr}`).toMatch(/^0 .*SUCCESS/s);
    expect(readFileSync(join(work, "prometheus.yml"), "utf8")).not.toContain("password:");
  });
});
