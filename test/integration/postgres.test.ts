import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "fs";
import { join } from "path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { summarizePreview, type PreviewEvent } from "../../scripts/lib/previewSummary";
import { stackHostPrefix } from "../../components/model/naming";
import { changes, sandbox, setConfig, writeMigration } from "./harness";
import { createTestHosts, type TestHosts } from "./support/hosts";

// A primary and a standby on two hosts reached over SSH (network namespaces with an sshd each).
// The primary is reached as a non-root user with sudo; the standby as root.
const box = sandbox("postgres");
const PRIMARY_PORT = 5471;
const STANDBY_PORT = 5472;
const migrations = join(box.dir, "migrations");
const backups = join(box.dir, "backups");
const tools = join(box.dir, "tools");
let hosts: TestHosts;
let stack: Stack;
let primary: string;
let standby: string;

function config(over: { parameters?: Record<string, string>; users?: Record<string, unknown>; allowDataRemoval?: boolean } = {}) {
  const p = hosts.host("pgprimary");
  const s = hosts.host("pgstandby");
  return {
    allowDataRemoval: over.allowDataRemoval ?? false,
    hosts: {
      primary: { address: p.address, user: "deploy", sudo: true, privateKey: p.privateKey, hostKey: p.hostKey },
      standby: { address: s.address, privateKey: s.privateKey, hostKey: s.hostKey },
    },
    postgres: {
      main: {
        host: "primary",
        port: PRIMARY_PORT,
        instanceName: "itmain",
        hostFacts: { memoryMb: 1024, cpus: 2, storage: "ssd" },
        maxConnections: 40,
        parameters: over.parameters ?? {},
        listenAddresses: ["localhost", p.address],
        allowedCidrs: ["10.213.0.0/24"],
        databases: {
          app: {
            owner: "app",
            dateStyle: "ISO, DMY",
            migrations: { dir: migrations },
            healthChecks: [{ name: "items table", sql: "SELECT count(*) >= 0 FROM items", expect: "t" }],
          },
        },
        users: over.users ?? {
          app: { grants: { app: "owner" } },
          rw: { grants: { app: "readwrite" } },
          ro: { grants: { app: "readonly" }, connectionLimit: 5 },
        },
        backup: { dir: backups, retentionDays: 7 },
        maintenanceSchedule: "30 3 * * 0",
        standbys: { replica1: { host: "standby", address: s.address, instanceName: "itstandby", port: STANDBY_PORT } },
        toolsDir: tools,
      },
    },
  };
}

async function connect(host: string, port: number, user: string, database = "app"): Promise<Client> {
  const outputs = await stack.outputs();
  const url = new URL(outputs.postgres.value.main.urls[user]?.[database]?.postgresql ?? `postgresql://${user}:x@h/${database}`);
  const client = new Client({ host, port, user, database, password: decodeURIComponent(url.password), ssl: { rejectUnauthorized: false } });
  await client.connect();
  return client;
}

