// AutoProtect's verbs: a box's policy (protect:get / protect:set), the automatic snapshot with
// its pruning (used by the scheduler and before a stop), and what the running schedule reports
// (a pause for space, the last failure), which lives in the owner's memory only.
import { BoxkeepError, invalidArgument } from '../../../shared/errors.js';
import { POLICY_OFF, PROTECT_PRESET } from '../../../shared/protect.js';
import type { ChannelInput } from '../../../shared/channels.js';
import { isActive, type Box, type ProtectPolicy, type ProtectStatus, type Snapshot } from '../../../shared/types.js';
import type { BoxService } from '../boxes/service.js';
import type { Effects, HomeData } from '../deps.js';
import type { SnapshotEngine } from '../snapshots/engine.js';
import { afterSnapshot, nextRunAt } from './schedule.js';
import { protectRow, writePolicy, writeState } from './policy-store.js';
import { planPrune, type Calendar } from './retention.js';

export type ProtectDeps = HomeData & Effects & {
  boxes: Pick<BoxService, 'resolve'>;
  snapshots: Pick<SnapshotEngine, 'create' | 'prune'>;
};

/** What the schedule found out about a box; the owner's memory, gone with it. */
interface Runtime {
  pausedReason: string | null;
  lastError: string | null;
}

export class ProtectService {
  private readonly runtime = new Map<string, Runtime>();
  /** The last pruning failure told for each box: told again only when its reason changes. */
  private readonly pruneErrors = new Map<string, string>();
  /** The scheduler's clock when one runs (tests scale it); the wall clock otherwise. */
  now: () => number = Date.now;
  calendar: Calendar = 'local';

  constructor(private readonly core: ProtectDeps) {}

  policy(boxId: string): ProtectPolicy {
    return protectRow(this.core.store, boxId)?.policy ?? POLICY_OFF;
  }

  /** The policy, or `fallback` when the kept one does not read (changed by hand): what turning it off starts from. */
  private policyOr(boxId: string, fallback: ProtectPolicy): ProtectPolicy {
    try {
      return this.policy(boxId);
    } catch {
      return fallback;
    }
  }

  status(boxRef: string): ProtectStatus {
    const box = this.core.boxes.resolve(boxRef);
    const row = protectRow(this.core.store, box.id);
    const policy = row?.policy ?? POLICY_OFF;
    const run = this.runtime.get(box.id);
    const paused = run?.pausedReason ?? null;
    return {
      boxId: box.id, policy,
      nextRunAt: row && !paused ? nextRunAt(policy, row, isActive(box.status), this.now()) : null,
      pausedReason: paused, lastError: run?.lastError ?? null,
    };
  }

