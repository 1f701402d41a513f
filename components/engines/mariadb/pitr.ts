/** MariaDB's point-in-time recovery (engines/pitr.ts): mariadb-backup and archived binary logs, delegating to pitrScripts.ts and pitrRestore.ts. */
import type { PitrEngine, PitrSpec } from "../pitr";
import type { MariadbLocation } from "./host";
import { PITR_ACCOUNT_VARIABLE, PITR_CIPHER_VARIABLE, type MariadbPitrSpec } from "./pitrRepository";
import { ARCHIVE_RUN_S, renderPitrArchive, renderPitrBackup, renderPitrRemove, renderPitrSetup } from "./pitrScripts";
import { renderPitrDrill, renderPitrRestore } from "./pitrRestore";

const at = (loc: MariadbLocation, spec: PitrSpec): MariadbPitrSpec => ({ ...loc, ...spec });

export const mariadbPitr: PitrEngine<MariadbLocation> = {
  cipherVariable: PITR_CIPHER_VARIABLE,
  tools: (loc, spec) => [
    ["pitr-backup", renderPitrBackup(at(loc, spec))],
    ["pitr-archive", renderPitrArchive(at(loc, spec))],
    ["pitr-restore", renderPitrRestore(at(loc, spec))],
    ["pitr-drill", renderPitrDrill(at(loc, spec))],
  ],
  renderSetup: (loc, spec, toolsDir) => renderPitrSetup(at(loc, spec), toolsDir),
  renderRemove: (loc, spec, allow) => renderPitrRemove(at(loc, spec), allow),
  describe: (spec) => `mariadb-backup into ${spec.dir}, binary logs archived every ${spec.archiveTimeoutS}s`,
  restartParameters: { log_bin: "binlog", binlog_format: "ROW" },
  accountVariable: PITR_ACCOUNT_VARIABLE,
  fullOnly: true,
  archiveCommand: `pitr-archive --for ${ARCHIVE_RUN_S}`,
};
