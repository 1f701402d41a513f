import { describe, expect, it } from "vitest";
import { commandEnvironment, MigrationLayoutError, migrationSteps } from "../../components/copy/check/apply";
import { compareSchemas, comparePairs, compareTypes, isCompatible, type Finding } from "../../components/copy/check/compare";
import { checkExitCode, renderReport, type CheckResult } from "../../components/copy/check/report";
import type { Column, Schema, Table, TypeClass } from "../../components/copy/schema";
import { parseCheckArgs, UsageError } from "../../scripts/db-check";
import type { EngineKind } from "../../components/model/engineKind";

// The comparison is pure: schemas are built here as introspection would return them.

const INT4: TypeClass = { kind: "integer", bytes: 4 };
const INT8: TypeClass = { kind: "integer", bytes: 8 };
const TEXT: TypeClass = { kind: "text" };

function col(name: string, type: TypeClass, extra: Partial<Column> = {}): Column {
  return { name, type, sourceType: extra.sourceType ?? type.kind, nullable: true, autoIncrement: false, ...extra };
}

function table(name: string, columns: Column[], extra: Partial<Table> = {}): Table {
  return { name, columns, primaryKey: [], indexes: [], foreignKeys: [], ...extra };
}

function schema(engine: EngineKind, tables: Table[]): Schema {
  return { engine, tables };
}

/** The users/orders schema an application has on every engine. */
function app(engine: EngineKind, change: (tables: Table[]) => void = () => undefined): Schema {
  const id = col("id", engine === "sqlite" ? INT8 : INT4, { nullable: false, autoIncrement: true });
  const tables = [
    table("users", [id, col("email", { kind: "text", maxLength: 200 }, { nullable: false }), col("name", TEXT)], {
      primaryKey: ["id"],
      indexes: [{ name: "users_email_key", columns: ["email"], unique: true }],
    }),
    table("orders", [{ ...id }, col("user_id", engine === "sqlite" ? INT8 : INT4, { nullable: false }), col("total", { kind: "decimal", precision: 12, scale: 2 }, { nullable: false })], {
      primaryKey: ["id"],
      indexes: [{ name: "orders_user", columns: ["user_id"], unique: false }],
      foreignKeys: [{ columns: ["user_id"], refTable: "users", refColumns: ["id"], onDelete: "CASCADE" }],
    }),
  ];
  change(tables);
  return schema(engine, tables);
}

const side = (label: string, s: Schema) => ({ label, schema: s });
const errors = (fs: Finding[]) => fs.filter((f) => f.severity === "error");
const warnings = (fs: Finding[]) => fs.filter((f) => f.severity === "warning");

