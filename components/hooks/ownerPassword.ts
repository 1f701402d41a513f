import { shellQuote } from "../shell";

/** Who the hooks of a server engine log in as, and where the on-demand health tool finds the password. */
export interface OwnerPasswordSource {
  /** The database the hook migrates and checks. */
  database: string;
  /** The database owner's name, for the message when the password is missing. */
  owner: string;
  /** How the engine calls an owner in messages: "role" (PostgreSQL), "user" (MariaDB). */
  noun: string;
  /** A 0600 file only root reads, for the on-demand health tool. Absent: the environment only. */
  ownerPasswordFile?: string;
}

/**
 * Shell that sets DBSTACK_OWNER_PASSWORD: from the environment (the deploy passes it), else from
 * the on-demand tool's password file, else the script stops saying what is missing. The password
 * is never an argument: it is read into the variable, and the engine hands it to its client.
 */
export function renderOwnerPassword(s: OwnerPasswordSource): string {
  const missing = `the password of ${s.noun} ${s.owner} is needed: set DBSTACK_OWNER_PASSWORD`;
  if (!s.ownerPasswordFile) {
    return `[ -n "\${DBSTACK_OWNER_PASSWORD:-}" ] || { echo ${shellQuote(missing)} >&2; exit 1; }`;
  }
  const file = shellQuote(s.ownerPasswordFile);
  return [
    `if [ -z "\${DBSTACK_OWNER_PASSWORD:-}" ]; then`,
    `  [ -r ${file} ] || { echo ${shellQuote(`${missing} (or deploy again to write ${s.ownerPasswordFile})`)} >&2; exit 1; }`,
    `  DBSTACK_OWNER_PASSWORD=$(cat ${file})`,
    "fi",
  ].join("\n");
}

/**
 * The start of a server engine's hook client: DBNAME and OWNER (quoted), and the owner's
 * password in DBSTACK_OWNER_PASSWORD (renderOwnerPassword), for the engine's client functions.
 */
export function renderOwnerLogin(s: OwnerPasswordSource): string {
  return [`DBNAME=${shellQuote(s.database)}`, `OWNER=${shellQuote(s.owner)}`, renderOwnerPassword(s)].join("\n");
}
