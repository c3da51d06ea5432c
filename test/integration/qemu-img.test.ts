import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as qemuImg from '../../electron/core/disk/qemu-img.js';
import { walkChain } from '../../electron/core/disk/chain.js';
import { backingOf, diskDigest, makeQcow2, perTestDirs, readPattern, writePattern } from '../helpers/disk.js';
import { rejection } from '../helpers/errors.js';

const MiB = 1024 * 1024;
const dir = perTestDirs('qimg', 'qemu-img', 'qemu-io');


function progressRecorder() {
  const seen: number[] = [];
  return { seen, onProgress: (f: number) => void seen.push(f) };
}

function expectSaneProgress(seen: number[]): void {
  expect(seen[0]).toBe(0);
  expect(seen.at(-1)).toBe(1);
  expect(seen.filter((f) => f === 1)).toHaveLength(1);
  for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
}

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('qemu-img wrapper', () => {
  it('reports the qemu-img version', async () => {
    expect(await qemuImg.requireQemuImg()).toMatch(/^\d+\.\d+/);
  });

  it('creates a standalone disk and refuses to overwrite one', async () => {
    const f = dir();
    await qemuImg.createDisk(f('d.qcow2'), 16 * MiB);
    expect(await qemuImg.info(f('d.qcow2'))).toMatchObject({ virtualSize: 16 * MiB, backingFile: null, format: 'qcow2' });
    expect((await rejection(qemuImg.createDisk(f('d.qcow2'), 16 * MiB))).code).toBe('AlreadyExists');
    expect((await rejection(qemuImg.createDisk(f('e.qcow2'), 1000))).code).toBe('InvalidArgument');
  });

  it('creates an overlay that reads through to its backing, recorded absolute and canonical', async () => {
    const f = dir();
    makeQcow2(f('base.qcow2'), '8M');
    writePattern(f('base.qcow2'), 0, 2 * MiB, 0xaa);
    fs.symlinkSync(f('base.qcow2'), f('alias.qcow2'));
    const baseDigest = diskDigest(f('base.qcow2'));

    const t = performance.now();
    await qemuImg.createOverlay(f('top.qcow2'), path.relative(process.cwd(), f('alias.qcow2')), 8 * MiB);
    console.info(`createOverlay: ${(performance.now() - t).toFixed(1)} ms`);

    expect(backingOf(f('top.qcow2'))).toBe(fs.realpathSync.native(f('base.qcow2')));
    expect(readPattern(f('top.qcow2'), 0, 2 * MiB, 0xaa)).toBe(true);
    writePattern(f('top.qcow2'), MiB, MiB, 0xbb);
    expect(readPattern(f('top.qcow2'), MiB, MiB, 0xbb)).toBe(true);
    expect(diskDigest(f('base.qcow2'))).toBe(baseDigest);
  });

  it('creates an unsafe overlay on a backing that does not exist yet', async () => {
    const f = dir();
    await qemuImg.createOverlay(f('next.qcow2'), f('later.qcow2'), 4 * MiB, { unsafe: true });
    expect(backingOf(f('next.qcow2'))).toBe(f('later.qcow2'));
    makeQcow2(f('later.qcow2'), '4M');
    writePattern(f('later.qcow2'), 0, MiB, 0x11);
    expect(readPattern(f('next.qcow2'), 0, MiB, 0x11)).toBe(true);
    const err = await rejection(qemuImg.createOverlay(f('x.qcow2'), f('never.qcow2'), 4 * MiB));
    expect(err.code).toBe('Storage');
    expect(err.message).toContain(f('never.qcow2'));
  });

  it('records a raw backing as raw', async () => {
    const f = dir();
    fs.writeFileSync(f('base.raw'), Buffer.alloc(4 * MiB, 0x5a));
    await qemuImg.createOverlay(f('top.qcow2'), f('base.raw'), 4 * MiB);
    const layers = await walkChain(f('top.qcow2'));
    expect(layers[0].header.backingFormat).toBe('raw');
    expect(readPattern(f('top.qcow2'), 0, 4 * MiB, 0x5a)).toBe(true);
  });

  it('converts raw to qcow2 keeping every byte, with progress ending at 1', async () => {
    const f = dir();
    fs.writeFileSync(f('src.raw'), Buffer.alloc(0));
    fs.truncateSync(f('src.raw'), 32 * MiB);
    writePattern(f('src.raw'), 0, 24 * MiB, 0x3c, { format: 'raw' });
    writePattern(f('src.raw'), 30 * MiB, 512, 0x01, { format: 'raw' });
    const progress = progressRecorder();
    await qemuImg.convert(f('src.raw'), 'raw', f('dst.qcow2'), progress);
    expect(diskDigest(f('dst.qcow2'))).toBe(diskDigest(f('src.raw'), { format: 'raw' }));
    expectSaneProgress(progress.seen);
    // qemu-img prints updates on a pipe too, so something between the ends arrives.
    expect(progress.seen.some((x) => x > 0 && x < 1)).toBe(true);
  });

  it('never probes: a raw file holding a qcow2 header is imported as those raw bytes', async () => {
    const f = dir();
    fs.writeFileSync(f('secret'), 'host secret\n'.repeat(1000));
    makeQcow2(f('evil.qcow2'), '1M');
    await qemuImg.rebase(f('evil.qcow2'), f('secret'), { unsafe: true });
    fs.copyFileSync(f('evil.qcow2'), f('disk.raw'));
    await qemuImg.convert(f('disk.raw'), 'raw', f('imported.qcow2'));
    // qemu-img rounds a raw file up to whole 512-byte sectors, reading zeros past its end.
    const raw = fs.readFileSync(f('disk.raw'));
    const padded = Buffer.concat([raw, Buffer.alloc((512 - (raw.length % 512)) % 512)]);
    expect(diskDigest(f('imported.qcow2'))).toBe(crypto.createHash('sha256').update(padded).digest('hex'));
    expect(backingOf(f('imported.qcow2'))).toBeNull();
  });

  it('rebases onto the grandparent keeping the guest-visible bytes', async () => {
    const f = dir();
    makeQcow2(f('base.qcow2'), '8M');
    writePattern(f('base.qcow2'), 0, 3 * MiB, 0xaa);
    await qemuImg.createOverlay(f('s1.qcow2'), f('base.qcow2'), 8 * MiB);
    writePattern(f('s1.qcow2'), MiB, 2 * MiB, 0xbb);
    await qemuImg.createOverlay(f('s2.qcow2'), f('s1.qcow2'), 8 * MiB);
    writePattern(f('s2.qcow2'), 2 * MiB, MiB, 0xcc);
    const before = diskDigest(f('s2.qcow2'));

    const progress = progressRecorder();
    await qemuImg.rebase(f('s2.qcow2'), f('base.qcow2'), progress);
    expect(backingOf(f('s2.qcow2'))).toBe(fs.realpathSync.native(f('base.qcow2')));
    expect(diskDigest(f('s2.qcow2'))).toBe(before);
    expect(readPattern(f('s2.qcow2'), MiB, MiB, 0xbb)).toBe(true);
    expectSaneProgress(progress.seen);

    await qemuImg.rebase(f('s2.qcow2'), null);
    expect(backingOf(f('s2.qcow2'))).toBeNull();
    expect(diskDigest(f('s2.qcow2'))).toBe(before);
  });

  it('commits a layer into its backing and leaves the layer itself unchanged', async () => {
    const f = dir();
    makeQcow2(f('s1.qcow2'), '8M');
    writePattern(f('s1.qcow2'), 0, 4 * MiB, 0xaa);
    await qemuImg.createOverlay(f('s2.qcow2'), f('s1.qcow2'), 8 * MiB);
    writePattern(f('s2.qcow2'), 2 * MiB, 4 * MiB, 0xcc);
    const s2Digest = diskDigest(f('s2.qcow2'));
    const s2File = sha256(f('s2.qcow2'));

    const progress = progressRecorder();
    await qemuImg.commit(f('s2.qcow2'), progress);
    expect(diskDigest(f('s1.qcow2'))).toBe(s2Digest);
    expect(sha256(f('s2.qcow2'))).toBe(s2File);
    expectSaneProgress(progress.seen);

    const err = await rejection(qemuImg.commit(f('s1.qcow2')));
    expect(err.code).toBe('InvalidArgument');
    expect(err.message).toMatch(/no backing file/);
  });

  it('removes a snapshot with one dependent: commit s2 into s1, rename s1 over s2, everything reads as before', async () => {
    const f = dir();
    makeQcow2(f('base.qcow2'), '8M');
    writePattern(f('base.qcow2'), 0, 8 * MiB, 0x10);
    await qemuImg.createOverlay(f('s1.qcow2'), f('base.qcow2'), 8 * MiB);
    writePattern(f('s1.qcow2'), 0, 4 * MiB, 0x11);
    await qemuImg.createOverlay(f('s2.qcow2'), f('s1.qcow2'), 8 * MiB);
    writePattern(f('s2.qcow2'), 2 * MiB, 4 * MiB, 0x12);
    await qemuImg.createOverlay(f('live.qcow2'), f('s2.qcow2'), 8 * MiB);
    writePattern(f('live.qcow2'), 5 * MiB, MiB, 0x13);
    const s2Before = diskDigest(f('s2.qcow2'));
    const liveBefore = diskDigest(f('live.qcow2'));

    await qemuImg.commit(f('s2.qcow2'));
    fs.renameSync(f('s1.qcow2'), f('s2.qcow2'));

    expect(diskDigest(f('s2.qcow2'))).toBe(s2Before);
    expect(diskDigest(f('live.qcow2'))).toBe(liveBefore);
    expect(readPattern(f('s2.qcow2'), 2 * MiB, 4 * MiB, 0x12)).toBe(true);
    expect(readPattern(f('s2.qcow2'), 6 * MiB, 2 * MiB, 0x10)).toBe(true);
    const chain = (await walkChain(f('live.qcow2'))).map((l) => path.basename(l.path));
    expect(chain).toEqual(['live.qcow2', 's2.qcow2', 'base.qcow2']);
    expect((await qemuImg.check(f('s2.qcow2'))).ok).toBe(true);
    expect((await qemuImg.check(f('live.qcow2'))).ok).toBe(true);
  });

  it('a progress callback that throws does not abort the operation', async () => {
    const f = dir();
    makeQcow2(f('b.qcow2'), '4M');
    await qemuImg.createOverlay(f('t.qcow2'), f('b.qcow2'), 4 * MiB);
    writePattern(f('t.qcow2'), 0, MiB, 0x21);
    await qemuImg.commit(f('t.qcow2'), {
      onProgress: () => {
        throw new Error('window closed');
      },
    });
    expect(readPattern(f('b.qcow2'), 0, MiB, 0x21)).toBe(true);
  });

  it('grows a disk, keeps its data, and refuses to shrink it', async () => {
    const f = dir();
    makeQcow2(f('d.qcow2'), '4M');
    writePattern(f('d.qcow2'), 0, MiB, 0x77);
    await qemuImg.resize(f('d.qcow2'), 16 * MiB);
    expect((await qemuImg.info(f('d.qcow2'))).virtualSize).toBe(16 * MiB);
    expect(readPattern(f('d.qcow2'), 0, MiB, 0x77)).toBe(true);
    expect((await rejection(qemuImg.resize(f('d.qcow2'), 4 * MiB))).code).toBe('InvalidArgument');
  });

  it('check reports clean images, leaks and corruptions without throwing', async () => {
    const f = dir();
    makeQcow2(f('clean.qcow2'), '1M');
    expect(await qemuImg.check(f('clean.qcow2'))).toMatchObject({ ok: true, corruptions: 0, leaks: 0 });

    // A fresh 1M image has clusters 0-3 in use, refcount block at 0x20000 with 16-bit entries.
    fs.copyFileSync(f('clean.qcow2'), f('leak.qcow2'));
    const fd = fs.openSync(f('leak.qcow2'), 'r+');
    fs.writeSync(fd, Buffer.from([0, 1]), 0, 2, 0x20000 + 2 * 6);
    fs.closeSync(fd);
    fs.truncateSync(f('leak.qcow2'), 8 * 65536);
    expect(await qemuImg.check(f('leak.qcow2'))).toMatchObject({ ok: false, corruptions: 0, leaks: 1 });

    fs.copyFileSync(f('clean.qcow2'), f('bad.qcow2'));
    const fd2 = fs.openSync(f('bad.qcow2'), 'r+');
    fs.writeSync(fd2, Buffer.from([0, 0]), 0, 2, 0x20000 + 2 * 1);
    fs.closeSync(fd2);
    const bad = await qemuImg.check(f('bad.qcow2'));
    expect(bad).toMatchObject({ ok: false, corruptions: 1 });
    expect(bad.output).toMatch(/refcount=0 reference=1/);
  });

  it('info reads size, allocation and the resolved backing name', async () => {
    const f = dir();
    makeQcow2(f('b.qcow2'), '8M');
    await qemuImg.createOverlay(f('t.qcow2'), f('b.qcow2'), 8 * MiB);
    writePattern(f('t.qcow2'), 0, 2 * MiB, 1);
    const i = await qemuImg.info(f('t.qcow2'), { shareLocked: true });
    expect(i.virtualSize).toBe(8 * MiB);
    expect(i.actualSize).toBeGreaterThanOrEqual(2 * MiB);
    expect(i.backingFile).toBe(fs.realpathSync.native(f('b.qcow2')));
  });

  it('a missing input is a Storage error carrying qemu-img\'s message', async () => {
    const f = dir();
    for (const call of [
      () => qemuImg.convert(f('nope.raw'), 'raw', f('out.qcow2')),
      () => qemuImg.info(f('nope.qcow2')),
      () => qemuImg.check(f('nope.qcow2')),
      () => qemuImg.rebase(f('nope.qcow2'), null),
    ]) {
      const err = await rejection(call());
      expect(err.code).toBe('Storage');
      expect(err.message).toMatch(/failed: qemu-img: Could not open .*No such file or directory/);
    }
    for (const call of [() => qemuImg.commit(f('nope.qcow2')), () => qemuImg.resize(f('nope.qcow2'), MiB)]) {
      const err = await rejection(call());
      expect(err.code).toBe('Storage');
      expect(err.message).toMatch(/does not exist/);
    }
  });

  it('says how to install qemu-img when it is not on PATH', async () => {
    const f = dir();
    const saved = process.env.PATH;
    process.env.PATH = f('empty-bin');
    try {
      // createDisk no longer spawns qemu-img for sizes like this (qcow2-create.ts); check does.
      const err = await rejection(qemuImg.check(f('d.qcow2')));
      expect(err.code).toBe('Storage');
      expect(err.message).toBe('qemu-img was not found on PATH; install it with: sudo apt-get install qemu-utils');
    } finally {
      process.env.PATH = saved;
    }
  });
});
