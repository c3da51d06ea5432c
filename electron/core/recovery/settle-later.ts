// A live snapshot left unsettled (live/create.ts: its QEMU did not say whether it switched)
// keeps its box locked until it is settled. The owner does not wait for `boxkeep recover` or
// the next opening of the home: it keeps asking that QEMU, and as soon as QEMU answers again
// (it was only slow, or was stopped and continued) or exits (killed, force-stopped), recovery's
// own settle of that record runs, in the box's queue. Race-safe by construction:
// - a user's `recover` holds every box's queue: whichever comes first settles the record, the
//   other finds it gone (it is looked up again inside the queue);
// - a stop (force or not) runs in the box's queue too; QEMU's exit is waited for until the
//   supervisor recorded it, so the settle finds the box stopped (or failed) as it ends;
// - closing the home stops the watch and waits for a settle in progress; the record stays, and
//   the next owner's recovery settles it as any interrupted live snapshot, or, when that QEMU
//   still does not answer, leaves it to its own owner's watch (retryKept: recovery tried again,
//   ever less often, until it settles).
// A live removal by commit that failed after its merge began (live/commit.ts) leaves its record
// too (forward only) and refuses changes the same way: retryLeft settles it as recovery would,
// on the same schedule, so the box does not wait for a `recover`.
import fs from 'node:fs';
import path from 'node:path';
import type { UnsettledSnapshot } from '../../../shared/types.js';
import type { Effects } from '../deps.js';
import { msFromEnv } from '../env.js';
import { findIntent, readIntents } from '../journal.js';
import type { SettleDeps } from '../operations.js';
import type { LeftUnsettled, UnsettledWatch } from '../snapshots/live/create.js';
import type { LiveCommitIntent, LiveCreateIntent } from '../snapshots/live/intents.js';
import { readFingerprint, runDirFor } from '../vm/qemu.js';
import { isTimeout } from '../vm/qmp.js';
import type { QemuSession } from '../vm/supervisor.js';
import { settleRecord } from './recovery.js';
import { ReportBuilder } from './report.js';

export type SettleLaterDeps = SettleDeps & Effects;

/** How long one question to a silent QEMU waits before it is asked again (its answers come in order). */
const ASK_MS = 30_000;
/**
 * After a settle that could not finish (QEMU silent again, a zombie QEMU not yet reaped), and
 * before a failed live removal's first try: the first next try, then twice as long each time, up
 * to RETRY_MAX_MS. BOXKEEP_SETTLE_RETRY_MS lengthens it (a test of what `recover` alone does).
 */
const retryMs = () => msFromEnv('BOXKEEP_SETTLE_RETRY_MS', 1000);
const RETRY_MAX_MS = 60_000;

export class SettleLater implements UnsettledWatch {
  private readonly watched = new Map<string, LeftUnsettled>();
  /** Boxes whose record the home's recovery kept (its QEMU did not answer then): tried again. */
  private readonly retrying = new Set<string>();
  /** Records of live removals being tried again (retryLeft): intent id → box id. */
  private readonly retryingLeft = new Map<string, string>();
  /** Settles running now, inside their box's queue: closing waits for them. */
  private readonly settling = new Set<Promise<unknown>>();
  private closed = false;
  private stop!: () => void;
  private readonly stopped = new Promise<'closed'>((resolve) => (this.stop = () => resolve('closed')));

  constructor(private readonly core: SettleLaterDeps) {}

  watch(left: LeftUnsettled): void {
    if (this.closed) return;
    this.watched.set(left.box.id, left);
    void this.follow(left)
      .catch((err: unknown) => this.core.logger.error('unsettled live snapshot not settled; left for recovery', { op: 'live-create', boxId: left.box.id, snapshotId: left.intent.snapshot.id, error: String((err as Error)?.message ?? err) }))
      .finally(() => {
        if (this.watched.get(left.box.id) === left) this.watched.delete(left.box.id);
      });
  }

