/**
 * Supervision of etcd and Patroni where systemd does not run (containers, these test machines):
 * a small bash loop, detached with setsid, that runs the daemon as its service user and runs it
 * again whenever it exits, until the member's stop file exists. The daemon's secrets come from a
 * root-only 0600 environment file the loop reads, so they are in the environment of a private
 * process (its /proc/<pid>/environ is its owner's), never on a command line.
 *
 * Files in the member's home: supervise (the loop), supervisor.pid, stop (present: stopped on
 * purpose), daemon.log.
 */
import { shellQuote } from "../../../shell";
import { renderCloseInheritedFds } from "../../../targets/processes";

export interface SupervisedDaemon {
  /** What messages call it, e.g. "etcd member e1". */
  what: string;
  /** The member's home directory (absolute, validated). */
  home: string;
  /** The system user the daemon runs as. */
  user: string;
  /** The daemon's argv (rendered, trusted text: paths of this member only). */
  argv: string[];
  /** A root-only environment file the loop sources before each start. Default: none. */
  envFile?: string;
}

/** The loop itself: the content of $home/supervise. */
export function renderSuperviseLoop(d: SupervisedDaemon): string {
  const home = shellQuote(d.home);
  return [
    "#!/bin/bash",
    `# Rendered by dbstack: runs ${d.what} again whenever it exits, until ${d.home}/stop exists.`,
    "set -u",
    "# The daemon's working directory: its user may not enter the one the step ran in (root's home).",
    "cd /",
    `HOME_DIR=${home}`,
    'echo $$ > "$HOME_DIR/supervisor.pid"',
    "child=",
    'trap \'[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait; rm -f "$HOME_DIR/supervisor.pid"; exit 0\' TERM INT',
    'while [ ! -e "$HOME_DIR/stop" ]; do',
    ...(d.envFile ? [`  set -a; . ${shellQuote(d.envFile)}; set +a`] : []),
    `  runuser -u ${shellQuote(d.user)} -- ${d.argv.map(shellQuote).join(" ")} >> "$HOME_DIR/daemon.log" 2>&1 &`,
    "  child=$!",
    '  wait "$child"',
    '  echo "dbstack supervisor: exited with status $?; starting again in 1 s" >> "$HOME_DIR/daemon.log"',
    "  sleep 1",
    "done",
    'rm -f "$HOME_DIR/supervisor.pid"',
  ].join("\n") + "\n";
}

/**
 * Shell functions (after `HOME_DIR` is set): `supervisor_pid` (the live loop's pid, if that pid
 * still runs this loop), `start_supervised` (starts the loop unless it runs; removes the stop
 * file), `stop_supervised` (writes the stop file, ends the loop and the daemon, waits at most 60 s).
 */
export function renderSupervisorFunctions(): string {
  return [
    renderCloseInheritedFds(),
    "supervisor_pid() {",
    '  local pid; pid=$(cat "$HOME_DIR/supervisor.pid" 2>/dev/null) || return 1',
    '  [ -n "$pid" ] && tr "\\0" " " < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$HOME_DIR/supervise" || return 1',
    '  echo "$pid"',
    "}",
    "start_supervised() {",
    '  rm -f "$HOME_DIR/stop"',
    "  supervisor_pid >/dev/null && return 0",
    '  ( close_inherited_fds; exec setsid bash "$HOME_DIR/supervise" </dev/null >/dev/null 2>&1 ) &',
    '  for _ in $(seq 1 50); do supervisor_pid >/dev/null && return 0; sleep 0.1; done',
    '  echo "the supervisor in $HOME_DIR did not start" >&2; return 1',
    "}",
    "stop_supervised() {",
    '  touch "$HOME_DIR/stop"',
    "  local pid; pid=$(supervisor_pid) || return 0",
    '  kill -TERM "$pid" 2>/dev/null || true',
    '  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done',
    '  echo "the supervisor in $HOME_DIR did not stop in 60 s" >&2; return 1',
    "}",
  ].join("\n");
}
