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
 * Every box whose policy is on: one query, what the scheduler reads each tick. A policy that
 * does not read (changed by hand while Boxkeep runs) is left out, so one box's row cannot stop
 * every other box's schedule: json_extract would fail the whole query on it, toRow that box.
 * Recovery sets it aside at the next start; until then the scheduler tells it once (an alert,
 * unreadablePolicies) and `protect show` says what is wrong.
 */
export function enabledRows(store: Store): ProtectRow[] {
  const rows = store.db.prepare(`SELECT * FROM protect WHERE CASE WHEN json_valid(policy) THEN json_extract(policy, '$.enabled') END = 1`).all() as DbRow[];
  return rows.flatMap((r) => {
    try {
      return [toRow(r)];
    } catch {
      return [];
    }
  });
}

/** Every kept policy that does not read, with the error reading it gives (the scheduler tells each once). */
export function unreadablePolicies(store: Store): { boxId: string; error: unknown }[] {
  return (store.db.prepare('SELECT * FROM protect').all() as DbRow[]).flatMap((r) => {
    try {
      toRow(r);
      return [];
    } catch (error) {
      return [{ boxId: r.box_id, error }];
    }
  });
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
