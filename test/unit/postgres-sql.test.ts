import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDatabaseSpec, renderDatabaseSql } from "../../components/engines/postgres/sql/databases";
import { renderGrantsSql } from "../../components/engines/postgres/sql/grants";
import {
  checkIdentifier,
  dollarQuote,
  PG_IDENTIFIER,
  quoteIdent,
  quoteLiteral,
} from "../../components/engines/postgres/sql/identifiers";
import { renderDropRoleSql, renderReplicationRoleSql, renderRoleSql } from "../../components/engines/postgres/sql/roles";
import type { DatabaseSpec, UserSpec } from "../../components/engines/postgres/spec";
import { ArgumentError } from "../../components/validate";
import { startPostgres, type TestPostgres } from "./support/postgres";

const HOSTILE = [`x"; DROP TABLE t; --`, `Robert'); --`, "App", "a".repeat(64), "", "1abc", "a b", "a-b", "naïve", "a\0b", "a\nb", "$x", "a;b"];

const base = { encoding: "UTF8", locale: "C.UTF-8", dateStyle: "ISO, MDY", timeZone: "UTC", extensions: [] as string[] };
const appDb: DatabaseSpec = { ...base, name: "app", owner: "app", extensions: ["pgcrypto"] };
/** The seed's database: UTF8 and DateStyle 'ISO, DMY'. */
const seedDb: DatabaseSpec = { ...base, name: "multimax_db", owner: "multimax", dateStyle: "ISO, DMY", timeZone: "America/Sao_Paulo", extensions: ["pg_trgm"] };
const user = (name: string, grants: UserSpec["grants"], connectionLimit = -1): UserSpec => ({ name, grants, connectionLimit });

describe("identifiers", () => {
  it("accepts lower-case names of up to 63 characters", () => {
    for (const name of ["app", "_x", "a1_b2", "a".repeat(63)]) {
      expect(PG_IDENTIFIER.test(name)).toBe(true);
      expect(() => checkIdentifier("databases", name)).not.toThrow();
    }
  });

  it.each(HOSTILE)("rejects %j, naming the field and the value", (value) => {
    expect(() => checkIdentifier("users.x.name", value)).toThrow(ArgumentError);
    try {
      checkIdentifier("users.x.name", value);
    } catch (e) {
      expect((e as Error).message.startsWith("users.x.name: ")).toBe(true);
      expect((e as Error).message).toContain(JSON.stringify(value));
    }
  });

  it("quotes identifiers and literals, doubling the quote", () => {
    expect(quoteIdent("app")).toBe(`"app"`);
    expect(quoteIdent(`x"; DROP TABLE t; --`)).toBe(`"x""; DROP TABLE t; --"`);
    expect(quoteLiteral("it's")).toBe(`'it''s'`);
    expect(quoteLiteral(`Robert'); --`)).toBe(`'Robert''); --'`);
    expect(quoteLiteral(`back\\slash`)).toBe(`'back\\slash'`);
    expect(() => quoteIdent("a\0b")).toThrow(/NUL/);
    expect(() => quoteLiteral("a\0b")).toThrow(/NUL/);
  });

  it("dollar-quotes with a tag the body does not contain", () => {
    expect(dollarQuote("BEGIN END")).toBe("$dbstack$\nBEGIN END\n$dbstack$");
    const quoted = dollarQuote("x $dbstack$ y $dbstack_1$");
    expect(quoted.startsWith("$dbstack_2$\n")).toBe(true);
    expect(quoted.endsWith("\n$dbstack_2$")).toBe(true);
  });
});

