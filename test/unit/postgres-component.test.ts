import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { buildComponent, installMocks, output, type Registered } from "./support/mocks";
import type { PostgresClusterArgs } from "../../components/engines/postgres/args";
import { restartParameters } from "../../components/engines/postgres/parameters";
import { computeTuning, tuningValues } from "../../components/engines/postgres/tuning";
import type { PostgresUrls } from "../../components/engines/postgres/urls";
import { checksumOf } from "../../components/hooks/migrations";

const registered: Registered[] = [];

const GENERATED = "x".repeat(32);
const SERVER_FACTS = '{"version":15,"memoryMb":4096,"cpus":2}';
/** Pulumi's signature for a secret value in resource inputs. */
const SECRET_SIG = { key: "4dabf18193072939515e22adb298388d", value: "1b47061264138c4ac30d75fd1eb44270" };

let PostgresCluster: typeof import("../../components/deploy/postgresCluster").PostgresCluster;

beforeAll(async () => {
  // Mocks first: the component module must load against the mock monitor.
  await installMocks(registered, (r) =>
    r.type.endsWith(":GeneratedPassword")
      ? { result: GENERATED }
      : r.type.endsWith(":HostFacts")
        ? r.name.startsWith("resized-")
          ? { memoryMb: 16384, cpus: 8 }
          : { memoryMb: 4096, cpus: 2 }
        : { stdout: r.name.endsWith("-server") ? SERVER_FACTS : "" },
  );
  ({ PostgresCluster } = await import("../../components/deploy/postgresCluster"));
});

const HOST_COMMAND = "pulumi-nodejs:dynamic/dbstack:HostCommand";
const GENERATED_PASSWORD = "pulumi-nodejs:dynamic/dbstack:GeneratedPassword";
const HOST_FACTS = "pulumi-nodejs:dynamic/dbstack:HostFacts";
const OWNER_CHECK = "pulumi-nodejs:dynamic/dbstack:OwnerCheck";
const SSH_HOST_KEYS = "pulumi-nodejs:dynamic/dbstack:SshHostKeys";
const COMPONENT = "dbstack:postgres:Cluster";
const ADMIN_PASSWORD = "An-Explicit/Passw0rd@with:specials";
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nunit-test-key\n-----END OPENSSH PRIVATE KEY-----";
const USERS_SQL = "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL);\n";

function args(overrides: Partial<PostgresClusterArgs> = {}): PostgresClusterArgs {
  return {
    target: { kind: "ssh", host: "10.0.0.5", privateKey: PRIVATE_KEY },
    version: 15,
    listenAddresses: ["localhost", "10.0.0.5"],
    allowedCidrs: ["10.0.0.0/24"],
    databases: [
      {
        name: "app",
        owner: "app",
        migrations: { kind: "sql", migrations: [{ id: "0001_users", sql: USERS_SQL, checksum: checksumOf(USERS_SQL) }] },
        healthChecks: [{ name: "users table", sql: "SELECT count(*) >= 0 FROM users", expect: "t" }],
      },
      { name: "reports", owner: "reporter" },
    ],
    users: [
      { name: "app", grants: { app: "owner" } },
      { name: "reporter", grants: { reports: "owner", app: "readonly" } },
      { name: "admin", grants: { app: "readwrite", reports: "readonly" }, password: ADMIN_PASSWORD },
    ],
    backup: { retentionDays: 7 },
    maintenanceSchedule: "30 3 * * 0",
    standbys: [{ name: "replica1", target: { kind: "ssh", host: "10.0.0.6", privateKey: PRIVATE_KEY }, address: "10.0.0.6" }],
    hostPrefix: "dbstack-unit",
    ...overrides,
  };
}

/** Builds a cluster under a unique name and waits until all its children have registered. */
async function build(name: string, a: PostgresClusterArgs) {
  const { component: cluster, children, urns } = await buildComponent(name, (opts) => new PostgresCluster(name, a, opts), registered);
  return { cluster, children, urns };
}

/** Every script text a HostCommand carries (create, update, delete). */
function scripts(r: Registered): string[] {
  return ["create", "update", "delete"].map((k) => r.inputs[k]).filter((s): s is string => typeof s === "string");
}

