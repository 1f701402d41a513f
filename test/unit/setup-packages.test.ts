import { execFileSync, spawnSync } from "child_process";
import { join } from "path";
import { describe, expect, it } from "vitest";

/** Set-up installs by need: a deploy of the SQLite dev stack must not pull servers, sshd or Podman. */
const SETUP = join(__dirname, "../../scripts/setup.sh");
const list = (...args: string[]) =>
  execFileSync("bash", [SETUP, ...args, "--list-packages"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n");

describe("scripts/setup.sh package sets", () => {
  const serverAndTestOnly = ["mariadb-server", "postgresql", "podman", "pgloader", "sysbench", "openssh-server", "debootstrap", "patroni", "prometheus"];

  it("deploying (the default, npm run dev, npm run pulumi) installs what the local target needs and nothing of the tests", () => {
    const deploy = list();
    expect(deploy).toEqual(expect.arrayContaining(["sqlite3", "cron", "gnupg", "openssh-client"]));
    for (const pkg of serverAndTestOnly) expect(deploy).not.toContain(pkg);
  });

  it("--for tests (npm test, bench:*) adds everything the tests use", () => {
    const tests = list("--for", "tests");
    expect(tests).toEqual(expect.arrayContaining(["sqlite3", ...serverAndTestOnly]));
  });

  it("an unknown option or set is refused with the usage line, before anything is installed", () => {
    for (const args of [["--bogus"], ["--for", "everything"]]) {
      const r = spawnSync("bash", [SETUP, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/scripts\/setup\.sh \[--for deploy\|tests\]/);
      expect(r.stdout).toBe("");
    }
  });

  it("--help says what it does and exits 0", () => {
    const r = spawnSync("bash", [SETUP, "--help"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--for deploy\|tests/);
  });
});
