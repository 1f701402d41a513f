/**
 * The configuration reference in docs/ names exactly the keys the stack schemas accept.
 *
 * A reference table is marked by the comment line just above it, naming the scope(s) its rows
 * belong to: `<!-- reference: dbstack:postgres.<name> -->` (several scopes: separated by spaces;
 * `dbstack` alone: the top-level keys). Each code span of a row's first cell is a key: relative
 * to the table's scope (`instanceName`, `backup.dir`, `databases.<db>.importFrom`, `healthChecks[]`),
 * or absolute (`dbstack:allowDataRemoval`, `dbstack:dockerHosts.<name>.endpoint`). `<…>` stands for
 * a map's key, `[]` for a list's item.
 *
 * Checked both ways against stacks/config.ts's CONFIG_KEYS and the zod schemas under it:
 * - every documented key exists in the schema;
 * - every key of a scope is documented (deprecated keys, listed below, need only a mention);
 * - where the reference lists an object's fields one by one (`pragmas.journalMode`, `container.image`),
 *   it lists all of them.
 * And every table headed `key` or `field` in docs/ carries a marker, so no reference table goes unchecked.
 */
import { readdirSync, readFileSync } from "fs";
import { join, resolve } from "path";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { CONFIG_KEYS } from "../../stacks/config";

const ROOT = resolve(__dirname, "../..");
const DOCS = join(ROOT, "docs");

/** Keys a schema still reads but the reference lists only as deprecated (in the text of some row). */
const DEPRECATED: Record<string, string[]> = {
  "dbstack:postgres.<name>": ["clusterName"],
};

type Def = { type: string; [k: string]: unknown };
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema under optional, default, pipe and the like. */
function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    const d = defOf(s);
    if (["optional", "nullable", "default", "prefault", "readonly", "nonoptional", "catch"].includes(d.type)) s = d.innerType as z.ZodType;
    else if (d.type === "pipe") s = d.in as z.ZodType;
    else return s;
  }
}

/** The fields of an object schema (of every option, for a union of objects); undefined when it is no object. */
function fieldsOf(s: z.ZodType): Record<string, z.ZodType> | undefined {
  const d = defOf(unwrap(s));
  if (d.type === "object") return d.shape as Record<string, z.ZodType>;
  if (d.type === "union") {
    const shapes = (d.options as z.ZodType[]).map(fieldsOf).filter((x): x is Record<string, z.ZodType> => x !== undefined);
    return shapes.length > 0 ? Object.assign({}, ...shapes) : undefined;
  }
  return undefined;
}

/** The schema at a documented path of segments, or why there is none. */
function walk(fields: Record<string, z.ZodType>, segments: string[]): { schema?: z.ZodType; problem?: string } {
  let here: z.ZodType | undefined;
  let current = fields;
  for (const [i, raw] of segments.entries()) {
    const list = raw.endsWith("[]");
    const segment = list ? raw.slice(0, -2) : raw;
    if (/^<[^>]+>$/.test(segment)) {
      const d = here && defOf(unwrap(here));
      if (!d || d.type !== "record") return { problem: `${segments.slice(0, i).join(".")} is not a map` };
      here = d.valueType as z.ZodType;
    } else {
      if (i > 0) {
        const f = here && fieldsOf(here);
        if (!f) return { problem: `${segments.slice(0, i).join(".")} has no fields` };
        current = f;
      }
      if (!Object.hasOwn(current, segment)) return { problem: `no field ${segment}` };
      here = current[segment];
    }
    if (list) {
      const d = defOf(unwrap(here!));
      if (d.type !== "array") return { problem: `${segment} is not a list` };
      here = d.element as z.ZodType;
    }
  }
  return { schema: here };
}

/** The fields of a scope: `dbstack` (the top-level keys) or `dbstack:<key>.<name>` (a map's entries). */
function scopeFields(scope: string): Record<string, z.ZodType> {
  if (scope === "dbstack") return CONFIG_KEYS as unknown as Record<string, z.ZodType>;
  const m = /^dbstack:([A-Za-z]+)\.<[^>]+>$/.exec(scope);
  const top = m ? (CONFIG_KEYS as unknown as Record<string, z.ZodType>)[m[1]] : undefined;
  const d = top && defOf(unwrap(top));
  if (!d || d.type !== "record") throw new Error(`reference marker names an unknown scope: ${scope}`);
  const f = fieldsOf(d.valueType as z.ZodType);
  if (!f) throw new Error(`${scope}: its entries are not objects`);
  return f;
}

/** Lines of a Markdown file outside fenced code blocks (others blanked, so line numbers hold). */
function proseLines(text: string): string[] {
  let fenced = false;
  return text.split("\n").map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line;
  });
}

interface DocumentedKey {
  scope: string;
  key: string;
  where: string;
}

/** The first cell of a table row. */
const firstCell = (row: string) => row.split(/(?<!\\)\|/)[1] ?? "";
const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

