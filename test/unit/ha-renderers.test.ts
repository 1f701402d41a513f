import { spawnSync } from "child_process";
import { describe, expect, it } from "vitest";
import { renderEtcdAuth, renderEtcdConfig, renderEtcdMember, renderRemoveEtcdMember } from "../../components/engines/postgres/ha/etcd";
import { renderMemberKey } from "../../components/engines/postgres/ha/memberTls";
import { renderPatroniConfig, renderPatroniHba, renderPatroniMember, renderRemovePatroniMember } from "../../components/engines/postgres/ha/patroni";
import type { EtcdClusterSpec, PatroniClusterSpec, PatroniMemberSpec } from "../../components/engines/postgres/ha/spec";
import { renderSuperviseLoop } from "../../components/engines/postgres/ha/supervisor";
import { HA_TOOLS, renderHaTool } from "../../components/engines/postgres/ha/tools";
import { multiHostUrls } from "../../components/engines/postgres/ha/urls";

const members: PatroniMemberSpec[] = [1, 2, 3].map((i) => ({ name: `m${i}`, address: `10.0.0.${i}`, port: 5432, version: 15, dataDirectory: `/var/lib/postgresql/15/main`, home: `/etc/dbstack-ha/main-m${i}` }));
const access = { listenAddresses: ["localhost"], allowedCidrs: ["10.0.0.0/24"], replicationCidrs: [], replicationUser: "dbstack_replication" };
const cluster: PatroniClusterSpec = {
  scope: "main",
  members,
  synchronous: true,
  ttlSeconds: 30,
  loopWaitSeconds: 10,
  retryTimeoutSeconds: 10,
  maximumLagOnFailoverBytes: 1048576,
  restApiPort: 8008,
  etcd: { hosts: ["10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2379"], username: "patroni", caCertificate: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n" },
  parameters: { shared_buffers: "1GB", max_connections: "100" },
  hba: renderPatroniHba(access, members, "dbstack_rewind"),
  replicationUser: "dbstack_replication",
  rewindUser: "dbstack_rewind",
  restApiUser: "dbstack_patroni",
};
const etcd: EtcdClusterSpec = {
  token: "dbstack-main",
  patroniPrefix: "/service/main/",
  patroniUser: "patroni",
  members: members.map((m, i) => ({ name: `e${i + 1}`, address: m.address, clientPort: 2379, peerPort: 2380, dataDirectory: `/var/lib/etcd/e${i + 1}`, home: `/etc/dbstack-ha/etcd-e${i + 1}` })),
};
const TLS = { certificate: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n", caCertificate: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n" };

const syntaxOk = (script: string) => spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });

describe("etcd renderers", () => {
  it("renders a member's configuration: TLS on client and peer URLs, the whole initial cluster", () => {
    const config = JSON.parse(renderEtcdConfig(etcd, etcd.members[1]));
    expect(config).toMatchObject({
      name: "e2",
      "data-dir": "/var/lib/etcd/e2",
      "listen-client-urls": "https://10.0.0.2:2379",
      "listen-peer-urls": "https://10.0.0.2:2380",
      "initial-cluster": "e1=https://10.0.0.1:2380,e2=https://10.0.0.2:2380,e3=https://10.0.0.3:2380",
      "initial-cluster-token": "dbstack-main",
      "enable-v2": false,
      "client-transport-security": { "cert-file": "/etc/dbstack-ha/etcd-e2/tls/server.crt", "client-cert-auth": false },
      "peer-transport-security": { "cert-file": "/etc/dbstack-ha/etcd-e2/tls/server.crt", "trusted-ca-file": "/etc/dbstack-ha/etcd-e2/ca.crt", "client-cert-auth": true },
    });
    expect(renderEtcdConfig(etcd, etcd.members[1])).toBe(renderEtcdConfig(etcd, etcd.members[1]));
  });

  it("grants Patroni's user its own prefix only, and reads passwords from the environment", () => {
    const auth = renderEtcdAuth(etcd, etcd.members[0]);
    // "/service/main/" and its range end "/service/main0", base64.
    expect(auth).toContain(Buffer.from("/service/main/").toString("base64"));
    expect(auth).toContain(Buffer.from("/service/main0").toString("base64"));
    expect(auth).toContain("env.DBSTACK_ETCD_PATRONI_PASSWORD");
    expect(auth).not.toMatch(/--new-user-password|user add \S+:/);
  });

  it("renders scripts bash accepts", () => {
    for (const s of [renderEtcdMember(etcd, etcd.members[0], TLS), renderEtcdAuth(etcd, etcd.members[0]), renderRemoveEtcdMember(etcd.members[0], false), renderMemberKey("etcd member e1", "/etc/x", "etcd")]) {
      const r = syntaxOk(s);
      expect(r.status, r.stderr).toBe(0);
    }
  });
});

