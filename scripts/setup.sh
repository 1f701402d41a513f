#!/usr/bin/env bash
# Makes this machine ready to deploy and test dbstack. Idempotent; a second run takes seconds.
#
#   bash scripts/setup.sh [--for deploy|tests] [--print-bin] [--list-packages]
#
#  1. Debian packages, when missing: only what deploying needs by default (`--for deploy`: the SQLite
#     engine, cron, the SSH client; a PostgreSQL or MariaDB deployment installs its own server on its
#     target, and a Docker target says when its docker CLI is missing), everything the tests and
#     benchmarks use with `--for tests` (npm test, bench:*).
#  2. Node dependencies (npm ci), when node_modules is missing or older than package-lock.json.
#  3. The Pulumi CLI at exactly the version of @pulumi/pulumi in package.json, and the plugins
#     the engine needs: an installed CLI of that version is used as is; otherwise the CLI is built
#     with the official installer where it is reachable, or else built from its Go module
#     (tools/go.mod pins it) together with dbstack's Node.js language host.
#     Built binaries are cached outside the clone, keyed by version, in $DBSTACK_CACHE
#     (default ~/.cache/dbstack).
#
# --print-bin prints the bin directory to put first on PATH as its last line (progress goes to
# stderr); --list-packages prints the Debian packages of the chosen set and exits.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${DBSTACK_CACHE:-$HOME/.cache/dbstack}"
PRINT_BIN=false
LIST_PACKAGES=false
FOR=deploy
usage() { sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^#   //'; }
while (($#)); do
  case "$1" in
    --print-bin) PRINT_BIN=true ;;
    --list-packages) LIST_PACKAGES=true ;;
    --for)
      [[ "${2:-}" == deploy || "${2:-}" == tests ]] || { echo "setup: --for takes deploy or tests (got '${2:-}')" >&2; usage >&2; exit 2; }
      FOR=$2; shift ;;
    -h|--help)
      echo "setup: makes this machine ready to deploy (default) or to run the tests and benchmarks."
      usage; exit 0 ;;
    *) echo "setup: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

log() { if $PRINT_BIN; then echo "setup: $*" >&2; else echo "setup: $*"; fi; }

# run_logged <log name> <command...>: runs a long step with its output in $CACHE/setup-logs/<name>.log
# (not on the terminal: dpkg alone prints over a thousand lines), a progress line every 10 s, and
# on failure the log's last lines and its path.
run_logged() {
  local name=$1 file pid started status
  shift
  mkdir -p "$CACHE/setup-logs"
  file="$CACHE/setup-logs/$name.log"
  started=$SECONDS
  "$@" >"$file" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null && sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then log "  $name: still running ($((SECONDS - started)) s; output in $file)"; fi
  done
  status=0
  wait "$pid" || status=$?
  if ((status != 0)); then
    tail -n 20 "$file" >&2
    echo "setup: $name failed (exit $status); its whole output is in $file" >&2
    exit "$status"
  fi
}

# Debian packages --------------------------------------------------------------------------
# Deploying: sqlite3, cron, gnupg, gzip: the SQLite engine and every engine's backups on this
# machine; openssl: certificates; openssh-client: SSH targets; jq: scripts/pr-comment.sh; g++, make,
# python3: building the SQLite driver (better-sqlite3) when no prebuilt binary can be downloaded.
DEPLOY_PACKAGES=(sqlite3 cron gnupg gzip util-linux procps openssl openssh-client jq g++ make python3)
# Tests and benchmarks: both server engines (postgresql, mariadb-*); sysbench and pgloader
# (benchmarks); openssh-server, iproute2, socat, sudo: the tests' SSH hosts in network namespaces;
# podman, runc, netavark, iptables, debootstrap: the container engine and its locally built images;
# Patroni, etcd, HAProxy (high availability), pgBackRest, mariadb-backup (point-in-time recovery),
# Prometheus and its exporters, logrotate, and the application tools the data-move tests run (Alembic).
TEST_PACKAGES=(postgresql postgresql-contrib mariadb-server mariadb-client sysbench pgloader
  openssh-server iproute2 socat sudo podman runc netavark iptables debootstrap
  patroni etcd-server etcd-client haproxy pgbackrest mariadb-backup logrotate
  prometheus prometheus-postgres-exporter prometheus-mysqld-exporter prometheus-node-exporter
  python3-alembic python3-sqlalchemy python3-pymysql python3-psycopg python3-psycopg2)
APT_PACKAGES=("${DEPLOY_PACKAGES[@]}")
if [[ $FOR == tests ]]; then
  APT_PACKAGES+=("${TEST_PACKAGES[@]}")
  # The container tests talk to Podman's Docker API with the docker CLI; Debian ships it only in docker.io.
  command -v docker >/dev/null || APT_PACKAGES+=(docker.io)
fi
if $LIST_PACKAGES; then printf '%s\n' "${APT_PACKAGES[@]}"; exit 0; fi
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
    echo "setup: missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  # dbstack creates its own PostgreSQL clusters: keep the package from creating and starting "main".
  if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  # Packaged daemons (etcd, Prometheus, the exporters, HAProxy, MariaDB) must not start on their
  # default ports where no init system would: dbstack runs its own instances. A policy-rc.d that
  # refuses every start is in place while apt-get runs, unless the machine already has one.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# dbstack set-up: no service starts while packages install.\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  log "installing Debian packages (for $FOR): ${missing[*]}"
  run_logged apt-update $SUDO apt-get update
  run_logged apt-install $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  if [[ $(trap -p EXIT) == *policy* ]]; then $SUDO rm -f "$policy"; trap - EXIT; fi
