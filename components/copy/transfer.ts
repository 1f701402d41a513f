/**
 * Moves rows from a source database to a target, table by table, in batches.
 *
 * The source is read inside one consistent snapshot (SQLite: one read transaction; PostgreSQL:
 * REPEATABLE READ READ ONLY; MariaDB: START TRANSACTION WITH CONSISTENT SNAPSHOT), so the copy
 * and the source checksums describe one moment even while an application keeps writing.
 * Each batch is written in one target transaction with the engine's fast path: PostgreSQL COPY
 * FROM STDIN (text format), MariaDB prepared multi-row INSERTs (values as parameters), SQLite a prepared INSERT in a transaction.
 * While the target writes batch N, the source already fetches batch N+1 (PostgreSQL and MariaDB).
 *
 * Values are normalised by the target column's type class: integers as decimal strings or
 * BigInt (never a JS number), decimals as strings (never floats), booleans as the target's
 * true/false, timestamps as text in UTC or as wall-clock text, blobs as Buffers. The source rows
 * are hashed as they pass (verify.ts), so verification reads the source only once.
 */
import type { Connection as MysqlCoreConnection } from "mysql2";
import { from as copyFrom } from "pg-copy-streams";
import { unknownEngine, type EngineKind } from "../model/engineKind";
import type { Connection } from "./connections";
import { dialectFor, type Dialect } from "./dialects";
import { isUnholdable } from "./dialects/dialect";
import { mariadbWriter, type MariadbWriter as BatchWriter } from "./mariadbWriter";
import { ReaderPool } from "./parallelCopy";
import { declaredConversion } from "./prescan/declared";
import type { Column, Conversion, Table, TypeClass } from "./schema";
import {
  asText,
  canonicalBoolean,
  canonicalField,
  canonicalFloat,
  canonicalValue,
  clampedInfinity,
  decimalText,
  formatParts,
  specialDate,
  canonicalDate,
  canonicalDecimal,
  canonicalInteger,
  canonicalTime,
  ChecksumAccumulator,
  checksumFromSums,
  decimalInput,
  PG_HASH_SAMPLES,
  HASH_SEEDS,
  pgHashAgrees,
  renderPgChecksumQuery,
  parseTimestamp,
  toUtc,
  type CanonicalColumn,
  type TableChecksum,
} from "./verify";

/** One table to move: as the source holds it, and as translated for the target (the same columns, in the same order). */
export interface TablePair {
  source: Table;
  target: Table;
}

export interface TransferOptions {
  /** Rows per batch (one target transaction each). Default 5000. */
  batchRows?: number;
  /**
   * Ids of lossy conversions the user allowed (`--allow`); the transfer itself only consults
   * `<table>.<column>:nul->postgres` (a text value holding NUL, which PostgreSQL cannot store).
   */
  allow?: readonly string[];
  /** Where progress lines go; default stderr. `false` prints nothing. */
  progress?: ((line: string) => void) | false;
  /** Called when a table's rows are all committed on the target (the copy verifies it then, while the next table moves). */
  onTableDone?: (pair: TablePair, result: TableTransfer) => void;
  /** The caller has opened the source's snapshot (beginSnapshot) and ends it: the pre-scan and the transfer read the same rows. Default false: the transfer opens and ends its own. */
  inSnapshot?: boolean;
  /** Move the tables in the order given (parents first) rather than largest first: the target's tables already have their foreign keys. Default false. */
  keepOrder?: boolean;
  /** Reader threads already started (copy.ts starts them before the pre-scan); default: started here when they pay (parallelCopy.ts), closed at the end. */
  readers?: ReaderPool;
  /** Reader threads to start when `readers` is not given (see ReaderPool.forSource); default by the copy's size and the machine's cores. */
  readerThreads?: number;
}

/** What moving one table did. */
export interface TableTransfer {
  table: string;
  rows: number;
  seconds: number;
  /** The checksum of the rows read from the source snapshot, for verification. */
  sourceChecksum: TableChecksum;
  /** The threads that read the table's rows: 1 when this thread did (parallelCopy.ts). */
  readers?: number;
}

/** The id a user allows (`--allow`) to have NUL characters dropped from a text column copied into PostgreSQL. */
export function nulConversionId(table: string, column: string): string {
  return `${table}.${column}:nul->postgres`;
}

/** The id a user allows to have PostgreSQL's infinity/-infinity written as the target's latest/earliest time. */
export function infinityConversionId(table: string, column: string, target: EngineKind): string {
  return `${table}.${column}:infinity->${target}`;
}

/** The id a user allows to have dates before year 1 (BC) written as NULL into a target that cannot hold them. */
export function bcConversionId(table: string, column: string, target: EngineKind): string {
  return `${table}.${column}:bc->${target}`;
}

/** The id that allows writing NaN and ±Infinity of a number column as NULL into `target`. */
export function nonFiniteConversionId(table: string, column: string, target: EngineKind): string {
  return `${table}.${column}:nonfinite->${target}`;
}

/**
 * Whether a number column of `target` cannot hold `value` (as a writer gets it: a number, or
 * PostgreSQL's spelling NaN/Infinity/-Infinity). MariaDB's DOUBLE and DECIMAL hold neither NaN nor
 * ±Infinity; SQLite's REAL holds ±Infinity but stores a NaN as NULL; PostgreSQL holds all three.
 */
export function unholdableNumber(target: EngineKind, value: unknown): boolean {
  return isUnholdable(dialectFor(target).unholdableNumbers, value);
}

/** Raised when a value cannot be copied without loss and the user did not allow it. */
export class LossyValueError extends Error {
  constructor(
    readonly conversionId: string,
    message: string,
  ) {
    super(`${message}; allow it with --allow ${conversionId} (copyDatabase({ allow: ["${conversionId}"] }))`);
    this.name = "LossyValueError";
  }
}

