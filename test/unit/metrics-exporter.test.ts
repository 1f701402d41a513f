import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { describe, expect, it } from "vitest";
import {
  checkMetrics,
  exporterCommand,
  exporterEnvironment,
  exporterId,
  renderExporterProbe,
  renderExporterRemove,
  renderExporterRun,
  renderExporterStart,
  renderExporterUnit,
  renderScrapeConfig,
  scrapeHost,
  type ExporterSpec,
} from "../../components/engines/exporter";
import { validateServerArgs } from "../../components/deploy/validateServer";
import { postgresEngine } from "../../components/engines/postgres/engine";
import { parseStackConfig } from "../../stacks/config";

const pg: ExporterSpec = { kind: "postgres", id: "dbstack-dev-1a2b3c-postgres-main-primary", address: "127.0.0.1", port: 7110, serverPort: 5433, owner: "dbstack-owner project=p stack=dev id=x" };
const mdb: ExporterSpec = { ...pg, kind: "mariadb", id: "dbstack-dev-1a2b3c-mariadb-shop-r1", port: 7111, serverPort: 3307 };
const local = { kind: "local" as const };
const members = { primary: { name: "primary", target: local, serverPort: 5433 }, standbys: [{ name: "replica1", target: local, serverPort: 5434 }] };
const config = (metrics: unknown) =>
  parseStackConfig({
    "dbstack:postgres": JSON.stringify({ main: { port: 5433, databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } }, standbys: { replica1: { host: "local", address: "127.0.0.1", port: 5434, instanceName: "main2" } }, metrics } }),
  });

describe("declared metrics: hostile and wrong input is refused at preview, naming the field", () => {
  it("an address or port with shell metacharacters", () => {
    for (const address of ["127.0.0.1; rm -rf /", "$(id)", "127.0.0.1\nExecStart=/bin/sh", "`reboot`", "0.0.0.0' -c 'x"]) {
      expect(() => checkMetrics({ exporter: { address, port: 7110 } }, members)).toThrow(/^metrics\.exporter\.address: expected an IP address/);
      expect(() => config({ exporter: { address, port: 7110 } })).toThrow(/dbstack:postgres\.main\.metrics\.exporter\.address/);
    }
    for (const port of ["7110; id", "$(id)", 7110.5, 0, 70000]) {
      expect(() => checkMetrics({ exporter: { port } as never }, members)).toThrow(/^metrics\.exporter\.port: expected a (port number|whole number)/);
      expect(() => config({ exporter: { port } })).toThrow(/dbstack:postgres\.main\.metrics\.exporter\.port/);
    }
    expect(() => checkMetrics({ exporter: { port: 7110, standbyPorts: { replica1: "1; id" as never } } }, members)).toThrow(/^metrics\.exporter\.standbyPorts\.replica1: expected a port number/);
    expect(() => config({ exporter: { port: 7110, standbyPorts: { replica1: "1; id" } } })).toThrow(/metrics\.exporter\.standbyPorts\.replica1/);
  });

  it("a port another exporter or a server takes on the same host; a standby not declared; TLS; a Docker target", () => {
    expect(() => checkMetrics({ exporter: { port: 7110 } }, members)).toThrow(/^metrics\.exporter\.standbyPorts\.replica1: port 7110 on this machine is already the exporter port of primary$/);
    expect(() => checkMetrics({ exporter: { port: 5434, standbyPorts: { replica1: 7111 } } }, members)).toThrow(/^metrics\.exporter\.port: port 5434 on this machine is already the server port of replica1$/);
    expect(() => checkMetrics({ exporter: { port: 7110, standbyPorts: { replica2: 7111 } } }, members)).toThrow(/^metrics\.exporter\.standbyPorts\.replica2: no standby of that name is declared$/);
    expect(() => checkMetrics({ exporter: { port: 7110, auth: "mtls; id" as never, standbyPorts: { replica1: 7111 } } }, members)).toThrow(/^metrics\.exporter\.auth: expected "basic" or "tls"/);
    expect(() => checkMetrics({ exporter: { port: 7110 } }, { primary: { name: "primary", target: { kind: "docker" } as never, serverPort: 5432 }, standbys: [] })).toThrow(/^metrics: an exporter on a Docker target/);
    expect(() => checkMetrics({ exporter: {} } as never, members)).toThrow(/^metrics\.exporter\.port/);
    expect(() => checkMetrics({} as never, members)).toThrow(/^metrics\.exporter: expected/);
    // Standbys on other hosts may share the primary's exporter port.
    const ssh = { kind: "ssh" as const, host: "10.0.0.2" };
    expect(() => checkMetrics({ exporter: { port: 7110 } }, { ...members, standbys: [{ name: "replica1", target: ssh, serverPort: 5433 }] })).not.toThrow();
    expect(() => checkMetrics({ exporter: { port: 7110, standbyPorts: { replica1: 7111 } } }, members)).not.toThrow();
    expect(() => checkMetrics(undefined, members)).not.toThrow();
  });

  it("the component refuses it before anything is registered", () => {
    const args = { databases: [{ name: "app", owner: "app" }], users: [{ name: "app", grants: { app: "owner" as const } }], metrics: { exporter: { address: "127.0.0.1 && id", port: 7110 } } };
    expect(() => validateServerArgs("main", args as never, postgresEngine as never)).toThrow(/^metrics\.exporter\.address/);
  });

  it("an exporter port another deployment of the stack takes on the same host, naming both keys", () => {
    const server = (port: number, exporter?: number) => ({ port, databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } }, ...(exporter ? { metrics: { exporter: { port: exporter } } } : {}) });
    const two = (a: unknown, b: unknown) => () => parseStackConfig({ "dbstack:postgres": JSON.stringify({ a, b }) });
    expect(two(server(5433, 7110), server(5434, 7110))).toThrow(/dbstack:postgres\.b\.metrics\.exporter\.port: dbstack:postgres\.a\.metrics\.exporter\.port already uses the port 7110/);
    expect(two(server(5433), server(5434, 5433))).toThrow(/dbstack:postgres\.b\.metrics\.exporter\.port: dbstack:postgres\.a\.port already uses the port 5433/);
    expect(two(server(5433, 7110), server(5434, 7111))).not.toThrow();
  });

  it("accepts a declaration and applies the defaults", () => {
    const parsed = config({ exporter: { port: 7110, standbyPorts: { replica1: 7111 } } });
    expect(parsed.postgres.main.metrics).toEqual({ exporter: { address: "127.0.0.1", port: 7110, standbyPorts: { replica1: 7111 }, auth: "basic" } });
  });
});

