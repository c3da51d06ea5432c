// When a box's next automatic snapshot is due: pure functions of the policy, the schedule's
// state and the clock, shared by the scheduler (is one due now?) and by protect:get (when?).
import type { ProtectPolicy } from '../../../shared/types.js';
import type { ScheduleState } from './policy-store.js';

const MINUTE = 60_000;

/**
 * The local HH:MM of the day `days` after the day of `now`, each day built from its own date:
 * moving a slot by a day would carry a daylight-saving shift (02:30 read as 03:30 on the day
 * 02:30 is skipped) into the days around it, and serve that day twice.
 */
function slotOn(dailyAt: string, now: number, days: number): number {
  const [h, m] = dailyAt.split(':').map(Number) as [number, number];
  const d = new Date(now);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + days, h, m).getTime();
}

/** The latest local HH:MM at or before `now`. */
export function lastDailySlot(dailyAt: string, now: number): number {
  const today = slotOn(dailyAt, now, 0);
  return today <= now ? today : slotOn(dailyAt, now, -1);
}

/** The first local HH:MM after `now`. */
function nextDailySlot(dailyAt: string, now: number): number {
  const today = slotOn(dailyAt, now, 0);
  return today > now ? today : slotOn(dailyAt, now, 1);
}

/** Running time counted so far: what was stored, plus the stretch since the box was last seen running. */
export const runningSoFar = (state: ScheduleState, now: number) => state.runningMs + (state.seenAt === null ? 0 : Math.max(0, now - state.seenAt));

/**
 * Due now (the box runs): its interval of running time is full, or a daily slot passed that no
 * snapshot served. However many intervals or slots were missed, it is one snapshot.
 */
export function isDue(policy: ProtectPolicy, state: ScheduleState, now: number): boolean {
  if (!policy.enabled) return false;
  if (policy.everyMinutes !== null && runningSoFar(state, now) >= policy.everyMinutes * MINUTE) return true;
  return policy.dailyAt !== null && lastDailySlot(policy.dailyAt, now) > (state.dailyAt ?? Number.POSITIVE_INFINITY);
}

/** When the next one comes if the box keeps running; null when it does not run or nothing is scheduled. */
export function nextRunAt(policy: ProtectPolicy, state: ScheduleState, running: boolean, now: number): number | null {
  if (!policy.enabled || !running) return null;
  if (isDue(policy, state, now)) return now;
  const at: number[] = [];
  if (policy.everyMinutes !== null) at.push(now + policy.everyMinutes * MINUTE - runningSoFar(state, now));
  if (policy.dailyAt !== null) at.push(nextDailySlot(policy.dailyAt, now));
  return at.length ? Math.min(...at) : null;
}

/** The state right after an automatic snapshot: the interval starts again, the daily slot is served. */
export function afterSnapshot(policy: ProtectPolicy, running: boolean, now: number): ScheduleState {
  return { runningMs: 0, seenAt: running ? now : null, dailyAt: policy.dailyAt !== null ? lastDailySlot(policy.dailyAt, now) : null };
}
