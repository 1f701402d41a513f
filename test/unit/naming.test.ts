import { describe, expect, it } from "vitest";
import { childNameProblem, cronJobName, defaultBackupDir, defaultToolsDir, jobLogFile, stackHostPrefix } from "../../components/model/naming";

describe("host-level names", () => {
  const prefix = stackHostPrefix("dbstack", "dev", "/home/a/dbstack");

  it("carry the stack and a short id of the project, stack and clone", () => {
    expect(prefix).toMatch(/^dbstack-dev-[0-9a-f]{6}$/);
    expect(stackHostPrefix("dbstack", "dev", "/home/a/dbstack")).toBe(prefix);
    // Two clones, two stacks, two projects: never the same prefix.
    expect(stackHostPrefix("dbstack", "dev", "/home/b/dbstack")).not.toBe(prefix);
    expect(stackHostPrefix("dbstack", "prod", "/home/a/dbstack")).not.toBe(prefix);
    expect(stackHostPrefix("other", "dev", "/home/a/dbstack")).not.toBe(prefix);
  });

  it("carry the engine, so an SQLite database and a PostgreSQL deployment named alike share nothing", () => {
    expect(cronJobName(prefix, "sqlite", "app", "backup")).not.toBe(cronJobName(prefix, "postgres", "app", "backup"));
    expect(defaultToolsDir(prefix, "sqlite", "app")).not.toBe(defaultToolsDir(prefix, "mariadb", "app"));
    expect(cronJobName(prefix, "postgres", "app", "backup")).toBe(`${prefix}-postgres-app-backup`);
    expect(defaultToolsDir(prefix, "mariadb", "app")).toBe(`/usr/local/lib/${prefix}/mariadb-app`);
    expect(defaultBackupDir(prefix, "postgres", "app")).toBe(`/var/backups/${prefix}/postgres-app`);
    expect(jobLogFile(prefix, "postgres", "app", "maintenance")).toBe(`/var/log/${prefix}-postgres-app-maintenance.log`);
  });
});

describe("child resource names", () => {
  it("refuse a standby named like one of the deployment's steps, naming the reserved words", () => {
    expect(childNameProblem("standby", "tools")).toContain("reserved: backup, boot, ca, cluster");
    expect(childNameProblem("standby", "replica1")).toBeUndefined();
  });

  it("refuse a user whose password would take the replication password's name", () => {
    expect(childNameProblem("user", "replication")).toContain("choose another user name");
    expect(childNameProblem("user", "app")).toBeUndefined();
  });
});
