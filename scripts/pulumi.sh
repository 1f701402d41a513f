#!/usr/bin/env bash
# Runs the project's Pulumi CLI (built or found by scripts/setup.sh) against the project's backend.
#   npm run pulumi -- <pulumi args>
# Defaults, each overridable with the usual Pulumi variables:
#   PULUMI_BACKEND_URL        file://<project>/.pulumi-state (git-ignored)
#   PULUMI_CONFIG_PASSPHRASE  the documented dev passphrase, for every stack except prod
# The prod stack needs a real secrets configuration: PULUMI_CONFIG_PASSPHRASE(_FILE), or a
# secretsprovider other than passphrase in Pulumi.prod.yaml.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib/env.sh"
BIN="$(bash "$ROOT/scripts/setup.sh" --print-bin)"
export PATH="$BIN:$PATH"

stack="$(stack_from_args "$@")"
dbstack_pulumi_env "$ROOT" "$stack"
cd "$ROOT"
exec pulumi "$@"
