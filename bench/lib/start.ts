/** What every bench does before its work: read the options, insist on root, and watch for Ctrl-C. */

/** A bench option the bench does not accept: benchOptions prints it with the usage (exit 2). */
export class UsageError extends Error {}

/** The whole number `text` given for `--flag`, within [min, max]; a UsageError naming the flag otherwise. */
export function wholeOption(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`--${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

/**
 * The bench's options, or the exit code to return: 2 for a bad option (with the usage), 0 for
 * --help, 1 when not run as root (`rootReason` says why root is needed).
 */
export function benchOptions<O>(parse: (argv: string[]) => O | undefined, usage: string, rootReason: string, log: (msg: string) => void): O | number {
  let opts: O | undefined;
  try {
    opts = parse(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (!opts) {
    console.log(usage);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    log(`must run as root (${rootReason})`);
    return 1;
  }
  return opts;
}

/** SIGINT/SIGTERM stop the bench's work; it then cleans up and exits as the signal would. */
export interface Interrupts {
  /** Aborted at the first signal. */
  signal: AbortSignal;
  /** Throws once a signal came, so the next step does not start. */
  check(): void;
  /** 130 or 143 after SIGINT or SIGTERM; undefined when none came. */
  exitCode(): number | undefined;
}

export function watchInterrupts(log: (msg: string) => void): Interrupts {
  const abort = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return log(`${signal} again: still cleaning up, please wait`);
    interrupted = signal;
    log(`${signal}: stopping, then cleaning up`);
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: abort.signal,
    check: () => {
      if (interrupted) throw new Error(`interrupted by ${interrupted}`);
    },
    exitCode: () => (interrupted === undefined ? undefined : interrupted === "SIGINT" ? 130 : 143),
  };
}