describe("Patroni renderers", () => {
  it("builds pg_hba from the engine's lines, with replication, rewind and dbstack's superuser steps from the members (and Patroni's local timeline check) only", () => {
    expect(cluster.hba).toEqual([
      "local      all          postgres                          peer",
      "local      all          all                               scram-sha-256",
      "host       all          all          127.0.0.1/32         scram-sha-256",
      "host       all          all          ::1/128              scram-sha-256",
      "hostssl    postgres     dbstack_rewind 10.0.0.1/32          scram-sha-256",
      "hostssl    postgres     dbstack_rewind 10.0.0.2/32          scram-sha-256",
      "hostssl    postgres     dbstack_rewind 10.0.0.3/32          scram-sha-256",
      "hostssl    all          postgres     10.0.0.1/32          scram-sha-256",
      "hostssl    all          postgres     10.0.0.2/32          scram-sha-256",
      "hostssl    all          postgres     10.0.0.3/32          scram-sha-256",
      "hostssl    replication  dbstack_replication 10.0.0.1/32          scram-sha-256",
      "hostssl    replication  dbstack_replication 10.0.0.2/32          scram-sha-256",
      "hostssl    replication  dbstack_replication 10.0.0.3/32          scram-sha-256",
      "hostssl    replication  dbstack_replication 127.0.0.1/32         scram-sha-256",
      "hostssl    all          all          10.0.0.0/24          scram-sha-256",
    ]);
    expect(cluster.hba.join("\n")).not.toMatch(/trust/);
  });

  it("renders patroni.yml: the declared timings and synchronous mode in the dynamic configuration, the tuning cluster-wide, TLS locally, no password", () => {
    const yml = JSON.parse(renderPatroniConfig(cluster, members[1]));
    expect(yml.bootstrap.dcs).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576, synchronous_mode: true, postgresql: { use_pg_rewind: true, use_slots: true } });
    expect(yml.bootstrap.dcs.postgresql.parameters).toMatchObject({ shared_buffers: "1GB", max_connections: "100", wal_level: "replica", hot_standby: "on" });
    expect(yml.bootstrap.initdb).toContain("data-checksums");
    expect(yml.postgresql).toMatchObject({
      listen: "10.0.0.2,127.0.0.1:5432",
      connect_address: "10.0.0.2:5432",
      bin_dir: "/usr/lib/postgresql/15/bin",
      parameters: { ssl: "on", ssl_cert_file: "/etc/dbstack-ha/main-m2/tls/server.crt" },
      authentication: { replication: { username: "dbstack_replication", sslmode: "verify-full" }, rewind: { username: "dbstack_rewind", sslmode: "verify-full" } },
    });
    expect(yml.restapi).toMatchObject({ listen: "10.0.0.2:8008", certfile: "/etc/dbstack-ha/main-m2/tls/server.crt", authentication: { username: "dbstack_patroni" } });
    expect(yml.etcd3).toMatchObject({ hosts: cluster.etcd.hosts, protocol: "https", username: "patroni", cacert: "/etc/dbstack-ha/main-m2/etcd-ca.crt" });
    expect(renderPatroniConfig(cluster, members[1])).not.toMatch(/password"\s*:/);
    expect(JSON.parse(renderPatroniConfig({ ...cluster, synchronous: false }, members[0])).bootstrap.dcs.synchronous_mode).toBe(false);
  });

  it("the member step writes passwords with printf's builtin from the environment, into a 0600 root file", () => {
    const s = renderPatroniMember(cluster, members[0], TLS);
    expect(s).toContain(`install -o root -g root -m 0600 /dev/null "$HOME_DIR/patroni.env.dbstack-tmp"`);
    expect(s).toContain(`printf 'PATRONI_SUPERUSER_PASSWORD=%q\\n' "$DBSTACK_HA_SUPERUSER_PASSWORD"`);
    const r = syntaxOk(s);
    expect(r.status, r.stderr).toBe(0);
    expect(syntaxOk(renderRemovePatroniMember(members[0], true)).status).toBe(0);
  });

  it("the supervisor loop runs the daemon as its user and again after it exits, until the stop file", () => {
    const loop = renderSuperviseLoop({ what: "Patroni member m1", home: "/etc/x", user: "postgres", argv: ["/usr/bin/patroni", "/etc/x/patroni.yml"], envFile: "/etc/x/patroni.env" });
    expect(loop).toContain(`while [ ! -e "$HOME_DIR/stop" ]; do`);
    expect(loop).toContain(`runuser -u 'postgres' -- '/usr/bin/patroni' '/etc/x/patroni.yml'`);
    expect(syntaxOk(loop).status).toBe(0);
  });
});

describe("HA tools", () => {
  it.each(HA_TOOLS)("%s is a script bash accepts, that answers --help", (tool) => {
    const s = renderHaTool(tool, cluster, members[0]);
    expect(syntaxOk(s).status).toBe(0);
    const r = spawnSync("bash", ["-c", s, tool, "--help"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${tool}`));
  });

  it("switchover and failover take only a member's name", () => {
    for (const tool of ["switchover", "failover"] as const) {
      const r = spawnSync("bash", ["-c", renderHaTool(tool, cluster, members[0]).replace('[ "$(id -u)" = 0 ]', "true"), tool, "m1; reboot"], { encoding: "utf8" });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^candidate: expected one of m1, m2, m3/);
    }
  });
});

describe("multi-host URLs", () => {
  it("list every member; writers ask for read-write, readers prefer a standby", () => {
    const urls = multiHostUrls({ user: "app", password: "p@ss:w/rd", database: "app", members: [{ address: "10.0.0.1", port: 5432 }, { address: "10.0.0.2", port: 5433 }, { address: "fd00::3", port: 5432 }], caCertificateFile: "/etc/ssl/ca.crt" });
    expect(urls.postgresql).toBe("postgresql://app:p%40ss%3Aw%2Frd@10.0.0.1:5432,10.0.0.2:5433,[fd00::3]:5432/app?sslmode=require&target_session_attrs=read-write");
    expect(urls.readPsycopgVerifyFull).toBe("postgresql+psycopg://app:p%40ss%3Aw%2Frd@10.0.0.1:5432,10.0.0.2:5433,[fd00::3]:5432/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Fca.crt&target_session_attrs=prefer-standby");
  });
});
