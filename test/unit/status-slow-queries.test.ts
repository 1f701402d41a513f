import { spawnSync } from "child_process";
import { describe, expect, it } from "vitest";
import {
  checkSlowQueryMs,
  renderCronRotation,
  renderInstallSlowLogRotation,
  renderLogrotateRule,
  renderRemoveSlowLogRotation,
  SLOW_QUERY_PARAMETERS,
  withSlowQueryParameters,
  type SlowLogRotation,
} from "../../components/engines/slowQueryLog";
import { parseStackConfig } from "../../stacks/config";

const rotation: SlowLogRotation = { name: "dbstack-dev-1a2b-mariadb-shop-slow-log", file: "/var/log/mysql/dbstack-shop.slow-log", owner: "mysql", group: "adm", keep: 7, marker: "dbstack-owner project=p stack=dev id=x" };

describe("declared slow-query logging", () => {
  it("sets each engine's parameters; declared parameters win; nothing without slowQueryMs", () => {
    expect(SLOW_QUERY_PARAMETERS.postgres(250, "main")).toEqual({ log_min_duration_statement: "250", shared_preload_libraries: "'pg_stat_statements'", "pg_stat_statements.track": "top" });
    expect(SLOW_QUERY_PARAMETERS.mariadb(1500, "shop")).toEqual({ slow_query_log: "ON", long_query_time: "1.500", slow_query_log_file: "dbstack-slow.log", performance_schema: "ON" });
    expect(withSlowQueryParameters("postgres", "main", 250, { shared_preload_libraries: "'pg_stat_statements,auto_explain'", work_mem: "8MB" })).toEqual({
      log_min_duration_statement: "250",
      shared_preload_libraries: "'pg_stat_statements,auto_explain'",
      "pg_stat_statements.track": "top",
      work_mem: "8MB",
    });
    expect(withSlowQueryParameters("mariadb", "shop", undefined, { a: "1" })).toEqual({ a: "1" });
    expect(withSlowQueryParameters("mariadb", "shop", undefined, undefined)).toBeUndefined();
  });

  it("refuses a slowQueryMs that is not a whole number of milliseconds, naming the field", () => {
    expect(() => checkSlowQueryMs(0)).toThrow(/^slowQueryMs: expected a whole number of milliseconds from 1 to 3600000, got 0$/);
    expect(() => checkSlowQueryMs(1.5)).toThrow(/slowQueryMs/);
    expect(() => checkSlowQueryMs("500; DROP TABLE x")).toThrow(/slowQueryMs/);
    expect(() => checkSlowQueryMs(500)).not.toThrow();
    expect(() => parseStackConfig({ "dbstack:postgres": JSON.stringify({ main: { databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } }, slowQueryMs: -1 } }) })).toThrow(/dbstack:postgres\.main\.slowQueryMs/);
  });

  it("rotates daily with logrotate, truncating in place, as the log's owner", () => {
    expect(renderLogrotateRule(rotation)).toBe(
      [
        "# dbstack-owner project=p stack=dev id=x",
        "# Rendered by dbstack: rotation of a slow-query log. Overwritten by the next `pulumi up`.",
        "/var/log/mysql/dbstack-shop.slow-log {",
        "  daily",
        "  rotate 7",
        "  missingok",
        "  notifempty",
        "  compress",
        "  delaycompress",
        "  copytruncate",
        "  su mysql adm",
        "}",
        "",
      ].join("\n"),
    );
    expect(renderCronRotation(rotation)).toContain(
      "17 4 * * * root [ -s '/var/log/mysql/dbstack-shop.slow-log' ] && cp -p '/var/log/mysql/dbstack-shop.slow-log' '/var/log/mysql/dbstack-shop.slow-log'.1 && : > '/var/log/mysql/dbstack-shop.slow-log'\n",
    );
  });

  it("installs logrotate's rule where logrotate is, cron's otherwise; leaves a file the distribution rotates to its rule; removes only its own", () => {
    const install = renderInstallSlowLogRotation(rotation);
    for (const script of [install, renderInstallSlowLogRotation({ ...rotation, coveredBy: "/etc/logrotate.d/postgresql-common" }), renderRemoveSlowLogRotation(rotation)]) {
      expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
    }
    expect(install).toContain("if command -v logrotate >/dev/null 2>&1 || [ -x /usr/sbin/logrotate ]; then");
    expect(install).toContain("> '/etc/logrotate.d/dbstack-dev-1a2b-mariadb-shop-slow-log.dbstack-tmp'");
    expect(install).toContain("rm -f '/etc/cron.d/dbstack-dev-1a2b-mariadb-shop-slow-log'");
    expect(renderInstallSlowLogRotation({ ...rotation, coveredBy: "/etc/logrotate.d/postgresql-common" })).toContain("if [ -f '/etc/logrotate.d/postgresql-common' ]; then");
    expect(renderRemoveSlowLogRotation(rotation)).toContain("grep -qxF '# dbstack-owner project=p stack=dev id=x' '/etc/logrotate.d/dbstack-dev-1a2b-mariadb-shop-slow-log'");
  });
});
