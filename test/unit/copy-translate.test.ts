import { describe, expect, it } from "vitest";
import { parseConnectionUrl, redactUrl } from "../../components/copy/connections";
import { columnType, quoteIdentifier, renderConstraints, renderCreateTables, renderResetSequences } from "../../components/copy/ddl";
import { mariadbTypeClass } from "../../components/copy/introspect/mariadb";
import { postgresTypeClass } from "../../components/copy/introspect/postgres";
import { checkClauses, jsonCheckedColumns, sqliteTypeClass } from "../../components/copy/introspect/sqlite";
import type { Column, Schema, Table, TypeClass } from "../../components/copy/schema";
import { parseDefault, translate } from "../../components/copy/translate";
import type { EngineKind } from "../../components/model/engineKind";

function col(name: string, type: TypeClass, extra: Partial<Column> = {}): Column {
  return { name, type, sourceType: extra.sourceType ?? type.kind, nullable: true, autoIncrement: false, ...extra };
}

function table(name: string, columns: Column[], extra: Partial<Table> = {}): Table {
  return { name, columns, primaryKey: [], indexes: [], foreignKeys: [], ...extra };
}

function schema(engine: EngineKind, ...tables: Table[]): Schema {
  return { engine, tables };
}

/** Translates a one-column table and returns the column's DDL type and the conversions. */
function one(source: EngineKind, target: EngineKind, c: Column, extra: Partial<Table> = {}) {
  const tr = translate(schema(source, table("t", [c], extra)), target);
  const out = tr.tables[0].columns[0];
  return { type: columnType(target, out), column: out, conversions: tr.conversions, lossy: tr.conversions.filter((x) => x.lossy).map((x) => x.id) };
}

describe("introspection type mapping", () => {
  it("maps SQLite declared types by common names first, then SQLite's affinity rules", () => {
    expect(sqliteTypeClass("BOOLEAN")).toEqual({ kind: "boolean" });
    expect(sqliteTypeClass("DATETIME")).toEqual({ kind: "timestamp", withTimeZone: false });
    expect(sqliteTypeClass("TIMESTAMPTZ")).toEqual({ kind: "timestamp", withTimeZone: true });
    expect(sqliteTypeClass("DECIMAL(10,2)")).toEqual({ kind: "decimal", precision: 10, scale: 2 });
    expect(sqliteTypeClass("varchar(36)")).toEqual({ kind: "text", maxLength: 36 });
    expect(sqliteTypeClass("INT UNSIGNED")).toEqual({ kind: "integer", bytes: 4, unsigned: true });
    expect(sqliteTypeClass("JSON")).toEqual({ kind: "json" });
    // Affinity rules: "INT" anywhere wins (even in POINT), then CHAR/CLOB/TEXT, BLOB, REAL/FLOA/DOUB.
    expect(sqliteTypeClass("POINT")).toEqual({ kind: "integer", bytes: 8 });
    expect(sqliteTypeClass("LONG NVARCHAR2")).toEqual({ kind: "text" });
    expect(sqliteTypeClass("FLOATING")).toEqual({ kind: "float", bytes: 8 });
    expect(sqliteTypeClass("")).toEqual({ kind: "other", name: "(no declared type)" });
    expect(sqliteTypeClass("MONEY")).toEqual({ kind: "other", name: "MONEY" });
  });

  it("finds SQLite JSON columns by their CHECK (json_valid(col)), however the name is quoted", () => {
    expect([...jsonCheckedColumns(`CREATE TABLE t ("a b" TEXT CHECK (json_valid("a b")), c TEXT CHECK(json_valid(c)), d TEXT)`)]).toEqual(["a b", "c"]);
  });

  it("maps PostgreSQL types, keeping timestamptz apart from timestamp", () => {
    expect(postgresTypeClass("timestamptz", "timestamp(3) with time zone")).toEqual({ kind: "timestamp", withTimeZone: true, fractionalDigits: 3 });
    expect(postgresTypeClass("timestamp", "timestamp without time zone")).toEqual({ kind: "timestamp", withTimeZone: false, fractionalDigits: 6 });
    expect(postgresTypeClass("numeric", "numeric")).toEqual({ kind: "decimal" });
    expect(postgresTypeClass("numeric", "numeric(12,4)")).toEqual({ kind: "decimal", precision: 12, scale: 4 });
    expect(postgresTypeClass("bpchar", "character(3)")).toEqual({ kind: "text", maxLength: 3, fixed: true });
    expect(postgresTypeClass("jsonb", "jsonb")).toEqual({ kind: "json" });
    expect(postgresTypeClass("interval", "interval")).toEqual({ kind: "other", name: "interval" });
  });

  it("maps MariaDB TINYINT(1) to boolean, TIMESTAMP to an instant, a json_valid-checked LONGTEXT to json", () => {
    expect(mariadbTypeClass("tinyint", "tinyint(1)")).toEqual({ kind: "boolean" });
    expect(mariadbTypeClass("tinyint", "tinyint(4)")).toEqual({ kind: "integer", bytes: 1 });
    expect(mariadbTypeClass("bigint", "bigint(20) unsigned")).toEqual({ kind: "integer", bytes: 8, unsigned: true });
    expect(mariadbTypeClass("timestamp", "timestamp(6)")).toEqual({ kind: "timestamp", withTimeZone: true, fractionalDigits: 6 });
    expect(mariadbTypeClass("datetime", "datetime")).toEqual({ kind: "timestamp", withTimeZone: false, fractionalDigits: 0 });
    expect(mariadbTypeClass("longtext", "longtext", true)).toEqual({ kind: "json" });
    expect(mariadbTypeClass("enum", "enum('a','b')")).toEqual({ kind: "other", name: "enum('a','b')" });
  });
});

