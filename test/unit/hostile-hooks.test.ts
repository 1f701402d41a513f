/**
 * Issue 17, rows 1 and 2, at the unit layer: user-written text (migration SQL, declared health
 * checks, the migration command) never becomes part of a rendered script, reaches the host
 * byte for byte as shipped 0600 files (locally and through a `docker exec -i` hop), and the
 * clients hold no more power than their account (MariaDB without LOCAL INFILE; SQLite never as
 * root). The hostile lines hold shell metacharacters, every here-document terminator a rendered
 * script uses, quotes, `$( )`, backquotes, NUL and a spoofed shipping line.
 */
import { spawnSync } from "child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { offHostCommandFiles } from "../../components/backups/archive";
import { renderMariadbBackup } from "../../components/engines/mariadb/backupScripts";
import { mariadbDialect } from "../../components/engines/mariadb/dialect";
import { renderPostgresBackup } from "../../components/engines/postgres/backupScripts";
import { renderInstancePrelude } from "../../components/engines/mariadb/host";
import { renderOptionFile, serverVariables, type OptionFileSpec } from "../../components/engines/mariadb/optionFile";
import { postgresDialect } from "../../components/engines/postgres/dialect";
import { sqliteDialect } from "../../components/engines/sqlite/dialect";
import { resolvePragmas } from "../../components/engines/sqlite/pragmas";
import { sqliteTools } from "../../components/engines/sqlite/engine";
import type { SqliteScriptSpec } from "../../components/engines/sqlite/scripts";
import type { HookDialect } from "../../components/hooks/dialect";
import type { HealthCheck } from "../../components/hooks/healthChecks";
import { renderHealthTool, renderPostDeployHook, type MigrationSource } from "../../components/hooks/migrationRunner";
import { checksumOf, type Migration } from "../../components/hooks/migrations";
import { runOnTarget, type HostCommandState } from "../../components/targets/hostCommand";
import { renderShippedScript } from "../../components/targets/hostFiles";
import { renderInstallTools } from "../../components/targets/tools";
import { runScript, sqlite3, tempDir } from "./support/run";

/** What the SQLite component's tools step installs for `s` (deploy/phases/operations.ts). */
function renderSqliteTools(s: SqliteScriptSpec) {
  return renderInstallTools(s.toolsDir, sqliteTools(s), { owner: s.stackOwner });
}

/** In every hostile line: if it ever shows up in a script, or a file named after it exists, the test fails. */
const TOKEN = "hostile7f3a";

/** Every here-document terminator a rendered script uses (withHeredoc bases, `<<'` in components/). */
const TERMINATORS = ["DBSTACK_SQL", "DBSTACK_EOF", "DBSTACK_FILE", "DBSTACK_UNIT", "DBSTACK_CA_CERTIFICATE", "DBSTACK_PUBLIC_KEY", "DBSTACK_CERTIFICATE", "DBSTACK_IN_CONTAINER_x", "EOF", ""];

/** Lines that would run `touch <dir>/<TOKEN>-<n>` if any became shell. */
function hostileLines(dir: string): string[] {
  const mark = (n: number) => `${dir}/${TOKEN}-${n}`;
  return [
    // The line: ends the here-document inside $( … ) of the old runner.
    `DBSTACK_SQL); touch ${mark(1)}; false && out=$(cat <<''`,
    ...TERMINATORS.flatMap((t, i) => [`${t}`, `${t})`, `${t}); touch ${mark(10 + i)} #`, `${t}\ntouch ${mark(30 + i)}`]),
    `'; touch ${mark(2)}; '`,
    `"; touch ${mark(3)}; "`,
    `$(touch ${mark(4)})`,
    `\`touch ${mark(5)}\``,
    `\\'$(touch ${mark(6)})\\'`,
    `head -c 1 > /dev/null\ntouch ${mark(7)}`,
    `a\0b; touch ${mark(8)}`,
    `${TOKEN} plain`,
  ];
}

const HOSTILE = hostileLines("/tmp/never");
/** All hostile lines as one SQL text: comments, so a client that takes it as SQL runs nothing. */
const hostileSqlComment = (lines: string[]) => lines.map((l) => `-- ${l.replace(/\0/g, "")}`.replace(/\n/g, "\n-- ")).join("\n") + "\nSELECT 1;\n";
const migration = (id: string, sql: string): Migration => ({ id, sql, checksum: checksumOf(sql) });