async function query(user: string, sql: string, where: "primary" | "standby" = "primary") {
  const client = await connect(where === "primary" ? primary : standby, where === "primary" ? PRIMARY_PORT : STANDBY_PORT, user);
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

async function startTime(): Promise<string> {
  return (await query("app", "SELECT pg_postmaster_start_time()::text AS t"))[0].t;
}

/** Runs a script as root on the primary's host, through SSH as the sudo user (script on stdin). */
function onPrimary(script: string): string {
  return execFileSync("ssh", [...hosts.sshArgs(), `deploy@${primary}`, "sudo -n bash -s"], { encoding: "utf8", input: script });
}

beforeAll(async () => {
  dropTestClusters();
  hosts = await createTestHosts(["pgprimary", "pgstandby"], { sudoUser: "deploy" });
  primary = hosts.host("pgprimary").address;
  standby = hosts.host("pgstandby").address;
  writeMigration(migrations, "0001_items.sql", "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n");
  stack = await box.stack("pg", config());
});

/** Removes this file's clusters, also those a crashed earlier run left (their data is throwaway). */
function dropTestClusters(): void {
  // pg_dropcluster leaves dbstack's conf.d behind; a later cluster of the same name would include it.
  for (const c of ["itmain", "itstandby", "itprivate"]) {
    execFileSync("bash", ["-c", `pg_dropcluster --stop 15 ${c} 2>/dev/null; rm -rf /etc/postgresql/15/${c} /var/lib/postgresql/15/${c} /var/lib/postgresql/.dbstack-15-${c}.pgpass`]);
  }
}

afterAll(async () => {
  try {
    await stack?.destroy();
  } finally {
    dropTestClusters();
    await hosts?.destroy();
    rmSync(box.dir, { recursive: true, force: true });
  }
});

describe("PostgreSQL primary and standby on two SSH hosts", () => {
  it("up creates the cluster, database, users, grants, standby and backups", async () => {
    const result = await stack.up();
    const out = result.outputs.postgres.value.main;
    expect(out.configReport).toContain("started");
    expect(out.hookReports.app).toContain("applied migration 0001_items");
    expect(out.hookReports.app).toContain("streaming standbys: 1 streaming");
    expect(out.urls.app.app.postgresql).toMatch(new RegExp(`^postgresql://app:[A-Za-z0-9]{32}@${primary.replace(/\./g, "\\.")}:${PRIMARY_PORT}/app\\?sslmode=require$`));
    expect(out.urls.app.app.psycopg).toMatch(/^postgresql\+psycopg:\/\//);
  });

  it("clients verify both hosts with the exported CA (sslmode=verify-full); each host has its own key", async () => {
    const out = (await stack.outputs()).postgres.value.main;
    const ca: string = out.caCertificate;
    expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const password = decodeURIComponent(new URL(out.urls.app.app.postgresql).password);
    for (const [host, port] of [[primary, PRIMARY_PORT], [standby, STANDBY_PORT]] as const) {
      // rejectUnauthorized (the default) checks the chain and that the certificate names `host`.
      const client = new Client({ host, port, user: "app", database: "app", password, ssl: { ca } });
      await client.connect();
      try {
        expect((await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows[0].ssl).toBe(true);
      } finally {
        await client.end();
      }
    }
    // The same with libpq and the verify-full URL, the CA written where the user keeps it.
    const caFile = join(box.dir, "main-ca.crt");
    writeFileSync(caFile, ca);
    const url: string = out.urls.app.app.postgresqlVerifyFull;
    expect(url).toMatch(/\?sslmode=verify-full$/);
    const psql = execFileSync("/usr/lib/postgresql/15/bin/psql", ["-X", "-tA", "-w", url, "-c", "SELECT current_user"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, PGSSLROOTCERT: caFile },
    });
    expect(psql.trim()).toBe("app");
    // A client that trusts another CA is refused.
    await expect(new Client({ host: primary, port: PRIMARY_PORT, user: "app", database: "app", password, ssl: { ca: readFileSync("/etc/ssl/certs/ca-certificates.crt", "utf8") } }).connect()).rejects.toThrow(
      /self[- ]signed|unable to verify|unable to get/i,
    );
    // The primary's key never reached the standby: its own key, none in its (cloned) data directory.
    const [pKey, sKey] = ["itmain", "itstandby"].map((c) => readFileSync(`/etc/postgresql/15/${c}/dbstack-tls/server.key`, "utf8"));
    expect(sKey).not.toBe(pKey);
    expect(execFileSync("bash", ["-c", "ls /var/lib/postgresql/15/itstandby | grep -c key || true"], { encoding: "utf8" }).trim()).toBe("0");
    expect(existsSync("/etc/postgresql/15/itstandby/dbstack-ca")).toBe(false);
  });

  it("keeps every password out of the state in plaintext", async () => {
    const outputs = (await stack.outputs()).postgres;
    const passwords = Object.values(outputs.value.main.urls as Record<string, Record<string, { postgresql: string }>>).map(
      (dbs) => decodeURIComponent(new URL(Object.values(dbs)[0].postgresql).password),
    );
    expect(passwords).toHaveLength(3);
    // The state as the backend stores it (the Automation API's exportStack decrypts secrets).
    const stateFile = join(box.dir, "state", ".pulumi", "stacks", "dbstack", "pg.json");
    const state = readFileSync(stateFile, "utf8");
    expect(state).toContain("ciphertext");
    for (const pw of passwords) expect(state).not.toContain(pw);
    const hostKey = hosts.host("pgprimary").privateKey.split("\n")[1];
    expect(state).not.toContain(hostKey);
  });

  it("schedules maintenance, and the maintenance tool vacuums and analyzes", () => {
    expect(onPrimary(`cat /etc/cron.d/${stackHostPrefix("dbstack", "pg", box.projectDir)}-postgres-main-maintenance`)).toContain(`30 3 * * 0 root ${tools}/maintenance`);
    expect(onPrimary(`${tools}/maintenance`)).toContain("vacuum and analyze ok");
  });

  it("each user can do what its grant allows and nothing more", async () => {
    expect((await query("app", "SHOW datestyle"))[0].DateStyle).toBe("ISO, DMY");
    await query("app", "INSERT INTO items (name) VALUES ('a'), ('b')");
    await query("rw", "INSERT INTO items (name) VALUES ('c')");
    expect((await query("ro", "SELECT count(*)::int AS n FROM items"))[0].n).toBe(3);
    await expect(query("ro", "INSERT INTO items (name) VALUES ('x')")).rejects.toThrow(/permission denied/);
    await expect(query("ro", "CREATE TABLE sneaky (x int)")).rejects.toThrow(/permission denied/);
  });

  it("privileges hold on a table the owner creates after the grants", async () => {
    await query("app", "CREATE TABLE later (x int); INSERT INTO later VALUES (42)");
    expect((await query("ro", "SELECT x FROM later"))[0].x).toBe(42);
    await query("rw", "INSERT INTO later VALUES (43)");
    await expect(query("ro", "DELETE FROM later")).rejects.toThrow(/permission denied/);
  });

  it("a write on the primary shows on the standby, which refuses writes", async () => {
    await query("app", "INSERT INTO items (name) VALUES ('replicated')");
    let seen = 0;
    for (let i = 0; i < 30 && seen === 0; i++) {
      seen = (await query("ro", "SELECT count(*)::int AS n FROM items WHERE name = 'replicated'", "standby"))[0].n;
      if (seen === 0) await new Promise((r) => setTimeout(r, 500));
    }
    expect(seen).toBe(1);
    await expect(query("app", "INSERT INTO items (name) VALUES ('no')", "standby")).rejects.toThrow(/read-only transaction/);
  });

  // Issue 17, deliverable 8: the standby connects with sslmode=verify-full against the deployment's CA.
  it.each([
    ["signed by a CA that is not the deployment's", "rogue"],
    ["signed by the deployment's CA for another name", "wrong-name"],
  ])("the standby refuses a primary whose certificate is %s, and streams again with the real one", async (_case, kind) => {
    const tls = "/etc/postgresql/15/itmain/dbstack-tls";
    const standbyLog = "/var/log/postgresql/postgresql-15-itstandby.log";
    expect(readFileSync("/var/lib/postgresql/15/itstandby/postgresql.auto.conf", "utf8")).toMatch(
      /^primary_conninfo = '.*sslmode=verify-full sslrootcert=\/etc\/postgresql\/15\/itstandby\/dbstack-primary-ca\.crt'/m,
    );
    const original = readFileSync(`${tls}/server.crt`, "utf8");
    const work = join(box.dir, `impostor-${kind}`);
    const signer =
      kind === "rogue"
        ? `openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2 -subj "/CN=rogue CA" -addext "basicConstraints=critical,CA:TRUE" -keyout ${work}/ca.key -out ${work}/ca.crt 2>/dev/null`
        : `cp /etc/postgresql/15/itmain/dbstack-ca/ca.key /etc/postgresql/15/itmain/dbstack-ca/ca.crt ${work}/`;
    const san = kind === "rogue" ? `IP:${primary}` : "DNS:wrong.example";
    const reconnect = "runuser -u postgres -- psql -X -tA -h /var/run/postgresql -p " + PRIMARY_PORT + " -d postgres -c 'SELECT count(pg_terminate_backend(pid)) FROM pg_stat_replication' >/dev/null";
    const marks = () => (existsSync(standbyLog) ? readFileSync(standbyLog, "utf8").length : 0);
    const from = marks();
    // The impostor: the primary's own key, with a certificate the standby must not accept.
    execFileSync("bash", ["-c", [
      "set -euo pipefail", `mkdir -p ${work}`, signer,
      `openssl req -new -key ${tls}/server.key -subj "/CN=impostor" -out ${work}/req.csr`,
      `printf 'subjectAltName=${san}\\nextendedKeyUsage=serverAuth\\n' > ${work}/ext`,
      `openssl x509 -req -in ${work}/req.csr -CA ${work}/ca.crt -CAkey ${work}/ca.key -set_serial 7 -days 2 -extfile ${work}/ext -out ${work}/server.crt 2>/dev/null`,
      `install -o postgres -g postgres -m 0644 ${work}/server.crt ${tls}/server.crt`,
      "pg_ctlcluster 15 itmain reload", "sleep 1", reconnect,
    ].join("\n")]);
    try {
      let refused = "";
      for (let i = 0; i < 40 && !refused; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const log = readFileSync(standbyLog, "utf8").slice(from);
        refused = /certificate verify failed|does not match host name/.exec(log)?.[0] ?? "";
      }
      expect(refused, "the standby's log should say why it refused the primary").not.toBe("");
      expect(execFileSync("runuser", ["-u", "postgres", "--", "psql", "-X", "-tA", "-h", "/var/run/postgresql", "-p", String(STANDBY_PORT), "-d", "postgres", "-c", "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'"], { cwd: "/", encoding: "utf8" }).trim()).toBe("0");
    } finally {
      writeFileSync(`${tls}/server.crt`, original);
      execFileSync("bash", ["-c", `pg_ctlcluster 15 itmain reload; sleep 1; ${reconnect}`]);
    }
    // The real certificate again: the standby streams, and a new write reaches it.
    await query("app", `INSERT INTO items (name) VALUES ('after ${kind}')`);
    let seen = 0;
    for (let i = 0; i < 60 && seen === 0; i++) {
      seen = (await query("ro", `SELECT count(*)::int AS n FROM items WHERE name = 'after ${kind}'`, "standby"))[0].n;
      if (seen === 0) await new Promise((r) => setTimeout(r, 500));
    }
    expect(seen).toBe(1);
    // The rows the later tests count are theirs: this one's goes.
    await query("app", `DELETE FROM items WHERE name = 'after ${kind}'`);
  });

  it("backup, then restore into a new database, gives identical row counts and checksums", async () => {
    const out = onPrimary(`${tools}/backup`);
    expect(out).toMatch(/backup ok: .*main-\d{8}T\d{6}Z\.tar\.gz/);
    const restored = onPrimary(`${tools}/restore app --into app_restored`);
    expect(restored).toContain("into new database app_restored");
    const sums = onPrimary(
      `cd /; for d in app app_restored; do runuser -u postgres -- psql -X -tA -h /var/run/postgresql -p ${PRIMARY_PORT} -d $d ` +
        `-c "SELECT count(*) || ':' || md5(string_agg(id || name, ',' ORDER BY id)) FROM items"; done`,
    );
    const [a, b] = sums.trim().split("\n");
    expect(a).toMatch(/^4:[0-9a-f]{32}$/);
    expect(b).toBe(a);
  });

  it("a second up reports zero changes", async () => {
    const result = await stack.up();
    expect(Object.keys(changes(result.summary))).toEqual(["same"]);
  });

  it("a reload-only change reloads; a restart-only change restarts, and the preview says so", async () => {
    const before = await startTime();
    await setConfig(stack, config({ parameters: { work_mem: "8MB" } }));
    let result = await stack.up();
    expect(result.outputs.postgres.value.main.configReport).toContain("reloaded");
    expect(await startTime()).toBe(before);
    expect((await query("app", "SHOW work_mem"))[0].work_mem).toBe("8MB");

    await setConfig(stack, config({ parameters: { work_mem: "8MB", shared_buffers: "160MB" } }));
    const events: PreviewEvent[] = [];
    await stack.preview({ onEvent: (e) => events.push(e as PreviewEvent) });
    const flags = summarizePreview("pg", events).flags.filter((f) => f.kind === "restart");
    expect(flags.map((f) => f.message).join("\n")).toContain("shared_buffers");
    result = await stack.up();
    expect(result.outputs.postgres.value.main.configReport).toContain("restarting 15/itmain: changed parameters need a restart: shared_buffers");
    expect(await startTime()).not.toBe(before);
  });

  it("narrowing a grant revokes it; removing a user drops the role", async () => {
    await setConfig(
      stack,
      config({ parameters: { work_mem: "8MB", shared_buffers: "160MB" }, users: { app: { grants: { app: "owner" } }, rw: { grants: { app: "readonly" } } } }),
    );
    await stack.up();
    await expect(query("rw", "INSERT INTO items (name) VALUES ('denied')")).rejects.toThrow(/permission denied/);
    const roles = onPrimary(`cd /; runuser -u postgres -- psql -X -tA -h /var/run/postgresql -p ${PRIMARY_PORT} -d postgres -c "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('app','rw','ro')"`);
    expect(roles.trim()).toBe("app,rw");
  });

  it("promote makes the standby writable", async () => {
    const out = execFileSync("ssh", [...hosts.sshArgs(), `root@${standby}`, `${tools}-replica1/promote`], { encoding: "utf8" });
    expect(out).toContain("now accepts writes");
    await query("app", "INSERT INTO items (name) VALUES ('after failover')", "standby");
    expect((await query("app", "SELECT count(*)::int AS n FROM items WHERE name = 'after failover'", "standby"))[0].n).toBe(1);
  });

  it("destroy keeps the data directories and the backups by default", async () => {
    const result = await stack.destroy();
    expect(result.stdout).toContain("kept its data");
    expect(existsSync("/var/lib/postgresql/15/itmain/PG_VERSION")).toBe(true);
    expect(existsSync("/var/lib/postgresql/15/itstandby/PG_VERSION")).toBe(true);
    expect(execFileSync("bash", ["-c", `ls ${backups}`], { encoding: "utf8" })).toMatch(/main-\d{8}T\d{6}Z\.tar\.gz/);
  });
});

describe("PostgreSQL whose port is reachable only through SSH to its host", () => {
  let privateStack: Stack;

  afterAll(async () => {
    await privateStack?.destroy();
  });

  it("refuses SSH keys set as plaintext config, before touching anything", async () => {
    const p = hosts.host("pgprimary");
    const plain = await box.stack("pgplain", {});
    await plain.setAllConfig({
      "dbstack:hosts": { value: JSON.stringify({ db: { address: p.address, privateKey: p.privateKey } }), secret: false },
    });
    await expect(plain.preview()).rejects.toThrow(/dbstack:hosts: holds secrets \(dbstack:hosts\.db\.privateKey\) in plaintext, so it must be a secret/);
    await plain.workspace.removeStack("pgplain");
  });

  it("deploys users, grants, migrations and health checks over SSH alone", async () => {
    const p = hosts.host("pgprimary");
    privateStack = await box.stack("pgprivate", {
      allowDataRemoval: true,
      hosts: { db: { address: p.address, user: "deploy", sudo: true, privateKey: p.privateKey, hostKey: p.hostKey } },
      postgres: {
        private: {
          host: "db",
          port: 5473,
          instanceName: "itprivate",
          hostFacts: { memoryMb: 512, cpus: 1 },
          maxConnections: 20,
          listenAddresses: ["localhost"],
          databases: { app: { owner: "app", migrations: { dir: migrations }, healthChecks: [{ name: "items", sql: "SELECT count(*) FROM items", expect: "0" }] } },
          users: { app: { grants: { app: "owner" } }, ro: { grants: { app: "readonly" } } },
          toolsDir: join(box.dir, "tools-private"),
        },
      },
    });
    const result = await privateStack.up();
    const report = result.outputs.postgres.value.private.hookReports.app;
    expect(report).toContain("applied migration 0001_items");
    expect(report).toContain("items: 0");
    await expect(
      new Client({ host: p.address, port: 5473, user: "app", database: "app", password: "x", connectionTimeoutMillis: 3000 }).connect(),
    ).rejects.toThrow(/ECONNREFUSED|timeout/);
    const privileges = onPrimary(
      `cd /; runuser -u postgres -- psql -X -tA -h /var/run/postgresql -p 5473 -d app -c "SELECT has_table_privilege('ro', 'items', 'SELECT') || ',' || has_table_privilege('ro', 'items', 'INSERT')"`,
    );
    expect(privileges.trim()).toBe("true,false");
  });
});
