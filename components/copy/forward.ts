/**
 * A local TCP port forwarded over SSH to a database port on a deployment's host, so that a copy
 * reaches a server that listens only on the host's own loopback (the seed's private-network
 * servers), over the same verified SSH the deploy uses.
 *
 * The SSH connection is made exactly as HostCommand makes it (components/targets/ssh.ts): the key
 * from the stack's config in a 0600 file, a known_hosts file holding only the pinned keys (the
 * declared `hostKey`, else the keys recorded in the stack's state on first contact), and
 * StrictHostKeyChecking=yes. A host presenting another key is refused during the key exchange,
 * before authentication, so nothing (no key, no database password) reaches it. The files live in
 * a private temporary directory removed when the forward closes, also when opening fails.
 *
 * The local end listens on 127.0.0.1 only, on a port the kernel reports free. Between that check
 * and ssh binding the port another local program could take it; ssh then exits
 * (ExitOnForwardFailure) and another port is tried. A program that takes the port after ssh gave
 * up cannot pose as the database either: the copy verifies the server's TLS certificate against
 * the deployment's CA (see scripts/lib/deploymentRefs.ts).
 */
import { spawn, type ChildProcess } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { createServer, Socket } from "net";
import { tmpdir } from "os";
import { join } from "path";
import { hostKeyRefusedMessage, isHostKeyRefusal, parseHostKeys, renderKnownHosts, sshArguments, type SshConnection } from "../targets/ssh";

/** Where and how to forward: the SSH host (as the deploy reaches it) and the port on its loopback. */
export interface ForwardSpec {
  /** The SSH host: address, port (default 22), user (default root). `sudo` is irrelevant: nothing runs. */
  ssh: SshConnection;
  /** The SSH private key (OpenSSH text), from the stack's config secret. Never logged. */
  privateKey: string;
  /**
   * The pinned host keys, "type base64" lines: the declared `hostKey`, or the keys recorded in
   * the stack's state. Required: without a pin the forward refuses to connect.
   */
  hostKeys: string;
  /** Whether `hostKeys` were declared in config (true) or recorded on first contact (false); for the refusal message. */
  declared: boolean;
  /** The host's config key, e.g. `dbstack:hosts.db1`, named in errors. Default: none. */
  configKey?: string;
  /** The database's port on the host's loopback (127.0.0.1). */
  remotePort: number;
  /** How long to wait for SSH to authenticate and listen, in ms. Default 30000. */
  timeoutMs?: number;
}

/** An open forward: connect to 127.0.0.1:localPort to reach the database. */
export interface Forward {
  localPort: number;
  /** Stops ssh and removes the key and known_hosts files. Idempotent. */
  close(): Promise<void>;
}

/**
 * `ssh` arguments for `-N -L 127.0.0.1:<localPort>:127.0.0.1:<remotePort>`: the deploy's own
 * options (pinned keys, StrictHostKeyChecking=yes, BatchMode, the key file only) without its
 * remote command, plus: no command and no TTY, exit when the forward cannot be set up (port
 * taken), and notice a dead connection within a minute.
 */
export function forwardArguments(
  t: SshConnection,
  files: { keyFile: string; knownHostsFile: string },
  ports: { localPort: number; remotePort: number },
): string[] {
  const base = sshArguments(t, files);
  // sshArguments ends with the destination and the remote command (`bash -s`): keep the options
  // and the destination, drop the command, so that the pinning stays the one deploys use.
  const destination = base[base.length - 2];
  const options = base.slice(0, -2);
  return [
    ...options,
    "-N",
    "-T",
    "-o", "ExitOnForwardFailure=yes",
    "-o", "ServerAliveInterval=15",
    "-o", "ServerAliveCountMax=4",
    "-L", `127.0.0.1:${ports.localPort}:127.0.0.1:${ports.remotePort}`,
    destination,
  ];
}

/**
 * The URL with its host and port replaced (user, password, database and parameters kept), for a
 * postgresql:// or mysql:// / mariadb:// URL reached through a forward.
 */
export function rewriteUrlHostPort(url: string, host: string, port: number): string {
  const u = new URL(url);
  u.hostname = host;
  u.port = String(port);
  return u.toString();
}