const CHECKS: HealthCheck[] = HOSTILE.map((line, i) => ({ name: `${line} ${i}`, sql: line, expect: line, match: line }));
const MIGRATIONS: MigrationSource = { kind: "sql", migrations: [migration("0001_hostile", HOSTILE.join("\n")), migration("0002_comment", hostileSqlComment(HOSTILE))] };
const COMMAND: MigrationSource = { kind: "command", command: HOSTILE.join("\n"), workdir: `/srv/${TOKEN}'$(x)` };

const DIALECTS: [string, HookDialect][] = [
  ["postgres", postgresDialect({ version: 15, cluster: "main", port: 5432, database: "app", owner: "app", expectedStandbys: 0, ownerPasswordFile: "/t/app.password" })],
  ["mariadb", mariadbDialect({ instance: "unit", port: 3329, database: "app", owner: "app", ownerPasswordFile: "/t/app.password" })],
  ["sqlite", sqliteDialect({ path: "/var/lib/app/app.db", owner: "app", pragmas: resolvePragmas(undefined) })],
];

describe("no user text in a rendered script (table: engine x migration source)", () => {
  const cases = DIALECTS.flatMap(([engine, dialect]) =>
    (
      [
        ["SQL migrations", MIGRATIONS],
        ["migration command", COMMAND],
        ["checks only", undefined],
      ] as const
    ).map(([what, migrations]) => [`${engine}: ${what}`, dialect, migrations] as const),
  );

  it.each(cases)("%s: the script holds none of it; the shipped files hold it verbatim; bash -n passes", (_name, dialect, migrations) => {
    const hook = renderPostDeployHook({ subject: "database app", dialect, migrations, healthChecks: CHECKS });
    expect(hook.script).not.toContain(TOKEN);
    expect(hook.script).not.toContain("touch /tmp/never");
    // No here-document at all in a hook: the only `<<` left is the here-string of $DATABASE_URL.
    expect(hook.script).not.toMatch(/<<-?\s*['"]?[A-Za-z_]/);
    const shipped = Object.values(hook.files).join("\n");
    for (const line of HOSTILE) expect(shipped).toContain(line);
    const syntax = spawnSync("bash", ["-n"], { input: hook.script, encoding: "utf8" });
    expect(syntax.stderr).toBe("");
    expect(syntax.status).toBe(0);
  });

  it.each(DIALECTS)("%s: the on-demand health tool reads its checks from files beside it, never from its own text", (_engine, dialect) => {
    const tool = renderHealthTool(dialect, "database app", CHECKS, "/usr/local/lib/dbstack/tools", "health-app.");
    expect(tool).not.toContain(TOKEN);
    expect(tool).toContain(`check="$CHECKS_DIR"/health-app.check-1`);
    const install = renderInstallTools("/usr/local/lib/dbstack/tools", [["health-app", tool], ["health-app.check-1.sql", CHECKS[0].sql, "0600"]]);
    expect(install.script).not.toContain(TOKEN);
    expect(install.files["health-app.check-1.sql"]).toBe(CHECKS[0].sql);
  });

  it("sqlite: the installed tools carry the checks as 0600 files, not in the health script", () => {
    const tools = renderSqliteTools({ name: "app", path: "/var/lib/app/app.db", owner: "app", pragmas: resolvePragmas(undefined), toolsDir: "/opt/app", healthChecks: CHECKS, allowDataRemoval: false });
    expect(tools.script).not.toContain(TOKEN);
    expect(tools.files.health).not.toContain(TOKEN);
    expect(tools.files["health.check-1.sql"]).toBe(CHECKS[0].sql);
    expect(tools.script).toContain(`chmod 0600 '/opt/app/health.check-1.sql.dbstack-tmp'`);
  });

  it("the backups' off-host command is a 0600 file beside the backup tool, not part of any tool (postgres, mariadb, sqlite)", () => {
    const policy = { schedule: "0 2 * * *", dir: "/var/backups/app", retentionDays: 7, offHostCommand: HOSTILE.join("\n") };
    const sqliteTools = renderSqliteTools({ name: "app", path: "/var/lib/app/app.db", owner: "app", pragmas: resolvePragmas(undefined), toolsDir: "/opt/app", backup: policy, allowDataRemoval: false });
    const backups = [
      renderPostgresBackup({ version: 15, cluster: "main", port: 5432, name: "main", databases: ["app"], policy }),
      renderMariadbBackup({ instance: "unit", port: 3329, name: "main", databases: ["app"], policy }),
      sqliteTools.files.backup,
    ];
    for (const script of backups) {
      expect(script).not.toContain(TOKEN);
      expect(script).toContain('bash "${BASH_SOURCE[0]}.off-host"');
    }
    expect(sqliteTools.files["backup.off-host"]).toBe(`${policy.offHostCommand}\n`);
    expect(offHostCommandFiles(policy)).toEqual([["backup.off-host", `${policy.offHostCommand}\n`, "0600"]]);
  });

  it("refuses a migration id or a shipped file name that is not one plain path component", () => {
    const bad: MigrationSource = { kind: "sql", migrations: [{ id: "0001_x'; touch /tmp/y #", sql: "SELECT 1;", checksum: checksumOf("SELECT 1;") }] };
    expect(() => renderPostDeployHook({ subject: "x", dialect: DIALECTS[0][1], migrations: bad, healthChecks: [] })).toThrow(/^migrations: id/);
    expect(() => renderShippedScript({ "../x": "a" }, "true")).toThrow(/one plain path component/);
    expect(() => renderShippedScript({ ".script": "a" }, "true")).toThrow(/one plain path component/);
  });
});

describe("shipping files on the script's stdin", () => {
  /** A script that copies every shipped file to `out`, with its mode and its directory's mode. */
  const copier = (out: string) =>
    [
      `out=${out}`,
      'stat -c %a "$DBSTACK_FILES" > "$out/.dir-mode"',
      'printf %s "$DBSTACK_FILES" > "$out/.dir"',
      'for f in "$DBSTACK_FILES"/*; do cp "$f" "$out/"; stat -c %a "$f" > "$out/${f##*/}.mode"; done',
    ].join("\n");

  const contents = (dir: string) => {
    const files: Record<string, string> = {};
    hostileLines(dir).forEach((line, i) => (files[`f${i}`] = line));
    files.empty = "";
    files.unicode = "é ✓ 𝄞\r\n\t\\";
    files.big = "x".repeat(200_000) + "\nDBSTACK_SQL\n";
    return files;
  };

  it("delivers every file byte for byte (NUL, terminators, quotes, 200 kB), 0600 in a 0700 directory removed afterwards, and runs none of it", () => {
    const dir = tempDir();
    const out = join(dir, "out");
    mkdirSync(out);
    const files = contents(dir);
    const r = runScript({ script: copier(out), files });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const [name, content] of Object.entries(files)) {
      expect(readFileSync(join(out, name), "utf8"), name).toBe(content);
      expect(readFileSync(join(out, `${name}.mode`), "utf8").trim()).toBe("600");
    }
    expect(readFileSync(join(out, ".dir-mode"), "utf8").trim()).toBe("700");
    expect(existsSync(readFileSync(join(out, ".dir"), "utf8"))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes(TOKEN))).toEqual([]);
  });

  it("keeps the script's exit status and removes the files when the script sets its own EXIT trap", () => {
    const dir = tempDir();
    const r = runScript({ script: `printf %s "$DBSTACK_FILES" > ${dir}/where; trap 'echo own trap' EXIT; exit 7`, files: { a: "x" } });
    expect(r.code).toBe(7);
    expect(r.stdout).toBe("own trap\n");
    expect(existsSync(readFileSync(join(dir, "where"), "utf8"))).toBe(false);
  });

  /** A HostCommand's state for runOnTarget. */
  const state = (over: Partial<HostCommandState>): HostCommandState => ({ target: { kind: "local" }, description: "unit", create: "", stdout: "", ...over });

  it("through runOnTarget, locally and through a `docker exec -i` hop: files arrive verbatim; hostile environment values stay values", async () => {
    const dir = tempDir();
    // A stand-in for the docker CLI: `docker exec -i -u 0 <c> bash -s` runs `bash -s` on the rest of its stdin.
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "docker"), '#!/bin/bash\n[ "$1" = exec ] || exit 9\nwhile [ "$1" != bash ]; do shift; done\nexec "$@"\n');
    chmodSync(join(bin, "docker"), 0o755);
    const environment = { DBSTACK_OWNER_PASSWORD: `p'w"$(touch ${dir}/${TOKEN}-env)\`touch ${dir}/${TOKEN}-env2\`\nDBSTACK_SQL` };
    const targets: [string, HostCommandState["target"]][] = [
      ["local", { kind: "local" }],
      ["docker container", { kind: "docker", container: "c1" }],
      ["docker host", { kind: "docker" }],
    ];
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      for (const [what, target] of targets) {
        const out = join(dir, what.replace(/ /g, "-"));
        mkdirSync(out);
        const files = contents(dir);
        const script = `${copier(out)}\nprintf %s "$DBSTACK_OWNER_PASSWORD" > ${out}/.password`;
        await runOnTarget(state({ target, files, environment }), script);
        for (const [name, content] of Object.entries(files)) expect(readFileSync(join(out, name), "utf8"), `${what}: ${name}`).toBe(content);
        expect(readFileSync(join(out, ".password"), "utf8"), what).toBe(environment.DBSTACK_OWNER_PASSWORD);
      }
    } finally {
      process.env.PATH = oldPath;
    }
    expect(readdirSync(dir).filter((f) => f.includes(TOKEN))).toEqual([]);
  });
});