fi
# cron must be running for scheduled backups to fire; start it where no init system does.
if ! pgrep -x cron >/dev/null 2>&1; then
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    systemctl start cron >&2 || true
  else
    (command -v cron >/dev/null && cron) >&2 || true
  fi
fi

# Node dependencies ------------------------------------------------------------------------
if [[ -L "$ROOT/node_modules" ]]; then
  # A clone that borrows another's node_modules (a git worktree's symlink): npm ci would empty the
  # other clone's directory through the link. That clone's own set-up keeps it current.
  log "node_modules is a link to $(readlink -f "$ROOT/node_modules"): using it as it is"
elif [[ ! -d "$ROOT/node_modules/@pulumi/pulumi" || "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]]; then
  # npm ci: exactly the lock, never rewriting it (git status stays clean). Warnings are not
  # printed raw: the one every install on Node 20 gives (@pulumi/pulumi declares Node >= 22) is
  # said once below and explained in the README's requirements; errors still show.
  log "installing Node dependencies (npm ci, from package-lock.json)"
  (cd "$ROOT" && run_logged npm-ci npm ci --no-audit --no-fund --loglevel=error)
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  if (( node_major < 22 )); then
    log "note: Node $(node --version) runs dbstack and its tests, but @pulumi/pulumi declares Node >= 22: prefer Node 22 where you can install it (README, Requirements)"
  fi
fi

# Pulumi CLI and plugins -------------------------------------------------------------------
VERSION="v$(node -p "require('$ROOT/node_modules/@pulumi/pulumi/package.json').version")"
GO_PINNED="$(awk '$1=="github.com/pulumi/pulumi/pkg/v3"{print $2}' "$ROOT/tools/go.mod")"
if [[ "$GO_PINNED" != "$VERSION" ]]; then
  echo "setup: tools/go.mod pins the Pulumi CLI at $GO_PINNED but package.json uses @pulumi/pulumi $VERSION; make them equal" >&2
  exit 1
fi
BIN="$CACHE/pulumi-$VERSION/bin"
HOST_HASH="$(cat "$ROOT/tools/go.mod" "$ROOT/tools/go.sum" "$ROOT"/tools/langhost-nodejs/*.go | sha256sum | cut -c1-16)"
mkdir -p "$BIN"

if [[ ! -x "$BIN/pulumi" ]]; then
  installed="$(command -v pulumi || true)"
  if [[ -n "$installed" && "$("$installed" version 2>/dev/null)" == "$VERSION" ]]; then
    log "using the installed Pulumi CLI $VERSION at $installed"
    ln -sf "$installed" "$BIN/pulumi"
  elif getent hosts get.pulumi.com >/dev/null 2>&1 && curl -fsS --max-time 10 -o "$CACHE/install-pulumi.sh" https://get.pulumi.com 2>/dev/null; then
    # The official installer is reachable: it brings the CLI and the official language hosts.
    log "installing the Pulumi CLI $VERSION with the official installer"
    sh "$CACHE/install-pulumi.sh" --version "${VERSION#v}" --install-root "$CACHE/official-$VERSION" --no-edit-path >&2
    ln -sf "$CACHE/official-$VERSION/bin/pulumi" "$BIN/pulumi"
    ln -sf "$CACHE/official-$VERSION/bin/pulumi-language-nodejs" "$BIN/pulumi-language-nodejs"
    echo official > "$BIN/.langhost-hash"
  else
    command -v go >/dev/null || { echo "setup: no Pulumi CLI $VERSION is installed and Go is missing to build it: install Go (https://go.dev/dl) or Pulumi $VERSION" >&2; exit 1; }
    log "building the Pulumi CLI $VERSION from its Go module (first run only; about 10 minutes on 2 cores)"
    # go build -v names each package as it compiles it (an import path alone on its line); module
    # downloads and errors are other lines. Only package lines are counted, so the count is true;
    # everything goes to the log, which a failure names.
    mkdir -p "$CACHE/setup-logs"
    build_log="$CACHE/setup-logs/pulumi-build.log"
    if ! (
      cd "$ROOT/tools"
      go build -v -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION" \
        -o "$BIN/pulumi.partial" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi 2>&1 | tee "$build_log" |
        awk '/^[A-Za-z0-9._~\/-]+$/ { n++; if (n % 100 == 0) { printf "setup:   compiled %d packages (last: %s)\n", n, $0; fflush() } }' >&2
    ); then
      tail -n 20 "$build_log" >&2
      echo "setup: building the Pulumi CLI failed; its whole output is in $build_log" >&2
      exit 1
    fi
    mv "$BIN/pulumi.partial" "$BIN/pulumi"
  fi
fi
langhost_hash="$(cat "$BIN/.langhost-hash" 2>/dev/null || true)"
if [[ "$langhost_hash" != official && ( ! -x "$BIN/pulumi-language-nodejs" || "$langhost_hash" != "$HOST_HASH" ) ]]; then
  log "building dbstack's Node.js language host for $VERSION"
  (cd "$ROOT/tools" && go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$BIN/pulumi-language-nodejs" ./langhost-nodejs >&2)
  echo "$HOST_HASH" > "$BIN/.langhost-hash"
fi
# The dynamic-provider plugin is a small launcher for code that ships in @pulumi/pulumi, with the
# watchdog it preloads (ends the provider and its host scripts when the engine is gone).
install -m 0644 "$ROOT/tools/bin/dbstack-engine-watchdog.js" "$BIN/dbstack-engine-watchdog.js"
install -m 0755 "$ROOT/tools/bin/pulumi-resource-pulumi-nodejs" "$BIN/pulumi-resource-pulumi-nodejs"

"$BIN/pulumi" version >/dev/null
if $PRINT_BIN; then echo "$BIN"; else log "ready: Pulumi $VERSION in $BIN"; fi
