/**
 * Ends the program shortly after it fails. Pulumi's own handler reports an exception thrown in
 * an apply (a renderer refusing a value, a declared version the host does not run) as soon as it
 * happens, but the program then stayed alive: registrations of the resources downstream of the
 * failed output kept waiting, and the preview printed nothing more for minutes (a
 * `parameters: { bind_address }` preview was killed after 300 s). Nothing the program still
 * waits for can succeed once it has failed, so a few seconds after the first reported error
 * (time for the report to reach the engine) it exits with a failure: every such error fails the
 * preview or up promptly, with its message.
 */
export function failFastOnProgramError(graceMs = 5000): void {
  let armed = false;
  const arm = () => {
    if (armed) return;
    armed = true;
    process.exitCode = 1;
    // unref: an otherwise finished program does not wait for this timer.
    setTimeout(() => process.exit(1), graceMs).unref();
  };
  process.on("unhandledRejection", arm);
  process.on("uncaughtException", arm);
}
