import { describe, expect, it } from "vitest";
import { forwardArguments, rewriteUrlHostPort } from "../../components/copy/forward";
import { parseConnectionUrl } from "../../components/copy/connections";
import {
  endpointUrl,
  hostPatternMatches,
  openEndpoints,
  parseDeploymentRef,
  recordedHostKeysFromExport,
  resolveDeploymentRef,
  type StackView,
} from "../../scripts/lib/deploymentRefs";
import { parseStackConfig } from "../../stacks/config";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const PW_APP = "Pw1ApP";
const PW_RO = "s3cr%t/@:x";

function pgUrls(user: string, pw: string, host: string, port: number, db: string) {
  const base = `${encodeURIComponent(user)}:${encodeURIComponent(pw)}@${host}:${port}/${db}`;
  return { postgresql: `postgresql://${base}?sslmode=require`, psycopg: `postgresql+psycopg://${base}?sslmode=require` };
}

/** A stack with a local PostgreSQL, a PostgreSQL on SSH host db1 (declared key), a MariaDB on db2 (recorded key), and SQLite files. */
function view(): StackView {
  const config = parseStackConfig(
    {
      "dbstack:hosts": JSON.stringify({
        db1: { address: "10.0.0.5", user: "deploy", privateKey: "PRIVATE-KEY-1", hostKey: KEY },
        db2: { address: "10.0.0.6", port: 2222, privateKey: "PRIVATE-KEY-2" },
      }),
      "dbstack:postgres": JSON.stringify({
        local: { port: 5433, databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } } },
        main: {
          host: "db1",
          port: 5444,
          databases: { app: { owner: "app" }, shop: { owner: "shopper" } },
          users: { app: { grants: { app: "owner" } }, ro: { grants: { app: "readonly" } }, shopper: { grants: { shop: "owner" } } },
        },
      }),
      "dbstack:mariadb": JSON.stringify({
        shop: {
          host: "db2",
          port: 3307,
          databases: { app: { owner: "app" } },
          users: { app: { grants: { app: "owner" }, hosts: ["localhost", "127.0.0.1"] }, web: { grants: { app: "readwrite" }, hosts: ["localhost", "10.0.0.%"] } },
        },
      }),
      "dbstack:sqlite": JSON.stringify({ app: { path: "/srv/app.db" }, remote: { host: "db1", path: "/srv/remote.db" } }),
    },
    "dbstack",
    { stack: "dev" },
  );
  return {
    stack: "dev",
    config,
    recordedHostKeys: { db2: KEY },
    outputs: {
      postgres: {
        local: { host: "localhost", port: 5433, databases: ["app"], urls: { app: { app: pgUrls("app", PW_APP, "localhost", 5433, "app") } }, caCertificate: "CA-LOCAL" },
        main: {
          host: "10.0.0.5",
          port: 5444,
          databases: ["app", "shop"],
          urls: {
            app: { app: pgUrls("app", PW_APP, "10.0.0.5", 5444, "app") },
            ro: { app: pgUrls("ro", PW_RO, "10.0.0.5", 5444, "app") },
            shopper: { shop: pgUrls("shopper", "x", "10.0.0.5", 5444, "shop") },
          },
          caCertificate: "CA-MAIN",
        },
      },
      mariadb: {
        shop: {
          host: "10.0.0.6",
          port: 3307,
          databases: ["app"],
          urls: { app: { app: { mysql: `mysql://app:${PW_APP}@10.0.0.6:3307/app` } }, web: { app: { mysql: "mysql://web:w@10.0.0.6:3307/app" } } },
          caCertificate: "CA-SHOP",
        },
      },
      sqlite: { app: { path: "/srv/app.db" }, remote: { path: "/srv/remote.db" } },
    },
  };
}

