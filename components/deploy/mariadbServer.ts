import type * as pulumi from "@pulumi/pulumi";
import { ServerDeployment } from "./serverDeployment";
import { DEFAULTS } from "../model/defaults";
import type { MariadbDatabaseArgs, MariadbServerArgs, MariadbStandbyArgs, MariadbUserArgs } from "../engines/mariadb/args";
import { mariadbEngine } from "../engines/mariadb/engine";
import type { MariadbLocation } from "../engines/mariadb/host";

/**
 * A MariaDB deployment: one instance (its own data directory, port, socket, option file and log)
 * on its host with tuned configuration and TLS; databases (utf8mb4), accounts with generated
 * passwords and least-privilege grants; cron backups; post-deploy hooks per database; and GTID
 * replicas on other hosts. A typed wrapper of ServerDeployment with the MariaDB engine.
 */
export class MariadbServer extends ServerDeployment<MariadbLocation, MariadbDatabaseArgs, MariadbUserArgs, MariadbStandbyArgs> {
  constructor(name: string, args: MariadbServerArgs, opts?: pulumi.ComponentResourceOptions) {
    const instance = args.instanceName ?? name;
    const engine = mariadbEngine({ flavor: args.flavor ?? DEFAULTS.mariadb.flavor, requireSecureTransport: args.requireSecureTransport ?? false });
    super("dbstack:mariadb:Server", engine, name, args, { instance, version: args.version, standbyInstance: (s) => s.instanceName ?? instance }, opts);
  }
}
