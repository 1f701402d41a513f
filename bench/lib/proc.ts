import { spawn } from "child_process";

export interface RunOptions {
  /** Written to the child's stdin (SQL, passwords: never put secrets in argv). */
  input?: string;
  /** Added to the child's environment (after every inherited PG* variable is dropped). */
  env?: Record<string, string>;
  /** The child is killed (its whole process group) after this long. */
  timeoutMs: number;
  /** Aborting kills the child (its whole process group). */
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {}

/**
 * The environment children get: ours without PG* variables (a PGHOST, PGPORT, PGDATABASE or
 * PGPASSWORD of the caller's shell must not redirect or authenticate a benchmark connection),
 * plus `extra`.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PG")) env[k] = v;
  return { ...env, ...extra };
}

/**
 * Runs a program (no shell) in / and collects its output. The child runs in its own process
 * group, so a terminal's Ctrl-C reaches only this process, which then stops the child through
 * `signal`; a timeout or an abort kills the group (SIGTERM, then SIGKILL after 10 s).
 * Rejects on a non-zero exit, a timeout or an abort.
 */
export function run(file: string, args: string[], opts: RunOptions): Promise<RunResult> {
  const what = [file, ...args].join(" ");
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new CommandError(`not started (aborted): ${what}`));
    const child = spawn(file, args, {
      cwd: "/",
      env: childEnv(opts.env),
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    let why: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (reason: string) => {
      if (why || child.exitCode !== null || child.signalCode !== null) return;
      why = reason;
      const group = (sig: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, sig);
        } catch {
          /* already gone */
        }
      };
      group("SIGTERM");
      killTimer = setTimeout(() => group("SIGKILL"), 10_000);
    };
    const timer = setTimeout(() => kill(`timed out after ${Math.round(opts.timeoutMs / 1000)} s`), opts.timeoutMs);
    const onAbort = () => kill("aborted");
    opts.signal?.addEventListener("abort", onAbort);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.on("error", () => {
      /* the child exited without reading its input: its exit status tells */
    });
    child.stdin.end(opts.input ?? "");
    child.on("error", (err) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      reject(new CommandError(`${what}: ${err.message}`));
    });
    child.on("close", (code, sig) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (code === 0 && !why) return resolve({ stdout, stderr });
      const tail = (stderr.trim() || stdout.trim()).split("\n").slice(-15).join("\n");
      const status = why ?? (sig ? `killed by ${sig}` : `exit ${code}`);
      reject(new CommandError(`${what}: ${status}${tail ? `\n${tail}` : ""}`));
    });
  });
}
