// Live snapshot of a running box without pausing it: the overlay is made and opened in QEMU
// first, then one QMP `transaction` switches QEMU's writes to it (atomic, between two guest
// requests), and only then are the files renamed, under the intent: QEMU keeps its fds, so
// the renames change nothing it reads. A snapshot with memory still pauses (see below).
// Recovery: settle.ts.
import fs from 'node:fs';
import path from 'node:path';
import type { Box, Snapshot } from '../../../../shared/types.js';
import type { HomeData } from '../../deps.js';
import { BoxkeepError, vmError } from '../../../../shared/errors.js';
import { roundMs, type Logger } from '../../logger.js';
import { msFromEnv } from '../../env.js';
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

/**
 * What live snapshots need: the home, the log, the session of the box's running QEMU, and who
 * settles a snapshot left unsettled once its QEMU answers or exits (recovery/settle-later.ts).
 */
export type LiveDeps = HomeData & { logger: Logger; sessions: Pick<Supervisor, 'session'>; unsettled: UnsettledWatch };

/** A live snapshot given up on: QEMU did not say whether it switched (see pastPointOfNoReturn). */
export interface LeftUnsettled {
  box: Box;
  intent: LiveCreateIntent;
  session: QemuSession;
  /** The thaw of the guest's filesystems, going on in the background (it gives up after a while). */
  thawing: Promise<void>;
}

