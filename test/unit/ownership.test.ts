import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { ownerLine, OWNER_FILE, renderOwnerFunctions } from "../../components/targets/ownership";
import { renderInstallTools, renderRemoveTools, TOOLS_MANIFEST } from "../../components/targets/tools";
import type { ShippedScript } from "../../components/targets/hostFiles";
import { renderSaveFromEnvironment } from "../../components/deploy/common";
import { renderCreateInstance, renderRemoveInstance } from "../../components/engines/mariadb/instanceScripts";
import { renderCreateCluster, renderRemoveCluster } from "../../components/engines/postgres/clusterScripts";
import { runScript, sqlite3, tempDir } from "./support/run";
import { markerPath, renderProvision, renderRemove, type SqliteScriptSpec } from "../../components/engines/sqlite/scripts";
import { resolvePragmas } from "../../components/engines/sqlite/pragmas";
import { validateServerArgs } from "../../components/deploy/validateServer";
import { renderRemoveBackups } from "../../components/backups/backupSchedule";

/** Two clones of one project, and another stack: three owners that must never take each other's things. */
const A = ownerLine({ project: "dbstack", stack: "a", id: "dbstack-a-111111" });
const B = ownerLine({ project: "dbstack", stack: "a", id: "dbstack-a-222222" });
const OTHER = ownerLine({ project: "other", stack: "prod", id: "dbstack-prod-333333" });
const TOOLS: [string, string][] = [["backup", "#!/bin/bash\necho backup\n"], ["maintenance", "#!/bin/bash\necho maintenance\n"]];

/** The tools step as serverDeployment renders it: the tools, then the owner's password file beside them. */
function installStep(dir: string, owner: string, opts: { adopt?: boolean } = {}): ShippedScript {
  const shipped = renderInstallTools(dir, TOOLS, { owner, adopt: opts.adopt, files: ["app.password"] });
  return { script: [shipped.script, renderSaveFromEnvironment(join(dir, "app.password"), "PW")].join("\n"), files: shipped.files };
}

describe("ownerLine", () => {
  it("names the project, the stack and the clone, in characters a shell line can hold", () => {
    expect(A).toBe("dbstack project=dbstack stack=a id=dbstack-a-111111");
    expect(ownerLine({ project: "p'$(id)", stack: "s`x`", id: "i" })).toBe("dbstack project=p---id- stack=s-x- id=i");
  });
});

describe("renderOwnerFunctions: ownership_of", () => {
  const cases: [what: string, markers: (string | undefined)[], expected: string][] = [
    ["no marker at all", [undefined, undefined], "unmarked"],
    ["this stack's marker", [A, undefined], "mine"],
    ["this stack's marker on both", [A, A], "mine"],
    ["another clone's marker", [B, undefined], `foreign ${B}`],
    ["another project's marker beside this stack's", [A, OTHER], `foreign ${OTHER}`],
  ];
  for (const [what, markers, expected] of cases) {
    it(`says ${expected.split(" ")[0]} for ${what}`, () => {
      const dir = tempDir();
      const paths = markers.map((m, i) => {
        const p = join(dir, `m${i}`);
        if (m !== undefined) writeFileSync(p, `${m}\n`);
        return p;
      });
      const r = runScript([renderOwnerFunctions(A), `ownership_of ${paths.join(" ")}`].join("\n"));
      expect(r.stdout.trim()).toBe(expected);
    });
  }
});

