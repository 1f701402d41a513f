import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import type { ReviewFacts } from "../../components/model/reviewFacts";
import { parseImportReference } from "../../components/copy/importReference";
import { copyCommand, IMPORT_UPDATE_SCRIPT, ownerCopyUrl, renderImportScript, verifiedCopyUrl } from "../../components/deploy/importStep";
import { ConfigError, parseStackConfig } from "../../stacks/config";
import { summarizePreview, type PreviewEvent } from "../../scripts/lib/previewSummary";
import { runScript, tempDir } from "./support/run";

/** A stack config with sqlite `app`, postgres `main` (database app) and mariadb `shop` (database app), with overrides. */
function stackConfig(over: { pgApp?: Record<string, unknown>; shopApp?: Record<string, unknown>; shopUsers?: Record<string, unknown>; sqliteHost?: string } = {}) {
  return {
    "dbstack:hosts": JSON.stringify({ far: { address: "10.0.0.9", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----" } }),
    "dbstack:sqlite": JSON.stringify({ app: { path: "/var/lib/app/app.db", host: over.sqliteHost ?? "local" } }),
    "dbstack:postgres": JSON.stringify({ main: { databases: { app: { owner: "app", ...over.pgApp } }, users: { app: { grants: { app: "owner" } } } } }),
    "dbstack:mariadb": JSON.stringify({
      shop: { databases: { app: { owner: "shop", ...over.shopApp } }, users: over.shopUsers ?? { shop: { grants: { app: "owner" }, hosts: ["localhost", "127.0.0.1"] } } },
    }),
  };
}

function configError(raw: Record<string, string>): string {
  try {
    parseStackConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("parseStackConfig accepted the config");
}

describe("importFrom in the stack config", () => {
  it("accepts a reference alone or with allowed conversions, and keeps it as declared", () => {
    const config = parseStackConfig(stackConfig({ pgApp: { importFrom: "sqlite:app" }, shopApp: { importFrom: { from: "postgres:main/app", allow: ["dbstack_migrations.id:text->text(768)"] } } }));
    expect(config.postgres.main.databases.app.importFrom).toBe("sqlite:app");
    expect(config.mariadb.shop.databases.app.importFrom).toEqual({ from: "postgres:main/app", allow: ["dbstack_migrations.id:text->text(768)"] });
  });

  it("refuses a malformed reference, naming the field and the forms", () => {
    expect(configError(stackConfig({ pgApp: { importFrom: "sqlite/app" } }))).toContain(
      'dbstack:postgres.main.databases.app.importFrom: expected "sqlite:<name>", "postgres:<name>/<database>" or "mariadb:<name>/<database>"',
    );
    expect(configError(stackConfig({ pgApp: { importFrom: "postgres:main" } }))).toContain("dbstack:postgres.main.databases.app.importFrom: expected");
    expect(configError(stackConfig({ pgApp: { importFrom: { from: "sqlite:app", allow: ["a b"] } } }))).toContain("dbstack:postgres.main.databases.app.importFrom");
  });

  it("refuses a deployment or database the stack does not declare", () => {
    expect(configError(stackConfig({ pgApp: { importFrom: "sqlite:nope" } }))).toContain(
      'dbstack:postgres.main.databases.app.importFrom: no sqlite deployment "nope" in the stack (dbstack:sqlite declares app)',
    );
    expect(configError(stackConfig({ shopApp: { importFrom: "postgres:main/missing" } }))).toContain(
      'dbstack:mariadb.shop.databases.app.importFrom: postgres deployment main has no database "missing" (it declares app)',
    );
  });

  it("refuses the database itself and its own deployment", () => {
    expect(configError(stackConfig({ pgApp: { importFrom: "postgres:main/app" } }))).toContain(
      'dbstack:postgres.main.databases.app.importFrom: "postgres:main/app" is this database itself',
    );
  });

  it("refuses deployments importing from each other, naming the cycle", () => {
    const message = configError(stackConfig({ pgApp: { importFrom: "mariadb:shop/app" }, shopApp: { importFrom: "postgres:main/app" } }));
    expect(message).toMatch(/importFrom: deployments would import from each other \((postgres:main → mariadb:shop → postgres:main|mariadb:shop → postgres:main → mariadb:shop)\)/);
  });

  it("refuses an SQLite source on another host: the copy reads the file on this machine", () => {
    expect(configError(stackConfig({ sqliteHost: "far", pgApp: { importFrom: "sqlite:app" } }))).toContain(
      'dbstack:postgres.main.databases.app.importFrom: dbstack:sqlite.app is on host far; the copy runs on the machine running Pulumi',
    );
  });

  it("refuses a local MariaDB target whose owner cannot log in over TCP from 127.0.0.1", () => {
    const only = (hosts: string[]) => stackConfig({ shopApp: { importFrom: "sqlite:app" }, shopUsers: { shop: { grants: { app: "owner" }, hosts } } });
    expect(configError(only(["localhost"]))).toContain(
      'dbstack:mariadb.shop.databases.app.importFrom: the copy logs in as shop over TCP from this machine (127.0.0.1), which dbstack:mariadb.shop.users.shop.hosts (localhost) does not allow; add "127.0.0.1"',
    );
    for (const hosts of [["127.0.0.1"], ["%"], ["127.0.0.%"], ["127.0.0.0/8"]]) expect(() => parseStackConfig(only(hosts))).not.toThrow();
    expect(configError(only(["10.0.0.0/8"]))).toContain("does not allow");
  });
});

describe("importFrom references and URLs", () => {
  it("parses the three forms and nothing else", () => {
    expect(parseImportReference("sqlite:app")).toEqual({ engine: "sqlite", deployment: "app" });
    expect(parseImportReference("postgres:main/app")).toEqual({ engine: "postgres", deployment: "main", database: "app" });
    expect(parseImportReference("mariadb:shop-1/app_2")).toEqual({ engine: "mariadb", deployment: "shop-1", database: "app_2" });
    for (const bad of ["sqlite:app/x", "postgres:main", "mysql:a/b", "sqlite:", "Sqlite:app", "postgres:main/App"]) expect(parseImportReference(bad)).toBeUndefined();
  });

  it("asks the copy's drivers to verify the server, whatever the URL asked", () => {
    expect(verifiedCopyUrl("postgres", "postgresql://app:p%40ss@localhost:5432/app?sslmode=require")).toBe("postgresql://app:p%40ss@localhost:5432/app?sslmode=verify-full");
    expect(ownerCopyUrl("mariadb", { user: "shop", password: "a?b&c", host: "127.0.0.1", port: 3306, database: "app" })).toBe(
      "mysql://shop:a%3Fb%26c@127.0.0.1:3306/app?ssl-mode=VERIFY_IDENTITY",
    );
  });
});

describe("the import step's scripts", () => {
  /** A project directory whose `node` stand-in records what db:copy would have been given. */
  function fakeProject(): { dir: string; bin: string } {
    const dir = tempDir();
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const record = join(dir, "record");
    writeFileSync(
      join(bin, "node"),
      [
        "#!/usr/bin/env bash",
        `{ echo "cwd=$PWD"; echo "args=$*"; echo "from=$DBSTACK_COPY_FROM"; echo "to=$DBSTACK_COPY_TO";`,
        `  for f in "$DBSTACK_COPY_FROM" "$DBSTACK_COPY_TO"; do ca="\${f##*=}"; [ -f "$ca" ] && echo "ca $(stat -c %a "$ca") $(head -1 "$ca")"; done; } > ${record}`,
        "echo 'copied; verified (row counts and checksums match)'",
      ].join("\n"),
    );
    chmodSync(join(bin, "node"), 0o755);
    return { dir, bin };
  }

  it("runs db:copy in the project with both CAs in private files named in the URLs, then removes them", () => {
    const { dir, bin } = fakeProject();
    const script = renderImportScript({ source: "postgres `main/app`", target: "mariadb `shop/app`", projectDir: dir, command: ["node", "/pkg/dist/scripts/db-copy.js"], allow: ["t.c:text->text(768)"] });
    const result = runScript(script, {
      PATH: `${bin}:${process.env.PATH}`,
      DBSTACK_COPY_FROM: "postgresql://app:secret@localhost:5432/app?sslmode=verify-full",
      DBSTACK_COPY_TO: "mysql://shop:secret@127.0.0.1:3306/app?ssl-mode=VERIFY_IDENTITY",
      DBSTACK_IMPORT_SOURCE_CA: "-----BEGIN CERTIFICATE----- source",
      DBSTACK_IMPORT_TARGET_CA: "-----BEGIN CERTIFICATE----- target",
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("importFrom: copying postgres `main/app` into mariadb `shop/app` (once: a later up copies nothing)");
    const record = readFileSync(join(dir, "record"), "utf8");
    expect(record).toContain(`cwd=${dir}`);
    expect(record).toContain("args=/pkg/dist/scripts/db-copy.js --allow t.c:text->text(768)");
    const from = /from=(.*)/.exec(record)![1];
    const to = /to=(.*)/.exec(record)![1];
    expect(from).toMatch(/^postgresql:\/\/app:secret@localhost:5432\/app\?sslmode=verify-full&sslrootcert=\/.+\/DBSTACK_IMPORT_SOURCE_CA\.pem$/);
    expect(to).toMatch(/^mysql:\/\/shop:secret@127\.0\.0\.1:3306\/app\?ssl-mode=VERIFY_IDENTITY&ssl-ca=\/.+\/DBSTACK_IMPORT_TARGET_CA\.pem$/);
    expect(record).toContain("ca 600 -----BEGIN CERTIFICATE----- source");
    expect(record).toContain("ca 600 -----BEGIN CERTIFICATE----- target");
    // The CA files lived only while the copy ran.
    expect(existsSync(from.split("sslrootcert=")[1])).toBe(false);
    // Nothing secret in the script itself: the URLs come from the environment.
    expect(script).not.toContain("secret");
  });

  it("leaves an SQLite source's URL alone and fails when the copy fails", () => {
    const { dir, bin } = fakeProject();
    writeFileSync(join(bin, "node"), "#!/usr/bin/env bash\necho \"from=$DBSTACK_COPY_FROM\" > " + join(dir, "record") + "\necho 'verification failed: items (source 3 rows ...)' >&2\nexit 1\n");
    const result = runScript(renderImportScript({ source: "sqlite `app`", target: "postgres `main/app`", projectDir: dir, command: copyCommand(), allow: [] }), {
      PATH: `${bin}:${process.env.PATH}`,
      DBSTACK_COPY_FROM: "sqlite:////var/lib/app/app.db",
      DBSTACK_COPY_TO: "postgresql://app:pw@127.0.0.1:5432/app?sslmode=verify-full",
      DBSTACK_IMPORT_TARGET_CA: "ca",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("verification failed: items");
    expect(readFileSync(join(dir, "record"), "utf8").trim()).toBe("from=sqlite:////var/lib/app/app.db");
  });

  it("refuses an allowed id a shell or the --allow list would split", () => {
    expect(() => renderImportScript({ source: "s", target: "t", projectDir: "/p", command: ["node", "x.js"], allow: ["a,b"] })).toThrow("importFrom.allow");
  });

  it("updates by running nothing", () => {
    const result = runScript(IMPORT_UPDATE_SCRIPT);
    expect(result).toEqual({ code: 0, stdout: "", stderr: "" });
  });
});

describe("the preview summary of an import step", () => {
  function step(op: string, old?: ReviewFacts, now?: ReviewFacts): PreviewEvent {
    const urn = "urn:pulumi:test::dbstack::dbstack:postgres:Cluster$pulumi-nodejs:dynamic/dbstack:HostCommand::main-db-app-import";
    const state = (review?: ReviewFacts) => review && { type: "pulumi-nodejs:dynamic/dbstack:HostCommand", urn, parent: "", inputs: { review } };
    return { resourcePreEvent: { metadata: { op, urn, type: "pulumi-nodejs:dynamic/dbstack:HostCommand", old: state(old), new: state(now) } } };
  }
  const facts = (source: string): ReviewFacts => ({ component: "postgres cluster main", dataImport: { source, target: "postgres `main/app`" } });
  const messages = (e: PreviewEvent) => summarizePreview("test", [e]).flags.map((f) => `${f.kind}: ${f.message}`);

  it("flags the copy when the step is created, and nothing when it stays or goes", () => {
    expect(messages(step("create", undefined, facts("sqlite `app`")))).toEqual(["import: data copied from sqlite `app` into postgres `main/app`"]);
    expect(messages(step("update", facts("sqlite `app`"), facts("sqlite `app`")))).toEqual([]);
    expect(messages(step("delete", facts("sqlite `app`"), undefined))).toEqual([]);
  });

  it("flags the copy again when a replaced instance brings a new, empty database", () => {
    expect(messages(step("replace", facts("sqlite `app`"), facts("sqlite `app`")))).toEqual([
      "import: data copied from sqlite `app` into postgres `main/app` again: its instance is replaced by a new, empty one",
    ]);
  });

  it("says a changed source copies nothing", () => {
    expect(messages(step("update", facts("sqlite `app`"), facts("sqlite `other`")))).toEqual([
      "import: importFrom changed from sqlite `app` to sqlite `other`: nothing is copied (postgres `main/app` was seeded when it was created)",
    ]);
  });
});
