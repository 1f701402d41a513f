/**
 * The operator's tools of an HA member, beside backup and restore: `switchover` (planned, to a
 * named candidate), `failover` (forced, when there is no healthy leader), `pause` and `resume`
 * (Patroni's maintenance mode: it stops managing PostgreSQL), and `ha-status` (one line per member:
 * name, role, state, lag, timeline). Each runs patronictl as postgres with the member's
 * configuration and its private environment (the REST API's and etcd's passwords), and takes no
 * user text but a member name, which must be one of the cluster's.
 */
import { scriptHeader, shellQuote } from "../../../shell";
import type { PatroniClusterSpec, PatroniMemberSpec } from "./spec";

export type HaToolName = "switchover" | "failover" | "pause" | "resume" | "ha-status";

/** The prelude of every tool: the member's files, `ctl` (patronictl as postgres, with the passwords in its environment). */
function renderToolPrelude(c: PatroniClusterSpec, m: PatroniMemberSpec, usage: string): string {
  return [
    scriptHeader(`${usage.split(":")[0]} of Patroni cluster ${c.scope}.`),
    'case "${1:-}" in -h|--help) echo ' + shellQuote(usage) + "; exit 0 ;; esac",
    `HOME_DIR=${shellQuote(m.home)}`,
    '[ "$(id -u)" = 0 ] || { echo "run as root: the tool reads $HOME_DIR/patroni.env" >&2; exit 1; }',
    'ctl() { ( set -a; . "$HOME_DIR/patroni.env"; set +a; cd /; exec runuser -u postgres -- patronictl -c "$HOME_DIR/patroni.yml" "$@" ); }',
  ].join("\n");
}

/** Refuses a candidate that is not one of the cluster's members (before anything is asked of Patroni). */
function renderCandidate(c: PatroniClusterSpec, required: boolean): string {
  const names = c.members.map((x) => x.name);
  return [
    'candidate="${1:-}"',
    `case "$candidate" in ${names.map(shellQuote).join("|")}) ;; ${required ? "" : '"") ;; '}*) echo "candidate: expected one of ${names.join(", ")}${required ? "" : " (or none)"}" >&2; exit 2 ;; esac`,
  ].join("\n");
}

export function renderHaTool(tool: HaToolName, c: PatroniClusterSpec, m: PatroniMemberSpec): string {
  switch (tool) {
    case "switchover":
      return [
        renderToolPrelude(c, m, "switchover <candidate>: a planned switchover: the leader hands over to <candidate> (a healthy standby) and follows it"),
        renderCandidate(c, true),
        `out=$(ctl switchover ${shellQuote(c.scope)} --candidate "$candidate" --force 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }`,
        "# patronictl says a refused switchover (e.g. to a standby that is not synchronous) and still exits 0.",
        `printf '%s\n' "$out"; if printf '%s' "$out" | grep -q "failed"; then exit 1; fi`,
      ].join("\n") + "\n";
    case "failover":
      return [
        renderToolPrelude(c, m, "failover [candidate]: a forced failover, for a cluster without a healthy leader: promotes <candidate> (or the best standby)"),
        renderCandidate(c, false),
        `out=$(ctl failover ${shellQuote(c.scope)} \${candidate:+--candidate "$candidate"} --force 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }`,
        `printf '%s\n' "$out"; if printf '%s' "$out" | grep -q "failed"; then exit 1; fi`,
      ].join("\n") + "\n";
    case "pause":
      return [renderToolPrelude(c, m, "pause: maintenance mode: Patroni stops managing PostgreSQL (no failover) until resume"), `ctl pause ${shellQuote(c.scope)} --wait`].join("\n") + "\n";
    case "resume":
      return [renderToolPrelude(c, m, "resume: ends maintenance mode: Patroni manages PostgreSQL again"), `ctl resume ${shellQuote(c.scope)} --wait`].join("\n") + "\n";
    case "ha-status":
      return [
        renderToolPrelude(c, m, "ha-status: one line per member: name, role, state, lag in MB, timeline"),
        `ctl list ${shellQuote(c.scope)} -f json | jq -r '.[] | "member \\(.Member) role=\\(.Role) state=\\(.State) lag_mb=\\(.["Lag in MB"] // 0) timeline=\\(.TL // "-")"'`,
      ].join("\n") + "\n";
    default:
      return unknownTool(tool);
  }
}

function unknownTool(tool: never): never {
  throw new Error(`unknown HA tool ${String(tool)}`);
}

export const HA_TOOLS: readonly HaToolName[] = ["switchover", "failover", "pause", "resume", "ha-status"];