describe("parseDeploymentRef", () => {
  it("reads server references with and without a user, and SQLite references", () => {
    expect(parseDeploymentRef("postgres:main/app")).toEqual({ engine: "postgres", deployment: "main", database: "app" });
    expect(parseDeploymentRef("postgres:main/app@ro")).toEqual({ engine: "postgres", deployment: "main", database: "app", user: "ro" });
    expect(parseDeploymentRef("mariadb:shop/app")).toEqual({ engine: "mariadb", deployment: "shop", database: "app" });
    expect(parseDeploymentRef("sqlite:app")).toEqual({ engine: "sqlite", deployment: "app" });
  });

  it("leaves URLs and paths alone, so every form db:copy took before still works", () => {
    for (const url of ["postgres://u:p@h:5432/db", "postgresql://h/db", "mariadb://u@h/db", "mysql://h/db", "sqlite:///tmp/a.db", "sqlite:////tmp/a.db", "/tmp/a.db", "rel/app.db"]) {
      expect(parseDeploymentRef(url)).toBeUndefined();
    }
  });

  it("refuses a malformed reference, saying the accepted forms", () => {
    expect(() => parseDeploymentRef("postgres:main")).toThrow(/postgres:<deployment>\/<database>\[@<user>\]/);
    expect(() => parseDeploymentRef("sqlite:app/x")).toThrow(/not a deployment reference/);
    expect(() => parseDeploymentRef("mariadb:shop/app@")).toThrow(/not a deployment reference/);
  });
});

