import type * as pulumi from "@pulumi/pulumi";
import { MariadbServer } from "../components/deploy/mariadbServer";
import type { MariadbServerConfig } from "./config";
import type { Ctx } from "./hosts";
import { importSources, serverArgsFromConfig, serverImportSource, serverOutputs, underKey } from "./server";

/** Turns one validated `dbstack:mariadb.<name>` entry into a MariadbServer. */
export function mariadbServerFromConfig(name: string, cfg: MariadbServerConfig, ctx: Ctx, opts?: pulumi.ComponentResourceOptions): MariadbServer {
  const key = `dbstack:mariadb.${name}`;
  const server = underKey(
    key,
    () =>
      new MariadbServer(
        name,
        { ...serverArgsFromConfig("mariadb", key, cfg, ctx), flavor: cfg.flavor, version: cfg.version, instanceName: cfg.instanceName, requireSecureTransport: cfg.requireSecureTransport },
        opts,
      ),
  );
  importSources(ctx).provide(name, serverImportSource("mariadb", cfg, server));
  return server;
}

/** What a stack exports for each MariaDB deployment (URLs are secrets). */
export const mariadbOutputs = serverOutputs;
