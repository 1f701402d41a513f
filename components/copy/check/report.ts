/**
 * The text `npm run db:check` prints, and its verdict: a pure function of what each engine's
 * migrations did and of the comparisons (compare.ts). Grouped per engine pair, then per table, so
 * a user reads "on postgres vs mariadb, table orders: ..." and finds the migration to fix.
 */
import type { EngineKind } from "../../model/engineKind";
import type { Schema } from "../schema";
import type { Comparison, Finding } from "./compare";

/** What happened on one engine (or one live database) before the comparison. */
export interface EngineRun {
  /** The label findings use: the engine name, or "source"/"target" in live mode. */
  label: string;
  engine: EngineKind;
  /** Where it ran, passwords redacted: a throwaway instance's URL or the live URL. */
  display: string;
  /** Migration files applied, in order; empty in live mode and for a command. */
  applied: string[];
  /** The migration command, when that is how the migrations ran. */
  command?: string;
  /** Set when a migration (file or command) failed: nothing is compared for this engine. */
  failure?: { file?: string; message: string };
  /** The introspected schema, when there was no failure. */
  schema?: Schema;
}

/** The whole check, as printed. */
export interface CheckResult {
  /** One line saying what was checked, e.g. "migrations in ./migrations (3 files)". */
  subject: string;
  runs: EngineRun[];
  comparisons: Comparison[];
}

/** 0 when every engine ran and no comparison holds an error (warnings allowed), else 1. */
export function checkExitCode(result: CheckResult): 0 | 1 {
  if (result.runs.some((r) => r.failure !== undefined)) return 1;
  return result.comparisons.some((c) => c.findings.some((f) => f.severity === "error")) ? 1 : 0;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Renders the report (see the file header); ends with the verdict line and a newline. */
export function renderReport(result: CheckResult): string {
  const lines: string[] = [];
  const labels = result.runs.map((r) => r.label);
  const width = Math.max(8, ...labels.map((l) => l.length)) + 2;
  lines.push(`db:check: ${result.subject}`);
  lines.push(`engines: ${labels.join(", ")}`);
  lines.push("");
  for (const r of result.runs) {
    const head = `  ${pad(r.label, width)}`;
    if (r.failure !== undefined) {
      lines.push(`${head}FAILED${r.failure.file ? ` at ${r.failure.file}` : ""} (${r.display})`);
      for (const l of r.failure.message.trimEnd().split("\n")) lines.push(`${" ".repeat(width + 4)}${l}`);
      if (r.applied.length > 0) lines.push(`${" ".repeat(width + 4)}applied before it: ${r.applied.join(", ")}`);
      continue;
    }
    const tables = r.schema?.tables.map((t) => t.name) ?? [];
    const applied = r.command !== undefined ? "ran the command; " : r.applied.length > 0 ? `applied ${r.applied.join(", ")}; ` : "";
    lines.push(`${head}ok  ${applied}${plural(tables.length, "table")}${tables.length > 0 ? `: ${tables.join(", ")}` : ""} (${r.display})`);
  }
  let errors = 0;
  let warnings = 0;
  for (const c of result.comparisons) {
    const e = c.findings.filter((f) => f.severity === "error").length;
    const w = c.findings.length - e;
    errors += e;
    warnings += w;
    lines.push("");
    const verdict = c.findings.length === 0 ? "no differences" : `${plural(e, "error")}, ${plural(w, "warning")}`;
    lines.push(`${c.left.label} vs ${c.right.label}: ${plural(c.matchedTables.length, "table")} on both, ${verdict}`);
    const byTable = new Map<string, Finding[]>();
    for (const f of c.findings) byTable.set(f.table, [...(byTable.get(f.table) ?? []), f]);
    for (const [table, fs] of byTable) {
      lines.push(`  ${table}`);
      // Errors first: they are what a user must fix.
      for (const f of [...fs].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1))) {
        lines.push(`    ${pad(f.severity.toUpperCase(), 8)}${f.message}`);
      }
    }
  }
  lines.push("");
  const failed = result.runs.filter((r) => r.failure?.file !== undefined);
  const unchecked = result.runs.filter((r) => r.failure !== undefined && r.failure.file === undefined);
  if (failed.length > 0) {
    lines.push(`NOT COMPATIBLE: migrations failed on ${failed.map((r) => `${r.label} (${r.failure?.file})`).join(", ")}${errors > 0 ? `; ${plural(errors, "error")} among the others` : ""}`);
  } else if (unchecked.length > 0) {
    // Not a verdict on the schema: the engine could not be started or read (exit 1 all the same).
    lines.push(`NOT CHECKED: could not run on ${unchecked.map((r) => r.label).join(", ")}${errors > 0 ? `; ${plural(errors, "error")} among the others` : ""}`);
  } else if (errors > 0) {
    lines.push(`NOT COMPATIBLE: ${plural(errors, "error")}, ${plural(warnings, "warning")}`);
  } else {
    lines.push(`COMPATIBLE on ${labels.join(", ")}${warnings > 0 ? ` (${plural(warnings, "warning")})` : ""}`);
  }
  return `${lines.join("\n")}\n`;
}