/**
 * The columns as verification reduces them: by the source column's class, with NUL dropped from
 * text when the target is PostgreSQL and the user allowed it.
 */
export function canonicalColumns(pair: TablePair, targetEngine: EngineKind, allow: readonly string[] = []): CanonicalColumn[] {
  const target = dialectFor(targetEngine);
  return pair.source.columns.map((c) => ({
    name: c.name,
    type: c.type,
    stripNul: target.refusesNul && allow.includes(nulConversionId(pair.source.name, c.name)),
    clampInfinity: !target.holdsSpecialDates && allow.includes(infinityConversionId(pair.source.name, c.name, targetEngine)),
    bcAsNull: !target.holdsSpecialDates && allow.includes(bcConversionId(pair.source.name, c.name, targetEngine)),
    unholdableAsNull: allow.includes(nonFiniteConversionId(pair.source.name, c.name, targetEngine)) ? (v: unknown) => unholdableNumber(targetEngine, v) : undefined,
  }));
}

/**
 * Copies every table of `tables` from `source` to `target` (tables already created on the
 * target, constraints not yet), in one source snapshot. Returns per table the rows moved and
 * the source checksum; prints progress and a summary table unless told not to.
 */
export async function transferTables(
  source: Connection,
  target: Connection,
  tables: readonly TablePair[],
  options: TransferOptions = {},
): Promise<TableTransfer[]> {
  const batchRows = options.batchRows ?? 5000;
  const allow = options.allow ?? [];
  const progress = new Progress(options.progress);
  const results: TableTransfer[] = [];
  let pool: ReaderPool | undefined;
  if (!options.inSnapshot) await beginSnapshot(source);
  try {
    // Largest tables first: each table is verified while the next ones move (see onTableDone), so
    // what is left to verify after the last row is the smallest table, not a large one. (The
    // order does not matter otherwise: foreign keys are created or checked after the load.)
    const order = options.keepOrder ? [...tables] : await largestFirst(source, tables);
    // SQLite into PostgreSQL: reader threads read, convert, hash and render; this thread writes (parallelCopy.ts).
    pool = options.readers ?? (dialectFor(target.engine).loadsCopyText ? ReaderPool.forSource(source, await estimatedRows(source, tables), options.readerThreads) : undefined);
    for (const pair of order) {
      const started = Date.now();
      const accumulator = new ChecksumAccumulator(pair.source.name, canonicalColumns(pair, target.engine, allow));
      let rows = 0;
      // Values of a class the user allowed (prescan/) become what the pre-scan said, before hashing and writing.
      const declare = declaredConversion(pair, allow, source.engine) ?? ((row: readonly unknown[]) => row);
      progress.start(pair.source.name);
      const parallel = await pool?.copyTable(source, target, pair, allow, batchRows, accumulator, (n) => progress.update(pair.source.name, n, started));
      if (parallel !== undefined) {
        rows = parallel;
      } else if (dialectFor(target.engine).loadsCopyText) {
        rows = await copyIntoPostgres(source, target, pair, allow, batchRows, accumulator, (n) => progress.update(pair.source.name, n, started), declare);
      } else {
        const writer = await batchWriter(target, pair.target);
        const convert = rowConverter(pair, target.engine, allow);
        // One batch in flight: the target stores batch N while this process reads, hashes and
        // converts batch N+1 (two processes busy instead of taking turns).
        let inFlight: Promise<void> = Promise.resolve();
        try {
          for await (const batch of readRows(source, pair.source, batchRows)) {
            const converted = new Array<unknown[]>(batch.length);
            for (let i = 0; i < batch.length; i++) {
              const row = declare(batch[i]);
              accumulator.add(row);
              converted[i] = convert(row);
            }
            await inFlight;
            inFlight = writer.write(converted);
            inFlight.catch(() => undefined); // handled: awaited above on the next batch or after the loop
            rows += batch.length;
            progress.update(pair.source.name, rows, started);
          }
          await inFlight;
        } finally {
          await inFlight.catch(() => undefined);
          await writer.close();
        }
      }
      const seconds = (Date.now() - started) / 1000;
      progress.done(pair.source.name, rows, seconds);
      const result = { table: pair.source.name, rows, seconds, sourceChecksum: accumulator.result(), readers: parallel !== undefined && pool ? pool.size : 1 };
      results.push(result);
      options.onTableDone?.(pair, result);
    }
  } finally {
    if (options.readers === undefined) await pool?.close();
    if (!options.inSnapshot) await endSnapshot(source);
  }
  // Results in the order the tables were given.
  results.sort((a, b) => tables.findIndex((t) => t.source.name === a.table) - tables.findIndex((t) => t.source.name === b.table));
  progress.summary(results);
  return results;
}

/** The rows of `tables` together, by the source engine's cheap estimate (see largestFirst). */
export async function estimatedRows(source: Connection, tables: readonly TablePair[]): Promise<number> {
  let n = 0;
  for (const t of tables) n += await dialectFor(source.engine).estimateRows(source, t.source.name).catch(() => 0) || 0;
  return n;
}

/**
 * `tables` ordered by the rows each source table holds, largest first, by the engine's cheap
 * estimate (no scan): SQLite the rowid span, PostgreSQL reltuples, MariaDB TABLE_ROWS. A table
 * without an estimate counts as empty; ties keep their order.
 */