/** The resource type of a child, from its name. */
function typeOf(name: string): string {
  if (name.endsWith("-password")) return GENERATED_PASSWORD;
  if (/(^|-)host-keys$/.test(name)) return SSH_HOST_KEYS;
  if (/(^|-)owner-check$/.test(name)) return OWNER_CHECK;
  return /(^|-)host-facts$/.test(name) ? HOST_FACTS : HOST_COMMAND;
}

const EXPECTED_NAMES = [
  "main-host-keys",
  "main-owner-check",
  "main-server",
  "main-host-facts",
  "main-cluster",
  "main-ca",
  "main-config",
  "main-app-password",
  "main-reporter-password",
  "main-role-app",
  "main-role-reporter",
  "main-role-admin",
  "main-db-app",
  "main-db-reports",
  "main-grants-app",
  "main-grants-reporter",
  "main-grants-admin",
  "main-replication-password",
  "main-replication",
  "main-replica1-server",
  "main-replica1",
  "main-replica1-host-keys",
  "main-replica1-tls-key",
  "main-replica1-tls-certificate",
  "main-replica1-config",
  "main-replica1-tools",
  "main-tools",
  "main-backup-schedule",
  "main-maintenance-schedule",
  "main-post-deploy-app",
  "main-post-deploy-reports",
  "main-monitor-password",
  "main-monitor",
].sort();

describe("PostgresCluster resources", () => {
  it("registers the server, cluster, configuration, roles, databases, grants, standby, tools, schedules and hooks", async () => {
    const { children } = await build("main", args());
    expect([...children.keys()].sort()).toEqual(EXPECTED_NAMES);
    for (const [name, child] of children) {
      expect(child.type, name).toBe(typeOf(name));
      expect(child.inputs, name).toHaveProperty("__provider");
    }
    // The explicit password of admin is used as is: no generated one.
    expect(children.has("main-admin-password")).toBe(false);
  });

  it("parents every child to the component", async () => {
    const { cluster, urns } = await build("parented", args());
    expect(await output(cluster.urn)).toBe(`urn:pulumi:unit::dbstack::${COMPONENT}::parented`);
    expect(urns.sort()).toEqual(
      EXPECTED_NAMES.map((n) => n.replace(/^main-/, "")).map((c) => {
        const type = typeOf(c);
        return `urn:pulumi:unit::dbstack::${COMPONENT}$${type}::parented-${c}`;
      }).sort(),
    );
  });

  it("has no replication, standby, backup or maintenance resources when none are declared", async () => {
    const { children } = await build("lean", args({ standbys: undefined, backup: undefined, maintenanceSchedule: undefined }));
    const names = [...children.keys()];
    expect(names.filter((n) => /replica|replication|backup|maintenance/.test(n))).toEqual([]);
    expect(names).toContain("lean-tools");
    expect(children.get("lean-tools")!.inputs.create).not.toContain("/backup'");
  });

  it("runs every script on the declared hosts, with the key kept secret", async () => {
    const { children } = await build("hosts", args());
    expect(children.get("hosts-config")!.inputs.target).toEqual({ kind: "ssh", host: "10.0.0.5" });
    expect(children.get("hosts-replica1")!.inputs.target).toEqual({ kind: "ssh", host: "10.0.0.6" });
    expect(children.get("hosts-replica1-config")!.inputs.target).toEqual({ kind: "ssh", host: "10.0.0.6" });
    expect(children.get("hosts-config")!.inputs.privateKey).toEqual({ [SECRET_SIG.key]: SECRET_SIG.value, value: PRIVATE_KEY });
  });
});

