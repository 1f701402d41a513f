/**
 * Compares two introspected schemas (../schema.ts) and says what would break an application that
 * runs on both: the pure heart of `npm run db:check`. Nothing here touches a database.
 *
 * Two modes:
 * - "symmetric": the same application runs on either engine (one migrations set applied to every
 *   engine). Anything one side has and the other lacks is a difference, whichever side it is on.
 * - "directional": a live source and the target it moves to. The target must hold everything the
 *   source holds and accept every row the source accepts; what the target adds on top is only a
 *   problem when it would reject the application's writes (a NOT NULL column without a default).
 *
 * Severity: "error" breaks the application (a missing table or column, a type class that holds
 * other values, NULLs or duplicates accepted on one side and rejected on the other, a missing
 * primary key or unique key, a key filled by the engine on one side only, a foreign key whose
 * cascade the application relies on); "warning" is a difference the application survives but a
 * user should know (a length limit, an integer width, fractional seconds, a plain index, a name
 * that only matches case-insensitively).
 *
 * Names match exactly first, then case-insensitively: SQLite and MariaDB column names and
 * PostgreSQL's unquoted identifiers fold case, so `Users` and `users` are the same table to an
 * application that does not quote them (a warning says so).
 */
import type { EngineKind } from "../../model/engineKind";
import type { Column, ForeignKey, Schema, Table, TypeClass } from "../schema";
import { dialectFor } from "../dialects";
import { describeType } from "../schema";

/** How bad a difference is: an error fails the check (exit 1), a warning is reported only. */
export type Severity = "error" | "warning";

/** What a finding is about, for grouping and for tests. */
export type FindingKind =
  | "missing-table"
  | "extra-table"
  | "missing-column"
  | "extra-column"
  | "name-case"
  | "type"
  | "nullability"
  | "default"
  | "auto-increment"
  | "primary-key"
  | "unique"
  | "foreign-key"
  | "index"
  | "unsupported";

/** One difference between the two sides, on one table (and column when it is about one). */
export interface Finding {
  severity: Severity;
  kind: FindingKind;
  /** The table's name as the left side spells it (the right side's when the left lacks it). */
  table: string;
  column?: string;
  /** A sentence a user reads, naming both sides. */
  message: string;
}

/** A schema with the label a report uses for it: the engine ("postgres") or a role ("source"). */
export interface SchemaSide {
  label: string;
  schema: Schema;
}

/** compareSchemas' result: the two sides, the tables both hold, and the findings, table by table. */
export interface Comparison {
  left: SchemaSide;
  right: SchemaSide;
  mode: CompareMode;
  /** Tables found on both sides (left spelling). */
  matchedTables: string[];
  findings: Finding[];
}

export type CompareMode = "symmetric" | "directional";

/** True when the comparison holds no error (warnings allowed). */
export function isCompatible(comparisons: Comparison[]): boolean {
  return comparisons.every((c) => c.findings.every((f) => f.severity !== "error"));
}

/** Finds `name` among `names`: exactly, else case-insensitively (unique match only). */
export function matchName<T extends { name: string }>(items: T[], name: string): T | undefined {
  const exact = items.find((i) => i.name === name);
  if (exact !== undefined) return exact;
  const folded = items.filter((i) => i.name.toLowerCase() === name.toLowerCase());
  return folded.length === 1 ? folded[0] : undefined;
}

const lower = (cols: string[]) => cols.map((c) => c.toLowerCase());
const sameList = (a: string[], b: string[]) => a.length === b.length && lower(a).every((c, i) => c === b[i].toLowerCase());
const sameSet = (a: string[], b: string[]) => a.length === b.length && [...lower(a)].sort().join("\0") === [...lower(b)].sort().join("\0");
const cols = (c: string[]) => `(${c.join(", ")})`;

/**
 * How two type classes relate: undefined when an application cannot tell them apart, else the
 * severity and the reason. `leftEngine`/`rightEngine` matter for SQLite, whose integers and
 * floats are all 64-bit whatever the declared width.
 */
