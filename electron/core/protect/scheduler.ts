// The AutoProtect scheduler, run by the owner of the home (the app, `boxkeep serve`): every
// tick it counts the running time of each protected box and takes the snapshot that is due.
// It takes a clock, so tests and bench/ run a day in a second. Its state is the `protect` rows
// (policy-store.ts): written only when a box is first seen running, seen stopped, or snapshotted,
// so an idle tick reads one query and writes nothing. A crash or a closed owner loses nothing:
// the next owner counts from the stored seenAt, and a box overdue by any number of intervals
// gets one snapshot (isDue), never a catch-up of each one missed.
import type { Box } from '../../../shared/types.js';
import type { Effects, HomeData } from '../deps.js';
import { shortfall, spaceMessage } from '../space.js';
import { snapshotNeeds } from '../snapshots/efivars.js';
import { enabledRow, scheduleRows, writeState, type ProtectRow } from './policy-store.js';
import { afterSnapshot, isDue, runningSoFar } from './schedule.js';
import type { ProtectService } from './service.js';
import { formatMinutes } from '../../../shared/protect.js';
import { BoxkeepError } from '../../../shared/errors.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: Date.now,
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Often enough that a 1-minute interval is kept to within a few seconds' worth. */
export const TICK_MS = 15_000;

export type SchedulerDeps = HomeData & Effects & { protect: ProtectService };

export class ProtectScheduler {
  /** Boxes with a snapshot under way (queued behind another operation, or being taken). */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** When this owner last saw each box running: a stop is credited with the running time up to then. */
  private readonly lastSeen = new Map<string, number>();
  /** Boxes told their policy or row does not read, with what was told. */
  private readonly unreadableTold = new Map<string, string>();
  private timer: unknown = null;
  private stopped = false;

