/**
 * Copying into the application's own schema: when the target already holds the tables (made by
 * the application's migrations, all empty), the copy fills them instead of creating them.
 *
 * Decided before anything is written, as named steps:
 * 1. migration bookkeeping (alembic_version and the like) present on the target is left as the
 *    target's migrations wrote it: not copied; refused when it names another version than the
 *    source's (the two schemas are then not the same application's);
 * 2. every other table the target already has must be empty (TargetNotEmptyError names those
 *    with rows);
 * 3. each such table must take the source's rows: db:check's directional comparison
 *    (check/compare.ts) of the source table with the target's, whose errors about columns, types,
 *    nullability and keys refuse the copy (IntoSchemaError, all at once);
 * 4. the pair to move becomes the source's columns mapped by name onto the target's table; the
 *    target computes its generated columns and fills the columns the source lacks by default.
 * The caller creates only the tables the target lacks, adds constraints only to those, and
 * moves every counter (sequences named for a column included, see renderTargetSequences).
 */
import type { EngineKind } from "../model/engineKind";
import { MIGRATIONS_TABLE } from "../hooks/dialect";
import type { Connection } from "./connections";
import { compareSchemas, matchName, type Finding } from "./check/compare";
import { dialectFor } from "./dialects";
import { introspect } from "./introspect";
import { listTables } from "./journal";
import type { Column, Table } from "./schema";
import type { TablePair } from "./transfer";

/** Tables migration tools keep their applied versions in: the target's own, never overwritten. */
export const MIGRATION_TABLES: readonly string[] = ["alembic_version", "flyway_schema_history", "schema_migrations", "django_migrations", "knex_migrations", "knex_migrations_lock", "__EFMigrationsHistory", "SequelizeMeta", "goose_db_version", MIGRATIONS_TABLE];

/**
 * The columns that say which version a bookkeeping table records, where not all of them do:
 * dbstack's own records when and with which checksum each migration ran, and an engine's own
 * variant of a file (`NNNN_name.<engine>.sql`) has its own checksum, so only the ids are the version.
 */
const VERSION_COLUMNS: Readonly<Record<string, readonly string[]>> = { [MIGRATIONS_TABLE]: ["id"] };

/** Finding kinds of db:check's comparison that decide whether rows fit (the others are reported, not refused). */
const FIT_KINDS = new Set<Finding["kind"]>(["missing-column", "extra-column", "type", "nullability", "primary-key", "unique"]);

/** What copying into the target's existing tables comes to. */
export interface IntoSchemaPlan {
  /** The pairs to move: those filling an existing table carry the target's table, columns mapped by name. */
  pairs: TablePair[];
  /** Target tables the copy fills (they exist, empty); the others it creates. */
  filled: string[];
  /** What a user should know: bookkeeping left alone, columns the target computes or defaults, comparison warnings. */
  notes: string[];
}

/** The target already has tables the copy would write, holding rows. */
export class TargetNotEmptyError extends Error {
  constructor(readonly existing: { table: string; rows: number }[]) {
    super(
      `the target already has table(s) the copy would fill, holding rows: ${existing
        .map((e) => `${e.table} (${e.rows} rows)`)
        .join(", ")}; copy into empty tables (made by the application's migrations) or an empty database, or empty or drop them first`,
    );
    this.name = "TargetNotEmptyError";
  }
}

/** The target's existing tables cannot take the source's rows: every reason, by table and column. */
export class IntoSchemaError extends Error {
  constructor(readonly reasons: string[]) {
    super([`the target's existing tables cannot take the source's rows (${reasons.length} reason(s)); nothing was written:`, ...reasons.map((r) => `  ${r}`)].join("\n"));
    this.name = "IntoSchemaError";
  }
}

/** Tables of an unfinished copy: those it created are dropped, those it filled emptied, before this copy writes. */
export interface Leftover {
  dropped: ReadonlySet<string>;
  emptied: ReadonlySet<string>;
}

/** Plans the copy of `pairs` into `target` as it is now, `leftover` undone (see the file header). Reads only. */
export async function planIntoSchema(source: Connection, target: Connection, pairs: readonly TablePair[], leftover: Leftover = { dropped: new Set(), emptied: new Set() }): Promise<IntoSchemaPlan> {
  const present = new Set((await listTables(target)).filter((t) => !leftover.dropped.has(t)));
  const notes: string[] = [];
  const reasons: string[] = [];
  const kept = await leaveBookkeeping(source, target, pairs, present, notes, reasons);
  const existing = kept.filter((p) => present.has(p.target.name));
  await refuseTablesWithRows(target, existing.filter((p) => !leftover.emptied.has(p.target.name)));
  if (existing.length === 0) {
    if (reasons.length) throw new IntoSchemaError(reasons);
    return { pairs: kept, filled: [], notes };
  }
  const targetTables = (await introspect(target)).tables;
  const engines = { source: source.engine, target: target.engine };
  const mapped = kept.map((p) => (present.has(p.target.name) ? mapOntoTarget(p, targetTables.find((t) => t.name === p.target.name)!, engines, notes, reasons) : p));
  if (reasons.length) throw new IntoSchemaError(reasons);
  return { pairs: mapped, filled: existing.map((p) => p.target.name), notes };
}

