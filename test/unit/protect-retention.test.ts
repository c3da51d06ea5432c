import { describe, expect, it } from 'vitest';
import { planPrune, planRetention, type Prunable } from '../../electron/core/protect/retention.js';
import { POLICY_OFF } from '../../shared/protect.js';
import type { ProtectPolicy } from '../../shared/types.js';

const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(`${iso}Z`);
const policy = (keep: Partial<ProtectPolicy>): ProtectPolicy => ({ ...POLICY_OFF, enabled: true, everyMinutes: 60, ...keep });

/** Hourly automatic snapshots through 2026 (8 760), named by their UTC time. */
function yearOfHours(): Prunable[] {
  const out: Prunable[] = [];
  for (let t = at('2026-01-01T00:00:00'); t < at('2027-01-01T00:00:00'); t += HOUR) {
    out.push({ id: new Date(t).toISOString().slice(0, 13), createdAt: t, auto: true, pinned: false });
  }
  return out;
}

describe('retention planner', () => {
  it('a simulated year of hourly snapshots keeps exactly the last, daily, weekly and monthly ones the policy names', () => {
    const year = yearOfHours();
    expect(year).toHaveLength(8760);
    const kept = planRetention(year, policy({ keepLast: 3, keepDaily: 3, keepWeekly: 2, keepMonthly: 3 }), 'utc');
    // By hand: the last three hours; the newest of Dec 31, 30, 29; ISO weeks 53 (Dec 28 – Jan 3)
    // and 52 (Dec 21 – 27, newest Sunday 23:00); months December, November, October.
    expect([...kept].sort()).toEqual([
      '2026-10-31T23', '2026-11-30T23', '2026-12-27T23', '2026-12-29T23', '2026-12-30T23',
      '2026-12-31T21', '2026-12-31T22', '2026-12-31T23',
    ]);
  });

  it('keep-hourly keeps the newest of each hour, not every snapshot in it', () => {
    const s = [0, 10, 20, 70, 80].map((m) => ({ id: `m${m}`, createdAt: at('2026-03-01T00:00:00') + m * 60_000 }));
    expect([...planRetention(s, policy({ keepHourly: 2 }), 'utc')].sort()).toEqual(['m20', 'm80']);
  });

  it('pruning a year keeps pinned and manual snapshots and the current one, and names every other automatic one the policy does not keep', () => {
    const year = yearOfHours();
    const pinned = year[1000]!;
    pinned.pinned = true;
    const current = year[2000]!;
    const manual: Prunable[] = [{ id: 'manual-march', createdAt: at('2026-03-03T03:30:00'), auto: false, pinned: false }];
    const p = policy({ keepLast: 3, keepDaily: 3, keepWeekly: 2, keepMonthly: 3 });
    const pruned = planPrune([...year, ...manual], p, current.id, 'utc');
    expect(pruned).toHaveLength(8760 - 8 - 2);
    expect(pruned).not.toContain(pinned.id);
    expect(pruned).not.toContain(current.id);
    expect(pruned).not.toContain('manual-march');
    expect(pruned).not.toContain('2026-12-31T23');
    // Oldest first: each merge then carries the least.
    expect(pruned[0]).toBe('2026-01-01T00');
  });

  it('a policy that keeps nothing by any rule prunes nothing', () => {
    expect(planPrune(yearOfHours().slice(0, 50), policy({}), null, 'utc')).toEqual([]);
  });
});