async function largestFirst(source: Connection, tables: readonly TablePair[]): Promise<TablePair[]> {
  const estimate = async (name: string): Promise<number> => {
    try {
      return await dialectFor(source.engine).estimateRows(source, name);
    } catch {
      return 0; // e.g. an SQLite WITHOUT ROWID table
    }
  };
  const sized = [];
  for (const [i, t] of tables.entries()) sized.push({ t, i, n: (await estimate(t.source.name)) || 0 });
  return sized.sort((a, b) => b.n - a.n || a.i - b.i).map((x) => x.t);
}

/**
 * The row count and checksum of `pair`'s target table as `conn` (the target) holds it, each
 * value reduced by its source column's class so it compares with the source's checksum.
 * PostgreSQL computes it in the server from the stored rows (verify.ts renderPgChecksumQuery)
 * when every column has a canonical SQL form and the server's hash agrees with ours; otherwise,
 * and on the other engines, the rows are read back and hashed here.
 */
export async function checksumTable(conn: Connection, pair: TablePair, targetEngine: EngineKind, allow: readonly string[] = []): Promise<TableChecksum> {
  const columns = canonicalColumns(pair, targetEngine, allow);
  const d = dialectFor(conn.engine);
  if (d.checksumsInServer && (await serverHashAgrees(conn))) {
    const sql = renderPgChecksumQuery(
      pair.target.name,
      columns.map((c, i) => ({ source: c, target: pair.target.columns[i] })),
      (n) => d.quoteIdentifier(n),
    );
    if (sql !== undefined) {
      const [r] = await conn.query(sql);
      return checksumFromSums(pair.source.name, Number(r.n), r.h1 === null ? null : String(r.h1), r.h2 === null ? null : String(r.h2));
    }
  }
  const acc = new ChecksumAccumulator(pair.source.name, columns);
  for await (const batch of readRows(conn, pair.target, 5000)) for (const row of batch) acc.add(row);
  return acc.result();
}

const hashChecks = new WeakMap<Connection, Promise<boolean>>();

/** Whether a PostgreSQL server's hashtextextended is the one verify.ts reimplements (asked once per connection). */
function serverHashAgrees(conn: Connection): Promise<boolean> {
  let check = hashChecks.get(conn);
  if (check === undefined) {
    const params: string[] = [];
    const calls = PG_HASH_SAMPLES.flatMap((t) =>
      HASH_SEEDS.map((seed) => {
        params.push(t);
        return `hashtextextended($${params.length}::text COLLATE "C", ${seed})::text`;
      }),
    );
    check = conn
      .query(`SELECT ARRAY[${calls.join(", ")}] AS h`, params)
      .then((rows) => pgHashAgrees((rows[0].h as unknown[]).map(String)))
      .catch(() => false);
    hashChecks.set(conn, check);
  }
  return check;
}

/** Rows rendered and written to a COPY stream at a time: small enough that they die young (no garbage collector work to speak of), large enough to keep calls few. */
const PG_CHUNK_ROWS = 1000;

/**
 * Moves one table into PostgreSQL: source rows are read in small chunks, each rendered to COPY
 * text (and hashed) and written into an open COPY at once, so PostgreSQL parses one chunk while
 * the next is read and rendered; every `batchRows` rows the COPY ends (one transaction).
 * Returns the rows moved.
 */
async function copyIntoPostgres(
  source: Connection,
  target: Connection,
  pair: TablePair,
  allow: readonly string[],
  batchRows: number,
  accumulator: ChecksumAccumulator,
  onProgress: (rows: number) => void,
  declare: (row: readonly unknown[]) => readonly unknown[],
): Promise<number> {
  const render = pgRowRenderer(pair, allow);
  const copy = new PgCopy(target, pair.target);
  let rows = 0;
  let inBatch = 0;
  try {
    for await (const chunk of readRows(source, pair.source, Math.min(batchRows, PG_CHUNK_ROWS))) {
      let text = "";
      for (let i = 0; i < chunk.length; i++) text += `${render(declare(chunk[i]), accumulator)}\n`;
      await copy.write(text);
      rows += chunk.length;
      inBatch += chunk.length;
      if (inBatch >= batchRows) {
        await copy.commit();
        inBatch = 0;
      }
      onProgress(rows);
    }
    await copy.commit();
  } finally {
    await copy.abort();
  }
  return rows;
}

/** One COPY FROM STDIN at a time into a table, opened on the first write: write() with backpressure, commit() ends it (its transaction), abort() rolls an open one back. */
export class PgCopy {
  private readonly sql: string;
  private stream: ReturnType<typeof copyFrom> | undefined;
  private done: Promise<void> | undefined;
  private failed: Error | undefined;

  constructor(
    private readonly target: Connection,
    table: Table,
  ) {
    this.sql = renderCopyFrom(table);
  }

  async write(text: string): Promise<void> {
    if (this.target.native.engine !== "postgres") throw new Error("PgCopy needs a PostgreSQL target");
    if (this.stream === undefined) {
      const stream = this.target.native.client.query(copyFrom(this.sql));
      this.stream = stream;
      this.failed = undefined;
      this.done = new Promise<void>((resolve, reject) => {
        stream.on("finish", () => resolve());
        stream.on("error", (err: Error) => {
          this.failed = err;
          reject(err);
        });
      });
      this.done.catch(() => undefined); // surfaced by write() or commit()
    }
    // PostgreSQL refused the COPY already (its error ends the stream's hold on the connection): say that, never write on.
    if (this.failed) throw this.failed;
    const stream = this.stream;
    if (!stream.write(text)) {
      // PostgreSQL is behind: wait until the socket drains (or the COPY fails).
      await new Promise<void>((resolve) => {
        const settle = () => {
          stream.off("drain", settle);
          stream.off("error", settle);
          resolve();
        };
        stream.on("drain", settle);
        stream.on("error", settle);
      });
    }
    if (this.failed) throw this.failed;
  }

