// Disks that are not one plain filesystem: none at all, and two partitions. Each answer is a
// clear result or a clear message, through a real libguestfs appliance.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GuestFolder, SnapshotDiff } from '../../shared/types.js';
import { makeQcow2, writePattern } from '../helpers/disk.js';
import { rejection } from '../helpers/errors.js';
import { boxFrom, guestfish, insideHome } from '../helpers/guestfs.js';

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
    const disk = path.join(t.dir, 'parts.qcow2');
    makeQcow2(disk, 64 * MiB);
    guestfish(disk, [
      ['part-init', '/dev/sda', 'mbr'],
      ['part-add', '/dev/sda', 'p', '2048', '63487'],
      ['part-add', '/dev/sda', 'p', '63488', '129023'],
      ['mkfs', 'ext4', '/dev/sda1'],
      ['mkfs', 'ext4', '/dev/sda2'],
      ['mount', '/dev/sda1', '/'],
      ['write', '/one.txt', 'first partition'],
      ['umount', '/'],
      ['mount', '/dev/sda2', '/'],
      ['write', '/two.txt', 'second partition'],
    ]);
    const box = await boxFrom(t.core, disk, 'parts');
    await t.core.snapshots.create({ box: 'parts', name: 'A' });
    guestfish(box.liveDiskPath, [
      ['mount', '/dev/sda2', '/'],
      ['write', '/two.txt', 'second partition, changed'],
    ]);
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
});
