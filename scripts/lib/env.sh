# Shared environment for every way dbstack runs Pulumi (npm run pulumi, npm run dev, tests).
# The TypeScript twin is scripts/lib/env.ts; keep the two in step.

# The passphrase that protects secrets in dev and ephemeral stacks. It is published on purpose:
# those stacks hold throwaway data. Never use it for prod (the program refuses to).
DBSTACK_DEV_PASSPHRASE="dbstack-dev-only-not-a-secret"

# stack_from_args prints the value of --stack/-s in "$@", or nothing.
stack_from_args() {
  local prev=""
  for arg in "$@"; do
    case "$prev" in --stack|-s) echo "$arg"; return ;; esac
    case "$arg" in --stack=*) echo "${arg#--stack=}"; return ;; esac
    prev="$arg"
  done
}

# dbstack_pulumi_env ROOT STACK exports the backend and secrets settings for STACK.
dbstack_pulumi_env() {
  local root="$1" stack="$2"
  export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$root/.pulumi-state}"
  export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
  if [[ "$PULUMI_BACKEND_URL" == file://* ]]; then mkdir -p "${PULUMI_BACKEND_URL#file://}"; fi
  if [[ -n "${PULUMI_CONFIG_PASSPHRASE:-}" || -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]]; then return 0; fi
  if [[ "$stack" == "prod" || ( -z "$stack" && "$(current_stack "$root")" == "prod" ) ]]; then
    if ! grep -Eq '^secretsprovider: *[a-z]+://' "$root/Pulumi.prod.yaml" 2>/dev/null || grep -Eq '^secretsprovider: *passphrase' "$root/Pulumi.prod.yaml"; then
      cat >&2 <<MSG
dbstack: the prod stack needs a real secrets configuration, and none is set.
  Give it one of:
    export PULUMI_CONFIG_PASSPHRASE_FILE=/path/to/passphrase   (a file only you can read), or
    export PULUMI_CONFIG_PASSPHRASE=...                         (from your secret store), or
    npm run pulumi -- stack change-secrets-provider --stack prod "awskms://..."  (a KMS/Vault provider)
  The dev passphrase is refused for prod.
MSG
      exit 2
    fi
    return 0
  fi
  export PULUMI_CONFIG_PASSPHRASE="$DBSTACK_DEV_PASSPHRASE"
}

current_stack() {
  local root="$1"
  (cd "$root" && pulumi stack --show-name 2>/dev/null) || true
}
