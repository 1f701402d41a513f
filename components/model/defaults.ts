/**
 * Every default of dbstack's declared model, in one place: the components resolve what a user
 * left out from here, and the stack config's zod schemas take their `.default()`s from here, so a
 * default is never written twice. Each value says its unit where it has one.
 */
import type { StorageKind, Workload } from "./tuning";

export const DEFAULTS = {
  /** Whether destroy deletes data: databases, data directories, database files, backups. */
  allowDataRemoval: false,
  /** How SSH hosts are reached. */
  ssh: {
    port: 22,
    user: "root",
  },
  backup: {
    /** Cron schedule: daily at 02:00, host time. */
    schedule: "0 2 * * *",
    /** Days a backup is kept. */
    retentionDays: 30,
  },
  /** Servers in containers (a Docker target). */
  container: {
    /** The image of each engine when a deployment declares none (Debian/Ubuntu based; see the README's image contract). */
    images: { postgres: "docker.io/library/postgres:15-bookworm", mariadb: "docker.io/library/mariadb:10.11" },
    /** Where the port is published: this Docker host only. */
    publishAddresses: ["127.0.0.1"] as readonly string[],
    restartPolicy: "unless-stopped" as "no" | "on-failure" | "always" | "unless-stopped",
    /** The Docker API endpoint of a Docker target that declares none. */
    endpoint: "unix:///var/run/docker.sock",
  },
  /** Tuning inputs every server engine shares. */
  server: {
    workload: "mixed" as Workload,
    /** Client connections the server accepts (max_connections). */
    maxConnections: 100,
    storage: "ssd" as StorageKind,
    /** Addresses the server listens on. */
    listenAddresses: ["localhost"] as readonly string[],
    /** Client networks allowed from outside the host: none. */
    allowedCidrs: [] as readonly string[],
    /** Unsafe parameters accepted in `parameters`: none. */
    unsafeParameters: [] as readonly string[],
    /** Lifetimes of the certificates dbstack issues, in days: each host's, and the deployment CA's. */
    certificateLifetime: { certificateDays: 365, caDays: 3650 },
  },
  user: {
    /** Concurrent connections of a user; -1 for no limit. */
    connectionLimit: -1,
    /** Bump to rotate a generated password. */
    passwordRotation: 0,
  },
  postgres: {
    port: 5432,
    database: {
      encoding: "UTF8",
      locale: "C.UTF-8",
      /** PostgreSQL's own default; the seeds' Brazilian apps set "ISO, DMY". */
      dateStyle: "ISO, MDY",
      timeZone: "UTC",
      extensions: [] as readonly string[],
    },
  },
  mariadb: {
    port: 3306,
    /** The only flavour tested against a real server (see engines/mariadb/flavor.ts). */
    flavor: "mariadb" as "mariadb" | "mysql",
    database: {
      /** utf8mb4 is always the character set; this is its collation. */
      collation: "utf8mb4_unicode_ci",
    },
    user: {
      /** Host patterns an account may connect from. */
      hosts: ["localhost"] as readonly string[],
      requireSsl: false,
    },
  },
  sqlite: {
    /**
     * The OS user (and group of the same name) that owns a database file, and runs its migrations,
     * declared checks and migration command, when a root deploy declares no `owner`: user SQL never
     * runs as root, and sqlite3's safe mode alone does not stop a migration reading root's files
     * (fsdir). dbstack creates it on the host if missing (useradd --system, no login shell, no
     * home of its own) and never deletes it: other stacks and clones on the host may use it.
     * A deploy as an unprivileged user runs as that user whatever this says.
     */
    owner: "dbstack-sqlite",
    pragmas: {
      /** Readers do not block the writer. */
      journalMode: "wal" as "wal" | "delete" | "truncate" | "persist",
      autoVacuum: "none" as "none" | "full" | "incremental",
      /** Safe with WAL: one fsync per checkpoint. */
      synchronous: "normal" as "off" | "normal" | "full" | "extra",
      /** Milliseconds a connection waits for a lock before SQLITE_BUSY. */
      busyTimeoutMs: 5000,
      /** SQLite's own default is off. */
      foreignKeys: true,
    },
  },
  /** What `npm run status` calls a problem, where a deployment declares no bound of its own. */
  status: {
    /** Seconds a standby may lag behind its primary before status exits non-zero. */
    maxLagSeconds: 300,
    /** Transactions open longer than this many seconds (idle in transaction or not) are listed. */
    longTransactionSeconds: 300,
  },
  /** Point-in-time recovery (a server deployment's `pitr`). */
  pitr: {
    /** Seconds: the recovery-point objective (archive_timeout). */
    archiveTimeoutS: 60,
    /** Full backups: Sundays at 01:00, host time. */
    fullSchedule: "0 1 * * 0",
    /** Differential backups: the other days at 01:00. */
    diffSchedule: "0 1 * * 1-6",
    /** Full backups kept. */
    retentionFull: 2,
    /** The repository is encrypted with a generated secret. */
    encrypt: true,
    /** The drill's schedule when the backups' is not one time of day: daily at 03:00. */
    drillSchedule: "0 3 * * *",
    /** Results kept in a drill's history file. */
    drillHistory: 30,
    /** Full backups of an engine that takes full ones only (MariaDB): daily at 01:00, host time. */
    fullOnlySchedule: "0 1 * * *",
    /** The binary log archiver's cron schedule (MariaDB): every minute; it loops within the minute when the RPO is shorter. */
    archiveSchedule: "* * * * *",
  },
  /** Declared metrics (a server deployment's `metrics`). */
  metrics: {
    /** Where each exporter listens: its host's loopback only. */
    address: "127.0.0.1",
    auth: "basic" as "basic" | "tls",
    /** The basic-auth user name of scrapes. */
    username: "prometheus",
    /** The OS user exporters run as (the Debian exporter packages create it). */
    runUser: "prometheus",
    /** Where an exporter's private files (web configuration, credentials) live on its host: `<dir>/<exporter id>`. */
    configDir: "/etc/dbstack/exporters",
  },
  /** High availability with Patroni on etcd (model/ha.ts): timings an operator would choose. */
  ha: {
    synchronous: true,
    /** Seconds the leader lock lives without renewal (Patroni's default and minimum is 30/20). */
    ttlSeconds: 30,
    /** Seconds between Patroni's checks. */
    loopWaitSeconds: 10,
    /** Seconds of retries against etcd and PostgreSQL before demoting. */
    retryTimeoutSeconds: 10,
    /** Bytes a standby may lag and still be promoted (1 MiB). */
    maximumLagOnFailoverBytes: 1048576,
    restApiPort: 8008,
    etcd: { clientPort: 2379, peerPort: 2380, members: 3 },
  },
  /** A database's `importFrom`. */
  importFrom: {
    /** Who makes the tables (model/importSchema.ts): the copy, before the database's hook. */
    schema: "copy" as "copy",
  },
} as const;
