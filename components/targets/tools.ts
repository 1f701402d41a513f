import { shellQuote, writeFileCommand } from "../shell";

/** Installs operator tools (rendered scripts, mode 0700) into a private directory on a host. */
export function renderInstallTools(dir: string, tools: [name: string, content: string][]): string {
  return [
    "set -euo pipefail",
    "umask 077",
    `mkdir -p ${shellQuote(dir)}`,
    `chmod 700 ${shellQuote(dir)}`,
    ...tools.map(([file, content]) => writeFileCommand(`${dir}/${file}`, content, "0700")),
    `echo "installed ${tools.map(([f]) => f).join(", ")} in ${dir}"`,
  ].join("\n");
}

/** Tools are not data: destroy always removes them. */
export function renderRemoveTools(dir: string): string {
  return `rm -rf ${shellQuote(dir)}`;
}
