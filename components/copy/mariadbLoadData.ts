/**
 * Rows into MariaDB as a data stream: `LOAD DATA LOCAL INFILE '<name>'` where the "file" is a
 * stream rendered here from the batch (tab-separated, backslash escapes, `\N` for NULL, binary
 * columns as hex through UNHEX). Values are data, never SQL.
 *
 * The client's side of LOCAL INFILE is the danger (a server may ask the client for any file): the
 * stream factory given to this one statement serves the rendered stream for the name the
 * statement gave and refuses any other name; no other statement of the connection has a factory,
 * so mysql2 refuses every other request. With LOCAL, MariaDB turns duplicate keys and data errors
 * into warnings and goes on: the load is checked for warnings and for its row count, and any
 * difference fails the batch (rolled back by the caller).
 */
import { Readable } from "stream";
import type * as mysql from "mysql2/promise";
import { quoteIdent } from "../engines/mariadb/sql/identifiers";
import type { Table } from "./schema";

/** The name the LOAD statement gives its stream; a request for any other is refused. */
export const STREAM_NAME = "dbstack-copy-rows";
/** Bytes per data packet sent (well under MariaDB's 16 MiB max_allowed_packet). */
const PACKET_BYTES = 1024 * 1024;

const allowed = new WeakMap<object, Promise<boolean>>();

/** Whether the server takes LOAD DATA LOCAL (asked once per connection). */
export function serverAllowsLocalInfile(conn: mysql.Connection): Promise<boolean> {
  let answer = allowed.get(conn);
  if (answer === undefined) {
    answer = conn.query("SELECT @@local_infile AS on_").then(([rows]) => Number((rows as { on_: unknown }[])[0]?.on_) === 1, () => false);
    allowed.set(conn, answer);
  }
  return answer;
}

/** The LOAD DATA statement for `table`: binary columns read into variables and unhexed. */
export function renderLoadData(table: Table): string {
  const targets: string[] = [];
  const sets: string[] = [];
  table.columns.forEach((c, i) => {
    if (c.type.kind === "binary") {
      targets.push(`@v${i}`);
      sets.push(`${quoteIdent(c.name)} = UNHEX(@v${i})`);
    } else {
      targets.push(quoteIdent(c.name));
    }
  });
  const set = sets.length ? ` SET ${sets.join(", ")}` : "";
  return `LOAD DATA LOCAL INFILE '${STREAM_NAME}' INTO TABLE ${quoteIdent(table.name)} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${targets.join(", ")})${set}`;
}

const SPECIAL = /[\\\t\n\r\0]/;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0" };

/** One value as a field of the stream: `\N` for NULL, Buffers as hex, text with its specials escaped. */
export function loadField(v: unknown): string {
  if (v === null || v === undefined) return "\\N";
  if (Buffer.isBuffer(v)) return v.toString("hex");
  const s = typeof v === "string" ? v : String(v);
  return SPECIAL.test(s) ? s.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c]) : s;
}

/** The rows as the stream's text: one line each. */
export function renderLoadRows(rows: readonly unknown[][]): string {
  let text = "";
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) text += i === 0 ? loadField(row[i]) : `\t${loadField(row[i])}`;
    text += "\n";
  }
  return text;
}

/** The stream factory of one LOAD: `data` for STREAM_NAME, an error for any other name the server asks for. */
export function streamFactory(data: Buffer): (name: string) => Readable {
  return (name) => {
    if (name !== STREAM_NAME) {
      const refused = new Readable({ read() {} });
      process.nextTick(() => refused.destroy(new Error(`the server asked for the local file ${JSON.stringify(name)}; the copy only sends its own rows`)));
      return refused;
    }
    const packets: Buffer[] = [];
    for (let at = 0; at < data.length; at += PACKET_BYTES) packets.push(data.subarray(at, at + PACKET_BYTES));
    return Readable.from(packets, { objectMode: false });
  };
}

/** Loads `rows` (converted values) into `table` in the caller's transaction; fails on any warning or a missing row. */
export async function loadRows(conn: mysql.Connection, table: Table, rows: readonly unknown[][]): Promise<void> {
  const data = Buffer.from(renderLoadRows(rows), "utf8");
  const [result] = await conn.query({ sql: renderLoadData(table), infileStreamFactory: streamFactory(data) } as mysql.QueryOptions);
  const r = result as { affectedRows?: number; warningStatus?: number };
  if (r.warningStatus || r.affectedRows !== rows.length) {
    const [warnings] = await conn.query("SHOW WARNINGS LIMIT 3");
    const said = (warnings as { Message?: string }[]).map((w) => w.Message).filter(Boolean).join("; ");
    throw new Error(`loading ${table.name}: MariaDB stored ${String(r.affectedRows)} of ${rows.length} rows with ${String(r.warningStatus ?? 0)} warning(s)${said ? `: ${said}` : ""}`);
  }
}
