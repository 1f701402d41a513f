/**
 * Imports (`importFrom`): once, into a new database, after its grants and before its hook, or
 * after its hook when its migrations make the tables (importFrom.schema `migrations`). See
 * importStep.ts for the order and why. The copy runs on the machine running Pulumi, as the owner.
 */
import * as pulumi from "@pulumi/pulumi";
import { describeDatabase, importStep, ownerCopyUrl } from "../importStep";
import { importsAfterMigrations } from "../importSchema";
import type { HostCommand } from "../../targets/hostCommand";
import type { Accounts } from "./accounts";
import type { Configured } from "./configuration";
import type { ServerContext } from "./context";
import type { PrimaryHost } from "./placement";

/** Each importing database's import step, by database name. */
export type Imports = Map<string, HostCommand>;

/**
 * The import step of every database that declares `importFrom`. Without `hooks`, those the copy
 * makes the tables of (importFrom.schema `copy`), which the hooks then wait for; with each
 * database's hook, those whose migrations make the tables (`migrations`), each after its hook.
 */
export function createImports<Loc>(ctx: ServerContext<Loc>, host: PrimaryHost<Loc>, configured: Configured, accounts: Accounts, pitr?: pulumi.Resource, hooks?: ReadonlyMap<string, pulumi.Resource>): Imports {
  const { engine, name, spec, port, component, child } = ctx;
  const imports: Imports = new Map();
  for (const db of ctx.args.databases) {
    if (!db.importFrom) continue;
    if (importsAfterMigrations(db) !== (hooks !== undefined)) continue;
    const migrated = hooks?.get(db.name);
    const copyHost = ctx.target.kind === "local" ? "127.0.0.1" : host.address;
    const ownerUrl = accounts.passwords.get(db.owner)!.apply((pw) => ownerCopyUrl(engine.kind, { user: db.owner, password: pw, host: copyHost, port, database: db.name }));
    const step = importStep(
      `${name}-db-${db.name}-import`,
      {
        importFrom: db.importFrom,
        target: describeDatabase(engine.kind, name, db.name),
        targetUrl: ownerUrl,
        targetCa: configured.ca.stdout,
        // A replaced instance holds a new, empty database: it is seeded again.
        instance: `${spec.instance}:${spec.dataDirectory ?? "default"}`,
        component,
        defaultProjectDir: pulumi.runtime.getRootDirectory() || process.cwd(),
      },
      { ...child, dependsOn: [...accounts.grantSteps, ...(pitr ? [pitr] : []), ...(migrated ? [migrated] : [])] },
    );
    imports.set(db.name, step);
  }
  return imports;
}