  async commit(): Promise<void> {
    const stream = this.stream;
    if (stream === undefined) return;
    this.stream = undefined;
    stream.end();
    await this.done;
  }

  async abort(): Promise<void> {
    const stream = this.stream;
    if (stream === undefined) return;
    this.stream = undefined;
    // Already refused by the server: rolled back there, nothing to cancel (the stream has let go of the connection).
    if (this.failed) return;
    // destroy() sends CopyFail: the server rolls the COPY back and the connection stays usable.
    stream.destroy(new Error("copy aborted"));
    await this.done?.catch(() => undefined);
  }
}

/** Starts the source's consistent snapshot (see the file header). */
export async function beginSnapshot(conn: Connection): Promise<void> {
  for (const sql of dialectFor(conn.engine).snapshotStatements) await conn.query(sql);
}

/** Ends the snapshot (a read-only transaction: nothing to keep, so a rollback). */
export async function endSnapshot(conn: Connection): Promise<void> {
  await conn.query("ROLLBACK").catch(() => undefined);
}

function selectAll(engine: EngineKind, table: Table): string {
  const q = (n: string) => dialectFor(engine).quoteIdentifier(n);
  return `SELECT ${table.columns.map((c) => (c.readAs === undefined ? q(c.name) : `${c.readAs} AS ${q(c.name)}`)).join(", ")} FROM ${q(table.name)}`;
}

/** PostgreSQL's `COPY table (columns) FROM STDIN` for `table`. */
function renderCopyFrom(table: Table): string {
  const q = (n: string) => dialectFor("postgres").quoteIdentifier(n);
  return `COPY ${q(table.name)} (${table.columns.map((c) => q(c.name)).join(", ")}) FROM STDIN`;
}

/**
 * Streams a table's rows (values in column order) in batches of `batchRows`. PostgreSQL reads
 * through a cursor, so it needs a transaction: the source's snapshot, or one this opens.
 */
export async function* readRows(conn: Connection, table: Table, batchRows: number): AsyncGenerator<unknown[][]> {
  const native = conn.native;
  switch (native.engine) {
    case "sqlite": {
      const stmt = native.db.prepare(selectAll("sqlite", table));
      stmt.raw(true);
      stmt.safeIntegers(true); // INTEGER values beyond 2^53 as BigInt, not rounded numbers
      const it = stmt.iterate() as IterableIterator<unknown[]>;
      try {
        let batch: unknown[][] = [];
        for (const row of it) {
          batch.push(row);
          if (batch.length >= batchRows) {
            yield batch;
            batch = [];
          }
        }
        if (batch.length) yield batch;
      } finally {
        it.return?.();
      }
      return;
    }
    case "postgres": {
      const client = native.client;
      const ownTransaction = !inTransaction(conn);
      if (ownTransaction) await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      await client.query(`DECLARE dbstack_copy NO SCROLL CURSOR FOR ${selectAll("postgres", table)}`);
      const fetch = () => client.query({ text: `FETCH ${batchRows} FROM dbstack_copy`, rowMode: "array" }).then((r) => r.rows as unknown[][]);
      let pending: Promise<unknown[][]> | undefined = fetch();
      try {
        while (pending) {
          const rows: unknown[][] = await pending;
          // Fetch the next batch while the caller writes this one.
          pending = rows.length === batchRows ? fetch() : undefined;
          if (rows.length) yield rows;
        }
      } finally {
        await pending?.catch(() => undefined);
        await client.query("CLOSE dbstack_copy").catch(() => undefined);
        if (ownTransaction) await client.query("COMMIT").catch(() => undefined);
      }
      return;
    }
    case "mariadb": {
      const core = (native.conn as unknown as { connection: MysqlCoreConnection }).connection;
      // A streamed result: the server sends rows as the caller consumes them (the socket pauses in between).
      const stream = core
        .query({ sql: selectAll("mariadb", table), rowsAsArray: true, typeCast: exactFloats })
        .stream({ highWaterMark: batchRows });
      let batch: unknown[][] = [];
      try {
        for await (const row of stream) {
          batch.push(row as unknown[]);
          if (batch.length >= batchRows) {
            yield batch;
            batch = [];
          }
        }
        if (batch.length) yield batch;
      } finally {
        if (!stream.readableEnded) {
          stream.destroy();
        }
      }
      return;
    }
    default:
      return unknownEngine(native);
  }
}

/**
 * mysql2's own text-to-double parser can be one unit in the last place off (90.28571428571429
 * reads as 90.28571428571428): FLOAT and DOUBLE are taken as the server's text instead, which
 * Number() reads exactly.
 */
function exactFloats(field: { type: string; string(): string | null }, next: () => unknown): unknown {
  return field.type === "DOUBLE" || field.type === "FLOAT" ? field.string() : next();
}

/** Whether a PostgreSQL connection is inside a transaction block (pg tracks ReadyForQuery's status). */
function inTransaction(conn: Connection): boolean {
  if (conn.native.engine !== "postgres") return false;
  const client = conn.native.client as unknown as { getTransactionStatus?: () => string | null };
  const status = client.getTransactionStatus?.();
  // 'T' in a transaction, 'E' in a failed one, 'I' idle; unknown on drivers that do not track it.
  return status === "T" || status === "E";
}

/**
 * Returns a writer of batches of converted rows into `table` on `target`, each batch in one
 * transaction, with the engine's fast path; close() releases what it prepared.
 */
