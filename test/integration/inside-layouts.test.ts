// Disks that are not one plain filesystem: none at all, and two partitions. Each answer is a
// clear result or a clear message, through a real libguestfs appliance.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GuestFolder, SnapshotDiff } from '../../shared/types.js';
import { makeQcow2, writePattern } from '../helpers/disk.js';
import { rejection } from '../helpers/errors.js';
import { editDisk, makePartitionedQcow2 } from '../helpers/edit-disk.js';
import { boxFrom, holdersOf, insideHome } from '../helpers/guestfs.js';

const MiB = 1024 * 1024;
const SLOW = 900_000;
const t = insideHome('bkl');

describe('disks without one plain filesystem', () => {
  it('a disk with no filesystem: the changed bytes, and a note instead of a file list', async () => {
    const disk = path.join(t.dir, 'nofs.qcow2');
    makeQcow2(disk, 16 * MiB);
    writePattern(disk, 0, MiB, 0x5a);
    const box = await boxFrom(t.core, disk, 'nofs');
    await t.core.snapshots.create({ box: 'nofs', name: 'A' });
    writePattern(box.liveDiskPath, 4 * MiB, 2 * MiB, 0x6b);
    await t.core.snapshots.create({ box: 'nofs', name: 'B' });
    const d = (await t.router.invoke('snapshots:diff', { box: 'nofs', from: 'A', to: 'B', files: true })) as SnapshotDiff;
    expect(d.changedBytes).toBe(2 * MiB);
    expect(d.files).toEqual([]);
    expect(d.filesNote).toMatch(/no filesystem Boxkeep can read/);
  }, SLOW);

  it('two partitions: compared each on its own, and browsing asks which one', async () => {
    // An MBR with two ext4 partitions: sectors 2048-63487 and 63488-129023.
    const [one, two] = [{ start: 2048, sectors: 61440 }, { start: 63488, sectors: 65536 }];
    const disk = makePartitionedQcow2(path.join(t.dir, 'parts.qcow2'), 64, [{ at: one, files: { 'one.txt': 'first partition' } }, { at: two, files: { 'two.txt': 'second partition' } }]);
    const box = await boxFrom(t.core, disk, 'parts');
    await t.core.snapshots.create({ box: 'parts', name: 'A' });
    await editDisk(box.liveDiskPath, (root) => fs.writeFileSync(path.join(root, 'two.txt'), 'second partition, changed'), { partition: two });
    await t.core.snapshots.create({ box: 'parts', name: 'B' });

    const d = (await t.router.invoke('snapshots:diff', { box: 'parts', from: 'A', to: 'B', files: true })) as SnapshotDiff;
    expect(d.filesNote).toBeNull();
    expect(d.files!.map((f) => [f.filesystem, f.type, f.problem, f.changes.map((c) => `${c.change} ${c.path}`)])).toEqual([
      ['/dev/sda1', 'ext4', null, []],
      ['/dev/sda2', 'ext4', null, ['modified /two.txt']],
    ]);

    const which = await rejection(t.router.invoke('snapshots:files', { box: 'parts', snapshot: 'A' }));
    expect(which.code).toBe('InvalidArgument');
    expect(which.message).toMatch(/2 filesystems \(\/dev\/sda1: ext4, \/dev\/sda2: ext4\); say which with --filesystem/);
    const second = (await t.router.invoke('snapshots:files', { box: 'parts', snapshot: 'A', filesystem: '/dev/sda2' })) as GuestFolder;
    expect(second.entries.map((e) => e.path)).toEqual(['/lost+found', '/two.txt']);
    expect(second.filesystems).toEqual(['/dev/sda1: ext4', '/dev/sda2: ext4']);
  }, SLOW);

  it('quitting lets go of the appliance kept warm after a look', async () => {
    const box = t.core.store.findBox('parts')!;
    const a = t.core.store.findSnapshot(box.id, 'A')!.diskPath;
    expect(holdersOf(a).length).toBeGreaterThan(0);
    await t.reopen();
    expect(holdersOf(a)).toEqual([]);
  }, SLOW);
});
