import { spawn, spawnSync, type ChildProcess } from "child_process";
import { afterEach, describe, expect, it } from "vitest";
import { renderConfigureInstance, renderServingProbe as mariadbProbe } from "../../components/engines/mariadb/instanceScripts";
import { renderConfigureCluster, renderServingProbe as postgresProbe } from "../../components/engines/postgres/clusterScripts";
import { renderCloseInheritedFds, renderPortFunctions } from "../../components/targets/processes";

// The shell functions of components/targets/processes.ts run for real in bash, against real
// listening sockets (ports the kernel picks: nothing here uses a fixed port).

const listeners: ChildProcess[] = [];
afterEach(() => {
  for (const l of listeners.splice(0)) l.kill("SIGKILL");
});

/** A python3 process listening on a kernel-chosen TCP port of `address`; resolves to its pid and port. */
function listen(address: string): Promise<{ pid: number; port: number }> {
  const family = address.includes(":") ? "socket.AF_INET6" : "socket.AF_INET";
  const code = `import socket, time\ns = socket.socket(${family})\ns.bind((${JSON.stringify(address)}, 0))\ns.listen()\nprint(s.getsockname()[1], flush=True)\ntime.sleep(120)`;
  const child = spawn("python3", ["-c", code], { stdio: ["ignore", "pipe", "inherit"] });
  listeners.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once("data", (d: Buffer) => resolve({ pid: child.pid!, port: Number(d.toString().trim()) }));
    child.once("error", reject);
  });
}

function bash(script: string) {
  const r = spawnSync("bash", ["-c", `set -Eeuo pipefail\n${renderPortFunctions()}\n${script}`], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

describe("port_holders / refuse_taken_port", () => {
  it.each([
    ["IPv4 loopback", "127.0.0.1"],
    ["IPv4 wildcard", "0.0.0.0"],
    ["IPv6 loopback", "::1"],
  ])("finds the process that listens on a port (%s) and refuses the port naming `port` and the holder", async (_case, address) => {
    const { pid, port } = await listen(address);
    expect(bash(`port_listener_pids ${port}`).stdout.split("\n")).toEqual([String(pid)]);
    // The socket's owner, which a container can read where it cannot read the process.
    expect(bash(`port_listener_uids ${port}`).stdout).toBe(String(process.getuid!()));
    expect(bash(`port_holders ${port}`).stdout).toMatch(new RegExp(`^pid ${pid} \\(\\S*python3?[\\d.]* -c import socket`));
    const refused = bash(`refuse_taken_port ${port} "the instance is left as it was"; echo reached`);
    expect(refused.code).toBe(1);
    expect(refused.stdout).not.toContain("reached");
    expect(refused.stderr).toMatch(new RegExp(`port: ${port} is already in use by another process: pid ${pid} \\(\\S*python`));
    expect(refused.stderr).toContain("the instance is left as it was");
  });

  it("does not count the instance's own server (its pid given) as a holder", async () => {
    const { pid, port } = await listen("127.0.0.1");
    expect(bash(`port_holders ${port} 1 ${pid}`).stdout).toBe("");
    expect(bash(`refuse_taken_port ${port} "left" ${pid}; echo free`)).toMatchObject({ code: 0, stdout: "free" });
  });

  it("refuses a port held by a process it cannot see (a container on the host's network sees the host's sockets, not its processes)", async () => {
    const { port } = await listen("127.0.0.1");
    // A new pid namespace with its own /proc, on this network: the listener's socket shows, its process does not.
    const script = `set -Eeuo pipefail\n${renderPortFunctions()}\nrefuse_taken_port ${port} "left"`;
    const r = spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "bash", "-c", script], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`port: ${port} is already in use by another process: a process not visible from here \\(socket inode \\d+\\)`));
  });

  it("passes a port nobody listens on", async () => {
    const { port } = await listen("127.0.0.1");
    listeners.splice(0).forEach((l) => l.kill("SIGKILL"));
    await new Promise((r) => setTimeout(r, 200));
    expect(bash(`port_listener_pids ${port}; refuse_taken_port ${port} "left"; echo free`)).toMatchObject({ code: 0, stdout: "free" });
  });
});

