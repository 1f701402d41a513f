/**
 * `npm run db:copy -- --from <url|ref> --to <url|ref> [--stack <name>] [--tables a,b] [--dry-run] [--allow id,...] [--batch-rows n] [--backup-dir dir] [--refuse-unfinished]`
 * `npm run db:copy -- --rollback --to <url> [--backup-dir dir]`
 *
 * Copies a database's tables and rows between SQLite, PostgreSQL and MariaDB and verifies them
 * (components/copy/copy.ts). URLs: `sqlite:///abs/path` (or a path), `postgresql://user@host:port/db`,
 * `mysql://user@host:port/db` or `mariadb://...`. Or a deployment of a stack (`--stack <name>`):
 * `postgres:<deployment>/<database>[@<user>]`, `mariadb:<deployment>/<database>[@<user>]`,
 * `sqlite:<deployment>`, resolved from the stack's outputs; one on an SSH host is reached through a
 * port forward over the deploy's pinned SSH (scripts/lib/deploymentRefs.ts).
 *
 * Passwords: a URL with a password on a command line is visible to every user of the machine (ps,
 * /proc) and lands in shell history. Leave `--from`/`--to` out and put the URLs in the environment
 * instead: DBSTACK_COPY_FROM / DBSTACK_COPY_TO; or give password-less URLs and the drivers' own
 * PGPASSWORD / MYSQL_PWD. Output never shows a password (URLs are printed as user:***@host).
 *
 * Before writing, the copy backs the target up (components/copy/safety.ts) and says where;
 * `--rollback` restores the newest such backup of `--to`. A copy killed halfway is found by the
 * next run, which drops what it had created and copies again (`--refuse-unfinished`: stop instead).
 *
 * Progress goes to stderr; the plan (dry run) and the verification summary to stdout. Exits 0 on a
 * verified copy (or a dry run with nothing refused), 1 on any refusal or difference, 2 on bad usage.
 */
// Only what reading the command line needs is loaded up front: the drivers and the copy machinery
// (main's dynamic imports) load after it, so --help and usage errors answer at once.
import { redactUrl } from "../components/copy/redactUrl";
import { listOption, readOptions, UsageError } from "./lib/cli";

const USAGE = `usage: npm run db:copy -- --from <url|ref> --to <url|ref> [options]
       npm run db:copy -- --rollback --to <url> [--backup-dir <dir>]   (a URL: references are not resolved here)

Copies every table of --from into --to (SQLite, PostgreSQL, MariaDB, either way), then verifies
each table's row count and checksum. The target is backed up first.

URLs and references (--from, --to):
  sqlite:///abs/path.db  (or a plain path; SQLAlchemy's sqlite:////abs/path too)
  postgresql://user@host:port/db   (postgres:// too)
  mysql://user@host:port/db        (mariadb:// too)
  postgres:<deployment>/<database>[@<user>], mariadb:<deployment>/<database>[@<user>],
  sqlite:<deployment>   a deployment of --stack, from its outputs (over SSH where it runs there)
  Passwords: leave --from/--to out and set DBSTACK_COPY_FROM / DBSTACK_COPY_TO, or use
  PGPASSWORD / MYSQL_PWD; a password on a command line is visible to every user of the machine.

Options:
  --stack <name>         the stack whose deployments references name
  --tables a,b           copy only these tables
  --dry-run              print the plan (tables, conversions, refusals) and write nothing
  --allow id,...         accept these lossy conversions (ids as --dry-run lists them)
  --batch-rows <n>       rows per batch (default: chosen per engine)
  --backup-dir <dir>     where pre-copy backups go (default ~/.cache/dbstack/copy-backups)
  --refuse-unfinished    stop when the target holds a killed or failed copy, instead of
                         dropping its tables and copying again
  --rollback             restore the newest pre-copy backup of --to
  -h, --help             this text

Exit codes: 0 a verified copy (or a dry run with nothing refused), 1 a refusal or a difference,
2 bad usage.`;

interface Args {
  from?: string;
  to?: string;
  tables?: string[];
  dryRun: boolean;
  allow: string[];
  batchRows?: number;
  stack?: string;
  rollback: boolean;
  backupDir?: string;
  refuseUnfinished: boolean;
}

/** Parses the command line (scripts/lib/cli.ts); throws UsageError. */
export function parseArgs(argv: string[]): Args {
  const o = readOptions(argv, {
    from: { type: "string" },
    to: { type: "string" },
    stack: { type: "string" },
    tables: { type: "string", multiple: true },
    allow: { type: "string", multiple: true },
    "dry-run": { type: "boolean" },
    "batch-rows": { type: "string" },
    rollback: { type: "boolean" },
    "backup-dir": { type: "string" },
    "refuse-unfinished": { type: "boolean" },
  });
  const batchRows = o["batch-rows"] === undefined ? undefined : Number(o["batch-rows"]);
  if (batchRows !== undefined && (!Number.isInteger(batchRows) || batchRows < 1)) throw new UsageError("--batch-rows must be a positive integer");
  return {
    from: o.from as string | undefined,
    to: o.to as string | undefined,
    stack: o.stack as string | undefined,
    tables: listOption(o.tables),
    allow: listOption(o.allow) ?? [],
    dryRun: o["dry-run"] === true,
    batchRows,
    rollback: o.rollback === true,
    backupDir: o["backup-dir"] as string | undefined,
    refuseUnfinished: o["refuse-unfinished"] === true,
  };
}

