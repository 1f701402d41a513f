import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { openConnection, openTarget, parseConnectionUrl, redactUrl } from "../../components/copy/connections";

describe("redactUrl: no password of a source or target URL reaches a message", () => {
  it("hides the password in the user info, also one holding a raw @ or /", () => {
    expect(redactUrl("postgresql://app:s3cret@db.internal:5432/app")).toBe("postgresql://app:***@db.internal:5432/app");
    expect(redactUrl("mysql://root:p@ss/w0rd@127.0.0.1/app")).toBe("mysql://root:***@127.0.0.1/app");
    expect(redactUrl("mariadb://root:%40%2Fx@127.0.0.1/app")).not.toContain("%40%2Fx");
  });

  it("hides ?password= and the other password parameters, wherever they stand in the query", () => {
    const url = "postgresql://app@db:5432/app?sslmode=require&password=s3cret&application_name=x";
    expect(redactUrl(url)).toBe("postgresql://app@db:5432/app?sslmode=require&password=***&application_name=x");
    expect(redactUrl("mysql://root@h/db?PASSWORD=abc")).toBe("mysql://root@h/db?PASSWORD=***");
    expect(redactUrl("postgresql://u@h/db?sslpassword=keypass#frag")).toBe("postgresql://u@h/db?sslpassword=***#frag");
    expect(redactUrl("postgresql://u:one@h/db?pwd=two&pass=three&passwd=four")).toBe("postgresql://u:***@h/db?pwd=***&pass=***&passwd=***");
  });

  it("leaves URLs without a password, and SQLite paths, as they are", () => {
    expect(redactUrl("postgresql://app@db:5432/app?sslmode=require")).toBe("postgresql://app@db:5432/app?sslmode=require");
    expect(redactUrl("sqlite:///var/lib/app/app.db")).toBe("sqlite:///var/lib/app/app.db");
    expect(redactUrl("/var/lib/app/app.db")).toBe("/var/lib/app/app.db");
  });

  it("an error about a malformed URL shows it redacted", () => {
    expect(() => parseConnectionUrl("sqlite:relative.db?password=s3cret")).toThrow(/password=\*\*\*/);
  });
});

describe("an SQLite database the copy creates", () => {
  it("is made 0600, so the copied data is not readable by anyone on the host; an existing file keeps its mode", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dbstack-unit-copy-mode-"));
    try {
      const created = join(dir, "new.db");
      const c = await openTarget(created);
      await c.query("CREATE TABLE t (x INTEGER)");
      await c.query("INSERT INTO t VALUES (1)");
      await c.close();
      expect(statSync(created).mode & 0o777).toBe(0o600);
      const existing = join(dir, "existing.db");
      writeFileSync(existing, "", { mode: 0o640 });
      chmodSync(existing, 0o640);
      await (await openTarget(existing)).close();
      expect(statSync(existing).mode & 0o777).toBe(0o640);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("an SQLite source that is not there", () => {
  it("is named by its path, not the driver's bare 'unable to open database file'", async () => {
    await expect(openConnection("sqlite:///nonexistent-dir/app.db", { readOnly: true })).rejects.toThrow("/nonexistent-dir/app.db: no such SQLite database file");
  });
});
