import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync, spawn, spawnSync } from "child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "fs";
import { join } from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changes, ROOT, sandbox, setConfig, stranger } from "./harness";
import { createTestHosts, type TestHosts } from "./support/hosts";

// Issue 17, rows 7 and 9: declared state converges and nothing inherits the CLI's pipes, for a
// local PostgreSQL cluster and a local MariaDB instance on this machine.
// Owns: ports 5579 (PostgreSQL) and 3379 (MariaDB), and 5580 / 3380 (held by a stranger process
// in the port cases); cluster itconvpg, instance itconvmdb; stack itconv-<pid>. Over SSH: test host
// cvprim (reached as the sudo user deploy), ports 5581 and 3381 (5580 / 3380 held by a stranger in
// its namespace), cluster itconvsshp, instance itconvsshm, stack itconvssh-<pid>.
const box = sandbox("converge");
const stackName = `itconv-${process.pid}`;
const PG = { port: 5579, taken: 5580, cluster: "itconvpg" };
const MDB = { port: 3379, taken: 3380, instance: "itconvmdb" };
const CNF = `/etc/mysql/dbstack/${MDB.instance}/my.cnf`;
const PG_CONF = `/etc/postgresql/15/${PG.cluster}/postgresql.conf`;
let stack: Stack;

function config(over: { pgPort?: number; mdbPort?: number } = {}) {
  return {
    allowDataRemoval: true,
    postgres: {
      conv: {
        host: "local",
        port: over.pgPort ?? PG.port,
        instanceName: PG.cluster,
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
        toolsDir: join(box.dir, "pg-tools"),
      },
    },
    mariadb: {
      conv: {
        host: "local",
        port: over.mdbPort ?? MDB.port,
        instanceName: MDB.instance,
        hostFacts: { memoryMb: 512, cpus: 1 },
        maxConnections: 20,
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
        toolsDir: join(box.dir, "mdb-tools"),
      },
    },
  };
}

/** What the server answers over TCP on `port`, as a client would see it (a real connection). */
function pgAnswers(port: number): boolean {
  return pgAnswersAt("127.0.0.1", port);
}
function pgAnswersAt(host: string, port: number): boolean {
  try {
    execFileSync("pg_isready", ["-q", "-h", host, "-p", String(port)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
function mdbAnswers(port: number): boolean {
  return mdbAnswersAt("127.0.0.1", port);
}
function mdbAnswersAt(host: string, port: number): boolean {
  // A TCP ping: the server answers (root may not log in over TCP from here: error 1130 is the
  // server's answer too); "Can't connect" is no answer.
  const r = spawnSync("mariadb-admin", ["--no-defaults", "--protocol=tcp", "-h", host, "-P", String(port), "--connect-timeout=3", "ping"], { encoding: "utf8" });
  return r.status === 0 || /\b1130\b|Access denied/.test(r.stderr + r.stdout);
}

function pgPid(): number {
  return Number(readFileSync(`/var/lib/postgresql/15/${PG.cluster}/postmaster.pid`, "utf8").split("\n")[0]);
}
function mdbPid(): number {
  return Number(readFileSync(`/run/mysqld/dbstack-${MDB.instance}.pid`, "utf8").trim());
}

const ENGINES = [
  {
    name: "PostgreSQL",
    answers: pgAnswers,
    port: PG.port,
    taken: PG.taken,
    pid: pgPid,
    configFile: PG_CONF,
    tlsDir: `/etc/postgresql/15/${PG.cluster}/dbstack-tls`,
    caDir: `/etc/postgresql/15/${PG.cluster}/dbstack-ca`,
    /** The serial of the certificate the server presents to a TLS client (STARTTLS). */
    served: () => servedSerial(PG.port, "postgres"),
    expected: (crt: string) => execFileSync("openssl", ["x509", "-in", crt, "-noout", "-serial"], { encoding: "utf8" }).trim(),
    withPort: (port: number) => config({ pgPort: port }),
    stop: () => execFileSync("pg_ctlcluster", ["15", PG.cluster, "stop"], { stdio: "ignore" }),
  },
  {
    name: "MariaDB",
    answers: mdbAnswers,
    port: MDB.port,
    taken: MDB.taken,
    pid: mdbPid,
    configFile: CNF,
    tlsDir: `/etc/mysql/dbstack/${MDB.instance}/tls`,
    caDir: `/etc/mysql/dbstack/${MDB.instance}/ca`,
    // The server refuses 127.0.0.1 before any TLS (no account from there): it says what it loaded.
    served: () => execFileSync("mariadb", ["--no-defaults", "--protocol=socket", `--socket=/run/mysqld/dbstack-${MDB.instance}.sock`, "-uroot", "--batch", "--skip-column-names", "-e", "SHOW GLOBAL STATUS LIKE 'Ssl_server_not_after'"], { encoding: "utf8" }).trim().split("\t")[1],
    expected: (crt: string) => execFileSync("openssl", ["x509", "-in", crt, "-noout", "-enddate"], { encoding: "utf8" }).trim().split("=")[1],
    withPort: (port: number) => config({ mdbPort: port }),
    // A clean shutdown: its supervisor (mariadbd-safe) sees a normal exit and does not restart it.
    stop: () =>
      execFileSync("mariadb-admin", ["--no-defaults", "--protocol=socket", `--socket=/run/mysqld/dbstack-${MDB.instance}.sock`, "-uroot", "shutdown"], { stdio: "ignore" }),
  },
];


async function upFails(): Promise<string> {
  const err = await stack.up().then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err, "up should have failed").toBeDefined();
  return err!.message;
}

/** The processes (other than this test) that hold a descriptor on one of the pipes named `pipe:[…]`. */
function holdersOf(pipes: string[]): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link = "";
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (pipes.includes(link)) {
        let cmd = "";
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").slice(0, 100);
        } catch {
          /* gone */
        }
        out.push(`pid ${pid} fd ${fd} (${cmd.trim()})`);
      }
    }
  }
  return out;
}

