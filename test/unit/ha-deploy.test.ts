import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { renderApplyDynamicConfig } from "../../components/engines/postgres/ha/dynamicConfig";
import { renderInstallHaPackages } from "../../components/engines/postgres/ha/packages";
import { renderPatroniHba, renderPatroniMember } from "../../components/engines/postgres/ha/patroni";
import { renderHaRoles } from "../../components/engines/postgres/ha/roles";
import type { PatroniClusterSpec, PatroniMemberSpec } from "../../components/engines/postgres/ha/spec";
import { renderClusterPrelude } from "../../components/engines/postgres/host";
import type { ReviewFacts } from "../../components/model/reviewFacts";
import { summarizePreview, type PreviewEvent } from "../../scripts/lib/previewSummary";

const work = mkdtempSync(join(tmpdir(), "dbstack-ha-deploy-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const members: PatroniMemberSpec[] = ["primary", "b", "c"].map((name, i) => ({ name, address: `10.0.0.${i + 1}`, port: 5432, version: 15, dataDirectory: `/var/lib/postgresql/15/m${i}`, configDirectory: `/etc/postgresql/15/m${i}`, home: `${work}/patroni-${name}` }));
const access = { listenAddresses: ["localhost"], allowedCidrs: ["10.0.0.0/24"], replicationCidrs: [], replicationUser: "dbstack_replication" };
const cluster: PatroniClusterSpec = {
  scope: "main",
  members,
  synchronous: true,
  ttlSeconds: 30,
  loopWaitSeconds: 1,
  retryTimeoutSeconds: 10,
  maximumLagOnFailoverBytes: 1048576,
  restApiPort: 8008,
  etcd: { hosts: ["10.0.0.1:2379"], username: "patroni" },
  parameters: { shared_buffers: "128MB", max_connections: "30" },
  hba: renderPatroniHba(access, members, "dbstack_rewind"),
  replicationUser: "dbstack_replication",
  rewindUser: "dbstack_rewind",
  restApiUser: "dbstack_patroni",
};
const REST_PASSWORD = `rest "pw" \\ $(id) 'x'`;

/**
 * Runs a rendered script with fake `curl`, `runuser` and `sleep` first on PATH: curl answers GET
 * from files of `answers` (by the URL's last part) and records every other call (its method, URL,
 * the config it read on stdin and the body); runuser records its environment's PG* and its arguments.
 */
function runWithFakes(script: string, answers: Record<string, string>, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(work, "run-"));
  for (const [k, v] of Object.entries(answers)) writeFileSync(join(dir, `answer-${k}`), v);
  writeFileSync(
    join(dir, "curl"),
    [
      "#!/bin/bash",
      `D=${dir}`,
      'method=GET; url=; body=; cfg=',
      'while [ $# -gt 0 ]; do case "$1" in -X) method=$2; shift ;; -K) cfg=$(cat) ;; --data-binary) body=$(cat "${2#@}"); shift ;; --max-time|--cacert|-H) shift ;; -*) ;; *) url=$1 ;; esac; shift; done',
      'if [ "$method" = GET ]; then cat "$D/answer-${url##*/}"; exit 0; fi',
      'printf "%s %s\\n%s\\n%s\\n" "$method" "$url" "$cfg" "$body" >> "$D/calls"',
      'printf "ARGV %s\\n" "$*" >> "$D/argv"',
      "echo '{}'",
    ].join("\n"),
    { mode: 0o755 },
  );
  writeFileSync(join(dir, "runuser"), `#!/bin/bash\nenv | grep '^PG' | sort > ${dir}/runuser-env\necho "$@" > ${dir}/runuser-args\n`, { mode: 0o755 });
  writeFileSync(join(dir, "sleep"), "#!/bin/bash\n", { mode: 0o755 });
  const r = spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, ...env } });
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), "utf8");
    } catch {
      return "";
    }
  };
  return { ...r, calls: read("calls"), argv: read("argv"), runuserEnv: read("runuser-env"), runuserArgs: read("runuser-args") };
}

