/**
 * PostgreSQL's pgBackRest repository on another host over SSH (pitr.repositoryHost): pgBackRest's
 * "dedicated repository host". The repository host runs backups (pg1-host points back at the
 * database host); the database host archives WAL and restores through repo1-host. Both log in to
 * each other with key pairs dbstack generated (secrets that reach each host through its step's
 * environment into 0600 files), trusting only the peer's pinned host keys, and each accepts the
 * other's key for pgBackRest alone (a forced command). Pure renderers.
 */
import { knownHostsPattern } from "../../targets/ssh";
import { scriptHeader, shellQuote, withHeredoc } from "../../shell";
import type { PitrRemoteSpec, PitrStandbySpec } from "../pitr";
import { dataDir, PITR_CIPHER_VARIABLE, type PostgresPitrSpec } from "./pitrScripts";

/** The environment variable a host's step receives its own private key in. */
export const PITR_SSH_KEY_VARIABLE = "DBSTACK_PITR_SSH_KEY";
/** The environment variable a host's step receives the peer's public key in (the login it accepts). */
export const PITR_PEER_KEY_VARIABLE = "DBSTACK_PITR_PEER_KEY";
/** The environment variable a host's step receives the peer's pinned host keys in ("type base64" lines). */
export const PITR_PEER_HOST_KEYS_VARIABLE = "DBSTACK_PITR_PEER_HOST_KEYS";
/** The environment variable the repository host's step receives the i-th standby's pinned host keys in. */
export const pitrStandbyHostKeysVariable = (i: number): string => `DBSTACK_PITR_STANDBY_HOST_KEYS_${i}`;
/** The user owning the repository on a repository host, and its home. */
export const PITR_REPO_USER = "pgbackrest";
export const PITR_REPO_HOME = "/var/lib/pgbackrest-dbstack";
/** The one command a peer's key may run: pgBackRest, with the arguments it sent (pgBackRest's user guide). */
export const PGBACKREST_FORCED_COMMAND = 'restrict,command="/usr/bin/pgbackrest ${SSH_ORIGINAL_COMMAND#* }"';

/** One side of the SSH login between the two hosts. */
interface SshSide {
  user: string;
  home: string;
  sshDir: string;
  /** The peer, as this side reaches it. */
  peerHost: string;
  peerPort: number;
  /** The comment that marks this deployment's line in the user's authorized_keys. */
  mark: string;
  /** Further hosts this side logs in to (the standbys), with the variable holding each one's pinned host keys. Default: none. */
  others?: { host: string; port: number; variable: string }[];
}

/** The public key comments of the two key pairs (GeneratedSshKey's `comment`), marking their lines. */
export function pitrKeyComments(stanza: string): { db: string; repo: string } {
  return { db: `dbstack-pitr-${stanza}-db`, repo: `dbstack-pitr-${stanza}-repo` };
}

/** The `ssh` wrapper pgBackRest runs (cmd-ssh): this side's key, the peer's pinned host keys only, no password. */
export function renderSshWrapper(sshDir: string): string {
  return [
    "#!/bin/sh",
    "# dbstack: pgBackRest's ssh to its peer host. Managed by Pulumi.",
    `exec ssh -i ${shellQuote(`${sshDir}/id_ed25519`)} -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile=${shellQuote(`${sshDir}/known_hosts`)} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o ConnectTimeout=20 "$@"`,
    "",
  ].join("\n");
}

/**
 * Shell: installs this side's key (from the environment), the peer's pinned host keys, the ssh
 * wrapper, and accepts the peer's public key for pgBackRest only (its line replaced, marked).
 */