export async function batchWriter(target: Connection, table: Table): Promise<BatchWriter> {
  const native = target.native;
  const q = (n: string) => dialectFor(target.engine).quoteIdentifier(n);
  const cols = table.columns.map((c) => q(c.name)).join(", ");
  const name = q(table.name);
  switch (native.engine) {
    case "sqlite": {
      const insert = native.db.prepare(`INSERT INTO ${name} (${cols}) VALUES (${table.columns.map(() => "?").join(", ")})`);
      const many = native.db.transaction((rows: unknown[][]) => {
        for (const row of rows) insert.run(row);
      });
      return { write: async (rows) => many(rows), close: async () => undefined };
    }
    case "postgres": {
      const write = pgCopyWriter(target, table);
      return {
        write: async (rows) => {
          if (rows.length) await write(renderCopyText(rows));
        },
        close: async () => undefined,
      };
    }
    case "mariadb":
      // A data stream (LOAD DATA LOCAL) or prepared INSERTs: values never in a statement's text (mariadbWriter.ts).
      return mariadbWriter(native.conn, table);
    default:
      return unknownEngine(native);
  }
}

/** Returns a function that loads COPY text (whole lines) into `table` on a PostgreSQL target, one COPY (one transaction) per call. */
function pgCopyWriter(target: Connection, table: Table): (text: string) => Promise<void> {
  if (target.native.engine !== "postgres") throw new Error("pgCopyWriter needs a PostgreSQL target");
  const client = target.native.client;
  const sql = renderCopyFrom(table);
  return async (text) => {
    // One COPY statement is one transaction: the batch lands whole or not at all.
    const stream = client.query(copyFrom(sql));
    await new Promise<void>((resolve, reject) => {
      stream.on("error", reject);
      stream.on("finish", () => resolve());
      stream.end(text);
    });
  };
}

/** What one column's renderer produced for a value: its canonical text (null for NULL) and its COPY text (escaped, `\N` for NULL). */
const rendered = { canonical: null as string | null, copy: "" };

/**
 * Returns a function that renders a source row as one PostgreSQL COPY text line and adds its
 * canonical form to `acc`, computing each value's canonical text (by the source column's class,
 * verify.ts) and its target text from one reading of it. Where the source and target classes
 * differ, or for the classes without a shared reading, the two are computed apart
 * (canonicalValue and toTargetValue), exactly as the other engines' path does. The target's
 * checksum is computed by PostgreSQL from what it stored, so a wrong rendering here fails
 * verification rather than passing it.
 */
export function pgRowRenderer(pair: TablePair, allow: readonly string[] = []): (row: readonly unknown[], acc: ChecksumAccumulator) => string {
  const renderers = pair.source.columns.map((src, i) => {
    const tgt: Column = pair.target.columns[i] ?? src;
    const nulId = nulConversionId(pair.source.name, src.name);
    return pgValueRenderer(pair.source.name, src, tgt, nulId, allow.includes(nulId));
  });
  const types = pair.source.columns.map((c) => c.type);
  return (row, acc) => {
    let canonical = "";
    let line = "";
    for (let i = 0; i < renderers.length; i++) {
      renderers[i](row[i]);
      canonical += canonicalField(rendered.canonical, types[i]);
      line += i === 0 ? rendered.copy : `\t${rendered.copy}`;
    }
    acc.addCanonical(canonical);
    return line;
  };
}

/**
 * For `YYYY-MM-DD HH:MM:SS[.f]` with no zone or a zero one (`Z`, `+00`, `+00:00`, `+0000`): the
 * part before the zone with the fraction's trailing zeros dropped, which is what
 * canonicalInstant/canonicalWallClock and the PostgreSQL text of it come to; undefined for
 * anything else (those take parseTimestamp).
 */
export function utcTimestampBase(s: string): string | undefined {
  const n = s.length;
  if (n < 19 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined;
  for (const i of TIMESTAMP_DIGITS) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  let end = 19; // end of the base
  let i = 19;
  if (i < n && s.charCodeAt(i) === 46) {
    let j = i + 1;
    while (j < n && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) {
      if (s.charCodeAt(j) !== 48) end = j + 1;
      j++;
    }
    if (j === i + 1) return undefined;
    i = j;
  }
  if (i < n) {
    const zone = s.slice(i);
    if (zone !== "Z" && zone !== "+00" && zone !== "+00:00" && zone !== "+0000") return undefined;
  }
  return end === n ? s : s.slice(0, end);
}

const TIMESTAMP_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];

/** A text value bound for PostgreSQL: refused (or, when allowed, stripped) when it holds NUL. */
function pgText(table: string, column: string, nulId: string, stripNul: boolean, s: string): string {
  if (!s.includes("\u0000")) return s;
  if (!stripNul) throw new LossyValueError(nulId, `${table}.${column} holds a text value with a NUL character, which PostgreSQL cannot store; copying it drops the NUL`);
  return s.replace(/\u0000/g, "");
}

