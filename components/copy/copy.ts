/**
 * `copyDatabase`: one verified copy of a database's tables and rows from one engine to another
 * (SQLite, PostgreSQL, MariaDB, in any direction).
 *
 * Steps: introspect the source, translate its schema for the target, refuse lossy conversions
 * the user did not allow by id, refuse target tables that already exist; then create the tables,
 * move the rows in one source snapshot (transfer.ts), add unique/other indexes and foreign keys,
 * move every autoincrement counter past the copied maximum, and verify each table's row count
 * and content checksum on the target against the source's (verify.ts). A dry run stops after the
 * checks and returns the plan (tables, rows, conversions) without writing anything; it does not
 * even create a missing SQLite target file.
 *
 * Safety (safety.ts, journal.ts): once the checks pass and before the first write, the target is
 * backed up with its engine's own tool (a record only, when it has no tables), and the copy is
 * recorded in the target's journal as `copying`; it turns `verified` at the very end. A later run
 * that finds an unfinished copy in the journal drops the tables that copy created and copies again
 * (or, with `unfinished: "refuse"`, stops and says how to restart or roll back). `rollbackCopy`
 * restores the newest pre-copy backup.
 *
 * Passwords travel only inside the URLs given here (or the drivers' PGPASSWORD / MYSQL_PWD);
 * every message shows URLs with the password replaced by `***`.
 */
import { existsSync } from "fs";
import { join } from "path";
import type { EngineKind } from "../model/engineKind";
import { openConnection, openSource, openTarget, parseConnectionUrl, redactUrl, type Connection } from "./connections";
import { renderConstraints, renderCreateTables, renderResetSequences } from "./ddl";
import { dialectFor } from "./dialects";
import { introspect } from "./introspect";
import { beginJournal, dropTables, renderEmptyTables, listTables, markJournal, newCopyId, unfinishedCopies, type JournalEntry } from "./journal";
import { backupTarget, defaultBackupRoot, targetKey, type BackupRecord } from "./safety";
import type { Conversion, Schema, Table } from "./schema";
import { translate } from "./translate";
import { readAllowedAsNull } from "./prescan/serverScan";
import { IntoSchemaError, planIntoSchema, renderNamedSequences, TargetNotEmptyError, type IntoSchemaPlan } from "./intoSchema";

export { IntoSchemaError, TargetNotEmptyError } from "./intoSchema";
import { allowedMissingParents } from "./prescan/declared";
import { prescan } from "./prescan/scan";
import { beginSnapshot, checksumTable, endSnapshot, estimatedRows, findValueConversions, renderTable, transferTables, type TablePair, type TableTransfer } from "./transfer";
import { ReaderPool } from "./parallelCopy";
import { compareChecksums, type TableChecksum, type TableDifference } from "./verify";

export interface CopyOptions {
  /** The source: `sqlite:///abs/path` (or a path), `postgresql://user:pass@host:port/db`, `mysql://` or `mariadb://`. Only read. */
  from: string;
  /** The target, in the same forms. Its tables must not exist yet; an SQLite file is created when missing. */
  to: string;
  /** Copy only these tables (source names); default all user tables. Foreign keys to tables left out are not created (the plan says so). */
  tables?: string[];
  /** Only check and print the plan; write nothing. Default false. */
  dryRun?: boolean;
  /** Ids of lossy conversions the user accepts (as the refusal lists them), e.g. `events.payload:default`. */
  allow?: string[];
  /** Rows per batch (one target transaction each). Default 5000. */
  batchRows?: number;
  /** Where progress lines go while the copy runs; default stderr; `false` for none. */
  progress?: ((line: string) => void) | false;
  /** The root of pre-copy backups (see safety.ts); default `~/.cache/dbstack/copy-backups`. Each target gets `<engine>-<host>-<port>-<db>/<timestamp>` under it. */
  backupDir?: string;
  /**
   * What to do when the target's journal shows an unfinished copy (killed or failed): `restart`
   * (default) drops the tables that copy created and copies again; `refuse` stops with
   * UnfinishedCopyError, leaving the target as it is for a look or a rollback.
   */
  unfinished?: "restart" | "refuse";
  /**
   * Reader threads of an SQLite -> PostgreSQL copy (parallelCopy.ts: they read, convert, hash and
   * render rows while this thread writes). Default: 2 on a machine with two cores or more for a
   * copy of 100000 rows or more, else none; a number forces that many (0 or 1: none). A WAL-mode
   * source always copies on one thread.
   */
  readerThreads?: number;
}

