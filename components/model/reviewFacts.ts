import type { GrantRole } from "./grants";

/**
 * What a resource is, declared by the component that creates it, for the people reviewing a
 * preview. The preview summary flags risky changes from these declarations, never from names.
 */
export interface ReviewFacts {
  /** The component the resource belongs to, e.g. "sqlite database app". */
  component: string;
  /** Deleting or replacing this resource can lose data (a database file, a data directory, backups). */
  dataBearing?: boolean;
  /** Whether destroy/replace may really delete that data (the stack's allowDataRemoval). */
  dataRemovalAllowed?: boolean;
  /** Applying a change to this resource restarts the database server. */
  restartsDatabase?: boolean;
  /** The configured values of parameters that take effect only at a restart: a change to any restarts the server. */
  restartParameters?: Record<string, string>;
  /** The backup schedule this resource installs. */
  backup?: {
    schedule: string;
    retentionDays: number;
    /** Where each backup is copied off the host: the program of offHostCommand (backups/offHostReview.ts), never its arguments. */
    offHost?: string;
  };
  /** The migrations this hook applies, by id. */
  migrations?: string[];
  /** Grants this resource holds: user → role, and whether the user is a superuser. */
  grants?: Record<string, { role: GrantRole; superuser?: boolean }>;
  /** The standby replica this resource is. */
  standby?: string;
  /**
   * This resource seeds a database once, when it is created, with a copy of another (importFrom):
   * both as the summary names them, e.g. sqlite `app` and postgres `main/app`.
   */
  dataImport?: { source: string; target: string };
  /** The point-in-time recovery this resource sets up: its recovery-point objective (seconds) and drill schedule. */
  pitr?: { rpoS: number; drillSchedule: string };
  /**
   * This resource is Patroni's (high availability): what applying a change to it does to the
   * cluster, in the preview's words (e.g. whether Patroni fails over). Default: not Patroni's.
   */
  patroni?: string;
  /** The Prometheus exporter this resource runs: beside which member ("primary" or a standby's name), which exporter, where it listens. */
  exporter?: { member: string; name: string; listen: string };
}
