/**
 * What an allowed value class does to a row, as one function the transfer applies to each source
 * row before it is hashed and written: values of an allowed class (valueClasses.ts) become NULL.
 * The source checksum is taken of the row after this declared conversion, so the verification
 * compares the target with exactly what the pre-scan reported and nothing else.
 * (invalid-utf8 needs nothing here: reading decodes it to U+FFFD, as reported; missing-parent
 * only leaves the foreign key out, see copy.ts.)
 */
import type { EngineKind } from "../../model/engineKind";
import type { TablePair } from "../transfer";
import type { TypeClass } from "../schema";
import { classifyValue, cutFraction, judgedType, VALUE_CLASSES, valueClassId, type ValueClassName } from "./valueClasses";

/** Classes the declared conversion acts on (invalid-utf8 and missing-parent need nothing per value). */
const NULLED_CLASSES = (Object.keys(VALUE_CLASSES) as ValueClassName[]).filter((c) => c !== "invalid-utf8" && c !== "missing-parent");

/** What an allowed value of a class becomes: NULL, except where VALUE_CLASSES says otherwise. */
function converted(cls: ValueClassName, value: unknown, type: TypeClass): unknown {
  if (cls === "nanoseconds") return cutFraction(String(value), 6);
  if (cls === "fraction-digits" && type.kind === "timestamp") return cutFraction(String(value), type.fractionalDigits ?? 6);
  return null;
}

/**
 * The declared conversion of `pair`'s rows given the allowed ids, or undefined when no allowed
 * class touches the table (the transfer then takes rows as they are). Only SQLite sources have
 * value classes (see scan.ts).
 */
export function declaredConversion(pair: TablePair, allow: readonly string[], sourceEngine: EngineKind): ((row: readonly unknown[]) => unknown[]) | undefined {
  if (sourceEngine !== "sqlite" || allow.length === 0) return undefined;
  const allowed = new Set(allow);
  const columns = pair.source.columns
    .map((c, i) => ({ i, type: judgedType(c, pair.target.columns[i]), classes: new Set<ValueClassName>(NULLED_CLASSES.filter((cls) => allowed.has(valueClassId(pair.source.name, c.name, cls)))) }))
    .filter((c) => c.classes.size > 0);
  if (columns.length === 0) return undefined;
  return (row) => {
    const out = row.slice();
    for (const c of columns) {
      const cls = classifyValue(out[c.i], c.type);
      if (cls !== undefined && c.classes.has(cls)) out[c.i] = converted(cls, out[c.i], c.type);
    }
    return out;
  };
}

/** The foreign keys of `pair`'s source table the user allowed to leave out (`<table>.<columns>:missing-parent`). */
export function allowedMissingParents(pair: TablePair, allow: readonly string[]): Set<string> {
  const allowed = new Set(allow);
  return new Set(pair.source.foreignKeys.map((fk) => fk.columns.join(",")).filter((cols) => allowed.has(valueClassId(pair.source.name, cols, "missing-parent"))));
}