/** Step 1: pairs without the bookkeeping tables the target has; a version other than the source's is a reason to refuse. */
async function leaveBookkeeping(source: Connection, target: Connection, pairs: readonly TablePair[], present: Set<string>, notes: string[], reasons: string[]): Promise<TablePair[]> {
  const out: TablePair[] = [];
  for (const p of pairs) {
    if (!MIGRATION_TABLES.includes(p.source.name) || !present.has(p.target.name)) {
      out.push(p);
      continue;
    }
    const [theirs, ours] = [await versions(source, p.source.name), await versions(target, p.target.name)];
    if (theirs.join("\n") !== ours.join("\n")) {
      reasons.push(`${p.target.name}: the target's migrations are at ${ours.join(", ") || "(none)"}, the source's at ${theirs.join(", ") || "(none)"}: migrate the target to the source's version first`);
    } else {
      notes.push(`${p.target.name} is left as the target's migrations wrote it (${ours.join(", ")}, the source's too)`);
    }
  }
  return out;
}

/** A bookkeeping table's rows as sorted text (every column, tab-separated). */
async function versions(conn: Connection, table: string): Promise<string[]> {
  const d = dialectFor(conn.engine);
  const columns = VERSION_COLUMNS[table]?.map((c) => d.quoteIdentifier(c)).join(", ") ?? "*";
  const rows = await conn.query(`SELECT ${columns} FROM ${d.quoteIdentifier(table)}`);
  return rows.map((r) => Object.values(r).map(String).join("\t")).sort();
}

/** Step 2: existing tables must be empty. */
async function refuseTablesWithRows(target: Connection, existing: readonly TablePair[]): Promise<void> {
  const full: { table: string; rows: number }[] = [];
  for (const p of existing) {
    const [r] = await target.query(`SELECT COUNT(*) AS n FROM ${dialectFor(target.engine).quoteIdentifier(p.target.name)}`);
    if (Number(r.n) > 0) full.push({ table: p.target.name, rows: Number(r.n) });
  }
  if (full.length) throw new TargetNotEmptyError(full);
}

/** Steps 3 and 4 for one table: db:check's comparison, then the source's columns mapped by name onto the target's. */
function mapOntoTarget(pair: TablePair, existing: Table, engines: { source: EngineKind; target: EngineKind }, notes: string[], reasons: string[]): TablePair {
  const comparison = compareSchemas({ label: "source", schema: { engine: engines.source, tables: [pair.source] } }, { label: "target", schema: { engine: engines.target, tables: [existing] } }, "directional");
  for (const f of comparison.findings) {
    if (f.severity === "error" && FIT_KINDS.has(f.kind)) reasons.push(`${existing.name}: ${f.message}`);
    else if (f.severity === "error") notes.push(`${existing.name}: ${f.message} (the rows fit: copied)`);
  }
  const sourceColumns: Column[] = [];
  const targetColumns: Column[] = [];
  for (const c of pair.source.columns) {
    const t = matchName(existing.columns, c.name);
    if (t === undefined) continue; // a reason already (missing-column)
    sourceColumns.push(c);
    targetColumns.push(t);
  }
  for (const t of existing.columns) if (!targetColumns.includes(t)) notes.push(`${existing.name}.${t.name} is not in the source: the target fills it ${t.autoIncrement ? "from its counter" : t.default !== undefined ? `with its default ${t.default}` : "with NULL"}`);
  for (const u of existing.unsupported ?? []) if (u.what === "generated column") notes.push(`${existing.name}.${u.name} is generated: the target computes it`);
  return { source: { ...pair.source, columns: sourceColumns }, target: { ...existing, columns: targetColumns } };
}

/**
 * The statements moving each sequence named for a filled table's key column
 * (`<table>_<column>_seq`, as SQLAlchemy's Sequence, Rails and Django name them; the column's
 * default need not name it, the application may call nextval itself) past the copied maximum, so
 * the application's next insert takes a new key. Counters the engine ties to the column
 * (serial, identity, AUTO_INCREMENT) are moved by the dialect's renderResetSequence as for created tables.
 */
export async function renderNamedSequences(target: Connection, filled: readonly TablePair[]): Promise<string[]> {
  const d = dialectFor(target.engine);
  if (d.listSequencesSql === undefined || d.renderSetSequence === undefined || filled.length === 0) return [];
  const sequences = new Set((await target.query(d.listSequencesSql)).map((r) => String(r.name)));
  const out: string[] = [];
  for (const p of filled) {
    for (const key of p.target.primaryKey) {
      const seq = `${p.target.name}_${key}_seq`;
      if (!sequences.has(seq)) continue;
      const [r] = await target.query(`SELECT COALESCE(MAX(${d.quoteIdentifier(key)}), 0) AS m FROM ${d.quoteIdentifier(p.target.name)}`);
      out.push(d.renderSetSequence(seq, BigInt(String(r.m)) + 1n));
    }
  }
  return out;
}