function renderSshSide(side: SshSide): string {
  const dir = shellQuote(side.sshDir);
  const pattern = knownHostsPattern(side.peerHost, side.peerPort);
  return [
    `[ -n "$${PITR_PEER_HOST_KEYS_VARIABLE}" ] || { echo "pitr: no pinned host key for ${side.peerHost}" >&2; exit 1; }`,
    `install -d -o ${side.user} -g ${side.user} -m 0700 ${dir}`,
    "(",
    "  umask 077",
    `  printf '%s\\n' "$${PITR_SSH_KEY_VARIABLE}" > ${dir}/id_ed25519.tmp`,
    `  { ${[{ pattern, variable: PITR_PEER_HOST_KEYS_VARIABLE }, ...(side.others ?? []).map((o) => ({ pattern: knownHostsPattern(o.host, o.port), variable: o.variable }))].map((p) => `while IFS= read -r k; do [ -n "$k" ] && printf '%s %s\\n' ${shellQuote(p.pattern)} "$k"; done <<<"$${p.variable}";`).join(" ")} } > ${dir}/known_hosts.tmp`,
    ")",
    `chown ${side.user}:${side.user} ${dir}/id_ed25519.tmp ${dir}/known_hosts.tmp; chmod 600 ${dir}/id_ed25519.tmp`,
    `mv -f ${dir}/id_ed25519.tmp ${dir}/id_ed25519; mv -f ${dir}/known_hosts.tmp ${dir}/known_hosts`,
    `( umask 022; ${withHeredoc(`cat > ${dir}/ssh.tmp`, renderSshWrapper(side.sshDir), "DBSTACK_SSH")}`,
    ")",
    `chmod 755 ${dir}/ssh.tmp; mv -f ${dir}/ssh.tmp ${dir}/ssh`,
    renderAcceptPeer(side),
  ].join("\n");
}

/** Shell: accepts the peer's public key (from the environment) for pgBackRest only, in the user's authorized_keys (its marked line replaced). */
function renderAcceptPeer(side: Pick<SshSide, "user" | "home" | "mark">): string {
  const ak = shellQuote(`${side.home}/.ssh/authorized_keys`);
  return [
    `[[ "$${PITR_PEER_KEY_VARIABLE}" =~ ^ssh-ed25519\\ [A-Za-z0-9+/=]+\\ [A-Za-z0-9._@-]+$ ]] || { echo "pitr: the peer's public key is not an ssh-ed25519 key line" >&2; exit 1; }`,
    `install -d -o ${side.user} -g ${side.user} -m 0700 ${shellQuote(`${side.home}/.ssh`)}`,
    `touch ${ak}; chown ${side.user}:${side.user} ${ak}; chmod 600 ${ak}`,
    `{ grep -v -F -- ${shellQuote(` ${side.mark}`)} ${ak} || true; printf '%s %s\\n' ${shellQuote(PGBACKREST_FORCED_COMMAND)} "$${PITR_PEER_KEY_VARIABLE}"; } > ${ak}.dbstack-tmp`,
    `chown ${side.user}:${side.user} ${ak}.dbstack-tmp; chmod 600 ${ak}.dbstack-tmp; mv -f ${ak}.dbstack-tmp ${ak}`,
  ].join("\n");
}

/** Shell: withdraws this side's login (its marked authorized_keys line) and removes its key files. */
function renderSshSideRemove(side: SshSide): string {
  const ak = shellQuote(`${side.home}/.ssh/authorized_keys`);
  return [
    `if [ -f ${ak} ]; then { grep -v -F -- ${shellQuote(` ${side.mark}`)} ${ak} || true; } > ${ak}.dbstack-tmp; chown --reference=${ak} ${ak}.dbstack-tmp; chmod 600 ${ak}.dbstack-tmp; mv -f ${ak}.dbstack-tmp ${ak}; fi`,
    `rm -rf ${shellQuote(side.sshDir)}`,
  ].join("\n");
}

/** The database host's side: the postgres user logs in to the repository host; accepts the repository host's key. */
export function dbSide(spec: PostgresPitrSpec & { remote: PitrRemoteSpec }): SshSide {
  return { user: "postgres", home: "/var/lib/postgresql", sshDir: spec.remote.dbSshDir, peerHost: spec.remote.host, peerPort: spec.remote.port, mark: pitrKeyComments(spec.stanza).repo };
}