describe("resolveDeploymentRef", () => {
  it("gives the owner's URL of a local deployment, verified with the deployment's CA, without a forward", () => {
    const r = resolveDeploymentRef(parseDeploymentRef("postgres:local/app")!, view());
    expect(r.url).toBe(pgUrls("app", PW_APP, "localhost", 5433, "app").postgresql);
    expect(r.caCertificate).toBe("CA-LOCAL");
    expect(r.forward).toBeUndefined();
    expect(r.label).toBe("postgres local/app as app");
  });

  it("picks the owner of each database by default and another user with @user", () => {
    expect(new URL(resolveDeploymentRef(parseDeploymentRef("postgres:main/shop")!, view()).url).username).toBe("shopper");
    const ro = resolveDeploymentRef(parseDeploymentRef("postgres:main/app@ro")!, view());
    expect(decodeURIComponent(new URL(ro.url).password)).toBe(PW_RO);
  });

  it("forwards to a deployment on an SSH host with its declared host key and the config's private key", () => {
    const r = resolveDeploymentRef(parseDeploymentRef("postgres:main/app")!, view());
    expect(r.forward).toEqual({
      ssh: { host: "10.0.0.5", port: 22, user: "deploy" },
      privateKey: "PRIVATE-KEY-1",
      hostKeys: KEY,
      declared: true,
      configKey: "dbstack:hosts.db1",
      remotePort: 5444,
    });
    expect(r.label).toBe("postgres main/app as app through ssh deploy@10.0.0.5");
    // No secret in the label, which db:copy prints.
    expect(r.label).not.toContain(PW_APP);
  });

  it("uses the keys recorded in the state when the host declares none, and refuses a host with neither", () => {
    const r = resolveDeploymentRef(parseDeploymentRef("mariadb:shop/app")!, view());
    expect(r.forward).toMatchObject({ ssh: { host: "10.0.0.6", port: 2222, user: "root" }, hostKeys: KEY, declared: false, remotePort: 3307 });
    const unpinned = { ...view(), recordedHostKeys: {} };
    expect(() => resolveDeploymentRef(parseDeploymentRef("mariadb:shop/app")!, unpinned)).toThrow(
      /no pinned SSH host key for dbstack:hosts\.db2: declare dbstack:hosts\.db2\.hostKey/,
    );
  });

  it("refuses a MariaDB user the forward's 127.0.0.1 login would not match, before connecting", () => {
    expect(() => resolveDeploymentRef(parseDeploymentRef("mariadb:shop/app@web")!, view())).toThrow(
      'mariadb:shop/app@web: through the SSH port forward web logs in from 127.0.0.1 on the host, which none of its hosts (localhost, 10.0.0.%) matches (\'localhost\' is the socket only); add "127.0.0.1" to dbstack:mariadb.shop.users.web.hosts and run up',
    );
  });

  it("matches MariaDB host patterns as the server does for an address", () => {
    for (const p of ["%", "127.0.0.1", "127.0.0.%", "127.%", "127.0.0._", "127.0.0.0/8", "127.0.0.1/32", "0.0.0.0/0"]) expect([p, hostPatternMatches(p, "127.0.0.1")]).toEqual([p, true]);
    for (const p of ["localhost", "10.0.0.%", "127.0.0.2", "127x0x0x1", "128.0.0.0/8", "127.0.0.2/32", "::1"]) expect([p, hostPatternMatches(p, "127.0.0.1")]).toEqual([p, false]);
  });

  it("names what exists when a deployment, database or user is missing, without any password", () => {
    const v = view();
    const attempts = ["postgres:nope/app", "mariadb:main/app", "postgres:main/nope", "postgres:main/shop@ro", "sqlite:nope"];
    const messages = attempts.map((a) => {
      try {
        resolveDeploymentRef(parseDeploymentRef(a)!, v);
        return "resolved";
      } catch (err) {
        return (err as Error).message;
      }
    });
    expect(messages[0]).toBe(
      'postgres:nope/app: no postgres deployment "nope" in stack dev; it has: postgres:local/app, postgres:main/app, postgres:main/shop, mariadb:shop/app, sqlite:app, sqlite:remote',
    );
    expect(messages[1]).toMatch(/^mariadb:main\/app: no mariadb deployment "main" in stack dev; it has: /);
    expect(messages[2]).toBe('postgres:main/nope: postgres main has no database "nope" (databases: app, shop)');
    expect(messages[3]).toBe('postgres:main/shop@ro: user "ro" has no URL for postgres main/shop (users with access: shopper)');
    expect(messages[4]).toMatch(/^sqlite:nope: no sqlite deployment "nope"/);
    for (const m of messages) {
      expect(m).not.toContain(PW_APP);
      expect(m).not.toContain("PRIVATE-KEY");
    }
  });

  it("resolves a local SQLite deployment to its file and refuses one on an SSH host", () => {
    const r = resolveDeploymentRef(parseDeploymentRef("sqlite:app")!, view());
    expect(parseConnectionUrl(r.url)).toEqual({ engine: "sqlite", path: "/srv/app.db" });
    expect(() => resolveDeploymentRef(parseDeploymentRef("sqlite:remote")!, view())).toThrow(/on the SSH host "db1"; db:copy reads SQLite files on this machine only/);
  });
});

describe("URL rewriting", () => {
  it("points a URL at the forward's local port, keeping user, password, database and parameters", () => {
    const url = pgUrls("ro", PW_RO, "10.0.0.5", 5444, "app").postgresql;
    const out = new URL(rewriteUrlHostPort(url, "127.0.0.1", 40123));
    expect([out.hostname, out.port, out.username, decodeURIComponent(out.password), out.pathname, out.searchParams.get("sslmode")]).toEqual([
      "127.0.0.1",
      "40123",
      "ro",
      PW_RO,
      "/app",
      "require",
    ]);
    expect(rewriteUrlHostPort("mysql://app:pw@[::1]:3307/app", "127.0.0.1", 1234)).toBe("mysql://app:pw@127.0.0.1:1234/app");
  });

  it("asks PostgreSQL for verify-full against the CA file, MariaDB for VERIFY_IDENTITY", () => {
    const pg = new URL(endpointUrl(pgUrls("app", PW_APP, "10.0.0.5", 5444, "app").postgresql, { caFile: "/tmp/x/ca.crt", forwardedPort: 40000 }));
    expect(`${pg.host}${pg.pathname}`).toBe("127.0.0.1:40000/app");
    expect([...pg.searchParams.entries()]).toEqual([["sslmode", "verify-full"], ["sslrootcert", "/tmp/x/ca.crt"]]);
    const my = new URL(endpointUrl(`mysql://app:${PW_APP}@10.0.0.6:3307/app`, { caFile: "/tmp/y/ca.crt" }));
    expect(my.host).toBe("10.0.0.6:3307");
    expect([...my.searchParams.entries()]).toEqual([["ssl-mode", "VERIFY_IDENTITY"], ["ssl-ca", "/tmp/y/ca.crt"]]);
    expect(endpointUrl("sqlite:///srv/app.db", { caFile: "/tmp/ca.crt" })).toBe("sqlite:///srv/app.db");
  });
});