describe("PostgresCluster secrets", () => {
  it("gives each role step its password in a secret environment, never in a script", async () => {
    const { children } = await build("sec", args());
    expect(children.get("sec-role-app")!.inputs.environment).toEqual({ [SECRET_SIG.key]: SECRET_SIG.value, value: { DBSTACK_PASSWORD_APP: GENERATED } });
    expect(children.get("sec-role-reporter")!.inputs.environment).toEqual({
      [SECRET_SIG.key]: SECRET_SIG.value,
      value: { DBSTACK_PASSWORD_REPORTER: GENERATED },
    });
    expect(children.get("sec-role-admin")!.inputs.environment).toEqual({
      [SECRET_SIG.key]: SECRET_SIG.value,
      value: { DBSTACK_PASSWORD_ADMIN: ADMIN_PASSWORD },
    });
    expect(children.get("sec-role-app")!.inputs.create).toContain("\\getenv dbstack_password DBSTACK_PASSWORD_APP");
    expect(children.get("sec-replication")!.inputs.environment).toEqual({
      [SECRET_SIG.key]: SECRET_SIG.value,
      value: { DBSTACK_REPLICATION_PASSWORD: GENERATED },
    });
    expect(children.get("sec-replica1")!.inputs.environment).toEqual({
      [SECRET_SIG.key]: SECRET_SIG.value,
      value: { DBSTACK_REPLICATION_PASSWORD: GENERATED },
    });
  });

  it("never writes a password into any resource's create, update or delete script", async () => {
    const { children } = await build("nopw", args());
    const texts = [...children.values()].flatMap((c) => scripts(c).map((s) => [c.name, s] as const));
    expect(texts.length).toBeGreaterThan(20);
    for (const [name, text] of texts) {
      expect(text, name).not.toContain(GENERATED);
      expect(text, name).not.toContain(ADMIN_PASSWORD);
      expect(text, name).not.toContain(encodeURIComponent(ADMIN_PASSWORD));
      expect(text, name).not.toContain(PRIVATE_KEY);
    }
  });

  it("gives each post-deploy hook its owner's URL in a secret environment", async () => {
    const { children } = await build("hookenv", args());
    expect(children.get("hookenv-post-deploy-reports")!.inputs.environment).toEqual({
      [SECRET_SIG.key]: SECRET_SIG.value,
      value: { DBSTACK_OWNER_PASSWORD: GENERATED, DATABASE_URL: `postgresql://reporter:${GENERATED}@127.0.0.1:5432/reports?sslmode=require` },
    });
    const app = children.get("hookenv-post-deploy-app")!.inputs;
    expect(app.create).toContain("applied migration 0001_users");
    // The user's SQL and checks are files beside the script, readable in the diff, never in the script.
    expect(app.files["migration-0001_users.sql"]).toContain(USERS_SQL.trimEnd());
    expect(app.create).not.toContain(USERS_SQL.trimEnd());
    expect(app.files["check-1.name"]).toBe("users table");
    expect(app.review).toMatchObject({ component: "postgres cluster hookenv", migrations: ["0001_users"] });
  });
});

