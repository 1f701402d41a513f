/**
 * SQLite -> PostgreSQL on every core: reader threads (copyWorker.ts) each read a rowid range of
 * the table, convert, hash and render it as COPY text; the main thread only writes their chunks
 * into one COPY on the target (committed every `batchRows` rows, as the one-thread path does), and
 * adds their checksums up (the sums are additive). PostgreSQL parses on its own core meanwhile.
 *
 * The same snapshot: each reader opens its own read-only connection to the file. In SQLite's
 * rollback-journal modes, a writer must take an EXCLUSIVE lock to commit, which it cannot get
 * while the copy's own connection holds the SHARED lock of its open read transaction (the
 * pre-scan already read through it): every reader sees exactly the rows the copy's snapshot
 * holds. In WAL mode a writer can commit meanwhile and a new reader would see it, so a WAL file
 * (and a table without rowid, and a small copy, where starting threads costs more than it saves)
 * takes the one-thread path instead.
 */
import { existsSync } from "fs";
import { availableParallelism } from "os";
import { join } from "path";
import { Worker } from "worker_threads";
import type { Connection } from "./connections";
import type { ReaderMessage, ReadJob } from "./copyWorker";
import { dialectFor } from "./dialects";
import { PgCopy, type TablePair } from "./transfer";
import type { ChecksumAccumulator } from "./verify";

/** Rows below which a copy stays on one thread (starting the readers costs about a second). */
export const PARALLEL_MIN_ROWS = 100_000;
/** Rows a reader renders into one chunk of COPY text. */
const CHUNK_ROWS = 2000;

/** SQLite's names of the rowid, which a column of that name hides. */
const ROWID_NAMES = ["rowid", "_rowid_", "oid"];

/** The rowid ranges `lo`..`hi` split into at most `parts` contiguous, non-empty ranges. */
export function splitRange(lo: bigint, hi: bigint, parts: number): [bigint, bigint][] {
  if (hi < lo) return [];
  const span = hi - lo + 1n;
  const n = BigInt(Math.max(1, parts)) > span ? span : BigInt(Math.max(1, parts));
  const out: [bigint, bigint][] = [];
  for (let i = 0n; i < n; i++) out.push([lo + (span * i) / n, lo + (span * (i + 1n)) / n - 1n]);
  return out;
}

/**
 * How a reader thread starts: the compiled copyWorker.js beside this file (the published
 * package, dist/); in the source tree, copyWorker.ts through ts-node (a development dependency,
 * there whenever the .ts files run).
 */
function readerEntry(): { file: string; execArgv: string[] } {
  const js = join(__dirname, "copyWorker.js");
  if (existsSync(js)) return { file: js, execArgv: [] };
  return { file: join(__dirname, "copyWorker.ts"), execArgv: ["--require", "ts-node/register/transpile-only"] };
}

/** Starts a reader thread. */
function startReader(unwritten: SharedArrayBuffer): Worker {
  const { file, execArgv } = readerEntry();
  return new Worker(file, { execArgv, workerData: { unwritten } });
}

interface Reader {
  worker: Worker;
  unwritten: Int32Array;
  /** Why the thread stopped (it failed to start, crashed or was terminated); a job on it fails at once. */
  stopped?: Error;
}

/** Reader threads for one copy: started once, used for each table, terminated by close(). */
export class ReaderPool {
  private constructor(
    private readonly path: string,
    private readonly readers: Reader[],
  ) {}

  /**
   * A pool for a copy from `source` into PostgreSQL of about `rows` rows, or undefined where the
   * one-thread path is the right one (see the file header). `threads` forces that many readers
   * whatever the size (0 or 1: none); by default two on a machine with two cores or more, for a
   * copy of PARALLEL_MIN_ROWS rows or more.
   */
  static forSource(source: Connection, rows: number, threads?: number): ReaderPool | undefined {
    if (source.native.engine !== "sqlite") return undefined;
    const db = source.native.db;
    const auto = rows >= PARALLEL_MIN_ROWS ? Math.min(2, availableParallelism()) : 1;
    const count = threads ?? auto;
    if (count < 2 || db.memory) return undefined;
    if (String(db.pragma("journal_mode", { simple: true })).toLowerCase() === "wal") return undefined;
    const readers = Array.from({ length: count }, () => {
      const unwritten = new SharedArrayBuffer(4);
      const reader: Reader = { worker: startReader(unwritten), unwritten: new Int32Array(unwritten) };
      // Always listened to: an unheard 'error' of a thread would end the whole process.
      reader.worker.on("error", (err: Error) => (reader.stopped ??= err));
      reader.worker.on("exit", (code: number) => (reader.stopped ??= new Error(`a reader thread stopped (exit code ${code})`)));
      return reader;
    });
    return new ReaderPool(db.name, readers);
  }

