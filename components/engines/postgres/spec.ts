/**
 * The declared spec of a PostgreSQL deployment, shared by its renderers (pure functions of these
 * types) and its components. Defaults live in components/model/defaults.ts, the only place defaults live.
 */
import type { BackupPolicy } from "../../backups/policy";
import type { GrantRole } from "../../model/grants";

export type { HostFacts, StorageKind, Workload } from "../../model/tuning";
import type { Workload } from "../../model/tuning";

/** The inputs of tuning, besides the host facts. */
export interface TuningSpec {
  workload: Workload;
  /** max_connections. */
  maxConnections: number;
  /** PostgreSQL major version (parameters differ between versions). */
  version: number;
  /** Parameters that win over computed ones: name → value as it is written in postgresql.conf. */
  overrides: Record<string, string>;
}

/** One database of a cluster. */
export interface DatabaseSpec {
  /** Database name (validated identifier). */
  name: string;
  /** Owning role: one of the declared users. */
  owner: string;
  /** Encoding. Default UTF8. */
  encoding: string;
  /** LC_COLLATE / LC_CTYPE, e.g. "C.UTF-8" or "pt_BR.UTF-8". Default C.UTF-8. */
  locale: string;
  /** DateStyle set on the database, e.g. "ISO, DMY". Default "ISO, MDY" (PostgreSQL's). */
  dateStyle: string;
  /** TimeZone set on the database, e.g. "UTC" or "America/Sao_Paulo". Default "UTC". */
  timeZone: string;
  /** Extensions created in the database, e.g. ["pgcrypto", "pg_trgm"]. */
  extensions: string[];
}

/** A login role and what it may do. */
export interface UserSpec {
  /** Role name (validated identifier). */
  name: string;
  /** Per database: owner, readwrite or readonly. */
  grants: Record<string, GrantRole>;
  /** CONNECTION LIMIT; -1 for none. Default -1. */
  connectionLimit: number;
}
