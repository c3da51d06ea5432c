import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rejection } from '../helpers/errors.js';
import { diskDigest, makeQcow2, readPattern, writePattern } from '../helpers/disk.js';
import { MiB, openTestHome, type TestHome } from '../helpers/core.js';

let t: TestHome;
beforeEach(async () => { t = await openTestHome(); });
afterEach(async () => { await t.cleanup(); });

const errorOf = rejection;

const scratch = (name: string) => path.join(path.dirname(t.dir), name);

describe('image import', () => {
  it('imports a raw file as qcow2 with the same bytes, read-only afterwards', async () => {
    const raw = scratch('disk.img');
    fs.writeFileSync(raw, Buffer.alloc(4 * MiB, 0x3c));
    const image = await t.core.images.import({ path: raw, name: 'rawdisk' });
    expect(image).toMatchObject({ name: 'rawdisk', format: 'qcow2', virtualSize: 4 * MiB });
    expect(readPattern(image.path, 0, 4 * MiB, 0x3c)).toBe(true);
    expect(fs.statSync(image.path).mode & 0o222).toBe(0);
    expect(t.core.images.list().map((i) => i.name)).toEqual(['seed', 'rawdisk']);
  });

  it('refuses a file that claims to be qcow2 (by its magic) but has a malformed header, keeping nothing', async () => {
    const raw = scratch('tricky.img');
    const buf = Buffer.alloc(MiB);
    buf.writeUInt32BE(0x514649fb, 0); // qcow2 magic, then garbage
    buf.writeUInt32BE(3, 4);
    buf.writeUInt32BE(99, 20); // absurd cluster bits
    fs.writeFileSync(raw, buf);
    const err = await errorOf(t.core.images.import({ path: raw, name: 'tricky' }));
    expect(err.code).toBe('InvalidArgument');
    expect(err.message).toMatch(/not a valid qcow2 image/);
    expect(fs.readdirSync(t.core.paths.imagesDir)).toHaveLength(1);
  });

  it('refuses an image that names a backing file, saying why and how to flatten it', async () => {
    const base = scratch('base.qcow2');
    const top = scratch('top.qcow2');
    makeQcow2(base, 4 * MiB);
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', top, '4M']);
    const err = await errorOf(t.core.images.import({ path: top }));
    expect(err.code).toBe('InvalidArgument');
    expect(err.message).toMatch(/backing file.*\/etc\/passwd.*qemu-img convert/);
    expect(t.core.images.list()).toHaveLength(1);
  });

  it('refuses an image that keeps its data in an external file', async () => {
    const top = scratch('ext.qcow2');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${scratch('ext.data')}`, top, '4M']);
    const err = await errorOf(t.core.images.import({ path: top }));
    expect(err.code).toBe('InvalidArgument');
    expect(t.core.images.list()).toHaveLength(1);
  });

  it('copies a kernel and initrd for direct boot, and refuses an initrd without a kernel', async () => {
    const k = scratch('vmlinuz');
    const i = scratch('initrd');
    fs.writeFileSync(k, 'kernel-bytes');
    fs.writeFileSync(i, 'initrd-bytes');
    const disk = scratch('d.qcow2');
    makeQcow2(disk, 4 * MiB);
    const err = await errorOf(t.core.images.import({ path: disk, name: 'x', initrdPath: i }));
    expect(err.message).toMatch(/without a kernel/);
    const image = await t.core.images.import({ path: disk, name: 'direct', kernelPath: k, initrdPath: i, append: 'console=ttyS0' });
    expect(fs.readFileSync(image.kernelPath!, 'utf8')).toBe('kernel-bytes');
    expect(fs.readFileSync(image.initrdPath!, 'utf8')).toBe('initrd-bytes');
    expect(image.append).toBe('console=ttyS0');
  });

  it('a missing file is NotFound, a duplicate name AlreadyExists', async () => {
    expect((await errorOf(t.core.images.import({ path: scratch('nope.qcow2') }))).code).toBe('NotFound');
    const disk = scratch('d2.qcow2');
    makeQcow2(disk, MiB);
    expect((await errorOf(t.core.images.import({ path: disk, name: 'seed' }))).code).toBe('AlreadyExists');
  });

  it('an image in use by a box cannot be removed; an unused one goes with its files', async () => {
    await t.core.boxes.create({ name: 'dev', image: 'seed' });
    const err = await errorOf(t.core.images.remove('seed'));
    expect(err.code).toBe('InvalidState');
    expect(err.message).toMatch(/used by the box "dev"/);
    await t.core.boxes.remove('dev');
    const seed = t.core.images.resolve('seed');
    await t.core.images.remove('seed');
    expect(fs.existsSync(path.dirname(seed.path))).toBe(false);
    expect(t.core.images.list()).toEqual([]);
  });
});

describe('boxes', () => {
  it('a new box reads exactly its image, with the requested resources', async () => {
    const box = await t.core.boxes.create({ name: 'dev', image: 'seed', diskSizeGiB: 2, memoryMib: 512, cpus: 2 });
    expect(box).toMatchObject({ name: 'dev', status: 'configured', memoryMib: 512, cpus: 2, diskSize: 2 * 1024 ** 3, currentSnapshotId: null });
    expect(readPattern(box.liveDiskPath, 0, MiB, 0x11)).toBe(true);
  });

  it('refuses a disk smaller than the image, naming the minimum', async () => {
    const big = scratch('big.qcow2');
    makeQcow2(big, '3G');
    await t.core.images.import({ path: big, name: 'big' });
    const err = await errorOf(t.core.boxes.create({ name: 'x', image: 'big', diskSizeGiB: 1 }));
    expect(err.code).toBe('InvalidArgument');
    expect(err.message).toMatch(/at least 3 GiB/);
  });

  it('show lists the disk chain top first with kinds, and the space used', async () => {
    const box = await t.core.boxes.create({ name: 'dev', image: 'seed' });
    writePattern(box.liveDiskPath, MiB, 2 * MiB, 0x42);
    const s = await t.core.snapshots.create({ box: 'dev', name: 'one' });
    const d = await t.core.boxes.detail('dev');
    expect(d.chain.map((l) => l.kind)).toEqual(['live', 'snapshot', 'image']);
    expect(d.chain[0]!.path).toBe(box.liveDiskPath);
    expect(d.chain[1]!.snapshotId).toBe(s.id);
    expect(d.chain[2]!.imageId).toBe(t.imageId);
    expect(d.snapshotCount).toBe(1);
    expect(d.spaceUsed).toBeGreaterThan(2 * MiB);
  });

  it('rename keeps names unique; remove deletes every file and row of the box', async () => {
    const a = await t.core.boxes.create({ name: 'a', image: 'seed' });
    await t.core.boxes.create({ name: 'b', image: 'seed' });
    expect((await errorOf(t.core.boxes.rename('a', 'b'))).code).toBe('AlreadyExists');
    expect((await t.core.boxes.rename('a', 'alpha')).name).toBe('alpha');
    await t.core.snapshots.create({ box: 'alpha', name: 's' });
    const r = await t.core.boxes.remove('alpha');
    expect(r.removedId).toBe(a.id);
    expect(r.freedBytes).toBeGreaterThan(0);
    expect(fs.existsSync(t.core.paths.boxDir(a.id))).toBe(false);
    expect(t.core.store.listSnapshots(a.id)).toEqual([]);
    expect(t.core.boxes.list().map((b) => b.name)).toEqual(['b']);
  });

  it('a running box cannot be removed', async () => {
    const box = await t.core.boxes.create({ name: 'dev', image: 'seed' });
    const before = diskDigest(box.liveDiskPath);
    t.core.store.setBoxStatus(box.id, 'running');
    const err = await errorOf(t.core.boxes.remove('dev'));
    expect(err.code).toBe('InvalidState');
    expect(err.message).toMatch(/stop it first/);
    expect(diskDigest(box.liveDiskPath)).toBe(before);
    expect(t.core.store.getBox(box.id)).not.toBeNull();
  });

  it('operations on one box queue; different boxes run in parallel, and every result is intact', async () => {
    await t.core.boxes.create({ name: 'a', image: 'seed' });
    await t.core.boxes.create({ name: 'b', image: 'seed' });
    const results = await Promise.all([
      ...[1, 2, 3].map((n) => t.core.snapshots.create({ box: 'a', name: `a${n}` })),
      ...[1, 2, 3].map((n) => t.core.snapshots.create({ box: 'b', name: `b${n}` })),
    ]);
    expect(results).toHaveLength(6);
    const tree = t.core.snapshots.tree('a');
    // Serialized: each snapshot's parent is the previous one, a straight line.
    expect(tree.snapshots.map((s) => s.parentId)).toEqual([null, tree.snapshots[0]!.id, tree.snapshots[1]!.id]);
  });
});