describe("tools directory: mine or not mine, and destroy then up (issue 17 row 8)", () => {
  it("destroy removes the tools, the password files and the marker, and the next up installs again", () => {
    const dir = join(tempDir(), "tools");
    for (const round of [1, 2]) {
      const up = runScript(installStep(dir, A), { PW: `secret-${round}` });
      expect(up.stderr, `up ${round}`).toBe("");
      expect(up.code).toBe(0);
      expect(readdirSync(dir).sort()).toEqual([OWNER_FILE, TOOLS_MANIFEST, "app.password", "backup", "maintenance"].sort());
      expect(readFileSync(join(dir, OWNER_FILE), "utf8")).toBe(`${A}\n`);
      const destroy = runScript(renderRemoveTools(dir, A));
      expect(destroy.code).toBe(0);
      expect(existsSync(dir), `destroy ${round} leaves nothing of dbstack's`).toBe(false);
    }
  });

  it("an up after a destroy of an earlier dbstack (password files left, no manifest) installs again", () => {
    const dir = join(tempDir(), "tools");
    mkdirSync(dir);
    writeFileSync(join(dir, "app.password"), "old");
    const up = runScript(installStep(dir, A), { PW: "new" });
    expect(up.stderr).toBe("");
    expect(readFileSync(join(dir, "app.password"), "utf8")).toBe("new");
  });

  const refused: [what: string, setUp: (dir: string) => void, message: string][] = [
    ["another clone's tools", (d) => writeFileSync(join(d, OWNER_FILE), `${B}\n`), `toolsDir: the tools directory DIR belongs to another dbstack stack (project=dbstack stack=a id=dbstack-a-222222`],
    ["another project's tools", (d) => writeFileSync(join(d, OWNER_FILE), `${OTHER}\n`), "belongs to another dbstack stack (project=other stack=prod id=dbstack-prod-333333"],
    ["tools of a dbstack before markers", (d) => writeFileSync(join(d, TOOLS_MANIFEST), "backup\n"), "toolsDir: DIR holds tools of a dbstack deployment that carry no owner marker"],
    ["a directory of someone else's", (d) => writeFileSync(join(d, "notes.txt"), "mine"), "toolsDir: DIR exists and holds notes.txt, which dbstack did not install"],
  ];
  for (const [what, setUp, message] of refused) {
    it(`refuses ${what}, naming the owner and toolsDir, and changes nothing`, () => {
      const dir = join(tempDir(), "tools");
      mkdirSync(dir);
      setUp(dir);
      const before = readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), "utf8")]);
      const up = runScript(installStep(dir, A), { PW: "pw" });
      expect(up.code).not.toBe(0);
      expect(up.stderr).toContain(message.replace("DIR", dir));
      expect(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), "utf8")])).toEqual(before);
    });
  }

  it("adopts its own tools made before markers on the update of a step in its state", () => {
    const dir = join(tempDir(), "tools");
    mkdirSync(dir);
    writeFileSync(join(dir, TOOLS_MANIFEST), "backup\n");
    const up = runScript(installStep(dir, A, { adopt: true }), { PW: "pw" });
    expect(up.stderr).toBe("");
    expect(readFileSync(join(dir, OWNER_FILE), "utf8")).toBe(`${A}\n`);
  });

  it("destroy leaves another stack's tools directory as it is", () => {
    const dir = join(tempDir(), "tools");
    expect(runScript(installStep(dir, B), { PW: "pw" }).code).toBe(0);
    const before = readdirSync(dir).sort();
    const destroy = runScript(renderRemoveTools(dir, A));
    expect(destroy.code).toBe(0);
    expect(destroy.stderr).toContain("left");
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});

/**
 * The instance and cluster scripts' owner checks, on the layout an existing instance leaves on
 * this machine (its config directory and data directory; no server needs to run: the checks come
 * before anything is started, stopped or written). Instance names start with `itown`.
 */
