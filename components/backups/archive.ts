import { renderPrivateDir, shellQuote } from "../shell";
import type { BackupPolicy } from "./policy";

/**
 * Matches the UTC timestamp in a backup's name (20261121T020000Z) and nothing else, so that the
 * backups of database "app" never match those of "app-logs" kept in the same directory.
 */
export const STAMP_GLOB = "[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z";

/** The off-host command's file beside the backup tool: `<tool>.off-host`. */
export const OFF_HOST_SUFFIX = ".off-host";

/**
 * The files to install beside the backup tool `tool` (renderInstallTools entries): the declared
 * off-host command, 0600, which the tool runs with bash. None when no command is declared.
 */
export function offHostCommandFiles(policy: BackupPolicy, tool = "backup"): [string, string, "0600"][] {
  return policy.offHostCommand ? [[`${tool}${OFF_HOST_SUFFIX}`, policy.offHostCommand.endsWith("\n") ? policy.offHostCommand : `${policy.offHostCommand}\n`, "0600"]] : [];
}

/**
 * Shell shared by every engine's backup script, after the engine has written a consistent
 * snapshot to "$work/<snapshot>": compress, optionally encrypt, move into place 0600 under a
 * UTC-timestamped name, copy off-host, apply retention. Uses $NAME, $DEST, $work and fail().
 */
export function renderArchiveSteps(policy: BackupPolicy, snapshotFile: string, extension: string): string {
  const encrypted = policy.gpgRecipient !== undefined;
  const final = `${extension}.gz${encrypted ? ".gpg" : ""}`;
  const lines = [
    `gzip -6 -c "$work/${snapshotFile}" > "$work/archive.gz"`,
  ];
  if (encrypted) {
    lines.push(
      `gpg --batch --yes --trust-model always --recipient ${shellQuote(policy.gpgRecipient!)} --output "$work/archive.gz.gpg" --encrypt "$work/archive.gz" \\`,
      '  || fail "gpg could not encrypt to the backup recipient (is its public key in this user\'s keyring?)"',
      'rm -f "$work/archive.gz"',
    );
  }
  lines.push(
    `file="$DEST/$NAME-$stamp${final}"`,
    `mv "$work/archive.gz${encrypted ? ".gpg" : ""}" "$file"`,
    'chmod 600 "$file"',
  );
  if (policy.offHostCommand) {
    lines.push(
      "# The off-host command is the user's text: a 0600 file beside this tool (offHostCommandFiles), never part of it.",
      `BACKUP_FILE="$file" bash "\${BASH_SOURCE[0]}${OFF_HOST_SUFFIX}" || fail "off-host copy command failed (exit $?)"`,
    );
  }
  lines.push(
    `# Retention: only this database's backups (encrypted or not), only after a new one exists.`,
    `find "$DEST" -maxdepth 1 -type f -name "$NAME-${STAMP_GLOB}${extension}.gz*" -mmin +${policy.retentionDays * 24 * 60} -print -delete | sed 's/^/expired: /'`,
    'echo "$(date -u +%FT%TZ) backup ok: $file ($(stat -c %s "$file") bytes)"',
  );
  return lines.join("\n");
}

/** Shell prelude of every backup script: names, failure logging, a private work directory. */
export function renderBackupPrelude(name: string, policy: BackupPolicy): string {
  return [
    `NAME=${shellQuote(name)}`,
    `DEST=${shellQuote(policy.dir)}`,
    'fail() {',
    '  local msg="dbstack backup of $NAME failed: $*"',
    '  echo "$(date -u +%FT%TZ) $msg" >&2',
    '  logger -t dbstack-backup -p user.err "$msg" 2>/dev/null || true',
    '  exit 1',
    '}',
    `trap 'fail "command failed at line $LINENO: $BASH_COMMAND"' ERR`,
    renderPrivateDir('"$DEST"', "backup.dir"),
    'stamp=$(date -u +%Y%m%dT%H%M%SZ)',
    'work=$(mktemp -d "$DEST/.partial.XXXXXX")',
    "trap 'rm -rf \"$work\"' EXIT",
  ].join("\n");
}

/** Shell that picks the backup to restore: "$1" if given, else the newest of this database's. */
export function renderPickBackup(extension: string): string {
  return [
    'if [ $# -ge 1 ]; then backup="$1"; else',
    `  backup=$(find "$DEST" -maxdepth 1 -type f -name "$NAME-${STAMP_GLOB}${extension}.gz*" | sort | tail -n 1)`,
    "fi",
    '[ -n "$backup" ] && [ -f "$backup" ] || { echo "no backup to restore in $DEST (give a file as the first argument)" >&2; exit 1; }',
    'case "$backup" in',
    '  *.gpg) gpg --batch --quiet --decrypt "$backup" | gunzip -c > "$work/restored" ;;',
    '  *) gunzip -c "$backup" > "$work/restored" ;;',
    "esac",
  ].join("\n");
}

/**
 * The start of a server engine's restore, after renderRestoreArgs: a private work directory
 * (removed on exit), the backup picked (renderPickBackup) and its tar unpacked into $work/dump,
 * which must hold the dump of $db, "$work/dump/$db<dumpSuffix>" (".sql", ".dump").
 */
export function renderUnpackDump(dumpSuffix: string, alongside: string[] = []): string {
  for (const suffix of [dumpSuffix, ...alongside]) {
    if (!/^\.[a-z]+$/.test(suffix)) throw new Error(`renderUnpackDump: ${JSON.stringify(suffix)} is not a file suffix such as ".sql"`);
  }
  const members = [dumpSuffix, ...alongside].map((x) => `"./$db${x}"`).join(" ");
  return [
    "work=$(mktemp -d)",
    "trap 'rm -rf \"$work\"' EXIT",
    renderPickBackup(".tar"),
    "# Only this database's files are extracted (tar seeks over the others), to files: a restore",
    "# reading a pipe instead was ~30% slower (measured with bench/backup.ts's data).",
    `tar -tf "$work/restored" | grep -xF -- "./$db${dumpSuffix}" >/dev/null || { echo "backup $backup has no dump of database $db" >&2; exit 1; }`,
    `mkdir "$work/dump"; tar -C "$work/dump" -xf "$work/restored" ${members}; rm -f "$work/restored"`,
  ].join("\n");
}
