import { existsSync, readdirSync, readFileSync, statSync } from "fs";
import { dirname, join, relative, resolve } from "path";
import * as ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The order imports run in, bottom first: a file may import files of its own layer or of a layer
 * below it, never above. Each layer is a list of folders (ending in /) or files, relative to the
 * repository. This is the one place the order is written; README "How it is built" repeats it
 * (checked below).
 */
const IMPORT_ORDER: { layer: string; paths: string[] }[] = [
  { layer: "model", paths: ["components/model/", "components/shell.ts"] },
  { layer: "targets", paths: ["components/targets/"] },
  { layer: "secrets", paths: ["components/secrets/"] },
  { layer: "tls", paths: ["components/tls/"] },
  { layer: "backups", paths: ["components/backups/"] },
  { layer: "hooks", paths: ["components/hooks/"] },
  { layer: "validation", paths: ["components/validate.ts", "components/deploymentChecks.ts", "components/pitrChecks.ts"] },
  { layer: "engines", paths: ["components/engines/"] },
  { layer: "copy", paths: ["components/copy/"] },
  { layer: "deploy", paths: ["components/deploy/"] },
  { layer: "index", paths: ["components/index.ts"] },
  { layer: "stacks", paths: ["stacks/"] },
  { layer: "scripts", paths: ["scripts/"] },
];


const ROOT = resolve(__dirname, "../..");
const CHECKED = ["components", "stacks", "scripts"];

/** The layer a repository path belongs to: the most specific entry of IMPORT_ORDER that holds it. */
function layerOf(path: string): number | undefined {
  let found: { index: number; length: number } | undefined;
  IMPORT_ORDER.forEach(({ paths }, index) => {
    for (const p of paths) {
      const holds = p.endsWith("/") ? path.startsWith(p) : path === p;
      if (holds && (found === undefined || p.length > found.length)) found = { index, length: p.length };
    }
  });
  return found?.index;
}

function typescriptFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return e.name === "node_modules" ? [] : typescriptFiles(path);
    return e.name.endsWith(".ts") ? [path] : [];
  });
}

/** The repository path a relative import names (a .ts file or a folder's index.ts), or undefined for a package. */
function resolveImport(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const target = relative(ROOT, resolve(ROOT, dirname(from), specifier));
  const isFile = (p: string) => existsSync(join(ROOT, p)) && statSync(join(ROOT, p)).isFile();
  return [`${target}.ts`, target, `${target}/index.ts`].find(isFile) ?? target;
}

/**
 * Every import of `file` that names a file of a higher layer, as "file -> imported (layers)".
 * Type-only imports, re-exports, import() types and require() all count.
 */
function upwardImports(file: string): string[] {
  const own = layerOf(file);
  if (own === undefined) return [];
  const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, file), "utf8"), true, true);
  return importedFiles.flatMap(({ fileName }) => {
    const target = resolveImport(file, fileName);
    const theirs = target === undefined ? undefined : layerOf(target);
    if (theirs === undefined || theirs <= own) return [];
    return [`${file} -> ${target}`];
  });
}

describe("imports run one way", () => {
  const files = CHECKED.flatMap(typescriptFiles).sort();
  const found = files.flatMap(upwardImports);

  it("every checked file belongs to a layer", () => {
    expect(files.filter((f) => layerOf(f) === undefined)).toEqual([]);
  });

  it("no file imports from a layer above its own", () => {
    const problems = found.map((v) => {
      const [from, to] = v.split(" -> ");
      return `${from} imports ${to}: ${IMPORT_ORDER[layerOf(from)!].layer} may not import ${IMPORT_ORDER[layerOf(to)!].layer} (order, bottom first: ${IMPORT_ORDER.map((l) => l.layer).join(" → ")})`;
    });
    expect(problems).toEqual([]);
  });

  it("the README's 'How it is built' states the same order", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## How it is built"), readme.indexOf("\n## ", readme.indexOf("## How it is built") + 1));
    const order = IMPORT_ORDER.map((l) => l.layer).join(" → ");
    expect(section.includes(order), `README "How it is built" should state the import order: ${order}`).toBe(true);
  });
});
