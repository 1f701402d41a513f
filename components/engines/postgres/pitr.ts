/** PostgreSQL's point-in-time recovery (engines/pitr.ts), delegating to pitrScripts.ts. */
import type { PitrEngine, PitrSpec } from "../pitr";
import type { ClusterLocation } from "./host";
import { PITR_PEER_HOST_KEYS_VARIABLE, PITR_PEER_KEY_VARIABLE, PITR_REPO_HOME, PITR_REPO_USER, PITR_SSH_KEY_VARIABLE, pitrKeyComments, pitrStandbyHostKeysVariable, renderRepoHostRemove, renderRepoHostSetup, renderStandbyRemove, renderStandbySetup } from "./pitrRemote";
import { dataDir } from "./pitrScripts";
import { PITR_CIPHER_VARIABLE, renderPitrBackup, renderPitrDrill, renderPitrRemove, renderPitrRestore, renderPitrSetup, type PostgresPitrSpec } from "./pitrScripts";

const at = (loc: ClusterLocation, spec: PitrSpec): PostgresPitrSpec => ({ ...loc, ...spec });
const remoteAt = (loc: ClusterLocation, spec: PitrSpec) => {
  if (!spec.remote) throw new Error(`pitr: deployment ${spec.name} has no repository host`);
  return { ...loc, ...spec, remote: spec.remote };
};

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
  repositoryHost: {
    renderSetup: (loc, spec) => renderRepoHostSetup(remoteAt(loc, spec)),
    renderRemove: (loc, spec, allow) => renderRepoHostRemove(remoteAt(loc, spec), allow),
    user: PITR_REPO_USER,
    home: PITR_REPO_HOME,
    keyComments: (spec) => pitrKeyComments(spec.stanza),
    variables: { privateKey: PITR_SSH_KEY_VARIABLE, peerKey: PITR_PEER_KEY_VARIABLE, peerHostKeys: PITR_PEER_HOST_KEYS_VARIABLE },
    // A standby's own location is not the primary's: its renderers read the standby's spec only.
    renderStandby: (spec, standby) => renderStandbySetup(remoteAt({ cluster: standby.name, port: standby.port, dataDirectory: standby.dataDirectory }, spec), standby),
    renderStandbyRemove: (spec, standby) => renderStandbyRemove(remoteAt({ cluster: standby.name, port: standby.port, dataDirectory: standby.dataDirectory }, spec), standby),
    standbyOf: (loc) => ({ dataDirectory: dataDir(loc), port: loc.port }),
    standbyHostKeysVariable: pitrStandbyHostKeysVariable,
  },
};
