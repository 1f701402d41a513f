import { shellQuote } from "../shell";
import { checkHostFileName, FILES_VARIABLE } from "../targets/hostFiles";
import type { HealthCheck } from "../model/hooks";
import type { HookDialect } from "./dialect";

/** Declared in model/hooks.ts (the model every engine shares); exported here too, beside what runs it. */
export type { HealthCheck };

/** A built-in check an engine runs with shell instead of SQL (e.g. the age of the newest backup). */
export interface ShellCheck {
  name: string;
  /** Shell that prints the check's report line and exits non-zero when the check fails. */
  shell: string;
}

/**
 * Where the declared checks' files are on the host: a directory (a double-quoted shell word of
 * dbstack's, such as "$DBSTACK_FILES") and the prefix of their names in it.
 */
export interface CheckFiles {
  dirWord: string;
  prefix: string;
}

/** The declared checks in the hook's own shipped files: $DBSTACK_FILES/check-<n>.*. */
export const SHIPPED_CHECKS: CheckFiles = { dirWord: `"$${FILES_VARIABLE}"`, prefix: "" };

/**
 * The files holding the declared checks, by name: `<prefix>check-<n>.name`, `.sql`, and
 * `.expect` / `.match` when declared. A check is the user's text: it reaches the host in these
 * files, never in a script (see renderHealthChecks).
 */
export function healthCheckFiles(checks: HealthCheck[], prefix = ""): Record<string, string> {
  const files: Record<string, string> = {};
  checks.forEach((check, i) => {
    const base = `${prefix}check-${i + 1}`;
    files[`${base}.name`] = check.name;
    files[`${base}.sql`] = check.sql;
    if (check.expect !== undefined) files[`${base}.expect`] = check.expect;
    if (check.match !== undefined) files[`${base}.match`] = check.match;
  });
  for (const name of Object.keys(files)) checkHostFileName(name);
  return files;
}

/**
 * Renders the shell that runs the built-in and declared checks and prints one line per check.
 * Built-in checks are dbstack's own text and are rendered in place. A declared check's name,
 * SQL, expected output and pattern are read at run time from its files (healthCheckFiles, in
 * `at`), so no text of the user's is ever part of the script: the SQL reaches the client as one
 * argument, the rest is only compared or printed.
 */
export function renderHealthChecks(dialect: HookDialect, checks: HealthCheck[], at: CheckFiles = SHIPPED_CHECKS): string {
  if (!/^"[^"`\\]*"$/.test(at.dirWord)) throw new Error(`renderHealthChecks: ${at.dirWord} is not a plain double-quoted word`);
  if (at.prefix !== "") checkHostFileName(at.prefix);
  const lines = ["echo 'health checks:'"];
  for (const check of dialect.builtinChecks) {
    const name = shellQuote(check.name);
    if ("shell" in check) {
      lines.push(
        `if ! out=$( { ${check.shell}
} 2>&1 ); then`,
        `  echo "health check ${check.name.replace(/["$`\\]/g, "")} failed: $out" >&2; exit 1`,
        "fi",
        `printf '  %s: %s\\n' ${name} "$(printf '%s' "$out" | head -n 1)"`,
      );
      continue;
    }
    lines.push(
      `if ! out=$(db_query ${shellQuote(check.sql)} 2>&1); then`,
      `  echo "health check ${check.name.replace(/["$`\\]/g, "")} failed: $out" >&2; exit 1`,
      "fi",
    );
    if (check.expect !== undefined) {
      lines.push(
        `if [ "$out" != ${shellQuote(check.expect)} ]; then`,
        `  echo "health check ${check.name.replace(/["$`\\]/g, "")} failed: expected ${check.expect.replace(/["$`\\]/g, "")}, got $out" >&2; exit 1`,
        "fi",
      );
    }
    if (check.match !== undefined) {
      lines.push(
        `if ! printf '%s' "$out" | grep -Eq ${shellQuote(check.match)}; then`,
        `  echo "health check ${check.name.replace(/["$`\\]/g, "")} failed: $out" >&2; exit 1`,
        "fi",
      );
    }
    lines.push(`printf '  %s: %s\\n' ${name} "$(printf '%s' "$out" | head -n 1)"`);
  }
  checks.forEach((check, i) => {
    lines.push(
      `check=${at.dirWord}/${at.prefix}check-${i + 1}`,
      'name=$(cat "$check.name")',
      'if ! out=$(db_query "$(cat "$check.sql")" 2>&1); then',
      '  echo "health check $name failed: $out" >&2; exit 1',
      "fi",
    );
    if (check.expect !== undefined) {
      lines.push(
        'expected=$(cat "$check.expect")',
        'if [ "$out" != "$expected" ]; then',
        '  echo "health check $name failed: expected $expected, got $out" >&2; exit 1',
        "fi",
      );
    }
    if (check.match !== undefined) {
      lines.push(
        'if ! printf \'%s\' "$out" | grep -Eq -- "$(cat "$check.match")"; then',
        '  echo "health check $name failed: $out" >&2; exit 1',
        "fi",
      );
    }
    lines.push(`printf '  %s: %s\\n' "$name" "$(printf '%s' "$out" | head -n 1)"`);
  });
  return lines.join("\n");
}