beforeAll(async () => {
  stack = await box.stack(stackName, config());
  const up = await stack.up();
  expect(up.summary.result).toBe("succeeded");
}, 600_000);

afterAll(async () => {
  if (stack) {
    await setConfig(stack, config());
    await stack.destroy().catch(() => undefined);
    await stack.workspace.removeStack(stackName).catch(() => undefined);
  }
}, 600_000);

describe("a port another process holds (row 7)", () => {
  it.each(ENGINES)("$name: refused before the server is stopped, naming `port` and the holder; the server and its configuration stay as they were", async (e) => {
    const before = readFileSync(e.configFile, "utf8");
    const pid = e.pid();
    const holder = await stranger(e.taken);
    try {
      await setConfig(stack, e.withPort(e.taken));
      const message = await upFails();
      expect(message).toContain(`port: ${e.taken} is already in use by another process: pid ${holder.pid} (socat TCP-LISTEN:${e.taken}`);
      expect(message).toMatch(/left as they were/);
      // No outage: the same server process still answers on its port; its configuration is unchanged.
      expect(e.answers(e.port)).toBe(true);
      expect(e.pid()).toBe(pid);
      expect(readFileSync(e.configFile, "utf8")).toBe(before);
      expect(existsSync(`${e.configFile}.dbstack-pending`)).toBe(false);
    } finally {
      holder.kill("SIGKILL");
      await setConfig(stack, config());
    }
    // Back to the declared port: the server was never down, and is still serving.
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(e.answers(e.port)).toBe(true);
  });
});

describe("a server stopped from outside (row 7's second half)", () => {
  it.each(ENGINES)("$name: the preview shows its configure step as changed, and up starts it again", async (e) => {
    e.stop();
    expect(e.answers(e.port)).toBe(false);
    const preview = await stack.preview();
    expect(changes({ resourceChanges: preview.changeSummary }).update ?? 0).toBeGreaterThanOrEqual(1);
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(changes(up.summary).update ?? 0).toBeGreaterThanOrEqual(1);
    expect(e.answers(e.port)).toBe(true);
    // A second up with the server running changes nothing.
    const again = await stack.up();
    expect(changes(again.summary)).toEqual({ same: expect.any(Number) });
  });
});

/** The serial of the certificate the server presents to a TLS client on `port` (openssl s_client). */
function servedSerial(port: number, starttls: string): string {
  const out = execFileSync("bash", ["-c", `openssl s_client -connect 127.0.0.1:${port} -starttls ${starttls} </dev/null 2>/dev/null | openssl x509 -noout -serial`], { encoding: "utf8" });
  return out.trim();
}

function certificateDays(file: string): number {
  const dates = execFileSync("openssl", ["x509", "-in", file, "-noout", "-startdate", "-enddate"], { encoding: "utf8" }).trim().split("\n");
  const [start, end] = dates.map((l) => Date.parse(l.split("=")[1]));
  return Math.round((end - start) / 86_400_000);
}

