/**
 * Every relative link in README.md and docs/*.md leads somewhere: the file exists, and a `#anchor`
 * into a Markdown file (or within the same file) names one of its headings, as GitHub makes
 * anchors from headings (lower case, punctuation dropped, spaces to hyphens, -1, -2 … for repeats).
 * Links and headings inside code (fenced blocks, `spans`) are not links or headings.
 */
import { existsSync, readdirSync, readFileSync } from "fs";
import { dirname, join, relative, resolve } from "path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
const FILES = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];

/** The lines of a Markdown text outside fenced code blocks. */
function proseLines(text: string): string[] {
  let fenced = false;
  return text.split("\n").filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** GitHub's anchor for a heading's text. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a Markdown file's headings. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of proseLines(readFileSync(join(ROOT, file), "utf8"))) {
    const m = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

/** The relative link targets of a Markdown file (not http:, mailto: …). */
function relativeLinks(file: string): string[] {
  const text = proseLines(readFileSync(join(ROOT, file), "utf8"))
    .join("\n")
    .replace(/`[^`\n]*`/g, "");
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

describe("links in README.md and docs/", () => {
  it("GitHub's anchors are reproduced", () => {
    expect(slug("Move an app from SQLite to PostgreSQL with db:copy")).toBe("move-an-app-from-sqlite-to-postgresql-with-dbcopy");
    expect(slug("Declared: `importFrom`")).toBe("declared-importfrom");
    expect(slug("Deployments by name, and through SSH")).toBe("deployments-by-name-and-through-ssh");
  });

  it("docs/ is linked from README.md, every file of it", () => {
    const fromReadme = new Set(relativeLinks("README.md").map((t) => t.split("#")[0]));
    expect(FILES.filter((f) => f.startsWith("docs/") && !fromReadme.has(f))).toEqual([]);
  });

  it.each(FILES)("%s: every relative link resolves", (file) => {
    const problems = relativeLinks(file).flatMap((target) => {
      const [path, anchor] = target.split("#", 2) as [string, string | undefined];
      const dest = path === "" ? file : relative(ROOT, resolve(ROOT, dirname(file), decodeURI(path)));
      if (!existsSync(join(ROOT, dest))) return [`${target}: no file ${dest}`];
      if (anchor !== undefined && dest.endsWith(".md") && !anchors(dest).has(anchor)) return [`${target}: ${dest} has no heading with the anchor #${anchor}`];
      return [];
    });
    expect(problems).toEqual([]);
  });
});
