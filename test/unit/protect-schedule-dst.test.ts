// The daily slot across a daylight-saving change, in a zone that has one (set before any Date
// is made: each test file runs in its own process). Berlin springs from 02:00 to 03:00 on
// 29 March 2026, so 02:30 does not exist that day.
process.env.TZ = 'Europe/Berlin';
import { describe, expect, it } from 'vitest';
import { afterSnapshot, isDue, lastDailySlot, nextRunAt } from '../../electron/core/protect/schedule.js';
import { POLICY_OFF } from '../../shared/protect.js';

const MINUTE = 60_000;
const local = (y: number, m: number, d: number, h: number, min = 0) => new Date(y, m - 1, d, h, min).getTime();

describe('AutoProtect daily slot across daylight saving', () => {
  it('a daily 02:30 gives one snapshot on the day 02:30 is skipped, and is back at 02:30 the day after', () => {
    expect(new Date(local(2026, 3, 29, 3, 10)).getTimezoneOffset()).toBe(-120);
    const daily = { ...POLICY_OFF, enabled: true, dailyAt: '02:30' };
    const served = afterSnapshot(daily, true, local(2026, 3, 28, 12));
    expect(served.dailyAt).toBe(local(2026, 3, 28, 2, 30));
    // Just after the jump: the day's slot has not come yet (02:30 is read as 03:30 that day).
    expect(lastDailySlot('02:30', local(2026, 3, 29, 3, 10))).toBe(local(2026, 3, 28, 2, 30));
    expect(isDue(daily, served, local(2026, 3, 29, 3, 10))).toBe(false);
    expect(isDue(daily, served, local(2026, 3, 29, 3, 40))).toBe(true);
    const after = afterSnapshot(daily, true, local(2026, 3, 29, 3, 40));
    expect(isDue(daily, after, local(2026, 3, 29, 23))).toBe(false);
    expect(nextRunAt(daily, after, true, local(2026, 3, 29, 3, 41))).toBe(local(2026, 3, 30, 2, 30));
    expect(new Date(local(2026, 3, 30, 2, 30)).getHours()).toBe(2);
  });
});
