import { execFile } from "child_process";
import { promisify } from "util";
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { afterAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { copyCommand } from "../../components/deploy/importStep";

/**
 * dbstack used as a library (issue 20): the package npm would publish holds what importFrom runs,
 * compiled, so a program that installs dbstack needs neither ts-node nor this repository.
 */
const ROOT = resolve(__dirname, "../..");
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), "dbstack-pack-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the published package", () => {
  it("ships the compiled db:copy that importFrom runs, and it copies an SQLite database with plain node", async () => {
    // npm pack runs `prepare` (the build), exactly as a publish or a git install would. Asynchronous:
    // the build takes a minute, and the test worker must keep answering meanwhile.
    const packed = JSON.parse((await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: ROOT })).stdout);
    const files: string[] = packed[0].files.map((f: { path: string }) => f.path);
    expect(files).toContain("dist/scripts/db-copy.js");
    expect(files).toContain("dist/components/index.js");
    await run("tar", ["-xzf", join(work, packed[0].filename), "-C", work]);
    const pkg = join(work, "package");
    // The consumer's node_modules: this repository's run-time dependencies (no ts-node is used).
    symlinkSync(join(ROOT, "node_modules"), join(pkg, "node_modules"));

    const command = copyCommand(join(pkg, "dist/components/deploy"));
    expect(command).toEqual(["node", join(pkg, "dist/scripts/db-copy.js")]);

    const src = join(work, "src.db");
    const db = new Database(src);
    db.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO items (name) VALUES ('a'), ('b'), ('c');");
    db.close();
    const dst = join(work, "dst.db");
    const r = await run(command[0], command.slice(1), {
      cwd: work,
      env: { PATH: process.env.PATH, DBSTACK_COPY_FROM: `sqlite://${src}`, DBSTACK_COPY_TO: `sqlite://${dst}` },
    });
    expect(r.stdout).toMatch(/verified/);
    const copied = new Database(dst, { readonly: true });
    expect(copied.prepare("SELECT group_concat(name, ',') AS names FROM items").get()).toEqual({ names: "a,b,c" });
    copied.close();
    expect(statSync(dst).mode & 0o077).toBe(0);
  }, 240_000);

  it("in this repository (no compiled CLI beside the source), importFrom runs the source through ts-node", () => {
    const command = copyCommand(join(ROOT, "components/deploy"));
    expect(command).toEqual(["node", join(ROOT, "node_modules/.bin/ts-node"), "--transpile-only", join(ROOT, "scripts/db-copy.ts")]);
    expect(existsSync(command[1])).toBe(true);
  });
});