/** One table of the plan: its name on each side and the rows the source holds now. */
export interface PlannedTable {
  source: string;
  target: string;
  rows: number;
}

/** What a copy will do (a dry run's result) or did. */
export interface CopyPlan {
  /** Source and target URLs, passwords replaced by `***`. */
  from: string;
  to: string;
  sourceEngine: EngineKind;
  targetEngine: EngineKind;
  tables: PlannedTable[];
  /** Every conversion translation reported, lossy or not. */
  conversions: Conversion[];
  /** The lossy conversions not allowed: a real copy refuses while any is left. */
  refused: Conversion[];
  /** Things the plan leaves out on purpose, e.g. a foreign key to a table not copied. */
  notes: string[];
}

export interface CopyResult {
  plan: CopyPlan;
  dryRun: boolean;
  /** Per table: rows moved and time taken (empty on a dry run). */
  transferred: TableTransfer[];
  /** Per table: the matching row count and checksum both sides showed (empty on a dry run). */
  verified: TableChecksum[];
  seconds: number;
  /** Seconds spent in each step (plan, create, transfer, constraints, verify): where a slow copy spends its time. */
  phases: Record<string, number>;
  /** The copy's id in the target's journal (absent on a dry run). */
  copyId?: string;
  /** The pre-copy backup: where it is and what it holds (absent on a dry run). `rollbackCopy` restores it. */
  backup?: BackupRecord;
  /** Unfinished copies found in the target's journal whose tables were dropped before this copy. */
  restarted: JournalEntry[];
}

/** A copy that would lose data the user did not allow: lists each conversion and how to allow it. */
export class CopyRefusedError extends Error {
  constructor(readonly refused: Conversion[]) {
    super(
      [
        `refusing ${refused.length} lossy conversion(s); allow each by id (--allow id1,id2 or copyDatabase({ allow: [...] })) once you accept the loss:`,
        ...refused.map((c) => `  ${c.id}: ${c.message}`),
      ].join("\n"),
    );
    this.name = "CopyRefusedError";
  }
}

/** The target's journal shows an unfinished copy and the caller asked to refuse rather than restart it. */
export class UnfinishedCopyError extends Error {
  constructor(
    readonly unfinished: JournalEntry[],
    target: string,
  ) {
    super(
      [
        `the target ${target} holds ${unfinished.length} unfinished cop${unfinished.length === 1 ? "y" : "ies"} (killed or failed before verification):`,
        ...unfinished.map((u) => `  ${u.id} from ${u.source}, started ${u.startedAt}, state ${u.state}${u.error ? ` (${u.error.split("\n")[0]})` : ""}: tables ${u.tables.join(", ")}`),
        "to copy again from scratch, run the copy without --refuse-unfinished (it drops those tables first);",
        "to put the target back as it was before, run: npm run db:copy -- --rollback (with the same --to / DBSTACK_COPY_TO)",
      ].join("\n"),
    );
    this.name = "UnfinishedCopyError";
  }
}

/** The target's data differs from the source after the copy: names each table. */
export class VerificationError extends Error {
  constructor(readonly differences: TableDifference[]) {
    super(
      `verification failed: ${differences
        .map((d) => `${d.table} (source ${d.source.rows} rows, checksum ${d.source.checksum}; target ${d.target.rows} rows, checksum ${d.target.checksum})`)
        .join("; ")}`,
    );
    this.name = "VerificationError";
  }
}