/** Opens a forward; rejects with a clear message (host key refused, SSH failed, timeout) and leaves nothing behind. */
export async function openForward(spec: ForwardSpec): Promise<Forward> {
  const keys = parseHostKeys(spec.hostKeys);
  const where = `${spec.ssh.user ?? "root"}@${spec.ssh.host}${(spec.ssh.port ?? 22) === 22 ? "" : `:${spec.ssh.port}`}`;
  if (keys.length === 0) {
    throw new Error(
      `port forward to ${where}: no pinned SSH host key: declare ${spec.configKey ? `${spec.configKey}.hostKey` : "the host's hostKey"} ` +
        "or run an up that records it; nothing was sent to the host",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "dbstack-forward-"));
  const keyFile = join(dir, "key");
  const knownHostsFile = join(dir, "known_hosts");
  // Ctrl-C or a kill must not leave the private key in /tmp or ssh running: end both, then die of the signal.
  let current: ChildProcess | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    current?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  const watchSignals = () => SIGNALS.forEach((sig) => process.once(sig, onSignal));
  const unwatchSignals = () => SIGNALS.forEach((sig) => process.removeListener(sig, onSignal));
  watchSignals();
  try {
    writeFileSync(keyFile, spec.privateKey.endsWith("\n") ? spec.privateKey : `${spec.privateKey}\n`, { mode: 0o600 });
    writeFileSync(knownHostsFile, renderKnownHosts(spec.ssh.host, spec.ssh.port, keys), { mode: 0o600 });
    // A port someone else binds between freePort() and ssh makes ssh exit: try another, a few times.
    for (let attempt = 1; ; attempt++) {
      const localPort = await freePort();
      const child = spawn("ssh", forwardArguments(spec.ssh, { keyFile, knownHostsFile }, { localPort, remotePort: spec.remotePort }), {
        stdio: ["ignore", "ignore", "pipe"],
      });
      current = child;
      const outcome = await waitListening(child, localPort, spec.timeoutMs ?? 30_000);
      if (outcome.ok) {
        let closed = false;
        return {
          localPort,
          async close() {
            if (closed) return;
            closed = true;
            await stop(child);
            rmSync(dir, { recursive: true, force: true });
            unwatchSignals();
          },
        };
      }
      await stop(child);
      if (isHostKeyRefusal(outcome.stderr)) {
        throw new Error(hostKeyRefusedMessage(`port forward to ${where}`, spec.ssh, { declared: spec.declared, configKey: spec.configKey && `${spec.configKey}.hostKey` }));
      }
      const portTaken = /Address already in use|cannot listen to port|port forwarding failed/i.test(outcome.stderr);
      if (portTaken && attempt < 5) continue;
      throw new Error(`port forward to ${where} (127.0.0.1:${spec.remotePort} there) failed: ${outcome.reason}${outcome.stderr.trim() ? `: ${lastLines(outcome.stderr)}` : ""}`);
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    unwatchSignals();
    throw err;
  }
}

/** The signals on which an open forward's files are removed before the process dies. */
const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Runs `fn` with a forward open, and closes it afterwards, whether `fn` succeeds or throws. */
export async function withForward<T>(spec: ForwardSpec, fn: (localPort: number) => Promise<T>): Promise<T> {
  const forward = await openForward(spec);
  try {
    return await fn(forward.localPort);
  } finally {
    await forward.close();
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's choice). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

type Outcome = { ok: true } | { ok: false; reason: string; stderr: string };

/**
 * Waits until ssh listens on the local port (it binds only after the host key was accepted and
 * authentication succeeded), or exits, or the time is up. Each probe is a bare TCP connect that is
 * closed at once; the server at the far end sees a connection that never speaks.
 */
async function waitListening(child: ChildProcess, port: number, timeoutMs: number): Promise<Outcome> {
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    // Keep the tail only: ssh prints little, but a chatty host must not grow this without bound.
    stderr = (stderr + chunk).slice(-8192);
  });
  let exited: string | undefined;
  child.on("exit", (code, signal) => {
    exited = signal ? `ssh was killed by ${signal}` : `ssh exited with code ${code}`;
  });
  child.on("error", (err) => {
    exited = `could not start ssh: ${err.message}`;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      // Let the last of stderr arrive before it is read.
      await new Promise((r) => setTimeout(r, 50));
      return { ok: false, reason: exited, stderr };
    }
    if (await accepts(port)) {
      // A listener that is not ssh's (the port was taken meanwhile) goes with ssh exiting.
      await new Promise((r) => setTimeout(r, 100));
      if (exited === undefined) return { ok: true };
      continue;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ok: false, reason: `ssh did not open the port within ${Math.round(timeoutMs / 1000)} s`, stderr };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.connect(port, "127.0.0.1");
  });
}

/** Ends ssh (SIGTERM, SIGKILL after 5 s) and waits for it to be gone. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await gone;
  clearTimeout(timer);
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-5).join(" / ");
}
