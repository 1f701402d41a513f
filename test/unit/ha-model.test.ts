import { describe, expect, it } from "vitest";
import { validateServerArgs } from "../../components/deploy/validateServer";
import { postgresEngine } from "../../components/engines/postgres/engine";
import { mariadbEngine } from "../../components/engines/mariadb/engine";
import type { PostgresClusterArgs } from "../../components/engines/postgres/args";
import type { EtcdMemberArgs, HaArgs } from "../../components/model/ha";
import { DEFAULTS } from "../../components/model/defaults";

const host = (address: string) => ({ kind: "ssh" as const, host: address, privateKey: "k" });
const SECRET = "s3cr3t-etcd-Pa55word";

function members(n: number): EtcdMemberArgs[] {
  return Array.from({ length: n }, (_, i) => ({ name: `e${i + 1}`, target: host(`10.0.0.${i + 1}`), address: `10.0.0.${i + 1}` }));
}

function args(ha: Partial<HaArgs> | undefined, over: Partial<PostgresClusterArgs> = {}): PostgresClusterArgs {
  return {
    target: host("10.0.0.1"),
    databases: [{ name: "app", owner: "app" }],
    users: [{ name: "app", grants: { app: "owner" } }],
    standbys: [
      { name: "s2", target: host("10.0.0.2"), address: "10.0.0.2" },
      { name: "s3", target: host("10.0.0.3"), address: "10.0.0.3" },
    ],
    ha: ha === undefined ? undefined : ({ etcd: { kind: "deploy" }, ...ha } as HaArgs),
    ...over,
  };
}

const validate = (a: PostgresClusterArgs) => () => validateServerArgs("main", a, postgresEngine);

