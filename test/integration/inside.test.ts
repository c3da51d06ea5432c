// Looking inside snapshots, end to end on real disks: changed bytes from the qcow2 layers,
// changed files and file copies through a real libguestfs appliance (TCG here: ~20-30 s a
// launch, so each test launches as few as it can).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileCopyResult, GuestFolder, SnapshotDiff } from '../../shared/types.js';
import { diskDigest, requireTools, writePattern } from '../helpers/disk.js';
import { rejection } from '../helpers/errors.js';
import { editDisk } from '../helpers/edit-disk.js';
import { boxFrom, eventually, holdersOf, insideHome, makeExt4Qcow2 } from '../helpers/guestfs.js';
import { buildGuest, GUEST_APPEND, makeDataDisk } from '../helpers/guest.js';

const MiB = 1024 * 1024;
/** A few appliance launches on a loaded 2-core machine under TCG. */
const SLOW = 600_000;
const t = insideHome('bki');

const diff = (input: Record<string, unknown>) => t.router.invoke('snapshots:diff', input) as Promise<SnapshotDiff>;

describe('changed bytes', () => {
  it('is exactly what was written between two states, along the tree', async () => {
    const img = path.join(t.dir, 'blank.qcow2');
    fs.writeFileSync(img, '');
    fs.rmSync(img);
    const raw = path.join(t.dir, 'blank.raw');
    fs.writeFileSync(raw, Buffer.alloc(0));
    fs.truncateSync(raw, 64 * MiB);
    const { spawnSync } = await import('node:child_process');
    spawnSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, img]);
    const box = await boxFrom(t.core, img, 'bytes');
    writePattern(box.liveDiskPath, 0, 3 * MiB, 0x11);
    await t.core.snapshots.create({ box: 'bytes', name: 'a' });
    writePattern(box.liveDiskPath, 2 * MiB, 2 * MiB, 0x22); // overlaps a's last MiB
    writePattern(box.liveDiskPath, 10 * MiB, 512 * 1024, 0x33);
    await t.core.snapshots.create({ box: 'bytes', name: 'b' });
    writePattern(box.liveDiskPath, 20 * MiB, MiB, 0x44);

    expect((await diff({ box: 'bytes', from: 'a', to: 'b' })).changedBytes).toBe(2 * MiB + 512 * 1024);
    expect((await diff({ box: 'bytes', from: 'b', to: 'a' })).changedBytes).toBe(2 * MiB + 512 * 1024);
    expect((await diff({ box: 'bytes', from: 'b' })).changedBytes).toBe(MiB);
    // a → Now crosses b's layer and Now's: 2.5 MiB + 1 MiB.
    const toNow = await diff({ box: 'bytes', from: 'a' });
    expect(toNow).toMatchObject({ changedBytes: 3.5 * MiB, to: { id: null, name: 'Now' }, files: null });

    // A branch: back to a, write elsewhere; b and Now differ by b's layer and Now's new one.
    await t.core.snapshots.restore({ box: 'bytes', snapshot: 'a' });
    writePattern(box.liveDiskPath, 30 * MiB, 4 * MiB, 0x55);
    expect((await diff({ box: 'bytes', from: 'b' })).changedBytes).toBe(2.5 * MiB + 4 * MiB);
    expect((await diff({ box: 'bytes', from: 'a' })).changedBytes).toBe(4 * MiB);
  });

  it('refuses an unknown snapshot by name', async () => {
    const err = await rejection(diff({ box: 'bytes', from: 'nope' }));
    expect(err.code).toBe('NotFound');
    expect(err.message).toMatch(/no snapshot called "nope"/);
  });
});

