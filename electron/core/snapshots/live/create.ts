// Live snapshot of a running box: the overlay is made before the pause, so the guest is
// paused only for two renames and three QMP commands. Recovery: settle.ts.
import fs from 'node:fs';
import path from 'node:path';
import type { Box, Snapshot } from '../../../../shared/types.js';
import type { HomeData } from '../../deps.js';
import { roundMs, type Logger } from '../../logger.js';
import { mkdirDurable } from '../../fsutil.js';
import { newId } from '../../ids.js';
import { clearIntent, writeIntent } from '../../journal.js';
import { commitCreateRow, freezeLiveDisk, installNextOverlay, syncDisks, writeNextOverlay } from '../steps.js';
import { afterSwitch, bootDiskTop, nextTop, writeNodes, type BlockDevice } from '../../vm/nodes.js';
import type { QemuSession, Supervisor } from '../../vm/supervisor.js';
import { liveCreate, type LiveCreateIntent } from './intents.js';
import { keepPicture } from '../picture.js';
import { keepVars, keepVarsAgain } from '../efivars.js';
import { freezeGuest } from '../../vm/freeze.js';
import { finishMemory, forgetSum, memoryFacts, openCapture, startMemory, type MemoryCapture } from './memory.js';

/** What live snapshots need: the home, the log, and the session of the box's running QEMU. */
export type LiveDeps = HomeData & { logger: Logger; sessions: Pick<Supervisor, 'session'> };

export async function createLive(core: LiveDeps, box: Box, snapshot: Snapshot, opts: { memory?: boolean } = {}): Promise<Snapshot> {
  const session = core.sessions.session(box.id);
  const intent: LiveCreateIntent = {
    id: newId(), op: 'live-create', startedAt: Date.now(), boxId: box.id, snapshot,
    ...nextTop(session.nodes), oldTop: session.nodes.top, wasPaused: box.status === 'paused',
    ...(opts.memory ? { memory: await memoryFacts(session) } : {}),
  };
  const journal = core.paths.boxJournal(box.id);
  writeIntent(journal, intent);
  liveCreate.crash('after-intent');
  mkdirDurable(path.dirname(snapshot.diskPath));
  // Before the pause, so it costs the guest nothing; the screen a moment before the freeze.
  await keepPicture(core.logger, session, box, snapshot);
  liveCreate.crash('after-picture');
  // Made before the pause: creating it inside the pause would triple the pause window.
  await writeNextOverlay(core, box, snapshot.diskPath, { backingMayNotExistYet: true });
  await addOverlayNodes(session, core.paths.nextDisk(box.id), intent);
  // The variables' copy and its fsync outside the pause too; in it, only a compare (efivars.ts).
  let keptVars: Buffer | null;
  let capture: MemoryCapture | null = null;
  try {
    keptVars = keepVars(core, box, snapshot.id);
    if (intent.memory) capture = await openCapture(session, path.dirname(snapshot.diskPath), core.logger);
  } catch (err) {
    capture?.close();
    await undoCreate(core, session, box, intent);
    throw err;
  }
  liveCreate.crash('after-overlay');
  // Application-consistent when the guest's agent answers; thawed on every way out below.
  const guest = await freezeFilesystems(core, session, box, intent);
  liveCreate.crash('after-freeze-fs');
  session.quiescing = true;
  const paused = performance.now();
  let pauseMs = 0;
  const marks: number[] = [];
  try {
    if (!intent.wasPaused) await session.qmp.execute('stop');
    marks.push(performance.now());
    liveCreate.crash('after-pause');
    // The variables at the same instant as the disk.
    keepVarsAgain(core, box, snapshot.id, keptVars);
    liveCreate.crash('after-vars');
    // QEMU keeps its fd on the renamed file: the guest's disk does not move under it.
    freezeLiveDisk(core, box, snapshot.diskPath, { sync: false });
    liveCreate.crash('after-freeze');
    installNextOverlay(core, box, { sync: false });
    syncDisks(core, box, snapshot.diskPath);
    marks.push(performance.now());
    liveCreate.crash('after-install');
    await switchToOverlay(session, intent);
    marks.push(performance.now());
    liveCreate.crash('after-switch');
    // The RAM at the disk's instant: the migration starts before the guest runs again.
    if (capture) await startMemory(session, capture);
    liveCreate.crash('after-migrate');
    if (!intent.wasPaused) await session.qmp.execute('cont');
    pauseMs = performance.now() - paused;
    await guest.thaw();
    // Outside the pause: recovery rebuilds the map from QEMU's own node list if we die first.
    writeNodes(session.runDir, session.nodes);
    liveCreate.crash('after-resume');
  } catch (err) {
    session.quiescing = false;
    if (!(await pastPointOfNoReturn(core, session, box, intent))) {
      capture?.close();
      await undoCreate(core, session, box, intent);
      throw err;
    }
    // QEMU writes to the new overlay (or is gone with the disks complete): the frozen disk
    // is the snapshot now, and undoing would delete what the live disk backs onto.
    if (!intent.wasPaused) await session.qmp.execute('cont').catch(() => undefined);
    try {
      writeNodes(session.runDir, session.nodes);
    } catch (writeErr) {
      core.logger.warn('node map not written', { op: 'live-create', boxId: box.id, error: String(writeErr) });
    }
    core.logger.warn('live snapshot finished despite an error after the switch', { op: 'live-create', boxId: box.id, snapshotId: snapshot.id, error: String((err as Error).message ?? err) });
  } finally {
    session.quiescing = false;
    await guest.thaw();
  }
  const memory = capture && intent.memory ? await finishMemory(session, capture, intent.memory, core.logger) : null;
  liveCreate.crash('after-memory');
  const row = commitCreateRow(core, { ...intent.snapshot, live: true, ...(memory ? { taken: 'with-memory' as const, memory } : {}) });
  liveCreate.crash('after-row');
  if (capture) forgetSum(capture.partial);
  clearIntent(journal, intent.id);
  if (memory) core.logger.info('memory kept', { op: 'live-create', boxId: box.id, snapshotId: snapshot.id, mode: capture!.background ? 'background' : 'paused', bytes: memory.size });
  const [stopped = paused, renamed = paused, switched = paused] = marks;
  core.logger.info('live snapshot pause window', {
    op: 'live-create', boxId: box.id, snapshotId: snapshot.id, pause_ms: roundMs(pauseMs),
    stop_ms: roundMs(stopped - paused), rename_ms: roundMs(renamed - stopped), switch_ms: roundMs(switched - renamed), cont_ms: roundMs(paused + pauseMs - switched),
  });
  return row;
}

