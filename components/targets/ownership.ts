import { shellQuote } from "../shell";

/**
 * Mine or not mine (design principle 8): what dbstack makes on a host (an instance, its data
 * directory, a tools directory, a container and its volumes) carries a marker naming the
 * project and stack that made it, with the id of the clone (naming.ts's host prefix
 * `dbstack-<stack>-<id>`: a hash of project, stack and program directory). A step that finds
 * another stack's marker refuses before it changes anything, naming that owner and the config
 * field to change; destroy leaves what is not its own as it is.
 *
 * The marker is one line of text, the same for every resource of a stack on every host:
 * `dbstack project=<project> stack=<stack> id=<host prefix>`.
 */
export interface Owner {
  /** The Pulumi project. */
  project: string;
  /** The Pulumi stack. */
  stack: string;
  /** The host prefix of the stack's clone, `dbstack-<stack>-<id>` (naming.ts stackHostPrefix). */
  id: string;
}

/** The line a marker holds for `owner`. */
export function ownerLine(owner: Owner): string {
  return `dbstack project=${owner.project} stack=${owner.stack} id=${owner.id}`.replace(/[^A-Za-z0-9 =_.@+-]/g, "-");
}

/** The name of a marker file inside a directory dbstack owns (a data directory, a tools directory). */
export const OWNER_FILE = ".dbstack-owner";

/**
 * Shell functions of every script that creates or removes something a marker guards, given the
 * running stack's marker line:
 * - `owner_in <marker>` prints the line a marker holds (nothing when there is none);
 * - `is_mine <marker>` succeeds when the marker names this stack;
 * - `refuse_foreign <marker> <what> <field>` stops the script (exit 1) when the marker names
 *   another stack, saying whose it is and which config field to change;
 * - `mark_owner <marker>` writes this stack's marker (root-owned, 0644, atomically);
 * - `ownership_of <marker>...` prints `mine` when one of the markers names this stack and none
 *   names another, `foreign <line>` when one names another stack, `unmarked` when there are none.
 */
export function renderOwnerFunctions(line: string): string {
  return [
    `DBSTACK_OWNER=${shellQuote(line)}`,
    'owner_in() { if [ -f "$1" ]; then head -n 1 "$1"; fi; }',
    'is_mine() { [ "$(owner_in "$1")" = "$DBSTACK_OWNER" ]; }',
    "refuse_foreign() {",
    '  local have; have=$(owner_in "$1")',
    '  if [ -n "$have" ] && [ "$have" != "$DBSTACK_OWNER" ]; then',
    '    echo "$3: $2 belongs to another dbstack stack (${have#dbstack }; its marker is $1), not to this one (${DBSTACK_OWNER#dbstack }); dbstack never takes over, changes or deletes what another stack made: choose another $3, or destroy that stack first" >&2',
    "    exit 1",
    "  fi",
    "}",
    'mark_owner() { (umask 022; printf \'%s\\n\' "$DBSTACK_OWNER" > "$1.dbstack-tmp") && mv -f "$1.dbstack-tmp" "$1"; }',
    "ownership_of() {",
    '  local m have mine=no',
    '  for m in "$@"; do',
    '    have=$(owner_in "$m")',
    '    if [ -n "$have" ] && [ "$have" != "$DBSTACK_OWNER" ]; then echo "foreign $have"; return 0; fi',
    '    if [ "$have" = "$DBSTACK_OWNER" ]; then mine=yes; fi',
    "  done",
    '  if [ "$mine" = yes ]; then echo mine; else echo unmarked; fi',
    "}",
  ].join("\n");
}
