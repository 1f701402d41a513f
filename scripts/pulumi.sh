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

# lock_hint copies its input (pulumi's stderr) to stderr as it comes and, when pulumi stopped on a
# stack lock (one that an interrupted run may have left behind), adds how to recover the stack.
# It ignores INT and TERM: it ends when pulumi does, and pulumi gets the signals as before.
lock_hint() {
  trap '' INT TERM
  # Each line goes on to stderr as it comes; the lines about a lock are kept in memory (no
  # temporary file to leave behind).
  local line locked seen=""
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s\n' "$line" >&2
    case "$line" in *"currently locked"* | *.pulumi/locks/*) seen+="$line"$'\n' ;; esac
  done
  if grep -q "the stack is currently locked" <<<"$seen"; then
    # The stack: from the command line, else from the lock file's path in the message.
    locked="${1:-$(sed -n 's|.*\.pulumi/locks/\(organization/[^/]*/\)\{0,1\}\([^/]*\)/[^/]*\.json.*|\2|p' <<<"$seen" | head -1)}"
    cat >&2 <<MSG

dbstack: the stack is locked. If no other pulumi is running on it (a killed or cancelled run
left the lock behind), recover it, which removes only locks whose process is gone and clears
the pending operations the interrupted run left:
    npm run recover -- --stack ${locked:-<stack>}
MSG
  fi
}

# Nothing but stdin, stdout and stderr reaches pulumi, and so the servers its steps start: a
# descriptor the caller left open (a CI runner's pipe) or `exec pulumi 2> >(…)`'s own /dev/fd/63
# would be inherited by every server, which would hold the caller's pipeline open for as long as
# it runs (`npm run pulumi -- up | tee log` would never return, and lock_hint never end).
# (255 is bash's own, close-on-exec, descriptor of this script.)
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -gt 2 ] 2>/dev/null && [ "$fd" != 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done
# pulumi's stderr goes through lock_hint; set up apart from the exec below, so that bash keeps
# no extra descriptor of the pipe open in pulumi.
exec 2> >(lock_hint "$stack")
# exec: pulumi takes this script's place, so signals sent to it (a CI cancel, timeout) reach
# pulumi itself. stdout stays the terminal, so pulumi's interactive display is unchanged.
exec pulumi "$@"