function repoSide(spec: PostgresPitrSpec & { remote: PitrRemoteSpec }): SshSide {
  const r = spec.remote;
  const others = (r.standbys ?? []).map((s, i) => ({ host: s.host, port: s.sshPort, variable: pitrStandbyHostKeysVariable(i) }));
  return { user: r.user, home: r.home, sshDir: r.sshDir, peerHost: r.dbHost, peerPort: r.dbPort, mark: pitrKeyComments(spec.stanza).db, others };
}

/** The database host's SSH side as shell (for renderPitrSetup), and its removal. */
export function renderDbSshSide(spec: PostgresPitrSpec & { remote: PitrRemoteSpec }): string {
  return renderSshSide(dbSide(spec));
}
export function renderDbSshSideRemove(spec: PostgresPitrSpec & { remote: PitrRemoteSpec }): string {
  return renderSshSideRemove(dbSide(spec));
}

/** pgBackRest's configuration on the repository host, without the cipher secret (its line goes between). */
export function renderRepoHostConf(spec: PostgresPitrSpec & { remote: PitrRemoteSpec }): { global: string; stanza: string } {
  const r = spec.remote;
  const global = [
    `# dbstack: pgBackRest repository of PostgreSQL deployment ${spec.name} (database host ${r.dbHost}). Managed by Pulumi; edit the stack config, not this file.`,
    "[global]",
    `repo1-path=${r.dir}`,
    `repo1-retention-full=${spec.retentionFull}`,
    ...(spec.encrypt ? ["repo1-cipher-type=aes-256-cbc"] : []),
    "start-fast=y",
    "compress-type=lz4",
    "process-max=2",
    "log-level-file=info",
    `log-path=${r.home}/log`,
    `lock-path=${r.home}/lock`,
    `cmd-ssh=${r.sshDir}/ssh`,
    "",
  ].join("\n");
  const stanza = [
    `[${spec.stanza}]`,
    `pg1-host=${r.dbHost}`,
    ...(r.dbPort === 22 ? [] : [`pg1-host-port=${r.dbPort}`]),
    "pg1-host-user=postgres",
    `pg1-host-config=${spec.confFile}`,
    `pg1-path=${dataDir(spec)}`,
    `pg1-port=${spec.port}`,
    "pg1-socket-path=/var/run/postgresql",
    ...renderStandbyLines(r.standbys ?? []),
    "",
  ].join("\n");
  return { global, stanza };
}

/**
 * The standbys as pg2, pg3…, and backup-standby: pgBackRest then copies the data files from a
 * standby (the primary only starts and stops the backup), sparing the primary's disks.
 */
function renderStandbyLines(standbys: PitrStandbySpec[]): string[] {
  if (standbys.length === 0) return [];
  return [
    "backup-standby=y",
    ...standbys.flatMap((s, i) => [
      `pg${i + 2}-host=${s.host}`,
      ...(s.sshPort === 22 ? [] : [`pg${i + 2}-host-port=${s.sshPort}`]),
      `pg${i + 2}-host-user=postgres`,
      `pg${i + 2}-host-config=${s.confFile}`,
      `pg${i + 2}-path=${s.dataDirectory}`,
      `pg${i + 2}-port=${s.port}`,
      `pg${i + 2}-socket-path=/var/run/postgresql`,
    ]),
  ];
}

/** pgBackRest's configuration on a standby: its own cluster, which the repository host's backups read. */
export function renderStandbyConf(spec: PostgresPitrSpec, standby: PitrStandbySpec): string {
  return [
    `# dbstack: pgBackRest on standby ${standby.name} of PostgreSQL deployment ${spec.name} (backups are taken from it). Managed by Pulumi.`,
    `[${spec.stanza}]`,
    `pg1-path=${standby.dataDirectory}`,
    `pg1-port=${standby.port}`,
    "pg1-socket-path=/var/run/postgresql",
    "",
  ].join("\n");
}

