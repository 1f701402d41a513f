#!/usr/bin/env bash
# npm run dev: set up this machine, then deploy the dev stack (created on first use).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
# The dev stack's git-ignored data directory is this project's own: searchable (not listable) by
# the unprivileged account its SQLite database runs as when deployed as root (dbstack-sqlite), also
# where an older dbstack made it 0700.
mkdir -p "$ROOT/.dbstack/dev"
chmod 711 "$ROOT/.dbstack" "$ROOT/.dbstack/dev"
bash "$ROOT/scripts/pulumi.sh" stack select --stack dev --create >/dev/null
exec bash "$ROOT/scripts/pulumi.sh" up --stack dev --yes --skip-preview "$@"
