/**
 * Writes batches of converted rows into a MariaDB table; no value is ever parsed as SQL — not
 * NaN, not a quote, not a backslash, not `LOAD_FILE(...)`. (mysql2's `query(sql, params)` would
 * instead escape each value into the statement's text.) Two ways, by what the server allows:
 *
 * - `LOAD DATA LOCAL INFILE` from a stream this writer renders (mariadbLoadData.ts), when the
 *   server has local_infile on (servers dbstack deploys have it off): values travel as a data
 *   stream, several times faster than INSERTs. The client serves only that stream, and only for
 *   the name its own statement gave; the load's warnings and row count are checked, since LOCAL
 *   turns data errors into warnings.
 * - Otherwise prepared multi-row INSERTs: the statement text holds only `?` placeholders and the
 *   values travel as parameters of the binary protocol (COM_STMT_EXECUTE).
 *
 * A statement has at most 65535 parameters; rows go in statements of a few fixed sizes (a power
 * of two up to ROWS_PER_STATEMENT, then the binary digits of what is left), so a table prepares a
 * dozen statements at most, each reused, and they are closed when the table is done.
 */
import type * as mysql from "mysql2/promise";
import { quoteIdent } from "../engines/mariadb/sql/identifiers";
import { loadRows, serverAllowsLocalInfile } from "./mariadbLoadData";
import type { Table } from "./schema";

/** Rows per prepared INSERT at most: large enough that a round trip carries many rows, small enough for the parameter limit and the packet. */
export const ROWS_PER_STATEMENT = 512;
/** The binary protocol's limit on a statement's parameters. */
const MAX_PARAMETERS = 65535;
/** Bytes of parameter data a statement carries at most (max_allowed_packet is 16 MiB by default). */
const MAX_STATEMENT_BYTES = 4 * 1024 * 1024;

/** The rows per statement for a table of `columns` columns: the largest power of two within both limits. */
export function statementRows(columns: number): number {
  let n = ROWS_PER_STATEMENT;
  while (n > 1 && n * columns > MAX_PARAMETERS) n >>= 1;
  return n;
}

/** How `count` rows are split into statements whose row counts are powers of two up to `max`, largest first. */
export function statementSizes(count: number, max: number): number[] {
  const sizes: number[] = [];
  let left = count;
  while (left >= max) {
    sizes.push(max);
    left -= max;
  }
  for (let n = max >> 1; n >= 1; n >>= 1) {
    if (left >= n) {
      sizes.push(n);
      left -= n;
    }
  }
  return sizes;
}

/** The prepared INSERT of `rows` rows into `table` (already quoted) with `cols` (quoted, comma-joined) of `width` columns. */
export function renderPreparedInsert(table: string, cols: string, width: number, rows: number): string {
  const one = `(${new Array<string>(width).fill("?").join(", ")})`;
  return `INSERT INTO ${table} (${cols}) VALUES ${new Array<string>(rows).fill(one).join(", ")}`;
}

/** The bytes a row's values take on the wire, roughly (strings counted at up to 3 bytes a UTF-16 unit). */
function rowBytes(row: readonly unknown[]): number {
  let n = 8;
  for (const v of row) n += typeof v === "string" ? v.length * 3 + 9 : Buffer.isBuffer(v) ? v.length + 9 : 9;
  return n;
}

/** Splits rows into runs whose parameter data stays under MAX_STATEMENT_BYTES. */
function* runsBySize(rows: readonly unknown[][]): Generator<unknown[][]> {
  let run: unknown[][] = [];
  let size = 0;
  for (const row of rows) {
    const bytes = rowBytes(row);
    if (run.length && size + bytes > MAX_STATEMENT_BYTES) {
      yield run;
      run = [];
      size = 0;
    }
    run.push(row);
    size += bytes;
  }
  if (run.length) yield run;
}

/** A writer of batches into one table, and a close() that releases its prepared statements. */
export interface MariadbWriter {
  write(rows: unknown[][]): Promise<void>;
  close(): Promise<void>;
}

/** Returns a writer that stores each batch in one transaction into `table` (see the file header for how). */
export function mariadbWriter(conn: mysql.Connection, table: Table): MariadbWriter {
  const name = quoteIdent(table.name);
  const cols = table.columns.map((c) => quoteIdent(c.name)).join(", ");
  const width = table.columns.length;
  const max = statementRows(width);
  const prepared = new Set<string>();
  let loadData: Promise<boolean> | undefined;
  const insert = async (rows: unknown[][]) => {
    const sql = renderPreparedInsert(name, cols, width, rows.length);
    prepared.add(sql);
    const params = new Array<unknown>(rows.length * width);
    let k = 0;
    for (const row of rows) for (let i = 0; i < width; i++) params[k++] = row[i];
    await conn.execute(sql, params as mysql.ExecuteValues[]);
  };
  const insertAll = async (rows: unknown[][]) => {
    for (const run of runsBySize(rows)) {
      let at = 0;
      for (const n of statementSizes(run.length, max)) {
        await insert(run.slice(at, at + n));
        at += n;
      }
    }
  };
  return {
    async write(rows) {
      if (!rows.length) return;
      loadData ??= serverAllowsLocalInfile(conn);
      const viaStream = await loadData;
      await conn.query("START TRANSACTION");
      try {
        if (viaStream) await loadRows(conn, table, rows);
        else await insertAll(rows);
        await conn.query("COMMIT");
      } catch (err) {
        await conn.query("ROLLBACK").catch(() => undefined);
        throw err;
      }
    },
    async close() {
      for (const sql of prepared) conn.unprepare(sql);
      prepared.clear();
    },
  };
}
