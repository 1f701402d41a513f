/**
 * Opens a copy's source or target from a URL and hides the three drivers behind one small
 * interface, so introspection, transfer and verification speak to every engine the same way.
 *
 * Accepted URLs:
 * - SQLite: `sqlite:///abs/path`, SQLAlchemy's `sqlite:////abs/path`, `file:///abs/path`, or a plain path;
 * - PostgreSQL: `postgresql://` or `postgres://` (anything `pg` accepts, incl. `?sslmode=`);
 * - MariaDB/MySQL: `mysql://` or `mariadb://`, with the `ssl-mode`/`ssl-ca` (MySQL) or
 *   `sslMode`/`serverSslCert` (MariaDB) parameters the stack's own URLs carry.
 *
 * Drivers: better-sqlite3 (synchronous, the fastest SQLite binding for Node and the only one
 * exposing the backup API), `pg` (with pg-copy-streams for COPY), `mysql2` (promise API).
 *
 * Values come back in a form that loses nothing: PostgreSQL date/time types as the server's text
 * (a JS Date would drop microseconds and apply the client's zone), session time zone UTC on
 * PostgreSQL and MariaDB (so timestamptz and MariaDB TIMESTAMP read as UTC instants), MariaDB dates
 * as strings and big numbers as strings. A password is only ever taken from the URL or the
 * driver's environment (PGPASSWORD; MYSQL_PWD for MariaDB), never from a command line.
 */
import Database from "better-sqlite3";
import { closeSync, existsSync, openSync, readFileSync } from "fs";
import * as mysql from "mysql2/promise";
import { Client as PgClient, types as pgTypes } from "pg";
import { isAbsolute, resolve } from "path";
import { COPY_URL, SERVER_ENGINE_KINDS, unknownEngine, type EngineKind } from "../model/engineKind";
import { redactUrl } from "./redactUrl";

/** Re-exported: callers that open connections redact with it too. */
export { redactUrl };

/** The native driver handle under a Connection, for what the common interface does not cover (COPY streams, bulk inserts). */
export type NativeHandle =
  | { engine: "sqlite"; db: Database.Database }
  | { engine: "postgres"; client: PgClient }
  | { engine: "mariadb"; conn: mysql.Connection };

/** One open database of a copy, whatever its engine. */
export interface Connection {
  engine: EngineKind;
  /** The URL with any password replaced by `***`, for messages. */
  display: string;
  /**
   * Runs one statement with positional parameters (`?` for SQLite and MariaDB, `$1` for PostgreSQL)
   * and returns its rows (an empty array for statements that return none).
   */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** The driver underneath (see NativeHandle). */
  native: NativeHandle;
  close(): Promise<void>;
}

/** Where a URL points, parsed without connecting. */
export type ConnectionTarget =
  | { engine: "sqlite"; path: string }
  | { engine: "postgres"; url: string }
  | { engine: "mariadb"; url: string };

export interface OpenOptions {
  /**
   * Open for reading only: SQLite opened read-only, PostgreSQL and MariaDB sessions set to
   * read-only transactions, so a source can never be written by mistake. Default false.
   */
  readOnly?: boolean;
  /** SQLite only: create the file when it does not exist (a target). Default false. */
  create?: boolean;
}

/** Parses a source/target URL (or plain SQLite path) into its engine and location. */
export function parseConnectionUrl(url: string): ConnectionTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return { engine: "sqlite", path: resolve(url) };
  if (scheme === "sqlite" || scheme === "file") {
    // sqlite:///abs (this project) and sqlite:////abs (SQLAlchemy) both name /abs.
    let rest = url.slice(scheme.length + 1);
    if (!rest.startsWith("//")) throw new Error(`${scheme} URL must be ${scheme}:///absolute/path, got ${redactUrl(url)}`);
    rest = rest.slice(2).split("?")[0];
    const path = decodeURIComponent(rest.replace(/^\/+/, "/"));
    if (!isAbsolute(path)) throw new Error(`${scheme} URL must name an absolute path, got ${redactUrl(url)}`);
    return { engine: "sqlite", path };
  }
  const server = SERVER_ENGINE_KINDS.find((engine) => COPY_URL[engine].schemes.includes(scheme));
  if (server !== undefined) return { engine: server, url };
  throw new Error(`unsupported database URL scheme ${JSON.stringify(scheme)}: use sqlite:///path, postgresql://, mysql:// or mariadb://`);
}


/** Opens a copy's source: always read-only. */
export function openSource(url: string): Promise<Connection> {
  return openConnection(url, { readOnly: true });
}

/** Opens a copy's target: writable; an SQLite target file is created when missing. */
export function openTarget(url: string): Promise<Connection> {
  return openConnection(url, { readOnly: false, create: true });
}

/** Opens the database a URL names (see the file header for accepted forms). */
export async function openConnection(url: string, options: OpenOptions = {}): Promise<Connection> {
  const target = parseConnectionUrl(url);
  switch (target.engine) {
    case "sqlite":
      return openSqlite(target.path, options);
    case "postgres":
      return openPostgres(target.url, options);
    case "mariadb":
      return openMariadb(target.url, options);
    default:
      return unknownEngine(target);
  }
}