describe("PostgresCluster review facts", () => {
  const tuned = tuningValues(
    computeTuning({ memoryMb: 4096, cpus: 2, storage: "ssd" }, { workload: "mixed", maxConnections: 100, version: 15, overrides: {} }),
  );

  it("declares the configuration's restart-only parameters with the values tuned for 4096 MB", async () => {
    const { children } = await build("facts", args());
    const review = children.get("facts-config")!.inputs.review;
    expect(review.component).toBe("postgres cluster facts");
    expect(review.restartParameters.shared_buffers).toBe("1GB");
    expect(review.restartParameters.max_connections).toBe("100");
    expect(review.restartParameters.listen_addresses).toBe("localhost,10.0.0.5");
    const restart = restartParameters(15);
    const expected = Object.fromEntries(Object.entries({ ...tuned, listen_addresses: "localhost,10.0.0.5", port: "5432" }).filter(([k]) => restart.has(k)));
    expect(review.restartParameters).toEqual(expected);
    // Reloadable parameters are not announced as restarts.
    expect(review.restartParameters).not.toHaveProperty("work_mem");
    expect(review.restartParameters).not.toHaveProperty("effective_cache_size");
    // The standby gets the primary's tuning, so the same facts.
    expect(children.get("facts-replica1-config")!.inputs.review.restartParameters).toEqual(expected);
  });

  it("tunes for the memory and CPUs read on this run, not those recorded at install", async () => {
    const { children } = await build("resized", args());
    expect(children.get("resized-host-facts")!.inputs.target).toEqual({ kind: "ssh", host: "10.0.0.5" });
    const review = children.get("resized-config")!.inputs.review;
    expect(review.restartParameters.shared_buffers).toBe("4GB");
  });

  it("follows declared host facts and maxConnections instead of the host's", async () => {
    const { children } = await build("facts8g", args({ hostFacts: { memoryMb: 8192 }, maxConnections: 300 }));
    const review = children.get("facts8g-config")!.inputs.review;
    expect(review.restartParameters.shared_buffers).toBe("2GB");
    expect(review.restartParameters.max_connections).toBe("300");
  });

  it("shows each user's role per database in the grants facts", async () => {
    const { children } = await build("grants", args());
    expect(children.get("grants-grants-app")!.inputs.review.grants).toEqual({ "app on app": { role: "owner" } });
    expect(children.get("grants-grants-reporter")!.inputs.review.grants).toEqual({
      "reporter on reports": { role: "owner" },
      "reporter on app": { role: "readonly" },
    });
    expect(children.get("grants-grants-admin")!.inputs.review.grants).toEqual({
      "admin on app": { role: "readwrite" },
      "admin on reports": { role: "readonly" },
    });
  });

  it("marks the cluster, databases, standby and backup schedule data-bearing, kept on destroy by default", async () => {
    const { children } = await build("bearing", args());
    for (const name of ["bearing-cluster", "bearing-db-app", "bearing-db-reports", "bearing-replica1", "bearing-backup-schedule"]) {
      expect(children.get(name)!.inputs.review, name).toMatchObject({ dataBearing: true, dataRemovalAllowed: false });
    }
    expect(children.get("bearing-replica1")!.inputs.review.standby).toBe("replica1");
    expect(children.get("bearing-backup-schedule")!.inputs.review.backup).toEqual({ schedule: "0 2 * * *", retentionDays: 7 });
    expect(children.get("bearing-cluster")!.inputs.delete).not.toMatch(/pg_dropcluster --stop/);
    expect(children.get("bearing-db-app")!.inputs.delete).not.toContain("DROP DATABASE");
    expect(children.get("bearing-role-app")!.inputs.delete).toContain("kept role app: it owns database app");
  });

  it("drops the cluster, databases and backups on destroy with allowDataRemoval", async () => {
    const { children } = await build("drop", args({ allowDataRemoval: true }));
    expect(children.get("drop-cluster")!.inputs.delete).toContain('pg_dropcluster --stop "$V" "$CLUSTER"');
    expect(children.get("drop-db-app")!.inputs.delete).toContain(`DROP DATABASE IF EXISTS "app" WITH (FORCE)`);
    expect(children.get("drop-backup-schedule")!.inputs.delete).toContain("-delete");
    expect(children.get("drop-cluster")!.inputs.review).toMatchObject({ dataBearing: true, dataRemovalAllowed: true });
  });
});

