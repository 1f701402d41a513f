/**
 * The compatibility check behind `npm run db:check`: an application's migrations applied to a
 * throwaway instance of each engine and the resulting schemas compared pair by pair, or a live
 * source compared with a live target. Returns the report's data (report.ts renders it); throwaway
 * instances are removed before it returns, whatever happened.
 */
import type { EngineKind } from "../../model/engineKind";
import { openConnection, redactUrl } from "../connections";
import { introspect } from "../introspect";
import type { Schema } from "../schema";
import { applyMigrationCommand, applyMigrationDir, MigrationError } from "./apply";
import { compareSchemas, comparePairs } from "./compare";
import type { CheckResult, EngineRun } from "./report";
import { CHECK_PORTS, startThrowaway } from "./throwaway";
import type { UrlFlavour } from "../urlFlavours";

export { compareSchemas, comparePairs, compareTypes, isCompatible } from "./compare";
export type { Comparison, Finding, FindingKind, SchemaSide, Severity } from "./compare";
export { checkExitCode, renderReport } from "./report";
export type { CheckResult, EngineRun } from "./report";

/** How the migrations reach each engine: a directory of SQL files, or a command run once per engine. */
export type MigrationSource = { kind: "dir"; dir: string } | { kind: "command"; command: string; cwd: string; /** DATABASE_URL's flavour (../urlFlavours.ts); default "default". */ url?: UrlFlavour };

export interface MigrationCheckOptions {
  migrations: MigrationSource;
  engines: EngineKind[];
  /** Ports per engine for the throwaway servers (default CHECK_PORTS). */
  ports?: Partial<Record<EngineKind, number[]>>;
  /** Progress lines (engine started, migrations applied), for stderr. */
  progress?: (line: string) => void;
}

async function readSchema(url: string): Promise<Schema> {
  const conn = await openConnection(url, { readOnly: true });
  try {
    return await introspect(conn);
  } finally {
    await conn.close();
  }
}

/** Applies the migrations on a throwaway instance of each engine, one engine after the other, and compares every pair. */
export async function checkMigrations(options: MigrationCheckOptions): Promise<CheckResult> {
  const progress = options.progress ?? (() => undefined);
  const runs: EngineRun[] = [];
  for (const engine of options.engines) {
    const run: EngineRun = { label: engine, engine, display: engine, applied: [] };
    runs.push(run);
    progress(`${engine}: starting a throwaway instance`);
    let instance;
    try {
      instance = await startThrowaway(engine, { ports: options.ports?.[engine] ?? CHECK_PORTS[engine] });
    } catch (err) {
      run.failure = { message: `could not start a throwaway ${engine}: ${(err as Error).message}` };
      continue;
    }
    run.display = instance.display;
    try {
      const m = options.migrations;
      if (m.kind === "dir") {
        run.applied = await applyMigrationDir(instance.url, m.dir, engine);
        progress(`${engine}: applied ${run.applied.length} migration file${run.applied.length === 1 ? "" : "s"}`);
      } else {
        run.command = m.command;
        await applyMigrationCommand(instance.url, engine, m.command, m.cwd, undefined, m.url);
        progress(`${engine}: the migration command succeeded`);
      }
      run.schema = await readSchema(instance.url);
    } catch (err) {
      if (err instanceof MigrationError) {
        run.failure = { file: err.file, message: err.message };
        run.applied = err.applied;
      }
      else run.failure = { message: (err as Error).message };
      progress(`${engine}: failed${run.failure.file ? ` at ${run.failure.file}` : ""}`);
    } finally {
      await instance.stop();
      progress(`${engine}: throwaway instance removed`);
    }
  }
  const sides = runs.filter((r) => r.schema !== undefined).map((r) => ({ label: r.label, schema: r.schema as Schema }));
  const subject = options.migrations.kind === "dir" ? `migrations in ${options.migrations.dir}` : `migrations by the command ${JSON.stringify(options.migrations.command)}`;
  return { subject, runs, comparisons: comparePairs(sides) };
}

/** Compares a live source database with a live target (read-only on both): the target must hold what the source holds. */
export async function checkLive(sourceUrl: string, targetUrl: string): Promise<CheckResult> {
  const runs: EngineRun[] = [];
  for (const [label, url] of [["source", sourceUrl], ["target", targetUrl]] as const) {
    const run: EngineRun = { label, engine: "sqlite", display: redactUrl(url), applied: [] };
    runs.push(run);
    try {
      run.schema = await readSchema(url);
      run.engine = run.schema.engine;
      run.label = `${label} (${run.engine})`;
    } catch (err) {
      run.failure = { message: `could not read the ${label}: ${(err as Error).message}` };
    }
  }
  const [s, t] = runs;
  const comparisons = s.schema && t.schema ? [compareSchemas({ label: s.label, schema: s.schema }, { label: t.label, schema: t.schema }, "directional")] : [];
  return { subject: `live source ${redactUrl(sourceUrl)} against live target ${redactUrl(targetUrl)}`, runs, comparisons };
}
