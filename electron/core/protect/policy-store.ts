// The rows of AutoProtect (migration 10's `protect` table): each box's policy and the state of
// its schedule. Kept out of store.ts: only the protect/ folder reads or writes them.
import type { ProtectPolicy } from '../../../shared/types.js';
import { POLICY_OFF } from '../../../shared/protect.js';
import type { Store } from '../store/store.js';
import { policyValue } from '../store/columns.js';

/** What the schedule remembers between ticks and across owners (see scheduler.ts). */
export interface ScheduleState {
  /** Running time counted since the last interval snapshot, up to seenAt. */
  runningMs: number;
  /** When the owner last saw the box running and counted up to; null: not seen running since. */
  seenAt: number | null;
  /** The last daily slot (epoch ms) a snapshot served; earlier slots are never caught up. */
  dailyAt: number | null;
}

export interface ProtectRow extends ScheduleState {
  boxId: string;
  policy: ProtectPolicy;
}

interface DbRow { box_id: string; policy: string; running_ms: number; seen_at: number | null; daily_at: number | null }

const toRow = (r: DbRow): ProtectRow => ({
  boxId: r.box_id, policy: { ...POLICY_OFF, ...policyValue(r.policy, r.box_id) },
  runningMs: r.running_ms, seenAt: r.seen_at, dailyAt: r.daily_at,
});

export function protectRow(store: Store, boxId: string): ProtectRow | null {
  const r = store.db.prepare('SELECT * FROM protect WHERE box_id = ?').get(boxId) as DbRow | undefined;
  return r ? toRow(r) : null;
}

/**
 * What the scheduler reads each tick, in one query: every box whose policy is on, and every
 * policy that does not read (changed by hand while Boxkeep runs), with the error reading it
 * gives. One box's row cannot stop every other box's schedule: it is left out of `rows`, and
 * the scheduler tells it once; recovery sets it aside at the next start, and until then
 * `protect show` says what is wrong.
 */
export function scheduleRows(store: Store): { rows: ProtectRow[]; unreadable: { boxId: string; error: unknown }[] } {
  const out: ReturnType<typeof scheduleRows> = { rows: [], unreadable: [] };
  for (const r of store.db.prepare('SELECT * FROM protect').all() as DbRow[]) {
    try {
      const row = toRow(r);
      if (row.policy.enabled) out.rows.push(row);
    } catch (error) {
      out.unreadable.push({ boxId: r.box_id, error });
    }
  }
  return out;
}

/** One box's policy if it is on and reads (as scheduleRows counts it), else null. */
export function enabledRow(store: Store, boxId: string): ProtectRow | null {
  try {
    const row = protectRow(store, boxId);
    return row?.policy.enabled ? row : null;
  } catch {
    return null;
  }
}

/** A new policy starts its schedule afresh: running time from zero, no daily slot before now. */
export function writePolicy(store: Store, boxId: string, policy: ProtectPolicy, state: ScheduleState): void {
  store.db.prepare(`INSERT INTO protect (box_id, policy, running_ms, seen_at, daily_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (box_id) DO UPDATE SET policy = excluded.policy, running_ms = excluded.running_ms, seen_at = excluded.seen_at, daily_at = excluded.daily_at`)
    .run(boxId, JSON.stringify(policy), state.runningMs, state.seenAt, state.dailyAt);
}

export function writeState(store: Store, boxId: string, state: ScheduleState): void {
  store.db.prepare('UPDATE protect SET running_ms = ?, seen_at = ?, daily_at = ? WHERE box_id = ?').run(state.runningMs, state.seenAt, state.dailyAt, boxId);
}