describe("PostgresCluster scripts", () => {
  it("renders pg_hba.conf with the allowed networks and the standby's replication line", async () => {
    const { children } = await build("hba", args());
    const config: string = children.get("hba-config")!.inputs.create;
    expect(config).toMatch(/^hostssl +all +all +10\.0\.0\.0\/24 +scram-sha-256$/m);
    expect(config).toMatch(/^hostssl +replication +dbstack_replication +10\.0\.0\.6\/32 +scram-sha-256$/m);
    expect(config).toContain("max_slot_wal_keep_size = '10GB'");
    expect(config).not.toMatch(/\btrust\b/);
    // The standby listens on its own address, since the primary listens beyond localhost.
    expect(children.get("hba-replica1-config")!.inputs.create).toContain("listen_addresses = 'localhost,10.0.0.6'");
    expect(children.get("hba-replica1-config")!.inputs.create).toContain("is streaming from its primary");
  });

  it("clones the standby from the primary's address with its own slot", async () => {
    const { children } = await build("clone", args());
    const create: string = children.get("clone-replica1")!.inputs.create;
    expect(create).toContain("-h '10.0.0.5' -p 5432 -U 'dbstack_replication'");
    expect(create).toContain("-S 'dbstack_replica1'");
    expect(children.get("clone-replication")!.inputs.create).toContain("pg_create_physical_replication_slot('dbstack_replica1')");
    expect(children.get("clone-replica1-tools")!.inputs.create).toContain("/usr/local/lib/dbstack-unit/postgres-clone-replica1/promote");
  });

  it("installs backup, restore, maintenance and health tools, and schedules backup and maintenance in cron", async () => {
    const { cluster, children } = await build("cron", args());
    const tools: string = children.get("cron-tools")!.inputs.create;
    expect(tools).toContain("installed health-app, health-reports, backup, restore, maintenance in /usr/local/lib/dbstack-unit/postgres-cron");
    const files = children.get("cron-tools")!.inputs.files;
    expect(files.backup).toContain("--format=custom --compress=1 --dbname='app'");
    expect(files.backup).toContain("--format=custom --compress=1 --dbname='reports'");
    const backup: string = children.get("cron-backup-schedule")!.inputs.create;
    expect(backup).toContain("mkdir -p '/var/backups/dbstack-unit/postgres-cron' && chmod 700 '/var/backups/dbstack-unit/postgres-cron'");
    expect(backup).toContain("0 2 * * * root /usr/local/lib/dbstack-unit/postgres-cron/backup >> /var/backups/dbstack-unit/postgres-cron/cron-backup.log 2>&1");
    expect(children.get("cron-maintenance-schedule")!.inputs.create).toContain(
      "30 3 * * 0 root /usr/local/lib/dbstack-unit/postgres-cron/maintenance >> /var/log/dbstack-unit-postgres-cron-maintenance.log 2>&1",
    );
    expect(await output(cluster.toolsDir)).toBe("/usr/local/lib/dbstack-unit/postgres-cron");
    expect(await output(cluster.standbyTools)).toEqual({ replica1: "/usr/local/lib/dbstack-unit/postgres-cron-replica1" });
  });

  it("checks the standby and the newest backup in the hooks", async () => {
    const { children } = await build("checks", args());
    const hook: string = children.get("checks-post-deploy-reports")!.inputs.create;
    expect(hook).toContain(`case "$out" in '1 streaming'*)`);
    expect(hook).toContain("-name 'checks-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.tar.gz*'");
    expect(hook).toContain("DBNAME='reports'");
    expect(hook).toContain("OWNER='reporter'");
    expect(hook).not.toContain("SET ROLE");
  });

  it("keeps each owner's password for the on-demand health tools in a root-only file, from a secret environment", async () => {
    const { children } = await build("toolpw", args());
    const tools = children.get("toolpw-tools")!.inputs;
    expect(tools.environment).toEqual({ [SECRET_SIG.key]: SECRET_SIG.value, value: { DBSTACK_PASSWORD_APP: GENERATED, DBSTACK_PASSWORD_REPORTER: GENERATED } });
    expect(tools.create).toContain(`( umask 077 && printf '%s' "$DBSTACK_PASSWORD_APP" > '/usr/local/lib/dbstack-unit/postgres-toolpw/app.password.dbstack-tmp' )`);
    expect(tools.create).toContain("mv -f '/usr/local/lib/dbstack-unit/postgres-toolpw/reporter.password.dbstack-tmp' '/usr/local/lib/dbstack-unit/postgres-toolpw/reporter.password'");
    expect(tools.files["health-reports"]).toContain("DBSTACK_OWNER_PASSWORD=$(cat '/usr/local/lib/dbstack-unit/postgres-toolpw/reporter.password')");
  });

  // Regression test, fixed bug (components/engines/postgres/cluster.ts, replicationCidrs): a standby address without a
  // prefix gets "/32" appended whatever it is, so an IPv6 address becomes a /32 network (the
  // first 32 bits: far wider than the one host) instead of /128.
  it("allows an IPv6 standby address as a single host, /128", async () => {
    const { children } = await build("ipv6", args({ standbys: [{ name: "replica1", target: { kind: "ssh", host: "fd00::6" }, address: "fd00::6" }] }));
    expect(children.get("ipv6-config")!.inputs.create).toMatch(/^hostssl +replication +dbstack_replication +fd00::6\/128 +scram-sha-256$/m);
  });

  // Regression test, fixed bug (same place): a host name as the standby's address (the config schema accepts one) is
  // rendered "standby.internal/32", which PostgreSQL refuses ("specifying both host name and CIDR
  // mask is invalid"): the primary's pg_hba.conf is not (re)loaded. Either refuse it when
  // validating, naming standbys.<name>.address, or render the host name without a mask.
  it("renders a host name as a standby address without a CIDR mask", async () => {
    const standbys = [{ name: "replica1", target: { kind: "ssh" as const, host: "standby.internal" }, address: "standby.internal" }];
    let refused: string | undefined;
    try {
      const { children } = await build("hostname", args({ standbys }));
      expect(children.get("hostname-config")!.inputs.create).toMatch(/^hostssl +replication +dbstack_replication +standby\.internal +scram-sha-256$/m);
    } catch (err) {
      refused = (err as Error).message;
    }
    if (refused !== undefined) expect(refused).toMatch(/^standbys\.replica1\.address: /);
  });
});

