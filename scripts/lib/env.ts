import { execFileSync } from "child_process";
import { mkdirSync } from "fs";
import { join, resolve } from "path";
import { DEV_PASSPHRASE } from "../../stacks/secrets";

/** The project root (where Pulumi.yaml is). */
export const ROOT = resolve(__dirname, "../..");

/**
 * Runs scripts/setup.sh and puts the Pulumi CLI and plugins it provides first on PATH, for this
 * process and the Automation API's children. Returns their directory.
 */
export function ensurePulumiOnPath(): string {
  const out = execFileSync("bash", [join(ROOT, "scripts/setup.sh"), "--print-bin"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const bin = out.trim().split("\n").pop()!;
  if (!process.env.PATH?.startsWith(`${bin}:`)) process.env.PATH = `${bin}:${process.env.PATH}`;
  return bin;
}

/**
 * The backend and secrets settings for a stack, as scripts/lib/env.sh sets them for the CLI:
 * the project's file backend unless PULUMI_BACKEND_URL is set, and the published dev passphrase
 * for every stack but prod unless a passphrase is configured.
 */
export function pulumiEnv(stack: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
  };
  const backend = env.PULUMI_BACKEND_URL || `file://${join(ROOT, ".pulumi-state")}`;
  out.PULUMI_BACKEND_URL = backend;
  if (backend.startsWith("file://")) mkdirSync(backend.slice("file://".length), { recursive: true });
  const hasPassphrase = Boolean(env.PULUMI_CONFIG_PASSPHRASE || env.PULUMI_CONFIG_PASSPHRASE_FILE);
  if (!hasPassphrase && stack !== "prod") out.PULUMI_CONFIG_PASSPHRASE = DEV_PASSPHRASE;
  return out;
}
