/**
 * Whether a declared `version` is the one a host runs. A version is matched on what it declares:
 * "10.11" matches 10.11.19. A mismatch is an error, never ignored: dbstack does not change an
 * installed server's version.
 */

/** Whether `installed` is the `declared` version (or a release of it). */
export function versionMatches(declared: string, installed: string): boolean {
  const d = String(declared).trim();
  const i = String(installed).trim();
  return i === d || i.startsWith(`${d}.`);
}

/**
 * Why a declared `version` does not match the server installed on the host, if it does not: a
 * declared "10.6" on a host whose server is 10.11 would otherwise be silently ignored (the
 * instance runs 10.11). A version is matched on what it declares: "10.11" matches 10.11.19.
 */
export function installedVersionProblem(declared: string | undefined, installed: string, title: string, where: string): string | undefined {
  if (declared === undefined) return undefined;
  if (versionMatches(declared, installed)) return undefined;
  const i = String(installed).trim();
  return `version: declared ${JSON.stringify(String(declared).trim())}, but the ${title} server installed on ${where} is ${i}; dbstack does not change an installed server's version: declare "${i}" (or leave version out), or upgrade the server first`;
}
