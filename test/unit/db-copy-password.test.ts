import { spawnSync } from "child_process";
import { writeFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/env";
import { passwordWarnings } from "../../scripts/db-copy";
import { tempDir } from "./support/run";

// Issue 19, deliverable 5: a password in --from/--to sits in ps while the copy runs; db:copy says so
// and says how to pass it instead (as db:check does), never repeating the password.

describe("db:copy warns about a password on its command line", () => {
  it("names each flag that carries one and the environment variable to use instead", () => {
    const w = passwordWarnings({ from: "postgresql://app:s3cret@db:5432/app", to: "mysql://root@127.0.0.1:6799/x" });
    expect(w).toHaveLength(1);
    expect(w[0]).toContain("--from carries a password on the command line");
    expect(w[0]).toContain("DBSTACK_COPY_FROM");
    expect(w[0]).toContain("PGPASSWORD / MYSQL_PWD");
    expect(w[0]).not.toContain("s3cret");
    expect(passwordWarnings({ to: "mysql://root:pw@h/x?x=1" })[0]).toContain("DBSTACK_COPY_TO");
    expect(passwordWarnings({ from: "/tmp/a.db", to: "postgresql://u@h/db" })).toEqual([]);
    expect(passwordWarnings({ from: "postgresql://u@h/db?password=zz" })).toHaveLength(1);
  });

  it("the CLI prints the warning before it loads a driver, without the password", () => {
    const guard = join(tempDir(), "no-drivers.js");
    writeFileSync(guard, `const M = require("module"); const l = M._load; M._load = function (r, ...a) { if (["pg", "mysql2", "mysql2/promise", "better-sqlite3"].includes(r)) throw new Error("driver loaded: " + r); return l.call(this, r, ...a); };`);
    const r = spawnSync(process.execPath, ["-r", guard, join(ROOT, "node_modules/.bin/ts-node"), "--transpile-only", join(ROOT, "scripts/db-copy.ts"), "--from", "postgresql://app:s3cret@127.0.0.1:6799/app", "--to", "/nonexistent/cp.db", "--dry-run"], { cwd: ROOT, encoding: "utf8" });
    expect(r.stderr).toContain("db:copy: warning: --from carries a password on the command line");
    expect(r.stderr + r.stdout).not.toContain("s3cret");
    expect(r.status).not.toBe(0); // the guard stops it at the first driver: nothing was reached
  });
});
