import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { validateServerArgs } from "../../components/deploy/validateServer";
import { mariadbEngine } from "../../components/engines/mariadb/engine";
import { figuresStatementsSql, PITR_ACCOUNT_PRIVILEGES, storedSuffix, TARGET_TIME, type MariadbPitrSpec } from "../../components/engines/mariadb/pitrRepository";
import { renderPitrArchive, renderPitrBackup, renderPitrRemove, renderPitrSetup } from "../../components/engines/mariadb/pitrScripts";
import { renderPitrDrill, renderPitrRestore } from "../../components/engines/mariadb/pitrRestore";
import type { InstanceConfig } from "../../components/engines/engine";
import type { ServerDeploymentArgs } from "../../components/model/args";
import type { PitrArgs } from "../../components/model/pitr";
import { buildComponent, installMocks, output, type Registered } from "./support/mocks";

const engine = mariadbEngine({ flavor: "mariadb", requireSecureTransport: false });

function spec(over: Partial<MariadbPitrSpec> = {}): MariadbPitrSpec {
  return {
    instance: "mpunit",
    port: 7290,
    name: "main",
    stanza: "dbstack-dev-abc123-main",
    confFile: "/etc/dbstack-pitr/dbstack-dev-abc123-main.conf",
    dir: "/var/lib/dbstack-pitr/dbstack-dev-abc123-mariadb-main",
    archiveTimeoutS: 60,
    retentionFull: 2,
    encrypt: true,
    databases: ["app"],
    drillHistory: 30,
    ...over,
  };
}

function args(pitr: PitrArgs | undefined): ServerDeploymentArgs {
  return { port: 7290, databases: [{ name: "app", owner: "app" }], users: [{ name: "app", grants: { app: "owner" } }], pitr };
}

