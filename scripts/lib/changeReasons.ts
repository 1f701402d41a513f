/**
 * Why a resource in a preview is updated or replaced, in a reviewer's words, from the old and new
 * inputs the engine's events carry. Only names are printed (of fields, of shipped files) and the
 * resource's identity (what it is on the host: a path, an instance), never an input's value: values
 * can be secrets, and the engine shows secrets as "[secret]" on both sides anyway.
 */

type Inputs = Record<string, unknown>;

/** What a change to each field of a host step (targets/hostCommand.ts) means. */
const FIELD_REASON: Record<string, string> = {
  create: "its script changed",
  update: "its update script changed",
  delete: "its destroy script changed (stored; runs at destroy)",
  environment: "its environment changed (values are not shown)",
  triggers: "a step it depends on changed, so it runs again",
  placement: "the container it runs in is new, so it runs again",
  target: "how its host is reached changed (stored; nothing runs for it)",
  privateKey: "its SSH key changed (stored; nothing runs for it)",
  hostKeys: "its host's recorded SSH keys changed (stored; nothing runs for it)",
  description: "its description changed (stored; nothing runs for it)",
  review: "what it declares for review changed (stored; nothing runs for it)",
  probe: "its drift check changed (stored)",
  __provider: "dbstack's provider code changed (a dbstack upgrade): stored, nothing runs for it",
};

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The names of shipped files (HostCommand `files`) added, removed or changed. */
function changedFiles(old: unknown, now: unknown): string[] {
  const a = (old && typeof old === "object" ? old : {}) as Record<string, unknown>;
  const b = (now && typeof now === "object" ? now : {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !same(a[k], b[k])).sort();
}

/** One sentence: why this step is replaced or updated. */
export function explainChange(kind: "update" | "replace", old: Inputs | undefined, now: Inputs | undefined): string {
  const a = old ?? {};
  const b = now ?? {};
  if (kind === "replace" && typeof a.identity === "string" && typeof b.identity === "string" && a.identity !== b.identity) {
    return `replaced: what it is on the host changed, \`${a.identity}\` → \`${b.identity}\``;
  }
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((f) => !same(a[f], b[f])).sort();
  if (fields.length === 0) {
    return kind === "replace"
      ? "replaced: its provider asks for a new one (no input the preview can show changed)"
      : "drift or a secret: no input the preview can show changed (what it made may be gone from the host, or a secret value changed), so it runs again";
  }
  const reasons = fields.map((f) => {
    if (f === "files") {
      const names = changedFiles(a.files, b.files);
      return `its file${names.length === 1 ? "" : "s"} ${names.map((n) => `\`${n}\``).join(", ")} changed`;
    }
    return FIELD_REASON[f] ?? `its input \`${f}\` changed`;
  });
  return `${kind === "replace" ? "replaced" : "updated"}: ${reasons.join("; ")}`;
}
