import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../../shared/types.js';
import { layoutTree, type TreeRow } from '../../renderer/src/tree/layout.js';

let clock = 1_700_000_000_000;
function snap(id: string, parentId: string | null, createdAt = (clock += 1000)): Snapshot {
  return { id, boxId: 'b', parentId, name: id, description: '', createdAt, sizeOnDisk: 1, virtualSize: 1, live: false, taken: 'stopped', diskPath: `/x/${id}`, hasPicture: false, pinned: false, auto: false };
}

/** Compact picture of a layout: "key@lane" per row, plus forks and pass-through lanes. */
function picture(rows: TreeRow[]) {
  return rows.map((r) => `${r.key}@${r.lane}${r.forks.length ? ` fork${r.forks.join(',')}` : ''}${r.pass.length ? ` pass${r.pass.join(',')}` : ''}`);
}

describe('snapshot tree layout', () => {
  it('a box without snapshots shows the base image with Now under it', () => {
    const l = layoutTree({ snapshots: [], currentId: null });
    expect(picture(l.rows)).toEqual(['base@0', 'now@0']);
    expect(l.rows[0]).toMatchObject({ kind: 'base', up: false, down: true });
    expect(l.rows[1]).toMatchObject({ kind: 'now', up: true, down: false, parentId: null });
    expect(l.lanes).toBe(1);
  });

  it('a straight history is one lane, oldest first, with Now after the current snapshot', () => {
    const s = [snap('s1', null), snap('s2', 's1'), snap('s3', 's2')];
    const l = layoutTree({ snapshots: s, currentId: 's3' });
    expect(picture(l.rows)).toEqual(['base@0', 's1@0', 's2@0', 's3@0', 'now@0']);
    expect(l.lanes).toBe(1);
    const s3 = l.rows[3]!;
    expect(s3.kind === 'snapshot' && s3.isCurrent).toBe(true);
    expect(s3).toMatchObject({ up: true, down: true });
    expect(l.rows.filter((r) => r.kind === 'snapshot' && r.isCurrent)).toHaveLength(1);
  });

  it('after restoring an older snapshot, Now forks off it into its own lane', () => {
    const s = [snap('s1', null), snap('s2', 's1'), snap('s3', 's2')];
    const l = layoutTree({ snapshots: s, currentId: 's1' });
    expect(picture(l.rows)).toEqual(['base@0', 's1@0 fork1', 's2@0 pass1', 's3@0 pass1', 'now@1']);
    // The old line ends at s3: nothing continues below it.
    expect(l.rows[3]).toMatchObject({ down: false });
    expect(l.rows[4]).toMatchObject({ kind: 'now', parentId: 's1', up: true });
    expect(l.lanes).toBe(2);
  });

  it('a snapshot taken after a restore starts a branch, and Now follows it', () => {
    const s = [snap('s1', null), snap('s2', 's1'), snap('s3', 's2'), snap('s4', 's1')];
    const l = layoutTree({ snapshots: s, currentId: 's4' });
    expect(picture(l.rows)).toEqual(['base@0', 's1@0 fork1', 's2@0 pass1', 's3@0 pass1', 's4@1', 'now@1']);
    expect(l.rows[4]).toMatchObject({ up: true, down: true });
    const s1 = l.rows[1]!;
    expect(s1.kind === 'snapshot' && s1.childIds).toEqual(['s2', 's4']);
  });

  it('deleting a middle snapshot re-parents its child straight onto the grandparent', () => {
    const before = layoutTree({ snapshots: [snap('a', null, 1), snap('b', 'a', 2), snap('c', 'b', 3)], currentId: 'c' });
    expect(picture(before.rows)).toEqual(['base@0', 'a@0', 'b@0', 'c@0', 'now@0']);
    // What the engine returns after removing b: c now hangs under a.
    const after = layoutTree({ snapshots: [snap('a', null, 1), snap('c', 'a', 3)], currentId: 'c' });
    expect(picture(after.rows)).toEqual(['base@0', 'a@0', 'c@0', 'now@0']);
    const a = after.rows[1]!;
    expect(a.kind === 'snapshot' && a.childIds).toEqual(['c']);
  });

  it('a lane is reused once the branch in it has ended', () => {
    const s = [snap('s1', null, 1), snap('s2', 's1', 2), snap('s3', 's1', 3), snap('s4', 's2', 4), snap('s5', 's4', 5), snap('s6', 's4', 6)];
    const l = layoutTree({ snapshots: s, currentId: 's5' });
    expect(picture(l.rows)).toEqual(['base@0', 's1@0 fork1', 's2@0 pass1', 's3@1 pass0', 's4@0 fork1', 's5@0 pass1', 's6@1 pass0', 'now@0']);
    expect(l.lanes).toBe(2);
    expect(l.rows[3]).toMatchObject({ down: false });
  });

  it('branches that overlap in time get separate lanes', () => {
    const s = [snap('r', null, 1), snap('a1', 'r', 2), snap('b1', 'r', 3), snap('c1', 'r', 4), snap('a2', 'a1', 5), snap('b2', 'b1', 6), snap('c2', 'c1', 7)];
    const l = layoutTree({ snapshots: s, currentId: 'c2' });
    expect(picture(l.rows)).toEqual(['base@0', 'r@0 fork1,2', 'a1@0 pass1,2', 'b1@1 pass0,2', 'c1@2 pass0,1', 'a2@0 pass1,2', 'b2@1 pass2', 'c2@2', 'now@2']);
    expect(l.lanes).toBe(3);
  });

  it('Now hangs on the base image when there is no current snapshot', () => {
    const l = layoutTree({ snapshots: [snap('s1', null)], currentId: null });
    expect(picture(l.rows)).toEqual(['base@0 fork1', 's1@0 pass1', 'now@1']);
    expect(l.rows[2]).toMatchObject({ kind: 'now', parentId: null });
  });

  it('several roots (after deleting the first snapshot) all hang on the base image', () => {
    const l = layoutTree({ snapshots: [snap('x', null, 1), snap('y', null, 2)], currentId: 'y' });
    expect(picture(l.rows)).toEqual(['base@0 fork1', 'x@0 pass1', 'y@1', 'now@1']);
  });

  it('a child whose clock says it is older than its parent still sits below the parent', () => {
    const l = layoutTree({ snapshots: [snap('p', null, 5000), snap('c', 'p', 1000)], currentId: 'c' });
    expect(picture(l.rows)).toEqual(['base@0', 'p@0', 'c@0', 'now@0']);
  });

  it('rows are chronological across branches, not depth-first', () => {
    // Depth-first order from the engine: r, a, a2, b; b was taken before a2.
    const s = [snap('r', null, 1), snap('a', 'r', 2), snap('a2', 'a', 4), snap('b', 'r', 3)];
    const l = layoutTree({ snapshots: s, currentId: 'a2' });
    expect(l.rows.map((r) => r.key)).toEqual(['base', 'r', 'a', 'b', 'a2', 'now']);
  });

  it('orders the same way when times are not whole milliseconds (the slower exact path)', () => {
    const s = [snap('r', null, 1.5), snap('a', 'r', 2.25), snap('a2', 'a', 4.75), snap('b', 'r', 3.5), snap('c', 'r', 3.5)];
    const l = layoutTree({ snapshots: s, currentId: 'a2' });
    expect(l.rows.map((r) => r.key)).toEqual(['base', 'r', 'a', 'b', 'c', 'a2', 'now']);
  });

  it('a missing parent or a parent cycle still draws every snapshot exactly once', () => {
    const s = [snap('orphan', 'gone'), snap('p', 'q', 10), snap('q', 'p', 11)];
    const l = layoutTree({ snapshots: s, currentId: 'orphan' });
    expect(l.rows.map((r) => r.key).sort()).toEqual(['base', 'now', 'orphan', 'p', 'q']);
    for (const [i, row] of l.rows.entries()) expect(l.indexByKey.get(row.key)).toBe(i);
  });

  it('keeps the previous row objects for rows that did not change, so only changed rows redraw', () => {
    const a = snap('a', null, 1);
    const b = snap('b', 'a', 2);
    const before = layoutTree({ snapshots: [a, b], currentId: 'b' });
    const c = snap('c', 'b', 3);
    const after = layoutTree({ snapshots: [a, b, c], currentId: 'c' }, before);
    expect(after.rows.map((r) => r.key)).toEqual(['base', 'a', 'b', 'c', 'now']);
    expect(after.rows[0]).toBe(before.rows[0]); // base
    expect(after.rows[1]).toBe(before.rows[1]); // a: same snapshot, same lines
    expect(after.rows[2]).not.toBe(before.rows[2]); // b: no longer current, now has a child
    expect(after.rows[4]).not.toBe(before.rows[3]); // Now moved under c
    // A changed snapshot object (renamed) is a changed row.
    const renamed = layoutTree({ snapshots: [{ ...a, name: 'A' }, b, c], currentId: 'c' }, after);
    expect(renamed.rows[1]).not.toBe(after.rows[1]);
    expect(renamed.rows[3]).toBe(after.rows[3]);
  });

  it('lays out 1,000 snapshots with branches: every row once, Now last under the current one', () => {
    const s: Snapshot[] = [];
    for (let i = 0; i < 1000; i++) {
      // Every 50th snapshot restores 10 back and branches from there.
      const parent = i === 0 ? null : i % 50 === 0 ? `s${i - 10}` : `s${i - 1}`;
      s.push(snap(`s${i}`, parent, 1000 + i));
    }
    const started = performance.now();
    const l = layoutTree({ snapshots: s, currentId: 's999' });
    const elapsed = performance.now() - started;
    expect(l.rows).toHaveLength(1002);
    expect(l.rows.at(-1)).toMatchObject({ kind: 'now', parentId: 's999' });
    expect(new Set(l.rows.map((r) => r.key)).size).toBe(1002);
    // Speed is the render benchmark's business (bench/render.mjs); this is for information only.
    console.log(`layout of 1,000 snapshots: ${elapsed.toFixed(2)} ms (cold JIT), ${l.lanes} lanes`);
  });
});
