import { execFileSync } from "child_process";
import { resolve } from "path";

/**
 * Makes the Pulumi CLI and plugins that scripts/setup.sh provides the ones every test uses.
 * Fails (does not skip) when set-up cannot provide them.
 */
export default function setup() {
  const root = resolve(__dirname, "..");
  const bin = execFileSync("bash", [resolve(root, "scripts/setup.sh"), "--print-bin"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim().split("\n").pop()!;
  process.env.PATH = `${bin}:${process.env.PATH}`;
  process.env.DBSTACK_PULUMI_BIN = bin;
}
