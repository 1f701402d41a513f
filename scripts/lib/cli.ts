/**
 * Command lines of dbstack's scripts (db:copy, db:check), read with Node's own `util.parseArgs`:
 * `--name value` and `--name=value`, flags without a value, nothing else. A mistake is a
 * UsageError (the script prints it with its usage and exits 2), and no value is ever repeated in
 * it: an argument may be a URL with a password.
 */
import { parseArgs } from "util";
import { redactUrl } from "../../components/copy/redactUrl";

/** A command line the script does not accept (exit 2). An empty message means "print the usage" (--help). */
export class UsageError extends Error {}

/** What each option is: a value (`string`) or a flag (`boolean`); `multiple` collects repeats. */
export type OptionSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

/**
 * The options of `argv` by name (as spelled in `spec`, e.g. "dry-run"), `--help`/`-h` always
 * accepted. Throws UsageError naming the option on an unknown option, a missing value or a stray
 * positional argument.
 */
export function readOptions(argv: string[], spec: OptionSpec): Record<string, string | boolean | string[] | undefined> {
  const options = { ...spec, help: { type: "boolean" as const, short: "h" } };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    const e = err as Error & { code?: string };
    // Only the option's name is repeated: what follows `=` may be a secret.
    const name = /'(-[^' =]+)/.exec(e.message)?.[1] ?? "";
    if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new UsageError(/does not take/.test(e.message) ? `${name} takes no value` : `${name} needs a value`);
    if (e.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") throw new UsageError(`unexpected argument ${JSON.stringify(redactUrl(/'([^']*)'/.exec(e.message)?.[1] ?? ""))}`);
    throw new UsageError(`unknown argument ${JSON.stringify(name)}`);
  }
  if (parsed.values.help) throw new UsageError("");
  return parsed.values as Record<string, string | boolean | string[] | undefined>;
}

/** A comma-separated list option (`--tables a,b`, repeated or not) as its items. */
export function listOption(value: string | boolean | string[] | undefined): string[] | undefined {
  if (value === undefined || typeof value === "boolean") return undefined;
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(",")).map((s) => s.trim()).filter(Boolean);
}
