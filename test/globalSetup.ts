import { ensurePulumiOnPath } from "../scripts/lib/env";

/**
 * Makes the Pulumi CLI and plugins that scripts/setup.sh provides the ones every test uses.
 * Fails (does not skip) when set-up cannot provide them.
 */
export default function setup() {
  ensurePulumiOnPath();
}
