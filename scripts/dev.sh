#!/usr/bin/env bash
# npm run dev: set up this machine, then deploy the dev stack (created on first use).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/pulumi.sh" stack select --stack dev --create >/dev/null
exec bash "$ROOT/scripts/pulumi.sh" up --stack dev --yes --skip-preview "$@"
