/**
 * What a member's host needs beyond PostgreSQL: Patroni (and etcd where a member of the deployed
 * etcd cluster runs), and jq and curl, which the member steps and tools read Patroni's and etcd's
 * JSON answers with. Installed from the distribution's packages when missing; the packaged
 * daemons are not what runs (each member is supervised from its own home), so they are kept from
 * starting on their default ports while apt-get runs.
 */
import { scriptHeader } from "../../../shell";

export function renderInstallHaPackages(needs: { patroni: boolean; etcd: boolean }): string {
  const checks: [string, string][] = [
    ["jq", "jq"],
    ["curl", "curl"],
    ...(needs.patroni ? ([["patroni", "patroni"]] as [string, string][]) : []),
    ...(needs.etcd ? ([["etcd", "etcd-server"], ["etcdctl", "etcd-client"]] as [string, string][]) : []),
  ];
  return [
    scriptHeader(`High-availability packages: ${checks.map(([, p]) => p).join(", ")}.`),
    "missing=()",
    ...checks.map(([cmd, pkg]) => `command -v ${cmd} >/dev/null 2>&1 || missing+=(${pkg})`),
    'if [ "${#missing[@]}" -gt 0 ]; then',
    "  export DEBIAN_FRONTEND=noninteractive",
    "  # Packaged daemons must not start on their default ports: dbstack runs each member itself.",
    "  policy=/usr/sbin/policy-rc.d; made=",
    '  if [ ! -e "$policy" ]; then printf \'#!/bin/sh\\nexit 101\\n\' > "$policy"; chmod 0755 "$policy"; made=yes; fi',
    '  rc=0; { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 || rc=$?',
    '  [ -z "$made" ] || rm -f "$policy"',
    '  [ "$rc" = 0 ] || { echo "installing ${missing[*]} failed (exit $rc)" >&2; exit 1; }',
    "fi",
    `echo "installed: ${checks.map(([, p]) => p).join(" ")}"`,
  ].join("\n") + "\n";
}
