/**
 * Smoke test of the container-engine harness (support/containers.ts): Podman's Docker API with
 * the plain `docker` CLI, the locally built PostgreSQL and MariaDB images, containers on the
 * default bridge with ports published on 127.0.0.1, `docker exec` and `docker inspect`.
 * Everything the Docker-target tests will rely on, checked before they exist.
 *
 * Ports: 5661 (PostgreSQL), 3361 (MariaDB).
 */
import { randomBytes } from "crypto";
import { connect } from "net";
import { networkInterfaces } from "os";
import { createConnection } from "mysql2/promise";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, ensureImages, startContainerEngine, type ContainerEngine, type TestImages, CONTAINER_BEFORE_ALL_MS } from "./support/containers";

const PG = { name: "dbstack-harness-pg", port: 5661 };
const MARIADB = { name: "dbstack-harness-mariadb", port: 3361 };

let engine: ContainerEngine;
let images: TestImages;

/** `docker ...` that must succeed; returns stdout. */
async function must(args: string[], input?: string): Promise<string> {
  const r = await docker(engine.dockerHost, args, { input });
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Retries `docker exec <name> <cmd>` until it succeeds; fails with the container's log. */
async function waitFor(name: string, cmd: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await docker(engine.dockerHost, ["exec", name, ...cmd]);
    if (r.code === 0) return;
    if (Date.now() > deadline) {
      const logs = await docker(engine.dockerHost, ["logs", "--tail", "30", name]);
      throw new Error(`${name}: \`${cmd.join(" ")}\` did not succeed within ${timeoutMs / 1000} s: ${r.stderr}\ncontainer log:\n${logs.stdout}${logs.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function removeContainers(): Promise<void> {
  for (const c of [PG, MARIADB]) await docker(engine.dockerHost, ["rm", "-f", "--volumes", c.name]);
}

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    socket.on("connect", () => (socket.destroy(), resolve(true)));
    socket.on("timeout", () => (socket.destroy(), resolve(false)));
    socket.on("error", () => resolve(false));
  });
}

/** The container's addresses on its networks, from `docker inspect`. */
function addresses(inspect: any): string[] {
  const nets = Object.values(inspect.NetworkSettings?.Networks ?? {}) as Array<{ IPAddress?: string }>;
  return [inspect.NetworkSettings?.IPAddress, ...nets.map((n) => n.IPAddress)].filter((a): a is string => Boolean(a));
}

beforeAll(async () => {
  engine = await startContainerEngine();
  await removeContainers(); // a crashed earlier run's containers still hold the ports
  const t0 = Date.now();
  images = await ensureImages();
  console.log(`containers-harness: ensureImages() took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}, 45 * 60_000);

afterAll(async () => {
  if (!engine) return;
  await removeContainers();
  await engine.stop();
}, 120_000);

describe("container-engine harness", () => {
  it("runs PostgreSQL from the local image on the bridge, published on 127.0.0.1 only", async () => {
    const password = randomBytes(18).toString("base64url");
    // The server command holds no secret: the password reaches the server later, on stdin.
    const start = [
      "set -e",
      "install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data",
      "install -d -o postgres -g postgres /run/postgresql",
      "runuser -u postgres -- initdb -D /var/lib/postgresql/data --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null",
      "echo 'host all all 0.0.0.0/0 scram-sha-256' >> /var/lib/postgresql/data/pg_hba.conf",
      `exec runuser -u postgres -- postgres -D /var/lib/postgresql/data -c listen_addresses='*' -c port=${PG.port}`,
    ].join("\n");
    await must(["run", "-d", "--name", PG.name, "-p", `127.0.0.1:${PG.port}:${PG.port}`, images.postgres, "bash", "-c", start]);
    await waitFor(PG.name, ["pg_isready", "-q", "-h", "/run/postgresql", "-p", String(PG.port)]);
    await must(
      ["exec", "-i", PG.name, "runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "/run/postgresql", "-p", String(PG.port)],
      `CREATE ROLE harness LOGIN PASSWORD '${password}';\n`,
    );

    const client = new Client({ host: "127.0.0.1", port: PG.port, user: "harness", password, database: "postgres" });
    await client.connect();
    let row: Record<string, string>;
    try {
      row = (await client.query("SELECT current_user AS who, current_setting('port') AS port, host(inet_server_addr()) AS addr, version() AS version")).rows[0];
    } finally {
      await client.end();
    }
    expect(row.who).toBe("harness");
    expect(row.port).toBe(String(PG.port));
    expect(row.version).toMatch(/^PostgreSQL 15\./);

    const [inspect] = JSON.parse(await must(["inspect", PG.name]));
    expect(inspect.State.Running).toBe(true);
    // The server saw the connection on the container's own bridge address: it runs in the container.
    expect(addresses(inspect)).toContain(row.addr);
    expect(row.addr).not.toBe("127.0.0.1");
    expect(inspect.HostConfig.PortBindings[`${PG.port}/tcp`]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(PG.port) }]);
    expect(JSON.stringify(inspect)).not.toContain(password);

    // Published on 127.0.0.1 only: the same port on another address of this machine is closed.
    const other = Object.values(networkInterfaces()).flat().find((a) => a && a.family === "IPv4" && !a.internal)!;
    expect(other, "this machine has no non-loopback IPv4 address to probe").toBeDefined();
    expect(await accepts("127.0.0.1", PG.port)).toBe(true);
    expect(await accepts(other.address, PG.port)).toBe(false);

    // The harness's containers.conf is in force: the lowered default ulimits.
    expect((await must(["exec", PG.name, "bash", "-c", "ulimit -n; ulimit -u"])).trim().split("\n")).toEqual(["1024", "4096"]);
  });

  it("runs MariaDB from the local image on the bridge and accepts a user created through docker exec", async () => {
    const password = randomBytes(18).toString("base64url");
    const start = [
      "set -e",
      "install -d -o mysql -g mysql /run/mysqld",
      "mariadb-install-db --user=mysql --datadir=/var/lib/mysql --auth-root-authentication-method=socket --skip-test-db >/dev/null",
      `exec mariadbd --user=mysql --datadir=/var/lib/mysql --port=${MARIADB.port} --bind-address=0.0.0.0 --socket=/run/mysqld/mysqld.sock`,
    ].join("\n");
    await must(["run", "-d", "--name", MARIADB.name, "-p", `127.0.0.1:${MARIADB.port}:${MARIADB.port}`, images.mariadb, "bash", "-c", start]);
    await waitFor(MARIADB.name, ["mariadb-admin", "--socket=/run/mysqld/mysqld.sock", "ping"]);
    await must(
      ["exec", "-i", MARIADB.name, "mariadb", "--socket=/run/mysqld/mysqld.sock"],
      `CREATE USER 'harness'@'%' IDENTIFIED BY '${password}';\nGRANT ALL ON *.* TO 'harness'@'%';\n`,
    );

    const conn = await createConnection({ host: "127.0.0.1", port: MARIADB.port, user: "harness", password });
    let row: Record<string, unknown>;
    try {
      [[row]] = (await conn.query("SELECT CURRENT_USER() AS who, @@port AS port, VERSION() AS version")) as unknown as [Array<Record<string, unknown>>];
    } finally {
      await conn.end();
    }
    expect(row.who).toBe("harness@%");
    expect(Number(row.port)).toBe(MARIADB.port);
    expect(String(row.version)).toMatch(/MariaDB/);

    const [inspect] = JSON.parse(await must(["inspect", MARIADB.name]));
    expect(inspect.State.Running).toBe(true);
    expect(inspect.HostConfig.PortBindings[`${MARIADB.port}/tcp`]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(MARIADB.port) }]);
    expect(JSON.stringify(inspect)).not.toContain(password);
  });

  it("removes the containers and frees their ports", async () => {
    await removeContainers();
    const left = await must(["ps", "-a", "--format", "{{.Names}}"]);
    expect(left.split("\n")).not.toContain(PG.name);
    expect(left.split("\n")).not.toContain(MARIADB.name);
    expect(await accepts("127.0.0.1", PG.port)).toBe(false);
    expect(await accepts("127.0.0.1", MARIADB.port)).toBe(false);
  });

  it("stops the API service and starts it again with the images still there", async () => {
    await engine.stop();
    expect((await docker(engine.dockerHost, ["version"], { timeoutMs: 10_000 })).code).not.toBe(0);
    engine = await startContainerEngine();
    const t0 = Date.now();
    expect(await ensureImages()).toEqual(images);
    expect(Date.now() - t0).toBeLessThan(30_000);
    await must(["image", "inspect", images.postgres, images.mariadb]);
    // Between stop and start another test file may take the engine: this one then waits its turn.
  }, CONTAINER_BEFORE_ALL_MS);
});
