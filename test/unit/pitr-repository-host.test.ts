import { spawnSync } from "child_process";
import { describe, expect, it } from "vitest";
import { validateServerArgs } from "../../components/deploy/validateServer";
import { mariadbEngine } from "../../components/engines/mariadb/engine";
import { postgresEngine } from "../../components/engines/postgres/engine";
import { PGBACKREST_FORCED_COMMAND, renderRepoHostConf, renderRepoHostRemove, renderRepoHostSetup, renderSshWrapper, renderStandbyConf, renderStandbyRemove, renderStandbySetup } from "../../components/engines/postgres/pitrRemote";
import { renderPgbackrestConf, renderPitrBackup, renderPitrRemove, renderPitrSetup, type PostgresPitrSpec } from "../../components/engines/postgres/pitrScripts";
import type { ServerDeploymentArgs } from "../../components/model/args";
import type { PitrArgs } from "../../components/model/pitr";
import type { Target } from "../../components/model/target";
import { parseStackConfig } from "../../stacks/config";

// Issue 22: the pgBackRest repository on another host over SSH (pitr.repositoryHost).
const remote = {
  host: "10.0.0.9",
  port: 22,
  user: "pgbackrest",
  home: "/var/lib/pgbackrest-dbstack",
  dir: "/srv/pitr/main",
  confFile: "/etc/dbstack-pitr/s-main.repository.conf",
  sshDir: "/etc/dbstack-pitr/s-main.repository-ssh",
  dbHost: "10.0.0.5",
  dbPort: 2222,
  dbSshDir: "/etc/dbstack-pitr/s-main.ssh",
};
const spec: PostgresPitrSpec & { remote: typeof remote } = {
  version: 15,
  cluster: "main",
  port: 7290,
  name: "main",
  stanza: "s-main",
  confFile: "/etc/dbstack-pitr/s-main.conf",
  dir: "/var/lib/dbstack-pitr/s-postgres-main",
  archiveTimeoutS: 60,
  retentionFull: 2,
  encrypt: true,
  databases: ["app"],
  drillHistory: 30,
  remote,
};

const db: Target = { kind: "ssh", host: "10.0.0.5", port: 2222 };
function args(pitr: PitrArgs, target: Target = db): ServerDeploymentArgs {
  return { port: 7290, target, databases: [{ name: "app", owner: "app" }], users: [{ name: "app", grants: { app: "owner" } }], pitr };
}
const repoHost = (target: Target, dir?: string): PitrArgs => ({ repositoryHost: { target, dir } });

