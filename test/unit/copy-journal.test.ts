import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { afterAll, describe, expect, it } from "vitest";
import { openConnection } from "../../components/copy/connections";
import { introspect } from "../../components/copy/introspect";
import { beginJournal, JOURNAL_TABLE, markJournal, readJournal, renderDropTables, renderJournalInsert, unfinishedCopies } from "../../components/copy/journal";
import { renderMariadbDefaults, renderMariadbDump, renderMariadbReplay, renderPgDump, renderPgRestore, targetKey } from "../../components/copy/safety";

const dir = mkdtempSync(join(tmpdir(), "dbstack-copy-journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("backup tool commands keep passwords off the command line", () => {
  it("pg_dump / pg_restore get the password in PGPASSWORD and a URL without it", () => {
    const url = "postgresql://app:s3cr%40t!@db.example:5433/shop?sslmode=verify-full";
    for (const c of [renderPgDump(url, "/b/target.dump"), renderPgRestore(url, "/b/target.dump")]) {
      expect(c.args.join(" ")).not.toContain("s3cr");
      expect(c.env).toEqual({ PGPASSWORD: "s3cr@t!" });
      expect(c.args).toContain("postgresql://app@db.example:5433/shop?sslmode=verify-full");
    }
    expect(renderPgDump(url, "/b/x").args.slice(0, 1)).toEqual(["-Fc"]);
    expect(renderPgRestore(url, "/b/x").args).toEqual(expect.arrayContaining(["--clean", "--if-exists", "--single-transaction"]));
  });

  it("without a password in the URL nothing is added (PGPASSWORD from the caller's environment still reaches the tool)", () => {
    expect(renderPgDump("postgresql://postgres@127.0.0.1:5671/app", "/f").env).toEqual({});
  });

  it("mariadb-dump and mariadb read the password from a defaults file, named first", () => {
    const dump = renderMariadbDump("/tmp/x/client.cnf", "shop");
    expect(dump.args[0]).toBe("--defaults-extra-file=/tmp/x/client.cnf");
    expect(dump.args).toEqual(expect.arrayContaining(["--single-transaction", "--routines"]));
    expect(dump.args.some((a) => a.startsWith("--password") || a.startsWith("-p"))).toBe(false);
    expect(renderMariadbReplay("/tmp/x/client.cnf", "shop").args[0]).toBe("--defaults-extra-file=/tmp/x/client.cnf");
  });

  it("the defaults file carries user, password (quoted, escaped), host, port and TLS", () => {
    const text = renderMariadbDefaults('mysql://app:pa%22ss%5Cw%23rd@10.0.0.5:3372/shop?ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/ca.pem');
    expect(text).toBe(['[client]', 'user="app"', 'password="pa\\"ss\\\\w#rd"', 'host="10.0.0.5"', "port=3372", 'ssl-ca="/etc/ca.pem"', "ssl", "ssl-verify-server-cert", ""].join("\n"));
  });
});

describe("targetKey", () => {
  it("names a server target <engine>-<host>-<port>-<db>, default ports filled in", () => {
    expect(targetKey("postgresql://u:p@db.example/shop")).toBe("postgres-db.example-5432-shop");
    expect(targetKey("mariadb://u@10.0.0.5:3372/app")).toBe("mariadb-10.0.0.5-3372-app");
  });
  it("cannot climb out of the backup root", () => {
    expect(targetKey("postgresql://u@h:1/..%2F..%2Fetc")).not.toContain("/");
    expect(targetKey("sqlite:///srv/app/data.db")).toMatch(/^sqlite-data\.db-[0-9a-f]{12}$/);
    expect(targetKey("sqlite:///srv/other/data.db")).not.toBe(targetKey("sqlite:///srv/app/data.db"));
  });
});

describe("journal", () => {
  it("uses each engine's placeholders", () => {
    const e = { id: "c1", source: "sqlite:///a.db", tables: ["t"], state: "copying" as const, startedAt: "2026-01-01T00:00:00Z" };
    expect(renderJournalInsert("postgres", e).sql).toContain("VALUES ($1, $2, $3, $4, $5, $6)");
    expect(renderJournalInsert("mariadb", e).sql).toContain("`dbstack_copy_journal`");
  });

  it("drops tables children first, whatever their foreign keys", () => {
    expect(renderDropTables("postgres", ["parent", "child"])).toEqual(['DROP TABLE IF EXISTS "child" CASCADE', 'DROP TABLE IF EXISTS "parent" CASCADE']);
    expect(renderDropTables("mariadb", ["a"])[0]).toBe("SET FOREIGN_KEY_CHECKS = 0");
  });

  it("records a copy, finds it unfinished until verified, and stays out of introspection", async () => {
    const path = join(dir, "t.db");
    new Database(path).exec("CREATE TABLE app (id INTEGER PRIMARY KEY)").close();
    const conn = await openConnection(path, { create: true });
    try {
      expect(await unfinishedCopies(conn)).toEqual([]);
      await beginJournal(conn, { id: "c1", source: "postgresql://u:***@h/db", tables: ["a", "b"], state: "copying", startedAt: new Date().toISOString() });
      expect((await unfinishedCopies(conn)).map((e) => [e.id, e.tables])).toEqual([["c1", ["a", "b"]]]);
      await markJournal(conn, "c1", "failed", "boom");
      expect((await unfinishedCopies(conn))[0].error).toBe("boom");
      await markJournal(conn, "c1", "verified");
      expect(await unfinishedCopies(conn)).toEqual([]);
      expect((await readJournal(conn))[0].state).toBe("verified");
      expect((await introspect(conn)).tables.map((t) => t.name)).toEqual(["app"]);
      expect((await conn.query(`SELECT name FROM sqlite_master WHERE name = '${JOURNAL_TABLE}'`)).length).toBe(1);
    } finally {
      await conn.close();
    }
  });
});