/**
 * A warning for each of --from / --to that carries a password on the command line, where every
 * user of the machine reads it (ps, /proc) while the copy runs, saying how to pass it instead.
 */
export function passwordWarnings(args: Pick<Args, "from" | "to">): string[] {
  const out: string[] = [];
  for (const [flag, url, env] of [["--from", args.from, "DBSTACK_COPY_FROM"], ["--to", args.to, "DBSTACK_COPY_TO"]] as const) {
    if (url !== undefined && redactUrl(url) !== url) {
      out.push(`warning: ${flag} carries a password on the command line (visible to every user through ps while the copy runs); leave ${flag} out and set ${env}, or give the URL without a password and set PGPASSWORD / MYSQL_PWD`);
    }
  }
  return out;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (!err.message) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    process.stderr.write(`db:copy: ${err.message}\n${USAGE.split("\n")[0]}\n  (npm run db:copy -- --help for every option)\n`);
    return 2;
  }
  for (const line of passwordWarnings(args)) process.stderr.write(`db:copy: ${line}\n`);
  // Said at once: loading the drivers and reaching the servers can take seconds.
  const named = (url: string | undefined) => (url === undefined ? "(not given)" : redactUrl(url));
  process.stderr.write(`db:copy: ${args.rollback ? `rolling back ${named(args.to ?? process.env.DBSTACK_COPY_TO)}` : `${args.dryRun ? "planning" : "copying"} ${named(args.from ?? process.env.DBSTACK_COPY_FROM)} -> ${named(args.to ?? process.env.DBSTACK_COPY_TO)}`}: loading the drivers\n`);
  const { copyDatabase, renderPlan } = await import("../components/copy/copy");
  const { renderRollback, rollbackCopy } = await import("../components/copy/safety");
  const { renderTable } = await import("../components/copy/transfer");
  const { openEndpoints } = await import("./lib/deploymentRefs");
  const from = args.from ?? process.env.DBSTACK_COPY_FROM;
  const to = args.to ?? process.env.DBSTACK_COPY_TO;
  if (args.rollback) {
    if (!to) {
      process.stderr.write(`db:copy: --rollback needs --to (or DBSTACK_COPY_TO): the target to restore\n${USAGE.split("\n")[1]}\n`);
      return 2;
    }
    process.stdout.write(`${renderRollback(await rollbackCopy({ to, backupDir: args.backupDir })).join("\n")}\n`);
    return 0;
  }
  if (!from || !to) {
    process.stderr.write(`db:copy: ${!from ? "--from (or DBSTACK_COPY_FROM)" : "--to (or DBSTACK_COPY_TO)"} is required\n${USAGE.split("\n")[0]}\n`);
    return 2;
  }
  // Deployment references become URLs (through SSH port forwards where needed), closed after the copy.
  const endpoints = await openEndpoints(from, to, { stack: args.stack, say: (line) => process.stderr.write(`db:copy: ${line}\n`) });
  let result: Awaited<ReturnType<typeof copyDatabase>>;
  try {
    result = await copyDatabase({
      from: endpoints.from,
      to: endpoints.to,
      tables: args.tables,
      dryRun: args.dryRun,
      allow: args.allow,
      batchRows: args.batchRows,
      backupDir: args.backupDir,
      unfinished: args.refuseUnfinished ? "refuse" : "restart",
    });
  } finally {
    await endpoints.close();
  }
  if (result.dryRun) {
    process.stdout.write(`dry run: nothing was written\n${renderPlan(result.plan).join("\n")}\n`);
    return result.plan.refused.length ? 1 : 0;
  }
  const lines = renderTable(
    ["table", "rows", "checksum"],
    result.verified.map((v) => [v.table, String(v.rows), v.checksum]),
  );
  process.stdout.write(
    [
      `copied ${result.plan.sourceEngine} ${result.plan.from} -> ${result.plan.targetEngine} ${result.plan.to} in ${result.seconds.toFixed(2)} s; verified (row counts and checksums match):`,
      ...lines,
      ...result.plan.conversions.filter((c) => c.lossy).map((c) => `allowed ${c.id}: ${c.message}`),
      `pre-copy backup: ${result.backup?.file ?? `${result.backup?.dir} (the target had no tables)`}; undo with: npm run db:copy -- --rollback${args.backupDir ? ` --backup-dir ${args.backupDir}` : ""} and the same --to (or DBSTACK_COPY_TO)`,
      "",
    ].join("\n"),
  );
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      // Driver errors can quote a connection string: redact anything URL-shaped before printing.
      process.stderr.write(`db:copy: ${redactAll(err.message)}\n`);
      process.exit(1);
    },
  );
}

function redactAll(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, (u) => redactUrl(u));
}