  /** The policy replaces the old one whole: what is not given is off (or the preset's, with preset). */
  set(input: ChannelInput<'protect:set'>): ProtectStatus {
    const box = this.core.boxes.resolve(input.box);
    const { box: _ref, off, preset, ...given } = input;
    // A key present with undefined (a transport may keep one) is a field not given.
    const fields = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) as Partial<ProtectPolicy>;
    if (off && (preset || Object.keys(fields).length > 0)) throw invalidArgument('Turning AutoProtect off takes no other setting; give --off alone.');
    const base = off ? { ...this.policyOr(box.id, POLICY_OFF), enabled: false } : { ...(preset ? PROTECT_PRESET : POLICY_OFF), enabled: true };
    const policy: ProtectPolicy = { ...base, ...fields };
    if (policy.enabled && policy.everyMinutes === null && policy.dailyAt === null && !policy.beforeStop) {
      throw invalidArgument(`AutoProtect needs a schedule: give --every (such as 30m), --daily HH:MM, --before-stop, or --preset for ${JSON.stringify(box.name)}.`);
    }
    writePolicy(this.core.store, box.id, policy, afterSnapshot(policy, isActive(box.status), this.now()));
    this.runtime.delete(box.id);
    this.core.logger.info('protect policy set', { op: 'protect-set', boxId: box.id, enabled: policy.enabled });
    this.core.events.emit('protect:changed', { boxId: box.id });
    return this.status(box.id);
  }

  /**
   * An automatic snapshot, then the pruning the policy asks for. The create waits in the box's
   * queue behind any other operation (a busy box is waited for, not skipped). The schedule's
   * state restarts once the snapshot is taken, before pruning: a failed prune never makes
   * the next snapshot come early. Nor does it fail the snapshot (or, refused for space, pause
   * the schedule only to resume it at the next run, two alerts an interval): it is logged, told
   * once per reason, and the next snapshot's pruning tries again.
   */
  async take(box: Box, why: string, opts: { prune?: boolean; when?: (box: Box) => void } = {}): Promise<Snapshot> {
    const snapshot = await this.core.snapshots.create({ box: box.id, description: `Taken automatically by AutoProtect (${why}).` }, { auto: true, when: opts.when });
    const now = this.core.store.getBox(box.id);
    const policy = this.policy(box.id);
    if (protectRow(this.core.store, box.id)) writeState(this.core.store, box.id, afterSnapshot(policy, now ? isActive(now.status) : false, this.now()));
    this.report(box.id, { lastError: null });
    if (opts.prune ?? true) await this.pruneOrTell(box, policy);
    return snapshot;
  }

  private async pruneOrTell(box: Box, policy?: ProtectPolicy): Promise<void> {
    try {
      await this.prune(box.id, policy);
      this.pruneErrors.delete(box.id);
    } catch (err) {
      const message = BoxkeepError.from(err).message;
      this.core.logger.warn('protect prune failed', { op: 'protect-prune', boxId: box.id, error: message });
      if (this.pruneErrors.get(box.id) === message) return;
      this.pruneErrors.set(box.id, message);
      this.core.events.emit('protect:alert', { boxId: box.id, box: box.name, kind: 'prune-failed', message: `AutoProtect of ${JSON.stringify(box.name)} could not prune old automatic snapshots: ${message}` });
    }
  }

  /** Removes what retention no longer keeps, oldest first, each by the normal removal (merges). */
  async prune(boxId: string, policy: ProtectPolicy = this.policy(boxId)): Promise<string[]> {
    if (!policy.enabled) return [];
    const box = this.core.store.getBox(boxId);
    if (!box) return [];
    const removed: string[] = [];
    for (const id of planPrune(this.core.store.listSnapshots(boxId), policy, box.currentSnapshotId, this.calendar)) {
      if (await this.core.snapshots.prune(boxId, id)) removed.push(id);
    }
    if (removed.length) this.core.logger.info('protect pruned', { op: 'protect-prune', boxId, removed: removed.length });
    return removed;
  }

  /**
   * Before a stop asked for: a snapshot of the running box if its policy says so; true when one
   * was taken. A failure is told (an alert) but does not keep the box from stopping: the user
   * asked for the stop. Its pruning waits for afterStop: merges of a running disk would hold
   * the stop (and a forced stop queued behind it) for as long as they take.
   */
  async beforeStop(boxRef: string): Promise<boolean> {
    const box = this.core.boxes.resolve(boxRef);
    let policy: ProtectPolicy;
    try {
      policy = this.policy(box.id);
    } catch (err) {
      // A policy that does not read (changed by hand): told, and the stop goes on.
      const message = BoxkeepError.from(err).message;
      this.core.logger.warn('protect policy unreadable', { op: 'protect-snapshot', boxId: box.id, error: message });
      if (box.status === 'running') this.core.events.emit('protect:alert', { boxId: box.id, box: box.name, kind: 'failed', message: `AutoProtect took no snapshot of ${JSON.stringify(box.name)} before this stop: ${message}` });
      return false;
    }
    if (!policy.enabled || !policy.beforeStop || box.status !== 'running') return false;
    try {
      await this.take(box, 'before a stop', { prune: false });
      return true;
    } catch (err) {
      this.fail(box, err);
      return false;
    }
  }

  /** The pruning of the before-stop snapshot, once the box has stopped; a failure is told as in take(). */
  async afterStop(boxId: string): Promise<void> {
    const box = this.core.store.getBox(boxId);
    if (box) await this.pruneOrTell(box);
  }

  /** The schedule's report on a box; a change is announced so views refresh. */
  report(boxId: string, change: Partial<Runtime>): void {
    const before = this.runtime.get(boxId) ?? { pausedReason: null, lastError: null };
    const after = { ...before, ...change };
    if (after.pausedReason === before.pausedReason && after.lastError === before.lastError) return;
    this.runtime.set(boxId, after);
    this.core.events.emit('protect:changed', { boxId });
  }

  runtimeOf(boxId: string): Runtime {
    return this.runtime.get(boxId) ?? { pausedReason: null, lastError: null };
  }

  /** A failed automatic snapshot: kept as the box's last error and told once, with its reason. */
  fail(box: Box, err: unknown): void {
    const message = BoxkeepError.from(err).message;
    this.core.logger.warn('automatic snapshot failed', { op: 'protect-snapshot', boxId: box.id, error: message });
    this.report(box.id, { lastError: message });
    this.core.events.emit('protect:alert', { boxId: box.id, box: box.name, kind: 'failed', message: `The automatic snapshot of ${JSON.stringify(box.name)} failed: ${message}` });
  }
}
