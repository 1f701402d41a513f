import { spawnSync } from "child_process";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./harness";

function pulumiScript(args: string[], env: Record<string, string | undefined>) {
  const clean = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete clean[k];
  return spawnSync("bash", [join(ROOT, "scripts/pulumi.sh"), ...args], { encoding: "utf8", env: clean, cwd: ROOT });
}

describe("npm run pulumi", () => {
  it("runs the CLI at exactly the version of @pulumi/pulumi in package.json", () => {
    const wanted = `v${require(join(ROOT, "node_modules/@pulumi/pulumi/package.json")).version}`;
    const result = pulumiScript(["version"], {});
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(wanted);
  });

  it("refuses the prod stack without a real secrets configuration, and says how to give one", () => {
    const result = pulumiScript(["preview", "--stack", "prod"], {
      PULUMI_CONFIG_PASSPHRASE: undefined,
      PULUMI_CONFIG_PASSPHRASE_FILE: undefined,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("the prod stack needs a real secrets configuration");
    expect(result.stderr).toContain("PULUMI_CONFIG_PASSPHRASE_FILE");
  });
});
