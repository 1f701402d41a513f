import { spawnSync } from "child_process";
import { writeFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/env";
import { tempDir } from "./support/run";

// Issue 20, deliverable 4: the scripts behave like tools. db:copy answers --help with its whole usage (URL forms, every flag,
// exit codes) and exit 0, at once: without loading a database driver. A mistake shows the
// mistake and the usage line, not the whole text, and exits 2.

/** Runs scripts/db-copy.ts with a preload that makes loading any database driver fail. */
function dbCopy(args: string[]) {
  const guard = join(tempDir(), "no-drivers.js");
  writeFileSync(
    guard,
    `const Module = require("module"); const load = Module._load;
     Module._load = function (request, ...rest) {
       if (["pg", "mysql2", "mysql2/promise", "better-sqlite3"].includes(request)) throw new Error("driver loaded: " + request);
       return load.call(this, request, ...rest);
     };`,
  );
  return spawnSync(process.execPath, ["-r", guard, join(ROOT, "node_modules/.bin/ts-node"), "--transpile-only", join(ROOT, "scripts/db-copy.ts"), ...args], { cwd: ROOT, encoding: "utf8" });
}

describe("npm run db:copy -- --help", () => {
  it("prints the whole usage on stdout and exits 0, loading no driver", () => {
    const r = dbCopy(["--help"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    for (const text of ["sqlite:///abs/path.db", "postgresql://user@host:port/db", "mysql://user@host:port/db", "postgres:<deployment>/<database>", "--dry-run", "--allow id,...", "--tables a,b", "--rollback", "--refuse-unfinished", "--batch-rows", "DBSTACK_COPY_FROM", "Exit codes: 0"]) {
      expect(r.stdout, text).toContain(text);
    }
  });

  it("an unknown option: exit 2, the option named and the usage line only, nothing copied or loaded", () => {
    const r = dbCopy(["--from", "/tmp/x.db", "--bogus"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('db:copy: unknown argument "--bogus"');
    expect(r.stderr).toContain("npm run db:copy -- --help for every option");
    expect(r.stderr).not.toContain("Exit codes");
    expect(r.stdout).toBe("");
  });
});

describe("npm run db:check: a mistake shows the usage lines, not the whole text", () => {
  it("exit 2, the mistake, the three usage lines and where the rest is", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "node_modules/.bin/ts-node"), "--transpile-only", join(ROOT, "scripts/db-check.ts"), "--engines", "sqlite"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("db:check: --engines needs at least two engines to compare\nusage:\n  npm run db:check -- --migrations <dir>");
    expect(r.stderr).toContain("npm run db:check -- --help for every option");
    expect(r.stderr).not.toContain("Exit status");
  });
});

describe("every npm script answers --help and refuses an unknown option before doing anything", () => {
  const script = (name: string, args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, "node_modules/.bin/ts-node"), "--transpile-only", join(ROOT, "scripts", `${name}.ts`), ...args], {
      cwd: ROOT,
      encoding: "utf8",
      // No Pulumi on PATH and no backend: a script that went past its command line would fail differently.
      env: { PATH: "/usr/bin:/bin", HOME: tempDir() },
      stdio: ["ignore", "pipe", "pipe"],
    });
  for (const [name, usage] of [
    ["ephemeral", "usage: npm run ephemeral -- [--stack-prefix p]"],
    ["recover", "usage: npm run recover -- --stack <name> [--dry-run]"],
    ["preview-summary", "usage: npm run preview:summary -- --stack <name> [--out <file>]"],
    ["db-check", "npm run db:check -- --migrations <dir>"],
  ] as const) {
    it(`${name}: --help exits 0 with its usage; --bogus exits 2 naming it`, () => {
      const help = script(name, ["--help"]);
      expect(help.status, help.stderr).toBe(0);
      expect(help.stdout).toContain(usage);
      const bad = script(name, ["--bogus"]);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/--bogus/);
      expect(bad.stderr).toContain(usage);
    });
  }
});