describe("rendered SQL (text)", () => {
  const shopDb: DatabaseSpec = { ...base, name: "shop_db", owner: "shop_owner", extensions: ["shop_ext"] };
  const reader = user("shop_reader", { shop_db: "readonly" });

  /** The script with comments, quoted identifiers and string literals removed: what is left is SQL keywords and psql commands. */
  function bare(sql: string): string {
    return sql
      .split("\n")
      .filter((line) => !line.trimStart().startsWith("--"))
      .join("\n")
      .replace(/\$dbstack\$[\s\S]*?\$dbstack\$/g, (block) => block.replace(/'(?:[^']|'')*'/g, "''"))
      .replace(/"(?:[^"]|"")*"/g, '""')
      .replace(/'(?:[^']|'')*'/g, "''");
  }

  it("is deterministic", () => {
    const render = () => [
      renderDatabaseSql(structuredClone(seedDb)),
      renderRoleSql(structuredClone(reader), "PW_READER"),
      renderReplicationRoleSql("replicator", "PW_REPL"),
      renderGrantsSql(structuredClone(reader), structuredClone([shopDb, seedDb])),
      renderDropRoleSql("shop_reader", [shopDb, seedDb]),
    ];
    expect(render()).toEqual(render());
  });

  it("quotes every name it renders", () => {
    const scripts = [
      renderDatabaseSql(shopDb),
      renderRoleSql(reader, "PW_READER"),
      renderGrantsSql(reader, [shopDb]),
      renderDropRoleSql("shop_reader", [shopDb]),
    ];
    for (const sql of scripts) {
      expect(bare(sql)).not.toMatch(/shop_(db|owner|reader|ext)/);
    }
    const db = renderDatabaseSql(shopDb);
    expect(db).toContain(`ALTER DATABASE "shop_db" OWNER TO "shop_owner";`);
    expect(db).toContain(`ALTER DATABASE "shop_db" SET datestyle TO 'ISO, MDY';`);
    expect(db).toContain(`REVOKE CONNECT, TEMPORARY ON DATABASE "shop_db" FROM PUBLIC;`);
    expect(db).toContain(`\\connect "shop_db"`);
    expect(db).toContain(`CREATE EXTENSION IF NOT EXISTS "shop_ext";`);
    expect(db).toMatch(/SELECT format\('CREATE DATABASE %I OWNER %I ENCODING %L LC_COLLATE %L LC_CTYPE %L TEMPLATE template0',\s+'shop_db', 'shop_owner', 'UTF8', 'C.UTF-8', 'C.UTF-8'\)/);
    expect(db).toContain("\\gexec");
  });

  it("renders the seed's DateStyle and time zone as literals", () => {
    const sql = renderDatabaseSql(seedDb);
    expect(sql).toContain(`ALTER DATABASE "multimax_db" SET datestyle TO 'ISO, DMY';`);
    expect(sql).toContain(`ALTER DATABASE "multimax_db" SET timezone TO 'America/Sao_Paulo';`);
  });

  it("reads the password from the environment, never writing one", () => {
    const sql = renderRoleSql(user("app", { app: "owner" }, 20), "DBSTACK_PW_APP");
    expect(sql).toContain("\\getenv dbstack_password DBSTACK_PW_APP");
    expect(sql).toContain(
      `ALTER ROLE "app" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 20 VALID UNTIL 'infinity' PASSWORD :'dbstack_password';`,
    );
    expect(renderReplicationRoleSql("replicator", "PW")).toMatch(/ALTER ROLE "replicator" WITH LOGIN REPLICATION NOSUPERUSER .* PASSWORD :'dbstack_password';/);
  });

  it.each(HOSTILE)("rejects the name %j in every field before rendering", (bad) => {
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ArgumentError);
        return (e as Error).message;
      }
      throw new Error("expected it to throw");
    };
    expect(message(() => renderDatabaseSql({ ...appDb, name: bad }))).toMatch(/^databases: /);
    expect(message(() => renderDatabaseSql({ ...appDb, owner: bad }))).toMatch(/^databases\.app\.owner: /);
    expect(message(() => renderRoleSql(user(bad, {}), "PW"))).toMatch(/^users: /);
    expect(message(() => renderReplicationRoleSql(bad, "PW"))).toMatch(/^replication role: /);
    expect(message(() => renderGrantsSql(user("ro", { [bad]: "readonly" }), [appDb]))).toMatch(/^users\.ro\.grants: /);
    expect(message(() => renderGrantsSql(user(bad, {}), [appDb]))).toMatch(/^users: /);
    expect(message(() => renderDropRoleSql(bad, [appDb]))).toMatch(/^users: /);
    expect(message(() => renderDropRoleSql("ro", [{ name: bad, owner: "app" }]))).toMatch(/^databases: /);
    if (bad !== "") expect(message(() => renderDatabaseSql({ ...appDb, name: bad }))).toContain(JSON.stringify(bad));
  });

  it("rejects hostile values in the other fields", () => {
    const cases: [() => unknown, RegExp][] = [
      [() => renderDatabaseSql({ ...appDb, extensions: [`pgcrypto"; DROP DATABASE app; --`] }), /^databases\.app\.extensions\[0\]: /],
      [() => renderDatabaseSql({ ...appDb, encoding: "UTF8' OWNER postgres --" }), /^databases\.app\.encoding: /],
      [() => renderDatabaseSql({ ...appDb, locale: "C'; DROP DATABASE x; --" }), /^databases\.app\.locale: /],
      [() => renderDatabaseSql({ ...appDb, dateStyle: "ISO'; RESET ALL; --" }), /^databases\.app\.dateStyle: /],
      [() => renderDatabaseSql({ ...appDb, dateStyle: "" }), /^databases\.app\.dateStyle: /],
      [() => renderDatabaseSql({ ...appDb, timeZone: "UTC'; --" }), /^databases\.app\.timeZone: /],
      [() => renderDatabaseSql({ ...appDb, name: "template1" }), /^databases: "template1" is a database PostgreSQL itself needs/],
      [() => renderDatabaseSql({ ...appDb, name: "postgres" }), /^databases: /],
      [() => renderRoleSql(user("postgres", {}), "PW"), /^users: "postgres" is reserved/],
      [() => renderRoleSql(user("pg_monitor", {}), "PW"), /^users: "pg_monitor" is reserved/],
      [() => renderRoleSql(user("public", {}), "PW"), /^users: /],
      [() => renderRoleSql(user("app", {}), "PW; rm -rf /"), /^passwordEnv: /],
      [() => renderRoleSql(user("app", {}, 1.5), "PW"), /^users\.app\.connectionLimit: /],
      [() => renderRoleSql(user("app", {}, -2), "PW"), /^users\.app\.connectionLimit: /],
      [() => renderRoleSql({ name: "app", grants: {}, connectionLimit: "5" as unknown as number }, "PW"), /^users\.app\.connectionLimit: /],
      [() => renderRoleSql(user("app", { app: "superuser" as never }), "PW"), /^users\.app\.grants\.app: expected owner, readwrite or readonly/],
    ];
    for (const [render, message] of cases) expect(render).toThrow(message);
  });

  it("accepts what the seed and contrib need", () => {
    expect(() => checkDatabaseSpec({ ...seedDb, extensions: ["uuid-ossp", "pg_trgm"] })).not.toThrow();
    expect(() => checkDatabaseSpec({ ...seedDb, dateStyle: "SQL, DMY", locale: "pt_BR.UTF-8", timeZone: "UTC+3" })).not.toThrow();
  });

  it("refuses grants on undeclared databases, naming users.<name>.grants.<db>", () => {
    expect(() => renderGrantsSql(user("ro", { nosuch: "readonly" }), [appDb])).toThrow(
      /^users\.ro\.grants\.nosuch: database "nosuch" is not declared in databases/,
    );
  });

  it("refuses a database owner granted less than owner on its own database", () => {
    expect(() => renderGrantsSql(user("app", { app: "readonly" }), [appDb])).toThrow(/^users\.app\.grants\.app: app owns database app/);
  });

  it("refuses an owner grant that would reach another database of the same owner", () => {
    const other = { ...appDb, name: "app_reports" };
    expect(() => renderGrantsSql(user("admin", { app: "owner", app_reports: "readonly" }), [appDb, other])).toThrow(
      /^users\.admin\.grants\.app: owner makes admin a member of role app, which also owns database app_reports, where admin is granted readonly/,
    );
    expect(() => renderGrantsSql(user("admin", { app: "owner", app_reports: "owner" }), [appDb, other])).not.toThrow();
  });

  it("refuses to drop the owner of a database", () => {
    expect(() => renderDropRoleSql("app", [appDb])).toThrow(/^users\.app: cannot remove role app, it owns database app/);
  });

  it("revokes on every database, granting only on the declared ones", () => {
    const sql = renderGrantsSql(user("ro", { app: "readonly" }), [appDb, seedDb]);
    expect(sql).toContain(`ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA public GRANT SELECT ON TABLES TO "ro";`);
    expect(sql).toContain(`ALTER DEFAULT PRIVILEGES FOR ROLE "multimax" IN SCHEMA public REVOKE ALL ON TABLES FROM "ro";`);
    expect(sql).toContain(`REVOKE ALL ON DATABASE "multimax_db" FROM "ro";`);
    expect(sql).not.toContain(`GRANT CONNECT ON DATABASE "multimax_db"`);
    expect(sql).toContain(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO "ro";`);
    expect(sql).toContain(`ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA public GRANT SELECT ON SEQUENCES TO "ro";`);
    expect(sql).not.toMatch(/INSERT|USAGE, SELECT/);
    const rw = renderGrantsSql(user("rw", { app: "readwrite" }), [appDb]);
    expect(rw).toContain(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "rw";`);
    expect(rw).toContain(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "rw";`);
  });
});

describe("rendered SQL against PostgreSQL 15", () => {
  let pg: TestPostgres;
  const databases = [appDb, seedDb];
  const users: Record<string, UserSpec> = {
    app: user("app", { app: "owner" }),
    multimax: user("multimax", { multimax_db: "owner" }),
    admin: user("admin", { app: "owner" }),
    rw: user("rw", { app: "readwrite" }),
    ro: user("ro", { app: "readonly" }, 5),
  };
  /** Hostile on purpose: quotes, backslashes, psql's colon, shell characters. */
  const passwords: Record<string, string> = {
    app: `app-pa'ss"w\\ord :x $HOME`,
    multimax: "multimax-secret-1",
    admin: "admin-secret-1",
    rw: "rw secret; DROP ROLE rw; --",
    ro: "ro-secret-ümlaut-1",
    replicator: "replicator-secret-1",
  };
  const envName = (name: string) => `DBSTACK_PW_${name.toUpperCase()}`;
  const passwordEnv = () => Object.fromEntries(Object.entries(passwords).map(([name, pw]) => [envName(name), pw]));
  const rendered: string[] = [];

  /** Runs a rendered script as deploys do: psql -X -v ON_ERROR_STOP=1 as postgres, script on stdin. */
  function runScript(sql: string, env: Record<string, string> = passwordEnv()) {
    rendered.push(sql);
    return pg.psql(sql, { env });
  }
  function mustRunScript(sql: string, env?: Record<string, string>) {
    const r = runScript(sql, env);
    if (r.code !== 0) throw new Error(`script failed (exit ${r.code}):\n${r.stderr}\n${sql}`);
    return r;
  }
  const as = (name: string, db: string, sql: string, password = passwords[name]) =>
    pg.psql(sql, { user: name, db, env: { PGPASSWORD: password } });
  const queryAs = (name: string, db: string, sql: string) => {
    const r = as(name, db, sql);
    if (r.code !== 0) throw new Error(`psql as ${name} on ${db} failed: ${r.stderr}`);
    return r.stdout.trim();
  };

  function deploy() {
    for (const u of Object.values(users)) mustRunScript(renderRoleSql(u, envName(u.name)));
    for (const db of databases) mustRunScript(renderDatabaseSql(db));
    for (const u of Object.values(users)) mustRunScript(renderGrantsSql(u, databases));
  }

  /** Everything the scripts converge, ACLs sorted (revoking then granting may reorder them). */
  function snapshot(): string {
    const acl = (column: string) => `array(SELECT x::text FROM unnest(${column}) x ORDER BY 1)`;
    const cluster = pg.query(`
      SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil
        FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1;
      SELECT r.rolname, u.rolname, m.admin_option FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
       WHERE r.rolname !~ '^pg_' ORDER BY 1, 2;
      SELECT datname, pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype, ${acl("datacl")} FROM pg_database ORDER BY 1;
      SELECT coalesce(d.datname, ''), coalesce(r.rolname, ''), s.setconfig FROM pg_db_role_setting s
        LEFT JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole ORDER BY 1, 2;`);
    const perDb = databases.map((db) =>
      pg.query(
        `SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner), ${acl("c.relacl")}
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1;
         SELECT nspname, ${acl("nspacl")} FROM pg_namespace WHERE nspname = 'public';
         SELECT pg_get_userbyid(defaclrole), defaclnamespace::regnamespace, defaclobjtype, ${acl("defaclacl")} FROM pg_default_acl ORDER BY 1, 2, 3;
         SELECT extname, extversion FROM pg_extension ORDER BY 1;`,
        { db: db.name },
      ),
    );
    return [cluster, ...perDb].join("\n---\n");
  }

  beforeAll(async () => {
    pg = await startPostgres();
    pg.query("CREATE EXTENSION pg_stat_statements;");
  });
  afterAll(() => pg?.stop());

  it("deploys the cluster, and a second and third run change nothing and do not fail", () => {
    deploy();
    const first = snapshot();
    expect(first).toContain("multimax_db|multimax|UTF8|C.UTF-8|C.UTF-8");
    deploy();
    deploy();
    expect(snapshot()).toEqual(first);
  });

  it("creates the databases with the declared encoding, locale, DateStyle, time zone and extensions", () => {
    expect(pg.query("SELECT pg_encoding_to_char(encoding), datcollate, datctype, pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'")).toBe(
      "UTF8|C.UTF-8|C.UTF-8|app",
    );
    // A new session in the seed's database: its owner's, and the superuser's.
    expect(queryAs("multimax", "multimax_db", "SHOW datestyle; SHOW timezone; SELECT '03/04/2025'::date;")).toBe(
      "ISO, DMY\nAmerica/Sao_Paulo\n2025-04-03",
    );
    expect(pg.query("SHOW datestyle", { db: "multimax_db" })).toBe("ISO, DMY");
    expect(pg.query("SHOW datestyle", { db: "app" })).toBe("ISO, MDY");
    expect(pg.query("SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'", { db: "app" })).toBe("pgcrypto");
    expect(pg.query("SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'pg_trgm'", { db: "multimax_db" })).toBe("public");
  });

  it("sets the role attributes and connection limit, never superuser", () => {
    expect(pg.query("SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolconnlimit FROM pg_roles WHERE rolname = 'ro'")).toBe(
      "t|f|f|f|f|f|5",
    );
    pg.query("ALTER ROLE rw SUPERUSER CREATEDB CONNECTION LIMIT 3");
    mustRunScript(renderRoleSql(users.rw, envName("rw")));
    expect(pg.query("SELECT rolsuper, rolcreatedb, rolconnlimit FROM pg_roles WHERE rolname = 'rw'")).toBe("f|f|-1");
  });

  it("gives the owner everything, readonly SELECT only and readwrite INSERT, UPDATE, DELETE", () => {
    queryAs("app", "app", "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL); INSERT INTO notes (body) VALUES ('first');");
    expect(queryAs("ro", "app", "SELECT body FROM notes")).toBe("first");
    const denied = as("ro", "app", "INSERT INTO notes (body) VALUES ('from ro')");
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("permission denied for table notes");
    // readonly reads sequences but cannot advance them.
    expect(queryAs("ro", "app", "SELECT last_value FROM notes_id_seq")).toBe("1");
    expect(as("ro", "app", "SELECT nextval('notes_id_seq')").stderr).toContain("permission denied for sequence notes_id_seq");
    queryAs("rw", "app", "INSERT INTO notes (body) VALUES ('from rw'); UPDATE notes SET body = 'first!' WHERE body = 'first';");
    expect(queryAs("ro", "app", "SELECT string_agg(body, ',' ORDER BY id) FROM notes")).toBe("first!,from rw");
    expect(as("rw", "app", "DROP TABLE notes").stderr).toContain("must be owner of table notes");
    expect(as("rw", "app", "CREATE TABLE mine (x int)").stderr).toContain("permission denied for schema public");
    expect(as("ro", "app", "CREATE TEMP TABLE t (x int)").stderr).toContain("permission denied to create temporary tables");
  });

  it("covers tables the owner creates after the grants (default privileges)", () => {
    queryAs("app", "app", "CREATE TABLE later (id bigserial PRIMARY KEY, v text); INSERT INTO later (v) VALUES ('owner');");
    expect(queryAs("ro", "app", "SELECT v FROM later")).toBe("owner");
    queryAs("rw", "app", "INSERT INTO later (v) VALUES ('rw')");
    expect(queryAs("ro", "app", "SELECT count(*) FROM later")).toBe("2");
    expect(as("ro", "app", "INSERT INTO later (v) VALUES ('ro')").stderr).toContain("permission denied for table later");
  });

  it("makes a user granted owner a member of the owner role", () => {
    expect(pg.query("SELECT pg_has_role('admin', 'app', 'MEMBER'), pg_has_role('rw', 'app', 'MEMBER')")).toBe("t|f");
    queryAs("admin", "app", "INSERT INTO notes (body) VALUES ('from admin'); ALTER TABLE notes ADD COLUMN tag text; CREATE TABLE admin_made (x int); INSERT INTO admin_made VALUES (42); GRANT SELECT ON admin_made TO multimax;");
    expect(as("admin", "multimax_db", "SELECT 1").stderr).toContain("permission denied for database");
  });

  it("refuses to connect to a database the user has no grant on", () => {
    for (const name of ["rw", "ro", "admin"]) {
      const r = as(name, "multimax_db", "SELECT 1");
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`permission denied for database "multimax_db"`);
    }
    const r = as("multimax", "app", "SELECT 1");
    expect(r.stderr).toContain(`permission denied for database "app"`);
  });

  it("narrowing readwrite to readonly revokes INSERT, and widening back restores it", () => {
    users.rw = user("rw", { app: "readonly" });
    mustRunScript(renderGrantsSql(users.rw, databases));
    expect(as("rw", "app", "INSERT INTO notes (body) VALUES ('no')").stderr).toContain("permission denied for table notes");
    expect(as("rw", "app", "INSERT INTO later (v) VALUES ('no')").stderr).toContain("permission denied for table later");
    queryAs("app", "app", "CREATE TABLE after_narrowing (x int)");
    expect(as("rw", "app", "INSERT INTO after_narrowing VALUES (1)").stderr).toContain("permission denied for table after_narrowing");
    expect(queryAs("rw", "app", "SELECT count(*) FROM after_narrowing")).toBe("0");

    users.rw = user("rw", { app: "readwrite" });
    mustRunScript(renderGrantsSql(users.rw, databases));
    queryAs("rw", "app", "INSERT INTO after_narrowing VALUES (1)");
  });

  it("removing a grant revokes CONNECT; removing owner revokes the membership", () => {
    users.admin = user("admin", {});
    mustRunScript(renderGrantsSql(users.admin, databases));
    expect(pg.query("SELECT pg_has_role('admin', 'app', 'MEMBER')")).toBe("f");
    // What admin owns keeps its owner's privileges (only others' objects are revoked from it).
    expect(pg.query("SELECT has_table_privilege('admin', 'admin_made', 'INSERT'), has_table_privilege('admin', 'notes', 'SELECT')", { db: "app" })).toBe("t|f");
    expect(as("admin", "app", "SELECT 1").stderr).toContain(`permission denied for database "app"`);
  });

  it("drops a removed user: what it owned passes to the database owner", () => {
    const drop = renderDropRoleSql("admin", databases);
    mustRunScript(drop);
    mustRunScript(drop);
    expect(pg.query("SELECT count(*) FROM pg_roles WHERE rolname = 'admin'")).toBe("0");
    expect(pg.query("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'admin_made'", { db: "app" })).toBe("app");
    expect(queryAs("app", "app", "SELECT x FROM admin_made")).toBe("42");
    delete users.admin;

    const dropRo = renderDropRoleSql("ro", databases);
    mustRunScript(dropRo);
    mustRunScript(dropRo);
    expect(pg.query("SELECT count(*) FROM pg_roles WHERE rolname = 'ro'")).toBe("0");
    expect(pg.query("SELECT count(*) FROM pg_default_acl", { db: "app" })).toBe("2"); // rw's tables and sequences
    expect(as("ro", "app", "SELECT 1").stderr).toContain("password authentication failed");
    delete users.ro;
  });

  it("still converges idempotently after these changes", () => {
    deploy();
    const once = snapshot();
    deploy();
    expect(snapshot()).toEqual(once);
  });

  it("never puts a password in the script, the server log or pg_stat_statements, and refuses a wrong one", () => {
    for (const sql of rendered) for (const pw of Object.values(passwords)) expect(sql).not.toContain(pw);
    const log = pg.log();
    expect(log).toContain("ALTER ROLE rw SUPERUSER"); // the log does record statements
    for (const pw of Object.values(passwords)) expect(log).not.toContain(pw);
    const statements = pg.query("SELECT string_agg(query, E'\\n') FROM pg_stat_statements");
    expect(statements).toContain("rolpassword IS NULL");
    for (const pw of Object.values(passwords)) expect(statements).not.toContain(pw);

    expect(queryAs("app", "app", "SELECT current_user")).toBe("app");
    const wrong = as("app", "app", "SELECT 1", "not-the-password");
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain(`password authentication failed for user "app"`);
    expect(pg.query("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'app'")).toBe("t");
  });

  it("rotates the password when the environment holds a new one", () => {
    const old = passwords.rw;
    passwords.rw = `rotated 'again' \\ ${Date.now()}`;
    mustRunScript(renderRoleSql(users.rw, envName("rw")));
    expect(as("rw", "app", "SELECT 1", old).stderr).toContain("password authentication failed");
    expect(queryAs("rw", "app", "SELECT current_user")).toBe("rw");
    expect(pg.log()).not.toContain(passwords.rw);
  });

  it("fails clearly when the password variable is empty or unset, keeping the old password", () => {
    const sql = renderRoleSql(users.rw, envName("rw"));
    for (const env of [{ ...passwordEnv(), [envName("rw")]: "" }, Object.fromEntries(Object.entries(passwordEnv()).filter(([k]) => k !== envName("rw")))]) {
      const r = runScript(sql, env);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("environment variable DBSTACK_PW_RW is empty or not set: it must hold the password of role rw");
      expect(queryAs("rw", "app", "SELECT current_user")).toBe("rw");
    }
    const fresh = runScript(renderRoleSql(user("newbie", {}), "DBSTACK_PW_NEWBIE"), {});
    expect(fresh.code).not.toBe(0);
    expect(pg.query("SELECT count(*) FROM pg_roles WHERE rolname = 'newbie'")).toBe("0");
  });

  it("creates a replication role that connects to no database", () => {
    const sql = renderReplicationRoleSql("replicator", envName("replicator"));
    mustRunScript(sql);
    mustRunScript(sql);
    expect(pg.query("SELECT rolcanlogin, rolreplication, rolsuper FROM pg_roles WHERE rolname = 'replicator'")).toBe("t|t|f");
    expect(as("replicator", "app", "SELECT 1").stderr).toContain(`permission denied for database "app"`);
  });

  it("fails clearly when an existing database has another encoding or locale", () => {
    pg.query("CREATE DATABASE legacy OWNER app ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
    const legacy: DatabaseSpec = { ...base, name: "legacy", owner: "multimax" };
    const r = runScript(renderDatabaseSql(legacy));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `database "legacy" exists with encoding LATIN1, LC_COLLATE C and LC_CTYPE C, but the spec declares encoding UTF8 and locale C.UTF-8`,
    );
    expect(r.stderr).toContain("Encoding and locale are fixed when a database is created");
    // Nothing was changed.
    expect(pg.query("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'legacy'")).toBe("app");

    pg.query("CREATE DATABASE legacy_c OWNER app ENCODING 'UTF8' LOCALE 'C' TEMPLATE template0");
    const locale = runScript(renderDatabaseSql({ ...legacy, name: "legacy_c" }));
    expect(locale.code).not.toBe(0);
    expect(locale.stderr).toContain(`database "legacy_c" exists with encoding UTF8, LC_COLLATE C and LC_CTYPE C`);

    // The same locale spelled another way is the same locale.
    mustRunScript(renderDatabaseSql({ ...legacy, name: "app", owner: "app", locale: "C.utf8", extensions: ["pgcrypto"] }));
  });

  it("quotes hostile values so that PostgreSQL reads them back unchanged", () => {
    for (const value of [`x"; DROP TABLE t; --`, `Robert'); --`, `back\\slash 'quote' "dq" $$ :var`]) {
      expect(pg.query(`SELECT ${quoteLiteral(value)}`)).toBe(value);
      pg.query(`CREATE TABLE ${quoteIdent(value)} (x int); `);
      expect(pg.query(`SELECT count(*) FROM pg_class WHERE relname = ${quoteLiteral(value)}`)).toBe("1");
      pg.query(`DROP TABLE ${quoteIdent(value)}`);
    }
  });
});