describe("compareSchemas", () => {
  it("finds nothing between the same application on SQLite, PostgreSQL and MariaDB (SQLite's 64-bit INTEGER is no difference)", () => {
    const comparisons = comparePairs([side("sqlite", app("sqlite")), side("postgres", app("postgres")), side("mariadb", app("mariadb"))]);
    expect(comparisons.map((c) => `${c.left.label}/${c.right.label}`)).toEqual(["sqlite/postgres", "sqlite/mariadb", "postgres/mariadb"]);
    expect(comparisons.flatMap((c) => c.findings)).toEqual([]);
    expect(comparisons[0].matchedTables).toEqual(["users", "orders"]);
    expect(isCompatible(comparisons)).toBe(true);
  });

  it("a table missing on one engine is an error naming the table and the engine, whichever side lacks it", () => {
    const pg = app("postgres", (t) => t.push(table("audit", [col("at", { kind: "timestamp", withTimeZone: true })])));
    const c = compareSchemas(side("mariadb", app("mariadb")), side("postgres", pg));
    expect(errors(c.findings)).toEqual([expect.objectContaining({ kind: "missing-table", table: "audit", message: "table audit exists on postgres but not on mariadb" })]);
    const back = compareSchemas(side("postgres", pg), side("mariadb", app("mariadb")));
    expect(errors(back.findings)[0].message).toBe("table audit exists on postgres but not on mariadb");
  });

  it("a PostgreSQL-only type (jsonb array) against text is an error naming table and column; varchar(50) against text is a warning", () => {
    const pg = app("postgres", (t) => t[0].columns.push(col("tags", { kind: "other", name: "jsonb[]" }, { sourceType: "jsonb[]" }), col("nick", { kind: "text", maxLength: 50 }, { sourceType: "character varying(50)" })));
    const my = app("mariadb", (t) => t[0].columns.push(col("tags", TEXT, { sourceType: "longtext" }), col("nick", TEXT, { sourceType: "text" })));
    const c = compareSchemas(side("postgres", pg), side("mariadb", my));
    expect(errors(c.findings)).toHaveLength(1);
    expect(errors(c.findings)[0]).toMatchObject({ kind: "type", table: "users", column: "tags" });
    expect(errors(c.findings)[0].message).toContain("users.tags: jsonb[] on postgres vs longtext [text] on mariadb");
    expect(warnings(c.findings)).toEqual([expect.objectContaining({ kind: "type", column: "nick" })]);
    expect(warnings(c.findings)[0].message).toContain("different length limits");
    expect(isCompatible([c])).toBe(false);
  });

  it("type classes: integer vs text is an error, integer widths a warning between servers, boolean vs integer an error", () => {
    expect(compareTypes(INT4, TEXT, "postgres", "mariadb")?.severity).toBe("error");
    expect(compareTypes(INT4, INT8, "postgres", "mariadb")?.severity).toBe("warning");
    expect(compareTypes(INT4, INT8, "sqlite", "postgres")).toBeUndefined();
    expect(compareTypes({ kind: "boolean" }, { kind: "integer", bytes: 1 }, "postgres", "mariadb")?.severity).toBe("error");
    expect(compareTypes(INT4, { kind: "decimal", precision: 10, scale: 0 }, "postgres", "mariadb")?.severity).toBe("warning");
    expect(compareTypes(INT4, { kind: "decimal", precision: 10, scale: 2 }, "postgres", "mariadb")?.severity).toBe("error");
    expect(compareTypes({ kind: "json" }, TEXT, "postgres", "sqlite")?.severity).toBe("warning");
    expect(compareTypes({ kind: "timestamp", withTimeZone: false, fractionalDigits: 6 }, { kind: "timestamp", withTimeZone: false, fractionalDigits: 0 }, "postgres", "mariadb")?.why).toContain("6 vs 0 fractional second digits");
    expect(compareTypes({ kind: "timestamp", withTimeZone: true }, { kind: "timestamp", withTimeZone: false }, "mariadb", "postgres")?.severity).toBe("warning");
  });

  it("a column nullable on one engine and NOT NULL on the other is an error (NULLs are rejected there)", () => {
    const pg = app("postgres", (t) => (t[0].columns[2].nullable = false));
    const c = compareSchemas(side("sqlite", app("sqlite")), side("postgres", pg));
    expect(errors(c.findings)).toEqual([expect.objectContaining({ kind: "nullability", column: "name", message: "users.name is nullable on sqlite but NOT NULL on postgres: rows with NULL there are rejected" })]);
  });

  it("SQLite's nullable non-integer primary key is a warning, not an error", () => {
    const s = schema("sqlite", [table("tags", [col("code", TEXT)], { primaryKey: ["code"] })]);
    const p = schema("postgres", [table("tags", [col("code", TEXT, { nullable: false })], { primaryKey: ["code"] })]);
    const c = compareSchemas(side("sqlite", s), side("postgres", p));
    expect(errors(c.findings)).toEqual([]);
    expect(warnings(c.findings)[0].message).toContain("SQLite leaves nullable");
  });

  it("missing primary key, unique key and engine-filled key are errors; SQLite's implicit rowid is a warning", () => {
    const my = app("mariadb", (t) => {
      t[0].indexes = [];
      t[1].primaryKey = [];
    });
    const c = compareSchemas(side("postgres", app("postgres")), side("mariadb", my));
    expect(errors(c.findings).map((f) => `${f.kind}:${f.table}`).sort()).toEqual(["primary-key:orders", "unique:users"]);
    expect(errors(c.findings).find((f) => f.kind === "unique")?.message).toBe("users has unique key (email) on postgres but not on mariadb: duplicates are accepted there");

    const noSerial = app("postgres", (t) => (t[1].columns[0].autoIncrement = false));
    const e = compareSchemas(side("mariadb", app("mariadb")), side("postgres", noSerial));
    expect(errors(e.findings)).toEqual([expect.objectContaining({ kind: "auto-increment", table: "orders", column: "id" })]);
    const w = compareSchemas(side("sqlite", app("sqlite")), side("postgres", noSerial));
    expect(errors(w.findings)).toEqual([]);
    expect(warnings(w.findings)).toEqual([expect.objectContaining({ kind: "auto-increment", column: "id" })]);
  });

  it("foreign keys: a missing cascade is an error, a missing plain reference a warning", () => {
    const noFk = app("postgres", (t) => (t[1].foreignKeys = []));
    const c = compareSchemas(side("sqlite", app("sqlite")), side("postgres", noFk));
    expect(errors(c.findings)[0].message).toBe("orders has foreign key (user_id) -> users(id) ON DELETE CASCADE on sqlite but not on postgres: the application's deletes/updates do not cascade there");
    const plain = (s: Schema) => (s.tables[1].foreignKeys[0].onDelete = undefined, s);
    const d = compareSchemas(side("sqlite", plain(app("sqlite"))), side("postgres", noFk));
    expect(errors(d.findings)).toEqual([]);
    expect(warnings(d.findings)[0].kind).toBe("foreign-key");
    // RESTRICT (PostgreSQL, SQLite) and no action (MariaDB drops RESTRICT) both refuse the delete: no difference.
    const restrict = app("postgres", (t) => (t[1].foreignKeys[0].onDelete = "RESTRICT"));
    expect(compareSchemas(side("postgres", restrict), side("mariadb", plain(app("mariadb")))).findings).toEqual([]);
    // CASCADE against SET NULL: different rows survive a delete.
    const setNull = app("mariadb", (t) => (t[1].foreignKeys[0].onDelete = "SET NULL"));
    expect(errors(compareSchemas(side("postgres", app("postgres")), side("mariadb", setNull)).findings)[0].message).toBe(
      "orders's foreign key (user_id) -> users(id) has ON DELETE CASCADE on postgres but ON DELETE SET NULL on mariadb",
    );
  });

  it("indexes by columns: a missing one is a warning; MariaDB's own foreign key index is no difference", () => {
    const noIx = (e: EngineKind) => app(e, (t) => (t[1].indexes = []));
    expect(compareSchemas(side("sqlite", app("sqlite")), side("postgres", noIx("postgres"))).findings).toEqual([
      expect.objectContaining({ severity: "warning", kind: "index", message: "orders has index orders_user (user_id) on sqlite but no index on those columns on postgres" }),
    ]);
    // orders.user_id carries a foreign key: MariaDB indexed it itself.
    expect(compareSchemas(side("mariadb", app("mariadb")), side("postgres", noIx("postgres"))).findings).toEqual([]);
  });

  it("names match case-insensitively with a warning; a column missing in a different case is not matched twice", () => {
    const pg = schema("postgres", [table("Users", [col("ID", INT4, { nullable: false })], { primaryKey: ["ID"] })]);
    const my = schema("mariadb", [table("users", [col("id", INT4, { nullable: false })], { primaryKey: ["id"] })]);
    const c = compareSchemas(side("postgres", pg), side("mariadb", my));
    expect(errors(c.findings)).toEqual([]);
    expect(c.findings.map((f) => f.kind)).toEqual(["name-case", "name-case"]);
    expect(c.matchedTables).toEqual(["Users"]);
  });

  it("directional (live source -> target): extra target tables and nullable columns are warnings, an extra NOT NULL column without default an error", () => {
    const target = app("postgres", (t) => {
      t.push(table("sessions", [col("token", TEXT)]));
      t[0].columns.push(col("bio", TEXT), col("tenant", INT4, { nullable: false }));
    });
    const c = compareSchemas(side("source", app("sqlite")), side("target", target), "directional");
    expect(errors(c.findings)).toEqual([expect.objectContaining({ kind: "extra-column", column: "tenant" })]);
    expect(warnings(c.findings).map((f) => f.kind).sort()).toEqual(["extra-column", "extra-table"]);
    // Read the other way round, everything the (new) source holds must be on the target.
    const missing = compareSchemas(side("source", target), side("target", app("sqlite")), "directional");
    expect(errors(missing.findings).map((f) => `${f.kind}:${f.table}${f.column ? `.${f.column}` : ""}`)).toEqual(["missing-column:users.bio", "missing-column:users.tenant", "missing-table:sessions"]);
  });
});

