// A start's mark in the box's run folder: there from just before QEMU's spawn until its `cont`
// went through. QEMU's run state alone cannot tell a start killed after a memory state loaded
// (paused, the state's digest maybe never compared: memory-load.ts) from a guest the user
// paused; with the mark there, a paused QEMU is a start that never finished, and is stopped
// (supervisor.ts: adoptOne). No fsync: it guards against the owner's death, and a host crash
// takes QEMU with it.
import fs from 'node:fs';
import path from 'node:path';

const MARK = 'starting';

export function markStarting(runDir: string): void {
  fs.writeFileSync(path.join(runDir, MARK), '');
}

export function clearStarting(runDir: string): void {
  fs.rmSync(path.join(runDir, MARK), { force: true });
}

export function isStarting(runDir: string): boolean {
  return fs.existsSync(path.join(runDir, MARK));
}
