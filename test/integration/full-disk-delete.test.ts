// At 0 bytes free the way out is deleting something: a snapshot nothing depends on, or a whole
// box, must go even though not even an intent record fits any more (a real full ext4).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box, SnapshotTree } from '../../shared/types.js';
import { cliOk, cliSync } from '../helpers/cli.js';
import { makeQcow2, requireTools, writePattern } from '../helpers/disk.js';
import { makeLoopFs, type LoopFs } from '../helpers/loopfs.js';

const MiB = 1024 * 1024;
let lfs: LoopFs | undefined;
let home: string;
const boxkeep = (...args: string[]) => cliSync(home, args);
const ok = <T>(...args: string[]) => cliOk<T>(home, args);

beforeAll(() => {
  requireTools('qemu-img', 'qemu-io');
  lfs = makeLoopFs(64);
  home = path.join(lfs.dir, 'home');
  ok('settings', '--disk-reserve', '0');
  const seed = path.join(lfs.dir, 'seed.qcow2');
  makeQcow2(seed, 16 * MiB);
  ok('image', 'import', seed, '--name', 'seed');
  fs.rmSync(seed);
  for (const name of ['keep', 'spare']) {
    const box = ok<Box>('box', 'create', name, '--image', 'seed');
    ok('snapshot', 'create', name, 's1');
    writePattern(box.liveDiskPath, 0, 2 * MiB, 0x42);
    ok('snapshot', 'create', name, 's2');
    // Back to s1: s2 is now a leaf nothing reads from.
    ok('snapshot', 'restore', name, 's1', '--discard-current');
  }
});
afterAll(() => lfs?.release());

describe('deleting on a full disk', () => {
  it('removes a snapshot nothing depends on, and a whole box, at 0 bytes free', () => {
    lfs!.fill(0);
    expect(lfs!.free()).toBe(0);
    const r = boxkeep('snapshot', 'remove', 'keep', 's2');
    expect(r.code, r.err).toBe(0);
    expect(ok<SnapshotTree>('snapshot', 'list', 'keep').snapshots.map((s) => s.name)).toEqual(['s1']);
    expect(lfs!.free()).toBeGreaterThan(0);

    lfs!.fill(0);
    const gone = boxkeep('box', 'remove', 'spare');
    expect(gone.code, gone.err).toBe(0);
    expect(ok<Box[]>('box', 'list').map((b) => b.name)).toEqual(['keep']);
    expect(fs.readdirSync(path.join(home, 'boxes'))).toHaveLength(1);
    lfs!.unfill();
    // Nothing was left for recovery to find.
    expect(ok<{ items: unknown[] }>('recover').items).toEqual([]);
  });
});
