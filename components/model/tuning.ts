/**
 * What tuning needs to know, for every server engine: the host's facts and the workload, and the
 * shape of a tuned parameter. Each engine's tuning.ts computes its own parameters from these.
 */

/** Storage under the data directory: decides I/O costs and concurrency. */
export type StorageKind = "ssd" | "hdd" | "network";

/** What the server mostly serves: decides per-query memory, log/WAL sizing and statistics. */
export type Workload = "web" | "oltp" | "dw" | "mixed";

/** The facts about a host that tuning needs; declared, or read from the host. */
export interface HostFacts {
  /** Memory available to the database server, in MiB. */
  memoryMb: number;
  /** CPU cores available to the database server. */
  cpus: number;
  /** The kind of storage under the data directory. */
  storage: StorageKind;
}

/** One parameter of a rendered server configuration. */
export interface TunedParameter {
  /** Parameter name as written in the engine's config file (lower case). */
  name: string;
  /** The value as written in the config file, e.g. "1GB", "0.9", "200". */
  value: string;
  /** One short line saying why, for a reviewer reading the diff. */
  reason: string;
}

/** The tuned parameters, in the order they are rendered. */
export type TunedParameters = TunedParameter[];