describe("the exporter's renderers", () => {
  it("no secret on the command line or in the environment: the credentials are 0600 files the exporter names", () => {
    expect(exporterCommand(pg)).toEqual([
      "/usr/bin/prometheus-postgres-exporter",
      "--extend.query-path=/etc/dbstack/exporters/dbstack-dev-1a2b3c-postgres-main-primary/queries.yaml",
      "--web.listen-address=127.0.0.1:7110",
      "--web.config.file=/etc/dbstack/exporters/dbstack-dev-1a2b3c-postgres-main-primary/web.yml",
      "--log.level=warn",
    ]);
    expect(exporterEnvironment(pg)).toEqual({
      DATA_SOURCE_URI: "127.0.0.1:5433/postgres?sslmode=disable",
      DATA_SOURCE_USER: "dbstack_monitor",
      DATA_SOURCE_PASS_FILE: "/etc/dbstack/exporters/dbstack-dev-1a2b3c-postgres-main-primary/monitor.pass",
    });
    expect(exporterCommand(mdb)).toContain("--config.my-cnf=/etc/dbstack/exporters/dbstack-dev-1a2b3c-mariadb-shop-r1/my.cnf");
    expect(exporterEnvironment(mdb)).toEqual({});
    expect(exporterCommand({ ...pg, address: "::1" })[2]).toBe("--web.listen-address=[::1]:7110");
  });

  it("the supervisor restarts the exporter; the systemd unit runs it as its own user", () => {
    const run = renderExporterRun(pg);
    expect(run).toContain("export DATA_SOURCE_PASS_FILE='/etc/dbstack/exporters/dbstack-dev-1a2b3c-postgres-main-primary/monitor.pass'");
    expect(run).toMatch(/while :; do\n  '\/usr\/bin\/prometheus-postgres-exporter' '--extend\.query-path=[^']*' '--web\.listen-address=127\.0\.0\.1:7110' .*\n  sleep 2\ndone\n$/);
    const unit = renderExporterUnit(mdb);
    expect(unit).toContain("User=prometheus\n");
    expect(unit).toContain("Restart=always\n");
    expect(unit).toContain("ExecStart=/usr/bin/prometheus-mysqld-exporter --config.my-cnf=");
  });

  it("the start script: valid bash, passwords only from the environment, refuses a taken port naming the field", () => {
    for (const spec of [pg, mdb]) {
      const start = renderExporterStart(spec);
      for (const script of [start, renderExporterRemove(spec), renderExporterProbe(spec)]) expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
      expect(start).toContain('for v in DBSTACK_MONITOR_PASSWORD DBSTACK_EXPORTER_PASSWORD; do');
      expect(start).toContain(`refuse_taken_port ${spec.port} "the `);
      expect(start.indexOf("refuse_taken_port ")).toBeLessThan(start.indexOf("stop_exporter\n"));
      expect(start).toContain("(metrics.exporter.port)");
      expect(start).toContain('exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 setsid runuser -u "$RUN_USER" -- "$DIR/run"');
      // The step's passwords are dropped before the exporter starts: it must not inherit them.
      expect(start.indexOf("unset DBSTACK_MONITOR_PASSWORD DBSTACK_EXPORTER_PASSWORD hash")).toBeGreaterThan(start.indexOf("crypt.METHOD_BLOWFISH"));
      expect(start.indexOf("unset DBSTACK_MONITOR_PASSWORD DBSTACK_EXPORTER_PASSWORD hash")).toBeLessThan(start.indexOf("stop_exporter\n"));
      expect(start).toContain("crypt.METHOD_BLOWFISH");
    }
    expect(renderExporterStart(pg)).toContain(`printf '%s' "$DBSTACK_MONITOR_PASSWORD" > "$DIR/monitor.pass.tmp"`);
    expect(renderExporterStart(mdb)).toContain(`printf '[client]\\nuser=dbstack_monitor\\npassword="%s"\\nhost=127.0.0.1\\nport=3307\\n' "$DBSTACK_MONITOR_PASSWORD"`);
    expect(renderExporterRemove(pg)).toContain("left the exporter $DIR as it is: it belongs to another stack");
  });

  it("names exporters per stack, engine, deployment and member; scrapes where the exporter listens", () => {
    expect(exporterId("dbstack-dev-1a2b3c", "postgres", "main", "replica1")).toBe("dbstack-dev-1a2b3c-postgres-main-replica1");
    expect(scrapeHost("127.0.0.1", "10.0.0.2")).toBe("127.0.0.1");
    expect(scrapeHost("0.0.0.0", "10.0.0.2")).toBe("10.0.0.2");
  });

  it("renders a scrape_configs entry Prometheus reads", () => {
    const yaml = renderScrapeConfig(
      { job: "postgres-main", exporter: "postgres_exporter", scheme: "http", metricsPath: "/metrics", username: "prometheus", targets: [{ member: "primary", target: "127.0.0.1:7110" }, { member: "replica1", target: "10.0.0.2:7110" }] },
      "/etc/prometheus/postgres-main.password",
    );
    expect(yaml).toBe(
      [
        '- job_name: "postgres-main"',
        "  scheme: http",
        "  metrics_path: /metrics",
        "  basic_auth:",
        '    username: "prometheus"',
        '    password_file: "/etc/prometheus/postgres-main.password"',
        "  static_configs:",
        '    - targets: ["127.0.0.1:7110"]',
        '      labels: { member: "primary" }',
        '    - targets: ["10.0.0.2:7110"]',
        '      labels: { member: "replica1" }',
        "",
      ].join("\n"),
    );
    // Prometheus' own check reads it as a scrape configuration (package prometheus).
    const dir = mkdtempSync(join(tmpdir(), "mx-promtool-"));
    try {
      writeFileSync(join(dir, "prometheus.yml"), `scrape_configs:\n${yaml}`);
      const check = spawnSync("promtool", ["check", "config", join(dir, "prometheus.yml")], { encoding: "utf8" });
      expect(check.error, "promtool is missing: install the Debian package prometheus").toBeUndefined();
      expect(`${check.status} ${check.stdout}${check.stderr}`).toMatch(/^0 .*SUCCESS/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