/** A standby's step: pgBackRest, its configuration (no secret in it), and the repository host's login for pgBackRest only. */
export function renderStandbySetup(spec: PostgresPitrSpec & { remote: PitrRemoteSpec }, standby: PitrStandbySpec): string {
  const conf = shellQuote(standby.confFile);
  return [
    scriptHeader(`Lets the pgBackRest repository host of PostgreSQL deployment ${spec.name} take backups from standby ${standby.name}.`),
    "cd /",
    "if ! command -v pgbackrest >/dev/null; then",
    "  export DEBIAN_FRONTEND=noninteractive",
    "  { apt-get update -qq && apt-get install -y -qq --no-install-recommends pgbackrest; } >&2 || { echo 'pitr: install the Debian package pgbackrest on the standby' >&2; exit 1; }",
    "fi",
    `install -d -m 0755 ${shellQuote(standby.confFile.slice(0, standby.confFile.lastIndexOf("/")))}`,
    `( umask 077; ${withHeredoc(`cat > ${conf}.tmp`, renderStandbyConf(spec, standby), "DBSTACK_CONF")}`,
    ")",
    `chown postgres:postgres ${conf}.tmp; chmod 600 ${conf}.tmp; mv -f ${conf}.tmp ${conf}`,
    renderAcceptPeer({ user: "postgres", home: "/var/lib/postgresql", mark: pitrKeyComments(spec.stanza).repo }),
    `echo ${shellQuote(`pitr: backups of ${spec.stanza} may be taken from standby ${standby.name}`)}`,
  ].join("\n") + "\n";
}

/** Destroy on a standby: the repository host's login withdrawn, the configuration removed. */
export function renderStandbyRemove(spec: PostgresPitrSpec & { remote: PitrRemoteSpec }, standby: PitrStandbySpec): string {
  const ak = shellQuote("/var/lib/postgresql/.ssh/authorized_keys");
  return [
    scriptHeader(`Withdraws the pgBackRest repository host's login from standby ${standby.name} of PostgreSQL deployment ${spec.name}.`),
    "cd /",
    `if [ -f ${ak} ]; then { grep -v -F -- ${shellQuote(` ${pitrKeyComments(spec.stanza).repo}`)} ${ak} || true; } > ${ak}.dbstack-tmp; chown --reference=${ak} ${ak}.dbstack-tmp; chmod 600 ${ak}.dbstack-tmp; mv -f ${ak}.dbstack-tmp ${ak}; fi`,
    `rm -f ${shellQuote(standby.confFile)}`,
  ].join("\n") + "\n";
}

/** The database host's [global] lines with a repository host (instead of repo1-path and the cipher). */
export function renderDbRepoLines(spec: PostgresPitrSpec & { remote: PitrRemoteSpec }): string[] {
  const r = spec.remote;
  return [`repo1-host=${r.host}`, ...(r.port === 22 ? [] : [`repo1-host-port=${r.port}`]), `repo1-host-user=${r.user}`, `repo1-host-config=${r.confFile}`, `cmd-ssh=${r.dbSshDir}/ssh`];
}

/**
 * Shell: `pgb_repo …` runs pgBackRest on the repository host (backups run there), as postgres
 * through the wrapper; stdin closed, or ssh would swallow the rest of a script read from stdin.
 */
export function renderPgbRepo(spec: PostgresPitrSpec & { remote: PitrRemoteSpec }): string {
  const r = spec.remote;
  return `pgb_repo() { runuser -u postgres -- ${shellQuote(`${r.dbSshDir}/ssh`)} -p ${r.port} ${shellQuote(`${r.user}@${r.host}`)} pgbackrest --config=${shellQuote(r.confFile)} --stanza=${shellQuote(spec.stanza)} "$@" </dev/null; }`;
}