describe("translation rules (one test per row of translate.ts's table)", () => {
  it("integers keep their width; PostgreSQL has no 1-byte integer", () => {
    expect(one("mariadb", "postgres", col("a", { kind: "integer", bytes: 1 })).type).toBe("smallint");
    expect(one("sqlite", "mariadb", col("a", { kind: "integer", bytes: 4 })).type).toBe("INT");
    expect(one("postgres", "sqlite", col("a", { kind: "integer", bytes: 8 })).type).toBe("BIGINT");
  });

  it("unsigned 1/2/4-byte integers go one signed width up in PostgreSQL and stay UNSIGNED elsewhere", () => {
    expect(one("mariadb", "postgres", col("a", { kind: "integer", bytes: 4, unsigned: true })).type).toBe("bigint");
    expect(one("mariadb", "postgres", col("a", { kind: "integer", bytes: 2, unsigned: true })).type).toBe("integer");
    expect(one("mariadb", "sqlite", col("a", { kind: "integer", bytes: 4, unsigned: true })).type).toBe("INT UNSIGNED");
    expect(one("mariadb", "postgres", col("a", { kind: "integer", bytes: 4, unsigned: true })).conversions).toEqual([]);
  });

  it("unsigned BIGINT: numeric(20,0) in PostgreSQL (noted, not lossy); an autoincrement one is bigint, lossy; lossy into SQLite", () => {
    const plain = one("mariadb", "postgres", col("a", { kind: "integer", bytes: 8, unsigned: true }));
    expect(plain.type).toBe("numeric(20,0)");
    expect(plain.conversions.map((c) => [c.id, c.lossy])).toEqual([["t.a:unsigned int64->decimal(20,0)", false]]);
    const key = one("mariadb", "postgres", col("id", { kind: "integer", bytes: 8, unsigned: true }, { autoIncrement: true, nullable: false }), { primaryKey: ["id"] });
    expect(key.type).toBe("bigint");
    expect(key.lossy).toEqual(["t.id:unsigned int64->int64"]);
    expect(one("mariadb", "sqlite", col("a", { kind: "integer", bytes: 8, unsigned: true })).lossy).toEqual(["t.a:unsigned int64->int64"]);
  });

  it("autoincrement becomes identity, AUTO_INCREMENT or INTEGER PRIMARY KEY AUTOINCREMENT", () => {
    const t = table("t", [col("id", { kind: "integer", bytes: 4 }, { autoIncrement: true, nullable: false }), col("v", { kind: "text" })], { primaryKey: ["id"] });
    expect(renderCreateTables("postgres", translate(schema("sqlite", t), "postgres").tables)[0]).toContain(`"id" integer GENERATED BY DEFAULT AS IDENTITY NOT NULL`);
    expect(renderCreateTables("mariadb", translate(schema("postgres", t), "mariadb").tables)[0]).toContain("`id` INT NOT NULL AUTO_INCREMENT");
    const sqlite = renderCreateTables("sqlite", translate(schema("postgres", t), "sqlite").tables)[0];
    expect(sqlite).toContain(`"id" INTEGER PRIMARY KEY AUTOINCREMENT`);
    expect(sqlite).not.toContain("PRIMARY KEY (");
  });

  it("autoincrement SQLite cannot keep (not the sole key) is lossy; MariaDB keeps one per table and indexes it", () => {
    const t = table("t", [col("a", { kind: "integer", bytes: 4 }, { autoIncrement: true }), col("b", { kind: "integer", bytes: 4 }, { autoIncrement: true }), col("k", { kind: "text", maxLength: 5 })], { primaryKey: ["k"] });
    expect(translate(schema("postgres", t), "sqlite").conversions.filter((c) => c.lossy).map((c) => c.id)).toEqual(["t.a:autoincrement", "t.b:autoincrement"]);
    const tr = translate(schema("postgres", t), "mariadb");
    expect(tr.conversions.map((c) => c.id)).toEqual(["t.b:autoincrement"]);
    expect(renderCreateTables("mariadb", tr.tables)[0]).toContain("KEY (`a`)");
  });

  it("booleans: boolean, TINYINT(1), BOOLEAN", () => {
    const b = col("b", { kind: "boolean" });
    expect([one("sqlite", "postgres", b).type, one("postgres", "mariadb", b).type, one("mariadb", "sqlite", b).type]).toEqual(["boolean", "TINYINT(1)", "BOOLEAN"]);
  });

  it("decimals: PostgreSQL numeric without precision into MariaDB is DECIMAL(65,30) and lossy; too wide is lossy; SQLite keeps 15 digits", () => {
    const open = one("postgres", "mariadb", col("p", { kind: "decimal" }));
    expect(open.type).toBe("DECIMAL(65,30)");
    expect(open.lossy).toEqual(["t.p:decimal->decimal(65,30)"]);
    expect(one("postgres", "mariadb", col("p", { kind: "decimal", precision: 40, scale: 2 })).type).toBe("DECIMAL(40,2)");
    expect(one("postgres", "mariadb", col("p", { kind: "decimal", precision: 70, scale: 40 })).lossy).toEqual(["t.p:decimal(70,40)->decimal(65,30)"]);
    expect(one("postgres", "sqlite", col("p", { kind: "decimal", precision: 10, scale: 2 })).type).toBe("DECIMAL(10,2)");
    const wide = one("postgres", "sqlite", col("p", { kind: "decimal", precision: 30, scale: 2 }));
    expect(wide.type).toBe("TEXT");
    expect(wide.conversions.map((c) => [c.id, c.lossy])).toEqual([["t.p:decimal(30,2)->text", false]]);
    expect(one("mariadb", "postgres", col("p", { kind: "decimal", precision: 10, scale: 2 })).type).toBe("numeric(10,2)");
  });

  it("floats: real/double precision, FLOAT/DOUBLE, REAL", () => {
    expect(one("mariadb", "postgres", col("f", { kind: "float", bytes: 4 })).type).toBe("real");
    expect(one("sqlite", "mariadb", col("f", { kind: "float", bytes: 8 })).type).toBe("DOUBLE");
    expect(one("postgres", "sqlite", col("f", { kind: "float", bytes: 4 })).type).toBe("REAL");
  });

  it("text: VARCHAR(n) up to 16383 in MariaDB, LONGTEXT beyond (noted); varchar/char/text in PostgreSQL", () => {
    expect(one("postgres", "mariadb", col("s", { kind: "text", maxLength: 16383 })).type).toBe("VARCHAR(16383)");
    const long = one("postgres", "mariadb", col("s", { kind: "text", maxLength: 20000 }));
    expect(long.type).toBe("LONGTEXT");
    expect(long.conversions.map((c) => [c.id, c.lossy])).toEqual([["t.s:text(20000)->text", false]]);
    expect(one("sqlite", "postgres", col("s", { kind: "text", maxLength: 3, fixed: true })).type).toBe("char(3)");
    expect(one("mariadb", "postgres", col("s", { kind: "text" })).type).toBe("text");
  });

  it("MariaDB rows: VARCHARs that together pass 65535 bytes become LONGTEXT, key columns kept", () => {
    const cols = [col("k", { kind: "text", maxLength: 100 }, { nullable: false }), ...[1, 2, 3].map((i) => col(`c${i}`, { kind: "text", maxLength: 7000 }))];
    const tr = translate(schema("postgres", table("t", cols, { primaryKey: ["k"] })), "mariadb");
    expect(tr.tables[0].columns.map((c) => columnType("mariadb", c))).toEqual(["VARCHAR(100)", "VARCHAR(7000)", "VARCHAR(7000)", "LONGTEXT"]);
  });

  it("MariaDB keys: an unbounded text primary key becomes VARCHAR(768), lossy; a plain index on LONGTEXT gets a prefix", () => {
    const t = table("t", [col("k", { kind: "text" }, { nullable: false }), col("body", { kind: "text" }), col("n", { kind: "integer", bytes: 4 })], {
      primaryKey: ["k"],
      indexes: [{ name: "by_body", columns: ["body", "n"], unique: false }, { name: "uq_body", columns: ["body"], unique: true }],
    });
    const tr = translate(schema("postgres", t), "mariadb");
    expect(tr.conversions.filter((c) => c.lossy).map((c) => c.id)).toEqual(["t.k:text->text(768)"]);
    expect(columnType("mariadb", tr.tables[0].columns[0])).toBe("VARCHAR(768)");
    const constraints = renderConstraints("mariadb", tr.tables);
    // 3072 bytes less 32 for the integer column, 4 bytes a character.
    expect(constraints).toContain("ALTER TABLE `t` ADD INDEX `by_body` (`body`(760), `n`)");
    // MariaDB hashes a long UNIQUE key itself: no prefix, which would change what is unique.
    expect(constraints).toContain("ALTER TABLE `t` ADD UNIQUE INDEX `uq_body` (`body`)");
  });

  it("binary: bytea, VARBINARY(n)/LONGBLOB, BLOB", () => {
    expect(one("mariadb", "postgres", col("b", { kind: "binary", maxLength: 16 })).type).toBe("bytea");
    expect(one("postgres", "mariadb", col("b", { kind: "binary" })).type).toBe("LONGBLOB");
    expect(one("mariadb", "mariadb", col("b", { kind: "binary", maxLength: 16 })).type).toBe("VARBINARY(16)");
    expect(one("postgres", "sqlite", col("b", { kind: "binary" })).type).toBe("BLOB");
  });

  it("date and time: date/time, DATE/TIME(6), DATE/TIME", () => {
    expect(one("sqlite", "postgres", col("d", { kind: "date" })).type).toBe("date");
    expect(one("postgres", "mariadb", col("d", { kind: "time" })).type).toBe("TIME(6)");
    expect(one("mariadb", "sqlite", col("d", { kind: "time" })).type).toBe("TIME");
  });

  it("naive timestamps stay wall-clock: timestamp(p), DATETIME(p), TIMESTAMP", () => {
    const ts = col("ts", { kind: "timestamp", withTimeZone: false, fractionalDigits: 3 });
    expect(one("mariadb", "postgres", ts).type).toBe("timestamp(3) without time zone");
    expect(one("postgres", "mariadb", ts).type).toBe("DATETIME(3)");
    expect(one("postgres", "sqlite", ts).type).toBe("TIMESTAMP");
    expect(one("postgres", "mariadb", ts).conversions).toEqual([]);
  });

  it("timestamptz into MariaDB is DATETIME(6) holding UTC, noted (not lossy); MariaDB TIMESTAMP into PostgreSQL is timestamptz", () => {
    const tz = one("postgres", "mariadb", col("at", { kind: "timestamp", withTimeZone: true, fractionalDigits: 6 }));
    expect(tz.type).toBe("DATETIME(6)");
    expect(tz.conversions.map((c) => [c.id, c.lossy])).toEqual([["t.at:timestamptz->timestamp", false]]);
    expect(tz.conversions[0].message).toMatch(/UTC/);
    expect(one("mariadb", "postgres", col("at", { kind: "timestamp", withTimeZone: true, fractionalDigits: 0 })).type).toBe("timestamp(0) with time zone");
    expect(one("mariadb", "mariadb", col("at", { kind: "timestamp", withTimeZone: true, fractionalDigits: 0 })).type).toBe("TIMESTAMP(0)");
    expect(one("postgres", "sqlite", col("at", { kind: "timestamp", withTimeZone: true })).type).toBe("TIMESTAMPTZ");
  });

  it("json: json (jsonb kept), JSON, TEXT with a json_valid CHECK in SQLite, none lossy", () => {
    expect(one("sqlite", "postgres", col("j", { kind: "json" })).type).toBe("json");
    expect(one("postgres", "postgres", col("j", { kind: "json" }, { sourceType: "jsonb" })).type).toBe("jsonb");
    expect(one("postgres", "mariadb", col("j", { kind: "json" })).type).toBe("JSON");
    const sqlite = translate(schema("postgres", table("t", [col("j", { kind: "json" })])), "sqlite");
    expect(sqlite.conversions).toEqual([]);
    expect(renderCreateTables("sqlite", sqlite.tables)[0]).toContain(`"j" TEXT CHECK (json_valid("j"))`);
  });

  it("uuid: uuid, UUID (MariaDB's native type), UUID in SQLite", () => {
    expect(["postgres", "mariadb", "sqlite"].map((e) => one("postgres", e as EngineKind, col("u", { kind: "uuid" })).type)).toEqual(["uuid", "UUID", "UUID"]);
  });

  it("other types become text, lossy, except between the same engine", () => {
    const iv = col("iv", { kind: "other", name: "interval" }, { sourceType: "interval" });
    const out = one("postgres", "mariadb", iv);
    expect(out.type).toBe("LONGTEXT");
    expect(out.lossy).toEqual(["t.iv:interval->text"]);
    expect(one("postgres", "postgres", iv).type).toBe("interval");
    expect(one("postgres", "postgres", iv).conversions).toEqual([]);
  });

  it("a foreign key column takes its referenced column's type (MariaDB wants them identical)", () => {
    const parent = table("p", [col("id", { kind: "integer", bytes: 8 }, { autoIncrement: true, nullable: false })], { primaryKey: ["id"] });
    const child = table("c", [col("pid", { kind: "other", name: "(no declared type)" })], { foreignKeys: [{ columns: ["pid"], refTable: "p", refColumns: ["id"] }] });
    const tr = translate(schema("sqlite", parent, child), "mariadb");
    expect(columnType("mariadb", tr.tables[1].columns[0])).toBe("BIGINT");
    expect(tr.conversions).toEqual([]);
  });

  it("expression/partial indexes, generated columns and CHECK constraints are lossy conversions, even into the same engine", () => {
    const t = table("t", [col("a", { kind: "integer", bytes: 4 })], {
      unsupported: [
        { name: "t_lower", what: "expression index", definition: "CREATE INDEX t_lower ON t (lower(a))" },
        { name: "a2", what: "generated column" },
      ],
    });
    const tr = translate(schema("postgres", t), "postgres");
    expect(tr.conversions.map((c) => [c.id, c.column, c.lossy])).toEqual([
      ["t.t_lower:expression-index", "", true],
      ["t.a2:generated-column", "a2", true],
    ]);
    expect(tr.conversions[0].message).toContain("lower(a)");
  });

  it("finds SQLite CHECK clauses with nested parentheses and quoted text", () => {
    expect(checkClauses(`CREATE TABLE t (a INT CHECK (a > (1)), b TEXT CHECK (b <> ')'), c TEXT CHECK(json_valid(c)))`)).toEqual([
      "CHECK (a > (1))",
      "CHECK (b <> ')')",
      "CHECK(json_valid(c))",
    ]);
  });

  it("primary key columns are NOT NULL on the target", () => {
    const tr = translate(schema("sqlite", table("t", [col("k", { kind: "text", maxLength: 10 })], { primaryKey: ["k"] })), "postgres");
    expect(tr.tables[0].columns[0].nullable).toBe(false);
  });
});

