/**
 * `importFrom`: a new server database seeded once, during the `up` that creates it, with a
 * verified copy of another database of the stack (issue 10, the declared form of db:copy).
 *
 * The order, and why: the database, its owner and grants exist first (the copy logs in as the
 * owner, so the owner owns every copied table and the declared grants cover them); the copy runs
 * into the new, empty database (copyDatabase refuses a target table that exists); then the
 * database's post-deploy hook applies its migrations and checks. The copy brings the source's
 * `dbstack_migrations` table with it, so a migration the source already applied (same id, same
 * file) is not applied again, and a migration that would create a copied table must not be
 * declared on the target (it would fail, naming it). With `importFrom.schema: "migrations"` the
 * order is the other way round: the hook (the application's migrations, then its checks) makes the
 * tables and the copy fills them (copy/intoSchema.ts), after it (phases/imports.ts).
 *
 * Once: the step runs the copy in its `create` only. Its `update` runs nothing, so a later up,
 * a rotated password or a changed `importFrom` never copies again (the preview summary says so).
 * Only a replaced target instance (a new, empty database) replaces the step, and so copies again.
 * The copy runs on the machine running Pulumi, with db:copy (copyCommand: the compiled CLI of an
 * installed dbstack package, or scripts/db-copy.ts in this repository); the URLs (with passwords)
 * travel in the step's secret environment (DBSTACK_COPY_FROM / DBSTACK_COPY_TO), never on a
 * command line; a server's TLS certificate is verified against its deployment's CA.
 */
import type * as pulumi from "@pulumi/pulumi";
import { existsSync } from "fs";
import { join, resolve } from "path";
import { mariadbUrls } from "../engines/mariadb/urls";
import { postgresUrls } from "../engines/postgres/urls";
import type { ImportFromArgs } from "../model/args";
import { COPY_URL, type EngineKind, type ServerEngineKind } from "../model/engineKind";
import { scriptHeader, shellQuote } from "../shell";
import { HostCommand } from "../targets/hostCommand";
import { localTarget } from "../targets/target";

/**
 * A lossy conversion's id as the copy names it (`table.column:from->to`): one word of a
 * comma-separated --allow list (the script quotes it), so no spaces, commas or control characters.
 */
export const ALLOW_ID = /^[^\s,\x00-\x1f\x7f]+$/;

/** How the preview names a database: sqlite `app`, postgres `main/app`. */
export function describeDatabase(engine: EngineKind, deployment: string, database?: string): string {
  return `${engine} \`${database === undefined ? deployment : `${deployment}/${database}`}\``;
}

/**
 * A server database's URL for the copy, asking for a verified TLS connection: `url`'s own query
 * (e.g. sslmode=require, which pg would verify without a CA) is replaced by the engine's
 * verify mode; the import script adds the CA file's parameter.
 */
export function verifiedCopyUrl(engine: ServerEngineKind, url: string): string {
  const { verify } = COPY_URL[engine];
  return `${url.split("?")[0]}?${verify.name}=${verify.value}`;
}

/** The copy's URL among a server database's URL flavours (its deployment's `urls` output for one user), verified. */
export function copyUrlOf(engine: ServerEngineKind, flavours: Record<string, string>): string {
  return verifiedCopyUrl(engine, flavours[COPY_URL[engine].flavour]);
}

/** A server database's URLs in every flavour, by engine. */
const SERVER_URLS: Record<ServerEngineKind, (c: { user: string; password: string; host: string; port: number; database: string }) => Record<string, string>> = {
  postgres: (c) => ({ ...postgresUrls(c) }),
  mariadb: (c) => ({ ...mariadbUrls(c) }),
};

/** The owner's URL of a server database, for the copy (see verifiedCopyUrl). */
export function ownerCopyUrl(engine: ServerEngineKind, c: { user: string; password: string; host: string; port: number; database: string }): string {
  return copyUrlOf(engine, SERVER_URLS[engine](c));
}

/**
 * The command that runs db:copy. In an installed dbstack package (a program that uses dbstack as
 * a library), this module is dist/components/deploy/importStep.js and the compiled CLI is
 * dist/scripts/db-copy.js beside it: plain node, no ts-node. In this repository (the module is
 * components/deploy/importStep.ts) the source runs through the repository's ts-node.
 */
export function copyCommand(moduleDir: string = __dirname): string[] {
  const compiled = resolve(moduleDir, "../../scripts/db-copy.js");
  if (existsSync(compiled)) return ["node", compiled];
  const root = resolve(moduleDir, "../..");
  return ["node", join(root, "node_modules/.bin/ts-node"), "--transpile-only", join(root, "scripts/db-copy.ts")];
}

/** What the import script needs besides its environment. */
export interface ImportScriptSpec {
  /** The source and target as the preview names them. */
  source: string;
  target: string;
  /** Where the copy runs (relative SQLite paths are read from there). */
  projectDir: string;
  /** How db:copy is run (copyCommand). */
  command: string[];
  /** Ids of lossy conversions accepted. */
  allow: string[];
}

