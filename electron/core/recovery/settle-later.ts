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
//   the next owner's recovery settles it as any interrupted live snapshot.
import fs from 'node:fs';
import path from 'node:path';
import type { UnsettledSnapshot } from '../../../shared/types.js';
import type { Effects } from '../deps.js';
import { readIntents } from '../journal.js';
import type { SettleDeps } from '../operations.js';
import type { LeftUnsettled, UnsettledWatch } from '../snapshots/live/create.js';
import type { QemuSession } from '../vm/supervisor.js';
import { settleRecord } from './recovery.js';
import { ReportBuilder } from './report.js';

export type SettleLaterDeps = SettleDeps & Effects;

/** How long one question to a silent QEMU waits before it is asked again (its answers come in order). */
const ASK_MS = 30_000;
/** After a settle that could not finish (QEMU silent again, a zombie QEMU not yet reaped): the next try. */
const RETRY_MS = 1000;

export class SettleLater implements UnsettledWatch {
  private readonly watched = new Map<string, LeftUnsettled>();
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
      .catch((err: unknown) => this.core.logger.error('unsettled live snapshot not settled; left for recovery', { ...this.ids(left), error: String((err as Error)?.message ?? err) }))
      .finally(() => {
        if (this.watched.get(left.box.id) === left) this.watched.delete(left.box.id);
      });
  }

  /** The box's unsettled live snapshot, while its record is still there (a `recover` may have settled it first). */
  of(boxId: string): UnsettledSnapshot | null {
    const left = this.watched.get(boxId);
    if (!left || !fs.existsSync(recordFile(this.core, left))) return null;
    return { snapshotName: left.intent.snapshot.name, qemuPid: left.session.pid, since: left.intent.startedAt };
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
    while (!this.closed) {
      const heard = await Promise.race([answerOrExit(left.session), this.stopped]);
      if (heard === 'closed') return;
      // The supervisor records the exit first (stopped, or failed and why).
      if (heard === 'exited') await Promise.race([left.session.closed, this.stopped]);
      const outcome = await this.core.locks.run(left.box.id, () => this.inQueue(() => this.settle(left)));
      if (outcome !== 'kept') return;
      await Promise.race([new Promise((r) => setTimeout(r, RETRY_MS)), this.stopped]);
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

  private async settle(left: LeftUnsettled): Promise<'settled' | 'gone' | 'kept'> {
    const dir = this.core.paths.boxJournal(left.box.id);
    const record = readIntents(dir).intents.find((r) => r.intent.id === left.intent.id);
    const report = new ReportBuilder();
    const outcome = !record ? 'gone' : (await settleRecord(this.core, dir, record, report)) ? 'settled' : 'kept';
    // Whatever the settle put in the trash (trash.ts) is freed after it, as after any operation.
    this.core.trash?.empty();
    for (const item of report.items) this.core.logger[item.level === 'kept' ? 'warn' : 'info']('unsettled live snapshot', { ...this.ids(left), level: item.level, message: item.message });
    this.core.logger.info('unsettled live snapshot checked', { ...this.ids(left), outcome });
    // The box takes changes again, and its tree shows the snapshot (or no longer shows it).
    if (outcome !== 'kept') {
      this.core.events.emit('snapshots:changed', { boxId: left.box.id });
      this.core.events.emit('boxes:changed', { boxId: left.box.id });
    }
    return outcome;
  }

  private ids(left: LeftUnsettled) {
    return { op: 'live-create', boxId: left.box.id, snapshotId: left.intent.snapshot.id };
  }
}

const recordFile = (core: SettleLaterDeps, left: LeftUnsettled) => path.join(core.paths.boxJournal(left.box.id), `${left.intent.id}.json`);

/**
 * Resolves once QEMU answers a question (QMP answers in order: after the transaction it was
 * silent on) or its monitor closes (QEMU exited, or the supervisor let go of it).
 */
async function answerOrExit(session: QemuSession): Promise<'answered' | 'exited'> {
  for (;;) {
    if (session.qmp.closed) return 'exited';
    const asked = performance.now();
    try {
      await session.qmp.execute('query-status', undefined, { timeoutMs: ASK_MS });
      return 'answered';
    } catch {
      // Closed (seen at the top), timed out (still silent: asked again), or an error reply,
      // which is an answer too.
      if (!session.qmp.closed && performance.now() - asked < ASK_MS) return 'answered';
    }
  }
}