/**
 * Freezes the guest's filesystems through its agent (a paused guest cannot run it). Once
 * frozen, the intent says so before anything else: a recovery that completes the snapshot
 * records it as filesystems-frozen, which it is, the disk having been switched while frozen.
 */
async function freezeFilesystems(core: LiveDeps, session: QemuSession, box: Box, intent: LiveCreateIntent) {
  // With memory, no freeze: the state would hold a frozen guest, and a restore would resume it
  // frozen with nobody to thaw it (the thaw goes to the running guest). RAM and disk are one
  // instant anyway, so the restored guest's own caches go with its disk.
  if (intent.wasPaused || intent.memory) return { frozen: false, thaw: async () => {} };
  const guest = await freezeGuest(session.qmp, session.runDir, core.logger, { op: 'live-create', boxId: box.id, snapshotId: intent.snapshot.id });
  if (guest.frozen) {
    intent.snapshot = { ...intent.snapshot, taken: 'filesystems-frozen' };
    try {
      writeIntent(core.paths.boxJournal(box.id), intent);
    } catch (err) {
      await guest.thaw();
      await undoCreate(core, session, box, intent);
      throw err;
    }
  }
  return guest;
}

/** Does QEMU already write to the new overlay, or is it gone with both renames done? */
async function pastPointOfNoReturn(core: HomeData, session: QemuSession, box: Box, intent: LiveCreateIntent): Promise<boolean> {
  if (session.nodes.top.format === intent.newTop.format) return true;
  const installed = !fs.existsSync(core.paths.nextDisk(box.id)) && fs.existsSync(intent.snapshot.diskPath);
  try {
    const top = bootDiskTop(await session.qmp.execute<BlockDevice[]>('query-block', undefined, { timeoutMs: 3000 }));
    if (top === intent.newTop.format) {
      session.nodes = afterSwitch(session.nodes, switched(intent));
      return true;
    }
    return false;
  } catch {
    return session.qmp.closed && installed;
  }
}

/** A failed QMP step before the switch: put the live disk back where QEMU's fd is. */
async function undoCreate(core: HomeData, session: QemuSession, box: Box, intent: LiveCreateIntent): Promise<void> {
  if (session.nodes.top.format !== intent.newTop.format && fs.existsSync(intent.snapshot.diskPath)) {
    fs.rmSync(box.liveDiskPath, { force: true });
    fs.renameSync(intent.snapshot.diskPath, box.liveDiskPath);
  }
  if (!intent.wasPaused) await session.qmp.execute('cont').catch(() => undefined);
  await dropOverlayNodes(session, intent);
  fs.rmSync(core.paths.nextDisk(box.id), { force: true });
  fs.rmSync(path.dirname(intent.snapshot.diskPath), { recursive: true, force: true });
  clearIntent(core.paths.boxJournal(box.id), intent.id);
}

/**
 * Opens the prepared overlay in QEMU as two separate nodes, before the pause: opening a qcow2
 * node reads its header, which need not hold the guest up. The file node keeps its fd across
 * the rename that follows, and being opened read-write it is never reopened by its (then
 * stale) path: QEMU only reopens a file by name to gain write access. Never an inline file
 * child: blockdev-snapshot would reopen that by path, which by then names the new overlay,
 * and from the second snapshot on the guest would read empty data.
 */
export async function addOverlayNodes(session: QemuSession, file: string, intent: LiveCreateIntent): Promise<void> {
  const { qmp } = session;
  await qmp.execute('blockdev-add', { driver: 'file', 'node-name': intent.newTop.file, filename: file });
  await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': intent.newTop.format, file: intent.newTop.file, backing: null });
}

/** Drops overlay nodes that were added but never made the top (an abandoned snapshot). */
export async function dropOverlayNodes(session: QemuSession, intent: LiveCreateIntent): Promise<void> {
  if (session.nodes.top.format === intent.newTop.format) return;
  await session.qmp.execute('blockdev-del', { 'node-name': intent.newTop.format }).catch(() => undefined);
  await session.qmp.execute('blockdev-del', { 'node-name': intent.newTop.file }).catch(() => undefined);
}

/** Makes the added overlay the top QEMU writes to (the caller persists the node map). */
export async function switchToOverlay(session: QemuSession, intent: LiveCreateIntent): Promise<void> {
  await session.qmp.execute('blockdev-snapshot', { node: intent.oldTop.format, overlay: intent.newTop.format });
  session.nodes = afterSwitch(session.nodes, switched(intent));
}

/** The node-map transition a live snapshot's intent describes. */
export const switched = (intent: LiveCreateIntent) => ({ generation: intent.generation, newTop: intent.newTop, oldTop: intent.oldTop, snapshotId: intent.snapshot.id });
