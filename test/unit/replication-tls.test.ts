import { spawnSync } from "child_process";
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { renderStandby, SYSTEM_CA_BUNDLE, type StandbySpec } from "../../components/engines/postgres/standbyScripts";
import { tempDir } from "./support/run";

// Issue 17, deliverable 8: a standby verifies its primary (sslmode=verify-full) against the
// deployment's CA, from its first clone on, and a standby made by an older dbstack
// (sslmode=require) is brought to verify-full.
const CA = "-----BEGIN CERTIFICATE-----\nMIIBdeploymentCA\n-----END CERTIFICATE-----";
const SPEC: StandbySpec = {
  version: 15,
  cluster: "replica",
  port: 5433,
  slot: "dbstack_replica1",
  primaryHost: "10.0.0.5",
  primaryPort: 5432,
  replicationUser: "dbstack_replication",
  caCertificate: CA,
};

/** The body of one shell function of a rendered script, with its definition, to run on its own. */
function shellFunction(script: string, name: string): string {
  const start = script.indexOf(`${name}() {`);
  const end = script.indexOf("\n}\n", start);
  expect(start).toBeGreaterThanOrEqual(0);
  return script.slice(start, end + 2);
}

describe("renderStandby: the standby verifies its primary", () => {
  const script = renderStandby(SPEC);

  it("parses as bash", () => {
    expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
  });

  it("clones and streams with sslmode=verify-full against the deployment's CA, never sslmode=require", () => {
    expect(script).toContain('PRIMARY_CA="$CONF_DIR/dbstack-primary-ca.crt"');
    expect(script).toContain(`<<'DBSTACK_PRIMARY_CA'\n${CA}\nDBSTACK_PRIMARY_CA`);
    expect(script).toContain('env PGPASSFILE="$pass" PGSSLMODE=verify-full PGSSLROOTCERT="$PRIMARY_CA" "$PGBIN/pg_basebackup"');
    expect(script).toContain("sslmode=verify-full sslrootcert=%s'");
    expect(script).not.toMatch(/sslmode=require'/);
    // The CA is in place before anything connects to the primary.
    expect(script.indexOf("write_primary_ca\n")).toBeLessThan(script.indexOf("pg_basebackup"));
  });

  it("without the deployment's CA (the primary's certificate is the user's own), trusts the system's CA bundle", () => {
    const own = renderStandby({ ...SPEC, caCertificate: undefined });
    expect(own).toContain(`PRIMARY_CA=${SYSTEM_CA_BUNDLE}`);
    expect(own).not.toContain("write_primary_ca");
    expect(own).toContain('PGSSLMODE=verify-full PGSSLROOTCERT="$PRIMARY_CA"');
  });

  it.each([
    [
      "a standby of an older dbstack (sslmode=require) now verifies",
      "primary_conninfo = 'user=dbstack_replication host=10.0.0.5 sslmode=prefer'\nprimary_conninfo = 'host=10.0.0.5 port=5432 passfile=/p application_name=dbstack_replica1 sslmode=require'\nprimary_slot_name = 'dbstack_replica1'\n",
      "primary_conninfo = 'user=dbstack_replication host=10.0.0.5 sslmode=prefer'\nprimary_conninfo = 'host=10.0.0.5 port=5432 passfile=/p application_name=dbstack_replica1 sslmode=verify-full sslrootcert=/etc/postgresql/15/replica/dbstack-primary-ca.crt'\nprimary_slot_name = 'dbstack_replica1'\n",
      "now verifies its primary",
    ],
    [
      "a standby that verifies already is left as it is",
      "primary_conninfo = 'host=10.0.0.5 sslmode=verify-full sslrootcert=/etc/postgresql/15/replica/dbstack-primary-ca.crt'\n",
      "primary_conninfo = 'host=10.0.0.5 sslmode=verify-full sslrootcert=/etc/postgresql/15/replica/dbstack-primary-ca.crt'\n",
      "",
    ],
  ])("verify_primary_conninfo: %s", (_case, before, after, said) => {
    const dir = tempDir();
    const auto = join(dir, "postgresql.auto.conf");
    writeFileSync(auto, before);
    const run = spawnSync(
      "bash",
      ["-c", `set -euo pipefail\nV=15 CLUSTER=replica DATA_DIR=${dir} PRIMARY_CA=/etc/postgresql/15/replica/dbstack-primary-ca.crt\n${shellFunction(script, "verify_primary_conninfo")}\nverify_primary_conninfo`],
      { encoding: "utf8" },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(auto, "utf8")).toBe(after);
    expect(run.stdout.trim()).toBe(said ? `standby 15/replica ${said} (sslmode=verify-full)` : "");
  });
});