function pgValueRenderer(table: string, src: Column, tgt: Column, nulId: string, stripNul: boolean): (v: unknown) => void {
  const s = src.type;
  const t = tgt.type;
  const isNull = (v: unknown) => {
    if (v !== null && v !== undefined) return false;
    rendered.canonical = null;
    rendered.copy = "\\N";
    return true;
  };
  if (s.kind === "integer" && t.kind === "integer") {
    return (v) => {
      if (isNull(v)) return;
      rendered.canonical = rendered.copy = canonicalInteger(v);
    };
  }
  if (s.kind === "boolean" && t.kind === "boolean") {
    return (v) => {
      if (isNull(v)) return;
      const b = canonicalBoolean(v);
      rendered.canonical = b ? "1" : "0";
      rendered.copy = b ? "t" : "f";
    };
  }
  if (s.kind === "decimal" && t.kind === "decimal" && s.scale === t.scale) {
    return (v) => {
      if (isNull(v)) return;
      rendered.canonical = rendered.copy = decimalText(canonicalDecimal(decimalInput(v, s.scale)));
    };
  }
  if (s.kind === "text" && t.kind === "text" && !s.fixed && !t.fixed) {
    return (v) => {
      if (isNull(v)) return;
      const text = pgText(table, src.name, nulId, stripNul, asText(v));
      rendered.canonical = text;
      rendered.copy = escapeCopy(text);
    };
  }
  if (s.kind === "binary" && t.kind === "binary") {
    return (v) => {
      if (isNull(v)) return;
      const hex = (Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(asText(v), "utf8")).toString("hex");
      rendered.canonical = hex;
      rendered.copy = `\\\\x${hex}`;
    };
  }
  const generic = (v: unknown) => {
    if (isNull(v)) return;
    rendered.canonical = canonicalValue(v, s, stripNul);
    let out = toTargetValue(v, t, "postgres");
    if (typeof out === "string" && t.kind !== "binary") out = pgText(table, src.name, nulId, stripNul, out);
    rendered.copy = out === null ? "\\N" : escapeCopy(String(out));
  };
  // infinity and BC dates (a PostgreSQL source) take the general way.
  const special = (v: unknown) => typeof v === "string" && specialDate(v) !== undefined;
  if (s.kind === "date" && t.kind === "date") {
    return (v) => {
      if (special(v)) return generic(v);
      if (isNull(v)) return;
      rendered.canonical = rendered.copy = canonicalDate(v);
    };
  }
  if (s.kind === "timestamp" && t.kind === "timestamp" && s.withTimeZone === t.withTimeZone) {
    return (v) => {
      if (special(v)) return generic(v);
      if (isNull(v)) return;
      const base = typeof v === "string" ? utcTimestampBase(v) : undefined;
      if (base !== undefined) {
        // Already UTC (or no zone) in the canonical layout: no parsing.
        rendered.canonical = s.withTimeZone ? `${base}Z` : base;
        rendered.copy = s.withTimeZone ? `${base}+00` : base;
        return;
      }
      const p = parseTimestamp(v);
      const u = toUtc(p);
      const utc = formatParts(u.date, u.hour, u.minute, u.second, p.fraction);
      if (s.withTimeZone) {
        rendered.canonical = `${utc}Z`;
        rendered.copy = `${utc}+00`;
      } else {
        // A wall-clock value with an offset is written as its UTC wall clock (toTargetValue), compared as written.
        rendered.canonical = p.offsetMinutes ? formatParts(p.date, p.hour, p.minute, p.second, p.fraction) : utc;
        rendered.copy = utc;
      }
    };
  }
  if (s.kind === "float" && t.kind === "float") {
    return (v) => {
      if (isNull(v)) return;
      rendered.canonical = canonicalFloat(v, s.bytes);
      rendered.copy = String(toTargetValue(v, t, "postgres"));
    };
  }
  return generic;
}

/**
 * Renders rows as PostgreSQL COPY text format: tab-separated, `\N` for NULL, backslash, newline,
 * carriage return and tab escaped. Values must already be strings (see rowConverter) or null.
 */
export function renderCopyText(rows: readonly unknown[][]): string {
  const lines = new Array<string>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    let line = "";
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (i) line += "\t";
      line += v === null || v === undefined ? "\\N" : escapeCopy(String(v));
    }
    lines[r] = line;
  }
  return lines.join("\n") + "\n";
}

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** Escapes one value for COPY text format. */
export function escapeCopy(value: string): string {
  return COPY_SPECIAL.test(value) ? value.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c]) : value;
}

/**
 * Returns a function that turns a source row into the values the target's writer takes
 * (see toTargetValue), checking for NUL in text bound for PostgreSQL.
 */
export function rowConverter(pair: TablePair, targetEngine: EngineKind, allow: readonly string[] = []): (row: readonly unknown[]) => unknown[] {
  const target = dialectFor(targetEngine);
  // Translation keeps columns one to one and in order (names differ only when a rename was allowed).
  const plans = pair.source.columns.map((src, i) => {
    const tgt: Column = pair.target.columns[i] ?? src;
    const nulId = nulConversionId(pair.source.name, src.name);
    const infId = infinityConversionId(pair.source.name, src.name, targetEngine);
    const bcId = bcConversionId(pair.source.name, src.name, targetEngine);
    const dated = !target.holdsSpecialDates && (tgt.type.kind === "date" || tgt.type.kind === "timestamp");
    const numeric = target.unholdableNumbers.length > 0 && (tgt.type.kind === "float" || tgt.type.kind === "decimal");
    const nonFiniteId = nonFiniteConversionId(pair.source.name, src.name, targetEngine);
    return { src, tgt, nulId, stripNul: allow.includes(nulId), dated, infId, bcId, clamp: allow.includes(infId), bcNull: allow.includes(bcId), numeric, nonFiniteId, nonFiniteNull: allow.includes(nonFiniteId) };
  });
  return (row) => {
    const out = new Array<unknown>(plans.length);
    for (let i = 0; i < plans.length; i++) {
      const p = plans[i];
      let raw = row[i];
      if (p.dated && typeof raw === "string") {
        // PostgreSQL's infinity and BC dates: MariaDB and SQLite dates hold neither.
        const special = specialDate(raw);
        if (special === "bc") {
          if (!p.bcNull) throw new LossyValueError(p.bcId, `${pair.source.name}.${p.src.name} holds a date before year 1 (${raw}), which ${targetEngine} cannot hold; copying it writes NULL`);
          raw = null;
        } else if (special !== undefined) {
          if (!p.clamp) throw new LossyValueError(p.infId, `${pair.source.name}.${p.src.name} holds ${special}, which ${targetEngine} cannot hold; copying it writes ${clampedInfinity(special, p.tgt.type)}`);
          raw = clampedInfinity(special, p.tgt.type);
        }
      }
      if (p.numeric && unholdableNumber(targetEngine, raw)) {
        // Never reaches a writer: the target's columns cannot hold it.
        if (!p.nonFiniteNull) throw new LossyValueError(p.nonFiniteId, `${pair.source.name}.${p.src.name} holds ${String(raw)}, which ${targetEngine} cannot hold; copying it writes NULL`);
        raw = null;
      }
      let v = toTargetValue(raw, p.tgt.type, targetEngine);
      if (target.refusesNul && typeof v === "string" && v.includes("\u0000") && p.tgt.type.kind !== "binary") {
        if (!p.stripNul) {
          throw new LossyValueError(
            p.nulId,
            `${pair.source.name}.${p.src.name} holds a text value with a NUL character, which PostgreSQL cannot store; copying it drops the NUL`,
          );
        }
        v = v.replace(/\u0000/g, "");
      }
      out[i] = v;
    }
    return out;
  };
}