describe('changed files', () => {
  it('lists exactly the added, modified and removed paths, and answers again from the cache', async () => {
    const disk = makeExt4Qcow2(path.join(t.dir, 'files.qcow2'), 32, {
      'etc/hostname': 'before\n',
      'etc/keep.txt': 'unchanged\n',
      'data/same-size.txt': 'AAAA',
      'data/old.txt': 'to be removed',
      'data/mode.sh': '#!/bin/sh\n',
      'link': { link: '/etc/passwd' },
    });
    const box = await boxFrom(t.core, disk, 'files');
    await t.core.snapshots.create({ box: 'files', name: 'A' });
    // Offline, on the stopped box's live disk: the same file changed with its size and mtime kept.
    await editDisk(box.liveDiskPath, (root) => {
      const at = (p: string) => path.join(root, p);
      fs.writeFileSync(at('etc/hostname'), 'after, longer\n');
      fs.writeFileSync(at('data/same-size.txt'), 'BBBB');
      fs.utimesSync(at('data/same-size.txt'), 1_700_000_000, 1_700_000_000);
      fs.rmSync(at('data/old.txt'));
      fs.mkdirSync(at('new'));
      fs.writeFileSync(at('new/added.txt'), 'hello');
      fs.chmodSync(at('data/mode.sh'), 0o755);
      fs.utimesSync(at('data/mode.sh'), 1_700_000_000, 1_700_000_000);
    });
    await t.core.snapshots.create({ box: 'files', name: 'B' });

    const d = await diff({ box: 'files', from: 'A', to: 'B', files: true });
    expect(d.cached).toBe(false);
    expect(d.files).toHaveLength(1);
    const fsChanges = d.files![0]!;
    expect(fsChanges).toMatchObject({ filesystem: '/dev/sda', type: 'ext4', problem: null });
    const seen = fsChanges.changes.map((c) => `${c.change} ${c.path} ${c.what.join(',')}`.trim());
    expect(seen).toEqual([
      'modified /data/mode.sh mode',
      'removed /data/old.txt',
      'modified /data/same-size.txt content',
      'modified /etc/hostname size,mtime',
      'added /new',
      'added /new/added.txt',
    ]);
    expect(d.changedBytes).toBeGreaterThan(0);

    const again = await diff({ box: 'files', from: 'A', to: 'B', files: true });
    expect(again.cached).toBe(true);
    expect(again.files).toEqual(d.files);
    expect(fs.readdirSync(path.dirname(t.core.store.findSnapshot(box.id, 'A')!.diskPath))).toContain(`changes-to-${t.core.store.findSnapshot(box.id, 'B')!.id}.json`);
  }, SLOW);

  it('takes back each snapshot\'s exact bytes, and a guest link stays a link', async () => {
    const out = path.join(t.dir, 'out');
    fs.mkdirSync(out);
    const a = (await t.router.invoke('snapshots:getFile', { box: 'files', snapshot: 'A', path: '/etc', destination: path.join(out, 'etc-A') })) as FileCopyResult;
    expect(a).toMatchObject({ files: 2, folders: 1, skipped: [] });
    expect(fs.readFileSync(path.join(out, 'etc-A', 'hostname'), 'utf8')).toBe('before\n');
    expect(fs.readFileSync(path.join(out, 'etc-A', 'keep.txt'), 'utf8')).toBe('unchanged\n');
    const root = (await t.router.invoke('snapshots:getFile', { box: 'files', snapshot: 'B', path: '/', destination: path.join(out, 'root-B') })) as FileCopyResult;
    expect(fs.readFileSync(path.join(out, 'root-B', 'etc', 'hostname'), 'utf8')).toBe('after, longer\n');
    expect(fs.readFileSync(path.join(out, 'root-B', 'data', 'same-size.txt'), 'utf8')).toBe('BBBB');
    expect(fs.statSync(path.join(out, 'root-B', 'data', 'mode.sh')).mode & 0o777).toBe(0o755);
    const link = path.join(out, 'root-B', 'link');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readlinkSync(link)).toBe('/etc/passwd');
    expect(root.links).toBe(1);
    // Nothing is written over: the same destination again is refused, and nothing changed there.
    const again = await rejection(t.router.invoke('snapshots:getFile', { box: 'files', snapshot: 'A', path: '/etc/hostname', destination: path.join(out, 'root-B', 'etc', 'hostname') }));
    expect(again.code).toBe('AlreadyExists');
    expect(fs.readFileSync(path.join(out, 'root-B', 'etc', 'hostname'), 'utf8')).toBe('after, longer\n');
    expect(fs.readdirSync(out).sort()).toEqual(['etc-A', 'root-B']);
  }, SLOW);

  it('keeps the appliance that looked inside warm for the next look, and lets go of the disks before any other work on the box', async () => {
    const box = t.core.store.findBox('files')!;
    const [a, b] = ['A', 'B'].map((n) => t.core.store.findSnapshot(box.id, n)!.diskPath);
    // The looks above left the pair A-B (compared, then A taken back) and B (taken back) warm.
    const holdingA = holdersOf(a!);
    expect(holdingA.length).toBeGreaterThan(0);
    const etc = (await t.router.invoke('snapshots:files', { box: 'files', snapshot: 'A', path: '/etc' })) as GuestFolder;
    expect(etc.entries.map((e) => e.path)).toEqual(['/etc/hostname', '/etc/keep.txt']);
    // Browsing A through the pair shows A's filesystem only, not B's as well.
    expect(etc.filesystems).toEqual(['/dev/sda: ext4']);
    expect(holdersOf(a!)).toEqual(holdingA);
    // Any other work of the box (pinning here) waits until no appliance holds its snapshots.
    await t.core.snapshots.pin('files', 'A', true);
    expect(holdersOf(a!)).toEqual([]);
    expect(holdersOf(b!)).toEqual([]);
    await t.core.snapshots.pin('files', 'A', false);
  }, SLOW);

  it('puts a file and a folder of a snapshot back into the stopped box\'s Now, exactly as the snapshot had them', async () => {
    const frozen = () => ['A', 'B'].map((n) => diskDigest(t.core.store.findSnapshot(t.core.store.findBox('files')!.id, n)!.diskPath));
    const before = frozen();
    const file = (await t.router.invoke('snapshots:putFile', { box: 'files', snapshot: 'A', path: '/etc/hostname' })) as FileCopyResult;
    expect(file).toMatchObject({ destination: '/etc/hostname', files: 1, bytes: 'before\n'.length });
    const folder = (await t.router.invoke('snapshots:putFile', { box: 'files', snapshot: 'A', path: '/data' })) as FileCopyResult;
    expect(folder).toMatchObject({ destination: '/data', files: 3, folders: 1 });
    // Now against A: /etc and /data are A's again (sha256 compared, as every inode was rewritten);
    // only what B added remains. No snapshot changed: B still differs from A as before.
    const d = await diff({ box: 'files', from: 'A', files: true });
    expect(d.files![0]!.changes.map((c) => `${c.change} ${c.path}`)).toEqual(['added /new', 'added /new/added.txt']);
    const b = await diff({ box: 'files', from: 'A', to: 'B', files: true });
    expect(b.cached).toBe(true);
    expect(b.files![0]!.changes).toHaveLength(6);
    expect(frozen()).toEqual(before);
  }, SLOW);
});