describe("close_inherited_fds", () => {
  it.each([[3], [7], [63], [200]])("a server started detached holds none of its starter's descriptors (fd %i)", (fd) => {
    // What a started server sees: its /proc/self/fd, from a process started the way the scripts do.
    const script = `${renderCloseInheritedFds()}\nexec ${fd}>/dev/null\n( close_inherited_fds; exec ls /proc/self/fd </dev/null 2>/dev/null )`;
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(r.status).toBe(0);
    // 0-2, and ls's own handle on the directory it lists (3).
    expect(r.stdout.trim().split("\n").map(Number).sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
  });
});

describe("the configure steps check the port first and the server last", () => {
  const mariadb = renderConfigureInstance({ instance: "app", port: 3306 }, "[mysqld]\nport = 3306\n", { names: ["localhost"] });
  const postgres = renderConfigureCluster({ cluster: "app", port: 5432, version: 15 }, { tuningConf: "", accessConf: "", hba: "" });
  it.each([
    ["MariaDB", mariadb, 'cat > "$CNF.dbstack-tmp"', "restart_instance; restarted=yes"],
    ["PostgreSQL", postgres, 'cat > "$CONF_DIR/conf.d/05-dbstack-access.conf.dbstack-tmp"', "pg_ctl_cluster restart"],
  ])("%s: refuse_taken_port runs before any file is written or the server is touched; wait_until_serving after the apply", (_e, script, firstWrite, restart) => {
    expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
    const check = script.indexOf('refuse_taken_port "$PORT"');
    expect(check).toBeGreaterThan(0);
    expect(check).toBeLessThan(script.indexOf(firstWrite));
    expect(check).toBeLessThan(script.indexOf("# TLS:"));
    expect(check).toBeLessThan(script.indexOf(restart));
    expect(script.lastIndexOf("wait_until_serving")).toBeGreaterThan(script.lastIndexOf(restart));
  });

  it.each([
    ["MariaDB", mariadbProbe({ instance: "app", port: 3306 }), "instance_serving"],
    ["PostgreSQL", postgresProbe({ cluster: "app", port: 5432, version: 15 }), "cluster_serving"],
  ])("%s: the probe is read-only and fails when the serving check fails", (_e, probe, check) => {
    expect(spawnSync("bash", ["-n"], { input: probe }).status).toBe(0);
    expect(probe.trim().split("\n").pop()).toBe(`${check} || exit 1`);
    expect(probe).not.toMatch(/pg_ctlcluster "\$V" "\$CLUSTER" (start|restart|reload)|pg_ctl_cluster|start_instance|restart_instance|mv -f|rm -f|cat >/);
  });

  it.each([
    ["MariaDB", mariadbProbe({ instance: "app", port: 3306 }, 365), "instance_serving"],
    ["PostgreSQL", postgresProbe({ cluster: "app", port: 5432, version: 15 }, 365), "cluster_serving"],
  ])("%s: with a certificate lifetime, the probe fails when the server is down, whatever the certificate", (_e, probe, check) => {
    // The serving check stubbed to fail, the certificate check to pass: the probe must still fail.
    const stubbed = probe.replace(new RegExp(`^${check} \\|\\| exit 1$`, "m"), `${check}() { return 1; }\ncertificate_due() { return 1; }\n${check} || exit 1`);
    const tail = stubbed.slice(stubbed.indexOf(`${check}() { return 1; }`));
    expect(spawnSync("bash", ["-c", tail]).status).toBe(1);
    expect(probe.trimEnd()).toMatch(/! certificate_due "\$(TLS_DIR|CONF_DIR\/dbstack-tls)\/server\.crt"$/);
  });

  it("starts servers with no inherited descriptor (MariaDB's supervisor, pg_ctlcluster)", () => {
    expect(mariadb).toContain('( close_inherited_fds; exec setsid "$safe" --defaults-file="$CNF" </dev/null >/dev/null 2>&1 ) &');
    expect(postgres).toContain('pg_ctl_cluster() { ( close_inherited_fds; exec pg_ctlcluster "$V" "$CLUSTER" "$@" </dev/null >&2 ); }');
    expect(postgres).not.toMatch(/^\s*pg_ctlcluster "\$V" "\$CLUSTER" (start|restart)/m);
  });
});