/**
 * Converts one value read from any engine into what the target engine's writer takes for a
 * column of class `type`: strings for PostgreSQL's COPY text (bytea as `\x` hex), strings,
 * numbers and Buffers for MariaDB, BigInt/number/string/Buffer for SQLite.
 */
export function toTargetValue(value: unknown, type: TypeClass, engine: EngineKind): unknown {
  if (value === null || value === undefined) return null;
  const target = dialectFor(engine);
  switch (type.kind) {
    case "integer": {
      return target.values.integer(canonicalInteger(value));
    }
    case "boolean": {
      return target.values.boolean(canonicalBoolean(value));
    }
    case "decimal": {
      const d = canonicalDecimal(decimalInput(value, type.scale));
      // PostgreSQL numeric spells the special values NaN/Infinity; the others have none (the insert fails loudly).
      return d === "nan" ? "NaN" : d === "inf" ? "Infinity" : d === "-inf" ? "-Infinity" : d;
    }
    case "float": {
      const n = typeof value === "number" ? value : Number(typeof value === "string" ? value.trim() : String(value));
      return target.values.float(n);
    }
    case "binary": {
      const buf = Buffer.isBuffer(value) ? value : value instanceof Uint8Array ? Buffer.from(value) : Buffer.from(textOf(value), "utf8");
      return target.values.binary(buf);
    }
    case "date":
      if (typeof value === "string" && (specialDate(value) === "infinity" || specialDate(value) === "-infinity")) return specialDate(value);
      return canonicalDate(value);
    case "time":
      return canonicalTime(textOf(value));
    case "timestamp": {
      // infinity reaches here only for PostgreSQL (rowConverter clamps or refuses it for the others).
      const special = typeof value === "string" ? specialDate(value) : undefined;
      if (special === "infinity" || special === "-infinity") return special;
      return type.withTimeZone ? instantText(value, target) : wallClockText(value);
    }
    case "json":
      return textOf(value);
    case "uuid":
      return textOf(value).toLowerCase();
    case "text":
    case "other":
      return textOf(value);
  }
}

/** An instant as UTC text, followed by the target's suffix (PostgreSQL `+00`, SQLite `+00:00`, MariaDB none). */
function instantText(value: unknown, target: Dialect): string {
  const p = parseTimestamp(value);
  const u = toUtc(p);
  const text = `${u.date} ${pad2(u.hour)}:${pad2(u.minute)}:${pad2(u.second)}${p.fraction ? `.${p.fraction}` : ""}`;
  // BC (only from PostgreSQL, only back into it: the others refuse it in rowConverter).
  if (u.bc) return `${text}+00 BC`;
  return `${text}${target.values.instantSuffix}`;
}

