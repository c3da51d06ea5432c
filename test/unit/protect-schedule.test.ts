import { describe, expect, it } from 'vitest';
import { afterSnapshot, isDue, lastDailySlot, nextRunAt } from '../../electron/core/protect/schedule.js';
import { POLICY_OFF } from '../../shared/protect.js';
import type { ProtectPolicy } from '../../shared/types.js';

const MINUTE = 60_000;
const local = (y: number, m: number, d: number, h: number, min = 0) => new Date(y, m - 1, d, h, min).getTime();
const policy = (p: Partial<ProtectPolicy>): ProtectPolicy => ({ ...POLICY_OFF, enabled: true, ...p });

describe('AutoProtect schedule', () => {
  it('a daily time missed on three days while nothing ran is one snapshot when the box is next seen, then waits for the next day', () => {
    const daily = policy({ dailyAt: '02:00' });
    const set = afterSnapshot(daily, true, local(2026, 3, 1, 12));
    expect(set.dailyAt).toBe(local(2026, 3, 1, 2));
    expect(isDue(daily, set, local(2026, 3, 2, 1, 59))).toBe(false);
    const seen = local(2026, 3, 4, 9);
    expect(isDue(daily, set, seen)).toBe(true);
    const after = afterSnapshot(daily, true, seen);
    expect(isDue(daily, after, seen + MINUTE)).toBe(false);
    expect(nextRunAt(daily, after, true, seen + MINUTE)).toBe(local(2026, 3, 5, 2));
    expect(isDue(daily, after, local(2026, 3, 5, 2))).toBe(true);
  });

  it('counts running time only: what was stored, plus the stretch since the box was last seen running', () => {
    const every = policy({ everyMinutes: 30 });
    const t = local(2026, 3, 1, 12);
    // 20 minutes counted before a stop, seen running again just now.
    const state = { runningMs: 20 * MINUTE, seenAt: t, dailyAt: null };
    expect(isDue(every, state, t + 9 * MINUTE)).toBe(false);
    expect(isDue(every, state, t + 10 * MINUTE)).toBe(true);
    expect(nextRunAt(every, state, true, t)).toBe(t + 10 * MINUTE);
    // Not running: no next run to show, and a stopped box's count does not grow.
    expect(nextRunAt(every, { ...state, seenAt: null }, false, t + HOUR_LATER)).toBeNull();
    expect(isDue(every, { ...state, seenAt: null }, t + HOUR_LATER)).toBe(false);
  });

  it('the latest daily slot is today\'s once its time has come, else yesterday\'s', () => {
    expect(lastDailySlot('02:00', local(2026, 3, 1, 1, 59))).toBe(local(2026, 2, 28, 2));
    expect(lastDailySlot('02:00', local(2026, 3, 1, 2))).toBe(local(2026, 3, 1, 2));
  });

  it('a policy that is off is never due', () => {
    expect(isDue({ ...policy({ everyMinutes: 1 }), enabled: false }, { runningMs: 10 * MINUTE, seenAt: null, dailyAt: null }, 0)).toBe(false);
  });
});

const HOUR_LATER = 60 * MINUTE;
