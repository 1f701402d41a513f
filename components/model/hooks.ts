/**
 * The post-deploy hooks a database declares: schema migrations and health checks. How they run
 * on a host is hooks/ (the migration runner, the check scripts, each engine's dialect).
 */

import type { UrlFlavour } from "./urlFlavour";

/** One schema migration: applied once, in order of `id`, recorded with `checksum`. */
export interface Migration {
  /** The file name without `.sql`, e.g. `0001_create_users`. Sort order is apply order. */
  id: string;
  /** SHA-256 of the file's bytes, hex. An applied migration whose checksum changes fails the deploy. */
  checksum: string;
  /** The SQL, verbatim. */
  sql: string;
}

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
      /**
       * The flavour of DATABASE_URL the command gets (model/urlFlavour.ts): `sqlalchemy` for
       * Alembic (`postgresql+psycopg://`, `mysql+pymysql://`), `libpq`, `jdbc`. Default `default`
       * (the engine's own: `postgresql://`, `mysql://`, `sqlite:////abs/path`).
       */
      url?: UrlFlavour;
    };

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