describe('a warm appliance whose VM died', () => {
  it('fails the look it was asked for, and the next look gets a new one', async () => {
    const a = t.core.store.findSnapshot(t.core.store.findBox('files')!.id, 'A')!.diskPath;
    const folder = () => t.router.invoke('snapshots:files', { box: 'files', snapshot: 'A', path: '/etc' }) as Promise<GuestFolder>;
    await folder();
    // The QEMU of the kept appliance (the one holding A) dies, as if killed by the OOM killer.
    const qemus = holdersOf(a);
    expect(qemus.length).toBeGreaterThan(0);
    for (const pid of qemus) process.kill(pid, 'SIGKILL');
    expect(await eventually(() => holdersOf(a).length === 0)).toBe(true);
    const err = await rejection(folder());
    expect(err.code).toBe('Storage');
    expect((await folder()).entries.map((e) => e.path)).toEqual(['/etc/hostname', '/etc/keep.txt']);
  }, SLOW);
});

describe('a running box', () => {
  it('has its Now compared only through a snapshot, and takes no file back into Now', async () => {
    requireTools('qemu-system-x86_64', 'busybox', 'cpio');
    const guest = buildGuest();
    const disk = makeDataDisk(path.join(t.dir, 'run.qcow2'), 32, { 'hello.txt': 'hi\n' });
    await t.core.images.import({ path: disk, name: 'run', kernelPath: guest.kernel, initrdPath: guest.initrd, append: GUEST_APPEND });
    await t.core.boxes.create({ name: 'run', image: 'run' });
    await t.core.snapshots.create({ box: 'run', name: 'cold' });
    await t.core.vms.start('run');
    try {
      const now = await rejection(diff({ box: 'run', from: 'cold', files: true }));
      expect(now.code).toBe('InvalidState');
      expect(now.message).toMatch(/is running: its disk is being written, so Boxkeep compares it only through a snapshot\. Take one \("boxkeep snapshot create run"\)/);
      const put = await rejection(t.router.invoke('snapshots:putFile', { box: 'run', snapshot: 'cold', path: '/hello.txt' }));
      expect(put.code).toBe('InvalidState');
      expect(put.message).toMatch(/only into a stopped box/);
      // Two snapshots of it compare as ever (the bytes, at once).
      await t.core.snapshots.create({ box: 'run', name: 'warm' });
      expect((await diff({ box: 'run', from: 'cold', to: 'warm' })).to.name).toBe('warm');
    } finally {
      await t.core.vms.stop('run', { force: true });
    }
  }, SLOW);
});

