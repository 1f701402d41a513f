/**
 * Engine parameters by policy, through the real engine: keys dbstack owns and parameters that
 * disable authentication or log secrets are refused at preview, promptly and naming the field;
 * a statement log allowed through `unsafeParameters` never sees a password; a declared version
 * that is not the installed one is an error naming `version`.
 *
 * Owns: ports 5577 (PostgreSQL) and 3377 (MariaDB) on this machine; cluster and instance names
 * starting `itpolicy`. No SSH test hosts, no containers.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import { existsSync, readFileSync, rmSync, statSync } from "fs";
import { join } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { sandbox, setConfig } from "./harness";

const box = sandbox("policy");
const MDB_PORT = 3377;
const PG_PORT = 5577;
async function configure(stack: Stack, config: Record<string, unknown>): Promise<void> {
  await setConfig(stack, config);
}

/** Each stack with a config it can be deployed with, so that cleanup can remove what it made. */
const stacks = new Map<Stack, Record<string, unknown>>();

afterAll(async () => {
  for (const [stack, config] of stacks) {
    // Destroy runs the delete steps recorded by the last up: allowDataRemoval must reach them through an up first.
    await setConfig(stack, { ...config, allowDataRemoval: true }).catch(() => undefined);
    await stack.up().catch(() => undefined);
    await stack.destroy().catch(() => undefined);
    await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
  }
  rmSync(box.dir, { recursive: true, force: true });
}, 300_000);

/** A stack whose cleanup deploys `cleanup` (a valid config of the same deployments) before destroying. */
async function newStack(name: string, config: Record<string, unknown>, cleanup = config): Promise<Stack> {
  const stack = await box.stack(`${name}-${process.pid}`, config);
  stacks.set(stack, cleanup);
  return stack;
}

/** What was appended to `file` since `offset` bytes (a log kept from an earlier run does not count). */
function appendedSince(file: string, offset: number): string {
  return readFileSync(file).subarray(offset).toString("utf8");
}