  /**
   * The box's unsettled live snapshot, while its record is still there (a `recover` may have
   * settled it first): one this owner watches, or one the home's recovery had to keep.
   */
  of(boxId: string): UnsettledSnapshot | null {
    const left = this.watched.get(boxId);
    if (left && fs.existsSync(recordFile(this.core, boxId, left.intent.id))) return { kind: 'snapshot', snapshotName: left.intent.snapshot.name, qemuPid: left.session.pid, since: left.intent.startedAt };
    const kept = !left && this.retrying.has(boxId) ? keptRecord(this.core, boxId) : null;
    if (kept) return { kind: 'snapshot', snapshotName: kept.snapshot.name, qemuPid: this.qemuPid(boxId), since: kept.startedAt };
    // A live removal this owner is finishing (retryLeft): only then is its record a left-over one.
    if (![...this.retryingLeft.values()].includes(boxId)) return null;
    const removal = findIntent(this.core.paths.boxJournal(boxId), 'live-commit') as LiveCommitIntent | null;
    if (!removal || !this.retryingLeft.has(removal.id)) return null;
    const name = this.core.store.getSnapshot(removal.snapshotId)?.name ?? null;
    return { kind: 'removal', snapshotName: name, qemuPid: this.qemuPid(boxId), since: removal.startedAt };
  }

  private qemuPid(boxId: string): number {
    return readFingerprint(runDirFor(this.core.paths, boxId, { create: false }))?.pid ?? 0;
  }

  /**
   * After the home's recovery: a live snapshot it had to leave unsettled (its QEMU did not answer,
   * so it could not be taken control of) is settled by recovery's own settle, tried again after
   * 1 s, then twice as long each time up to a minute, in the box's queue, until it settles.
   */
  retryKept(): void {
    for (const box of this.core.store.listBoxes()) {
      // A live removal's record recovery had to keep (its QEMU silent, or not to be taken control of).
      const removal = findIntent(this.core.paths.boxJournal(box.id), 'live-commit') as LiveCommitIntent | null;
      if (removal && !this.closed) this.retryLeft(box.id, removal.id, removal.snapshotId);
      const kept = keptRecord(this.core, box.id);
      if (!kept || this.closed || this.retrying.has(box.id) || this.watched.has(box.id)) continue;
      this.retrying.add(box.id);
      void this.retryLoop(box.id, asLeft(kept))
        .catch((err: unknown) => this.core.logger.error('unsettled live snapshot not settled; left for recovery', { op: 'live-create', boxId: box.id, snapshotId: kept.snapshot.id, error: String((err as Error)?.message ?? err) }))
        .finally(() => this.retrying.delete(box.id));
    }
  }

  retryLeft(boxId: string, intentId: string, snapshotId: string): void {
    // One loop per record: every recover asks again (retryKept).
    if (this.closed || this.retryingLeft.has(intentId)) return;
    this.retryingLeft.set(intentId, boxId);
    const left = { id: intentId, op: 'live-commit', snapshotId };
    void this.retryLoop(boxId, left)
      .catch((err: unknown) => this.core.logger.error('interrupted live removal not finished; left for recovery', { op: 'snapshot-remove', boxId, snapshotId, error: String((err as Error)?.message ?? err) }))
      .finally(() => this.retryingLeft.delete(intentId));
  }

  private async retryLoop(boxId: string, record: Left): Promise<void> {
    for (let wait = retryMs(); !this.closed; wait = Math.min(wait * 2, RETRY_MAX_MS)) {
      if ((await Promise.race([sleep(wait), this.stopped])) === 'closed') return;
      const outcome = await this.core.locks.run(boxId, () => this.inQueue(() => this.settle(boxId, record)));
      if (outcome !== 'kept') return;
    }
  }

  /** Stops watching (the home is closing) once a settle in progress has finished; records stay for the next owner. */
  async close(): Promise<void> {
    this.closed = true;
    this.stop();
    await Promise.allSettled([...this.settling]);
    this.watched.clear();
  }

