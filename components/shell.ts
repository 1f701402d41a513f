/** Quotes a value for POSIX shells: the result is one word whatever the value holds. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Quotes a value as an SQL string literal (standard SQL: single quotes doubled). */
export function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Returns a here-document delimiter that does not occur as a line of `body`, so the body is
 * passed to a command verbatim (quoted delimiter: no expansion).
 */
export function heredocDelimiter(body: string, base = "DBSTACK_EOF"): string {
  const lines = new Set(body.split("\n"));
  let tag = base;
  for (let i = 1; lines.has(tag); i++) tag = `${base}_${i}`;
  return tag;
}

/** Renders `command <<'TAG' ... TAG` with `body` passed verbatim on stdin. */
export function withHeredoc(command: string, body: string, base?: string): string {
  const tag = heredocDelimiter(body, base);
  return `${command} <<'${tag}'\n${body}${body.endsWith("\n") ? "" : "\n"}${tag}`;
}

/** Renders a command that writes `content` to `path` with the given octal mode, atomically. */
export function writeFileCommand(path: string, content: string, mode: string): string {
  return writeFileToWord(shellQuote(path), shellQuote(`${path}.dbstack-tmp`), content, mode);
}

/**
 * Like writeFileCommand, for a path the script computes: `pathWord` is a double-quoted shell
 * word such as "$CONF_DIR/pg_hba.conf" (only trusted, rendered text may go in it).
 */
export function writeFileToExpandedPath(pathWord: string, content: string, mode: string): string {
  if (!/^"[^"`\\]*"$/.test(pathWord)) throw new Error(`writeFileToExpandedPath: ${pathWord} is not a plain double-quoted word`);
  return writeFileToWord(pathWord, `${pathWord.slice(0, -1)}.dbstack-tmp"`, content, mode);
}

function writeFileToWord(pathWord: string, tmpWord: string, content: string, mode: string): string {
  return [
    withHeredoc(`cat > ${tmpWord}`, content, "DBSTACK_FILE"),
    // A here-document always ends in a newline; drop it when the content has none.
    ...(content.endsWith("\n") ? [] : [`truncate -s -1 ${tmpWord}`]),
    `chmod ${mode} ${tmpWord}`,
    `mv -f ${tmpWord} ${pathWord}`,
  ].join("\n");
}

/** The header every rendered script starts with: strict mode and a private umask. */
export function scriptHeader(purpose: string): string {
  return [
    "#!/usr/bin/env bash",
    `# ${purpose}`,
    "# Rendered by dbstack from the stack's declared spec; changes here are overwritten by the next `pulumi up`.",
    "set -Eeuo pipefail",
    "umask 077",
  ].join("\n");
}

/**
 * Makes `dir` (a double-quoted shell word or a quoted path) a private directory for dbstack's
 * files without taking over anyone else's: a missing directory is created 0700; an existing one
 * is used as it is, unless others may write to it (a shared /tmp-like directory, where files
 * could be planted or swapped), which fails naming `field`. Never re-permissions what exists.
 */
export function renderPrivateDir(dirWord: string, field: string): string {
  return [
    `if [ -d ${dirWord} ]; then`,
    `  if [ -n "$(find ${dirWord} -maxdepth 0 -perm /022)" ]; then echo "${field}: "${dirWord}" is writable by other users (mode $(stat -c %a ${dirWord})); choose a directory of its own" >&2; exit 1; fi`,
    "else",
    `  mkdir -p ${dirWord} && chmod 700 ${dirWord}`,
    "fi",
  ].join("\n");
}
