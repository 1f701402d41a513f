import { execFileSync, spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { drillScheduleAfter } from "../../components/backups/drillSchedule";
import { lastDrillCheck } from "../../components/hooks/drillAge";
import { renderDrillRecorder } from "../../components/backups/drillResult";
import { validateServerArgs } from "../../components/deploy/validateServer";
import { postgresEngine } from "../../components/engines/postgres/engine";
import { mariadbEngine } from "../../components/engines/mariadb/engine";
import { FIGURES_SQL, PITR_CIPHER_VARIABLE, renderArchiveConf, renderPgbackrestConf, renderPitrDrill, renderPitrRemove, renderPitrRestore, renderPitrSetup, TARGET_TIME, type PostgresPitrSpec } from "../../components/engines/postgres/pitrScripts";
import type { ServerDeploymentArgs } from "../../components/model/args";
import type { PitrArgs } from "../../components/model/pitr";
import { parseStackConfig } from "../../stacks/config";
import { validateSqliteArgs } from "../../components/engines/sqlite/database";
import { renderSqliteFigures, sqliteDrillTools } from "../../components/engines/sqlite/drillScripts";
import { resolvePragmas } from "../../components/engines/sqlite/pragmas";
import { renderBackupScript } from "../../components/engines/sqlite/scripts";

const spec: PostgresPitrSpec = {
  version: 15,
  cluster: "main",
  port: 6590,
  name: "main",
  stanza: "dbstack-dev-abc123-main",
  confFile: "/etc/dbstack-pitr/dbstack-dev-abc123-main.conf",
  dir: "/var/lib/dbstack-pitr/dbstack-dev-abc123-postgres-main",
  archiveTimeoutS: 60,
  retentionFull: 2,
  encrypt: true,
  databases: ["app"],
  drillHistory: 30,
};

function args(pitr: PitrArgs | undefined, over: Partial<ServerDeploymentArgs> = {}): ServerDeploymentArgs {
  return { port: 6590, databases: [{ name: "app", owner: "app" }], users: [{ name: "app", grants: { app: "owner" } }], pitr, ...over };
}

describe("pitr: declared, validated at preview, every message naming its field", () => {
  it("accepts the defaults and a full block", () => {
    expect(() => validateServerArgs("main", args({}), postgresEngine)).not.toThrow();
    expect(() => validateServerArgs("main", args({ dir: "/srv/pitr", archiveTimeoutS: 30, fullSchedule: "0 1 * * 0", diffSchedule: "0 1 * * 1-6", retentionFull: 3, encrypt: false, drill: { schedule: "0 5 * * *", port: 6591, onFailure: "echo x" } }), postgresEngine)).not.toThrow();
  });
  it.each<[string, PitrArgs, RegExp]>([
    ["archive_timeout below 5 s", { archiveTimeoutS: 2 }, /^pitr\.archiveTimeoutS: expected a whole number from 5 to 3600, got 2/],
    ["a schedule that never fires", { fullSchedule: "0 2 30 2 *" }, /^pitr\.fullSchedule: this schedule never fires/],
    ["a schedule with a newline", { diffSchedule: "0 1 * * *\n* * * * * root rm -rf /" }, /^pitr\.diffSchedule: a cron schedule is one line/],
    ["retention of 0", { retentionFull: 0 }, /^pitr\.retentionFull: /],
    ["encrypt as a string", { encrypt: "yes" as unknown as boolean }, /^pitr\.encrypt: expected true or false/],
    ["the deployment's own port for the drill", { drill: { port: 6590 } }, /^pitr\.drill\.port: 6590 is the deployment's own port/],
    ["an empty onFailure", { drill: { onFailure: " " } }, /^pitr\.drill\.onFailure: expected a non-empty shell command/],
    ["a relative repository", { dir: "pitr" }, /^pitr\.dir: /],
    ["a repository in the system's tree", { dir: "/etc" }, /^pitr\.dir: /],
  ])("refuses %s", (_, pitr, message) => {
    expect(() => validateServerArgs("main", args(pitr), postgresEngine)).toThrow(message);
  });
  it("refuses a repository inside the data directory", () => {
    expect(() => validateServerArgs("main", args({ dir: "/srv/pg/data/pitr" }, { dataDirectory: "/srv/pg/data" }), postgresEngine)).toThrow(/^pitr\.dir: .*inside the data directory/);
  });
  it("refuses pitr on an engine that has none yet, and on a Docker target, naming pitr", () => {
    expect(() => validateServerArgs("main", args({}), { ...postgresEngine, kind: "sqlite" as never })).toThrow(/^pitr: point-in-time recovery is implemented for postgres, mariadb deployments only so far, not sqlite/);
    expect(() => validateServerArgs("main", args({}, { target: { kind: "docker" } as never }), postgresEngine)).toThrow(/^pitr: not available on a Docker target/);
  });
  it("the stack config names an unknown or bad pitr key", () => {
    const config = (pitr: unknown) => ({ "dbstack:postgres": JSON.stringify({ main: { port: 6590, databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } }, pitr } }) });
    expect(() => parseStackConfig(config({ archiveTimeoutS: 60, drill: { onFailure: "true" } }))).not.toThrow();
    expect(() => parseStackConfig(config({ archiveTimeout: 60 }))).toThrow(/postgres\.main\.pitr.*archiveTimeout/);
    expect(() => parseStackConfig(config({ archiveTimeoutS: 1 }))).toThrow(/postgres\.main\.pitr\.archiveTimeoutS: expected a number of seconds from 5 to 3600/);
    expect(() => parseStackConfig(config({ drill: { schedule: "61 * * * *" } }))).toThrow(/postgres\.main\.pitr\.drill\.schedule/);
  });
});

