import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawn, type ChildProcess } from "child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { pulumiEnv, ROOT } from "../../scripts/lib/env";

export { ROOT };

/** A throwaway project (symlinks to this repo's program) with its own file backend. */
export interface Sandbox {
  dir: string;
  projectDir: string;
  /** The sandbox's own file backend (PULUMI_BACKEND_URL), for running the CLI directly. */
  backend: string;
  stack(name: string, config: Record<string, unknown>): Promise<Stack>;
}

export function sandbox(prefix: string): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), `dbstack-${prefix}-`));
  // Searchable (not listable) by other users: an SQLite database under it belongs to an
  // unprivileged account (its owner, or dbstack-sqlite), which must reach its file.
  chmodSync(dir, 0o711);
  const projectDir = join(dir, "project");
  const state = join(dir, "state");
  mkdirSync(projectDir);
  mkdirSync(state);
  for (const entry of ["Pulumi.yaml", "package.json", "tsconfig.json", "node_modules", "stacks", "components"]) {
    symlinkSync(join(ROOT, entry), join(projectDir, entry));
  }
  return {
    dir,
    projectDir,
    backend: `file://${state}`,
    async stack(name, config) {
      const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: name, workDir: projectDir },
        // The settings every dbstack command uses, with this sandbox's own backend.
        { envVars: pulumiEnv(name, { PULUMI_BACKEND_URL: `file://${state}` }) },
      );
      await setConfig(stack, config);
      return stack;
    },
  };
}

/** Replaces the stack's dbstack config; structured values are passed as JSON, as Pulumi does. */
export async function setConfig(stack: Stack, config: Record<string, unknown>): Promise<void> {
  const existing = await stack.getAllConfig();
  for (const key of Object.keys(existing)) if (key.startsWith("dbstack:")) await stack.removeConfig(key);
  // dbstack:hosts holds SSH private keys: set it as a secret, as the README tells users to.
  const values = Object.fromEntries(
    Object.entries(config).map(([k, v]) => [`dbstack:${k}`, { value: typeof v === "string" ? v : JSON.stringify(v), secret: k === "hosts" }]),
  );
  await stack.setAllConfig(values);
}

/** Counts of operations in an up's summary, e.g. { create: 5 } or { same: 6 }. */
export function changes(summary: { resourceChanges?: Record<string, number> }): Record<string, number> {
  return summary.resourceChanges ?? {};
}

/** The error an `up` fails with, as one string; an up that succeeds is a test failure. */
export async function upError(stack: Stack): Promise<string> {
  try {
    await stack.up();
  } catch (err) {
    return String((err as Error).message);
  }
  throw new Error("expected the up to fail");
}

export function sqlite(db: string, sql: string): string {
  return execFileSync("sqlite3", ["-batch", db, sql], { encoding: "utf8" }).trim();
}

export function run(file: string, args: string[] = []): string {
  return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

export function writeMigration(dir: string, name: string, sql: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), sql);
}

/**
 * A process that is not a server of the test listening on `port` on every address of this machine
 * (socat): the stranger of issue 17's row 7. Resolves once the socket listens; kill() it after.
 */
export function stranger(port: number): Promise<ChildProcess> {
  const child = spawn("socat", [`TCP-LISTEN:${port},reuseaddr,fork`, "EXEC:/bin/true"], { stdio: "ignore" });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    const wait = () => (existsSync(`/proc/${child.pid}`) && execFileSync("bash", ["-c", `ss -Htln "sport = :${port}" | wc -l`], { encoding: "utf8" }).trim() !== "0" ? resolve(child) : setTimeout(wait, 100));
    wait();
  });
}
