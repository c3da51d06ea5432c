// The retention planner: which automatic snapshots a policy keeps, as restic's `forget` decides
// it. A pure function of the list and the policy (and the calendar), so a year of hourly
// snapshots is planned in a test, and in bench/, without a disk.
import type { ProtectPolicy } from '../../../shared/types.js';
import { keepsAll } from '../../../shared/protect.js';

export interface Dated {
  id: string;
  createdAt: number;
}

/** Which calendar buckets are counted in: the user's local time (the product) or UTC (tests). */
export type Calendar = 'local' | 'utc';

type Rule = (typeof CALENDAR_RULES)[number];

const CALENDAR_RULES = ['keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const;

/** The four calendar buckets of a time, from one Date: hour, day, ISO week (its Monday), month. */
function bucketsOf(t: number, calendar: Calendar): [number, number, number, number] {
  const d = new Date(t);
  const utc = calendar === 'utc';
  const y = utc ? d.getUTCFullYear() : d.getFullYear();
  const m = utc ? d.getUTCMonth() : d.getMonth();
  const day = Math.floor(Date.UTC(y, m, utc ? d.getUTCDate() : d.getDate()) / 86_400_000);
  const dow = utc ? d.getUTCDay() : d.getDay();
  return [day * 24 + (utc ? d.getUTCHours() : d.getHours()), day, day - ((dow + 6) % 7), y * 12 + m];
}

/**
 * The ids a policy keeps among `snapshots`: walking newest first, keep-last keeps the first N;
 * each calendar rule keeps the newest snapshot of each of its N newest buckets (a snapshot kept
 * by one rule still counts for the others, as in restic). A policy with every count 0 keeps all.
 */
export function planRetention(snapshots: readonly Dated[], policy: ProtectPolicy, calendar: Calendar = 'local'): Set<string> {
  if (keepsAll(policy)) return new Set(snapshots.map((s) => s.id));
  const newestFirst = [...snapshots].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  const left = { keepLast: policy.keepLast, keepHourly: policy.keepHourly, keepDaily: policy.keepDaily, keepWeekly: policy.keepWeekly, keepMonthly: policy.keepMonthly };
  const last = new Map<Rule, number>();
  const keep = new Set<string>();
  for (const s of newestFirst) {
    if (left.keepLast > 0) {
      left.keepLast--;
      keep.add(s.id);
    }
    const buckets = bucketsOf(s.createdAt, calendar);
    for (let r = 0; r < CALENDAR_RULES.length; r++) {
      const rule = CALENDAR_RULES[r]!;
      if (left[rule] === 0) continue;
      const bucket = buckets[r]!;
      if (last.get(rule) === bucket) continue;
      last.set(rule, bucket);
      left[rule]--;
      keep.add(s.id);
    }
  }
  return keep;
}

export interface Prunable extends Dated {
  auto: boolean;
  pinned: boolean;
}

/**
 * What pruning removes: automatic snapshots the policy does not keep, never a pinned one, never
 * the one the box continues from. Manual snapshots are not counted by the rules either: the
 * policy speaks of what the schedule made. Oldest first, so each removal merges the least.
 */
export function planPrune(snapshots: readonly Prunable[], policy: ProtectPolicy, currentId: string | null, calendar: Calendar = 'local'): string[] {
  const auto = snapshots.filter((s) => s.auto);
  const keep = planRetention(auto, policy, calendar);
  return auto
    .filter((s) => !keep.has(s.id) && !s.pinned && s.id !== currentId)
    .sort((a, b) => a.createdAt - b.createdAt)
    .map((s) => s.id);
}