/** Copies (or, with dryRun, plans) a database from `from` to `to`; see the file header. */
export async function copyDatabase(options: CopyOptions): Promise<CopyResult> {
  const started = Date.now();
  const allow = options.allow ?? [];
  const say = options.progress === false ? () => undefined : (options.progress ?? ((line: string) => void process.stderr.write(`${line}\n`)));
  const source = await openSource(options.from);
  let target: Connection | undefined;
  let journalled: string | undefined;
  let snapshotOpen = false;
  let readers: ReaderPool | undefined;
  try {
    const clock = phaseClock();
    const schema = selectTables(await introspect(source), options.tables);
    const targetEngine = parseConnectionUrl(options.to).engine;
    const targetDialect = dialectFor(targetEngine);
    const translation = translate(schema.schema, targetEngine);
    let pairs: TablePair[] = schema.schema.tables.map((t, i) => ({ source: t, target: translation.tables[i] }));
    // Started now, they load their code while the pre-scan runs (parallelCopy.ts).
    if (!options.dryRun && targetDialect.loadsCopyText) readers = ReaderPool.forSource(source, await estimatedRows(source, pairs), options.readerThreads);
    // One snapshot from the pre-scan to the last row moved: what was scanned is what is copied.
    await beginSnapshot(source);
    snapshotOpen = true;
    const valueConversions = await findValueConversions(source, schema.schema.tables, targetEngine);

    // The target as it is: unfinished copies to restart, tables its migrations made to fill
    // (intoSchema.ts). Only read here; a dry run never creates a missing SQLite file.
    const existed = targetFileExists(options.to);
    if (existed) target = await openConnection(options.to, { readOnly: options.dryRun === true });
    const unfinished = target ? await unfinishedCopies(target) : [];
    if (unfinished.length && options.unfinished === "refuse" && !options.dryRun) throw new UnfinishedCopyError(unfinished, redactUrl(options.to));
    const into = await planTargetTables(source, target, pairs, unfinished, options.dryRun === true);
    pairs = into.pairs;
    schema.notes.push(...into.notes);
    // A table the target already has keeps its own definition: translating the source's (its
    // checks, generated columns, lengths) decides nothing there; db:check's comparison did.
    const filledSources = new Set(pairs.filter((p) => into.filled.includes(p.target.name)).map((p) => p.source.name));
    translation.conversions = [...translation.conversions.filter((c) => !filledSources.has(c.table)), ...valueConversions];

    // Every value exact or refused by id, against the columns the rows go into (prescan/).
    translation.conversions.push(...(await prescan(source, pairs, targetEngine)));
    // A server source's allowed classes are read as NULL by the condition that found them.
    pairs = readAllowedAsNull(source.engine, targetEngine, pairs, allow);
    schema.notes.push(...leaveOutAllowedForeignKeys(pairs, allow));
    clock.lap("plan");
    const refused = translation.conversions.filter((c) => c.lossy && !allow.includes(c.id));
    const plan: CopyPlan = {
      from: redactUrl(options.from),
      to: redactUrl(options.to),
      sourceEngine: source.engine,
      targetEngine,
      tables: [],
      conversions: translation.conversions,
      refused,
      notes: schema.notes,
    };

    if (options.dryRun) {
      for (const p of pairs) plan.tables.push({ source: p.source.name, target: p.target.name, rows: await countRows(source, p.source.name) });
      for (const u of unfinished) plan.notes.push(`unfinished copy ${u.id} (from ${u.source}, started ${u.startedAt}): the copy would drop its tables ${u.tables.join(", ")} and copy again`);
      plan.notes.push(`the copy backs the target up first, into ${join(options.backupDir ?? defaultBackupRoot(), targetKey(options.to))}/<time>`);
      return { plan, dryRun: true, transferred: [], verified: [], seconds: (Date.now() - started) / 1000, phases: clock.phases, restarted: [] };
    }

    if (refused.length) throw new CopyRefusedError(refused);
    for (const n of plan.notes) say(`note: ${n}`);
    target ??= await openTarget(options.to);
    // A copy killed (or failed) earlier left tables only it created: they go (tables it filled are
    // emptied), then this copy starts over. Before the backup, so the backup holds the target as
    // it was before that copy.
    const restarted = unfinished;
    for (const u of restarted) {
      say(`found an unfinished copy ${u.id} (from ${u.source}, started ${u.startedAt}, ${u.state}): dropping its tables ${u.tables.join(", ")}${u.filled?.length ? `, emptying ${u.filled.join(", ")}` : ""} and copying again`);
      await dropTables(target, u.tables);
      await runAll(target, renderEmptyTables(target.engine, u.filled ?? []));
      await markJournal(target, u.id, "restarted");
    }
    const created = pairs.filter((p) => !into.filled.includes(p.target.name));

    const copyId = newCopyId();
    const backup = await backupTarget(target, options.to, { backupDir: options.backupDir, copyId, existed, copiedTables: created.map((p) => p.target.name) });
    say(backup.file ? `backed up the target to ${backup.file}` : `the target has no tables: recorded that in ${backup.dir} (a rollback drops the copied tables)`);
    clock.lap("backup");
    await beginJournal(target, { id: copyId, source: redactUrl(options.from), tables: created.map((p) => p.target.name), filled: into.filled, state: "copying", backup: backup.dir, startedAt: new Date().toISOString() });
    journalled = copyId;

    const targetTables = created.map((p) => p.target);
    let targetSums: TableChecksum[] = [];
    // SQLite declares foreign keys in CREATE TABLE: the load would trip over rows that reference
    // later rows (self-references), so enforcement is off while loading and checked after.
    await runAll(target, targetDialect.loadStatements.before);
    await runAll(target, renderCreateTables(target.engine, targetTables));
    clock.lap("create");
    // Each table is verified as soon as its rows are committed, on a second target connection,
    // while the next table moves: reading back overlaps with writing (the rows do not change
    // afterwards: constraints and counters never touch them). Not where the engine cannot
    // (SQLite: a reader holds a lock the writer's next commit waits for).
    const overlap = targetDialect.readsWhileWriting;
    const checker = overlap ? await openTarget(options.to) : target;
    const verifications: Promise<TableChecksum>[] = [];
    let transferred: TableTransfer[];
    try {
      let chain: Promise<unknown> = Promise.resolve();
      transferred = await transferTables(source, target, pairs, {
        // Without a pool of its own (none asked for, or none fits), the transfer must not start one: 0 means none.
        readerThreads: options.readerThreads,
        batchRows: options.batchRows,
        allow,
        progress: options.progress,
        inSnapshot: true,
        readers,
        // Existing tables keep their foreign keys while they fill: parents first.
        keepOrder: into.filled.length > 0,
        onTableDone: !overlap ? undefined : (pair) => {
          const next = chain.then(() => checksumTables(checker, [pair], allow, targetEngine)).then((sums) => sums[0]);
          next.catch(() => undefined); // awaited below
          verifications.push(next);
          chain = next;
        },
      });
      clock.lap("transfer");
      targetSums = overlap ? await Promise.all(verifications) : await checksumTables(target, pairs, allow, targetEngine);
    } finally {
      await Promise.allSettled(verifications);
      if (overlap) await checker.close().catch(() => undefined);
    }
    clock.lap("verify");
    for (const t of transferred) plan.tables.push({ source: t.table, target: pairs.find((p) => p.source.name === t.table)!.target.name, rows: t.rows });
    await runAll(target, renderConstraints(target.engine, targetTables));
    if (targetDialect.foreignKeyCheck !== undefined) {
      const dangling = await target.query(targetDialect.foreignKeyCheck);
      if (dangling.length) {
        throw new Error(`foreign keys point nowhere on the target in table(s) ${[...new Set(dangling.map((r) => String(r.table)))].join(", ")}`);
      }
    }
    await runAll(target, targetDialect.loadStatements.after);
    await runAll(target, renderResetSequences(target.engine, pairs.map((p) => p.target)));
    await runAll(target, await renderNamedSequences(target, pairs.filter((p) => into.filled.includes(p.target.name))));
    clock.lap("constraints");

    const differences = compareChecksums(
      transferred.map((t) => t.sourceChecksum),
      targetSums,
    );
    if (differences.length) throw new VerificationError(differences);
    await markJournal(target, copyId, "verified");
    return { plan, dryRun: false, transferred, verified: targetSums, seconds: (Date.now() - started) / 1000, phases: clock.phases, copyId, backup, restarted };
  } catch (err) {
    // A journalled copy that stops keeps its tables for a look; the next run restarts (or refuses) on its entry.
    if (journalled && target) await markJournal(target, journalled, "failed", redactMessage((err as Error).message).slice(0, 2000)).catch(() => undefined);
    throw err;
  } finally {
    await readers?.close();
    if (snapshotOpen) await endSnapshot(source);
    await target?.close().catch(() => undefined);
    await source.close().catch(() => undefined);
  }
}