describe("defaults", () => {
  it("reads literals and the current time in every engine's spelling", () => {
    expect(parseDefault("postgres", "'it''s'::character varying")).toEqual({ kind: "string", value: "it's" });
    expect(parseDefault("postgres", "'-1'::integer")).toEqual({ kind: "number", text: "-1" });
    expect(parseDefault("sqlite", "(datetime('now'))")).toEqual({ kind: "now" });
    expect(parseDefault("mariadb", "current_timestamp(6)")).toEqual({ kind: "now" });
    expect(parseDefault("mariadb", "'a\\\\b'")).toEqual({ kind: "string", value: "a\\b" });
    expect(parseDefault("postgres", "gen_random_uuid()")).toBeUndefined();
  });

  it("translates literals, booleans and CURRENT_TIMESTAMP; MariaDB strings get backslashes doubled", () => {
    const t = table("t", [
      col("s", { kind: "text" }, { default: "'a\\b'" }),
      col("b", { kind: "boolean" }, { default: "1" }),
      col("n", { kind: "integer", bytes: 4 }, { default: "42" }),
      col("ts", { kind: "timestamp", withTimeZone: false, fractionalDigits: 6 }, { default: "now()" }),
      col("d", { kind: "date" }, { default: "CURRENT_DATE" }),
    ]);
    const pg = translate(schema("sqlite", t), "postgres").tables[0].columns.map((c) => c.default);
    expect(pg).toEqual(["'a\\b'", "true", "42", "CURRENT_TIMESTAMP", "CURRENT_DATE"]);
    const my = translate(schema("postgres", t), "mariadb").tables[0].columns.map((c) => c.default);
    expect(my).toEqual(["'a\\\\b'", "1", "42", "current_timestamp(6)", "(curdate())"]);
  });

  it("an expression default is lossy and dropped; the same engine keeps it verbatim", () => {
    const t = table("t", [col("u", { kind: "uuid" }, { default: "gen_random_uuid()" })]);
    const tr = translate(schema("postgres", t), "mariadb");
    expect(tr.conversions.map((c) => [c.id, c.lossy])).toEqual([["t.u:default", true]]);
    expect(tr.tables[0].columns[0].default).toBeUndefined();
    expect(translate(schema("postgres", t), "postgres").tables[0].columns[0].default).toBe("gen_random_uuid()");
    const sqlite = table("t", [col("x", { kind: "text" }, { default: "lower('A')" })]);
    expect(renderCreateTables("sqlite", translate(schema("sqlite", sqlite), "sqlite").tables)[0]).toContain(`"x" TEXT DEFAULT (lower('A'))`);
  });
});

