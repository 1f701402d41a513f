/**
 * Files a HostCommand ships to its host beside its script: how user-written text (migration SQL,
 * declared health checks, a migration command) reaches a host without ever being part of a
 * rendered script. A script never embeds such text in a here-document, a `$( … )` or a quoted
 * argument, where a crafted line could end the quoting and run as shell; it reads the file.
 *
 * The files travel on the script's own stdin, each announced by its exact length in bytes
 * (`head -c <N> > "$DBSTACK_FILES/<name>"`, then the N raw bytes). bash reading a script from a
 * pipe reads it unbuffered, byte by byte, so the `head` it starts receives exactly the bytes
 * that follow its line, and GNU head -c reads no more than N: nothing in a file's content can
 * end it early or be read as the next command, whatever it holds (delimiters, quotes, NUL).
 * The same stream works locally, over SSH (with or without sudo) and through `docker exec -i`.
 *
 * On the host the files are 0600 in a private 0700 directory made with mktemp, named in
 * $DBSTACK_FILES, removed when the script ends (or is stopped). The script runs as a child of
 * the shipping shell, so its own EXIT trap cannot displace that clean-up.
 */

/** The environment variable holding the directory of the shipped files on the host. */
export const FILES_VARIABLE = "DBSTACK_FILES";

/** A shipped file's name: one path component of plain characters, never hidden, never a path. */
export const HOST_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The shell word for a shipped file's path in a script (a double-quoted expansion, nothing of the user's). */
export function hostFile(name: string): string {
  checkHostFileName(name);
  return `"$${FILES_VARIABLE}/${name}"`;
}

export function checkHostFileName(name: string): void {
  if (!HOST_FILE_NAME.test(name)) throw new Error(`host file name ${JSON.stringify(name)} must be one plain path component (letters, digits, . _ -)`);
}

/** The name the script itself is shipped under: not a valid user file name (starts with a dot). */
const SCRIPT_FILE = ".script";

/**
 * The bytes that make bash (reading them on stdin) write `files` into a private directory, then
 * run `script` with $DBSTACK_FILES naming it, then remove it. Pure: the same files and script
 * give the same bytes. Only the byte counts and fixed shell of this function are shell text.
 */
export function renderShippedScript(files: Record<string, string>, script: string): Buffer {
  const parts: Buffer[] = [
    Buffer.from(
      [
        // The files are private whatever umask the shell came with; the script gets that umask back.
        "dbstack_umask=$(umask); umask 077",
        `${FILES_VARIABLE}=$(mktemp -d "\${TMPDIR:-/tmp}/dbstack-files.XXXXXXXX") || exit 1`,
        `export ${FILES_VARIABLE}`,
        `trap 'rm -rf "$${FILES_VARIABLE}"' EXIT`,
        "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM",
        "",
      ].join("\n"),
    ),
  ];
  const ship = (name: string, content: string) => {
    const bytes = Buffer.from(content, "utf8");
    parts.push(Buffer.from(`head -c ${bytes.length} > "$${FILES_VARIABLE}/${name}" || exit 1\n`), bytes);
  };
  for (const name of Object.keys(files).sort()) {
    checkHostFileName(name);
    ship(name, files[name]);
  }
  ship(SCRIPT_FILE, script);
  // Not `exec`: the EXIT trap above must run after the script. stdin is not the script's.
  parts.push(Buffer.from(`\numask "$dbstack_umask"; unset dbstack_umask\nbash "$${FILES_VARIABLE}/${SCRIPT_FILE}" </dev/null\n`));
  return Buffer.concat(parts);
}

/** A rendered script and the files it reads from $DBSTACK_FILES (see renderShippedScript). */
export interface ShippedScript {
  script: string;
  files: Record<string, string>;
}
