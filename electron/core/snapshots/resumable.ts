// Whether a restore could resume a snapshot's memory now, asked without restoring: the app's
// Restore dialog promises a running machine only when the restore will give one, and otherwise
// says why and restores the disk alone. The checks are the ones a restore with memory makes
// before it changes anything (engine.ts, incomingMemory, calls the same two): the state file is
// there at its recorded size, and the box's next start (its settings now, this QEMU) could load it.
import fs from 'node:fs';
import type { MemoryResume, Snapshot } from '../../../shared/types.js';
import type { VmControl } from '../vm/control.js';
import { memoryPath } from '../paths.js';

export interface ResumeDeps {
  /** The engine's `get` (named by shape: engine.ts imports this file). */
  snapshots: { get(boxRef: string, snapshotRef: string): Snapshot };
  vms: Pick<VmControl, 'memoryMismatch'>;
}

export async function memoryResume(core: ResumeDeps, boxRef: string, snapshotRef: string): Promise<MemoryResume> {
  const snapshot = core.snapshots.get(boxRef, snapshotRef);
  if (!snapshot.memory) return { resumable: false, reason: 'it was taken without its memory' };
  const why = stateFileProblem(snapshot) ?? (await core.vms.memoryMismatch(snapshot.boxId, snapshot.memory));
  return { resumable: why === null, reason: why };
}

/**
 * The state file missing or not the size recorded (its bytes are checked only as a restore
 * sends them, vm/memory-load.ts); `namingPath`: the message names the file (the restore's
 * error does, the dialog's short reason does not). One check for the dialog's question and the
 * restore itself, so the two cannot disagree.
 */
export function stateFileProblem(snapshot: Snapshot, namingPath = false): string | null {
  const file = memoryPath(snapshot.diskPath);
  const label = namingPath ? `its memory state file (${file})` : 'its memory state file';
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!stat?.isFile()) return `${label} is missing`;
  if (stat.size !== snapshot.memory!.size) return `${label} has ${stat.size} bytes, not the ${snapshot.memory!.size} saved: it was changed or cut short`;
  return null;
}