describe("pgBackRest's configuration and the archiving settings", () => {
  it("the configuration holds no secret: the cipher pass reaches the file from the step's environment", () => {
    const conf = renderPgbackrestConf(spec);
    expect(conf.global).toContain("repo1-cipher-type=aes-256-cbc");
    expect(conf.global + conf.stanza).not.toContain("cipher-pass");
    expect(conf.stanza).toBe("[dbstack-dev-abc123-main]\npg1-path=/var/lib/postgresql/15/main\npg1-port=6590\npg1-socket-path=/var/run/postgresql\n");
    const setup = renderPitrSetup(spec, "/usr/local/lib/x");
    expect(setup).toContain(`printf 'repo1-cipher-pass=%s\\n\\n' "$${PITR_CIPHER_VARIABLE}"`);
    expect(setup).toMatch(/chmod 600 .*mv -f .* '\/etc\/dbstack-pitr\/dbstack-dev-abc123-main\.conf'/);
    expect(renderPitrSetup({ ...spec, encrypt: false }, "/x")).not.toContain("cipher-pass");
  });
  it("archive_timeout is the declared RPO, and archive_command runs pgBackRest with this stanza", () => {
    expect(renderArchiveConf(spec)).toBe(
      [
        "# dbstack: continuous archiving of main to pgBackRest stanza dbstack-dev-abc123-main. Managed by Pulumi.",
        "wal_level = replica",
        "archive_mode = on",
        "archive_command = 'pgbackrest --config=/etc/dbstack-pitr/dbstack-dev-abc123-main.conf --stanza=dbstack-dev-abc123-main archive-push %p'",
        "archive_timeout = 60s",
        "",
      ].join("\n"),
    );
  });
  it("destroy keeps the repository and the secret that decrypts it unless data removal is allowed", () => {
    expect(renderPitrRemove(spec, false)).not.toContain("rm -rf");
    expect(renderPitrRemove(spec, false)).toContain("kept the pgBackRest repository");
    expect(renderPitrRemove(spec, true)).toContain(`rm -rf '${spec.dir}' '${spec.confFile}'`);
  });
  it("figures count every table of a database in one snapshot, quoting names", () => {
    expect(FIGURES_SQL).toContain("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;");
    expect(FIGURES_SQL).toContain("format('SELECT %L, %L, count(*) FROM %I.%I'");
  });
});

describe("restore's target time", () => {
  const re = new RegExp(TARGET_TIME);
  it.each(["2026-12-07 13:45:00", "2026-12-07 13:45:00+00", "2026-12-07T13:45:00.123456Z", "2026-12-07 13:45:00.5 UTC", "2026-12-07 13:45+01:00"])("takes %s", (t) => expect(re.test(t)).toBe(true));
  it.each(["2026-12-07 13:45:00'; DROP TABLE t; --", "now", "2026-12-07 13:45:00\nrecovery_target_action = 'shutdown'", "$(reboot)", ""])("refuses %j", (t) => expect(re.test(t)).toBe(false));
  it("the restore tool reads its target from its arguments, never from rendered text", () => {
    const tool = renderPitrRestore(spec);
    expect(tool).toContain('"--target=$target"');
    expect(tool).toContain("[[ \"$target\" =~ $time_re ]]");
  });
});

