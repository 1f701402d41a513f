/**
 * Redaction of the secret values a step knows of (its environment's values and its SSH private
 * key) from what the step prints: stdout and stderr go to the state, the engine log and error
 * messages, and a script may echo a secret (a health check printing a row, `set -x`, a failing
 * command quoting its argument).
 *
 * Pure and self-contained: HostCommand's dynamic provider is serialized with the functions it
 * calls, so nothing here may depend on a module other than the language itself.
 */

/** What a redacted value is replaced with. */
export const REDACTED = "[secret]";

/**
 * Values shorter than this are not searched for: replacing every "1" or "on" would make output
 * unreadable and hide nothing (dbstack's passwords are at least 12 characters).
 */
export const MIN_SECRET_LENGTH = 6;

/**
 * The strings to search for, longest first (a value that contains another is replaced whole):
 * each value, each line of a multi-line value (a PEM key printed line by line, or split across
 * the lines a log is cut into), and the password of a URL in both its encoded and decoded forms.
 */
export function secretNeedles(values: readonly string[]): string[] {
  const needles = new Set<string>();
  const add = (s: string | undefined) => {
    const v = (s ?? "").trim();
    if (v.length >= MIN_SECRET_LENGTH) needles.add(v);
  };
  for (const value of values) {
    if (typeof value !== "string") continue;
    add(value);
    for (const line of value.split(/\r?\n/)) add(line);
    const password = /^[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:([^@\s]+)@/i.exec(value)?.[1];
    if (password) {
      add(password);
      try {
        add(decodeURIComponent(password));
      } catch {
        // Not valid percent-encoding: the raw form is already searched for.
      }
    }
  }
  return [...needles].sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of every needle (from secretNeedles) replaced by REDACTED. */
export function redactText(text: string, needles: readonly string[]): string {
  let out = text;
  for (const needle of needles) {
    if (out.includes(needle)) out = out.split(needle).join(REDACTED);
  }
  return out;
}

/** `text` with every secret value of `values` (see secretNeedles) replaced by REDACTED. */
export function redactSecrets(text: string, values: readonly string[]): string {
  return redactText(text, secretNeedles(values));
}