describe("migrationSteps", () => {
  const files = ["002_orders.sql", "001_users.sql", "001_users.postgres.sql", "010_late.sql", "003_search.postgresql.sql", "README.md", "002_orders.mysql.sql"];

  it("orders by number, and an engine's variant replaces the generic file on that engine only", () => {
    expect(migrationSteps(files, "postgres").map((s) => s.file)).toEqual(["001_users.postgres.sql", "002_orders.sql", "003_search.postgresql.sql", "010_late.sql"]);
    expect(migrationSteps(files, "mariadb").map((s) => s.file)).toEqual(["001_users.sql", "002_orders.mysql.sql", "010_late.sql"]);
    expect(migrationSteps(files, "sqlite").map((s) => s.file)).toEqual(["001_users.sql", "002_orders.sql", "010_late.sql"]);
    // The step's key is the migration's id on every engine, as the deploy records it.
    expect(migrationSteps(files, "postgres")[0].key).toBe("001_users");
  });

  it("refuses a .sql file that is not numbered (it would be skipped silently otherwise)", () => {
    expect(() => migrationSteps(["001_a.sql", "init.sql"], "sqlite")).toThrow(MigrationLayoutError);
  });

  it("refuses what the deploy refuses: a dotted name, an unknown engine suffix, two migrations sharing a number", () => {
    expect(() => migrationSteps(["004_v1.2.sql"], "sqlite")).toThrow(/name must look like 0001_create_users.sql/);
    expect(() => migrationSteps(["001_a.oracle.sql"], "sqlite")).toThrow(/\.oracle is not an engine/);
    expect(() => migrationSteps(["001_a.sql", "001_b.sql"], "sqlite")).toThrow(/share the number 001/);
  });
});

