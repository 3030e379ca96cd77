/**
 * The replay master (src/demo/replay-master.ts) for the tests: sessions by fixture name.
 */
import { ReplayMaster as SessionReplayMaster, type ReplayMasterOptions } from '../../src/demo/replay-master.js';
import { loadSession, sessionDir } from './recording.js';

export { recordedFlowReply } from '../../src/demo/replay-master.js';
export type { ReplayConnectionLog, ReplayMasterOptions } from '../../src/demo/replay-master.js';

/** Loads a recorded session (flow ids read from `DFLY FLOW`, also after an AUTH). */
export const loadRecordedSession = loadSession;

/** A replay master started by fixture session name (`types`, `partial`, …). */
export const ReplayMaster = {
  start(name: string, options?: ReplayMasterOptions): Promise<SessionReplayMaster> {
    return SessionReplayMaster.start(sessionDir(name), options);
  },
};
export type ReplayMaster = SessionReplayMaster;