describe("the drill", () => {
  it("keeps the onFailure command out of the tool: it runs the 0600 file beside it", () => {
    const drill = renderPitrDrill({ ...spec, onFailureFile: "/usr/local/lib/x/pitr-drill.on-failure" });
    expect(drill).toContain(`DRILL_RESULT="$DRILLS/last.json" bash '/usr/local/lib/x/pitr-drill.on-failure'`);
    expect(renderPitrDrill(spec)).not.toContain("on-failure");
  });
  it("a default drill runs an hour after a daily backup, else at 03:00", () => {
    expect(drillScheduleAfter("0 1 * * 1-6")).toBe("0 2 * * *");
    expect(drillScheduleAfter("30 23 * * *")).toBe("30 0 * * *");
    expect(drillScheduleAfter("@daily")).toBe("0 3 * * *");
    expect(drillScheduleAfter("*/15 * * * *")).toBe("0 3 * * *");
  });
  it("records the result in the contract's shape, any reason escaped, keeping the last lines; a failure runs onFailure and exits 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "dbstack-pitr-unit-"));
    try {
      const hook = join(dir, "hook");
      execFileSync("bash", ["-c", `printf '%s\\n' 'cp "$DRILL_RESULT" ${join(dir, "seen.json")}' > ${hook}`]);
      const recorder = renderDrillRecorder({ deployment: "main", engine: "postgres", dir, history: 3, onFailureFile: hook });
      const reason = `a "quoted" \\ back\tslash\nand a new line; $(touch ${join(dir, "pwned")})`;
      const run = (body: string) => {
        try {
          execFileSync("bash", ["-c", `set -Eeuo pipefail\n${recorder}\nbackup=20261207-010000F; backup_age_h=1.50\n${body}`, "drill", reason], { stdio: "pipe" });
          return 0;
        } catch (e) {
          return (e as { status: number }).status;
        }
      };
      expect(run('drill_fail "$1"')).toBe(1);
      const failed = JSON.parse(readFileSync(join(dir, "drills", "last.json"), "utf8"));
      expect(Object.keys(failed)).toEqual(["deployment", "engine", "startedAt", "durationS", "backup", "backupAgeH", "recoveryPoint", "ok", "reason"]);
      expect(failed).toMatchObject({ deployment: "main", engine: "postgres", backup: "20261207-010000F", backupAgeH: 1.5, recoveryPoint: null, ok: false });
      expect(failed.reason).toBe(reason.replace(/[\t\n]/g, " "));
      expect(JSON.parse(readFileSync(join(dir, "seen.json"), "utf8"))).toEqual(failed);
      expect(statSync(join(dir, "drills", "last.json")).mode & 0o777).toBe(0o600);
      expect(() => statSync(join(dir, "pwned"))).toThrow();
      // A command that fails is a recorded failure too, never a silent skip.
      expect(run("false")).toBe(1);
      expect(JSON.parse(readFileSync(join(dir, "drills", "last.json"), "utf8")).reason).toMatch(/^command failed at line \d+: false$/);
      for (let i = 0; i < 3; i++) expect(run('recovery_point=2026-12-07T01:00:00Z; drill_pass')).toBe(0);
      const history = readFileSync(join(dir, "drills", "history.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(history).toHaveLength(3);
      expect(history.every((h) => h.ok === true && h.reason === "" && h.recoveryPoint === "2026-12-07T01:00:00Z")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("every engine's drill shares the age and the comparison of figures: equal figures pass, any difference fails naming the rows", () => {
    const dir = mkdtempSync(join(tmpdir(), "dbstack-pitr-unit-"));
    try {
      const recorder = renderDrillRecorder({ deployment: "main", engine: "mariadb", dir, history: 3 });
      const run = (body: string) => spawnSync("bash", ["-c", `set -Eeuo pipefail\n${recorder}\nbackup=b1\n${body}`], { encoding: "utf8" }).status;
      const last = () => JSON.parse(readFileSync(join(dir, "drills", "last.json"), "utf8"));
      expect(run(`drill_backup_taken "$(( $(date +%s) - 5400 ))"; drill_compare_figures $'app\tt\t3' $'app\tt\t3' "backup b1"; drill_pass`)).toBe(0);
      expect(last()).toMatchObject({ ok: true, backupAgeH: 1.5 });
      expect(run(`drill_compare_figures $'app\tt\t3\napp\tu\t1' $'app\tt\t2\napp\tu\t1' "backup b1"; drill_pass`)).toBe(1);
      expect(last()).toMatchObject({ ok: false, reason: "figures differ from those recorded at backup b1 (< recorded, > restored): < app t 3;> app t 2;" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the health check of the last drill", () => {
  const dir = mkdtempSync(join(tmpdir(), "dbstack-pitr-health-"));
  const file = join(dir, "last.json");
  const cron = join(dir, "cron");
  const check = lastDrillCheck({ file, maxAgeHours: 36, cronFile: cron });
  const run = () => execFileSync("bash", ["-c", `set -Eeuo pipefail\n${check.shell}`], { encoding: "utf8" }).trim();
  const result = (ok: boolean, hoursAgo: number, reason = "") =>
    writeFileSync(file, JSON.stringify({ deployment: "main", engine: "postgres", startedAt: new Date(Date.now() - hoursAgo * 3600_000).toISOString().replace(/\.\d+Z$/, "Z"), durationS: 9, backup: "L1", backupAgeH: 1, recoveryPoint: null, ok, reason }));
  it("passes quietly on a recent passed drill", () => {
    result(true, 2);
    expect(run()).toMatch(/^passed .* \(2h ago, backup L1\)$/);
  });
  it("warns (exit 0: never fails a deploy) on a failed drill, with its reason", () => {
    result(false, 1, "figures differ: app public.t 10 9");
    expect(run()).toMatch(/^WARNING: the last restore drill failed \(.*, backup L1\): figures differ: app public.t 10 9$/);
  });
  it("warns on a drill older than its schedule allows", () => {
    result(true, 40);
    expect(run()).toBe("WARNING: the last restore drill is 40h old (limit 36h): check the drill log");
  });
  it("warns when no drill has run long after the schedule was installed, not before", () => {
    rmSync(file, { force: true });
    writeFileSync(cron, "");
    expect(run()).toBe("no restore drill yet (schedule installed 0h ago)");
    const old = Date.now() / 1000 - 50 * 3600;
    utimesSync(cron, old, old);
    expect(run()).toBe("WARNING: no restore drill has run since its schedule was installed 50h ago (limit 36h): check the drill log");
  });
  it("warns on a result it cannot read", () => {
    writeFileSync(file, "{not json");
    expect(run()).toContain("WARNING: the last drill's result");
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("backup.drill (SQLite's nightly backups)", () => {
  const sqliteArgs = (drill: Record<string, unknown>) => ({ path: "/srv/app/app.db", backup: { dir: "/srv/app-backups", drill } });
  it("is accepted on SQLite and refused on a server, naming the key", () => {
    expect(() => validateSqliteArgs("app", sqliteArgs({ schedule: "0 4 * * *", onFailure: "true" }))).not.toThrow();
    expect(() => validateServerArgs("main", args(undefined, { backup: { drill: {} } }), mariadbEngine({ flavor: "mariadb", requireSecureTransport: false }))).toThrow(/^backup\.drill: drills of the nightly mariadb backups are not implemented yet/);
  });
  it.each<[string, Record<string, unknown>, RegExp]>([
    ["a port (a scratch file needs none)", { port: 6500 }, /^backup\.drill\.port: /],
    ["an empty onFailure", { onFailure: "" }, /^backup\.drill\.onFailure: /],
    ["a schedule with a newline", { schedule: "0 4 * * *\n* * * * * root id" }, /^backup\.drill\.schedule: /],
  ])("refuses %s", (_, drill, message) => {
    expect(() => validateSqliteArgs("app", sqliteArgs(drill))).toThrow(message);
  });
  it("the backup records figures only when a drill is declared; the drill never holds the onFailure text", () => {
    const spec = { name: "app", path: "/srv/app/app.db", toolsDir: "/t", pragmas: resolvePragmas(undefined), allowDataRemoval: false, backup: { schedule: "0 2 * * *", dir: "/srv/b", retentionDays: 7 } };
    expect(renderBackupScript(spec, spec.backup)).not.toContain("figures");
    expect(renderBackupScript({ ...spec, drill: { schedule: "0 3 * * *" } }, spec.backup)).toContain('sqlite_figures "$work/snapshot.db"');
    const hostile = "echo 'DBSTACK_EOF'; $(reboot) `id`";
    const tools = sqliteDrillTools({ name: "app", policy: spec.backup, toolsDir: "/t", onFailure: true, history: 30 }, hostile);
    expect(tools.map(([n, , m]) => [n, m])).toEqual([["drill", undefined], ["drill.on-failure", "0600"]]);
    expect(tools[0][1]).not.toContain("reboot");
    expect(tools[1][1]).toBe(`${hostile}\n`);
  });
  it("figures name tables through SQLite's own quoting", () => {
    const dir = mkdtempSync(join(tmpdir(), "dbstack-figures-"));
    try {
      const file = join(dir, "x.db");
      execFileSync("sqlite3", [file, `CREATE TABLE "a""b'; DROP TABLE t; --" (n); INSERT INTO "a""b'; DROP TABLE t; --" VALUES (1),(2); CREATE TABLE t (n);`]);
      const out = execFileSync("bash", ["-c", `${renderSqliteFigures()}\nsqlite_figures "$1"`, "x", file], { encoding: "utf8" });
      expect(out).toBe(`a"b'; DROP TABLE t; --\t2\nt\t0\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