/**
 * Which target tables the copy fills (they exist: the application's migrations made them) and
 * which it creates, with the pairs mapped onto the existing tables (intoSchema.ts). Tables of an
 * unfinished copy count as they will be once it is undone. A dry run reports a refusal as a note.
 */
async function planTargetTables(source: Connection, target: Connection | undefined, pairs: TablePair[], unfinished: readonly JournalEntry[], dryRun: boolean): Promise<IntoSchemaPlan> {
  if (target === undefined) return { pairs, filled: [], notes: [] };
  const leftover = { dropped: new Set(unfinished.flatMap((u) => u.tables)), emptied: new Set(unfinished.flatMap((u) => u.filled ?? [])) };
  try {
    return await planIntoSchema(source, target, pairs, leftover);
  } catch (err) {
    if (!dryRun || !(err instanceof IntoSchemaError || err instanceof TargetNotEmptyError)) throw err;
    return { pairs, filled: [], notes: [`the copy would refuse: ${err.message}`] };
  }
}

function redactMessage(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, (u) => redactUrl(u));
}

/**
 * The row counts and checksums of `pairs`' target tables as `conn` holds them, each value reduced
 * by its source column's class (so they compare with the source's checksums).
 */
export async function checksumTables(conn: Connection, pairs: readonly TablePair[], allow: readonly string[], targetEngine: EngineKind): Promise<TableChecksum[]> {
  const out: TableChecksum[] = [];
  for (const p of pairs) out.push(await checksumTable(conn, p, targetEngine, allow));
  return out;
}

