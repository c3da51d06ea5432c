// A running box whose snapshots folder is a symlink to a folder elsewhere: the live snapshot is
// refused before its intent, its overlay or its folder is made, so the live disk never leaves
// the home and QEMU goes on writing to it. The stopped box's case is in chain-confine.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashFile } from '../helpers/disk.js';
import { rejection } from '../helpers/errors.js';
import { sh, sharedBootedVm } from '../helpers/vm.js';

const vm = sharedBootedVm();
const elsewhere = fs.mkdtempSync('/tmp/bk-elsewhere-');
afterAll(() => fs.rmSync(elsewhere, { recursive: true, force: true }));

describe('a live snapshot stays inside the home', () => {
  it('a symlinked snapshots folder: the live snapshot is refused, the live disk stays in disks/ as it was, no row, nothing written there; the guest runs on', async () => {
    const { core } = vm.h;
    const box = core.boxes.resolve('vm');
    expect(box.status).toBe('running');
    const dir = core.paths.snapshotsDir(box.id);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.symlinkSync(elsewhere, dir);
    const live = box.liveDiskPath;
    const inode = fs.statSync(live).ino;
    const before = hashFile(live);

    const err = await rejection(core.snapshots.create({ box: 'vm', name: 'first' }));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/The snapshot "first" of the box "vm" was not taken: .*the folder .*snapshots is a symbolic link \(to .*bk-elsewhere-.*\).*Nothing was moved or written/);
    expect(hashFile(live)).toBe(before);
    expect(fs.statSync(live).ino).toBe(inode);
    expect(fs.readdirSync(core.paths.disksDir(box.id))).toEqual(['container.qcow2']);
    expect(core.store.listSnapshots(box.id)).toEqual([]);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
    expect(fs.readdirSync(core.paths.boxJournal(box.id))).toEqual([]);
    expect(core.store.getBox(box.id)!.status).toBe('running');

    // The guest still writes to that disk, and once the link is a real folder the snapshot is taken.
    await sh(vm.con, 'echo still-here > /mnt/after; sync');
    fs.unlinkSync(dir);
    const taken = await core.snapshots.create({ box: 'vm', name: 'first' });
    expect(path.dirname(path.dirname(taken.diskPath))).toBe(dir);
    expect((await sh(vm.con, 'cat /mnt/after')).trim()).toBe('still-here');
  });
});
