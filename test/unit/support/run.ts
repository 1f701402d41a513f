import { spawnSync } from "child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterEach } from "vitest";
import { renderShippedScript, type ShippedScript } from "../../../components/targets/hostFiles";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** What bash reads on stdin for a rendered script, with its shipped files when it has some (as HostCommand sends it). */
export function stdinOf(script: string | ShippedScript): string | Buffer {
  return typeof script === "string" ? script : renderShippedScript(script.files, script.script);
}

/** Runs a rendered script the way HostCommand does: `bash -s` with the script (and its files) on stdin. */
export function runScript(script: string | ShippedScript, env: Record<string, string> = {}, cwd?: string): RunResult {
  const r = spawnSync("bash", ["-s"], { input: stdinOf(script), env: { ...process.env, ...env }, cwd, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like runScript, as the unprivileged user `nobody` (uid 65534), with the environment kept: a deploy as an unprivileged user. */
export function runScriptAsNobody(script: string | ShippedScript, env: Record<string, string> = {}, cwd?: string): RunResult {
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "bash", "-s"], { input: stdinOf(script), env: { ...process.env, ...env }, cwd, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Installs a rendered tool as an executable file (0700) and runs it, as cron or an operator would. */
export function runTool(path: string, content: string, args: string[] = [], env: Record<string, string> = {}): RunResult {
  writeFileSync(path, content);
  chmodSync(path, 0o700);
  const r = spawnSync(path, args, { env: { ...process.env, ...env }, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the sqlite3 CLI on a database and returns its output, trimmed. Throws on failure. */
export function sqlite3(db: string, sql: string): string {
  const r = spawnSync("sqlite3", ["-batch", "-bail", db, sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`sqlite3 ${db} ${JSON.stringify(sql)} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** File permission bits, e.g. 0o600. */
export function modeOf(stat: { mode: number }): number {
  return stat.mode & 0o777;
}

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed after the current test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "dbstack-unit-"));
  made.push(dir);
  return dir;
}