function phaseClock(): { phases: Record<string, number>; lap(name: string): void } {
  let last = Date.now();
  const phases: Record<string, number> = {};
  return {
    phases,
    lap(name) {
      const now = Date.now();
      phases[name] = (now - last) / 1000;
      last = now;
    },
  };
}

/** The source schema restricted to `names` (all when undefined), with foreign keys to tables left out removed and noted. */
function selectTables(schema: Schema, names: string[] | undefined): { schema: Schema; notes: string[] } {
  if (!names || names.length === 0) return { schema, notes: [] };
  const known = new Set(schema.tables.map((t) => t.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) throw new Error(`--tables names table(s) the source does not have: ${unknown.join(", ")} (it has: ${[...known].join(", ")})`);
  const wanted = new Set(names);
  const notes: string[] = [];
  const tables: Table[] = schema.tables
    .filter((t) => wanted.has(t.name))
    .map((t) => ({
      ...t,
      foreignKeys: t.foreignKeys.filter((fk) => {
        if (wanted.has(fk.refTable)) return true;
        notes.push(`foreign key ${t.name} (${fk.columns.join(", ")}) -> ${fk.refTable} is not created: ${fk.refTable} is not copied`);
        return false;
      }),
    }));
  return { schema: { ...schema, tables }, notes };
}

/**
 * Takes out of the target tables the foreign keys whose missing parents the user allowed
 * (`<table>.<columns>:missing-parent`): the rows are copied as they are, the key is not created.
 * Returns a note per key left out.
 */
function leaveOutAllowedForeignKeys(pairs: readonly TablePair[], allow: readonly string[]): string[] {
  const notes: string[] = [];
  for (const p of pairs) {
    const leave = allowedMissingParents(p, allow);
    if (leave.size === 0) continue;
    p.target.foreignKeys = p.target.foreignKeys.filter((fk) => {
      if (!leave.has(fk.columns.join(","))) return true;
      notes.push(`foreign key ${p.target.name} (${fk.columns.join(", ")}) -> ${fk.refTable} is not created: rows reference missing parents (allowed)`);
      return false;
    });
  }
  return notes;
}

async function runAll(conn: Connection, statements: readonly string[]): Promise<void> {
  for (const sql of statements) {
    try {
      await conn.query(sql);
    } catch (err) {
      throw new Error(`on the target (${conn.display}): ${(err as Error).message}\n  while running: ${sql.split("\n")[0]}`);
    }
  }
}

async function countRows(conn: Connection, table: string): Promise<number> {
  const rows = await conn.query(`SELECT COUNT(*) AS n FROM ${dialectFor(conn.engine).quoteIdentifier(table)}`);
  return Number(rows[0]?.n ?? 0);
}

/** Whether the target is there before the copy: a server database always is, a database file may not be. */
function targetFileExists(url: string): boolean {
  const t = parseConnectionUrl(url);
  return !("path" in t) || existsSync(t.path);
}

/** The plan as lines a user reads: source and target, tables with rows, conversions (refused ones marked), notes. */
export function renderPlan(plan: CopyPlan): string[] {
  const lines = [`copy ${plan.sourceEngine} ${plan.from} -> ${plan.targetEngine} ${plan.to}`, ""];
  lines.push(
    ...renderTable(
      ["table", "target table", "rows"],
      plan.tables.map((t) => [t.source, t.target, String(t.rows)]),
    ),
  );
  lines.push("");
  if (plan.conversions.length === 0) lines.push("conversions: none");
  else {
    lines.push("conversions:");
    for (const c of plan.conversions) {
      const mark = !c.lossy ? "note   " : plan.refused.includes(c) ? "REFUSED" : "allowed";
      lines.push(`  ${mark} ${c.id}: ${c.message}`);
    }
  }
  if (plan.refused.length) lines.push("", `the copy refuses while lossy conversions are not allowed: --allow ${plan.refused.map((c) => c.id).join(",")}`);
  for (const n of plan.notes) lines.push(`note: ${n}`);
  return lines;
}