describe("Patroni's dynamic configuration through up", () => {
  const script = renderApplyDynamicConfig(cluster, members[0]);
  const declared = { ttl: 30, loop_wait: 1, retry_timeout: 10, maximum_lag_on_failover: 1048576, synchronous_mode: true, check_timeline: true };
  const leaderCluster = { members: [{ name: "primary", role: "leader", api_url: "https://10.0.0.1:8008/patroni" }, { name: "b", role: "sync_standby" }, { name: "c", role: "replica" }] };
  // The leader's /patroni: pg_stat_replication as Patroni reports it, both others streaming.
  const streaming = { cluster: JSON.stringify(leaderCluster), patroni: JSON.stringify({ replication: [{ application_name: "b", state: "streaming" }, { application_name: "c", state: "streaming" }] }) };

  it("is valid bash and holds no password", () => {
    expect(spawnSync("bash", ["-n", "-c", script]).status).toBe(0);
    expect(script).not.toContain(REST_PASSWORD);
  });

  it("changes nothing when Patroni's configuration is the declared one", () => {
    const current = JSON.parse(/cat <<'DBSTACK_DCS'\n(.*)\nDBSTACK_DCS/s.exec(script)![1]);
    const r = runWithFakes(script, { config: JSON.stringify(current), ...streaming }, { DBSTACK_HA_RESTAPI_PASSWORD: REST_PASSWORD });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("Patroni's dynamic configuration is as declared\n2 members streaming from the leader");
    expect(r.calls).toBe("");
  });

  it("patches what differs, removes a parameter no longer declared, and restarts pending members replicas first, the leader last", () => {
    const current = { ...declared, ttl: 20, postgresql: { use_pg_rewind: true, use_slots: true, parameters: { shared_buffers: "64MB", work_mem: "8MB" } } };
    const clusterAnswer = {
      members: [
        { name: "primary", role: "leader", api_url: "https://10.0.0.1:8008/patroni", pending_restart: true },
        { name: "b", role: "sync_standby", api_url: "https://10.0.0.2:8008/patroni", pending_restart: true },
        { name: "c", role: "replica", api_url: "https://10.0.0.3:8008/patroni" },
      ],
    };
    const r = runWithFakes(script, { config: JSON.stringify(current), cluster: JSON.stringify(clusterAnswer), patroni: streaming.patroni }, { DBSTACK_HA_RESTAPI_PASSWORD: REST_PASSWORD });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/changed Patroni's dynamic configuration: .*ttl.*postgresql\.parameters\.shared_buffers.*postgresql\.parameters\.work_mem/);
    const calls = r.calls.trim().split(/\n(?=PATCH|POST)/);
    expect(calls.map((c) => c.split("\n")[0])).toEqual(["PATCH https://10.0.0.1:8008/config", "POST https://10.0.0.2:8008/patroni/restart", "POST https://10.0.0.1:8008/patroni/restart"]);
    const patch = JSON.parse(calls[0].split("\n")[2]);
    expect(patch.ttl).toBe(30);
    expect(patch.postgresql.parameters).toMatchObject({ shared_buffers: "128MB", max_connections: "30", work_mem: null });
    expect(JSON.parse(calls[1].split("\n")[2])).toEqual({ restart_pending: true });
    // The API user's password reached curl on its stdin (its config), escaped, never in its arguments.
    expect(calls[0].split("\n")[1]).toBe(`user = "dbstack_patroni:rest \\"pw\\" \\\\ $(id) 'x'"`);
    expect(r.argv).not.toContain("rest");
    expect(r.stdout).toContain("restarted member b");
    expect(r.stdout).toContain("2 members streaming from the leader");
  });
});

describe("statements of dbstack's steps reach the leader wherever it is", () => {
  const loc = { version: 15, cluster: "m0", port: 5432, patroni: { member: "primary", home: join(work, "home"), restUrl: "https://10.0.0.1:8008" } };
  const run = (leader: string) => {
    const home = join(work, "home");
    spawnSync("mkdir", ["-p", home]);
    writeFileSync(join(home, "patroni.env"), `PATRONI_SUPERUSER_PASSWORD=${"s3cret\\ pw"}\nPATRONI_REPLICATION_PASSWORD=repl\n`);
    const answer = { members: [{ name: "primary", role: leader === "primary" ? "leader" : "replica", state: "running", host: "10.0.0.1", port: 5432 }, { name: "b", role: leader === "b" ? "leader" : "replica", state: "running", host: "10.0.0.2", port: 5433 }] };
    // The prelude checks that PostgreSQL is installed: this test stands in for the host, so psql_su is called directly.
    const prelude = renderClusterPrelude(loc).split("\n").filter((l) => !l.includes("is not installed"));
    return runWithFakes([...prelude, "psql_su -d postgres -c 'SELECT 1'"].join("\n"), { cluster: JSON.stringify(answer) });
  };

  it("uses the host's socket when this member leads", () => {
    const r = run("primary");
    expect(r.status, r.stderr).toBe(0);
    expect(r.runuserArgs).toContain("-h /var/run/postgresql -p 5432 -d postgres");
    expect(r.runuserEnv).toBe("");
  });

  it("connects to the leader over TLS verified against the deployment's CA otherwise, the password in psql's environment only", () => {
    const r = run("b");
    expect(r.status, r.stderr).toBe(0);
    expect(r.runuserEnv).toContain("PGHOST=10.0.0.2\nPGPASSWORD=s3cret pw\nPGPORT=5433\nPGSSLMODE=verify-full");
    expect(r.runuserArgs).not.toContain("s3cret");
    expect(r.runuserArgs).not.toContain("/var/run/postgresql");
  });
});

