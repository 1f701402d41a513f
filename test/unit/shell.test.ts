import { spawnSync } from "child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { heredocDelimiter, shellQuote, sqlLiteral, withHeredoc, writeFileCommand } from "../../components/shell";
import { modeOf, runScript, sqlite3, tempDir } from "./support/run";

function bashPrint(quoted: string): string {
  const r = spawnSync("bash", ["-c", `printf %s ${quoted}`], { encoding: "utf8" });
  expect(r.status).toBe(0);
  return r.stdout;
}

describe("shellQuote", () => {
  const hostile = [
    "it's",
    "'",
    "''",
    `"double" and 'single'`,
    "$(echo injected)",
    "`echo injected`",
    "${HOME} $HOME $0",
    "line one\nline two\n",
    "  spaces  around\tand tab ",
    "; echo injected; #",
    "a\\b\\'c",
    "*",
    "!event",
    "",
  ];

  it.each(hostile)("bash receives %j as exactly one unchanged word", (value) => {
    expect(bashPrint(shellQuote(value))).toBe(value);
  });

  it("never executes command substitutions in the value", () => {
    const dir = tempDir();
    const marker = join(dir, "pwned");
    bashPrint(shellQuote(`$(touch ${marker})\`touch ${marker}\``));
    expect(existsSync(marker)).toBe(false);
  });

  it("keeps a value with spaces as a single argument", () => {
    const r = spawnSync("bash", ["-c", `set -- ${shellQuote("a b  c")}; echo $#`], { encoding: "utf8" });
    expect(r.stdout.trim()).toBe("1");
  });
});

describe("sqlLiteral", () => {
  it("doubles single quotes", () => {
    expect(sqlLiteral("O'Brien")).toBe("'O''Brien'");
    expect(sqlLiteral("plain")).toBe("'plain'");
    expect(sqlLiteral("''")).toBe("''''''");
  });

  it.each(["O'Brien", "'; DROP TABLE users; --", "a''b", "semi;colon"])("sqlite reads %j back unchanged", (value) => {
    const dir = tempDir();
    expect(sqlite3(join(dir, "t.db"), `SELECT ${sqlLiteral(value)};`)).toBe(value);
  });
});

describe("heredocDelimiter", () => {
  it("uses the base tag when no body line equals it", () => {
    expect(heredocDelimiter("SELECT 1;\nDBSTACK_EOF is mentioned here\n xDBSTACK_EOF")).toBe("DBSTACK_EOF");
  });

  it("picks another tag when the body holds the tag as a line", () => {
    expect(heredocDelimiter("a\nDBSTACK_EOF\nb")).toBe("DBSTACK_EOF_1");
    expect(heredocDelimiter("DBSTACK_EOF\nDBSTACK_EOF_1\n")).toBe("DBSTACK_EOF_2");
    expect(heredocDelimiter("TAG\n", "TAG")).toBe("TAG_1");
  });

  it("passes a body that contains the base tag line through bash verbatim", () => {
    const body = "before\nDBSTACK_EOF\n$HOME `id` $(id)\n'quoted'\nafter\n";
    const r = runScript(withHeredoc("cat", body));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(body);
  });
});

describe("writeFileCommand", () => {
  it("writes the exact content with the requested mode, without leaving a temp file", () => {
    const dir = tempDir();
    const target = join(dir, "script");
    const content = "#!/bin/bash\necho \"$HOME\" `date` $(id -u)\nDBSTACK_FILE\nit's\n\n  indented\\n\n";
    const r = runScript(writeFileCommand(target, content, "0700"));
    expect(r.code).toBe(0);
    expect(readFileSync(target, "utf8")).toBe(content);
    expect(modeOf(statSync(target))).toBe(0o700);
    expect(readdirSync(dir)).toEqual(["script"]);
  });

  it("writes content without a trailing newline byte for byte, adding none", () => {
    const dir = tempDir();
    const target = join(dir, "f");
    const r = runScript(writeFileCommand(target, "abc", "0600"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readFileSync(target)).toEqual(Buffer.from("abc"));
    expect(statSync(target).size).toBe(3);
    expect(modeOf(statSync(target))).toBe(0o600);
  });

  it("keeps the trailing newline of content that has one", () => {
    const dir = tempDir();
    const target = join(dir, "f");
    expect(runScript(writeFileCommand(target, "abc\n", "0600")).code).toBe(0);
    expect(readFileSync(target, "utf8")).toBe("abc\n");
    expect(statSync(target).size).toBe(4);
  });

  it("replaces an existing file and applies the new mode", () => {
    const dir = tempDir();
    const target = join(dir, "cron entry");
    writeFileSync(target, "old content that is longer than the new one\n", { mode: 0o600 });
    const r = runScript(writeFileCommand(target, "new\n", "0644"));
    expect(r.code).toBe(0);
    expect(readFileSync(target, "utf8")).toBe("new\n");
    expect(modeOf(statSync(target))).toBe(0o644);
  });
});