describe("identifiers", () => {
  it("a name longer than PostgreSQL's 63 bytes is lossy and shortened with a hash, never cut silently", () => {
    const long = "é".repeat(40); // 80 bytes, 40 characters: too long for PostgreSQL, fine for MariaDB.
    const t = table(long, [col("id", { kind: "integer", bytes: 4 })]);
    const pg = translate(schema("sqlite", t), "postgres");
    expect(pg.conversions.map((c) => [c.id, c.lossy])).toEqual([[`${long}:name`, true]]);
    expect(Buffer.byteLength(pg.tables[0].name)).toBeLessThanOrEqual(63);
    expect(pg.tables[0].name).toMatch(/_[0-9a-f]{8}$/);
    expect(translate(schema("sqlite", t), "mariadb").conversions).toEqual([]);
    const col65 = table("t", [col("c".repeat(65), { kind: "integer", bytes: 4 })]);
    expect(translate(schema("postgres", col65), "mariadb").conversions.map((c) => c.id)).toEqual([`t.${"c".repeat(65)}:name`]);
  });

  it("quotes reserved words and mixed case, doubling the quote character", () => {
    expect(quoteIdentifier("postgres", 'Or"der')).toBe('"Or""der"');
    expect(quoteIdentifier("mariadb", "se`lect")).toBe("`se``lect`");
    const t = table("select", [col("From", { kind: "integer", bytes: 4 }, { nullable: false })], { primaryKey: ["From"] });
    expect(renderCreateTables("postgres", [t])[0]).toBe(`CREATE TABLE "select" (\n  "From" integer NOT NULL,\n  PRIMARY KEY ("From")\n)`);
  });

  it("gives SQLite's internal index names and colliding names new ones the target accepts", () => {
    const a = table("a", [col("x", { kind: "integer", bytes: 4 })], { indexes: [{ name: "sqlite_autoindex_a_1", columns: ["x"], unique: true }, { name: "ix", columns: ["x"], unique: false }] });
    const b = table("b", [col("x", { kind: "integer", bytes: 4 })], { indexes: [{ name: "ix", columns: ["x"], unique: false }] });
    const pg = translate(schema("sqlite", a, b), "postgres").tables.flatMap((t) => t.indexes.map((i) => i.name));
    expect(pg).toEqual(["a_x_key", "ix", "ix_2"]);
    // MariaDB index names are per table: both keep "ix".
    expect(translate(schema("sqlite", a, b), "mariadb").tables.flatMap((t) => t.indexes.map((i) => i.name))).toEqual(["a_x_key", "ix", "ix"]);
  });
});

