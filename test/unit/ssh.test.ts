import { describe, expect, it } from "vitest";
import {
  hostKeyProblem,
  hostKeyRefusedMessage,
  isHostKeyRefusal,
  knownHostsPattern,
  parseHostKeys,
  renderKnownHosts,
  sshArguments,
} from "../../components/targets/ssh";

const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const EC = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WxYZGs=";

describe("parseHostKeys", () => {
  it("reads a bare key, a known_hosts line and ssh-keyscan output, dropping host patterns and comments", () => {
    expect(parseHostKeys(`${ED} root@db1`)).toEqual([ED]);
    expect(parseHostKeys(`10.0.0.5 ${ED}`)).toEqual([ED]);
    expect(parseHostKeys(`[10.0.0.5]:2222 ${ED}\n# 10.0.0.5:2222 SSH-2.0-OpenSSH_9.2\n[10.0.0.5]:2222 ${EC}\n`)).toEqual([EC, ED].sort());
    expect(parseHostKeys(`${ED}\n${ED}`)).toEqual([ED]);
  });

  it("finds nothing in text that holds no key", () => {
    expect(parseHostKeys("")).toEqual([]);
    expect(parseHostKeys("not a key")).toEqual([]);
    expect(parseHostKeys("ssh-ed25519 not*base64")).toEqual([]);
  });
});

describe("hostKeyProblem", () => {
  it("accepts keys and known_hosts lines, refuses the rest naming the line", () => {
    expect(hostKeyProblem(ED)).toBeUndefined();
    expect(hostKeyProblem(`db1 ${ED}\ndb1 ${EC}`)).toBeUndefined();
    expect(hostKeyProblem("   ")).toBe("it is empty");
    expect(hostKeyProblem(`${ED}\nSHA256:abcdef`)).toBe('a line is not a public key: "SHA256:abcdef"');
  });
});

describe("known_hosts", () => {
  it("binds the pinned keys to the address, with the port when it is not 22", () => {
    expect(knownHostsPattern("10.0.0.5", undefined)).toBe("10.0.0.5");
    expect(knownHostsPattern("10.0.0.5", 22)).toBe("10.0.0.5");
    expect(knownHostsPattern("db1.example", 2222)).toBe("[db1.example]:2222");
    expect(renderKnownHosts("db1", 2222, [ED, EC])).toBe(`[db1]:2222 ${ED}\n[db1]:2222 ${EC}\n`);
  });
});

describe("sshArguments", () => {
  const files = { keyFile: "/tmp/x/key", knownHostsFile: "/tmp/x/known_hosts" };
  const option = (args: string[], name: string) => args.filter((a, i) => args[i - 1] === "-o" && a.startsWith(`${name}=`));

  it("trusts only the pinned keys: strict checking, no other known_hosts, no learned keys", () => {
    const args = sshArguments({ host: "10.0.0.5" }, files);
    expect(option(args, "StrictHostKeyChecking")).toEqual(["StrictHostKeyChecking=yes"]);
    expect(option(args, "UserKnownHostsFile")).toEqual(["UserKnownHostsFile=/tmp/x/known_hosts"]);
    expect(option(args, "GlobalKnownHostsFile")).toEqual(["GlobalKnownHostsFile=/dev/null"]);
    expect(option(args, "UpdateHostKeys")).toEqual(["UpdateHostKeys=no"]);
    expect(option(args, "BatchMode")).toEqual(["BatchMode=yes"]);
    expect(args.join(" ")).not.toContain("accept-new");
  });

  it("logs in as root without sudo by default, through sudo -n for another user or when asked", () => {
    expect(sshArguments({ host: "h" }, files).slice(-2)).toEqual(["root@h", "bash -s"]);
    expect(sshArguments({ host: "h", user: "deploy", port: 2222 }, files).slice(-2)).toEqual(["deploy@h", "sudo -n bash -s"]);
    expect(sshArguments({ host: "h", user: "root", sudo: true }, files).slice(-2)).toEqual(["root@h", "sudo -n bash -s"]);
    const args = sshArguments({ host: "h", port: 2222 }, files);
    expect(args[args.indexOf("-p") + 1]).toBe("2222");
  });
});

describe("a refused host key", () => {
  it("is recognised from ssh's messages", () => {
    expect(isHostKeyRefusal("@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n")).toBe(true);
    expect(isHostKeyRefusal("No ED25519 host key is known for [10.0.0.5]:2222 and you have requested strict checking.\nHost key verification failed.")).toBe(true);
    expect(isHostKeyRefusal("ssh: connect to host 10.0.0.5 port 22: Connection refused")).toBe(false);
    expect(isHostKeyRefusal("root@10.0.0.5: Permission denied (publickey).")).toBe(false);
  });

  it("is reported naming the host, the config key to set, and that nothing was sent", () => {
    const recorded = hostKeyRefusedMessage("role app in PostgreSQL cluster main", { host: "10.0.0.5", port: 2222 }, { declared: false, configKey: "dbstack:hosts.db1.hostKey" });
    expect(recorded).toContain("role app in PostgreSQL cluster main: refused SSH host [10.0.0.5]:2222");
    expect(recorded).toContain("recorded in the stack's state on first contact");
    expect(recorded).toContain("Nothing was sent to the host");
    expect(recorded).toContain("set dbstack:hosts.db1.hostKey to it");
    const declared = hostKeyRefusedMessage("x", { host: "db1" }, { declared: true, configKey: "dbstack:hosts.db1.hostKey" });
    expect(declared).toContain("refused SSH host db1: the key it presents does not match the key declared in dbstack:hosts.db1.hostKey");
  });
});