describe("SQLite hooks never run user SQL as root", () => {
  const hostile = (dir: string) => [migration("0001_hostile", hostileSqlComment(hostileLines(dir)))];

  it("as root with no owner: refuses naming owner, before any migration, check or command runs", () => {
    const dir = tempDir();
    const db = join(dir, "app.db");
    writeFileSync(db, "");
    const sources: (MigrationSource | undefined)[] = [{ kind: "sql", migrations: hostile(dir) }, { kind: "command", command: `touch ${dir}/${TOKEN}-cmd`, workdir: dir }, undefined];
    for (const migrations of sources) {
      const hook = renderPostDeployHook({
        subject: "sqlite database app",
        dialect: sqliteDialect({ path: db, pragmas: resolvePragmas(undefined) }),
        migrations,
        healthChecks: [{ name: "shadow", sql: "SELECT length(data) FROM fsdir('/etc/shadow')" }],
      });
      const r = runScript(hook);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^owner: sqlite database .*app\.db: migrations, declared health checks and migration commands never run as root/);
      expect(r.stdout).not.toContain("shadow");
    }
    expect(sqlite3(db, "SELECT count(*) FROM sqlite_master")).toBe("0");
    expect(readdirSync(dir).filter((f) => f.includes(TOKEN))).toEqual([]);
  });

  it("as root with an owner: the hostile migration applies as SQL text, and fsdir reads nothing root-only", () => {
    const dir = tempDir();
    chmodSync(dir, 0o700);
    chownSync(dir, 65534, 65534);
    const db = join(dir, "app.db");
    writeFileSync(db, "");
    chownSync(db, 65534, 65534);
    const r = runScript(
      renderPostDeployHook({
        subject: "sqlite database app",
        dialect: sqliteDialect({ path: db, owner: "nobody", pragmas: resolvePragmas({ journalMode: "delete" }) }),
        migrations: { kind: "sql", migrations: hostile(dir) },
        healthChecks: [{ name: "shadow", sql: "SELECT coalesce(length(data), -1) FROM fsdir('/etc/shadow')", expect: "-1" }],
      }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("applied migration 0001_hostile");
    expect(readdirSync(dir).filter((f) => f.includes(TOKEN))).toEqual([]);
    expect(statSync(db).uid).toBe(65534);
  });
});

describe("MariaDB clients without LOCAL INFILE", () => {
  it("every mariadb client dbstack renders runs with --local-infile=0", () => {
    const texts = [renderInstancePrelude({ instance: "unit", port: 3329 }), DIALECTS[1][1].clientFunctions];
    const calls = texts.flatMap((t) => t.split("\n")).filter((line) => /(^|[{;|]\s*)mariadb\s+--/.test(line));
    expect(calls.length).toBeGreaterThanOrEqual(2);
    for (const line of calls) expect(line).toMatch(/mariadb --(no-defaults|defaults-file="\$OWNER_CNF") --local-infile=0 /);
  });

  it("the server's option file says local_infile = OFF unless parameters declare it", () => {
    const spec = (parameters: OptionFileSpec["parameters"]): OptionFileSpec => ({ loc: { instance: "unit", port: 3329 }, parameters, bindAddresses: ["127.0.0.1"], requireSecureTransport: false, tls: false });
    expect(serverVariables(renderOptionFile(spec([]))).local_infile).toBe("OFF");
    const declared = renderOptionFile(spec([{ name: "local_infile", value: "ON", reason: "declared" }]));
    expect(serverVariables(declared).local_infile).toBe("ON");
    expect(declared.match(/^local_infile =/gm)).toHaveLength(1);
  });
});