describe("constraints and counters", () => {
  const parent = table("node", [col("id", { kind: "integer", bytes: 8 }, { autoIncrement: true, nullable: false }), col("parent", { kind: "integer", bytes: 8 })], {
    primaryKey: ["id"],
    foreignKeys: [{ name: "node_parent_fkey", columns: ["parent"], refTable: "node", refColumns: ["id"], onDelete: "CASCADE" }],
  });

  it("foreign keys come after the data in PostgreSQL and MariaDB, inside CREATE TABLE in SQLite", () => {
    expect(renderConstraints("postgres", [parent])).toEqual([
      `ALTER TABLE "node" ADD CONSTRAINT "node_parent_fkey" FOREIGN KEY ("parent") REFERENCES "node" ("id") ON DELETE CASCADE`,
    ]);
    expect(renderConstraints("sqlite", [parent])).toEqual([]);
    expect(renderCreateTables("sqlite", [parent])[0]).toContain(`CONSTRAINT "node_parent_fkey" FOREIGN KEY ("parent") REFERENCES "node" ("id") ON DELETE CASCADE`);
  });

  it("resets counters past the copied maximum in each engine's way", () => {
    expect(renderResetSequences("postgres", [parent])).toEqual([
      `SELECT setval(pg_get_serial_sequence('"node"', 'id'), COALESCE((SELECT MAX("id") FROM "node"), 0) + 1, false)`,
    ]);
    expect(renderResetSequences("mariadb", [parent])[0]).toBe("SET @dbstack_next = (SELECT COALESCE(MAX(`id`), 0) + 1 FROM `node`)");
    expect(renderResetSequences("mariadb", [parent])).toContain("EXECUTE dbstack_stmt");
    expect(renderResetSequences("sqlite", [parent])).toEqual([
      `DELETE FROM sqlite_sequence WHERE name = 'node'`,
      `INSERT INTO sqlite_sequence (name, seq) SELECT 'node', COALESCE(MAX("id"), 0) FROM "node"`,
    ]);
  });
});

