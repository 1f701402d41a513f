/** PostgreSQL's point-in-time recovery (engines/pitr.ts), delegating to pitrScripts.ts. */
import type { PitrEngine, PitrSpec } from "../pitr";
import type { ClusterLocation } from "./host";
import { PITR_CIPHER_VARIABLE, renderPitrBackup, renderPitrDrill, renderPitrRemove, renderPitrRestore, renderPitrSetup, type PostgresPitrSpec } from "./pitrScripts";

const at = (loc: ClusterLocation, spec: PitrSpec): PostgresPitrSpec => ({ ...loc, ...spec });

export const postgresPitr: PitrEngine<ClusterLocation> = {
  cipherVariable: PITR_CIPHER_VARIABLE,
  tools: (loc, spec) => [
    ["pitr-backup", renderPitrBackup(at(loc, spec))],
    ["pitr-restore", renderPitrRestore(at(loc, spec))],
    ["pitr-drill", renderPitrDrill(at(loc, spec))],
  ],
  renderSetup: (loc, spec, toolsDir) => renderPitrSetup(at(loc, spec), toolsDir),
  renderRemove: (loc, spec, allow) => renderPitrRemove(at(loc, spec), allow),
  describe: (spec) => `pgBackRest stanza ${spec.stanza}, archive_timeout ${spec.archiveTimeoutS}s`,
  restartParameters: { archive_mode: "on", wal_level: "replica" },
};