  private async follow(left: LeftUnsettled): Promise<void> {
    // Its agent connection must not compete with the settle's own thaw (QEMU's chardev serves
    // one client): the background thaw ends once QEMU answers, or gives up on its own.
    await Promise.race([left.thawing, this.stopped]);
    for (let wait = retryMs(); !this.closed; wait = Math.min(wait * 2, RETRY_MAX_MS)) {
      const heard = await Promise.race([answerOrExit(left.session), this.stopped]);
      if (heard === 'closed') return;
      // The supervisor records the exit first (stopped, or failed and why).
      if (heard === 'exited') await Promise.race([left.session.closed, this.stopped]);
      const outcome = await this.core.locks.run(left.box.id, () => this.inQueue(() => this.settle(left.box.id, asLeft(left.intent))));
      if (outcome !== 'kept') return;
      await Promise.race([sleep(wait), this.stopped]);
    }
  }

  /** Runs work unless the home is closing, counted so that close() waits for it. */
  private async inQueue<T>(work: () => Promise<T>): Promise<T | 'kept'> {
    if (this.closed) return 'kept';
    const running = work();
    this.settling.add(running);
    try {
      return await running;
    } finally {
      this.settling.delete(running);
    }
  }

  private async settle(boxId: string, left: Left): Promise<'settled' | 'gone' | 'kept'> {
    const ids = { op: left.op, boxId, snapshotId: left.snapshotId };
    const dir = this.core.paths.boxJournal(boxId);
    const record = readIntents(dir).intents.find((r) => r.intent.id === left.id);
    const report = new ReportBuilder();
    const outcome = !record ? 'gone' : (await settleRecord(this.core, dir, record, report)) ? 'settled' : 'kept';
    // Whatever the settle put in the trash (trash.ts) is freed after it, as after any operation.
    this.core.trash?.empty();
    const what = left.op === 'live-create' ? 'unsettled live snapshot' : 'interrupted live removal';
    for (const item of report.items) this.core.logger[item.level === 'kept' ? 'warn' : 'info'](what, { ...ids, level: item.level, message: item.message });
    this.core.logger.info(`${what} checked`, { ...ids, outcome });
    // The box takes changes again, and its tree shows the snapshot (or no longer shows it); the
    // app shows what became of it (taken, or dropped: to be taken again) as after a recovery.
    if (outcome !== 'kept') {
      this.core.events.emit('snapshots:changed', { boxId });
      this.core.events.emit('boxes:changed', { boxId });
      if (report.items.length > 0) this.core.events.emit('recovery:report', { at: Date.now(), elapsedMs: 0, items: report.items });
    }
    return outcome;
  }

}

/** A record this watch settles: its id, and what the log says it was. */
interface Left { id: string; op: string; snapshotId: string }
const asLeft = (intent: LiveCreateIntent): Left => ({ id: intent.id, op: 'live-create', snapshotId: intent.snapshot.id });

const recordFile = (core: SettleLaterDeps, boxId: string, intentId: string) => path.join(core.paths.boxJournal(boxId), `${intentId}.json`);

// Unref'd: a one-shot CLI command's close() ends the watch, and its process must not wait for the timer.
const sleep = (ms: number) => new Promise<'slept'>((resolve) => setTimeout(() => resolve('slept'), ms).unref());

/** A live snapshot's record in the box's journal: one left unsettled (no live snapshot runs outside the box's queue). */
function keptRecord(core: SettleLaterDeps, boxId: string): LiveCreateIntent | null {
  return findIntent(core.paths.boxJournal(boxId), 'live-create') as LiveCreateIntent | null;
}

/**
 * Resolves once QEMU answers a question (QMP answers in order: after the transaction it was
 * silent on) or its monitor closes (QEMU exited, or the supervisor let go of it).
 */
async function answerOrExit(session: QemuSession): Promise<'answered' | 'exited'> {
  for (;;) {
    if (session.qmp.closed) return 'exited';
    try {
      await session.qmp.execute('query-status', undefined, { timeoutMs: ASK_MS });
      return 'answered';
    } catch (err) {
      // Closed (seen at the top), timed out (still silent: asked again; by the client's own
      // word, not the time taken: a timer may fire a little early), or an error reply, which is
      // an answer too.
      if (!session.qmp.closed && !isTimeout(err)) return 'answered';
    }
  }
}