export interface UnsettledWatch {
  /** Settles it, in the box's queue, once its QEMU answers again or exits; returns at once. */
  watch(left: LeftUnsettled): void;
  /**
   * A live removal that failed after its merge began left its record (forward only): settled as
   * recovery settles it, in the box's queue, tried again until it is; returns at once.
   */
  retryLeft(boxId: string, intentId: string, snapshotId: string): void;
}

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
  // Before the switch, so it costs the guest nothing; the screen a moment before the freeze.
  await keepPicture(core.logger, session, box, snapshot);
  liveCreate.crash('after-picture');
  // Made and opened before the switch: the switch itself then only moves QEMU's writes.
  await writeNextOverlay(core, box, snapshot.diskPath, { backingMayNotExistYet: true });
  await addOverlayNodes(session, core.paths.nextDisk(box.id), intent);
  // The variables' copy and its fsync before the switch too; after it, only a compare (efivars.ts).
  let keptVars: Buffer | null;
  let capture: MemoryCapture | null = null;
  try {
    keptVars = keepVars(core, box, snapshot.id);
    if (intent.memory) capture = await openCapture(session, path.dirname(snapshot.diskPath), core.logger);
    // Everything the switch needs is on disk: a QEMU found dead from here on is completed
    // forward by recovery (settle.ts), whether it switched or not.
    intent.ready = true;
    writeIntent(journal, intent);
  } catch (err) {
    capture?.close();
    await undoCreate(core, session, box, intent, false);
    throw err;
  }
  liveCreate.crash('after-overlay');
  // Application-consistent when the guest's agent answers; thawed on every way out below.
  const guest = await freezeFilesystems(core, session, box, intent);
  liveCreate.crash('after-freeze-fs');
  // With memory the guest pauses: RAM and disk must be one instant, and the RAM is fixed only
  // once the migration has started (memory.ts), which comes after the switch; a guest running
  // in between would write to the new overlay what the RAM then would not hold. A disk alone
  // needs no pause: the transaction moves QEMU's writes between two guest requests.
  const pause = capture !== null && !intent.wasPaused;
  session.quiescing = pause;
  const started = performance.now();
  const marks: { switched?: number; resumed?: number; renamed?: number } = {};
  let thawLater = false;
  try {
    if (pause) {
      await session.qmp.execute('stop');
      liveCreate.crash('after-pause');
    }
    await switchToOverlay(session, intent);
    marks.switched = performance.now();
    liveCreate.crash('after-switch');
    // No pause to sit in any more: the variables right after the switch, the nearest instant
    // to the disk's (a variable the guest changes in between goes to the next snapshot).
    keepVarsAgain(core, box, snapshot.id, keptVars);
    liveCreate.crash('after-vars');
    // The RAM at the disk's instant: the migration starts before the guest runs again.
    if (capture) await startMemory(session, capture);
    liveCreate.crash('after-migrate');
    if (pause) await session.qmp.execute('cont');
    marks.resumed = performance.now();
    await guest.thaw();
    // QEMU writes to the overlay by its fd: the renames change nothing it reads.
    completeRenames(core, box, snapshot.diskPath, () => liveCreate.crash('after-freeze'));
    marks.renamed = performance.now();
    liveCreate.crash('after-install');
    // Recovery rebuilds the map from QEMU's own node list if we die first.
    writeNodes(session.runDir, session.nodes);
    liveCreate.crash('after-resume');
  } catch (err) {
    session.quiescing = false;
    const outcome = await pastPointOfNoReturn(session, intent, core.logger);
    if (outcome === 'unknown') {
      // Neither way is safe to finish now: the intent stays as it is, and the same settle as
      // recovery's runs once QEMU answers or exits (the owner watches for either). The thaw
      // and a `cont` queue behind the transaction in QEMU.
      thawLater = true;
      capture?.close();
      if (pause) void session.qmp.execute('cont').catch(() => undefined);
      core.unsettled.watch({ box, intent, session, thawing: guest.thaw() });
      throw unsettledError(box, intent, session.pid, err);
    }
    if (outcome === 'not-switched') {
      await guest.thaw();
      capture?.close();
      await undoCreate(core, session, box, intent, pause);
      throw err;
    }
    // QEMU writes to the new overlay (or is gone: forward is consistent then, see settle.ts):
    // the old live disk is the snapshot now, and undoing would lose what the guest wrote since.
    if (pause) await session.qmp.execute('cont').catch(() => undefined);
    completeRenames(core, box, snapshot.diskPath);
    try {
      writeNodes(session.runDir, session.nodes);
    } catch (writeErr) {
      core.logger.warn('node map not written', { op: 'live-create', boxId: box.id, error: String(writeErr) });
    }
    core.logger.warn('live snapshot finished despite an error after the switch', { op: 'live-create', boxId: box.id, snapshotId: snapshot.id, error: String((err as Error).message ?? err) });
  } finally {
    session.quiescing = false;
    // A QEMU that does not answer would hold the command (and the box) for the thaw's retries:
    // that thaw goes on in the background (handed to the watch above).
    if (!thawLater) await guest.thaw();
  }
  const memory = capture && intent.memory ? await finishMemory(session, capture, intent.memory, core.logger) : null;
  liveCreate.crash('after-memory');
  const row = commitCreateRow(core, { ...intent.snapshot, live: true, ...(memory ? { taken: 'with-memory' as const, memory } : {}) });
  liveCreate.crash('after-row');
  if (capture) forgetSum(capture.partial);
  clearIntent(journal, intent.id);
  if (memory) core.logger.info('memory kept', { op: 'live-create', boxId: box.id, snapshotId: snapshot.id, mode: capture!.background ? 'background' : 'paused', bytes: memory.size });
  const { switched = started, resumed = switched, renamed = resumed } = marks;
  // What the guest can notice: the switch's round trip (QEMU drains the disk's requests for
  // it), and with memory the pause from stop to cont. The renames and fsyncs come after, unseen.
  core.logger.info('live snapshot stall', {
    op: 'live-create', boxId: box.id, snapshotId: snapshot.id, paused: pause,
    stall_ms: roundMs((pause ? resumed : switched) - started), switch_ms: roundMs(switched - started),
    rename_ms: roundMs(renamed - resumed),
  });
  return row;
}

/**
 * After the switch, the two renames in the only order that keeps every state settleable:
 * live disk → snapshot path, then .next.qcow2 → live path (it backs onto the snapshot path).
 * Idempotent: each is done only when its source is still there.
 */
export function completeRenames(core: HomeData, box: Pick<Box, 'id'>, frozen: string, afterFirst: () => void = () => {}): void {
  if (!fs.existsSync(core.paths.nextDisk(box.id))) return;
  if (!fs.existsSync(frozen)) freezeLiveDisk(core, box, frozen, { sync: false });
  afterFirst();
  installNextOverlay(core, box, { sync: false });
  syncDisks(core, box, frozen);
}

/**
 * Freezes the guest's filesystems through its agent (a paused guest cannot run it), for the
 * switch only: thawed right after it, before the renames. Once frozen, the intent says so
 * before anything else: a recovery that completes the snapshot records it as
 * filesystems-frozen, which it is, the disk having been switched while frozen.
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
      await undoCreate(core, session, box, intent, false);
      throw err;
    }
  }
  return guest;
}

/**
 * Does QEMU already write to the new overlay? A QEMU gone meanwhile counts as switched: the
 * overlay was whole before the switch was asked for, so completing forward is consistent
 * whether the switch ran or not (settle.ts says why). A QEMU alive but not answering (a
 * transaction that timed out while QEMU drains a slow disk) is asked again: QMP answers in
 * order, so its answer comes after the transaction's outcome, and undoing on a guess would
 * delete the overlay QEMU may be about to write the guest's data to. Asked for so long only
 * (switchWaitMs): a QEMU hung for ever must not hold the box for ever, and 'unknown' leaves
 * the intent for recovery, which asks again (or finds QEMU gone) before it touches a file.
 */
