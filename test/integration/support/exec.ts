/** Running a program from the test harnesses (SSH hosts, the container engine): no shell, output captured, never a throw for a non-zero exit. */
import { spawn } from "child_process";
import { readFileSync } from "fs";

/** What a command printed and how it ended. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of a command run by the harnesses. */
export interface RunOptions {
  /** Text written to the command's stdin (the way to hand a secret to a command). */
  input?: string;
  /** Kill the command after this long (code is then 124). Default 120 s. */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: NodeJS.ProcessEnv;
}

/** Runs a program (no shell); never throws for a non-zero exit. */
export function exec(file: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...opts.env } });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 120_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + String(err) });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve({ code: 124, stdout, stderr: stderr + `\n(killed after ${opts.timeoutMs ?? 120_000} ms)` });
      else resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/**
 * The start time of process `pid` (field 22 of /proc/<pid>/stat), or undefined when it is gone:
 * with the pid it tells a live owner from a new process that reuses a dead owner's pid.
 */
export function processStart(pid: number): string | undefined {
  try {
    // The comm field may contain spaces, so split after its closing ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}
