import { shellQuote, writeFileCommand } from "../shell";
import { checkHostFileName, hostFile, type ShippedScript } from "./hostFiles";
import { OWNER_FILE, renderOwnerFunctions } from "./ownership";

/** The parent of default tools directories, `/usr/local/lib/<stack prefix>` (naming.ts defaultToolsDir): made by dbstack, removed when empty. */
const STACK_TOOLS_PARENT = /^\/usr\/local\/lib\/dbstack-[A-Za-z0-9_-]+$/;

function parentOf(dir: string): string {
  return dir.replace(/\/+$/, "").slice(0, dir.replace(/\/+$/, "").lastIndexOf("/"));
}

/** The file in a tools directory that lists the tools dbstack installed there. */
export const TOOLS_MANIFEST = ".dbstack-tools";

/** What a tools directory holds besides the tools, and whose it is. */
export interface ToolsOwnership {
  /**
   * Other files the step writes into the directory (a database owner's password file): listed
   * in the manifest with the tools, so that destroy removes them and the next install knows them.
   */
  files?: string[];
  /** The marker line of the stack that owns the directory (ownership.ts). Default: none (no marker). */
  owner?: string;
  /**
   * Whether an existing directory of dbstack's (it has a manifest) with no owner marker is taken
   * as this stack's: only for the update of a step this stack already has in its state (made
   * before markers). Default: false (refused).
   */
  adopt?: boolean;
}

/**
 * Installs operator tools (rendered scripts, mode 0700, and the data files they read, such as
 * declared health checks, mode 0600) into a private directory on a host.
 * dbstack never takes over a directory it did not create: an existing directory is used only
 * when it holds nothing but dbstack's own tools (its manifest, or files with the tools' names),
 * and, with an owner, only when no other stack's marker is in it. Only a directory dbstack
 * creates is made 0700.
 * The contents are shipped files of the step (`files`, see targets/hostFiles.ts) copied into
 * place: a tool's data may be the user's text, which never becomes part of the install script.
 */
export function renderInstallTools(dir: string, tools: [name: string, content: string, mode?: "0700" | "0600"][], own: ToolsOwnership = {}): ShippedScript {
  const q = shellQuote(dir);
  const names = tools.map(([f]) => f);
  const listed = [...names, ...(own.files ?? [])];
  const manifest = shellQuote(`${dir}/${TOOLS_MANIFEST}`);
  const marker = shellQuote(`${dir}/${OWNER_FILE}`);
  const script = [
    "set -euo pipefail",
    "umask 077",
    `if [ -e ${q} ] && ! [ -d ${q} ]; then echo ${shellQuote(`toolsDir: ${dir} exists and is not a directory`)} >&2; exit 1; fi`,
    ...(own.owner
      ? [
          renderOwnerFunctions(own.owner),
          `refuse_foreign ${marker} ${shellQuote(`the tools directory ${dir}`)} toolsDir`,
          ...(own.adopt
            ? []
            : [
                `if [ -f ${manifest} ] && ! is_mine ${marker}; then`,
                `  echo ${shellQuote(`toolsDir: ${dir} holds tools of a dbstack deployment that carry no owner marker (another stack's, made before markers); dbstack does not take them over: choose another toolsDir`)} >&2; exit 1`,
                "fi",
              ]),
        ]
      : []),
    `if [ -d ${q} ] && ! [ -f ${manifest} ]; then`,
    `  for f in ${q}/* ${q}/.[!.]*; do`,
    '    [ -e "$f" ] || continue',
    `    case "\${f##*/}" in ${[...listed, TOOLS_MANIFEST, OWNER_FILE].map(shellQuote).join("|")}) ;;`,
    `      *) echo "toolsDir: ${dir} exists and holds \${f##*/}, which dbstack did not install; dbstack never takes over a directory it did not create: choose another toolsDir" >&2; exit 1 ;;`,
    "    esac",
    "  done",
    "fi",
    `if ! [ -d ${q} ]; then mkdir -p ${q}; chmod 700 ${q}; fi`,
    ...(own.owner ? [`mark_owner ${marker}`] : []),
    "# Tools an earlier deploy installed and this one does not: removed.",
    `if [ -f ${manifest} ]; then`,
    `  while IFS= read -r old; do case "$old" in ${listed.map(shellQuote).join("|") || "''"}) ;; */*|''|.*) ;; *) rm -f ${q}/"$old" ;; esac; done < ${manifest}`,
    "fi",
    ...tools.map(([file, , mode]) => installShippedFile(file, `${dir}/${file}`, mode ?? "0700")),
    writeFileCommand(`${dir}/${TOOLS_MANIFEST}`, listed.join("\n") + "\n", "0600"),
    `echo "installed ${tools.filter(([, , mode]) => mode !== "0600").map(([f]) => f).join(", ")} in ${dir}"`,
  ].join("\n");
  return { script, files: Object.fromEntries(tools.map(([file, content, mode]) => [file, (mode ?? "0700") === "0700" ? withHelp(content) : content])) };
}

/**
 * Every tool answers `-h`/`--help` with what it is (the purpose line under its shebang) and its
 * `# Usage:` lines, and exits 0 without doing anything: `backup --help` must not run a backup.
 * It never acts on an option its usage lines do not name either: any other argument that starts
 * with "-" (before a "--") exits 2 with the usage lines. The guard is one line right after the
 * shebang (the purpose stays line 3), before the tool reads any argument.
 */
export function withHelp(content: string): string {
  if (!content.startsWith("#!")) return content;
  const newline = content.indexOf("\n");
  if (newline < 0) return content;
  const usage = content.split("\n").filter((line) => line.startsWith("# Usage: "));
  const known = [...new Set(usage.join(" ").match(/(?<![\w/.-])--?[a-z][a-z-]*/g) ?? [])];
  const printUsage = `sed -n -e '3s/^# //p' -e 's/^# Usage: /usage: /p' "$0"`;
  const guard = [
    `case "\${1:-}" in -h | --help) ${printUsage}; exit 0 ;; esac`,
    `for __arg in "$@"; do case "$__arg" in --) break ;;${known.length ? ` ${known.join(" | ")}) ;;` : ""} -?*) echo "\${0##*/}: unknown option $__arg" >&2; sed -n 's/^# Usage: /usage: /p' "$0" >&2; exit 2 ;; esac; done; unset __arg`,
  ].join("; ");
  return `${content.slice(0, newline + 1)}${guard}\n${content.slice(newline + 1)}`;
}