export function compareTypes(a: TypeClass, b: TypeClass, leftEngine: EngineKind, rightEngine: EngineKind): { severity: Severity; why: string } | undefined {
  const anyWidth = dialectFor(leftEngine).numbersIgnoreWidth || dialectFor(rightEngine).numbersIgnoreWidth;
  if (a.kind === b.kind) {
    switch (a.kind) {
      case "integer": {
        const o = b as typeof a;
        if (!anyWidth && a.bytes !== o.bytes) return { severity: "warning", why: `${a.bytes * 8}-bit vs ${o.bytes * 8}-bit integers: values beyond the narrower range fail on one side` };
        if (Boolean(a.unsigned) !== Boolean(o.unsigned)) return { severity: "warning", why: "signed vs unsigned: negative values fail on one side, the top of the range on the other" };
        return undefined;
      }
      case "float": {
        const o = b as typeof a;
        if (!anyWidth && a.bytes !== o.bytes) return { severity: "warning", why: `${a.bytes * 8}-bit vs ${o.bytes * 8}-bit floating point: the narrower one rounds` };
        return undefined;
      }
      case "decimal": {
        const o = b as typeof a;
        if (a.precision !== o.precision || (a.scale ?? 0) !== (o.scale ?? 0)) {
          return { severity: "warning", why: "different precision or scale: values are rounded or rejected on one side" };
        }
        return undefined;
      }
      case "text": {
        const o = b as typeof a;
        if (a.maxLength !== o.maxLength) return { severity: "warning", why: "different length limits: longer values are rejected (or cut) on one side" };
        if (Boolean(a.fixed) !== Boolean(o.fixed)) return { severity: "warning", why: "fixed-length char vs varchar: values are blank-padded on one side" };
        return undefined;
      }
      case "binary": {
        const o = b as typeof a;
        if (a.maxLength !== o.maxLength) return { severity: "warning", why: "different length limits: longer values are rejected on one side" };
        return undefined;
      }
      case "timestamp": {
        const o = b as typeof a;
        if (a.withTimeZone !== o.withTimeZone) {
          return { severity: "warning", why: "an instant (with time zone) vs a wall-clock time: values read back shifted by the session's time zone on one side" };
        }
        if (a.fractionalDigits !== undefined && o.fractionalDigits !== undefined && a.fractionalDigits !== o.fractionalDigits) {
          return { severity: "warning", why: `${a.fractionalDigits} vs ${o.fractionalDigits} fractional second digits: sub-second precision is cut on one side` };
        }
        return undefined;
      }
      case "other": {
        const o = b as typeof a;
        if (a.name.toLowerCase() === o.name.toLowerCase() && leftEngine === rightEngine) return undefined;
        if (a.name.toLowerCase() === o.name.toLowerCase()) return { severity: "warning", why: "an engine-specific type on both sides: check that it behaves the same" };
        return { severity: "error", why: "different engine-specific types" };
      }
      default:
        return undefined;
    }
  }
  const pair = new Set([a.kind, b.kind]);
  const has = (x: TypeClass["kind"], y: TypeClass["kind"]) => pair.has(x) && pair.has(y);
  // A column SQLite declares without a type takes anything: the other side decides what fits.
  if ((a.kind === "other" && a.name === "(no declared type)") || (b.kind === "other" && b.name === "(no declared type)")) {
    return { severity: "warning", why: "no declared type on SQLite: it accepts values the other side rejects" };
  }
  if (has("integer", "decimal")) {
    const d = (a.kind === "decimal" ? a : b) as Extract<TypeClass, { kind: "decimal" }>;
    if ((d.scale ?? 0) === 0 && d.precision !== undefined) return { severity: "warning", why: "integer vs decimal without fraction: same values, different range" };
    return { severity: "error", why: "integer vs decimal with a fraction: fractions are cut or rejected on the integer side" };
  }
  if (has("decimal", "float")) return { severity: "warning", why: "exact decimal vs floating point: values are rounded on the floating-point side" };
  if (has("json", "text")) return { severity: "warning", why: "JSON vs text: the text side does not validate JSON" };
  if (has("uuid", "text")) return { severity: "warning", why: "uuid vs text: the text side does not validate UUIDs" };
  if (has("uuid", "binary")) return { severity: "error", why: "uuid vs binary: the application reads a string on one side and bytes on the other" };
  return { severity: "error", why: "different type classes: values of one are rejected or read back differently by the other" };
}

/** Spells a column's type for a report: the engine's own name and the class in brackets. */
function spell(c: Column): string {
  const cls = describeType(c.type);
  return c.sourceType.toLowerCase() === cls.toLowerCase() ? c.sourceType : `${c.sourceType} [${cls}]`;
}

