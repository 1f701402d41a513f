/**
 * A reader thread of a parallel SQLite -> PostgreSQL copy (parallelCopy.ts): reads one rowid
 * range of a table from the SQLite file (its own read-only connection, see parallelCopy.ts for
 * why it reads what the copy's snapshot holds), applies the declared conversion, renders COPY
 * text (pgRowRenderer, the same renderer the one-thread path uses), hashes every row for the
 * verification, and posts the text to the main thread, which writes it into PostgreSQL.
 * At most MAX_UNWRITTEN chunks wait in the main thread: the reader blocks until the writer
 * catches up, so memory stays flat whatever the table's size.
 */
import Database from "better-sqlite3";
import { parentPort, workerData } from "worker_threads";
import { dialectFor } from "./dialects";
import { declaredConversion } from "./prescan/declared";
import { canonicalColumns, LossyValueError, pgRowRenderer, type TablePair } from "./transfer";
import { ChecksumAccumulator, type AccumulatorState } from "./verify";

/** One table range to read. */
export interface ReadJob {
  kind: "read";
  path: string;
  pair: TablePair;
  allow: string[];
  /** Rowids from `lo` to `hi` inclusive. */
  lo: string;
  hi: string;
  chunkRows: number;
}

/** What a reader posts: chunks of COPY text, then its checksum state (or an error). */
export type ReaderMessage =
  | { kind: "chunk"; text: string; rows: number }
  | { kind: "done"; state: AccumulatorState }
  | { kind: "error"; message: string; conversionId?: string };

/** Chunks a reader may have posted that the main thread has not written yet. */
export const MAX_UNWRITTEN = 4;

const databases = new Map<string, Database.Database>();

function open(path: string): Database.Database {
  let db = databases.get(path);
  if (db === undefined) {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 5000");
    databases.set(path, db);
  }
  return db;
}

/** Reads, renders and posts one job's rows; `unwritten` counts the chunks the main thread still has to write. */
function read(job: ReadJob, unwritten: Int32Array, post: (m: ReaderMessage) => void): void {
  const db = open(job.path);
  const { pair } = job;
  const q = (n: string) => dialectFor("sqlite").quoteIdentifier(n);
  const acc = new ChecksumAccumulator(pair.source.name, canonicalColumns(pair, "postgres", job.allow));
  const declare = declaredConversion(pair, job.allow, "sqlite") ?? ((row: readonly unknown[]) => row);
  const render = pgRowRenderer(pair, job.allow);
  db.exec("BEGIN");
  try {
    const stmt = db.prepare(`SELECT ${pair.source.columns.map((c) => q(c.name)).join(", ")} FROM ${q(pair.source.name)} WHERE rowid BETWEEN ? AND ?`);
    stmt.raw(true);
    stmt.safeIntegers(true);
    let text = "";
    let rows = 0;
    const flush = () => {
      // Wait while the writer is MAX_UNWRITTEN chunks behind.
      for (let n = Atomics.load(unwritten, 0); n >= MAX_UNWRITTEN; n = Atomics.load(unwritten, 0)) Atomics.wait(unwritten, 0, n, 1000);
      Atomics.add(unwritten, 0, 1);
      post({ kind: "chunk", text, rows });
      text = "";
      rows = 0;
    };
    for (const row of stmt.iterate(BigInt(job.lo), BigInt(job.hi)) as IterableIterator<unknown[]>) {
      text += `${render(declare(row), acc)}\n`;
      if (++rows >= job.chunkRows) flush();
    }
    if (rows) flush();
  } finally {
    db.exec("ROLLBACK");
  }
  post({ kind: "done", state: acc.state() });
}

if (parentPort) {
  const port = parentPort;
  const unwritten = new Int32Array(workerData.unwritten as SharedArrayBuffer);
  port.on("message", (job: ReadJob) => {
    try {
      read(job, unwritten, (m) => port.postMessage(m));
    } catch (err) {
      port.postMessage({ kind: "error", message: (err as Error).message, conversionId: err instanceof LossyValueError ? err.conversionId : undefined } satisfies ReaderMessage);
    }
  });
}