  constructor(
    private readonly core: SchedulerDeps,
    private readonly clock: Clock = systemClock,
    private readonly tickMs = TICK_MS,
  ) {
    core.protect.now = () => clock.now();
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stops ticking and waits for a snapshot under way (the owner closes after it). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Waits for every snapshot the schedule has under way (tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight.values()]);
  }

  /** One pass over every protected box; arms the next one. */
  async tick(): Promise<void> {
    try {
      const now = this.clock.now();
      const { rows, unreadable: policies } = scheduleRows(this.core.store);
      const unreadable = new Map(policies.map((u) => [u.boxId, u.error]));
      for (const row of rows) {
        // A box whose row does not read (changed by hand while this owner runs) is its own trouble too.
        let box: Box | null;
        try {
          box = this.core.store.getBox(row.boxId);
        } catch (err) {
          unreadable.set(row.boxId, err);
          continue;
        }
        if (!box) continue;
        // One box's trouble is its own (a UEFI box whose OVMF files are gone cannot even be
        // sized): it fails that box's snapshot, counted as a try, and the pass goes on.
        try {
          this.visit(box, row, now);
        } catch (err) {
          this.failed(box, err);
        }
      }
      this.tellUnreadable(unreadable);
    } catch (err) {
      this.core.logger.warn('protect tick failed', { op: 'protect-tick', error: (err as Error).message });
    } finally {
      if (!this.stopped) this.timer = this.clock.setTimeout(() => void this.tick(), this.tickMs);
    }
  }

  private visit(box: Box, row: ProtectRow, now: number): void {
    const running = box.status === 'running';
    if (!running) {
      // Seen stopped (or paused): what ran until it was last seen running is kept, and the
      // count stops. A box that stopped while no owner ran is not credited with the time between.
      if (row.seenAt !== null) {
        const until = this.lastSeen.get(box.id);
        writeState(this.core.store, box.id, { ...row, runningMs: until === undefined ? row.runningMs : runningSoFar(row, until), seenAt: null });
        this.core.events.emit('protect:changed', { boxId: box.id });
      }
      this.lastSeen.delete(box.id);
      return;
    }
    this.lastSeen.set(box.id, now);
    if (row.seenAt === null) {
      writeState(this.core.store, box.id, { ...row, seenAt: now });
      row = { ...row, seenAt: now };
      this.core.events.emit('protect:changed', { boxId: box.id });
    }
    if (this.inFlight.has(box.id) || !isDue(row.policy, row, now)) return;
    if (!this.spaceAllows(box)) return;
    const why = row.policy.everyMinutes !== null ? `every ${formatMinutes(row.policy.everyMinutes)} of running time` : `daily at ${row.policy.dailyAt}`;
    const job = this.core.protect.take(box, why, { when: (fresh) => this.stillDue(fresh) }).then(
      () => undefined,
      (err) => this.failed(box, err),
    ).finally(() => this.inFlight.delete(box.id));
    this.inFlight.set(box.id, job);
  }

  /**
   * Inside the box's queue, just before the snapshot: what it was decided on may have changed
   * while it waited there. A box stopped (or paused, or stopping) meanwhile is not snapshotted
   * after the fact: the schedule counts running time, and the box is due again, at once, when
   * it next runs. One snapshotted meanwhile (a stop's before-stop snapshot) is no longer due.
   */
  private stillDue(box: Box): void {
    const row = enabledRow(this.core.store, box.id);
    if (box.status !== 'running') throw new NoLongerDue(`the box is ${box.status} now`);
    if (!row || !isDue(row.policy, row, this.clock.now())) throw new NoLongerDue('it is no longer due (a snapshot was taken, or the policy changed)');
  }

  /**
   * The space guard, asked before the snapshot so a short disk pauses the schedule with one
   * alert instead of a failure every interval; resumes (one alert) once the reserve is free again.
   */
  private spaceAllows(box: Box): boolean {
    const needed = snapshotNeeds(box);
    const short = shortfall(this.core, needed);
    const paused = this.core.protect.runtimeOf(box.id).pausedReason;
    if (short) {
      if (paused === null) this.pause(box, spaceMessage(`The automatic snapshot of ${JSON.stringify(box.name)}`, needed, short.space, short.missing));
      return false;
    }
    if (paused !== null) {
      this.core.protect.report(box.id, { pausedReason: null });
      this.core.events.emit('protect:alert', { boxId: box.id, box: box.name, kind: 'resumed', message: `AutoProtect of ${JSON.stringify(box.name)} resumed: there is space again.` });
    }
    return true;
  }

  /**
   * A box whose policy or row does not read is left out of the schedule until recovery sets the
   * value aside (at the next start, or "boxkeep recover"): told once, and again only when what
   * is wrong changes.
   */
  private tellUnreadable(now: Map<string, unknown>): void {
    for (const [boxId, err] of now) {
      const message = BoxkeepError.from(err).message;
      if (this.unreadableTold.get(boxId) === message) continue;
      this.unreadableTold.set(boxId, message);
      const name = (this.core.store.db.prepare('SELECT name FROM boxes WHERE id = ?').get(boxId) as { name: string } | undefined)?.name ?? boxId;
      this.core.logger.warn('protect row unreadable', { op: 'protect-tick', boxId, error: message });
      this.core.events.emit('protect:alert', { boxId, box: name, kind: 'failed', message: `AutoProtect of ${JSON.stringify(name)} takes no snapshots until this is repaired: ${message}` });
    }
    for (const boxId of this.unreadableTold.keys()) if (!now.has(boxId)) this.unreadableTold.delete(boxId);
  }

  private pause(box: Box, reason: string): void {
    this.core.logger.warn('protect paused for space', { op: 'protect-pause', boxId: box.id });
    this.core.protect.report(box.id, { pausedReason: reason });
    this.core.events.emit('protect:alert', { boxId: box.id, box: box.name, kind: 'paused', message: `AutoProtect of ${JSON.stringify(box.name)} is paused: ${reason}` });
  }

  /**
   * Storage: the guard refused after all (the disk filled between the look and the create):
   * pause as above. InvalidState/NotFound: the box is busy changing (stopping, an unfinished
   * operation, removed): the next tick tries again, quietly. Anything else is a failure, told
   * once, and the schedule moves on as after a snapshot (the interval starts again, the daily
   * slot counts as served) so it is not told, and tried, every tick.
   */
  private failed(box: Box, err: unknown): void {
    if (err instanceof NoLongerDue) {
      this.core.logger.info('automatic snapshot skipped', { op: 'protect-snapshot', boxId: box.id, reason: err.message });
      return;
    }
    const e = BoxkeepError.from(err);
    if (e.code === 'Storage') return this.pause(box, e.message);
    if (e.code === 'InvalidState' || e.code === 'NotFound') {
      this.core.logger.info('automatic snapshot waits: the box is busy', { op: 'protect-snapshot', boxId: box.id, error: e.message });
      return;
    }
    this.core.protect.fail(box, e);
    const row = enabledRow(this.core.store, box.id);
    if (row) writeState(this.core.store, box.id, afterSnapshot(row.policy, true, this.clock.now()));
  }
}

/** A queued automatic snapshot whose reason went away while it waited; skipped quietly. */
class NoLongerDue extends Error {}