/** The size of `file`, 0 when it does not exist yet. */
function sizeOf(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

function mariadb(over: Record<string, unknown> = {}) {
  return {
    mariadb: {
      main: {
        port: MDB_PORT,
        instanceName: "itpolicy",
        hostFacts: { memoryMb: 1024, cpus: 2, storage: "ssd" },
        maxConnections: 20,
        listenAddresses: ["127.0.0.1"],
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
        toolsDir: join(box.dir, "mdb-tools"),
        ...over,
      },
    },
  };
}

/** The error a preview fails with, and how long it took. */
async function previewError(stack: Stack): Promise<{ message: string; seconds: number }> {
  const start = Date.now();
  try {
    await stack.preview();
  } catch (err) {
    return { message: String((err as Error).message), seconds: (Date.now() - start) / 1000 };
  }
  throw new Error("expected the preview to fail");
}

/** The password of `user` in the deployment's URLs (outputs are decrypted by the automation API). */
async function passwordOf(stack: Stack, engine: "mariadb" | "postgres", user: string): Promise<string> {
  const outputs = await stack.outputs();
  const text = JSON.stringify(outputs[engine].value);
  const m = new RegExp(`(?:mysql|postgresql)://${user}:([^@"]+)@`).exec(text);
  if (!m) throw new Error(`no URL of user ${user} in the ${engine} outputs`);
  return decodeURIComponent(m[1]);
}

function mariadbRoot(sql: string): string {
  return execFileSync("mariadb", ["--no-defaults", "--protocol=socket", "--socket=/run/mysqld/dbstack-itpolicy.sock", "-uroot", "--batch", "--skip-column-names", "-e", sql], { encoding: "utf8" }).trim();
}

describe("MariaDB parameters by policy, through the real engine", () => {
  let stack: Stack;

  it("deploys the instance the other cases change", async () => {
    stack = await newStack("mdb", mariadb());
    await stack.up();
    expect(mariadbRoot("SELECT @@port")).toBe(String(MDB_PORT));
  }, 400_000);

  it.each([
    [{ parameters: { bind_address: "0.0.0.0" } }, /parameters\.bind_address: dbstack sets it from `listenAddresses`/],
    [{ parameters: { skip_grant_tables: "ON" } }, /parameters\.skip_grant_tables: disables authentication.*unsafeParameters` lists "skip_grant_tables"/],
    [{ parameters: { "loose_plugin_load_add": "auth_ed25519" } }, /parameters\.loose_plugin_load_add \(read as plugin_load_add\): loads code/],
    [{ parameters: { init_file: "/tmp/x.sql" } }, /parameters\.init_file: runs a file of SQL as root/],
    [{ version: "10.6" }, /version: declared "10\.6", but the MariaDB server installed on this machine is 10\.11/],
  ])("%j: the preview fails promptly, naming the field, and nothing changes", async (over, message) => {
    await configure(stack, mariadb(over));
    const { message: got, seconds } = await previewError(stack);
    expect(got).toMatch(message);
    // The version is only known once the host was read: that error is thrown in an apply, which
    // took Pulumi's handler 110-130 s to report (Node's inspect of its stack; stacks/failFast.ts).
    expect(seconds).toBeLessThan(60);
    expect(got).not.toContain("error serializing property");
    expect(got).not.toContain("program exited with non-zero exit code");
    // The running instance kept its own settings.
    expect(mariadbRoot("SELECT @@skip_grant_tables, @@bind_address")).toBe("0\t127.0.0.1");
  }, 200_000);

  it("with general_log allowed through unsafeParameters, a password rotation leaves no password in the general log", async () => {
    await configure(stack, mariadb({ parameters: { general_log: "ON" }, unsafeParameters: ["general_log"] }));
    await stack.up();
    expect(mariadbRoot("SELECT @@general_log")).toBe("1");
    const logFile = mariadbRoot("SELECT @@general_log_file");
    const log = logFile.startsWith("/") ? logFile : join(mariadbRoot("SELECT @@datadir"), logFile);
    const before = await passwordOf(stack, "mariadb", "app");
    const offset = sizeOf(log);
    await configure(stack, mariadb({ parameters: { general_log: "ON" }, unsafeParameters: ["general_log"], users: { app: { grants: { app: "owner" }, passwordRotation: 1 } } }));
    await stack.up();
    const after = await passwordOf(stack, "mariadb", "app");
    expect(after).not.toBe(before);
    const text = appendedSince(log, offset);
    // The log is on and saw the rotation's sessions (the query for accounts to drop runs in its own session)...
    expect(text).toContain("DROP USER");
    expect(text).toContain("sql_log_off");
    // ...but never the statements that carry a password.
    expect(text.includes(after), "the log holds the password").toBe(false);
    expect(text.includes(before), "the log holds the password").toBe(false);
    expect(text).not.toMatch(/IDENTIFIED BY/);
  }, 400_000);
});

describe("a declared version the host does not run, on a new stack", () => {
  it("MariaDB: the preview fails naming `version` before anything is made (the host is read at preview)", async () => {
    const config = mariadb({ instanceName: "itpolicyver", port: MDB_PORT + 1, toolsDir: join(box.dir, "mdb-tools-ver"), version: "10.6" });
    // Never deployed: its cleanup up fails on the same version, so nothing is created.
    const stack = await newStack("mdbver", config);
    const { message } = await previewError(stack);
    expect(message).toMatch(/version: declared "10\.6", but the MariaDB server installed on this machine is 10\.11/);
    expect(existsSync("/etc/mysql/dbstack/itpolicyver"), "a config directory was made").toBe(false);
    expect(existsSync(join(box.dir, "mdb-tools-ver")), "a tools directory was made").toBe(false);
  }, 200_000);
});

describe("secrets in plaintext config, through the real engine", () => {
  it("a MariaDB password and TLS key in plaintext fail the preview naming the fields, never the values; as a secret they pass", async () => {
    const SECRET = "Plaintext-Pa55word-x9";
    const KEY = "-----BEGIN PRIVATE KEY-----plaintext";
    // An instance of its own: the preview with the values as a secret reads the host, where another stack of this file owns itpolicy.
    const config = mariadb({ instanceName: "itpolicyplain", toolsDir: join(box.dir, "mdb-tools-plain"), users: { app: { grants: { app: "owner" }, password: SECRET } }, tls: { certificate: "CERT", privateKey: KEY } });
    // Never deployed: its cleanup up fails on the same plaintext, so nothing is created.
    const stack = await newStack("plain", config);
    const { message } = await previewError(stack);
    expect(message).toContain("dbstack:mariadb: holds secrets (dbstack:mariadb.main.tls.privateKey, dbstack:mariadb.main.users.app.password) in plaintext");
    expect(message.includes(SECRET) || message.includes(KEY), "the error echoes a secret").toBe(false);
    expect(message).not.toContain("program exited with non-zero exit code");
    // The same values set as a secret (pulumi config set --secret): the preview goes on.
    await stack.setConfig("dbstack:mariadb", { value: JSON.stringify(config.mariadb), secret: true });
    const preview = await stack.preview();
    expect(preview.stdout).not.toContain("in plaintext");
  }, 200_000);
});

describe("PostgreSQL parameters by policy, through the real engine", () => {
  const postgres = (over: Record<string, unknown> = {}) => ({
    postgres: {
      main: {
        port: PG_PORT,
        instanceName: "itpolicy",
        hostFacts: { memoryMb: 1024, cpus: 2, storage: "ssd" },
        maxConnections: 20,
        databases: { app: { owner: "app" } },
        users: { app: { grants: { app: "owner" } } },
        toolsDir: join(box.dir, "pg-tools"),
        ...over,
      },
    },
  });

  it("refuses a listen_addresses override and an unknown preload library at preview, naming the field", async () => {
    const stack = await newStack("pgrefused", postgres({ parameters: { listen_addresses: "'*'" } }));
    expect((await previewError(stack)).message).toMatch(/parameters\.listen_addresses: dbstack sets it from `listenAddresses`/);
    await configure(stack, postgres({ parameters: { shared_preload_libraries: "'/tmp/evil'" } }));
    expect((await previewError(stack)).message).toMatch(/parameters\.shared_preload_libraries: loads \/tmp\/evil into the server.*unsafeParameters/);
  }, 200_000);

  it("with log_statement=all (accepted with a warning), a password rotation leaves no password in the server log", async () => {
    const config = (rotation: number) => postgres({ parameters: { log_statement: "all" }, users: { app: { grants: { app: "owner" }, passwordRotation: rotation } } });
    const stack = await newStack("pglog", config(0));
    const first = await stack.up();
    expect(first.stdout).toMatch(/log_statement all logs the text of statements/);
    const log = "/var/log/postgresql/postgresql-15-itpolicy.log";
    const before = await passwordOf(stack, "postgres", "app");
    const offset = sizeOf(log);
    await configure(stack, config(1));
    await stack.up();
    const after = await passwordOf(stack, "postgres", "app");
    expect(after).not.toBe(before);
    const text = appendedSince(log, offset);
    // The server logged statements (log_statement = all took effect)...
    expect(text).toMatch(/LOG: {2}statement: /);
    // ...but not the role statements with their passwords.
    expect(text.includes(after), "the log holds the password").toBe(false);
    expect(text.includes(before), "the log holds the password").toBe(false);
    expect(text).not.toMatch(/PASSWORD '/);
    // A version the cluster does not run: the preview fails naming `version` (the host is read at
    // preview), before the install step would add another major version's packages.
    await configure(stack, { postgres: { main: { ...config(1).postgres.main, version: 16 } } });
    const { message } = await previewError(stack);
    expect(message).toContain("version: PostgreSQL 16 is declared (or the newest installed), but cluster itpolicy exists in PostgreSQL 15");
    await configure(stack, config(1));
  }, 400_000);
});