/** Compares two schemas (see the file header for modes and severities). */
export function compareSchemas(left: SchemaSide, right: SchemaSide, mode: CompareMode = "symmetric"): Comparison {
  const findings: Finding[] = [];
  const matchedTables: string[] = [];
  const L = left.label;
  const R = right.label;
  const add = (severity: Severity, kind: FindingKind, table: string, message: string, column?: string) =>
    findings.push({ severity, kind, table, ...(column === undefined ? {} : { column }), message });

  const rightSeen = new Set<Table>();
  for (const lt of left.schema.tables) {
    const rt = matchName(right.schema.tables, lt.name);
    if (rt === undefined) {
      add("error", "missing-table", lt.name, `table ${lt.name} exists on ${L} but not on ${R}`);
      continue;
    }
    rightSeen.add(rt);
    matchedTables.push(lt.name);
    if (rt.name !== lt.name) {
      add("warning", "name-case", lt.name, `table ${lt.name} on ${L} is ${rt.name} on ${R}: only SQL that leaves the name unquoted (or quotes it as each engine spells it) finds both`);
    }
    compareTable(lt, rt);
  }
  for (const rt of right.schema.tables) {
    if (rightSeen.has(rt)) continue;
    if (mode === "symmetric") add("error", "missing-table", rt.name, `table ${rt.name} exists on ${R} but not on ${L}`);
    else add("warning", "extra-table", rt.name, `table ${rt.name} exists on ${R} only (not on ${L})`);
  }
  return { left, right, mode, matchedTables, findings };

  function compareTable(lt: Table, rt: Table): void {
    const T = lt.name;
    const rightCols = new Set<Column>();
    for (const lc of lt.columns) {
      const rc = matchName(rt.columns, lc.name);
      if (rc === undefined) {
        add("error", "missing-column", T, `${T}.${lc.name} (${spell(lc)}) exists on ${L} but not on ${R}`, lc.name);
        continue;
      }
      rightCols.add(rc);
      compareColumn(lt, rt, lc, rc);
    }
    for (const rc of rt.columns) {
      if (rightCols.has(rc)) continue;
      if (mode === "symmetric") {
        add("error", "missing-column", T, `${T}.${rc.name} (${spell(rc)}) exists on ${R} but not on ${L}`, rc.name);
      } else if (!rc.nullable && rc.default === undefined && !rc.autoIncrement) {
        add("error", "extra-column", T, `${T}.${rc.name} exists on ${R} only and is NOT NULL without a default: inserts written for ${L} fail`, rc.name);
      } else {
        add("warning", "extra-column", T, `${T}.${rc.name} (${spell(rc)}) exists on ${R} only`, rc.name);
      }
    }
    compareKeys(lt, rt);
    compareForeignKeys(lt, rt);
    compareUnsupported(lt, rt);
  }

  function compareColumn(lt: Table, rt: Table, lc: Column, rc: Column): void {
    const T = lt.name;
    const C = lc.name;
    if (rc.name !== lc.name && lc.name.toLowerCase() === rc.name.toLowerCase() && dialectFor(left.schema.engine).caseInsensitiveNames !== dialectFor(right.schema.engine).caseInsensitiveNames) {
      // Only PostgreSQL distinguishes quoted column names by case; SQLite and MariaDB fold them.
      add("warning", "name-case", T, `${T}.${C} on ${L} is ${rc.name} on ${R}: PostgreSQL only finds it unquoted if it is all lower case`, C);
    }
    const t = compareTypes(lc.type, rc.type, left.schema.engine, right.schema.engine);
    if (t !== undefined) add(t.severity, "type", T, `${T}.${C}: ${spell(lc)} on ${L} vs ${spell(rc)} on ${R}: ${t.why}`, C);

    const lPk = lt.primaryKey.some((p) => p.toLowerCase() === C.toLowerCase());
    if (lc.nullable !== rc.nullable) {
      const nullableSide = lc.nullable ? L : R;
      const strictSide = lc.nullable ? R : L;
      const nullableEngine = lc.nullable ? left.schema.engine : right.schema.engine;
      if (lPk && dialectFor(nullableEngine).nullablePrimaryKeys) {
        add("warning", "nullability", T, `${T}.${C} is a primary key column that SQLite leaves nullable (a legacy quirk) and ${strictSide} makes NOT NULL: declare it NOT NULL`, C);
      } else if (mode === "directional" && !lc.nullable) {
        add("warning", "nullability", T, `${T}.${C} is NOT NULL on ${L} but nullable on ${R}`, C);
      } else {
        add("error", "nullability", T, `${T}.${C} is nullable on ${nullableSide} but NOT NULL on ${strictSide}: rows with NULL there are rejected`, C);
      }
    }
    if (lc.autoIncrement !== rc.autoIncrement && !(mode === "directional" && rc.autoIncrement)) {
      const autoSide = lc.autoIncrement ? L : R;
      const manualSide = lc.autoIncrement ? R : L;
      const autoEngine = lc.autoIncrement ? left.schema.engine : right.schema.engine;
      if (dialectFor(autoEngine).autoIncrementIsRowid) {
        // Every INTEGER PRIMARY KEY is SQLite's rowid, filled when left out, whether the
        // application relies on it or not: worth knowing, not proof of a break.
        add("warning", "auto-increment", T, `${T}.${C} is an INTEGER PRIMARY KEY that SQLite fills itself, but ${manualSide} does not (no serial/identity/AUTO_INCREMENT): inserts that leave it out fail there`, C);
      } else {
        add("error", "auto-increment", T, `${T}.${C} is filled by the engine on ${autoSide} (autoincrement/identity/serial) but not on ${manualSide}: inserts that leave it out fail there`, C);
      }
    }
    const lDef = lc.default !== undefined;
    const rDef = rc.default !== undefined;
    if (lDef !== rDef && !lc.autoIncrement && !rc.autoIncrement && !(mode === "directional" && rDef)) {
      const withSide = lDef ? L : R;
      const withoutSide = lDef ? R : L;
      const def = lc.default ?? rc.default;
      const strictWithout = lDef ? !rc.nullable : !lc.nullable;
      if (strictWithout) add("error", "default", T, `${T}.${C} has a default (${def}) on ${withSide} but none on ${withoutSide}, where it is NOT NULL: inserts that leave it out fail there`, C);
      else add("warning", "default", T, `${T}.${C} has a default (${def}) on ${withSide} but none on ${withoutSide}: inserts that leave it out store NULL there`, C);
    }
  }

  function compareKeys(lt: Table, rt: Table): void {
    const T = lt.name;
    if (lt.primaryKey.length === 0 && rt.primaryKey.length > 0) {
      if (mode === "symmetric") add("error", "primary-key", T, `${T} has no primary key on ${L} but ${cols(rt.primaryKey)} on ${R}`);
      else add("warning", "primary-key", T, `${T} has no primary key on ${L} but ${cols(rt.primaryKey)} on ${R}: rows duplicated on ${L} are rejected`);
    } else if (lt.primaryKey.length > 0 && rt.primaryKey.length === 0) {
      add("error", "primary-key", T, `${T} has primary key ${cols(lt.primaryKey)} on ${L} but none on ${R}`);
    } else if (!sameSet(lt.primaryKey, rt.primaryKey)) {
      add("error", "primary-key", T, `${T}'s primary key is ${cols(lt.primaryKey)} on ${L} but ${cols(rt.primaryKey)} on ${R}`);
    } else if (!sameList(lt.primaryKey, rt.primaryKey)) {
      add("warning", "primary-key", T, `${T}'s primary key columns are in a different order: ${cols(lt.primaryKey)} on ${L}, ${cols(rt.primaryKey)} on ${R}`);
    }

    // Unique keys by their column sets (a unique key on the primary key's columns adds nothing).
    const uniques = (t: Table) => t.indexes.filter((i) => i.unique && !sameSet(i.columns, t.primaryKey));
    const lu = uniques(lt);
    const ru = uniques(rt);
    for (const u of lu) {
      if (!ru.some((o) => sameSet(o.columns, u.columns))) add("error", "unique", T, `${T} has unique key ${cols(u.columns)} on ${L} but not on ${R}: duplicates are accepted there`);
    }
    for (const u of ru) {
      if (lu.some((o) => sameSet(o.columns, u.columns))) continue;
      if (mode === "symmetric") add("error", "unique", T, `${T} has unique key ${cols(u.columns)} on ${R} but not on ${L}: duplicates are accepted on ${L}`);
      else add("error", "unique", T, `${T} has unique key ${cols(u.columns)} on ${R} but not on ${L}: rows ${L} accepts as duplicates are rejected`);
    }

    // Plain indexes by their column lists: a missing one costs speed, not correctness. MariaDB
    // indexes every foreign key itself, so such an index missing elsewhere is no difference.
    const plain = (t: Table) => t.indexes.filter((i) => !i.unique);
    const covered = (t: Table, ixCols: string[]) => t.indexes.some((o) => sameList(o.columns, ixCols)) || sameList(t.primaryKey, ixCols);
    const implicitFkIndex = (owner: Table, ownerEngine: EngineKind, otherEngine: EngineKind, ixCols: string[]) =>
      dialectFor(ownerEngine).indexesForeignKeys && !dialectFor(otherEngine).indexesForeignKeys && owner.foreignKeys.some((f) => sameList(f.columns, ixCols));
    const le = left.schema.engine;
    const re = right.schema.engine;
    for (const ix of plain(lt)) {
      if (covered(rt, ix.columns) || implicitFkIndex(lt, le, re, ix.columns)) continue;
      add("warning", "index", T, `${T} has index ${ix.name} ${cols(ix.columns)} on ${L} but no index on those columns on ${R}`);
    }
    if (mode === "directional") return;
    for (const ix of plain(rt)) {
      if (covered(lt, ix.columns) || implicitFkIndex(rt, re, le, ix.columns)) continue;
      add("warning", "index", T, `${T} has index ${ix.name} ${cols(ix.columns)} on ${R} but no index on those columns on ${L}`);
    }
  }

  function compareForeignKeys(lt: Table, rt: Table): void {
    const T = lt.name;
    const same = (a: ForeignKey, b: ForeignKey) => sameList(a.columns, b.columns) && a.refTable.toLowerCase() === b.refTable.toLowerCase() && sameList(a.refColumns, b.refColumns);
    const spellFk = (f: ForeignKey) => `${cols(f.columns)} -> ${f.refTable}${cols(f.refColumns)}`;
    // RESTRICT and NO ACTION both refuse the change (they differ only in when, within a
    // statement), and engines report them differently (MariaDB's introspection drops RESTRICT):
    // only the actions that change other rows (CASCADE, SET NULL, SET DEFAULT) count.
    const acting = (a: string | undefined) => (a === undefined || /^(RESTRICT|NO ACTION)$/i.test(a) ? undefined : a.toUpperCase());
    const actions = (f: ForeignKey) => [acting(f.onDelete) ? `ON DELETE ${acting(f.onDelete)}` : "", acting(f.onUpdate) ? `ON UPDATE ${acting(f.onUpdate)}` : ""].filter(Boolean).join(" ");
    const reliesOn = (f: ForeignKey) => actions(f) !== "";
    for (const f of lt.foreignKeys) {
      const o = rt.foreignKeys.find((x) => same(f, x));
      if (o === undefined) {
        if (reliesOn(f)) add("error", "foreign-key", T, `${T} has foreign key ${spellFk(f)} ${actions(f)} on ${L} but not on ${R}: the application's deletes/updates do not cascade there`);
        else add("warning", "foreign-key", T, `${T} has foreign key ${spellFk(f)} on ${L} but not on ${R}: references are not checked there`);
        continue;
      }
      if (actions(f).toUpperCase() !== actions(o).toUpperCase()) {
        add("error", "foreign-key", T, `${T}'s foreign key ${spellFk(f)} has ${actions(f) || "no action"} on ${L} but ${actions(o) || "no action"} on ${R}`);
      }
    }
    for (const f of rt.foreignKeys) {
      if (lt.foreignKeys.some((x) => same(f, x))) continue;
      if (mode === "symmetric" && reliesOn(f)) add("error", "foreign-key", T, `${T} has foreign key ${spellFk(f)} ${actions(f)} on ${R} but not on ${L}: the application's deletes/updates do not cascade there`);
      else add("warning", "foreign-key", T, `${T} has foreign key ${spellFk(f)} on ${R} but not on ${L}${mode === "directional" ? ": rows whose reference is missing are rejected" : ": references are not checked on " + L}`);
    }
  }

  /** CHECK constraints, expression/partial indexes, generated columns: counted, since their names differ between engines. */
  function compareUnsupported(lt: Table, rt: Table): void {
    const kinds = new Set([...(lt.unsupported ?? []), ...(rt.unsupported ?? [])].map((u) => u.what));
    for (const what of kinds) {
      const l = (lt.unsupported ?? []).filter((u) => u.what === what);
      const r = (rt.unsupported ?? []).filter((u) => u.what === what);
      if (l.length !== r.length) {
        add("warning", "unsupported", lt.name, `${lt.name} has ${l.length} ${what}(s) on ${L} but ${r.length} on ${R}${[...l, ...r].length > 0 ? ` (${[...l.map((u) => `${L}: ${u.name}`), ...r.map((u) => `${R}: ${u.name}`)].join(", ")})` : ""}`);
      }
    }
  }
}

/** Every unordered pair of sides, in the given order: (a,b), (a,c), (b,c). */
export function comparePairs(sides: SchemaSide[]): Comparison[] {
  const out: Comparison[] = [];
  for (let i = 0; i < sides.length; i++) for (let j = i + 1; j < sides.length; j++) out.push(compareSchemas(sides[i], sides[j], "symmetric"));
  return out;
}
