/**
 * The roles Patroni's members log in as, made on the leader (they replicate to every member):
 * the replication role standbys stream as, the role pg_rewind reads the new leader with, and the
 * password of postgres (dbstack's steps on a member that does not lead log in to the leader with it).
 * Patroni creates them only when it bootstraps a cluster itself; dbstack's cluster is made by
 * pg_createcluster and taken over by Patroni, so dbstack makes them, with generated passwords
 * read from the step's environment (never in the script, never on a command line).
 */
import { scriptHeader, withHeredoc } from "../../../shell";
import { renderClusterPrelude, type ClusterLocation } from "../host";
import { renderReplicationRoleSql, renderRewindRoleSql } from "../sql/roles";
import { HA_SECRET_ENV } from "./spec";

/**
 * On the primary's host once its Patroni member runs: converges both roles when this member leads;
 * on a member that does not lead (after a failover) it does nothing and says so (the roles are the
 * leader's, and they replicate).
 */
export function renderHaRoles(loc: ClusterLocation, roles: { replicationUser: string; rewindUser: string }): string {
  return [
    scriptHeader(`PostgreSQL cluster ${loc.cluster}: the replication and rewind roles of its Patroni members.`),
    renderClusterPrelude(loc),
    'exec 8>"/run/lock/dbstack-postgres-$V-$CLUSTER.lock"',
    'flock -w 300 8 || { echo "another dbstack step on $V/$CLUSTER held its lock for 300s" >&2; exit 1; }',
    "# psql_su reaches the leader wherever it is (host.ts): the roles are made there, and they replicate.",
    `: "\${${HA_SECRET_ENV.superuser}:?the password of postgres is missing from the environment of the step}"`,
    withHeredoc("psql_su -d postgres -f -", renderReplicationRoleSql(roles.replicationUser, HA_SECRET_ENV.replication), "DBSTACK_SQL"),
    withHeredoc("psql_su -d postgres -f -", renderRewindRoleSql(roles.rewindUser, HA_SECRET_ENV.rewind), "DBSTACK_SQL"),
    withHeredoc("psql_su -d postgres -f -", renderSuperuserPasswordSql(HA_SECRET_ENV.superuser), "DBSTACK_SQL"),
    "# Slots dbstack's own standbys streamed from, before Patroni took over (its slots are named after members): unused, they would keep WAL forever.",
    `psql_su -d postgres -tAc "SELECT 'dropped replication slot ' || slot_name FROM (SELECT slot_name, pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_type = 'physical' AND slot_name LIKE 'dbstack\\_%' AND NOT active) dropped"`,
    'echo "roles converged on the leader"',
  ].join("\n") + "\n";
}

/** postgres's password, from the step's environment (psql reads it: never in the script). */
function renderSuperuserPasswordSql(passwordEnv: string): string {
  return [
    "\\set QUIET on",
    "SET password_encryption = 'scram-sha-256';",
    `\\getenv dbstack_password ${passwordEnv}`,
    "\\if :{?dbstack_password}",
    "ALTER ROLE postgres PASSWORD :'dbstack_password';",
    "\\endif",
    "",
  ].join("\n");
}
