import * as pulumi from "@pulumi/pulumi";
import { parseImportReference } from "../components/copy/importReference";
import { copyUrlOf, describeDatabase } from "../components/deploy/importStep";
import type { ServerEngineKind } from "../components/model/engineKind";
import type { ImportFromArgs } from "../components/model/args";
import type { ImportSchema } from "../components/model/importSchema";
import { ConfigError } from "./config";

/** `importFrom` as the stack config declares it (stacks/schema/common.ts). */
export type ImportFromConfig = string | { from: string; allow: string[]; schema?: ImportSchema };

/** What a deployment offers a database importing from it, once it is built. */
export type ImportSourceDeployment =
  | { engine: "sqlite"; component: pulumi.Resource; url: pulumi.Output<string> }
  | {
      engine: ServerEngineKind;
      component: pulumi.Resource;
      /** Per user, per database, the URL flavours (the deployment's `urls` output, secret). */
      urls: pulumi.Output<Record<string, Record<string, Record<string, string>>>>;
      /** Per database, its owner (whose URL the copy reads with). */
      owners: Record<string, string>;
      caCertificate: pulumi.Output<string>;
    };

interface Pending {
  promise: Promise<ImportSourceDeployment>;
  resolve: (d: ImportSourceDeployment) => void;
  reject: (err: Error) => void;
  provided: boolean;
}

/**
 * The stack's deployments, by `<engine>:<name>`, for `importFrom` references. A database may name
 * a deployment built after its own (engines are built in a fixed order), so a reference resolves
 * through a promise the source's builder settles; importFromChecks.ts has already refused references
 * to what is not declared, and cycles between deployments (which no order could build).
 */
export class ImportSources {
  private readonly pending = new Map<string, Pending>();

  private entry(key: string): Pending {
    let p = this.pending.get(key);
    if (!p) {
      let resolve!: (d: ImportSourceDeployment) => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<ImportSourceDeployment>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // A rejection is reported where the reference is used; this keeps it from being "unhandled" first.
      promise.catch(() => undefined);
      p = { promise, resolve, reject, provided: false };
      this.pending.set(key, p);
    }
    return p;
  }

  /** Records a built deployment (called by each engine's builder in stacks/). */
  provide(name: string, deployment: ImportSourceDeployment): void {
    const p = this.entry(`${deployment.engine}:${name}`);
    p.provided = true;
    p.resolve(deployment);
  }

  /**
   * The component args of one database's `importFrom` (declared at config key `key`): the source's
   * URL (its owner's, verified against its CA, for a server), and a dependency on the whole source
   * deployment, so its migrations have run before the copy reads it.
   */
  importFrom(key: string, declared: ImportFromConfig, projectDir: string): ImportFromArgs {
    const text = typeof declared === "string" ? declared : declared.from;
    const ref = parseImportReference(text);
    if (!ref) throw new ConfigError(`${key}: ${JSON.stringify(text)} is not a reference`);
    const source = this.entry(`${ref.engine}:${ref.deployment}`).promise;
    // Promises of Outputs, lifted: only strings flow, never the source's component.
    const url = pulumi.output(
      source.then((d) => {
        if (d.engine === "sqlite") return d.url;
        const owner = d.owners[ref.database!];
        return d.urls.apply((u) => {
          const flavours = u[owner]?.[ref.database!];
          if (!flavours) throw new Error(`${key}: no URL of ${ref.database} for its owner ${owner}`);
          return copyUrlOf(d.engine, flavours);
        });
      }),
    );
    const caCertificate = ref.engine === "sqlite" ? undefined : pulumi.output(source.then((d) => (d.engine === "sqlite" ? "" : d.caCertificate)));
    return {
      source: describeDatabase(ref.engine, ref.deployment, ref.database),
      url: pulumi.secret(url),
      caCertificate,
      allow: typeof declared === "string" ? [] : declared.allow,
      projectDir,
      dependsOn: [source.then((d) => d.component)],
      ...(typeof declared !== "string" && declared.schema !== undefined ? { schema: declared.schema } : {}),
    };
  }

  /** After every deployment is built: a reference to one that was not fails instead of waiting forever. */
  settle(): void {
    for (const [key, p] of this.pending) {
      if (!p.provided) p.reject(new ConfigError(`importFrom: no deployment ${key} was built`));
    }
  }
}