/**
 * The repository host's step: pgBackRest and its user, the repository (0700), the configuration
 * (the cipher secret from the environment into the 0600 file), and its side of the SSH login.
 */
export function renderRepoHostSetup(spec: PostgresPitrSpec & { remote: PitrRemoteSpec }): string {
  const r = spec.remote;
  const conf = renderRepoHostConf(spec);
  const confWord = shellQuote(r.confFile);
  const tmp = shellQuote(`${r.confFile}.dbstack-tmp`);
  return [
    scriptHeader(`Sets up the pgBackRest repository of PostgreSQL deployment ${spec.name} (stanza ${spec.stanza}) on this repository host.`),
    "cd /",
    "if ! command -v pgbackrest >/dev/null; then",
    "  export DEBIAN_FRONTEND=noninteractive",
    "  { apt-get update -qq && apt-get install -y -qq --no-install-recommends pgbackrest; } >&2 || { echo 'pitr: install the Debian package pgbackrest on the repository host' >&2; exit 1; }",
    "fi",
    `id -u ${r.user} >/dev/null 2>&1 || useradd --system --user-group --password '*' --home-dir ${shellQuote(r.home)} --shell /bin/bash ${r.user}`,
    "# No password, and not locked ('!'): an sshd without PAM refuses a locked account even its keys.",
    `install -d -o ${r.user} -g ${r.user} -m 0700 ${shellQuote(r.home)} ${shellQuote(`${r.home}/log`)} ${shellQuote(`${r.home}/lock`)}`,
    `install -d -o ${r.user} -g ${r.user} -m 0700 ${shellQuote(r.dir)}`,
    `install -d -m 0755 ${shellQuote(r.confFile.slice(0, r.confFile.lastIndexOf("/")))}`,
    renderSshSide(repoSide(spec)),
    "# The cipher secret reaches the file from the environment; it is never part of this script.",
    "(",
    "  umask 077",
    "  {",
    `    ${withHeredoc("cat", conf.global, "DBSTACK_CONF")}`,
    ...(spec.encrypt ? [`    printf 'repo1-cipher-pass=%s\\n\\n' "$${PITR_CIPHER_VARIABLE}"`] : []),
    `    ${withHeredoc("cat", conf.stanza, "DBSTACK_CONF")}`,
    `  } > ${tmp}`,
    ")",
    `chown ${r.user}:${r.user} ${tmp}; chmod 600 ${tmp}; mv -f ${tmp} ${confWord}`,
    `echo ${shellQuote(`pitr repository host ready: ${r.dir} for stanza ${spec.stanza}`)}`,
  ].join("\n") + "\n";
}

/**
 * Destroy on the repository host: the database host's login is withdrawn and the keys go; the
 * repository and its configuration (which holds the secret that decrypts it) stay unless the
 * stack allows data removal.
 */
export function renderRepoHostRemove(spec: PostgresPitrSpec & { remote: PitrRemoteSpec }, allowDataRemoval: boolean): string {
  const r = spec.remote;
  return [
    scriptHeader(`Withdraws the pgBackRest login of PostgreSQL deployment ${spec.name} from this repository host.`),
    "cd /",
    renderSshSideRemove(repoSide(spec)),
    ...(allowDataRemoval
      ? [
          `rm -rf ${shellQuote(r.dir)} ${shellQuote(r.confFile)}`,
          `echo ${shellQuote(`dbstack: deleted the pgBackRest repository ${r.dir} (allowDataRemoval is set)`)} >&2`,
        ]
      : [`echo ${shellQuote(`dbstack: kept the pgBackRest repository ${r.dir} and its configuration ${r.confFile} (it holds the secret that decrypts it); set allowDataRemoval to delete them`)} >&2`]),
  ].join("\n") + "\n";
}
