import { cronScheduleProblem } from "./backups/schedule";

/**
 * Input rules shared by the component Args and the stack config schema: one source of truth for
 * what a name, a path or a Unix user may contain. Values that pass reach scripts, cron lines and
 * sqlite dot-commands safely (and are still quoted there).
 */
export const RESOURCE_NAME = /^[a-z][a-z0-9_-]{0,39}$/;
export const UNIX_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
export const SAFE_PATH = /^[A-Za-z0-9._/@+-]+$/;
export const GPG_RECIPIENT = /^[A-Za-z0-9._@+<>-]+$/;

/** Thrown for bad component arguments; the message names the argument. */
export class ArgumentError extends Error {}

export function checkName(field: string, value: string): void {
  if (!RESOURCE_NAME.test(value)) {
    throw new ArgumentError(`${field}: expected a lower-case letter, then letters, digits, _ or - (at most 40), got ${JSON.stringify(value)}`);
  }
}

export function checkAbsolutePath(field: string, value: string | undefined): void {
  if (value === undefined) return;
  if (!value.startsWith("/") || !SAFE_PATH.test(value)) {
    throw new ArgumentError(`${field}: expected an absolute path of letters, digits and . _ / @ + - only, got ${JSON.stringify(value)}`);
  }
}

export function checkUnixName(field: string, value: string | undefined): void {
  if (value !== undefined && !UNIX_NAME.test(value)) {
    throw new ArgumentError(`${field}: expected a Unix user or group name, got ${JSON.stringify(value)}`);
  }
}

export function checkSchedule(field: string, value: string | undefined): void {
  const problem = value === undefined ? undefined : cronScheduleProblem(value);
  if (problem) throw new ArgumentError(`${field}: ${problem}, got ${JSON.stringify(value)}`);
}

export function checkWholeNumber(field: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
    throw new ArgumentError(`${field}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
}

export function checkGpgRecipient(field: string, value: string | undefined): void {
  if (value !== undefined && !GPG_RECIPIENT.test(value)) {
    throw new ArgumentError(`${field}: expected a GPG key id, fingerprint or e-mail address, got ${JSON.stringify(value)}`);
  }
}
