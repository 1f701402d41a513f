/**
 * How HostCommand reaches an SSH target: the pinned host keys, the known_hosts file made of
 * them, the `ssh` arguments, and what a refused host key means.
 *
 * A host's key is pinned: declared (`SshTarget.hostKey`) or recorded in state on first contact
 * (SshHostKeys), and enforced with StrictHostKeyChecking=yes against a known_hosts file that
 * holds only those keys (no user or system known_hosts). A host whose key does not match is
 * refused before authentication, so it never receives a script, an environment or a secret.
 *
 * Pure and self-contained: HostCommand's dynamic provider is serialized with the functions it
 * calls, so nothing here may depend on another module.
 */

/** The key types OpenSSH accepts in known_hosts (ssh-ed25519, ssh-rsa, ecdsa-sha2-…, sk-…@openssh.com). */
const KEY_TYPE = /^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)$/;
const KEY_DATA = /^[A-Za-z0-9+/]+={0,3}$/;

/**
 * The public keys ("type base64", one per entry, sorted, unique) in `text`: a bare key
 * (`ssh-ed25519 AAAA… comment`), a known_hosts line (`host ssh-ed25519 AAAA…`), ssh-keyscan's
 * output, or several of these on separate lines. Comments and host patterns are dropped: the keys
 * are bound to the target's address when the known_hosts file is written.
 */
export function parseHostKeys(text: string): string[] {
  const keys = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    for (let i = 0; i + 1 < fields.length; i++) {
      if (KEY_TYPE.test(fields[i]) && KEY_DATA.test(fields[i + 1])) {
        keys.add(`${fields[i]} ${fields[i + 1]}`);
        break;
      }
    }
  }
  return [...keys].sort();
}

/** Why `text` is not a usable host key, if it is not (for config validation). */
export function hostKeyProblem(text: string): string | undefined {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() && !l.trim().startsWith("#"));
  if (lines.length === 0) return "it is empty";
  for (const line of lines) {
    if (parseHostKeys(line).length === 0) return `a line is not a public key: ${JSON.stringify(line.trim().slice(0, 60))}`;
  }
  return undefined;
}

/** How known_hosts names a host: `host`, or `[host]:port` on a port other than 22. */
export function knownHostsPattern(host: string, port: number | undefined): string {
  return (port ?? 22) === 22 ? host : `[${host}]:${port}`;
}

/** A known_hosts file that trusts exactly `keys` for the target's address and port. */
export function renderKnownHosts(host: string, port: number | undefined, keys: readonly string[]): string {
  const pattern = knownHostsPattern(host, port);
  return keys.map((k) => `${pattern} ${k}\n`).join("");
}

/** What `ssh` needs to reach an SSH target. */
export interface SshConnection {
  host: string;
  port?: number;
  user?: string;
  sudo?: boolean;
}

/**
 * `ssh` arguments that run `bash -s` (through `sudo -n` when asked, or when the user is not
 * root) on the target, trusting only the host keys in `knownHostsFile`.
 */
export function sshArguments(t: SshConnection, files: { keyFile: string; knownHostsFile: string }): string[] {
  const user = t.user ?? "root";
  const sudo = t.sudo ?? user !== "root";
  return [
    "-i", files.keyFile,
    "-p", String(t.port ?? 22),
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "ConnectTimeout=20",
    // The pinned keys and nothing else: no accept-new, no ~/.ssh/known_hosts, no system file,
    // and ssh may not add keys a host offers later (UpdateHostKeys).
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${files.knownHostsFile}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "UpdateHostKeys=no",
    "-o", "CheckHostIP=no",
    "-o", "LogLevel=ERROR",
    `${user}@${t.host}`,
    sudo ? "sudo -n bash -s" : "bash -s",
  ];
}

/** Whether ssh's stderr says it refused the host's key (changed, or not among the pinned ones). */
export function isHostKeyRefusal(stderr: string): boolean {
  return /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No (?:[A-Z0-9-]+ )?host key is known for/i.test(stderr);
}

/**
 * The error for a refused host key: names the host, where the pin came from, what to set, and
 * that nothing was sent.
 */
export function hostKeyRefusedMessage(
  description: string,
  t: { host: string; port?: number },
  pin: { declared: boolean; configKey?: string },
): string {
  const where = knownHostsPattern(t.host, t.port);
  const key = pin.configKey ?? "the target's hostKey";
  const source = pin.declared ? `the key declared in ${key}` : "the key recorded in the stack's state on first contact";
  return (
    `${description}: refused SSH host ${where}: the key it presents does not match ${source}. ` +
    `Nothing was sent to the host. If the host was re-installed or re-keyed, check its new key out of band ` +
    `(ssh-keyscan -p ${t.port ?? 22} ${t.host} | ssh-keygen -lf -, compared with the host's console) and set ${key} to it; ` +
    `otherwise someone may be impersonating the host.`
  );
}

/**
 * Shell that runs first in every script sent over SSH: when the SSH session that started the
 * script goes away (the deploy was killed, its provider stopped the local `ssh` client), the
 * script's process group gets SIGTERM, then SIGKILL 5 s later — the rule dbstack applies to host
 * scripts of a dead engine on this machine too (tools/bin/dbstack-engine-watchdog.js). Without it a
 * remote script would run on until its next read or write of the session, racing the next `up`.
 *
 * How: the nearest `sshd` ancestor of the script's shell is the session's server process; it exits
 * when the connection closes. A detached watcher (no stdio, so it never holds the session open)
 * polls it every second and ends with the script. Hosts without `ps` get no watcher. Prints nothing.
 */
export function renderSessionWatchdog(): string {
  return [
    "dbstack_sshd=; dbstack_p=$$",
    'while dbstack_a=$(ps -o ppid= -p "$dbstack_p" 2>/dev/null) && dbstack_a=${dbstack_a//[[:space:]]/} && [ "${dbstack_a:-1}" -gt 1 ]; do',
    '  if [ "$(ps -o comm= -p "$dbstack_a" 2>/dev/null)" = sshd ]; then dbstack_sshd=$dbstack_a; break; fi',
    "  dbstack_p=$dbstack_a",
    "done",
    'if [ -n "$dbstack_sshd" ]; then',
    "  ( trap '' TERM; self=$$; group=$(ps -o pgid= -p $$ | tr -d '[:space:]')",
    '    while kill -0 "$dbstack_sshd" 2>/dev/null && kill -0 "$self" 2>/dev/null; do sleep 1; done',
    '    if kill -0 "$self" 2>/dev/null; then kill -TERM -- "-$group" 2>/dev/null; sleep 5; kill -KILL -- "-$group" 2>/dev/null; fi',
    "  ) </dev/null >/dev/null 2>&1 &",
    "fi",
    "unset dbstack_sshd dbstack_p dbstack_a",
  ].join("\n");
}
