import { scriptHeader, shellQuote, sqlLiteral } from "../shell";
import { hostFile, type ShippedScript } from "../targets/hostFiles";
import { MIGRATIONS_TABLE, type HookDialect } from "./dialect";
import { healthCheckFiles, renderHealthChecks, type HealthCheck } from "./healthChecks";
import type { Migration, MigrationSource } from "../model/hooks";

/** Declared in model/hooks.ts (the model every engine shares); exported here too, beside what runs it. */
export type { MigrationSource };

export interface PostDeployHookSpec {
  /** What the hook is for, e.g. "sqlite database app". */
  subject: string;
  dialect: HookDialect;
  migrations?: MigrationSource;
  healthChecks: HealthCheck[];
}

/** A migration id as it may appear in file names and messages (what loadMigrations reads from a file name). */
const MIGRATION_ID = /^[A-Za-z0-9_-]{1,100}$/;
/** A checksum as the runner records it (hex, as checksumOf writes it). */
const CHECKSUM = /^[A-Za-z0-9]{1,128}$/;

/**
 * Renders the post-deploy hook: take the deploy lock, apply pending migrations (each once, in
 * order, in its own transaction where the engine's DDL is transactional, recorded with its
 * checksum), refuse a migration edited after it was applied, then run the health checks.
 * The script exits non-zero with a message naming what failed; that message fails the deploy.
 *
 * No text the user wrote is part of the script: each migration's SQL (wrapped as the dialect
 * requires), each declared check and the external migration command are files the HostCommand
 * ships beside it (`files`, read from $DBSTACK_FILES), fed to the client on stdin or read into a
 * variable at run time. The script holds only dbstack's text, ids and checksums.
 */
export function renderPostDeployHook(spec: PostDeployHookSpec): ShippedScript {
  const { dialect } = spec;
  const files: Record<string, string> = healthCheckFiles(spec.healthChecks);
  const parts = [
    scriptHeader(`dbstack post-deploy hook for ${spec.subject}: migrations, then health checks.`),
    dialect.clientFunctions,
  ];
  if (dialect.guardUserText && (spec.migrations || spec.healthChecks.length > 0)) parts.push(dialect.guardUserText);
  // The deploy lock guards migrations; health checks alone need none.
  if (spec.migrations) parts.push(dialect.acquireLock);
  if (spec.migrations?.kind === "sql") parts.push(renderSqlMigrations(dialect, spec.migrations.migrations, files));
  if (spec.migrations?.kind === "command") parts.push(renderMigrationCommand(dialect, spec.migrations, files));
  parts.push(renderHealthChecks(dialect, spec.healthChecks));
  return { script: parts.join("\n\n") + "\n", files };
}

/**
 * An on-demand health tool installed in `toolsDir`: the hook with health checks only, reading
 * the declared checks from the 0600 files beside it (healthCheckFiles with `prefix`, installed
 * with the tool) instead of from shipped files.
 */
export function renderHealthTool(dialect: HookDialect, subject: string, checks: HealthCheck[], toolsDir: string, prefix: string): string {
  return [
    scriptHeader(`dbstack health checks for ${subject}.`),
    dialect.clientFunctions,
    ...(dialect.guardUserText && checks.length > 0 ? [dialect.guardUserText] : []),
    `CHECKS_DIR=${shellQuote(toolsDir)}`,
    renderHealthChecks(dialect, checks, { dirWord: '"$CHECKS_DIR"', prefix }),
  ].join("\n\n") + "\n";
}

function renderSqlMigrations(dialect: HookDialect, migrations: Migration[], files: Record<string, string>): string {
  for (const m of migrations) {
    if (!MIGRATION_ID.test(m.id)) throw new Error(`migrations: id ${JSON.stringify(m.id)} must be letters, digits, _ and - (the file name without .sql)`);
    if (!CHECKSUM.test(m.checksum)) throw new Error(`migrations: ${m.id}: checksum must be hex (checksumOf)`);
  }
  files["tracking-table.sql"] = dialect.trackingTableDdl + "\n";
  const lines = [
    `db_exec < ${hostFile("tracking-table.sql")}`,
    `applied_checksum() { db_query "SELECT checksum FROM ${MIGRATIONS_TABLE} WHERE id = '$1'"; }`,
    "# An applied migration must not change: the database already holds its old version.",
    "refuse_edited() {",
    '  local applied; applied=$(applied_checksum "$1")',
    '  if [ -n "$applied" ] && [ "$applied" != "$2" ]; then',
    '    echo "migration $1 was edited after it was applied (applied checksum $applied, file now $2); add a new migration instead of editing an applied one" >&2',
    "    exit 1",
    "  fi",
    "}",
  ];
  for (const m of migrations) lines.push(`refuse_edited ${shellQuote(m.id)} ${shellQuote(m.checksum)}`);
  lines.push("applied=0");
  for (const m of migrations) lines.push(renderApply(dialect, m, files));
  lines.push(`echo "migrations: $applied applied, ${migrations.length} in total"`);
  return lines.join("\n");
}

