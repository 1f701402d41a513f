/**
 * Why an error thrown in an apply used to leave a preview printing dots for minutes (a
 * `parameters: { bind_address }` preview was killed after 300 s; a declared version mismatch
 * took 110 to 130 s): Pulumi reports it from its unhandled-rejection handler with
 * `util.inspect(err, { colors: true })`, and Node 20's inspect loops, growing a string by
 * gigabytes until it overflows, on a stack frame whose path has `node_modules/@scope/` followed by
 * a file instead of a package directory. Every error thrown in an apply has one: source maps name
 * Pulumi's output.js `node_modules/@pulumi/output.ts`. Only then did Pulumi fall back to a plain
 * inspect and report the error. (Pulumi also prefixes the same error's message with `error
 * serializing property "x": ` once for every property of every resource that depends on the
 * failed output.)
 *
 * The mechanism here, for every such error whatever throws it: a handler that runs before
 * Pulumi's tames the error (tameProgramError) so the report is immediate and reads as the
 * message that names the field; then, a few seconds after the first reported error (time for the
 * report to reach the engine), the program exits with a failure, because nothing it still waits
 * for can succeed once it has failed.
 */

/** The exit code with which Pulumi's Node.js runtime says it has already reported the program's error. */
const PULUMI_ERROR_REPORTED = 32;

/** Pulumi's prefix for an error met while serializing a resource property. */
const SERIALIZING_PREFIX = /^(error serializing property "[^"]*": )+/;

/** Errors whose message is the whole story: a config or argument mistake that names its field. */
function isUserError(err: Error): boolean {
  return err.name === "ArgumentError" || err.name === "ConfigError" || err.constructor?.name === "ArgumentError" || err.constructor?.name === "ConfigError";
}

/**
 * Makes a program error cheap and clear to report: the message without Pulumi's repeated
 * serialization prefixes; for a user error (ArgumentError, ConfigError) no stack at all; for any
 * other error its stack without the frames inside node_modules (the ones Node's inspect cannot
 * format, and noise to a reader). Returns the same object, changed.
 */
export function tameProgramError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const message = err.message.replace(SERIALIZING_PREFIX, "");
  err.message = message;
  if (isUserError(err)) {
    err.stack = `${err.constructor?.name ?? err.name}: ${message}`;
  } else {
    const frames = (err.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l) && !l.includes("node_modules"));
    err.stack = [`${err.name}: ${message}`, ...frames].join("\n");
  }
  return err;
}

/**
 * Installs the handlers: before Pulumi's own (prependListener), so the error Pulumi inspects is
 * already tamed. Called once, before the program declares anything.
 */
export function failFastOnProgramError(graceMs = 5000): void {
  let armed = false;
  const onError = (err: unknown) => {
    tameProgramError(err);
    if (armed) return;
    armed = true;
    // 32: Pulumi's "exited after logging the error to the user" (its handler, next in line, logs
    // it), so the engine adds no second, generic error. unref: a program that ends by itself does
    // not wait for this timer.
    setTimeout(() => process.exit(PULUMI_ERROR_REPORTED), graceMs).unref();
  };
  process.prependListener("unhandledRejection", onError);
  process.prependListener("uncaughtException", onError);
}