describe("PostgresCluster outputs", () => {
  it("exposes the URLs (secret) of each user's granted databases, in both flavours, with TLS required", async () => {
    const { cluster } = await build("urls", args());
    expect(await pulumi.isSecret(cluster.urls)).toBe(true);
    const urls = await output(cluster.urls);
    const url = (user: string, pw: string, db: string): PostgresUrls => ({
      postgresql: `postgresql://${user}:${encodeURIComponent(pw)}@10.0.0.5:5432/${db}?sslmode=require`,
      psycopg: `postgresql+psycopg://${user}:${encodeURIComponent(pw)}@10.0.0.5:5432/${db}?sslmode=require`,
      postgresqlVerifyFull: `postgresql://${user}:${encodeURIComponent(pw)}@10.0.0.5:5432/${db}?sslmode=verify-full`,
      psycopgVerifyFull: `postgresql+psycopg://${user}:${encodeURIComponent(pw)}@10.0.0.5:5432/${db}?sslmode=verify-full`,
    });
    expect(urls).toEqual({
      app: { app: url("app", GENERATED, "app") },
      reporter: { reports: url("reporter", GENERATED, "reports"), app: url("reporter", GENERATED, "app") },
      admin: { app: url("admin", ADMIN_PASSWORD, "app"), reports: url("admin", ADMIN_PASSWORD, "reports") },
    });
    expect(urls.admin.app.postgresql).toContain("An-Explicit%2FPassw0rd%40with%3Aspecials");
  });

  it("exposes the host, port, databases and tools", async () => {
    const { cluster } = await build("outs", args({ address: "db.internal", port: 5433 }));
    expect(await output(cluster.host)).toBe("db.internal");
    expect(await output(cluster.port)).toBe(5433);
    expect(await output(cluster.databases)).toEqual(["app", "reports"]);
    expect((await output(cluster.urls)).app.app.postgresql).toBe(`postgresql://app:${GENERATED}@db.internal:5433/app?sslmode=require`);
  });

  it("defaults the address to localhost on this machine", async () => {
    const { cluster } = await build("local", args({ target: undefined, standbys: undefined }));
    expect(await output(cluster.host)).toBe("localhost");
    expect((await output(cluster.urls)).app.app.postgresql).toBe(`postgresql://app:${GENERATED}@localhost:5432/app?sslmode=require`);
  });
});