describe("instances and clusters: mine or not mine on this machine", () => {
  type Layout = { conf: string; data: string; exists: (data: string) => void; create: (adopt: boolean) => string; remove: () => string };
  const layouts: [engine: string, make: (data: string) => Layout][] = [
    [
      "mariadb",
      (data) => {
        const loc = { instance: "itownunitm", port: 3375, dataDirectory: data, owner: A };
        return {
          conf: "/etc/mysql/dbstack/itownunitm",
          data,
          exists: (d) => {
            mkdirSync("/etc/mysql/dbstack/itownunitm", { recursive: true });
            writeFileSync("/etc/mysql/dbstack/itownunitm/my.cnf", "[mysqld]\n");
            mkdirSync(join(d, "mysql"), { recursive: true });
          },
          create: (adopt) => renderCreateInstance(loc, { adopt }),
          remove: () => renderRemoveInstance(loc, true),
        };
      },
    ],
    [
      "postgres",
      (data) => {
        const loc = { version: 15, cluster: "itownunitp", port: 5575, dataDirectory: data, owner: A };
        return {
          conf: "/etc/postgresql/15/itownunitp",
          data,
          exists: (d) => {
            mkdirSync("/etc/postgresql/15/itownunitp", { recursive: true });
            writeFileSync("/etc/postgresql/15/itownunitp/postgresql.conf", "port = 5575\n");
            mkdirSync(d, { recursive: true });
            writeFileSync(join(d, "PG_VERSION"), "15\n");
          },
          create: (adopt) => renderCreateCluster(loc, { adopt }),
          remove: () => renderRemoveCluster(loc, true),
        };
      },
    ],
  ];
  const snapshot = (l: Layout) => [l.conf, l.data].map((d) => (existsSync(d) ? readdirSync(d).sort().map((f) => [f, statSync(join(d, f)).mtimeMs]) : null));

  for (const [engine, make] of layouts) {
    const markers: [what: string, write: (l: Layout) => void, refusal: string][] = [
      ["another clone's instance", (l) => writeFileSync(join(l.conf, engine === "mariadb" ? "owner" : OWNER_FILE), `${B}\n`), engine === "mariadb" ? "instanceName: MariaDB instance itownunitm belongs to another dbstack stack (project=dbstack stack=a id=dbstack-a-222222" : "instanceName: PostgreSQL cluster 15/itownunitp belongs to another dbstack stack (project=dbstack stack=a id=dbstack-a-222222"],
      ["another project's data directory", (l) => writeFileSync(join(l.data, OWNER_FILE), `${OTHER}\n`), "dataDirectory: the data directory DATA belongs to another dbstack stack (project=other stack=prod"],
      ["an instance no dbstack marked", () => undefined, "exists and carries no dbstack owner marker"],
    ];
    for (const [what, mark, refusal] of markers) {
      it(`${engine}: create refuses ${what}, naming the owner and the field, and destroy leaves it as it is`, () => {
        const l = make(join(tempDir(), "data"));
        try {
          l.exists(l.data);
          mark(l);
          const before = snapshot(l);
          const up = runScript(l.create(false));
          expect(up.code).not.toBe(0);
          expect(up.stderr).toContain(refusal.replace("DATA", l.data));
          expect(snapshot(l)).toEqual(before);
          const destroy = runScript(l.remove());
          expect(destroy.code).toBe(0);
          expect(destroy.stderr).toContain("as they are");
          expect(snapshot(l), "destroy with allowDataRemoval deleted what is not its own").toEqual(before);
        } finally {
          rmSync(l.conf, { recursive: true, force: true });
        }
      });
    }

    it(`${engine}: the update of an instance in this stack's state adopts one made before markers`, () => {
      const l = make(join(tempDir(), "data"));
      try {
        l.exists(l.data);
        const up = runScript(l.create(true));
        expect(up.stdout).toContain("adopted");
        expect(readFileSync(join(l.data, OWNER_FILE), "utf8")).toBe(`${A}\n`);
        // Marked: a plain create (this stack's next up after a destroy that kept the data) takes it back.
        const again = runScript(l.create(false));
        expect(again.stderr).toBe("");
        expect(again.stdout).toContain("exists");
      } finally {
        rmSync(l.conf, { recursive: true, force: true });
      }
    });
  }
});

describe("renderRemoveTools: the stack's directory of default tools directories", () => {
  it("is removed with its last tools directory, and only when empty", () => {
    expect(renderRemoveTools("/usr/local/lib/dbstack-dev-abc123/postgres-main")).toContain("rmdir '/usr/local/lib/dbstack-dev-abc123' 2>/dev/null || true");
    expect(renderRemoveTools("/srv/tools/postgres-main")).not.toContain("rmdir '/srv/tools'");
  });
});

describe("an interrupted create of a cluster is still its stack's", () => {
  it("a cluster made by pg_createcluster before the create was stopped (pending marker only) is taken, and marked, by the next create", () => {
    const data = join(tempDir(), "data");
    const conf = "/etc/postgresql/15/itownunitp";
    const pending = "/var/lib/postgresql/.dbstack-15-itownunitp.creating";
    const loc = { version: 15, cluster: "itownunitp", port: 5575, dataDirectory: data, owner: A };
    try {
      mkdirSync(conf, { recursive: true });
      writeFileSync(join(conf, "postgresql.conf"), "port = 5575\n");
      mkdirSync(data, { recursive: true });
      writeFileSync(join(data, "PG_VERSION"), "15\n");
      writeFileSync(pending, `${A}\n`);
      const again = runScript(renderCreateCluster(loc));
      expect(again.stderr).toBe("");
      expect(again.stdout).toContain("exists");
      expect(readFileSync(join(data, OWNER_FILE), "utf8")).toBe(`${A}\n`);
      expect(existsSync(pending)).toBe(false);
    } finally {
      rmSync(conf, { recursive: true, force: true });
      rmSync(pending, { force: true });
    }
  });
});