describe("connection URLs", () => {
  it("names SQLite by sqlite:///abs, SQLAlchemy's sqlite:////abs or a plain path; the others by scheme", () => {
    expect(parseConnectionUrl("sqlite:///var/lib/app.db")).toEqual({ engine: "sqlite", path: "/var/lib/app.db" });
    expect(parseConnectionUrl("sqlite:////var/lib/app.db")).toEqual({ engine: "sqlite", path: "/var/lib/app.db" });
    expect(parseConnectionUrl("/tmp/x.db")).toEqual({ engine: "sqlite", path: "/tmp/x.db" });
    expect(parseConnectionUrl("postgres://u@h/db").engine).toBe("postgres");
    expect(parseConnectionUrl("mariadb://u@h/db").engine).toBe("mariadb");
    expect(() => parseConnectionUrl("oracle://x")).toThrow(/unsupported database URL scheme/);
  });

  it("never shows a password in messages", () => {
    expect(redactUrl("postgresql://app:s3cr%40t@db:5432/app")).toBe("postgresql://app:***@db:5432/app");
  });
});

describe("translation gaps are never silent", () => {
  const INT: TypeClass = { kind: "integer", bytes: 4 };

  it("two tables differing only in case are refused into SQLite and MariaDB, naming both; allowed, the later one is renamed", () => {
    const s = schema("postgres", table("Users", [col("id", INT)]), table("users", [col("id", INT)]), table("orders", [col("user_id", INT)], { foreignKeys: [{ columns: ["user_id"], refTable: "users", refColumns: ["id"] }] }));
    for (const target of ["sqlite", "mariadb"] as const) {
      const tr = translate(s, target);
      const c = tr.conversions.find((x) => x.id === "users:case-collision")!;
      expect(c.lossy).toBe(true);
      expect(c.message).toContain(`"Users" and "users" differ only in case`);
      expect(tr.tables.map((t) => t.name)).toEqual(["Users", "users_2", "orders"]);
      // References follow the rename.
      expect(tr.tables[2].foreignKeys[0].refTable).toBe("users_2");
    }
    // PostgreSQL keeps quoted names apart: nothing to say.
    expect(translate(s, "postgres").conversions.filter((x) => x.id.includes("case-collision"))).toEqual([]);
  });

  it("two columns differing only in case are refused into SQLite and MariaDB, naming both", () => {
    const s = schema("postgres", table("t", [col("Name", { kind: "text" }), col("name", { kind: "text" }), col("name_2", { kind: "text" })], { indexes: [{ name: "t_name", columns: ["name"], unique: true }] }));
    for (const target of ["sqlite", "mariadb"] as const) {
      const tr = translate(s, target);
      expect(tr.conversions.filter((x) => x.lossy).map((x) => x.id)).toEqual(["t.name:case-collision"]);
      expect(tr.conversions[0].message).toContain(`t."Name" and t."name" differ only in case`);
      // name_2 is taken: the renamed column takes the next free name, and the index follows it.
      expect(tr.tables[0].columns.map((c) => c.name)).toEqual(["Name", "name_3", "name_2"]);
      expect(tr.tables[0].indexes[0].columns).toEqual(["name_3"]);
    }
  });

  it("RESTRICT into MariaDB (where it is NO ACTION) is listed; PostgreSQL and SQLite keep RESTRICT", () => {
    const parent = table("parent", [col("id", INT)], { primaryKey: ["id"] });
    const child = table("child", [col("p", INT)], { foreignKeys: [{ name: "child_p_fkey", columns: ["p"], refTable: "parent", refColumns: ["id"], onDelete: "RESTRICT", onUpdate: "CASCADE" }] });
    const tr = translate(schema("postgres", parent, child), "mariadb");
    const c = tr.conversions.find((x) => x.id === "child:child_p_fkey:restrict->no-action")!;
    expect(c.lossy).toBe(false);
    expect(c.message).toContain("ON DELETE RESTRICT becomes NO ACTION");
    expect(renderConstraints("mariadb", tr.tables).join("\n")).not.toContain("RESTRICT");
    expect(renderConstraints("mariadb", tr.tables).join("\n")).toContain("ON UPDATE CASCADE");
    const pg = translate(schema("sqlite", parent, child), "postgres");
    expect(pg.conversions).toEqual([]);
    expect(renderConstraints("postgres", pg.tables).join("\n")).toContain("ON DELETE RESTRICT");
  });

  it("MariaDB's ON UPDATE CURRENT_TIMESTAMP is kept into MariaDB and refused into PostgreSQL and SQLite", () => {
    const c = col("updated_at", { kind: "timestamp", withTimeZone: false, fractionalDigits: 6 }, { default: "current_timestamp(6)", onUpdate: "current_timestamp(6)" });
    const same = one("mariadb", "mariadb", c);
    expect(same.lossy).toEqual([]);
    expect(renderCreateTables("mariadb", [table("t", [same.column])])[0]).toContain("DEFAULT current_timestamp(6) ON UPDATE current_timestamp(6)");
    for (const target of ["postgres", "sqlite"] as const) {
      const r = one("mariadb", target, c);
      expect(r.lossy).toEqual(["t.updated_at:on-update"]);
      expect(r.conversions.find((x) => x.id === "t.updated_at:on-update")!.message).toMatch(/no such column clause.*later updates leave the column as it is/);
      expect(renderCreateTables(target, [table("t", [r.column])])[0]).not.toContain("ON UPDATE");
    }
  });

  it("jsonb leaving PostgreSQL is declared (its text is jsonb's normalised form); json text is carried as written", () => {
    const jsonb = one("postgres", "mariadb", col("doc", { kind: "json" }, { sourceType: "jsonb" }));
    expect(jsonb.conversions.map((x) => [x.id, x.lossy])).toEqual([["t.doc:jsonb-text", false]]);
    expect(one("postgres", "sqlite", col("doc", { kind: "json" }, { sourceType: "json" })).conversions).toEqual([]);
    expect(one("sqlite", "postgres", col("doc", { kind: "json" }, { sourceType: "JSON" })).type).toBe("json");
  });
});
