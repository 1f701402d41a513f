import { shellQuote } from "../shell";
import type { HookDialect } from "./dialect";

/** A declared health check: a query that must succeed and, if `expect` is set, print exactly that. */
export interface HealthCheck {
  /** Shown in the report and in the failure message. */
  name: string;
  /** One SQL query; the first column of its rows is compared with `expect`. */
  sql: string;
  /** The expected output (rows joined by newlines). Default: any output, as long as the query succeeds. */
  expect?: string;
  /** A regular expression (grep -E) the output must match, for checks with a variable report. */
  match?: string;
}

/** A built-in check an engine runs with shell instead of SQL (e.g. the age of the newest backup). */
export interface ShellCheck {
  name: string;
  /** Shell that prints the check's report line and exits non-zero when the check fails. */
  shell: string;
}

/** Renders the shell that runs the built-in and declared checks and prints one line per check. */
export function renderHealthChecks(dialect: HookDialect, checks: HealthCheck[]): string {
  const all = [...dialect.builtinChecks, ...checks];
  const lines = ["echo 'health checks:'"];
  for (const check of all) {
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
  return lines.join("\n");
}
