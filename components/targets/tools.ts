import { shellQuote, writeFileCommand } from "../shell";
import { checkHostFileName, hostFile, type ShippedScript } from "./hostFiles";

/** The file in a tools directory that lists the tools dbstack installed there. */
export const TOOLS_MANIFEST = ".dbstack-tools";

/**
 * Installs operator tools (rendered scripts, mode 0700, and the data files they read, such as
 * declared health checks, mode 0600) into a private directory on a host.
 * dbstack never takes over a directory it did not create: an existing directory is used only
 * when it holds nothing but dbstack's own tools (its manifest, or files with the tools' names).
 * Only a directory dbstack creates is made 0700.
 * The contents are shipped files of the step (`files`, see targets/hostFiles.ts) copied into
 * place: a tool's data may be the user's text, which never becomes part of the install script.
 */
export function renderInstallTools(dir: string, tools: [name: string, content: string, mode?: "0700" | "0600"][]): ShippedScript {
  const q = shellQuote(dir);
  const names = tools.map(([f]) => f);
  const manifest = shellQuote(`${dir}/${TOOLS_MANIFEST}`);
  const script = [
    "set -euo pipefail",
    "umask 077",
    `if [ -e ${q} ] && ! [ -d ${q} ]; then echo ${shellQuote(`toolsDir: ${dir} exists and is not a directory`)} >&2; exit 1; fi`,
    `if [ -d ${q} ] && ! [ -f ${manifest} ]; then`,
    `  for f in ${q}/* ${q}/.[!.]*; do`,
    '    [ -e "$f" ] || continue',
    `    case "\${f##*/}" in ${[...names, TOOLS_MANIFEST].map(shellQuote).join("|")}) ;;`,
    `      *) echo "toolsDir: ${dir} exists and holds \${f##*/}, which dbstack did not install; dbstack never takes over a directory it did not create: choose another toolsDir" >&2; exit 1 ;;`,
    "    esac",
    "  done",
    "fi",
    `if ! [ -d ${q} ]; then mkdir -p ${q}; chmod 700 ${q}; fi`,
    "# Tools an earlier deploy installed and this one does not: removed.",
    `if [ -f ${manifest} ]; then`,
    `  while IFS= read -r old; do case "$old" in ${names.map(shellQuote).join("|") || "''"}) ;; */*|''|.*) ;; *) rm -f ${q}/"$old" ;; esac; done < ${manifest}`,
    "fi",
    ...tools.map(([file, , mode]) => installShippedFile(file, `${dir}/${file}`, mode ?? "0700")),
    writeFileCommand(`${dir}/${TOOLS_MANIFEST}`, names.join("\n") + "\n", "0600"),
    `echo "installed ${tools.filter(([, , mode]) => mode !== "0600").map(([f]) => f).join(", ")} in ${dir}"`,
  ].join("\n");
  return { script, files: Object.fromEntries(tools.map(([file, content]) => [file, content])) };
}

/** Copies the shipped file `name` to `path` with `mode`, atomically (a temporary file beside it, then mv). */
function installShippedFile(name: string, path: string, mode: string): string {
  checkHostFileName(name);
  const tmp = shellQuote(`${path}.dbstack-tmp`);
  return [`cp -- ${hostFile(name)} ${tmp}`, `chmod ${mode} ${tmp}`, `mv -f ${tmp} ${shellQuote(path)}`].join("\n");
}

/**
 * Tools are not data: destroy removes the tools dbstack installed (as its manifest lists them),
 * then the directory if nothing else is left in it. Nothing else in the directory is touched.
 */
export function renderRemoveTools(dir: string): string {
  const q = shellQuote(dir);
  const manifest = shellQuote(`${dir}/${TOOLS_MANIFEST}`);
  return [
    `if [ -f ${manifest} ]; then`,
    `  while IFS= read -r tool; do case "$tool" in */*|''|.*) ;; *) rm -f ${q}/"$tool" ;; esac; done < ${manifest}`,
    `  rm -f ${manifest}`,
    `  rmdir ${q} 2>/dev/null || echo ${shellQuote(`dbstack: kept ${dir}: it holds files dbstack did not install`)} >&2`,
    "fi",
  ].join("\n");
}
