import { readdirSync, readFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/env";

/**
 * The how-tos' commands exist (issue 20): every `npm run <script>` the README and docs/ show is a
 * script of package.json, and every `--option` they give it is one that script's usage names.
 */
const docs = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts as Record<string, string>;

/** Each `npm run x -- --a --b` of a doc: the script and its options. */
function commandsOf(text: string): { script: string; options: string[] }[] {
  return [...text.matchAll(/npm run ([a-z:]+)((?: --)?[^`\n|]*)/g)].map((m) => ({
    script: m[1],
    options: m[2].includes(" -- ") || m[2].startsWith(" --") ? [...m[2].matchAll(/(?<=\s)--[a-z][a-z-]*/g)].map((o) => o[0]) : [],
  }));
}

describe("commands shown in the README and docs/", () => {
  for (const doc of docs) {
    it(`${doc}: every npm run names a script of package.json`, () => {
      for (const { script } of commandsOf(readFileSync(join(ROOT, doc), "utf8"))) expect(Object.keys(scripts), `${doc}: npm run ${script}`).toContain(script);
    });
  }

  it("options shown for db:copy, db:check, ephemeral, recover and preview:summary are ones the script accepts", () => {
    const source: Record<string, string> = {
      "db:copy": "scripts/db-copy.ts",
      "db:check": "scripts/db-check.ts",
      ephemeral: "scripts/ephemeral.ts",
      recover: "scripts/recover.ts",
      "preview:summary": "scripts/preview-summary.ts",
    };
    for (const doc of docs) {
      for (const { script, options } of commandsOf(readFileSync(join(ROOT, doc), "utf8"))) {
        if (!source[script]) continue;
        const text = readFileSync(join(ROOT, source[script]), "utf8");
        for (const option of options) expect(text, `${doc}: npm run ${script} ${option}`).toMatch(new RegExp(`["'\`]${option.slice(2)}["'\`]|${option}\\b`));
      }
    }
  });
});
