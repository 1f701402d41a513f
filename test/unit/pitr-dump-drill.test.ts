import { spawnSync } from "child_process";
import { describe, expect, it } from "vitest";
import { validateServerArgs } from "../../components/deploy/validateServer";
import { renderPostgresBackup } from "../../components/engines/postgres/backupScripts";
import { postgresDumpDrillTools, renderDumpWithFigures } from "../../components/engines/postgres/dumpDrill";
import { postgresEngine } from "../../components/engines/postgres/engine";
import type { ServerDeploymentArgs } from "../../components/model/args";

// Issue 22: restore drills of PostgreSQL's nightly dumps (backup.drill on a server deployment).
const args = (backup: ServerDeploymentArgs["backup"], over: Partial<ServerDeploymentArgs> = {}): ServerDeploymentArgs => ({ port: 7290, databases: [{ name: "app", owner: "app" }], users: [{ name: "app", grants: { app: "owner" } }], backup, ...over });
const policy = { schedule: "0 2 * * *", dir: "/srv/b", retentionDays: 7 };
const loc = { version: 15, cluster: "main", port: 7290 };

describe("backup.drill on a PostgreSQL deployment", () => {
  it("is accepted, with a scratch port; refused on a Docker target, naming the key", () => {
    expect(() => validateServerArgs("main", args({ drill: { schedule: "0 4 * * *", port: 7291, onFailure: "true" } }), postgresEngine)).not.toThrow();
    expect(() => validateServerArgs("main", args({ drill: {} }, { target: { kind: "docker" } }), postgresEngine)).toThrow(/^backup\.drill: .*Docker target/);
  });
  it("the backup records figures in the dump's own snapshot only when a drill is declared", () => {
    const plain = renderPostgresBackup({ ...loc, name: "main", databases: ["app"], policy });
    expect(plain).not.toContain("figures");
    const withFigures = renderPostgresBackup({ ...loc, name: "main", databases: ["app", "it's"], policy: { ...policy, figures: true } });
    expect(withFigures).toContain(`dump_with_figures 'it'\\''s' "$work/dump/it's.dump" "$work/figures.tsv"`);
    expect(withFigures).toContain('mv -f "$work/figures.tsv" "$DEST/figures/${file##*/}.tsv"');
    expect(renderDumpWithFigures()).toContain("SELECT pg_export_snapshot();");
    expect(renderDumpWithFigures()).toContain('--snapshot="$snap"');
    expect(spawnSync("bash", ["-n"], { input: withFigures, encoding: "utf8" }).status).toBe(0);
  });
  it("the drill tool is valid bash, never holds the onFailure text, and restores every declared database", () => {
    const hostile = "echo 'DBSTACK_EOF'; $(reboot) `id`";
    const tools = postgresDumpDrillTools({ ...loc, name: "main", databases: ["app"], dir: "/srv/b", history: 30, onFailureFile: "/t/drill.on-failure" }, hostile);
    expect(tools.map(([n, , m]) => [n, m])).toEqual([["drill", undefined], ["drill.on-failure", "0600"]]);
    expect(tools[0][1]).not.toContain("reboot");
    expect(tools[1][1]).toBe(`${hostile}\n`);
    expect(tools[0][1]).toContain("pg_restore -h \"$sock\" -p \"$port\" --create --exit-on-error");
    expect(tools[0][1]).toContain("listen_addresses=''");
    const r = spawnSync("bash", ["-n"], { input: tools[0][1], encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
  });
  it("runs the declared health checks in the restored copy as each database's owner, reading them from the health tools' files", () => {
    const [[, drill]] = postgresDumpDrillTools({ ...loc, name: "main", databases: ["app"], dir: "/srv/b", history: 30, checkDir: "/t", healthChecks: [{ database: "app", owner: "app_owner", checks: [{ expect: true, match: false }, { expect: false, match: true }] }] }, undefined);
    expect(drill).toContain("check='/t/health-app.check-1'; dbname='app'");
    expect(drill).toContain(`-U 'app_owner' -d 'app' -c " $(cat "$check.sql")"`);
    expect(drill).toContain('[ "$out" = "$(cat "$check.expect")" ]');
    expect(drill).toContain("check='/t/health-app.check-2'");
    expect(drill).toContain('grep -Eq -- "$(cat "$check.match")"');
    // The scratch socket is private to postgres: trust there reaches no other local user.
    expect(drill).toContain('install -d -o postgres -g postgres -m 0700 "$sock"');
    expect(drill).toContain("--auth-local=trust --auth-host=reject");
    expect(spawnSync("bash", ["-n"], { input: drill, encoding: "utf8" }).status).toBe(0);
  });
});
