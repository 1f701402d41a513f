import { scriptHeader, shellQuote, sqlLiteral, withHeredoc } from "../shell";
import { MIGRATIONS_TABLE, type HookDialect } from "./dialect";
import { renderHealthChecks, type HealthCheck } from "./healthChecks";
import type { Migration } from "./migrations";

/** How schema migrations are applied: SQL files managed by dbstack, or a tool of the app's own. */
export type MigrationSource =
  | { kind: "sql"; migrations: Migration[] }
  | {
      kind: "command";
      /**
       * Run with bash, e.g. `alembic upgrade head`, in a clean environment: PATH, HOME, LANG,
       * LC_ALL and TZ as the hook has them, plus DATABASE_URL. Nothing else of the hook's.
       */
      command: string;
      /** Directory the command runs in. */
      workdir: string;
    };

export interface PostDeployHookSpec {
  /** What the hook is for, e.g. "sqlite database app". */
  subject: string;
  dialect: HookDialect;
  migrations?: MigrationSource;
  healthChecks: HealthCheck[];
}

/**
 * Renders the post-deploy hook: take the deploy lock, apply pending migrations (each once, in
 * order, in its own transaction where the engine's DDL is transactional, recorded with its
 * checksum), refuse a migration edited after it was applied, then run the health checks.
 * The script exits non-zero with a message naming what failed; that message fails the deploy.
 */
export function renderPostDeployHook(spec: PostDeployHookSpec): string {
  const { dialect } = spec;
  const parts = [
    scriptHeader(`dbstack post-deploy hook for ${spec.subject}: migrations, then health checks.`),
    dialect.clientFunctions,
  ];
  // The deploy lock guards migrations; health checks alone need none.
  if (spec.migrations) parts.push(dialect.acquireLock);
  if (spec.migrations?.kind === "sql") parts.push(renderSqlMigrations(dialect, spec.migrations.migrations));
  if (spec.migrations?.kind === "command") parts.push(renderMigrationCommand(spec.migrations));
  parts.push(renderHealthChecks(dialect, spec.healthChecks));
  return parts.join("\n\n") + "\n";
}

function renderSqlMigrations(dialect: HookDialect, migrations: Migration[]): string {
  const lines = [
    withHeredoc("db_exec", dialect.trackingTableDdl, "DBSTACK_SQL"),
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
  for (const m of migrations) lines.push(renderApply(dialect, m));
  lines.push(`echo "migrations: $applied applied, ${migrations.length} in total"`);
  return lines.join("\n");
}

function renderApply(dialect: HookDialect, m: Migration): string {
  const record = `INSERT INTO ${MIGRATIONS_TABLE} (id, checksum, applied_at) VALUES (${sqlLiteral(m.id)}, ${sqlLiteral(m.checksum)}, ${dialect.nowUtc});`;
  const sql = dialect.migrationSql(m.sql);
  if (!dialect.transactionalDdl) return renderApplyNonTransactional(dialect, m, sql, record);
  const body = [dialect.begin, sql, record, dialect.commit].join("\n");
  return renderOnceUnapplied(m, renderExecOrExit(body, [`echo "migration ${m.id} failed: $out" >&2`]));
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
 * Shell lines (inside renderOnceUnapplied) that run `sql` in one db_exec session, its output in
 * $out; when it fails, the `onFailure` lines (messages to stderr) run and the script exits 1.
 */
function renderExecOrExit(sql: string, onFailure: string[]): string[] {
  return [
    `  if ! out=$(${withHeredoc("db_exec 2>&1", sql, "DBSTACK_SQL")}`,
    "  ); then",
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
function renderApplyNonTransactional(dialect: HookDialect, m: Migration, sql: string, record: string): string {
  const recovery =
    `migration ${m.id} is not recorded as applied. ${dialect.engine} DDL is not transactional: the statements before the failing one ` +
    "(above the line named in the error) stayed applied; the failing one and those after it did not run. The next deploy runs the whole " +
    "migration again. To recover, either undo by hand what ran and fix the failing statement, or make the migration safe to run over its " +
    "own partial work (CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, DROP ... IF EXISTS) and deploy again.";
  return renderOnceUnapplied(m, [
    ...renderExecOrExit(sql, [`echo "migration ${m.id} failed: $out" >&2`, `echo ${shellQuote(recovery)} >&2`]),
    ...renderExecOrExit(record, [
      `echo ${shellQuote(`migration ${m.id} ran in full but could not be recorded as applied: `)}"$out" >&2`,
      `echo ${shellQuote(`the next deploy runs it again: make it safe to run twice, or insert its row into ${MIGRATIONS_TABLE} by hand`)} >&2`,
    ]),
  ]);
}

function renderMigrationCommand(source: Extract<MigrationSource, { kind: "command" }>): string {
  return [
    `echo ${shellQuote(`running migration command: ${source.command}`)}`,
    "# The command gets a clean environment (env -i): not the hook's secrets nor its caller's variables.",
    "# DATABASE_URL holds a password, so it goes in on file descriptor 3, not as an argument to env.",
    // </dev/null: the hook itself arrives on bash's stdin; a command that reads stdin must not eat it.
    'keep=(); for v in PATH HOME LANG LC_ALL TZ; do if [ -n "${!v:-}" ]; then keep+=("$v=${!v}"); fi; done',
    `if ! (cd ${shellQuote(source.workdir)} && env -i "\${keep[@]}" bash -c 'IFS= read -r DATABASE_URL <&3 || true; exec 3<&-; export DATABASE_URL; exec bash -c "$1"' dbstack-migrations ${shellQuote(source.command)} 3<<<"\${DATABASE_URL:-}") </dev/null >&2; then`,
    `  echo ${shellQuote(`migration command failed: ${source.command}`)} >&2`,
    "  exit 1",
    "fi",
  ].join("\n");
}