describe("commandEnvironment", () => {
  it("gives the migration command the URL and the password through the environment", () => {
    expect(commandEnvironment("postgresql://postgres:s3cret@127.0.0.1:5681/app", "postgres")).toEqual({
      DBSTACK_ENGINE: "postgres",
      DATABASE_URL: "postgresql://postgres:s3cret@127.0.0.1:5681/app",
      PGHOST: "127.0.0.1",
      PGPORT: "5681",
      PGUSER: "postgres",
      PGDATABASE: "app",
      PGPASSWORD: "s3cret",
    });
    expect(commandEnvironment("mysql://app:pw@127.0.0.1:3381/app", "mariadb")).toMatchObject({ MYSQL_PWD: "pw", MYSQL_TCP_PORT: "3381", DBSTACK_ENGINE: "mariadb" });
    expect(commandEnvironment("sqlite:///tmp/x/app.db", "sqlite")).toEqual({ DBSTACK_ENGINE: "sqlite", DATABASE_URL: "sqlite:////tmp/x/app.db", DBSTACK_SQLITE_PATH: "/tmp/x/app.db" });
  });
});

describe("report and exit code", () => {
  const run = (label: EngineKind, s?: Schema) => ({ label, engine: label, display: label, applied: ["001_users.sql"], ...(s ? { schema: s } : {}) });

  it("warnings only: exit 0 and COMPATIBLE listing the engines", () => {
    const pg = app("postgres", (t) => (t[0].columns[2] = col("name", { kind: "text", maxLength: 50 })));
    const sides = [side("sqlite", app("sqlite")), side("postgres", pg)];
    const result: CheckResult = { subject: "migrations in m", runs: [run("sqlite", app("sqlite")), run("postgres", pg)], comparisons: comparePairs(sides) };
    expect(checkExitCode(result)).toBe(0);
    const text = renderReport(result);
    expect(text).toContain("sqlite vs postgres: 2 tables on both, 0 errors, 1 warning\n  users\n    WARNING users.name:");
    expect(text.trimEnd().split("\n").pop()).toBe("COMPATIBLE on sqlite, postgres (1 warning)");
  });

  it("a failing migration: exit 1, the engine, the file and the engine's error", () => {
    const result: CheckResult = {
      subject: "migrations in m",
      runs: [run("sqlite", app("sqlite")), { ...run("mariadb"), applied: [], failure: { file: "002_orders.sql", message: "MariaDB error: You have an error in your SQL syntax" } }],
      comparisons: [],
    };
    expect(checkExitCode(result)).toBe(1);
    const text = renderReport(result);
    expect(text).toContain("mariadb   FAILED at 002_orders.sql");
    expect(text).toContain("MariaDB error: You have an error in your SQL syntax");
    expect(text.trimEnd().split("\n").pop()).toBe("NOT COMPATIBLE: migrations failed on mariadb (002_orders.sql)");
  });
});

describe("parseCheckArgs", () => {
  it("takes the three forms and the engines list", () => {
    expect(parseCheckArgs(["--migrations", "m", "--engines", "sqlite,postgresql"], {})).toMatchObject({ migrations: "m", engines: ["sqlite", "postgres"] });
    expect(parseCheckArgs(["--command=alembic upgrade head"], {})).toMatchObject({ command: "alembic upgrade head", engines: ["sqlite", "postgres", "mariadb"] });
    expect(parseCheckArgs([], { DBSTACK_CHECK_SOURCE: "sqlite:///a.db", DBSTACK_CHECK_TARGET: "postgresql://u@h/db" })).toMatchObject({ source: "sqlite:///a.db", target: "postgresql://u@h/db" });
  });

  it("refuses what it cannot do (exit 2 in the command)", () => {
    for (const argv of [[], ["--migrations", "m", "--command", "x"], ["--engines", "sqlite", "--migrations", "m"], ["--engines", "oracle,sqlite", "--migrations", "m"], ["--source", "a.db"], ["--migrations", "m", "--target", "b"], ["--bogus"]]) {
      expect(() => parseCheckArgs(argv, {}), argv.join(" ")).toThrow(UsageError);
    }
  });
});