/** Runs a rendered tool with bash (as it runs on a host), arguments and environment given. */
function runScript(script: string, argv: string[], env: Record<string, string> = {}): { status: number; out: string; err: string } {
  const r = spawnSync("bash", ["-c", script, "tool", ...argv], { encoding: "utf8", env: { ...process.env, ...env }, cwd: "/" });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe("MariaDB pitr: declared and validated at preview, naming the field", () => {
  it("accepts the same pitr block as PostgreSQL, without a differential schedule", () => {
    expect(() => validateServerArgs("main", args({}), engine)).not.toThrow();
    expect(() => validateServerArgs("main", args({ dir: "/srv/pitr", archiveTimeoutS: 30, fullSchedule: "0 1 * * *", retentionFull: 3, encrypt: false, drill: { schedule: "0 5 * * *", port: 7291, onFailure: "echo x" } }), engine)).not.toThrow();
  });
  it.each<[string, PitrArgs, RegExp]>([
    ["a differential schedule (MariaDB takes full backups only)", { diffSchedule: "0 1 * * 1-6" }, /^pitr\.diffSchedule: mariadb point-in-time recovery takes full physical backups only/],
    ["a repository in the system's tree", { dir: "/etc/pitr" }, /^pitr\.dir: /],
    ["a relative repository", { dir: "pitr" }, /^pitr\.dir: /],
    ["an RPO under 5 s", { archiveTimeoutS: 1 }, /^pitr\.archiveTimeoutS: /],
    ["the deployment's own port for the drill", { drill: { port: 7290 } }, /^pitr\.drill\.port: 7290 is the deployment's own port/],
  ])("refuses %s", (_, pitr, message) => {
    expect(() => validateServerArgs("main", args(pitr), engine)).toThrow(message);
  });
});

describe("the binary log, on with pitr", () => {
  const config = (archiving: boolean): InstanceConfig => ({
    tuned: [] as unknown as InstanceConfig["tuned"],
    access: { listenAddresses: ["127.0.0.1"], allowedCidrs: [], standbyAddresses: [], replicationUser: "r" } as unknown as InstanceConfig["access"],
    role: "primary",
    serverId: 1,
    hasStandbys: false,
    tls: { names: ["localhost"] },
    archiving,
  });
  it("log_bin in the instance's own directory, ROW format and a server id: a restart the preview calls out", () => {
    expect(engine.restartValues("10.11", config(true), 7290)).toMatchObject({ log_bin: "binlog" });
    const file = engine.renderConfigure({ instance: "mpunit", port: 7290 }, config(true));
    expect(file).toMatch(/^log_bin = binlog$/m);
    expect(file).toMatch(/^binlog_format = ROW$/m);
    expect(file).toMatch(/^server_id = 1$/m);
  });
  it("off without pitr (and without replicas)", () => {
    expect(engine.restartValues("10.11", config(false), 7290)).not.toHaveProperty("log_bin");
    expect(engine.renderConfigure({ instance: "mpunit", port: 7290 }, config(false))).not.toMatch(/^log_bin/m);
  });
});

describe("the tools", () => {
  const all = () => [renderPitrSetup(spec(), "/opt/t"), renderPitrRemove(spec(), false), renderPitrBackup(spec()), renderPitrArchive(spec()), renderPitrRestore(spec()), renderPitrDrill(spec())];
  it("every script is valid bash", () => {
    for (const s of all()) expect(spawnSync("bash", ["-n"], { input: s }).status).toBe(0);
  });
  it("no password on a command line: the account logs in with its 0600 option file; the setup reads the secrets from its environment", () => {
    const setup = renderPitrSetup(spec(), "/opt/t");
    expect(setup).toContain("${DBSTACK_PITR_ACCOUNT_PASSWORD}");
    expect(setup).toContain('printf \'%s\' "$DBSTACK_PITR_CIPHER" > "$KEY_FILE.tmp"');
    expect(setup).toMatch(/umask 077; printf '\[client\]/);
    expect(setup).toContain(`GRANT ${PITR_ACCOUNT_PRIVILEGES} ON *.* TO `);
    for (const s of all()) expect(s).not.toMatch(/--password|\s-p[^a-z\s]/);
    expect(renderPitrBackup(spec())).toContain('mariadb-backup --defaults-file="$ACCOUNT_CNF" --backup');
    expect(renderPitrArchive(spec())).toContain('mariadb_pitr() { mariadb --defaults-file="$ACCOUNT_CNF"');
  });
  it("the repository is encrypted by default (AES-256 with the 0600 key file), plain zstd when encrypt is false", () => {
    expect(storedSuffix(spec())).toBe(".zst.enc");
    expect(renderPitrBackup(spec())).toContain('openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -salt -pass "file:$KEY_FILE"');
    expect(storedSuffix(spec({ encrypt: false }))).toBe(".zst");
    expect(renderPitrBackup(spec({ encrypt: false }))).not.toContain("openssl");
  });
  it("destroy keeps the repository and its secret unless data removal is allowed", () => {
    expect(renderPitrRemove(spec(), false)).not.toContain("rm -rf");
    expect(renderPitrRemove(spec(), true)).toContain('rm -rf "$REPO"');
  });
  it("figures quote names through MariaDB's own QUOTE and doubled backticks, for the declared databases only", () => {
    const sql = figuresStatementsSql(["app", "it's"]);
    expect(sql).toContain("table_schema IN ('app', 'it''s')");
    expect(sql).toContain("REPLACE(table_name, '`', '``')");
  });
});

describe("pitr-restore's options, checked before anything is touched", () => {
  const restore = renderPitrRestore(spec({ dir: "/nonexistent/dbstack-unit-repo" }));
  it.each([["2026-01-01 00:00:00'; DROP TABLE x; --"], ["$(touch /tmp/dbstack-pwned)"], ["2026-01-01 00:00:00\n* * * * *"], ["`id`"]])("refuses --to-time %j (exit 2, nothing run)", (bad) => {
    const r = runScript(restore, ["--to-time", bad]);
    expect(r.status).toBe(2);
    expect(r.err).toContain("--to-time: not a timestamp");
  });
  it("refuses an in-place restore without --yes, and --into a relative or odd path", () => {
    expect(runScript(restore, ["--to-latest", "--in-place"]).err).toContain("add --yes");
    expect(runScript(restore, ["--to-latest", "--into", "rel/dir"]).status).toBe(2);
    expect(runScript(restore, ["--to-latest", "--into", "/tmp/a b"]).status).toBe(2);
  });
  it("reads a time in any zone as that instant, in UTC, whatever the host's zone (binary log times are read in UTC)", () => {
    const r = runScript(restore, ["--to-time", "2026-12-07 16:00:05.750+02:00"], { TZ: "America/New_York" });
    expect(r.status).toBe(1);
    expect(r.err).toContain("no backup in /nonexistent/dbstack-unit-repo ended before 2026-12-07 14:00:05 UTC");
    expect(restore).toContain('TZ=UTC mariadb-binlog --no-defaults --start-position="$pos"');
  });
  it("the target time pattern admits zones and fractions only", () => {
    const re = new RegExp(TARGET_TIME);
    for (const ok of ["2026-12-07 13:45:00", "2026-12-07T13:45:00Z", "2026-12-07 13:45:00.123456+02:00", "2026-12-07 13:45 UTC"]) expect(re.test(ok)).toBe(true);
    for (const bad of ["2026-12-07 13:45:00; rm", "now", "2026-12-07 13:45:00 +02:00 x"]) expect(re.test(bad)).toBe(false);
  });
});

describe("pitr-drill", () => {
  it("a drill that cannot run (no backup) is a recorded failure that runs onFailure, never a silent skip", () => {
    const dir = mkdtempSync(join(tmpdir(), "dbstack-mpitr-unit-"));
    try {
      const onFailure = join(dir, "on-failure");
      writeFileSync(onFailure, `cp "$DRILL_RESULT" ${join(dir, "seen.json")}\n`);
      const r = runScript(renderPitrDrill(spec({ dir: join(dir, "repo"), onFailureFile: onFailure })), []);
      expect(r.status).toBe(1);
      const last = JSON.parse(readFileSync(join(dir, "repo", "drills", "last.json"), "utf8"));
      expect(last).toMatchObject({ deployment: "main", engine: "mariadb", ok: false, reason: `no backup in the repository ${join(dir, "repo")}` });
      expect(JSON.parse(readFileSync(join(dir, "seen.json"), "utf8"))).toEqual(last);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a MariaDB deployment with pitr (component graph, mocks)", () => {
  const registered: Registered[] = [];
  const SECRET_SIG = { key: "4dabf18193072939515e22adb298388d", value: "1b47061264138c4ac30d75fd1eb44270" };
  let MariadbServer: typeof import("../../components/deploy/mariadbServer").MariadbServer;
  beforeAll(async () => {
    await installMocks(registered, (r) =>
      r.type.endsWith(":GeneratedPassword")
        ? { result: r.name.endsWith("-pitr-cipher") ? "c".repeat(64) : r.name.endsWith("-pitr-account") ? "a".repeat(32) : "x".repeat(32) }
        : r.type.endsWith(":HostFacts")
          ? { memoryMb: 4096, cpus: 2 }
          : { stdout: r.name.endsWith("-server") ? '{"version":"10.11","memoryMb":4096,"cpus":2}' : "" },
    );
    ({ MariadbServer } = await import("../../components/deploy/mariadbServer"));
  });

  it("sets up the repository after the tools with both secrets only in the step's secret environment; schedules full backups, archiving every minute and the drill", async () => {
    const { component, children } = await buildComponent("mp", (opts) => new MariadbServer("mp", { port: 7290, databases: [{ name: "app", owner: "app" }], users: [{ name: "app", grants: { app: "owner" } }], hostPrefix: "dbstack-unit", toolsDir: "/opt/mp-unit/tools", pitr: { archiveTimeoutS: 30, drill: { onFailure: "logger drill failed" } } }, opts), registered);
    const setup = children.get("mp-pitr")!;
    expect(setup.inputs.environment).toEqual({ [SECRET_SIG.key]: SECRET_SIG.value, value: { DBSTACK_PITR_CIPHER: "c".repeat(64), DBSTACK_PITR_ACCOUNT_PASSWORD: "a".repeat(32) } });
    for (const k of ["create", "delete"]) {
      expect(String(setup.inputs[k])).not.toContain("c".repeat(64));
      expect(String(setup.inputs[k])).not.toContain("a".repeat(32));
    }
    expect(setup.inputs.review).toMatchObject({ component: "mariadb instance mp", dataBearing: true, restartParameters: { log_bin: "binlog" }, pitr: { rpoS: 30, drillSchedule: "0 2 * * *" } });
    const schedule = String(children.get("mp-pitr-schedule")!.inputs.create);
    expect(schedule).toContain("0 1 * * * root /opt/mp-unit/tools/pitr-backup full");
    expect(schedule).not.toContain("pitr-backup diff");
    expect(schedule).toContain("0 2 * * * root /opt/mp-unit/tools/pitr-drill");
    expect(schedule).toContain("* * * * * root /opt/mp-unit/tools/pitr-archive --for 58");
    const files = children.get("mp-tools")!.inputs.files as Record<string, string>;
    expect(Object.keys(files)).toEqual(expect.arrayContaining(["pitr-backup", "pitr-archive", "pitr-restore", "pitr-drill", "pitr-drill.on-failure"]));
    expect(files["pitr-drill"]).not.toContain("logger drill failed");
    expect(String(children.get("mp-config")!.inputs.create)).toMatch(/^log_bin = binlog$/m);
    expect(await output(component.lastDrill)).toBeNull();
  });
});