describe("SQLite files: mine or not mine", () => {
  const spec = (path: string, stackOwner: string): SqliteScriptSpec => ({
    name: "app",
    path,
    pragmas: resolvePragmas(undefined),
    toolsDir: join(path, "..", "tools"),
    allowDataRemoval: true,
    stackOwner,
  });

  it("another stack's file is refused naming its owner and `path`, and that stack's destroy keeps it", () => {
    const path = join(tempDir(), "app.db");
    expect(runScript(renderProvision(spec(path, A))).code).toBe(0);
    sqlite3(path, "CREATE TABLE kept (v); INSERT INTO kept VALUES ('a')");
    const up = runScript(renderProvision(spec(path, OTHER)));
    expect(up.code).not.toBe(0);
    expect(up.stderr).toContain(`path: the database file ${path} belongs to another dbstack stack (project=dbstack stack=a id=dbstack-a-111111`);
    const destroy = runScript(renderRemove(spec(path, OTHER)));
    expect(destroy.code).toBe(0);
    expect(destroy.stderr).toContain("its marker does not name this stack");
    expect(sqlite3(path, "SELECT v FROM kept")).toBe("a");
    expect(readFileSync(markerPath(path), "utf8")).toBe(`${A}\n`);
    // Its own stack's destroy (allowDataRemoval) deletes it, marker included.
    expect(runScript(renderRemove(spec(path, A))).code).toBe(0);
    expect([existsSync(path), existsSync(markerPath(path))]).toEqual([false, false]);
  });

  it("an empty marker (made before markers named their owner) is taken by the next up", () => {
    const path = join(tempDir(), "app.db");
    sqlite3(path, "CREATE TABLE kept (v)");
    chmodSync(path, 0o600);
    writeFileSync(markerPath(path), "");
    const up = runScript(renderProvision(spec(path, A)));
    expect(up.stderr).toBe("");
    expect(readFileSync(markerPath(path), "utf8")).toBe(`${A}\n`);
  });
});

describe("component arguments: data directories apart (issue 17 row 11)", () => {
  const engine = { kind: "mariadb" as const, overridesProblem: () => undefined, checkDatabase: () => undefined, checkUser: () => undefined };
  const base = { databases: [{ name: "app", owner: "app" }], users: [{ name: "app", grants: { app: "owner" as const } }] };
  const cases: [what: string, extra: Record<string, unknown>, message: string][] = [
    ["backups in the data directory", { dataDirectory: "/srv/m", backup: { dir: "/srv/m" } }, "backup.dir: /srv/m is the data directory /srv/m; backups must live outside every data directory"],
    ["backups inside the data directory", { dataDirectory: "/srv/m", backup: { dir: "/srv/m/backups" } }, "backup.dir: /srv/m/backups is inside the data directory /srv/m"],
    ["the distribution's MariaDB directory as data", { dataDirectory: "/var/lib/mysql" }, "dataDirectory: /var/lib/mysql belongs to the distribution's own database server"],
    ["the distribution's MariaDB directory as tools", { toolsDir: "/var/lib/mysql" }, "toolsDir: /var/lib/mysql belongs to the distribution's own database server"],
    ["the distribution's PostgreSQL cluster", { dataDirectory: "/var/lib/postgresql/16/main/" }, "dataDirectory: /var/lib/postgresql/16/main/ belongs to the distribution's own database server"],
  ];
  for (const [what, extra, message] of cases) {
    it(`refuses ${what}, naming the argument`, () => {
      expect(() => validateServerArgs("main", { ...base, ...extra } as Parameters<typeof validateServerArgs>[1], engine)).toThrow(message);
    });
  }
});

describe("renderRemoveBackups: the stack's directory of default backup directories", () => {
  it("is removed with its last backup directory when data removal is allowed, and only when empty", () => {
    expect(renderRemoveBackups("main", "/var/backups/dbstack-dev-abc123/postgres-main", ".tar", true)).toContain("rmdir '/var/backups/dbstack-dev-abc123' 2>/dev/null || true");
    expect(renderRemoveBackups("main", "/srv/backups/postgres-main", ".tar", true)).not.toContain("rmdir '/srv/backups'");
    expect(renderRemoveBackups("main", "/var/backups/dbstack-dev-abc123/postgres-main", ".tar", false)).not.toContain("rmdir");
  });
});