describe("ha: the declared model", () => {
  it("accepts HA with etcd on the deployment's three hosts by default, and explicit members", () => {
    expect(validate(args({}))).not.toThrow();
    expect(validate(args({ etcd: { kind: "deploy", members: members(3) }, synchronous: false, ttlSeconds: 20, loopWaitSeconds: 2, retryTimeoutSeconds: 5 }))).not.toThrow();
    expect(validate(args({ etcd: { kind: "existing", endpoints: ["https://etcd-1.example:2379", "https://[fd00::1]:2379"], username: "patroni", password: SECRET } }))).not.toThrow();
  });

  it("has the defaults an operator would choose, in DEFAULTS", () => {
    expect(DEFAULTS.ha).toMatchObject({ synchronous: true, ttlSeconds: 30, loopWaitSeconds: 10, retryTimeoutSeconds: 10, maximumLagOnFailoverBytes: 1048576 });
    // The defaults satisfy Patroni's own rule (checked for declared values below).
    expect(DEFAULTS.ha.loopWaitSeconds + 2 * DEFAULTS.ha.retryTimeoutSeconds).toBeLessThanOrEqual(DEFAULTS.ha.ttlSeconds);
  });

  it("is for PostgreSQL only", () => {
    const engine = mariadbEngine({ flavor: "mariadb", requireSecureTransport: false });
    expect(() => validateServerArgs("m", args({}) as never, engine)).toThrow(/^ha: high availability with Patroni is for PostgreSQL deployments; this is a mariadb deployment/);
  });

  it("needs a standby to fail over to, and three hosts for default etcd members", () => {
    expect(validate(args({}, { standbys: [] }))).toThrow(/^ha: high availability needs at least one standby/);
    expect(validate(args({}, { standbys: [{ name: "s2", target: host("10.0.0.2"), address: "10.0.0.2" }] }))).toThrow(/^ha\.etcd\.members: by default etcd runs on .* this deployment has 2 hosts/);
    // Removing HA (enabled: false) needs no standby.
    expect(validate(args({ enabled: false }, { standbys: [] }))).not.toThrow();
  });

  it("refuses timings Patroni refuses, naming the field", () => {
    expect(validate(args({ ttlSeconds: 10 }))).toThrow(/^ha\.ttlSeconds: expected a whole number from 20 to 3600, got 10/);
    expect(validate(args({ loopWaitSeconds: 0 }))).toThrow(/^ha\.loopWaitSeconds:/);
    expect(validate(args({ retryTimeoutSeconds: 2.5 }))).toThrow(/^ha\.retryTimeoutSeconds:/);
    expect(validate(args({ maximumLagOnFailoverBytes: -1 }))).toThrow(/^ha\.maximumLagOnFailoverBytes:/);
    expect(validate(args({ ttlSeconds: 20, loopWaitSeconds: 10, retryTimeoutSeconds: 10 }))).toThrow(/^ha\.ttlSeconds: must be at least loopWaitSeconds \+ 2 × retryTimeoutSeconds \(10 \+ 2 × 10 = 30\), got 20/);
    expect(validate(args({ synchronous: "yes" as never }))).toThrow(/^ha\.synchronous: expected true or false/);
  });

  it("keeps Patroni's REST API off PostgreSQL's ports", () => {
    expect(validate(args({ restApiPort: 5432 }))).toThrow(/^ha\.restApiPort: 5432 is a PostgreSQL port of this deployment/);
    expect(validate(args({ restApiPort: 70000 }))).toThrow(/^ha\.restApiPort: expected a whole number/);
  });

  it("wants an odd number of etcd members, each named once, on ports of their own", () => {
    expect(validate(args({ etcd: { kind: "deploy", members: members(2) } }))).toThrow(/^ha\.etcd\.members: expected an odd number of members of at least three .* got 2/);
    expect(validate(args({ etcd: { kind: "deploy", members: members(1) } }))).toThrow(/^ha\.etcd\.members: expected an odd number/);
    const twice = [...members(2), { ...members(1)[0], address: "10.0.0.9" }];
    expect(validate(args({ etcd: { kind: "deploy", members: twice } }))).toThrow(/^ha\.etcd\.members\.e1: declared twice/);
    const sharedPort = members(3).map((m) => ({ ...m, address: "10.0.0.1", clientPort: m.name === "e1" ? 2379 : undefined, peerPort: m.name === "e2" ? 2379 : undefined }));
    expect(validate(args({ etcd: { kind: "deploy", members: sharedPort } }))).toThrow(/^ha\.etcd\.members\.e2: 10\.0\.0\.1:2379 is already another member's/);
    expect(validate(args({ etcd: { kind: "unknown" } as never }))).toThrow(/^ha\.etcd\.kind: expected "deploy" or "existing"/);
    expect(validate(args({ etcd: undefined as never }))).toThrow(/^ha\.etcd: declare the etcd cluster/);
  });

  describe("hostile input never reaches a config file or a shell", () => {
    const hostile = ["10.0.0.1; rm -rf /", "$(reboot)", "`id`", "a\nb", "h ost", "x'y", "host:2379"];
    it.each(hostile)("etcd member address %j", (address) => {
      const bad = members(3).map((m, i) => (i === 1 ? { ...m, address } : m));
      expect(validate(args({ etcd: { kind: "deploy", members: bad } }))).toThrow(/^ha\.etcd\.members\.e2\.address: expected a host name or an IP address/);
    });
    it.each(["e;1", "E1", "1e", "a".repeat(41), "$x"])("etcd member name %j", (name) => {
      const bad = members(3).map((m, i) => (i === 0 ? { ...m, name } : m));
      expect(validate(args({ etcd: { kind: "deploy", members: bad } }))).toThrow(/^ha\.etcd\.members: expected a lower-case letter/);
    });
    it("etcd member data directory", () => {
      const bad = members(3).map((m, i) => (i === 2 ? { ...m, dataDirectory: "/var/lib/etcd/$(id)" } : m));
      expect(validate(args({ etcd: { kind: "deploy", members: bad } }))).toThrow(/^ha\.etcd\.members\.e3\.dataDirectory:/);
    });
    it.each(["http://10.0.0.1:2379", "https://10.0.0.1", "https://a;b:2379", "https://x:2379/path", "https://x:2379 --insecure"])("existing endpoint %j", (e) => {
      expect(validate(args({ etcd: { kind: "existing", endpoints: [e], username: "patroni", password: SECRET } }))).toThrow(/^ha\.etcd\.endpoints: expected https:\/\/host:port/);
    });
    it("existing etcd user and password: named, the password never echoed", () => {
      expect(validate(args({ etcd: { kind: "existing", endpoints: ["https://e:2379"], username: "pat roni", password: SECRET } }))).toThrow(/^ha\.etcd\.username:/);
      expect(validate(args({ etcd: { kind: "existing", endpoints: ["https://e:2379"], username: "patroni", password: "" } }))).toThrow(/^ha\.etcd\.password: the password of ha\.etcd\.username is required/);
      for (const bad of [args({ etcd: { kind: "existing", endpoints: ["http://e:2379"], username: "patroni", password: SECRET } }), args({ etcd: { kind: "existing", endpoints: ["https://e:2379"], username: "pa;tr", password: SECRET } })]) {
        try {
          validate(bad)();
          expect.unreachable();
        } catch (e) {
          expect(String(e)).not.toContain(SECRET);
        }
      }
    });
    it.each(["Main", "a b", "x/../y", "scope;id"])("scope %j", (scope) => {
      expect(validate(args({ scope }))).toThrow(/^ha\.scope: expected lower-case letters/);
    });
  });
});

describe("ha: what it does not combine with yet", () => {
  it("refuses a Docker target, pitr, a declared certificate and a standby named primary, naming the field", () => {
    expect(validate(args({}, { target: { kind: "docker" } as PostgresClusterArgs["target"] }))).toThrow(/^ha: Patroni members run on hosts/);
    expect(validate(args({}, { pitr: { repository: "/var/lib/dbstack-pitr" } } as Partial<PostgresClusterArgs>))).toThrow(/^pitr: archiving that follows Patroni's leader is not built yet/);
    expect(validate(args({}, { tls: { certificate: "c", privateKey: "k" } } as Partial<PostgresClusterArgs>))).toThrow(/^tls: with ha, every member has its own certificate/);
    const standbys = [{ name: "primary", target: host("10.0.0.2"), address: "10.0.0.2" }, { name: "s3", target: host("10.0.0.3"), address: "10.0.0.3" }];
    expect(validate(args({}, { standbys }))).toThrow(/^standbys\.primary: with ha, `primary` is the Patroni member name/);
    expect(validate(args({ enabled: false }, { standbys }))).not.toThrow();
  });
});