describe("the members' steps", () => {
  it("pg_hba lets postgres in over TLS from the members only (dbstack's steps on a member that does not lead)", () => {
    expect(cluster.hba.filter((l) => /\spostgres\s+10\./.test(l))).toEqual(members.map((m) => `hostssl    all          postgres     ${m.address}/32`.padEnd(58) + "scram-sha-256").map((l) => l.replace(/ {2,}scram/, (s) => s)));
  });

  it("a member reloads a changed patroni.yml, restarts only for passwords or a certificate, and waits as long as a clone takes", () => {
    const script = renderPatroniMember(cluster, members[1], { certificate: "C", caCertificate: "CA" }, ["echo before-start"], 1800);
    expect(spawnSync("bash", ["-n", "-c", script]).status).toBe(0);
    expect(script.indexOf("echo before-start")).toBeLessThan(script.indexOf("start_supervised; echo"));
    expect(script).toMatch(/reload_patroni >\/dev\/null/);
    expect(script).toContain("$(seq 1 9000)");
    expect(script).toContain('"checkpoint": "fast"');
  });

  it("the roles step reads every password from its environment and sets postgres's", () => {
    const script = renderHaRoles({ version: 15, cluster: "m0", port: 5432 }, { replicationUser: "dbstack_replication", rewindUser: "dbstack_rewind" });
    expect(spawnSync("bash", ["-n", "-c", script]).status).toBe(0);
    for (const v of ["DBSTACK_REPLICATION_PASSWORD", "DBSTACK_HA_REWIND_PASSWORD", "DBSTACK_HA_SUPERUSER_PASSWORD"]) expect(script).toContain(`\\getenv dbstack_password ${v}`);
    expect(script).toContain("GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO \"dbstack_rewind\";");
  });

  it("installs Patroni and etcd from packages only where missing, keeping packaged daemons from starting", () => {
    const script = renderInstallHaPackages({ patroni: true, etcd: true });
    expect(spawnSync("bash", ["-n", "-c", script]).status).toBe(0);
    expect(script).toContain("command -v patroni >/dev/null 2>&1 || missing+=(patroni)");
    expect(script).toContain("missing+=(etcd-server)");
    expect(script).toContain("/usr/sbin/policy-rc.d");
  });
});

describe("the preview summary of an HA deployment", () => {
  const event = (op: string, name: string, old?: ReviewFacts, now?: ReviewFacts): PreviewEvent => {
    const urn = `urn:pulumi:test::dbstack::dbstack:postgres:Cluster$pulumi-nodejs:dynamic/dbstack:HostCommand::${name}`;
    const state = (review?: ReviewFacts) => review && { type: "pulumi-nodejs:dynamic/dbstack:HostCommand", urn, parent: "", inputs: { review } };
    return { resourcePreEvent: { metadata: { op, urn, type: "pulumi-nodejs:dynamic/dbstack:HostCommand", old: state(old), new: state(now) } } };
  };
  const component = "postgres cluster main";
  const patroni = "Patroni member primary reloads a changed patroni.yml in place; changed passwords or certificate restart it, and if it leads then, Patroni fails over to a standby";

  it("flags the change of mode when Patroni takes a plain deployment over", () => {
    const s = summarizePreview("t", [event("delete", "main-config", { component, restartParameters: { shared_buffers: "128MB" } }), event("create", "main-patroni", undefined, { component, patroni })]);
    expect(s.flags.filter((f) => f.kind === "failover").map((f) => f.message)).toEqual([expect.stringMatching(/^high availability turned on: Patroni takes the running cluster and its standbys over/)]);
  });

  it("says a restart-only parameter restarts members in turn without failover, and a member's own change may fail over", () => {
    const dcs = "members restart in turn; Patroni does not fail over";
    const s = summarizePreview("t", [
      event("update", "main-ha-config", { component, restartParameters: { shared_buffers: "128MB" }, patroni: dcs }, { component, restartParameters: { shared_buffers: "256MB" }, patroni: dcs }),
      event("update", "main-patroni", { component, patroni }, { component, patroni }),
    ]);
    expect(s.flags.map((f) => [f.kind, f.resource, f.message])).toEqual([
      ["restart", "main-ha-config", `${dcs}: shared_buffers 128MB → 256MB`],
      ["failover", "main-patroni", patroni],
    ]);
  });
});