describe("certificate renewal (issue 17, deliverable 8)", () => {
  it.each(ENGINES)("$name: a host certificate close to its end shows in the preview, and up issues a new one and reloads it without a restart", async (e) => {
    const crt = `${e.tlsDir}/server.crt`;
    expect(certificateDays(crt)).toBe(365);
    // What a year of running leaves: the host's certificate, signed by the deployment's CA, ending in two days.
    execFileSync("bash", ["-c", [
      "set -euo pipefail", `cd ${e.tlsDir}`, "work=$(mktemp -d)",
      'openssl req -new -key server.key -subj "/CN=$(openssl x509 -in server.crt -noout -subject | sed -n \'s/.*CN *= *//p\')" -out $work/req.csr',
      'printf \'subjectAltName=%s\\nextendedKeyUsage=serverAuth\\n\' "$(cat server.names)" > $work/ext',
      `openssl x509 -req -in $work/req.csr -CA ${e.caDir}/ca.crt -CAkey ${e.caDir}/ca.key -set_serial 0x0ddba11 -days 2 -extfile $work/ext -out $work/short.crt 2>/dev/null`,
      "cat $work/short.crt > server.crt", "rm -rf $work",
    ].join("\n")]);
    expect(certificateDays(crt)).toBe(2);
    const pid = e.pid();
    const preview = await stack.preview();
    expect(changes({ resourceChanges: preview.changeSummary }).update ?? 0, preview.stdout).toBeGreaterThanOrEqual(1);
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    // A new certificate for the declared year, which the CA verifies, served without a restart.
    expect(certificateDays(crt)).toBe(365);
    expect(execFileSync("openssl", ["x509", "-in", crt, "-noout", "-serial"], { encoding: "utf8" }).trim()).not.toBe("serial=0DDBA11");
    execFileSync("openssl", ["verify", "-CAfile", `${e.caDir}/ca.crt`, crt], { stdio: "ignore" });
    expect(e.pid()).toBe(pid);
    expect(e.served()).toBe(e.expected(crt));
    // Renewed: the next up has nothing to do.
    const again = await stack.up();
    expect(changes(again.summary)).toEqual({ same: expect.any(Number) });
  });
});