/** Every key the marked reference tables of `file` name, each with its scope. */
function documentedKeys(file: string, text: string): { keys: DocumentedKey[]; unmarked: string[] } {
  const lines = proseLines(text);
  const keys: DocumentedKey[] = [];
  const unmarked: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const isTableStart = lines[i].startsWith("|") && (i === 0 || !lines[i - 1].startsWith("|"));
    if (!isTableStart) continue;
    const marker = /^<!-- reference: (.+) -->$/.exec(lines[i - 1] ?? "");
    if (!marker) {
      if (/^\|\s*(key|field)\s*\|/.test(lines[i])) unmarked.push(`${file}:${i + 1}`);
      continue;
    }
    const scopes = marker[1].trim().split(/\s+/);
    for (let j = i + 2; j < lines.length && lines[j].startsWith("|"); j++) {
      for (const span of codeSpans(firstCell(lines[j]))) {
        const where = `${file}:${j + 1}`;
        const absolute = /^(dbstack:[A-Za-z]+)(?:\.(<[^>]+>)\.(.+))?$/.exec(span);
        if (absolute && absolute[2]) keys.push({ scope: `${absolute[1]}.${absolute[2]}`, key: absolute[3], where });
        else if (absolute) keys.push({ scope: "dbstack", key: absolute[1].slice("dbstack:".length), where });
        else for (const scope of scopes) keys.push({ scope, key: span, where });
      }
    }
  }
  return { keys, unmarked };
}

const docFiles = readdirSync(DOCS).filter((f) => f.endsWith(".md")).sort();
const texts = new Map(docFiles.map((f) => [`docs/${f}`, readFileSync(join(DOCS, f), "utf8")]));
const found = [...texts].map(([file, text]) => documentedKeys(file, text));
const documented = found.flatMap((f) => f.keys);
const byScope = new Map<string, DocumentedKey[]>();
for (const k of documented) byScope.set(k.scope, [...(byScope.get(k.scope) ?? []), k]);

/** Every scope the schema has: the top level, and each top-level key that is a map of objects. */
const SCOPES = [
  "dbstack",
  ...Object.entries(CONFIG_KEYS as unknown as Record<string, z.ZodType>)
    .filter(([, s]) => {
      const d = defOf(unwrap(s));
      return d.type === "record" && fieldsOf(d.valueType as z.ZodType) !== undefined;
    })
    .map(([k]) => `dbstack:${k}.<name>`),
];

describe("the configuration reference in docs/ and the stack schemas", () => {
  it("every reference table in docs/ is marked with its scope", () => {
    expect(found.flatMap((f) => f.unmarked), "tables headed key/field without a <!-- reference: … --> line above them").toEqual([]);
  });

  it("documents every scope of the stack config", () => {
    expect(SCOPES.filter((s) => !byScope.has(s))).toEqual([]);
  });

  it("every documented key exists in the schema", () => {
    const problems = documented.flatMap(({ scope, key, where }) => {
      const { problem } = walk(scopeFields(scope), key.split("."));
      return problem ? [`${where}: ${scope}.${key} is documented but not in the schema (${problem})`] : [];
    });
    expect(problems).toEqual([]);
  });

  it("every key of the schema is documented (deprecated ones at least mentioned)", () => {
    const allDocs = [...texts.values()].join("\n");
    const problems = SCOPES.flatMap((scope) => {
      const named = new Set((byScope.get(scope) ?? []).map((k) => k.key.split(".")[0].replace(/\[\]$/, "")));
      const deprecated = DEPRECATED[scope] ?? [];
      return Object.keys(scopeFields(scope)).flatMap((field) => {
        if (named.has(field)) return [];
        if (deprecated.includes(field)) return allDocs.includes(`\`${field}\``) ? [] : [`${scope}.${field} is deprecated but the reference does not mention it`];
        return [`${scope}.${field} is in the schema but not documented in any reference table of docs/`];
      });
    });
    expect(problems).toEqual([]);
  });

  it("where an object's fields are listed one by one, all of them are", () => {
    const problems: string[] = [];
    for (const [scope, keys] of byScope) {
      const named = new Set(keys.map((k) => k.key));
      // Parents named by plain fields only (pragmas, backup, container): a map's entries are described in prose.
      const parents = new Set(keys.map((k) => k.key.split(".")).filter((s) => s.length > 1 && s.slice(0, -1).every((p) => /^[A-Za-z]+$/.test(p))).map((s) => s.slice(0, -1).join(".")));
      for (const parent of parents) {
        const fields = fieldsOf(walk(scopeFields(scope), parent.split(".")).schema!) ?? {};
        for (const f of Object.keys(fields)) if (!named.has(`${parent}.${f}`)) problems.push(`${scope}.${parent}.${f} is in the schema but ${parent}'s other fields are listed and it is not`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("the deprecated keys are still in the schema", () => {
    for (const [scope, fields] of Object.entries(DEPRECATED)) for (const f of fields) expect(Object.keys(scopeFields(scope)), scope).toContain(f);
  });
});
