// npm run status -- --stack <name> [--json] [--deployment <name>] [--quick-check]
//                   [--max-lag-seconds <s>] [--long-transaction-seconds <s>] [--textfile <path>]
//
// What each database of a stack is doing now: every member of every deployment (this machine,
// SSH hosts with the pinned keys, containers on Docker hosts), asked in parallel, as the
// least-privilege monitoring account (scripts/lib/status/). Reads only. Exits 1 when something
// needs a person (a member down, lag or backup age over its bound, a failed drill), 2 on a usage
// error, 0 otherwise: it can run from cron or CI.
import { chmodSync, renameSync, writeFileSync } from "fs";
import { isAbsolute } from "path";
import { readOptions, UsageError } from "./lib/cli";
import { readStackView, type StackView } from "./lib/deploymentRefs";
import { collectStatus } from "./lib/status/collect";
import { renderStatusScreen } from "./lib/status/render";
import { renderTextfile } from "./lib/status/textfile";
import { DEFAULT_BOUNDS, type StatusBounds } from "./lib/status/report";

const USAGE = `usage: npm run status -- --stack <name> [--json] [--deployment <name>] [--quick-check]
                         [--max-lag-seconds <s>] [--long-transaction-seconds <s>] [--textfile <path>]
  --json                      the report as JSON (machines); otherwise a table, coloured on a terminal
  --deployment <name>         only this deployment
  --quick-check               SQLite: run PRAGMA quick_check (reads the whole file)
  --max-lag-seconds <s>       a standby lagging more is a problem (default ${DEFAULT_BOUNDS.maxLagSeconds})
  --long-transaction-seconds  transactions open longer are listed (default ${DEFAULT_BOUNDS.longTransactionSeconds})
  --textfile <path>           also write the figures for node_exporter's textfile collector (absolute path, *.prom)
exit status: 0 all well, 1 something needs a person (listed last), 2 usage error`;

/** A whole, non-negative number of seconds from an option, or the default. */
function seconds(name: string, value: string | boolean | string[] | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError(`--${name}: expected a whole number of seconds`);
  return n;
}

export async function main(argv: string[], deps: { readView?: (stack: string) => StackView; color?: boolean } = {}): Promise<number> {
  let opts;
  try {
    opts = readOptions(argv, {
      stack: { type: "string" },
      json: { type: "boolean" },
      deployment: { type: "string" },
      "quick-check": { type: "boolean" },
      "max-lag-seconds": { type: "string" },
      "long-transaction-seconds": { type: "string" },
      textfile: { type: "string" },
    });
    if (opts.textfile !== undefined && (typeof opts.textfile !== "string" || !isAbsolute(opts.textfile) || !opts.textfile.endsWith(".prom"))) {
      throw new UsageError("--textfile: expected an absolute path ending in .prom (node_exporter's textfile collector reads *.prom)");
    }
    if (typeof opts.stack !== "string" || !opts.stack) throw new UsageError("--stack <name> is required");
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(err.message ? `status: ${err.message}\n${USAGE}\n` : `${USAGE}\n`);
    return err.message ? 2 : 0;
  }
  let bounds: StatusBounds;
  try {
    bounds = {
      maxLagSeconds: seconds("max-lag-seconds", opts["max-lag-seconds"], DEFAULT_BOUNDS.maxLagSeconds),
      longTransactionSeconds: seconds("long-transaction-seconds", opts["long-transaction-seconds"], DEFAULT_BOUNDS.longTransactionSeconds),
    };
  } catch (err) {
    process.stderr.write(`status: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const view = (deps.readView ?? readStackView)(opts.stack);
  const report = await collectStatus(view, { deployment: opts.deployment as string | undefined, quickCheck: opts["quick-check"] === true, bounds });
  if (typeof opts.textfile === "string") writeTextfile(opts.textfile, renderTextfile(report));
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else process.stdout.write(renderStatusScreen(report, { color: deps.color ?? (process.stdout.isTTY === true && !process.env.NO_COLOR) }));
  return report.problems.length > 0 ? 1 : 0;
}

/** Written beside, then renamed: the collector never reads half a file. Figures, no secret: world-readable like node_exporter's. */
function writeTextfile(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  chmodSync(tmp, 0o644);
  renameSync(tmp, path);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`status: ${(err as Error).message ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
