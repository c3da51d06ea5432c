import { describe, expect, it } from 'vitest';
import { clean, displayWidth, humanBytes, keyValues, relativeTime, snapshotTree, table, truncate } from '../../electron/cli/format.js';
import type { Snapshot, SnapshotTree } from '../../shared/types.js';

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const MIN = 60_000;

function snap(id: string, parentId: string | null, name: string, extra: Partial<Snapshot> = {}): Snapshot {
  return {
    id, boxId: 'box000000001', parentId, name, description: '', createdAt: NOW - 5 * MIN,
    sizeOnDisk: 196 * 1024, virtualSize: 32 * 1024 * 1024, live: false, taken: 'stopped', diskPath: `/h/boxes/b/snapshots/${id}/container.qcow2`, hasPicture: false, pinned: false, auto: false, ...extra,
  };
}

/** The tree column only, trailing spaces removed: the drawing a user reads. */
const shape = (drawn: string) => drawn.split('\n').slice(1).map((line) => line.slice(0, line.indexOf('  ') < 0 ? undefined : line.search(/ {2}\S/)).trimEnd());

describe('sizes', () => {
  it('are shown in binary units, one decimal below ten', () => {
    expect(humanBytes(0)).toBe('0 B');
    expect(humanBytes(1023)).toBe('1023 B');
    expect(humanBytes(1024)).toBe('1 KiB');
    expect(humanBytes(1536)).toBe('1.5 KiB');
    expect(humanBytes(196 * 1024)).toBe('196 KiB');
    expect(humanBytes(32 * 1024 ** 2)).toBe('32 MiB');
    expect(humanBytes(1.25 * 1024 ** 3)).toBe('1.3 GiB');
    expect(humanBytes(3 * 1024 ** 4)).toBe('3 TiB');
  });

  it('keep the zeros of whole numbers (10, 100, 1000, 1020) in every unit', () => {
    for (const [n, unit] of [[1, 'B'], [1024, 'KiB'], [1024 ** 2, 'MiB'], [1024 ** 3, 'GiB']] as const) {
      for (const v of [10, 100, 1000, 1020]) expect(humanBytes(v * n)).toBe(`${v} ${unit}`);
    }
    expect(humanBytes(593_920)).toBe('580 KiB');
    expect(humanBytes(0.5 * 1024 ** 2)).toBe('512 KiB');
  });

  it('carry into the next unit instead of showing 1024', () => {
    expect(humanBytes(1024 * 1024 - 100)).toBe('1 MiB');
    expect(humanBytes(1024 ** 3 - 1)).toBe('1 GiB');
  });

  it('say "?" for nonsense instead of printing NaN', () => {
    expect(humanBytes(-1)).toBe('?');
    expect(humanBytes(Number.NaN)).toBe('?');
  });
});