/** Copies the shipped file `name` to `path` with `mode`, atomically (a temporary file beside it, then mv). */
function installShippedFile(name: string, path: string, mode: string): string {
  checkHostFileName(name);
  const tmp = shellQuote(`${path}.dbstack-tmp`);
  return [`cp -- ${hostFile(name)} ${tmp}`, `chmod ${mode} ${tmp}`, `mv -f ${tmp} ${shellQuote(path)}`].join("\n");
}

/**
 * Tools are not data: destroy removes what dbstack installed (as its manifest lists it: the
 * tools and the files beside them, such as password files), its owner marker, then the
 * directory if nothing else is left in it. Nothing else in the directory is touched, and a
 * directory another stack's marker names is left as it is.
 */
export function renderRemoveTools(dir: string, owner?: string): string {
  const q = shellQuote(dir);
  const manifest = shellQuote(`${dir}/${TOOLS_MANIFEST}`);
  const marker = shellQuote(`${dir}/${OWNER_FILE}`);
  return [
    ...(owner
      ? [
          renderOwnerFunctions(owner),
          `case "$(ownership_of ${marker})" in foreign*) echo ${shellQuote(`dbstack: left ${dir} as it is: another stack's marker is in it`)} >&2; exit 0 ;; esac`,
        ]
      : []),
    `if [ -f ${manifest} ]; then`,
    `  while IFS= read -r tool; do case "$tool" in */*|''|.*) ;; *) rm -f ${q}/"$tool" ;; esac; done < ${manifest}`,
    `  rm -f ${manifest} ${marker}`,
    `  rmdir ${q} 2>/dev/null || echo ${shellQuote(`dbstack: kept ${dir}: it holds files dbstack did not install`)} >&2`,
    "fi",
    // The stack's own directory of default tools directories (naming.ts), once the last of them is gone.
    ...(STACK_TOOLS_PARENT.test(parentOf(dir)) ? [`rmdir ${shellQuote(parentOf(dir))} 2>/dev/null || true`] : []),
  ].join("\n");
}

/** Read-only, at preview (ownerCheck.ts): fails when another stack's marker is in the tools directory. */
export function renderToolsOwnerProbe(dir: string, owner: string): string {
  return [renderOwnerFunctions(owner), `refuse_foreign ${shellQuote(`${dir}/${OWNER_FILE}`)} ${shellQuote(`the tools directory ${dir}`)} toolsDir`].join("\n");
}
