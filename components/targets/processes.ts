/**
 * Shell functions about the processes a server step starts and the TCP port a server declares,
 * for any engine on any target (they read only /proc, so they work in a minimal container image
 * without iproute2 or lsof).
 *
 * Why descriptors are closed: a step inherits every descriptor its caller left open without
 * close-on-exec: `scripts/pulumi.sh`'s pipe to its log filter, a CI runner's pipes, a terminal.
 * A server started from the step keeps them for as long as it runs, so the caller's pipeline
 * (`npm run pulumi -- up | tee log`) never sees end-of-file and never returns. A server and its
 * supervisor therefore start with stdin, stdout and stderr redirected (to /dev/null or their log)
 * and with every other descriptor closed.
 *
 * Why the port is checked first: restarting a server onto a port another process holds stops
 * the server and fails the start ("Address already in use"): an outage. The holder is found
 * before anything is stopped or rewritten.
 */

/**
 * `close_inherited_fds`: closes every descriptor above 2 of the current (sub)shell. Run it in the
 * subshell that execs a server or its supervisor: `( close_inherited_fds; exec setsid … )`.
 * `run_detached <command …>`: runs the command so (pg_ctlcluster start: pg_ctl then gives the
 * server /dev/null and its log file as stdin, stdout and stderr).
 */
export function renderCloseInheritedFds(): string {
  return [
    "close_inherited_fds() {",
    "  local fd",
    "  for fd in /proc/$BASHPID/fd/*; do",
    "    fd=${fd##*/}",
    '    if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi',
    "  done",
    "}",
    "# Runs a command (a server's start) with every descriptor above 2 closed; the caller redirects 0-2.",
    'run_detached() { ( close_inherited_fds; exec "$@" ); }',
  ].join("\n");
}

/**
 * Shell functions:
 * - `port_listener_uids <port>`: the uids owning the sockets that listen on TCP port <port>;
 * - `port_listener_pids <port>`: the pids of the processes that listen on TCP port <port> in this
 *   host's (or container's) network namespace, one per line;
 * - `port_holders <port> [own pid …]`: one line `pid <pid> (<command line>)` per listener that is
 *   not one of the own pids (the instance's server), or `a process not visible from here` for a
 *   listening socket no visible process holds (a container on the host's network sees the
 *   host's sockets but not its processes);
 * - `refuse_taken_port <port> <what> [own pid …]`: fails the step naming `port` and the holder when
 *   another process listens on <port>; <what> says what was left as it was.
 */
export function renderPortFunctions(): string {
  return [
    "# Inodes of the TCP sockets listening on port $1; /proc/net/tcp{,6}: field 2 is address:port (hex), 4 the state (0A = LISTEN), 10 the inode.",
    "port_listener_inodes() {",
    "  local hex",
    '  hex=$(printf "%04X" "$1")',
    "  awk -v p=\":$hex\" '$4 == \"0A\" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u",
    "}",
    "# The pids holding socket inode $1 (find fails on processes that end while it reads /proc: what it found is still right).",
    "socket_pids() {",
    '  { find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\\[$1\\]" 2>/dev/null || true; } | cut -d/ -f3 | sort -un',
    "}",
    "# The uids owning the sockets listening on port $1 (field 8): readable where the processes are not",
    "# (root in a container without CAP_SYS_PTRACE cannot read another user's /proc/<pid>/fd).",
    "port_listener_uids() {",
    "  local hex",
    '  hex=$(printf "%04X" "$1")',
    "  awk -v p=\":$hex\" '$4 == \"0A\" && substr($2, length($2) - 4) == p { print $8 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -un",
    "}",
    "port_listener_pids() {",
    "  local inode",
    '  for inode in $(port_listener_inodes "$1"); do socket_pids "$inode"; done | sort -un',
    "}",
    "port_holders() {",
    '  local port=$1 inode pid own cmd pids; shift',
    '  for inode in $(port_listener_inodes "$port"); do',
    '    pids=$(socket_pids "$inode")',
    "    # A listener no process here holds: another container's or namespace's, on a shared network.",
    '    [ -n "$pids" ] || { echo "a process not visible from here (socket inode $inode)"; continue; }',
    "    for pid in $pids; do",
    '      for own in "$@"; do [ "$pid" = "$own" ] && continue 2; done',
    "      cmd=$(tr '\\0' ' ' < \"/proc/$pid/cmdline\" 2>/dev/null | cut -c1-120) || cmd=''",
    '      echo "pid $pid (${cmd% })"',
    "    done",
    "  done",
    "}",
    "refuse_taken_port() {",
    '  local port=$1 what=$2 holders; shift 2',
    '  holders=$(port_holders "$port" "$@")',
    '  [ -z "$holders" ] && return 0',
    '  echo "port: $port is already in use by another process: $(printf \'%s\\n\' "$holders" | paste -sd, - | sed \'s/,/, /g\'); $what (choose a free port, or stop that process)" >&2',
    "  exit 1",
    "}",
  ].join("\n");
}
