// The renderer's picture cache: one fetch per snapshot, shared by every caller; entries go with
// their snapshot (deleted from its box's tree) or their box (removed); failures are not kept.
import { describe, expect, it } from 'vitest';
import type { Snapshot, SnapshotTree } from '../../shared/types.js';
import { createPictureCache } from '../../renderer/src/store/pictures.js';

function counting(fail = new Set<string>()) {
  const calls: string[] = [];
  const fetch = async (boxId: string, snapshotId: string) => {
    calls.push(`${boxId}/${snapshotId}`);
    if (fail.has(snapshotId)) throw new Error('gone for a moment');
    return `data:image/png;base64,${boxId}-${snapshotId}`;
  };
  return { calls, fetch };
}

const treeOf = (...ids: string[]) => ({ snapshots: ids.map((id) => ({ id }) as Snapshot) }) as SnapshotTree;

describe('the picture cache', () => {
  it('fetches a snapshot once, however many ask, and has it at once afterwards', async () => {
    const { calls, fetch } = counting();
    const cache = createPictureCache(fetch);
    expect(cache.peek('b1', 's1')).toBeUndefined();
    const [a, b] = await Promise.all([cache.get('b1', 's1'), cache.get('b1', 's1')]);
    expect([a, b]).toEqual(['data:image/png;base64,b1-s1', 'data:image/png;base64,b1-s1']);
    expect(await cache.get('b1', 's1')).toBe(a);
    expect(cache.peek('b1', 's1')).toBe(a);
    expect(calls).toEqual(['b1/s1']);
  });

  it('asks again after a failed fetch', async () => {
    const fail = new Set(['s1']);
    const { calls, fetch } = counting(fail);
    const cache = createPictureCache(fetch);
    expect(await cache.get('b1', 's1')).toBeNull();
    expect(cache.peek('b1', 's1')).toBeUndefined();
    fail.clear();
    expect(await cache.get('b1', 's1')).toBe('data:image/png;base64,b1-s1');
    expect(calls).toEqual(['b1/s1', 'b1/s1']);
  });

  it('drops deleted snapshots and removed boxes, and keeps boxes whose tree is not loaded', async () => {
    const { calls, fetch } = counting();
    const cache = createPictureCache(fetch);
    await Promise.all([cache.get('b1', 's1'), cache.get('b1', 's2'), cache.get('b2', 't1'), cache.get('b3', 'u1')]);
    expect(cache.size).toBe(4);
    // s2 was deleted from b1; b2 is gone; b3's tree is not loaded (it stays).
    cache.prune({ b1: treeOf('s1') }, ['b1', 'b3']);
    expect(cache.size).toBe(2);
    expect(cache.peek('b1', 's1')).toBeDefined();
    expect(cache.peek('b1', 's2')).toBeUndefined();
    expect(cache.peek('b2', 't1')).toBeUndefined();
    expect(cache.peek('b3', 'u1')).toBeDefined();
    calls.length = 0;
    await cache.get('b1', 's1');
    await cache.get('b1', 's2');
    expect(calls).toEqual(['b1/s2']);
  });
});
