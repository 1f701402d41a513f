import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import { readFileSync, rmSync, writeFileSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandbox } from "./harness";
import { createTestHosts, type TestHosts } from "./support/hosts";

// Issue 17, deliverable 8, MariaDB: a replica verifies its primary (MASTER_SSL=1, MASTER_SSL_CA =
// the deployment's CA, MASTER_SSL_VERIFY_SERVER_CERT=1), so it refuses a primary whose
// certificate the deployment's CA did not sign, or that names another host.
// Owns: test hosts cvmdbp (primary, reached as the sudo user deploy) and cvmdbr (replica, as
// root), MariaDB ports 3380 (primary) and 3381 (replica) in their namespaces, instances itconvrp
// and itconvrr, stack itconvrep.
const box = sandbox("convrep");
const PRIMARY_PORT = 3380;
const REPLICA_PORT = 3381;
const INSTANCES = ["itconvrp", "itconvrr"];
let hosts: TestHosts;
let stack: Stack;
let primary: string;

function config() {
  const p = hosts.host("cvmdbp");
  const r = hosts.host("cvmdbr");
  return {
    allowDataRemoval: true,
    hosts: {
      primary: { address: p.address, user: "deploy", sudo: true, privateKey: p.privateKey, hostKey: p.hostKey },
      replica: { address: r.address, privateKey: r.privateKey, hostKey: r.hostKey },
    },
    mariadb: {
      rep: {
        host: "primary",
        port: PRIMARY_PORT,
        instanceName: INSTANCES[0],
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        listenAddresses: ["127.0.0.1", p.address],
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" }, hosts: ["localhost"] } },
        standbys: { r1: { host: "replica", address: r.address, instanceName: INSTANCES[1], port: REPLICA_PORT } },
        toolsDir: join(box.dir, "tools"),
      },
    },
  };
}

/** SQL as root over an instance's socket (this machine's file system is the test hosts'). */
function root(instance: string, sql: string): string {
  return execFileSync("mariadb", ["--no-defaults", "--protocol=socket", `--socket=/run/mysqld/dbstack-${instance}.sock`, "-uroot", "--batch", "--skip-column-names", "-e", sql], { encoding: "utf8" }).trim();
}

function replicaStatus(): Record<string, string> {
  const out = execFileSync("mariadb", ["--no-defaults", "--protocol=socket", `--socket=/run/mysqld/dbstack-${INSTANCES[1]}.sock`, "-uroot", "-e", "SHOW SLAVE STATUS\\G"], { encoding: "utf8" });
  return Object.fromEntries(
    out
      .split("\n")
      .map((l) => /^\s*(\w+):\s?(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
}

async function until(what: string, check: () => boolean, seconds = 40): Promise<void> {
  for (let i = 0; i < seconds * 2; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(replicaStatus())}`);
}

function dropInstances(): void {
  for (const i of INSTANCES) {
    // A clean shutdown stops the server and its supervisor (mariadbd-safe); then its files go.
    execFileSync("bash", ["-c", `mariadb-admin --no-defaults --protocol=socket --socket=/run/mysqld/dbstack-${i}.sock -uroot shutdown 2>/dev/null || true; sleep 2; rm -rf /etc/mysql/dbstack/${i} /var/lib/dbstack-mariadb/${i}`]);
  }
}

beforeAll(async () => {
  dropInstances();
  hosts = await createTestHosts(["cvmdbp", "cvmdbr"], { sudoUser: "deploy" });
  primary = hosts.host("cvmdbp").address;
  stack = await box.stack("itconvrep", config());
  const up = await stack.up();
  expect(up.summary.result).toBe("succeeded");
}, 600_000);

afterAll(async () => {
  try {
    await stack?.destroy().catch(() => undefined);
  } finally {
    dropInstances();
    await hosts?.destroy();
    rmSync(box.dir, { recursive: true, force: true });
  }
}, 600_000);

describe("a MariaDB replica verifies its primary", () => {
  it("replicates over TLS with the deployment's CA and server-certificate verification", () => {
    const s = replicaStatus();
    expect(s.Slave_IO_Running).toBe("Yes");
    expect(s.Master_SSL_Allowed).toBe("Yes");
    expect(s.Master_SSL_CA_File).toBe(`/etc/mysql/dbstack/${INSTANCES[1]}/tls/ca.crt`);
    expect(s.Master_SSL_Verify_Server_Cert).toBe("Yes");
  });

  it.each([
    ["signed by a CA that is not the deployment's", "rogue"],
    ["signed by the deployment's CA for another name", "wrong-name"],
  ])("refuses a primary whose certificate is %s, and replicates again with the real one", async (_case, kind) => {
    const tls = `/etc/mysql/dbstack/${INSTANCES[0]}/tls`;
    const ca = `/etc/mysql/dbstack/${INSTANCES[0]}/ca`;
    const original = readFileSync(`${tls}/server.crt`, "utf8");
    const work = join(box.dir, `impostor-${kind}`);
    const signer =
      kind === "rogue"
        ? `openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2 -subj "/CN=rogue CA" -addext "basicConstraints=critical,CA:TRUE" -keyout ${work}/ca.key -out ${work}/ca.crt 2>/dev/null`
        : `cp ${ca}/ca.key ${ca}/ca.crt ${work}/`;
    const san = kind === "rogue" ? `IP:${primary}` : "DNS:wrong.example";
    execFileSync("bash", ["-c", [
      "set -euo pipefail", `mkdir -p ${work}`, signer,
      `openssl req -new -key ${tls}/server.key -subj "/CN=impostor" -out ${work}/req.csr`,
      `printf 'subjectAltName=${san}\\nextendedKeyUsage=serverAuth\\n' > ${work}/ext`,
      `openssl x509 -req -in ${work}/req.csr -CA ${work}/ca.crt -CAkey ${work}/ca.key -set_serial 9 -days 2 -extfile ${work}/ext -out ${work}/server.crt 2>/dev/null`,
      `cat ${work}/server.crt > ${tls}/server.crt`,
    ].join("\n")]);
    try {
      root(INSTANCES[0], "FLUSH SSL");
      root(INSTANCES[1], "STOP SLAVE IO_THREAD; START SLAVE IO_THREAD");
      await until("the replica to refuse the primary", () => {
        const s = replicaStatus();
        return s.Slave_IO_Running !== "Yes" && /SSL|certificate|TLS/i.test(s.Last_IO_Error ?? "");
      });
      // Nothing written on the primary meanwhile reaches the replica.
      root(INSTANCES[0], `CREATE DATABASE IF NOT EXISTS probe_${kind.replace("-", "_")}`);
      await new Promise((r) => setTimeout(r, 2000));
      expect(root(INSTANCES[1], `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'probe_${kind.replace("-", "_")}'`)).toBe("0");
    } finally {
      writeFileSync(`${tls}/server.crt`, original);
      root(INSTANCES[0], "FLUSH SSL");
    }
    root(INSTANCES[1], "STOP SLAVE IO_THREAD; START SLAVE IO_THREAD");
    await until("the replica to replicate again", () => replicaStatus().Slave_IO_Running === "Yes");
    await until("the write to arrive", () => root(INSTANCES[1], `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'probe_${kind.replace("-", "_")}'`) === "1");
    root(INSTANCES[0], `DROP DATABASE probe_${kind.replace("-", "_")}`);
  });
});