describe("pitr.repositoryHost: validated at preview, every message naming the field", () => {
  it("accepts another SSH host, with or without a directory", () => {
    expect(() => validateServerArgs("main", args(repoHost({ kind: "ssh", host: "10.0.0.9" })), postgresEngine)).not.toThrow();
    expect(() => validateServerArgs("main", args(repoHost({ kind: "ssh", host: "10.0.0.5", port: 22 }, "/srv/pitr")), postgresEngine)).not.toThrow();
  });
  it.each<[string, PitrArgs, Target, RegExp]>([
    ["this machine as the repository host", repoHost({ kind: "local" }), db, /^pitr\.repositoryHost: expected a host reached over SSH .*got a local target/],
    ["the deployment's own host", repoHost({ kind: "ssh", host: "10.0.0.5", port: 2222 }), db, /^pitr\.repositoryHost: 10\.0\.0\.5 is the deployment's own host/],
    ["a deployment on this machine (the repository host could not reach it back)", repoHost({ kind: "ssh", host: "10.0.0.9" }), { kind: "local" }, /^pitr\.repositoryHost: .*deployment's own host must be an SSH host/],
    ["a host name that would inject configuration lines", repoHost({ kind: "ssh", host: "10.0.0.9\nrepo1-path=/etc" }), db, /^pitr\.repositoryHost: "10\.0\.0\.9\\nrepo1-path=\/etc" is not a host name/],
    ["a host name with shell metacharacters", repoHost({ kind: "ssh", host: "h;touch /tmp/x" }), db, /^pitr\.repositoryHost: "h;touch \/tmp\/x" is not a host name/],
    ["a relative directory", repoHost({ kind: "ssh", host: "10.0.0.9" }, "pitr"), db, /^pitr\.repositoryHost\.dir: /],
    ["no target", { repositoryHost: {} as never }, db, /^pitr\.repositoryHost: expected \{ target/],
  ])("refuses %s", (_, pitr, target, message) => {
    expect(() => validateServerArgs("main", args(pitr, target), postgresEngine)).toThrow(message);
  });
  it("refuses it on MariaDB, naming the field", () => {
    expect(() => validateServerArgs("main", args(repoHost({ kind: "ssh", host: "10.0.0.9" })), mariadbEngine({ flavor: "mariadb", requireSecureTransport: false }))).toThrow(/^pitr\.repositoryHost: a repository on another host is implemented for postgres only so far, not mariadb/);
  });
  it("the stack config takes a host name and a directory, and refuses anything else naming the key", () => {
    const config = (pitr: unknown) => ({ "dbstack:postgres": JSON.stringify({ main: { port: 7290, databases: { app: { owner: "app" } }, users: { app: { grants: { app: "owner" } } }, pitr } }) });
    expect(() => parseStackConfig(config({ repositoryHost: { host: "backup1", dir: "/srv/pitr" } }))).not.toThrow();
    expect(() => parseStackConfig(config({ repositoryHost: { host: "backup1", dir: "/srv/$(reboot)" } }))).toThrow(/postgres\.main\.pitr\.repositoryHost\.dir: expected a repository directory/);
    expect(() => parseStackConfig(config({ repositoryHost: { host: "backup1", user: "root" } }))).toThrow(/postgres\.main\.pitr\.repositoryHost.*user/);
    expect(() => parseStackConfig(config({ repositoryHost: { host: "" } }))).toThrow(/postgres\.main\.pitr\.repositoryHost\.host: expected the name of a host/);
  });
});

describe("the repository host's and the database host's configurations", () => {
  it("the repository host holds the repository, its retention and its cipher; the secret comes from the environment only", () => {
    const conf = renderRepoHostConf(spec);
    expect(conf.global).toContain("repo1-path=/srv/pitr/main\n");
    expect(conf.global).toContain("repo1-cipher-type=aes-256-cbc\n");
    expect(conf.global).toContain("cmd-ssh=/etc/dbstack-pitr/s-main.repository-ssh/ssh\n");
    expect(conf.stanza).toBe(["[s-main]", "pg1-host=10.0.0.5", "pg1-host-port=2222", "pg1-host-user=postgres", "pg1-host-config=/etc/dbstack-pitr/s-main.conf", "pg1-path=/var/lib/postgresql/15/main", "pg1-port=7290", "pg1-socket-path=/var/run/postgresql", ""].join("\n"));
    const setup = renderRepoHostSetup(spec);
    expect(setup).toContain(`printf 'repo1-cipher-pass=%s\\n\\n' "$DBSTACK_PITR_CIPHER"`);
    expect(setup).not.toMatch(/cipher-pass=[^%]/);
  });
  it("the database host points at the repository host and holds neither the repository's path nor the cipher", () => {
    const conf = renderPgbackrestConf(spec);
    expect(conf.global).toContain("repo1-host=10.0.0.9\nrepo1-host-user=pgbackrest\nrepo1-host-config=/etc/dbstack-pitr/s-main.repository.conf\ncmd-ssh=/etc/dbstack-pitr/s-main.ssh/ssh\n");
    expect(conf.global).not.toContain("repo1-path");
    expect(renderPitrSetup(spec, "/opt/tools")).not.toContain("repo1-cipher-pass");
  });
  it("backups and the stanza are made on the repository host (pgBackRest's rule), through the wrapper", () => {
    expect(renderPitrBackup(spec)).toContain(`pgb_repo --log-level-console=warn --type="$type" backup`);
    expect(renderPitrSetup(spec, "/opt/tools")).toContain("pgb_repo --log-level-console=warn stanza-create");
    expect(renderPitrSetup(spec, "/opt/tools")).toContain("'/etc/dbstack-pitr/s-main.ssh/ssh' -p 22 'pgbackrest@10.0.0.9' pgbackrest --config='/etc/dbstack-pitr/s-main.repository.conf'");
  });
  it("each host's ssh trusts only the peer's pinned host keys, with its own key and no password", () => {
    const w = renderSshWrapper("/etc/dbstack-pitr/s-main.ssh");
    for (const o of ["IdentitiesOnly=yes", "UserKnownHostsFile='/etc/dbstack-pitr/s-main.ssh/known_hosts'", "GlobalKnownHostsFile=/dev/null", "StrictHostKeyChecking=yes", "BatchMode=yes", "PasswordAuthentication=no"]) expect(w).toContain(o);
    expect(w).toContain("-i '/etc/dbstack-pitr/s-main.ssh/id_ed25519'");
  });
  it("each host accepts the peer's key for pgBackRest only, and checks the key line before writing it", () => {
    expect(PGBACKREST_FORCED_COMMAND).toMatch(/^restrict,command="\/usr\/bin\/pgbackrest /);
    const setup = renderRepoHostSetup(spec);
    expect(setup).toContain("printf '%s %s\\n' 'restrict,command=\"/usr/bin/pgbackrest ${SSH_ORIGINAL_COMMAND#* }\"' \"$DBSTACK_PITR_PEER_KEY\"");
    // The known_hosts lines bind the peer's pinned keys to its address and port.
    expect(setup).toContain("printf '%s %s\\n' '[10.0.0.5]:2222' \"$k\"");
    expect(setup).toContain('[[ "$DBSTACK_PITR_PEER_KEY" =~ ^ssh-ed25519');
  });
  it("the scripts are valid bash", () => {
    for (const s of [renderRepoHostSetup(spec), renderRepoHostRemove(spec, false), renderRepoHostRemove(spec, true), renderPitrSetup(spec, "/opt/tools"), renderPitrRemove(spec, false), renderPitrBackup(spec)]) {
      const r = spawnSync("bash", ["-n"], { input: s, encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
    }
  });
  it("destroy withdraws the logins and keeps the repository and its configuration unless data removal is allowed", () => {
    const kept = renderRepoHostRemove(spec, false);
    expect(kept).toContain("grep -v -F -- ' dbstack-pitr-s-main-db'");
    expect(kept).not.toContain("rm -rf '/srv/pitr/main'");
    expect(renderRepoHostRemove(spec, true)).toContain("rm -rf '/srv/pitr/main' '/etc/dbstack-pitr/s-main.repository.conf'");
    expect(renderPitrRemove(spec, false)).toContain("grep -v -F -- ' dbstack-pitr-s-main-repo'");
  });
});

describe("backups from a standby (pgBackRest's backup-standby)", () => {
  const standby = { name: "s1", host: "10.0.0.7", sshPort: 22, dataDirectory: "/var/lib/postgresql/15/s1", port: 7291, confFile: "/etc/dbstack-pitr/s-main.standby-s1.conf" };
  const withStandby = { ...spec, remote: { ...remote, standbys: [standby] } };
  it("the repository host names the standby as pg2 and takes backups from it", () => {
    const conf = renderRepoHostConf(withStandby);
    expect(conf.stanza).toContain("backup-standby=y\npg2-host=10.0.0.7\npg2-host-user=postgres\npg2-host-config=/etc/dbstack-pitr/s-main.standby-s1.conf\npg2-path=/var/lib/postgresql/15/s1\npg2-port=7291\npg2-socket-path=/var/run/postgresql\n");
    expect(renderRepoHostConf(spec).stanza).not.toContain("backup-standby");
  });
  it("the repository host trusts the standby's pinned host keys too", () => {
    expect(renderRepoHostSetup(withStandby)).toContain(`printf '%s %s\\n' '10.0.0.7' "$k"; done <<<"$DBSTACK_PITR_STANDBY_HOST_KEYS_0";`);
  });
  it("the standby's configuration names its own cluster and holds no secret; it accepts the repository host's key for pgBackRest only", () => {
    expect(renderStandbyConf(withStandby, standby)).toContain("[s-main]\npg1-path=/var/lib/postgresql/15/s1\npg1-port=7291\n");
    const setup = renderStandbySetup(withStandby, standby);
    expect(setup).not.toMatch(/cipher/);
    expect(setup).toContain(`printf '%s %s\\n' 'restrict,command="/usr/bin/pgbackrest \${SSH_ORIGINAL_COMMAND#* }"' "$DBSTACK_PITR_PEER_KEY"`);
    for (const s of [setup, renderStandbyRemove(withStandby, standby)]) expect(spawnSync("bash", ["-n"], { input: s, encoding: "utf8" }).status).toBe(0);
    expect(renderStandbyRemove(withStandby, standby)).toContain("grep -v -F -- ' dbstack-pitr-s-main-repo'");
  });
});
