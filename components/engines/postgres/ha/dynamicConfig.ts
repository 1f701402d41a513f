/**
 * Patroni's dynamic configuration: what every member shares (the failover timings, synchronous
 * mode, the cluster-wide PostgreSQL parameters), kept in etcd. `bootstrap.dcs` of patroni.yml is
 * read only when a cluster starts for the first time; afterwards dbstack converges it through the
 * REST API (PATCH /config), so a declared change still reaches every member through `up`. A
 * parameter that takes effect only at a restart leaves members "pending restart": dbstack then
 * restarts them in turn, the replicas first and the leader last, each in place (Patroni does not
 * fail over for a restart).
 */
import { scriptHeader, shellQuote, withHeredoc } from "../../../shell";
import { patroniDynamicConfig, renderRestApiCall, restUrl } from "./patroni";
import type { PatroniClusterSpec, PatroniMemberSpec } from "./spec";

/**
 * On the primary's host (any member's would do: the configuration is the cluster's): compares the
 * declared dynamic configuration with Patroni's, patches the difference (a parameter no longer
 * declared is removed), then restarts the members a restart-only parameter left pending.
 */
export function renderApplyDynamicConfig(c: PatroniClusterSpec, on: PatroniMemberSpec): string {
  const desired = JSON.stringify(patroniDynamicConfig(c));
  return [
    scriptHeader(`Patroni's dynamic configuration of ${c.scope}.`),
    `HOME_DIR=${shellQuote(on.home)}`,
    `desired=$(\n${withHeredoc("cat", `${desired}\n`, "DBSTACK_DCS")}\n)`,
    `current=$(curl -sf --max-time 10 --cacert "$HOME_DIR/ca.crt" ${shellQuote(`${restUrl(c, on)}/config`)}) || { echo "Patroni on this host does not answer: is member ${on.name} running?" >&2; exit 1; }`,
    "# The patch: every declared value, and null for each parameter Patroni has that is no longer declared.",
    `patch=$(jq -cn --argjson cur "$current" --argjson want "$desired" '$want * {postgresql: {parameters: ([($cur.postgresql.parameters // {}) | keys[] | select(. as $k | $want.postgresql.parameters | has($k) | not) | {(.): null}] | add // {})}}')`,
    `same=$(jq -n --argjson cur "$current" --argjson patch "$patch" '[$patch | paths(scalars or . == null)] | all(. as $p | ($cur | getpath($p)) == ($patch | getpath($p)))')`,
    'if [ "$same" = true ]; then echo "Patroni\'s dynamic configuration is as declared"; else',
    `changed=$(jq -rn --argjson cur "$current" --argjson patch "$patch" '[$patch | paths(scalars or . == null) | . as $p | select(($cur | getpath($p)) != ($patch | getpath($p))) | map(tostring) | join(".")] | join(", ")')`,
    ...renderRestApiCall(c, "patch_config", `${restUrl(c, on)}/config`, "PATCH"),
    'patch_config "$patch" >/dev/null || { echo "Patroni refused the dynamic configuration" >&2; exit 1; }',
    'echo "changed Patroni\'s dynamic configuration: $changed"',
    "# Each member applies it within a loop (loop_wait): then a restart-only parameter shows as pending.",
    `sleep ${c.loopWaitSeconds + 2}`,
    `cluster=$(curl -sf --max-time 10 --cacert "$HOME_DIR/ca.crt" ${shellQuote(`${restUrl(c, on)}/cluster`)})`,
    `pending=$(printf '%s' "$cluster" | jq -r '[.members[] | select(.pending_restart == true)] | sort_by(.role == "leader") | .[] | "\\(.name) \\(.api_url)"')`,
    'while read -r name api; do',
    '  [ -n "$name" ] || continue',
    ...renderRestApiCall(c, "restart_member", "$api/restart").map((l) => l.replace(`'$api/restart'`, '"$api/restart"')),
    `  restart_member '{"restart_pending": true}' >/dev/null || { echo "Patroni did not restart member $name" >&2; exit 1; }`,
    '  echo "restarted member $name (a parameter it runs with takes effect only at a restart)"',
    'done <<<"$pending"',
    "fi",
    ...renderAwaitStreaming(c, on),
  ].join("\n") + "\n";
}

/**
 * Waits (up to 5 minutes) until every member but the leader streams from it, as the leader's own
 * Patroni reports pg_stat_replication: what follows (hooks, health checks) finds the cluster whole,
 * also right after members were restarted or cloned.
 */
function renderAwaitStreaming(c: PatroniClusterSpec, on: PatroniMemberSpec): string[] {
  const others = c.members.length - 1;
  return [
    "streaming=",
    "for _ in $(seq 1 300); do",
    `  leader_api=$(curl -sf --max-time 5 --cacert "$HOME_DIR/ca.crt" ${shellQuote(`${restUrl(c, on)}/cluster`)} | jq -r '[.members[] | select(.role == "leader")][0].api_url // empty') || leader_api=`,
    `  if [ -n "$leader_api" ] && [ "$(curl -sf --max-time 5 --cacert "$HOME_DIR/ca.crt" "$leader_api" | jq '[.replication[]? | select(.state == "streaming")] | length')" = ${others} ]; then streaming=yes; break; fi`,
    "  sleep 1",
    "done",
    `[ -n "$streaming" ] || { echo "not every member streams from the leader after 5 minutes (see ha-status)" >&2; exit 1; }`,
    `echo "${others} member${others === 1 ? "" : "s"} streaming from the leader"`,
  ];
}