describe("the forward's ssh command", () => {
  const args = forwardArguments(
    { host: "10.0.0.5", port: 2222, user: "deploy" },
    { keyFile: "/tmp/d/key", knownHostsFile: "/tmp/d/known_hosts" },
    { localPort: 40123, remotePort: 5444 },
  );

  it("pins host keys exactly as the deploy does and only forwards (no remote command, no sudo)", () => {
    const options = (name: string) => args.filter((a, i) => args[i - 1] === "-o" && a.startsWith(`${name}=`));
    expect(options("StrictHostKeyChecking")).toEqual(["StrictHostKeyChecking=yes"]);
    expect(options("UserKnownHostsFile")).toEqual(["UserKnownHostsFile=/tmp/d/known_hosts"]);
    expect(options("GlobalKnownHostsFile")).toEqual(["GlobalKnownHostsFile=/dev/null"]);
    expect(options("ExitOnForwardFailure")).toEqual(["ExitOnForwardFailure=yes"]);
    expect(args.slice(-3)).toEqual(["-L", "127.0.0.1:40123:127.0.0.1:5444", "deploy@10.0.0.5"]);
    expect(args).toContain("-N");
    expect(args.join(" ")).not.toMatch(/bash|sudo/);
    expect(args[args.indexOf("-p") + 1]).toBe("2222");
    expect(args[args.indexOf("-i") + 1]).toBe("/tmp/d/key");
  });
});

describe("recordedHostKeysFromExport", () => {
  it("reads the keys each host-<name>-keys resource recorded", () => {
    const exported = {
      deployment: {
        resources: [
          { urn: "urn:pulumi:dev::dbstack::pulumi:pulumi:Stack::dbstack-dev" },
          { urn: "urn:pulumi:dev::dbstack::pulumi-nodejs:dynamic:Resource::host-db-2-keys", outputs: { keys: KEY, source: "recorded on first contact" } },
          { urn: "urn:pulumi:dev::dbstack::pulumi-nodejs:dynamic:Resource::main-host-keys", outputs: { keys: "other" } },
        ],
      },
    };
    expect(recordedHostKeysFromExport(exported)).toEqual({ "db-2": KEY });
  });
});

describe("openEndpoints", () => {
  it("passes URLs through without reading any stack", async () => {
    const e = await openEndpoints("sqlite:///tmp/a.db", "postgresql://h/db", {
      readView: () => {
        throw new Error("must not read the stack");
      },
    });
    expect([e.from, e.to]).toEqual(["sqlite:///tmp/a.db", "postgresql://h/db"]);
  });

  it("needs --stack for a reference", async () => {
    await expect(openEndpoints("postgres:main/app", "sqlite:///tmp/a.db", {})).rejects.toThrow(
      "postgres:main/app: a deployment reference needs --stack <name> (the stack whose outputs name it)",
    );
  });

  it("resolves both ends before opening anything, so a bad --to opens no forward for --from", async () => {
    await expect(openEndpoints("postgres:main/app", "postgres:main/nope", { stack: "dev", readView: () => view() })).rejects.toThrow(/no database "nope"/);
  });
});