describe("npm run pulumi -- up | tee log (row 9)", () => {
  it("returns as soon as the up ends, and no server holds the caller's pipes (nor a stray descriptor it left open)", async () => {
    // Both servers down, so this up starts them: the servers are the processes that would inherit the pipes.
    for (const e of ENGINES) if (e.answers(e.port)) e.stop();
    const log = join(box.dir, "pipeline.log");
    const pipes = join(box.dir, "pipes");
    // fd 3: a stray descriptor the caller left open (as CI runners do).
    const command = [
      `readlink /proc/$$/fd/1 > ${pipes}; readlink /proc/$$/fd/3 >> ${pipes}`,
      `bash scripts/pulumi.sh up --yes --skip-preview --stack ${stackName} --cwd ${box.projectDir} 2>&1 | tee ${log}`,
    ].join("\n");
    const child = spawn("bash", ["-c", command], {
      cwd: ROOT,
      env: { ...process.env, PULUMI_BACKEND_URL: box.backend },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    let endedAt = 0;
    child.stdout!.on("data", (d: Buffer) => {
      output += d.toString();
      if (!endedAt && /Duration: /.test(output)) endedAt = Date.now();
    });
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const closed = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 300_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    const held = holdersOf(readFileSync(pipes, "utf8").trim().split("\n"));
    if (closed === null) process.kill(-child.pid!, "SIGKILL");
    expect(endedAt, output).toBeGreaterThan(0);
    expect(held, "processes holding the caller's pipes").toEqual([]);
    expect(closed, output).toBe(0);
    expect(Date.now() - endedAt).toBeLessThan(15_000);
    expect(readFileSync(log, "utf8")).toMatch(/Duration: /);
    // The up started both servers, and nothing of pulumi.sh (bash, tee, grep) is left behind.
    for (const e of ENGINES) expect(e.answers(e.port), e.name).toBe(true);
    const leftovers = execFileSync("bash", ["-c", `pgrep -af '[s]cripts/pulumi.sh up --yes --skip-preview --stack ${stackName}' || true`], { encoding: "utf8" }).trim();
    expect(leftovers).toBe("");
  }, 400_000);
});

describe("over SSH (test host cvprim, reached as a sudo user)", () => {
  const SSH = { pgPort: 5581, mdbPort: 3381, cluster: "itconvsshp", instance: "itconvsshm" };
  let hosts: TestHosts;
  let sshStack: Stack;
  let address: string;

  function sshConfig(over: { pgPort?: number; mdbPort?: number } = {}) {
    const h = hosts.host("cvprim");
    const common = { host: "prim", hostFacts: { memoryMb: 512, cpus: 1 }, maxConnections: 20, listenAddresses: ["127.0.0.1", h.address], databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } } };
    return {
      allowDataRemoval: true,
      hosts: { prim: { address: h.address, user: "deploy", sudo: true, privateKey: h.privateKey, hostKey: h.hostKey } },
      postgres: { conv: { ...common, port: over.pgPort ?? SSH.pgPort, instanceName: SSH.cluster, toolsDir: join(box.dir, "ssh-pg-tools") } },
      mariadb: { conv: { ...common, port: over.mdbPort ?? SSH.mdbPort, instanceName: SSH.instance, toolsDir: join(box.dir, "ssh-mdb-tools") } },
    };
  }

  const SSH_ENGINES = [
    {
      name: "PostgreSQL",
      port: SSH.pgPort,
      taken: PG.taken,
      answers: () => pgAnswersAt(address, SSH.pgPort),
      configFile: `/etc/postgresql/15/${SSH.cluster}/postgresql.conf`,
      pid: () => Number(readFileSync(`/var/lib/postgresql/15/${SSH.cluster}/postmaster.pid`, "utf8").split("\n")[0]),
      withPort: (port: number) => sshConfig({ pgPort: port }),
      stop: () => execFileSync("pg_ctlcluster", ["15", SSH.cluster, "stop"], { stdio: "ignore" }),
    },
    {
      name: "MariaDB",
      port: SSH.mdbPort,
      taken: MDB.taken,
      answers: () => mdbAnswersAt(address, SSH.mdbPort),
      configFile: `/etc/mysql/dbstack/${SSH.instance}/my.cnf`,
      pid: () => Number(readFileSync(`/run/mysqld/dbstack-${SSH.instance}.pid`, "utf8").trim()),
      withPort: (port: number) => sshConfig({ mdbPort: port }),
      stop: () => execFileSync("mariadb-admin", ["--no-defaults", "--protocol=socket", `--socket=/run/mysqld/dbstack-${SSH.instance}.sock`, "-uroot", "shutdown"], { stdio: "ignore" }),
    },
  ];

  beforeAll(async () => {
    hosts = await createTestHosts(["cvprim"], { sudoUser: "deploy" });
    address = hosts.host("cvprim").address;
    sshStack = await box.stack(`itconvssh-${process.pid}`, sshConfig());
    const up = await sshStack.up();
    expect(up.summary.result).toBe("succeeded");
  }, 600_000);

  afterAll(async () => {
    try {
      if (sshStack) {
        await setConfig(sshStack, sshConfig());
        await sshStack.destroy().catch(() => undefined);
      }
    } finally {
      await hosts?.destroy();
    }
  }, 600_000);

  it.each(SSH_ENGINES)("$name: a port another process holds on the host is refused naming `port` and the holder; no outage", async (e) => {
    const before = readFileSync(e.configFile, "utf8");
    const pid = e.pid();
    // The stranger listens in the host's own network namespace.
    const holder = spawn("ip", ["netns", "exec", hosts.host("cvprim").namespace, "socat", `TCP-LISTEN:${e.taken},reuseaddr,fork`, "EXEC:/bin/true"], { stdio: "ignore" });
    try {
      for (let i = 0; i < 50 && !(await hosts.run("cvprim", `ss -Htln "sport = :${e.taken}" | grep -q .`).then((r) => r.code === 0)); i++) await new Promise((r) => setTimeout(r, 100));
      await setConfig(sshStack, e.withPort(e.taken));
      const err = await sshStack.up().then(() => undefined, (x: Error) => x);
      expect(err, "up should have failed").toBeDefined();
      expect(err!.message).toMatch(new RegExp(`port: ${e.taken} is already in use by another process: pid \\d+ \\(socat TCP-LISTEN:${e.taken}`));
      expect(e.answers()).toBe(true);
      expect(e.pid()).toBe(pid);
      expect(readFileSync(e.configFile, "utf8")).toBe(before);
    } finally {
      holder.kill("SIGKILL");
      await setConfig(sshStack, sshConfig());
    }
    expect((await sshStack.up()).summary.result).toBe("succeeded");
    expect(e.answers()).toBe(true);
  });

  it.each(SSH_ENGINES)("$name: stopped from outside, the next up starts it again", async (e) => {
    e.stop();
    expect(e.answers()).toBe(false);
    const up = await sshStack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(changes(up.summary).update ?? 0).toBeGreaterThanOrEqual(1);
    expect(e.answers()).toBe(true);
  });
});