describe('times', () => {
  it('are relative while recent, a date when old', () => {
    expect(relativeTime(NOW - 3_000, NOW)).toBe('just now');
    expect(relativeTime(NOW - 42_000, NOW)).toBe('42 seconds ago');
    expect(relativeTime(NOW - MIN, NOW)).toBe('1 minute ago');
    expect(relativeTime(NOW - 5 * MIN, NOW)).toBe('5 minutes ago');
    expect(relativeTime(NOW - 2 * 60 * MIN, NOW)).toBe('2 hours ago');
    expect(relativeTime(NOW - 30 * 60 * MIN, NOW)).toBe('yesterday');
    expect(relativeTime(NOW - 3 * 24 * 60 * MIN, NOW)).toBe('3 days ago');
    expect(relativeTime(NOW - 90 * 24 * 60 * MIN, NOW)).toMatch(/^2026-0[89]-\d\d$/);
  });

  it('tolerate a clock slightly ahead and name one far ahead', () => {
    expect(relativeTime(NOW + 20_000, NOW)).toBe('just now');
    expect(relativeTime(NOW + 60 * 60 * MIN, NOW)).toMatch(/^in the future \(2026-12-0\d /);
  });
});

describe('tables', () => {
  it('align columns two spaces apart, numbers to the right, without trailing spaces', () => {
    const out = table(['NAME', 'SIZE', 'NOTE'], [['web', '1.5 MiB', 'first'], ['database', '196 KiB', '']], { align: ['left', 'right'] });
    expect(out).toBe(['NAME         SIZE  NOTE', 'web       1.5 MiB  first', 'database  196 KiB'].join('\n'));
  });

  it('cut the flexible column with … to fit the terminal', () => {
    const out = table(['ID', 'DESCRIPTION'], [['abc', 'a long description that does not fit']], { maxWidth: 20 });
    expect(out.split('\n')[1]).toBe('abc  a long descrip…');
    expect(Math.max(...out.split('\n').map(displayWidth))).toBeLessThanOrEqual(20);
  });

  it('neutralise control characters from names and descriptions', () => {
    expect(clean('evil\x1b[2Jname\nnext')).toBe('evil?[2Jname next');
    expect(table(['A'], [['x\x07y']])).toBe('A\nx?y');
  });

  it('count wide characters as two columns', () => {
    expect(displayWidth('日本')).toBe(4);
    expect(displayWidth('e\u0301')).toBe(1);
    // The tree's own characters, and marks just outside the ranges counted without a lookup.
    expect(displayWidth('├─● ◇ ○ ⚡')).toBe(9);
    expect(displayWidth('x\u20d0 \u2cef\u2cf1')).toBe(2);
    expect(table(['NAME', 'X'], [['日本', '1'], ['ab', '2']])).toBe('NAME  X\n日本  1\nab    2');
    expect(truncate('日本語のテキスト', 7)).toBe('日本語…');
  });

  it('lay out key/value blocks and leave out empty values', () => {
    expect(keyValues([['Box', 'web'], ['Failure', null], ['Live disk', '/x']])).toBe('Box:        web\nLive disk:  /x');
  });
});

describe('the snapshot tree', () => {
  it('draws a straight history as one column with Now under the current snapshot', () => {
    const tree: SnapshotTree = { boxId: 'b', currentId: 's2', snapshots: [snap('s1', null, 'base'), snap('s2', 's1', 'configured')] };
    expect(shape(snapshotTree(tree, { now: NOW, base: 'seed (image)' }))).toEqual(['◇ seed (image)', '● base', '● configured', '○ Now']);
  });

  it('draws older children as branches and keeps Now in the column of the snapshot it follows', () => {
    // base → one → two; restored to one; took "fix" (a branch); then restored to base.
    const tree: SnapshotTree = {
      boxId: 'b',
      currentId: 's1',
      snapshots: [
        snap('s1', null, 'base'),
        snap('s2', 's1', 'one'),
        snap('s3', 's2', 'two'),
        snap('s4', 's2', 'fix'),
      ],
    };
    expect(shape(snapshotTree(tree, { now: NOW, base: 'seed (image)' }))).toEqual([
      '◇ seed (image)',
      '● base',
      '├─● one',
      '│ ├─● two',
      '│ ● fix',
      '○ Now',
    ]);
  });

  it('puts Now under a snapshot deep in a branch', () => {
    const tree: SnapshotTree = {
      boxId: 'b',
      currentId: 's3',
      snapshots: [snap('s1', null, 'base'), snap('s2', 's1', 'one'), snap('s3', 's2', 'two'), snap('s4', 's1', 'other')],
    };
    expect(shape(snapshotTree(tree, { now: NOW }))).toEqual(['◇ image', '● base', '├─● one', '│ ● two', '│ ○ Now', '● other']);
  });

  it('shows several roots under the image, and Now alone before any snapshot', () => {
    const forest: SnapshotTree = { boxId: 'b', currentId: 'r2', snapshots: [snap('r1', null, 'first'), snap('r2', null, 'second')] };
    expect(shape(snapshotTree(forest, { now: NOW, base: 'seed (image)' }))).toEqual(['◇ seed (image)', '├─● first', '● second', '○ Now']);
    const empty: SnapshotTree = { boxId: 'b', currentId: null, snapshots: [] };
    expect(shape(snapshotTree(empty, { now: NOW }))).toEqual(['◇ image', '○ Now']);
  });

  it('shows id, humanized size, relative time and description in aligned columns', () => {
    const tree: SnapshotTree = {
      boxId: 'b',
      currentId: 'aaaaaaaaaaaa',
      snapshots: [snap('aaaaaaaaaaaa', null, 'base', { description: 'clean install', sizeOnDisk: 3 * 1024 * 1024 })],
    };
    const lines = snapshotTree(tree, { now: NOW, base: 'seed (image)' }).split('\n');
    expect(lines[0]).toMatch(/^SNAPSHOT +ID +SIZE +TAKEN +DESCRIPTION$/);
    expect(lines[2]).toMatch(/^● base +aaaaaaaaaaaa +3 MiB +5 minutes ago +clean install$/);
    expect(lines[3]).toMatch(/^○ Now +the live disk$/);
    expect(lines[0].indexOf('ID')).toBe(lines[2].indexOf('aaaaaaaaaaaa'));
    expect(lines[0].indexOf('SIZE') + 'SIZE'.length).toBe(lines[2].indexOf('3 MiB') + '3 MiB'.length);
  });

  it('survives a parent that is missing or a cycle, hanging the snapshot from the image', () => {
    const tree: SnapshotTree = {
      boxId: 'b',
      currentId: null,
      snapshots: [snap('x1', 'gone', 'orphan'), snap('c1', 'c2', 'loop-a'), snap('c2', 'c1', 'loop-b')],
    };
    const drawn = shape(snapshotTree(tree, { now: NOW }));
    expect(drawn[0]).toBe('◇ image');
    for (const name of ['orphan', 'loop-a', 'loop-b', 'Now']) expect(drawn.some((l) => l.endsWith(name))).toBe(true);
  });
});