describe("PostgresCluster argument validation", () => {
  /** The message of the error constructing the cluster throws; fails the test if it throws none. */
  function argumentError(name: string, a: PostgresClusterArgs): string {
    const before = registered.length;
    try {
      new PostgresCluster(name, a);
    } catch (err) {
      expect(err).toBeInstanceOf(Error);
      // Refused before anything is registered.
      expect(registered.length).toBe(before);
      return (err as Error).message;
    }
    throw new Error(`PostgresCluster accepted ${name} ${JSON.stringify(a)}`);
  }

  it("names a database owner that is not a declared user", () => {
    const message = argumentError("badowner", args({ databases: [{ name: "app", owner: "nobody" }] }));
    expect(message).toBe('databases.app.owner: "nobody" is not one of the declared users (app, reporter, admin)');
  });

  it("names a grant on an undeclared database", () => {
    const message = argumentError(
      "badgrant",
      args({ users: [{ name: "app", grants: { app: "owner" } }, { name: "reporter", grants: { reports: "owner" } }, { name: "x", grants: { nope: "readonly" } }] }),
    );
    expect(message).toBe("users.x.grants.nope: no database nope is declared");
  });

  it.each([
    ["port", 70000, { port: 70000 }],
    ["port", 0, { port: 0 }],
    ["port", 5432.5, { port: 5432.5 }],
    ["maxConnections", 0, { maxConnections: 0 }],
    ["backup.schedule", "0 25 * * *", { backup: { schedule: "0 25 * * *" } }],
    ["backup.schedule", "daily", { backup: { schedule: "daily" } }],
    ["backup.retentionDays", 0, { backup: { retentionDays: 0 } }],
    ["backup.dir", "relative/dir", { backup: { dir: "relative/dir" } }],
    ["maintenanceSchedule", "* * *", { maintenanceSchedule: "* * *" }],
    ["dataDirectory", "/srv/pg data", { dataDirectory: "/srv/pg data" }],
    ["toolsDir", "tools", { toolsDir: "tools" }],
    ["standbys.Replica", "Replica", { standbys: [{ name: "Replica", target: { kind: "ssh", host: "10.0.0.6" }, address: "10.0.0.6" }] }],
  ] as [string, string | number, Partial<PostgresClusterArgs>][])("rejects %s %j, naming the argument and the value", (field, value, overrides) => {
    const message = argumentError("badarg", args(overrides));
    expect(message.startsWith(`${field}: `), message).toBe(true);
    expect(message).toContain(JSON.stringify(value));
  });

  it.each([
    [{ work_mem: "64MB\nshared_buffers = 1TB" }, "parameters: work_mem: the value must be a single line without control characters"],
    [{ "work mem": "64MB" }, 'parameters: "work mem" is not a parameter name'],
  ])("rejects parameters %j with tuning's own rule, before anything is registered", (parameters, message) => {
    expect(argumentError("badparam", args({ parameters }))).toContain(message);
  });

  it.each([
    ["standbys.tools", { standbys: [{ name: "tools", target: { kind: "ssh", host: "10.0.0.6" }, address: "10.0.0.6" }] }],
    ["users.replication", { users: [{ name: "app", grants: { app: "owner" } }, { name: "reporter", grants: { reports: "owner" } }, { name: "replication", grants: {} }] }],
  ] as [string, Partial<PostgresClusterArgs>][])("rejects %s, whose child resource would take the name of one of the deployment's own steps", (field, overrides) => {
    const message = argumentError("clash", args(overrides));
    expect(message.startsWith(`${field}: `), message).toBe(true);
    expect(message).toContain("reserved:");
  });

  it("refuses a target of a kind it does not know, instead of running on this machine", () => {
    const message = argumentError("alien", args({ target: { kind: "kubernetes" } as unknown as PostgresClusterArgs["target"], standbys: undefined }));
    expect(message).toContain('unknown target kind "kubernetes"');
  });

  it("rejects a bad component name", () => {
    const message = argumentError("Main", args());
    expect(message).toBe('name: expected a lower-case letter, then letters, digits, _ or - (at most 40), got "Main"');
  });
});

describe("PostgresCluster from stack config", () => {
  it("resolves a relative dataDirectory and backup.dir against the project directory", async () => {
    const { parseStackConfig } = await import("../../stacks/config");
    const { postgresClusterFromConfig } = await import("../../stacks/postgres");
    const config = parseStackConfig({
      "dbstack:postgres": JSON.stringify({
        rel: { databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } }, dataDirectory: "data/pg", backup: { dir: "backups/pg" } },
      }),
    });
    const ctx = { projectDir: "/srv/project", stack: "unit", allowDataRemoval: false, hosts: {} };
    const { children } = await buildComponent("rel", (opts) => postgresClusterFromConfig("rel", config.postgres.rel, ctx, opts), registered);
    expect(children.get("rel-cluster")!.inputs.identity).toBe("rel:/srv/project/data/pg");
    expect(children.get("rel-backup-schedule")!.inputs.create).toContain("'/srv/project/backups/pg'");
  });
});

describe("instanceName, and clusterName (its old name) still read", () => {
  /** The cluster name the cluster step's script creates (its prelude's CLUSTER=…). */
  const clusterOf = (children: Map<string, Registered>, name: string) => /CLUSTER='?([a-z0-9_-]+)'?/.exec(String(children.get(`${name}-cluster`)?.inputs.create))?.[1];

  it("instanceName names the cluster on its host; the old clusterName gives the same cluster", async () => {
    const now = await build("renamed", args({ standbys: [], instanceName: "pgmain" }));
    const old = await build("oldkey", args({ standbys: [], clusterName: "pgmain" }));
    expect(clusterOf(now.children, "renamed")).toBe("pgmain");
    expect(clusterOf(old.children, "oldkey")).toBe("pgmain");
  });

  it("both keys with different values: an error naming both, before anything is registered", () => {
    expect(() => new PostgresCluster("both", args({ standbys: [], instanceName: "a", clusterName: "b" }))).toThrow(/clusterName: the old name of instanceName; declare instanceName only/);
  });
});