  /**
   * Copies `pair`'s rows into its PostgreSQL table through the readers, adding their checksums to
   * `accumulator`; returns the rows moved, or undefined when the table has no rowid (the caller
   * takes the one-thread path).
   */
  async copyTable(source: Connection, target: Connection, pair: TablePair, allow: readonly string[], batchRows: number, accumulator: ChecksumAccumulator, onProgress: (rows: number) => void): Promise<number | undefined> {
    if (source.native.engine !== "sqlite") return undefined;
    // A column named rowid would shadow the real one, and the ranges would split by its values.
    if (pair.source.columns.some((c) => ROWID_NAMES.includes(c.name.toLowerCase()))) return undefined;
    let bounds: { lo: bigint | null; hi: bigint | null };
    try {
      const stmt = source.native.db.prepare(`SELECT min(rowid) AS lo, max(rowid) AS hi FROM ${dialectFor("sqlite").quoteIdentifier(pair.source.name)}`);
      stmt.safeIntegers(true);
      bounds = stmt.get() as { lo: bigint | null; hi: bigint | null };
    } catch {
      return undefined; // WITHOUT ROWID
    }
    const copy = new PgCopy(target, pair.target);
    let rows = 0;
    let inBatch = 0;
    let writes: Promise<void> = Promise.resolve();
    let failed: Error | undefined;
    const write = (reader: Reader, m: Extract<ReaderMessage, { kind: "chunk" }>) => {
      writes = writes
        .then(async () => {
          if (failed) return;
          await copy.write(m.text);
          rows += m.rows;
          inBatch += m.rows;
          if (inBatch >= batchRows) {
            await copy.commit();
            inBatch = 0;
          }
          onProgress(rows);
        })
        .catch((err: Error) => {
          failed ??= err;
        })
        .finally(() => {
          Atomics.sub(reader.unwritten, 0, 1);
          Atomics.notify(reader.unwritten, 0);
        });
    };
    const ranges = bounds.lo === null || bounds.hi === null ? [] : splitRange(bounds.lo, bounds.hi, this.readers.length);
    try {
      await Promise.all(ranges.map(([lo, hi], i) => this.read(this.readers[i], { kind: "read", path: this.path, pair, allow: [...allow], lo: String(lo), hi: String(hi), chunkRows: CHUNK_ROWS }, write, accumulator, () => failed)));
      await writes;
      if (failed) throw failed;
      await copy.commit();
    } catch (err) {
      // Readers blocked on a writer that stopped: stop them (the copy fails).
      await this.close();
      throw err;
    } finally {
      await copy.abort();
    }
    return rows;
  }

  /** Runs one job on one reader: its chunks go to `write`, its checksum into `accumulator`. */
  private read(reader: Reader, job: ReadJob, write: (r: Reader, m: Extract<ReaderMessage, { kind: "chunk" }>) => void, accumulator: ChecksumAccumulator, failed: () => Error | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (reader.stopped) return reject(reader.stopped);
      const stop = () => {
        reader.worker.off("message", onMessage);
        reader.worker.off("error", onError);
        reader.worker.off("exit", onExit);
      };
      const onExit = () => onError(reader.stopped ?? new Error("a reader thread stopped"));
      const onError = (err: Error) => {
        stop();
        reject(err);
      };
      const onMessage = (m: ReaderMessage) => {
        if (m.kind === "chunk") {
          write(reader, m);
          // A failed write stops the whole table: no need to wait for the rest of the range.
          const f = failed();
          if (f) onError(f);
        } else if (m.kind === "done") {
          stop();
          accumulator.absorb(m.state);
          resolve();
        } else {
          onError(Object.assign(new Error(m.message), m.conversionId ? { name: "LossyValueError", conversionId: m.conversionId } : {}));
        }
      };
      reader.worker.on("message", onMessage);
      reader.worker.on("error", onError);
      reader.worker.on("exit", onExit);
      reader.worker.postMessage(job);
    });
  }

  /** The reader threads. */
  get size(): number {
    return this.readers.length;
  }

  /** Stops the reader threads. */
  async close(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.worker.terminate()));
  }
}
