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

# pulumi's stderr passes through tee, which keeps the lines about stack locks in a file, to point
# to `npm run recover` when the run failed on a lock (one an interrupted run left behind).
# stdout stays the terminal, so pulumi's interactive display is unchanged; the filter ignores
# SIGINT so that pulumi's own Ctrl-C messages still reach the terminal.
errors="$(mktemp "${TMPDIR:-/tmp}/dbstack-pulumi-XXXXXX")"
trap 'rm -f "$errors"' EXIT
set +e
{ pulumi "$@" 2>&1 1>&3 3>&- | (trap '' INT; tee >(grep -E 'currently locked|\.pulumi/locks/' >"$errors") >&2; wait $!); } 3>&1
status=${PIPESTATUS[0]}
set -e
if ((status != 0)) && grep -q "the stack is currently locked" "$errors"; then
  # The stack the lock belongs to: from the command line, else from the lock's path in the message.
  locked="${stack:-$(sed -n 's|.*\.pulumi/locks/\(organization/[^/]*/\)\{0,1\}\([^/]*\)/[^/]*\.json.*|\2|p' "$errors" | head -1)}"
  cat >&2 <<MSG

dbstack: the stack is locked. If no other pulumi is running on it (a killed or cancelled run
left the lock behind), recover it, which removes only locks whose process is gone and clears
the pending operations the interrupted run left:
    npm run recover -- --stack ${locked:-<stack>}
MSG
fi
exit "$status"