/**
 * The script of the import step's create: writes each server's CA (DBSTACK_IMPORT_SOURCE_CA,
 * DBSTACK_IMPORT_TARGET_CA, when set) to a private temporary file, names it in that URL in the
 * parameter its driver reads, and runs db:copy (copy, then verification of every table's row
 * count and checksum; a difference fails the step naming the table). Pure.
 */
export function renderImportScript(spec: ImportScriptSpec): string {
  for (const id of spec.allow) {
    if (!ALLOW_ID.test(id)) throw new Error(`importFrom.allow: ${JSON.stringify(id)} is not a conversion id (no spaces, commas or control characters)`);
  }
  const command = [...spec.command, ...(spec.allow.length > 0 ? ["--allow", spec.allow.join(",")] : [])];
  return [
    scriptHeader(`importFrom: copy ${spec.source} into ${spec.target}, once`),
    // mktemp's default directory: the step's environment carries no TMPDIR, so the path is URL-safe.
    "ca_dir=$(mktemp -d)",
    "trap 'rm -rf \"$ca_dir\"' EXIT",
    "# add_ca URL_VARIABLE CA_VARIABLE: the server's CA in a file, named in the URL as its driver expects.",
    "add_ca() {",
    '  local ca="${!2:-}"',
    '  [ -n "$ca" ] || return 0',
    "  printf '%s\\n' \"$ca\" > \"$ca_dir/$2.pem\"",
    '  case "${!1}" in',
    ...Object.values(COPY_URL).map((form) => `    ${form.schemes.map((scheme) => `${scheme}:*`).join(" | ")}) printf -v "$1" '%s&${form.caParameter}=%s' "\${!1}" "$ca_dir/$2.pem" ;;`),
    `    *) echo "importFrom: $1 is no server URL dbstack copies from (${Object.values(COPY_URL).map((form) => `${form.flavour}://`).join(", ")}), so its CA cannot be named in it" >&2; return 1 ;;`,
    "  esac",
    "}",
    "add_ca DBSTACK_COPY_FROM DBSTACK_IMPORT_SOURCE_CA",
    "add_ca DBSTACK_COPY_TO DBSTACK_IMPORT_TARGET_CA",
    "export DBSTACK_COPY_FROM DBSTACK_COPY_TO",
    `cd ${shellQuote(spec.projectDir)}`,
    `echo ${shellQuote(`importFrom: copying ${spec.source} into ${spec.target} (once: a later up copies nothing)`)} >&2`,
    command.map(shellQuote).join(" "),
  ].join("\n");
}

/** The update script: nothing runs, whatever changed. */
export const IMPORT_UPDATE_SCRIPT = ": # importFrom seeds a database once, when it is created; a later change copies nothing";

/** What the server deployment passes for one database's import step. */
export interface ImportStepArgs {
  /** The declared import. */
  importFrom: ImportFromArgs;
  /** The target as the preview names it, e.g. postgres `main/app`. */
  target: string;
  /** The target database owner's URL (ownerCopyUrl; a secret). */
  targetUrl: pulumi.Input<string>;
  /** The target deployment's CA certificate (PEM). */
  targetCa: pulumi.Input<string>;
  /**
   * What the target instance is on its host (its data directory): when it changes, the instance is
   * replaced by a new one whose database is empty, and this step is replaced too, so it copies again.
   */
  instance: string;
  /** The component, for the preview summary. */
  component: string;
  /** Default project directory when importFrom names none. */
  defaultProjectDir: string;
}

/**
 * The step that seeds one database: a HostCommand on this machine (where Pulumi runs) whose create
 * copies and verifies, and whose update does nothing. `opts.dependsOn` must hold the database and
 * its grants; the source's own dependencies are added here.
 */
export function importStep(name: string, args: ImportStepArgs, opts: pulumi.CustomResourceOptions & { dependsOn: pulumi.Resource[] }): HostCommand {
  const from = args.importFrom;
  const dependsOn = [...opts.dependsOn, ...(from.dependsOn ?? [])];
  return new HostCommand(
    name,
    {
      target: localTarget(),
      identity: args.instance,
      description: `importFrom: copy of ${from.source} into ${args.target}`,
      create: renderImportScript({
        source: from.source,
        target: args.target,
        projectDir: from.projectDir ?? args.defaultProjectDir,
        command: copyCommand(),
        allow: from.allow ?? [],
      }),
      update: IMPORT_UPDATE_SCRIPT,
      environment: {
        DBSTACK_COPY_FROM: from.url,
        DBSTACK_COPY_TO: args.targetUrl,
        DBSTACK_IMPORT_TARGET_CA: args.targetCa,
        ...(from.caCertificate !== undefined ? { DBSTACK_IMPORT_SOURCE_CA: from.caCertificate } : {}),
      },
      review: { component: args.component, dataImport: { source: from.source, target: args.target } },
    },
    { ...opts, dependsOn },
  );
}