/** A wall-clock timestamp as `YYYY-MM-DD HH:MM:SS[.f]` (an instant's UTC wall clock when it has an offset). */
function wallClockText(value: unknown): string {
  const p = parseTimestamp(value);
  const u = toUtc(p);
  return `${u.date} ${pad2(u.hour)}:${pad2(u.minute)}:${pad2(u.second)}${p.fraction ? `.${p.fraction}` : ""}${u.bc ? " BC" : ""}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  // pg parses json/jsonb into objects: back to JSON text.
  if (value !== null && typeof value === "object" && !(value instanceof Date)) return JSON.stringify(value);
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/** Prints rows per table and rows/s while a copy runs, and a summary table at the end. */
class Progress {
  private readonly write: ((line: string) => void) | undefined;
  private last = 0;

  constructor(sink: ((line: string) => void) | false | undefined) {
    this.write = sink === false ? undefined : (sink ?? ((line: string) => void process.stderr.write(`${line}\n`)));
  }

  start(table: string): void {
    this.last = Date.now();
    this.write?.(`copying ${table} ...`);
  }

  update(table: string, rows: number, started: number): void {
    const now = Date.now();
    if (now - this.last < 2000) return; // a line every 2 s: readable in CI logs, which have no carriage returns
    this.last = now;
    this.write?.(`  ${table}: ${rows} rows, ${rate(rows, (now - started) / 1000)} rows/s`);
  }

  done(table: string, rows: number, seconds: number): void {
    this.write?.(`  ${table}: ${rows} rows in ${seconds.toFixed(2)} s (${rate(rows, seconds)} rows/s)`);
  }

  summary(results: readonly TableTransfer[]): void {
    if (!this.write) return;
    for (const line of renderTransferSummary(results)) this.write(line);
  }
}

function rate(rows: number, seconds: number): string {
  return seconds > 0 ? String(Math.round(rows / seconds)) : "-";
}

/** The summary table printed after a transfer: one line per table and a total. */
export function renderTransferSummary(results: readonly TableTransfer[]): string[] {
  const rows = results.map((r) => [r.table, String(r.rows), r.seconds.toFixed(2), rate(r.rows, r.seconds)]);
  const totalRows = results.reduce((n, r) => n + r.rows, 0);
  const totalSeconds = results.reduce((n, r) => n + r.seconds, 0);
  rows.push(["total", String(totalRows), totalSeconds.toFixed(2), rate(totalRows, totalSeconds)]);
  return renderTable(["table", "rows", "seconds", "rows/s"], rows);
}

/** Renders a plain-text table with aligned columns (numbers right-aligned). */
export function renderTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)];
}

/**
 * The values of the source that the target cannot hold as they are, found before anything is
 * written, each a lossy conversion with the id that allows it: text with NUL into PostgreSQL
 * (findNulConversions); PostgreSQL's infinity/-infinity and dates before year 1 (BC) into
 * MariaDB or SQLite (findSpecialDateConversions).
 */
export async function findValueConversions(source: Connection, tables: readonly Table[], targetEngine: EngineKind): Promise<Conversion[]> {
  return [
    ...(await findNulConversions(source, tables, targetEngine)),
    ...(await findSpecialDateConversions(source, tables, targetEngine)),
    ...(await findNonFiniteConversions(source, tables, targetEngine)),
  ];
}

/**
 * The number columns holding NaN or ±Infinity (PostgreSQL's float and numeric, SQLite's REAL),
 * for a copy into an engine that cannot hold them: one query per such column.
 */
export async function findNonFiniteConversions(source: Connection, tables: readonly Table[], targetEngine: EngineKind): Promise<Conversion[]> {
  const from = dialectFor(source.engine);
  const values = dialectFor(targetEngine).unholdableNumbers;
  if (values.length === 0 || from.nonFiniteTest === undefined) return [];
  const infinite = values.includes("Infinity");
  const out: Conversion[] = [];
  for (const t of tables) {
    for (const c of t.columns.filter((col) => col.type.kind === "float" || col.type.kind === "decimal")) {
      const test = from.nonFiniteTest(from.quoteIdentifier(c.name), values);
      const hit = await source.query(`SELECT 1 AS hit FROM ${from.quoteIdentifier(t.name)} WHERE ${test} LIMIT 1`);
      if (hit.length) {
        out.push({
          id: nonFiniteConversionId(t.name, c.name, targetEngine),
          table: t.name,
          column: c.name,
          message: `${t.name}.${c.name} holds ${infinite ? "NaN or Infinity" : "NaN"}, which ${targetEngine} cannot hold: ${infinite ? "they are" : "it is"} written as NULL`,
          lossy: true,
        });
      }
    }
  }
  return out;
}

/**
 * The date and timestamp columns of a PostgreSQL source holding infinity/-infinity or BC dates,
 * for a copy into MariaDB or SQLite (neither holds them): one scan per table that has such columns.
 */
export async function findSpecialDateConversions(source: Connection, tables: readonly Table[], targetEngine: EngineKind): Promise<Conversion[]> {
  const from = dialectFor(source.engine);
  if (from.specialDateProbes === undefined || dialectFor(targetEngine).holdsSpecialDates) return [];
  const probe = from.specialDateProbes;
  const out: Conversion[] = [];
  for (const t of tables) {
    const cols = t.columns.filter((c) => c.type.kind === "date" || c.type.kind === "timestamp");
    if (cols.length === 0) continue;
    const probes = cols.flatMap((c, i) => probe(from.quoteIdentifier(c.name), i));
    const [r] = await source.query(`SELECT ${probes.join(", ")} FROM ${from.quoteIdentifier(t.name)}`);
    cols.forEach((c, i) => {
      if (r[`inf${i}`] === true) {
        out.push({
          id: infinityConversionId(t.name, c.name, targetEngine),
          table: t.name,
          column: c.name,
          message: `${t.name}.${c.name} holds infinity or -infinity, which ${targetEngine} cannot hold: infinity is written as ${clampedInfinity("infinity", c.type)}, -infinity as ${clampedInfinity("-infinity", c.type)}`,
          lossy: true,
        });
      }
      if (r[`bc${i}`] === true) {
        out.push({
          id: bcConversionId(t.name, c.name, targetEngine),
          table: t.name,
          column: c.name,
          message: `${t.name}.${c.name} holds dates before year 1 (BC), which ${targetEngine} cannot hold: they are written as NULL`,
          lossy: true,
        });
      }
    });
  }
  return out;
}

/**
 * The text columns whose values hold a NUL character, found before anything is written, for a
 * copy into PostgreSQL (which cannot store NUL in text): each a lossy conversion with the id
 * that allows dropping the NUL. Only SQLite and MariaDB can hold such values.
 */
export async function findNulConversions(source: Connection, tables: readonly Table[], targetEngine: EngineKind): Promise<Conversion[]> {
  const from = dialectFor(source.engine);
  if (!dialectFor(targetEngine).refusesNul || from.nulTest === undefined) return [];
  const out: Conversion[] = [];
  for (const t of tables) {
    const cols = t.columns.filter((c) => ["text", "json", "other", "uuid"].includes(c.type.kind));
    for (const c of cols) {
      const test = from.nulTest(from.quoteIdentifier(c.name));
      const hit = await source.query(`SELECT 1 AS hit FROM ${from.quoteIdentifier(t.name)} WHERE ${test} LIMIT 1`);
      if (hit.length) {
        out.push({
          id: nulConversionId(t.name, c.name),
          table: t.name,
          column: c.name,
          message: `text values hold NUL characters, which PostgreSQL cannot store: they are dropped`,
          lossy: true,
        });
      }
    }
  }
  return out;
}
