/**
 * Clients find the primary wherever it is: libpq's multi-host URLs list every member, and
 * `target_session_attrs` picks the one that accepts writes (or, for reads, a standby first).
 */
import type { PostgresUrls } from "../urls";

export interface MultiHostUrlSpec {
  user: string;
  password: string;
  database: string;
  /** Every member, primary first. */
  members: { address: string; port: number }[];
  caCertificateFile?: string;
}

/** The engine's URL flavours, each for the writer (read-write) and for reads (prefer-standby). */
export interface HaUrls extends PostgresUrls {
  readPostgresql: string;
  readPsycopg: string;
  readPostgresqlVerifyFull: string;
  readPsycopgVerifyFull: string;
}

export function multiHostUrls(c: MultiHostUrlSpec): HaUrls {
  const hosts = c.members.map((m) => `${m.address.includes(":") && !m.address.startsWith("[") ? `[${m.address}]` : m.address}:${m.port}`).join(",");
  const base = `${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${hosts}/${encodeURIComponent(c.database)}`;
  const verifyFull = `sslmode=verify-full${c.caCertificateFile ? `&sslrootcert=${encodeURIComponent(c.caCertificateFile)}` : ""}`;
  const url = (scheme: string, ssl: string, attrs: string) => `${scheme}://${base}?${ssl}&target_session_attrs=${attrs}`;
  return {
    postgresql: url("postgresql", "sslmode=require", "read-write"),
    psycopg: url("postgresql+psycopg", "sslmode=require", "read-write"),
    postgresqlVerifyFull: url("postgresql", verifyFull, "read-write"),
    psycopgVerifyFull: url("postgresql+psycopg", verifyFull, "read-write"),
    readPostgresql: url("postgresql", "sslmode=require", "prefer-standby"),
    readPsycopg: url("postgresql+psycopg", "sslmode=require", "prefer-standby"),
    readPostgresqlVerifyFull: url("postgresql", verifyFull, "prefer-standby"),
    readPsycopgVerifyFull: url("postgresql+psycopg", verifyFull, "prefer-standby"),
  };
}