function openSqlite(path: string, options: OpenOptions): Connection {
  // A database the copy creates holds copied data: it is made 0600 (SQLite gives its journal and
  // WAL files the same mode), never with the umask's 0644 that anyone on the host could read.
  if (options.create === true) createPrivateFile(path);
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: options.readOnly === true, fileMustExist: options.create !== true });
  } catch (err) {
    // The driver says "unable to open database file" without the path.
    throw new Error(`${path}: ${existsSync(path) ? (err as Error).message : "no such SQLite database file"}`);
  }
  // The busy timeout lets a copy read a file an application is writing to. Note: better-sqlite3
  // turns foreign key enforcement ON; a loader writes with PRAGMA foreign_keys = OFF (SQLite's
  // foreign keys are in CREATE TABLE, see ddl.ts) and checks with PRAGMA foreign_key_check.
  db.pragma("busy_timeout = 5000");
  return {
    engine: "sqlite",
    display: `sqlite://${path}`,
    native: { engine: "sqlite", db },
    async query(sql, params = []) {
      const stmt = db.prepare(sql);
      if (stmt.reader) return stmt.all(...(params as unknown[])) as Record<string, unknown>[];
      stmt.run(...(params as unknown[]));
      return [];
    },
    async close() {
      db.close();
    },
  };
}

/**
 * PostgreSQL type OIDs whose text form is kept: date, time, timestamp, timestamptz, timetz,
 * interval (BC years and infinity survive as the server spells them), and json/jsonb: pg would
 * parse those into objects, and JSON.stringify of that is not the stored text (duplicate keys
 * dropped, whitespace and key order changed, numbers beyond 2^53 rounded).
 */
const PG_TEXT_TYPES = [1082, 1083, 1114, 1184, 1266, 1186, 114, 3802];

async function openPostgres(url: string, options: OpenOptions): Promise<Connection> {
  const client = new PgClient({
    connectionString: url,
    types: {
      getTypeParser(oid: number, format?: "text" | "binary") {
        if (PG_TEXT_TYPES.includes(oid)) return (value: string) => value;
        return pgTypes.getTypeParser(oid, format as "text");
      },
    } as typeof pgTypes,
  });
  await client.connect();
  try {
    await client.query("SET TIME ZONE 'UTC'");
    await client.query("SET DateStyle = 'ISO, YMD'");
    await client.query("SET IntervalStyle = 'iso_8601'");
    if (options.readOnly) await client.query("SET default_transaction_read_only = on");
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return {
    engine: "postgres",
    display: redactUrl(url),
    native: { engine: "postgres", client },
    async query(sql, params = []) {
      const result = await client.query(sql, params as unknown[]);
      return (result.rows ?? []) as Record<string, unknown>[];
    },
    async close() {
      await client.end();
    },
  };
}

/** mysql2 options from a mysql:// or mariadb:// URL, with the TLS parameters the stack's own URLs carry. */
export function mariadbOptions(url: string): mysql.ConnectionOptions {
  const u = new URL(url);
  const param = (...names: string[]) => names.map((n) => u.searchParams.get(n)).find((v) => v !== null) ?? undefined;
  const sslMode = param("ssl-mode", "sslMode")?.toLowerCase();
  const ca = param("ssl-ca", "serverSslCert");
  const verify = sslMode === "verify_identity" || sslMode === "verify-full" || sslMode === "verify_ca" || sslMode === "verify-ca";
  const ssl =
    ca !== undefined || (sslMode !== undefined && sslMode !== "disabled" && sslMode !== "disable")
      ? { ca: ca === undefined ? undefined : readFileSync(ca, "utf8"), rejectUnauthorized: verify || ca !== undefined }
      : undefined;
  return {
    host: u.hostname.replace(/^\[|\]$/g, "") || "localhost",
    port: u.port === "" ? 3306 : Number(u.port),
    user: decodeURIComponent(u.username) || undefined,
    password: u.password !== "" ? decodeURIComponent(u.password) : process.env.MYSQL_PWD,
    database: decodeURIComponent(u.pathname.replace(/^\//, "")) || undefined,
    ssl,
    charset: "utf8mb4",
    // Lossless values: dates as the server's text, DECIMAL and BIGINT as strings.
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    timezone: "Z",
    multipleStatements: false,
  };
}

async function openMariadb(url: string, options: OpenOptions): Promise<Connection> {
  const conn = await mysql.createConnection(mariadbOptions(url));
  try {
    // TIMESTAMP columns read and write as UTC instants. A fixed sql_mode, whatever the server's:
    // strict (an out-of-range or too-long value is an error, never a silent clamp or cut), an
    // explicit 0 stays 0 in an AUTO_INCREMENT column, and backslashes escape in string literals
    // (no NO_BACKSLASH_ESCAPES), which ddl.ts's literals rely on.
    await conn.query("SET time_zone = '+00:00'");
    await conn.query("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO'");
    if (options.readOnly) await conn.query("SET SESSION TRANSACTION READ ONLY");
  } catch (err) {
    await conn.end().catch(() => undefined);
    throw err;
  }
  return {
    engine: "mariadb",
    display: redactUrl(url),
    native: { engine: "mariadb", conn },
    async query(sql, params = []) {
      const [rows] = await conn.query(sql, params);
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    },
    async close() {
      await conn.end();
    },
  };
}

/** Creates `path` as an empty file of mode 0600 when it does not exist (O_EXCL: an existing file is left as it is). */
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, "wx", 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}
