/**
 * The one name of the engine kinds dbstack deploys and copies between, and the facts about a
 * kind that every layer shares: the URL flavour a copy reads a server database with, and how such
 * a URL asks for a verified TLS connection. Those facts sit here, at the bottom of the import
 * order, because the deployment's import step (deploy/), the copy library (copy/), the stack
 * program (stacks/) and db:copy (scripts/) all need them.
 */

/** An engine dbstack deploys and copies between. */
export type EngineKind = "postgres" | "mariadb" | "sqlite";

/** The engines that run as a server (every kind but SQLite's file). */
export type ServerEngineKind = Exclude<EngineKind, "sqlite">;

/** Every engine kind, in the order reports list them. */
export const ENGINE_KINDS: readonly EngineKind[] = ["sqlite", "postgres", "mariadb"];

/** The server engine kinds, in the order inventories list them. */
export const SERVER_ENGINE_KINDS: readonly ServerEngineKind[] = ["postgres", "mariadb"];

/**
 * The end of every switch over engine kinds: a kind this code does not know is an error, never
 * taken for another engine.
 */
export function unknownEngine(kind: never): never {
  throw new Error(`unknown engine kind ${JSON.stringify(kind)}: expected "postgres", "mariadb" or "sqlite"`);
}

/** How a copy reaches a server database of one engine kind. */
export interface CopyUrlForm {
  /** The flavour of the deployment's `urls` output the copy's driver reads (its scheme too). */
  flavour: "postgresql" | "mysql";
  /** Every URL scheme the copy reads as this engine's (the flavour's first). */
  schemes: readonly string[];
  /** The query parameter that makes the driver verify the server's certificate and host name. */
  verify: { name: string; value: string };
  /** The query parameter naming the CA certificate file that verification checks against. */
  caParameter: string;
}

/**
 * The copy URL of each server engine: pg verifies with verify-full against sslrootcert;
 * mysql2 (copy/connections.ts) with a CA file and VERIFY_IDENTITY rejects an unverified server.
 */
export const COPY_URL: Record<ServerEngineKind, CopyUrlForm> = {
  postgres: { flavour: "postgresql", schemes: ["postgresql", "postgres"], verify: { name: "sslmode", value: "verify-full" }, caParameter: "sslrootcert" },
  mariadb: { flavour: "mysql", schemes: ["mysql", "mariadb"], verify: { name: "ssl-mode", value: "VERIFY_IDENTITY" }, caParameter: "ssl-ca" },
};

/** The copy URL of an SQLite database file (an absolute or relative path): `sqlite:///abs/path`. */
export function sqliteCopyUrl(path: string): string {
  return `sqlite://${path.startsWith("/") ? "" : "/"}${path}`;
}
