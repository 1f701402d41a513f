/**
 * Why `allowDataRemoval: true` set just before `destroy` keeps the data: Pulumi's destroy does not
 * run the program, so every delete step runs the script recorded at the last `up`, with the value
 * of allowDataRemoval that up saw. Every "kept" message of a delete step ends with this hint, so
 * a user who set it too late learns what to do instead of finding the data still there.
 * Plain words only: the hint is written inside single- and double-quoted shell strings.
 */
export const DATA_REMOVAL_HINT = "set dbstack:allowDataRemoval to true and run up first, then destroy (destroy uses the value recorded at the last up)";

/** "to delete them, <hint>" for a kept-data message. */
export function keptDataHint(what: string): string {
  return `to ${what}, ${DATA_REMOVAL_HINT}`;
}