function renderApply(dialect: HookDialect, m: Migration, files: Record<string, string>): string {
  const record = `INSERT INTO ${MIGRATIONS_TABLE} (id, checksum, applied_at) VALUES (${sqlLiteral(m.id)}, ${sqlLiteral(m.checksum)}, ${dialect.nowUtc});`;
  const sql = dialect.migrationSql(m.sql);
  const file = `migration-${m.id}.sql`;
  if (!dialect.transactionalDdl) {
    files[file] = sql.endsWith("\n") ? sql : sql + "\n";
    files[`migration-${m.id}.record.sql`] = record + "\n";
    return renderApplyNonTransactional(dialect, m, file, `migration-${m.id}.record.sql`);
  }
  files[file] = [dialect.begin, sql, record, dialect.commit].join("\n") + "\n";
  return renderOnceUnapplied(m, renderExecOrExit(file, [`echo "migration ${m.id} failed: $out" >&2`]));
}
/**
 * Shell that applies migration `m` with `steps` only when it is not recorded yet, then says so
 * and counts it in $applied.
 */
function renderOnceUnapplied(m: Migration, steps: string[]): string {
  return [
    `if [ -z "$(applied_checksum ${shellQuote(m.id)})" ]; then`,
    ...steps,
    `  echo "applied migration ${m.id}"`,
    "  applied=$((applied + 1))",
    "fi",
  ].join("\n");
}

/**
 * Shell lines (inside renderOnceUnapplied) that run the shipped SQL file `file` in one db_exec
 * session (the file on the client's stdin), its output in $out; when it fails, the `onFailure`
 * lines (messages to stderr) run and the script exits 1.
 */
function renderExecOrExit(file: string, onFailure: string[]): string[] {
  return [
    `  if ! out=$(db_exec < ${hostFile(file)} 2>&1); then`,
    ...onFailure.map((line) => `    ${line}`),
    "    exit 1",
    "  fi",
  ];
}

/**
 * Where DDL is not transactional (MariaDB, MySQL), a migration cannot commit together with its
 * record. The migration runs alone in one session that stops at its first failing statement, so
 * the client's "at line N" is the line of the migration file; only when all of it succeeded is it
 * recorded, in a second session (which also no longer depends on whatever DELIMITER the migration
 * left set). A failure leaves the statements before line N applied and the migration unrecorded,
 * so the next deploy runs it again from the top; the message says so and how to recover.
 */
function renderApplyNonTransactional(dialect: HookDialect, m: Migration, file: string, recordFile: string): string {
  const recovery =
    `migration ${m.id} is not recorded as applied. ${dialect.engine} DDL is not transactional: the statements before the failing one ` +
    "(above the line named in the error) stayed applied; the failing one and those after it did not run. The next deploy runs the whole " +
    "migration again. To recover, either undo by hand what ran and fix the failing statement, or make the migration safe to run over its " +
    "own partial work (CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, DROP ... IF EXISTS) and deploy again.";
  return renderOnceUnapplied(m, [
    ...renderExecOrExit(file, [`echo "migration ${m.id} failed: $out" >&2`, `echo ${shellQuote(recovery)} >&2`]),
    ...renderExecOrExit(recordFile, [
      `echo ${shellQuote(`migration ${m.id} ran in full but could not be recorded as applied: `)}"$out" >&2`,
      `echo ${shellQuote(`the next deploy runs it again: make it safe to run twice, or insert its row into ${MIGRATIONS_TABLE} by hand`)} >&2`,
    ]),
  ]);
}

/**
 * The external migration command, from its shipped files (`migration-command`, and the
 * directory it runs in, `migration-workdir`): read into variables at run time, never rendered.
 */
function renderMigrationCommand(dialect: HookDialect, source: Extract<MigrationSource, { kind: "command" }>, files: Record<string, string>): string {
  files["migration-command"] = source.command;
  files["migration-workdir"] = source.workdir;
  return [
    `command=$(cat ${hostFile("migration-command")}); workdir=$(cat ${hostFile("migration-workdir")})`,
    'echo "running migration command: $command"',
    "# The command gets a clean environment (env -i): not the hook's secrets nor its caller's variables.",
    "# DATABASE_URL holds a password, so it goes in on file descriptor 3, not as an argument to env.",
    // </dev/null: a command that reads stdin gets nothing of the hook's.
    'keep=(); for v in PATH HOME LANG LC_ALL TZ; do if [ -n "${!v:-}" ]; then keep+=("$v=${!v}"); fi; done',
    `if ! (cd -- "$workdir" && ${dialect.asClientUser ? `${dialect.asClientUser} ` : ""}env -i "\${keep[@]}" bash -c 'IFS= read -r DATABASE_URL <&3 || true; exec 3<&-; export DATABASE_URL; exec bash -c "$1"' dbstack-migrations "$command" 3<<<"\${DATABASE_URL:-}") </dev/null >&2; then`,
    '  echo "migration command failed: $command" >&2',
    "  exit 1",
    "fi",
  ].join("\n");
}
