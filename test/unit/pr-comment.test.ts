import { spawnSync } from "child_process";
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/env";
import { tempDir } from "./support/run";

// Issue 20, deliverable 5: one preview comment per stack, updated in place, so the prod preview
// never overwrites the dev one. Driven against a stand-in `gh` that keeps comments as files and
// evaluates the script's --jq filter with jq, as gh does.

/** A stand-in GitHub CLI: `gh api` on issue comments, stored as JSON files in $GH_STORE. */
const FAKE_GH = `#!/bin/bash
set -euo pipefail
[ "$1" = api ] || { echo "fake gh: only api" >&2; exit 1; }
shift
method=GET jq_filter="" body="" path=""
while [ $# -gt 0 ]; do
  case "$1" in
    --method) method=$2; shift 2 ;;
    --paginate) shift ;;
    --jq) jq_filter=$2; shift 2 ;;
    -F) body=\${2#body=@}; shift 2 ;;
    *) path=$1; shift ;;
  esac
done
case "$method $path" in
  "GET repos/"*"/comments") jq -s '.' "$GH_STORE"/*.json 2>/dev/null | jq -r "$jq_filter" ;;
  "POST repos/"*"/comments") id=$(( $(ls "$GH_STORE" | wc -l) + 100 )); jq -n --rawfile b "$body" --argjson id "$id" '{id: $id, body: $b}' > "$GH_STORE/$id.json" ;;
  "PATCH repos/"*"/issues/comments/"*) id=\${path##*/}; jq -n --rawfile b "$body" --argjson id "$id" '{id: $id, body: $b}' > "$GH_STORE/$id.json" ;;
  *) echo "fake gh: unexpected $method $path" >&2; exit 1 ;;
esac
`;

function setup() {
  const dir = tempDir();
  const bin = join(dir, "bin");
  const store = join(dir, "store");
  for (const d of [bin, store]) spawnSync("mkdir", ["-p", d]);
  writeFileSync(join(bin, "gh"), FAKE_GH);
  chmodSync(join(bin, "gh"), 0o755);
  const post = (stack: string, text: string) => {
    const file = join(dir, `${stack}.md`);
    writeFileSync(file, text);
    return spawnSync("bash", [join(ROOT, "scripts/pr-comment.sh"), stack, file], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, GH_STORE: store, GITHUB_REPOSITORY: "o/r", PR_NUMBER: "7" },
    });
  };
  const comments = () => readdirSync(store).map((f) => JSON.parse(readFileSync(join(store, f), "utf8")) as { id: number; body: string });
  return { store, post, comments };
}

describe("scripts/pr-comment.sh: one comment per stack, updated in place", () => {
  it("dev and prod each keep their own comment; a new push edits it, and a person's comment is left alone", () => {
    expect(spawnSync("jq", ["--version"]).status, "jq is needed (apt-get install jq; npm test's set-up installs it)").toBe(0);
    const { store, post, comments } = setup();
    writeFileSync(join(store, "1.json"), JSON.stringify({ id: 1, body: "LGTM" }));
    expect(post("dev", "dev: 3 to create\n").status).toBe(0);
    expect(post("prod", "prod: 1 to update\n").status).toBe(0);
    const second = post("dev", "dev: 4 to create\n");
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain("updated the dev preview comment");
    const bodies = comments().map((c) => c.body).sort();
    expect(bodies).toEqual(["<!-- dbstack-preview:dev -->\ndev: 4 to create\n", "<!-- dbstack-preview:prod -->\nprod: 1 to update\n", "LGTM"]);
  });

  it("answers --help with its usage and exit 0; refuses an unknown option, a bad stack name and an empty summary without calling gh", () => {
    const { post, comments } = setup();
    const help = spawnSync("bash", [join(ROOT, "scripts/pr-comment.sh"), "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: scripts\/pr-comment\.sh <stack> <summary\.md>/);
    expect(spawnSync("bash", [join(ROOT, "scripts/pr-comment.sh"), "--edit-last", "x"], { encoding: "utf8" }).status).toBe(2);
    const bad = post("dev;rm", "x");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("stack: expected a stack name");
    const empty = post("dev", "");
    expect(empty.status).toBe(1);
    expect(empty.stderr).toContain("no summary to post");
    expect(comments()).toEqual([]);
  });
});

describe(".github/workflows/pull-request.yml", () => {
  const text = readFileSync(join(ROOT, ".github/workflows/pull-request.yml"), "utf8");

  /** The shell text of every `run:` step (a one-line run, or the indented block after `run: |`). */
  function runScripts(): string[] {
    const lines = text.split("\n");
    const out: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const m = /^(\s*)(?:- )?run: (.*)$/.exec(lines[i]);
      if (!m) continue;
      if (m[2].trim() !== "|") {
        out.push(m[2]);
        continue;
      }
      const block: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1].trim() === "" || lines[i + 1].search(/\S/) > m[1].length)) block.push(lines[++i]);
      out.push(block.join("\n"));
    }
    return out;
  }

  it("no expression is pasted into a script: secrets and event values reach steps through env", () => {
    const scripts = runScripts();
    expect(scripts.length).toBeGreaterThan(4);
    for (const s of scripts) expect(s, s).not.toContain("${{");
  });

  it("posts through pr-comment.sh, one comment per stack (never --edit-last, which makes prod overwrite dev)", () => {
    expect(text).toContain('bash scripts/pr-comment.sh "$STACK" summary.md');
    expect(text).not.toContain("--edit-last");
  });

  it("uses action majors that run on Node 24", () => {
    const uses = [...text.matchAll(/uses: (actions\/[a-z-]+)@v(\d+)/g)].map((m) => [m[1], Number(m[2])] as const);
    const floor: Record<string, number> = { "actions/checkout": 5, "actions/setup-node": 5, "actions/setup-go": 6, "actions/cache": 5 };
    expect(uses.length).toBeGreaterThan(0);
    for (const [action, major] of uses) expect(major, action).toBeGreaterThanOrEqual(floor[action] ?? Infinity);
  });
});
