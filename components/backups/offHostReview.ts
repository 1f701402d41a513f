/**
 * What a preview may say about where backups go off the host: the program of the declared
 * `offHostCommand` (its first word, without its directory), never its arguments, which may name
 * a bucket's credentials or a password file. Pure.
 */

/** The off-host copy's program as a reviewer reads it, e.g. `rsync`, `aws`, `rclone`; "a command" when the first word is not a plain name. */
export function offHostProgram(command: string): string {
  const first = command.trim().split(/\s+/)[0] ?? "";
  const name = first.slice(first.lastIndexOf("/") + 1);
  return /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(name) ? name : "a command";
}
