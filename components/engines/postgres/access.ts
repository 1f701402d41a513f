/** Who may connect to a cluster, and how. */
export interface AccessSpec {
  /** listen_addresses. Default ["localhost"]. */
  listenAddresses: string[];
  /** Client networks allowed to connect over TLS with a password (scram-sha-256). */
  allowedCidrs: string[];
  /** Addresses (CIDR) of standbys, allowed to stream as the replication user. */
  replicationCidrs: string[];
  /** The replication role's name. */
  replicationUser: string;
}

/**
 * pg_hba.conf: peer for local Unix-socket connections, scram-sha-256 for everything over TCP,
 * TLS required from other hosts, and no `trust` anywhere. First match wins, so order matters.
 */
export function renderHba(access: AccessSpec): string {
  const lines = [
    "# Rendered by dbstack; changes here are overwritten by the next `pulumi up`.",
    "# TYPE     DATABASE     USER         ADDRESS              METHOD",
    "local      all          postgres                          peer",
    "local      all          all                               scram-sha-256",
    "host       all          all          127.0.0.1/32         scram-sha-256",
    "host       all          all          ::1/128              scram-sha-256",
  ];
  for (const cidr of access.replicationCidrs) {
    lines.push(`hostssl    replication  ${access.replicationUser.padEnd(12)} ${cidr.padEnd(20)} scram-sha-256`);
  }
  for (const cidr of access.allowedCidrs) {
    lines.push(`hostssl    all          all          ${cidr.padEnd(20)} scram-sha-256`);
  }
  return lines.join("\n") + "\n";
}

/** The conf.d file for access: addresses, TLS, password hashing. */
export function renderAccessConf(access: AccessSpec, hasStandbys: boolean): string {
  const lines = [
    "# Rendered by dbstack: access and TLS. Changes here are overwritten by the next `pulumi up`.",
    `listen_addresses = '${access.listenAddresses.join(",")}'`,
    "password_encryption = 'scram-sha-256'",
    "ssl = on",
    "# ssl_cert_file and ssl_key_file: 06-dbstack-tls.conf, written with the host's own paths (tls.ts).",
    "ssl_min_protocol_version = 'TLSv1.2'",
  ];
  if (hasStandbys) {
    lines.push(
      "wal_level = replica",
      "max_wal_senders = 10",
      "max_replication_slots = 10",
      "# A lost standby must not fill the primary's disk with WAL kept for its slot.",
      "max_slot_wal_keep_size = '10GB'",
      "hot_standby = on",
    );
  }
  return lines.join("\n") + "\n";
}