async function pastPointOfNoReturn(session: QemuSession, intent: LiveCreateIntent, logger: Logger): Promise<'switched' | 'not-switched' | 'unknown'> {
  if (session.nodes.top.format === intent.newTop.format) return 'switched';
  const limit = switchWaitMs();
  for (const started = performance.now(); ; ) {
    try {
      const top = bootDiskTop(await session.qmp.execute<BlockDevice[]>('query-block', undefined, { timeoutMs: 3000 }));
      if (top === intent.newTop.format) {
        session.nodes = afterSwitch(session.nodes, switched(intent));
        return 'switched';
      }
      return 'not-switched';
    } catch (err) {
      if (session.qmp.closed) return 'switched';
      const waited = performance.now() - started;
      const facts = { op: 'live-create', boxId: intent.boxId, snapshotId: intent.snapshot.id, waited_ms: roundMs(waited), error: String((err as Error).message ?? err) };
      if (waited >= limit) {
        logger.error('QEMU does not say whether the live snapshot switched; left for recovery', facts);
        return 'unknown';
      }
      logger.warn('QEMU does not say whether the live snapshot switched; asking again', facts);
    }
  }
}

/** How long a live snapshot asks a QEMU that does not answer whether it switched (BOXKEEP_SWITCH_WAIT_MS: tests). */
const switchWaitMs = () => msFromEnv('BOXKEEP_SWITCH_WAIT_MS', SWITCH_WAIT_MS);
const SWITCH_WAIT_MS = 60_000;

function unsettledError(box: Box, intent: LiveCreateIntent, pid: number, cause: unknown): BoxkeepError {
  const name = JSON.stringify(intent.snapshot.name);
  return vmError(
    `The live snapshot ${name} of the box ${JSON.stringify(box.name)} is unsettled: its QEMU (pid ${pid}) did not say within ${Math.round(switchWaitMs() / 1000)} s ` +
      `whether it switched to the snapshot's new disk, so nothing was undone (QEMU may still switch and write to it). It is settled when QEMU answers or exits: ` +
      `by Boxkeep itself while the app or "boxkeep serve" holds the home, else by "boxkeep recover" then (or the next opening of the home). Until then the box accepts no changes; ` +
      `"boxkeep box stop ${box.name} --force" ends a QEMU that never answers.`,
    cause,
  );
}

/** A failed step before the switch (no file was renamed yet): drop the overlay, resume a guest we paused. */
async function undoCreate(core: HomeData, session: QemuSession, box: Box, intent: LiveCreateIntent, resume: boolean): Promise<void> {
  if (resume) await session.qmp.execute('cont').catch(() => undefined);
  await dropOverlayNodes(session, intent);
  fs.rmSync(core.paths.nextDisk(box.id), { force: true });
  fs.rmSync(path.dirname(intent.snapshot.diskPath), { recursive: true, force: true });
  clearIntent(core.paths.boxJournal(box.id), intent.id);
}

/**
 * Opens the prepared overlay in QEMU as two separate nodes, before the switch: opening a qcow2
 * node reads its header, which need not hold the guest up. The file node keeps its fd across
 * the renames that follow the switch, and being opened read-write it is never reopened by its (then
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

/**
 * Makes the added overlay the top QEMU writes to (the caller persists the node map): one
 * `transaction`, which QEMU runs with the disk's requests drained, so the guest's writes go
 * either wholly below or wholly above the switch, never paused.
 */
export async function switchToOverlay(session: QemuSession, intent: LiveCreateIntent): Promise<void> {
  await session.qmp.execute('transaction', { actions: [{ type: 'blockdev-snapshot', data: { node: intent.oldTop.format, overlay: intent.newTop.format } }] });
  session.nodes = afterSwitch(session.nodes, switched(intent));
}

/** The node-map transition a live snapshot's intent describes. */
export const switched = (intent: LiveCreateIntent) => ({ generation: intent.generation, newTop: intent.newTop, oldTop: intent.oldTop, snapshotId: intent.snapshot.id });
