// The in-process empty qcow2 (qcow2-create.ts) against qemu-img itself: for every size and
// backing name the engine can ask for, the same bytes, the same `info`, a clean `check`; and
// what it cannot reproduce still goes to qemu-img.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as qemuImg from '../../electron/core/disk/qemu-img.js';
import { emptyQcow2 } from '../../electron/core/disk/qcow2-create.js';
import { makeQcow2, perTestDirs, readPattern, writePattern } from '../helpers/disk.js';
import { rejection } from '../helpers/errors.js';
import { makeLoopFs } from '../helpers/loopfs.js';
import { isDiskFull } from '../../electron/core/space.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
const dir = perTestDirs('q2c', 'qemu-img', 'qemu-io');

function qemuImgRun(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** What qemu-img itself writes for the same arguments. */
function reference(file: string, size: number, backing: { path: string; format: string; unsafe: boolean } | null): void {
  const b = backing ? [...(backing.unsafe ? ['-u'] : []), '-b', backing.path, '-F', backing.format] : [];
  const r = qemuImgRun('create', '-q', '-f', 'qcow2', ...b, file, String(size));
  if (r.status !== 0) throw new Error(`qemu-img create failed: ${r.stderr}`);
}

/** `info` minus the one field that must differ: the file's own name. */
function infoOf(file: string): Record<string, unknown> {
  const r = qemuImgRun('info', '-f', 'qcow2', '--output=json', file);
  if (r.status !== 0) throw new Error(`qemu-img info failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  delete j['filename'];
  return j;
}

function expectSameAsQemuImg(ours: string, theirs: string): void {
  expect(fs.readFileSync(ours).equals(fs.readFileSync(theirs))).toBe(true);
  expect(infoOf(ours)).toEqual(infoOf(theirs));
  // The layer alone, as the engine checks it: an unsafe overlay's backing may not exist.
  const check = qemuImgRun('check', 'json:' + JSON.stringify({ driver: 'qcow2', backing: null, file: { driver: 'file', filename: ours } }));
  expect(check.status, check.stdout + check.stderr).toBe(0);
  expect((fs.statSync(ours).mode & 0o777).toString(8)).toBe((fs.statSync(theirs).mode & 0o777).toString(8));
}

/** A name of exactly `bytes` bytes under `d`, in components short enough for the kernel. */
function longName(d: string, bytes: number): string {
  let name = d;
  while (name.length + 1 + 200 < bytes - 7) name += '/' + 'd'.repeat(200);
  const pad = bytes - name.length - '/.qcow2'.length;
  return `${name}/${'f'.repeat(pad)}.qcow2`;
}

const SIZES = [512, MiB, GiB + 512, 100 * GiB, 16 * TiB, 64 * TiB];

describe('in-process empty qcow2', () => {
  it('a standalone disk is byte for byte what qemu-img writes, for every size', async () => {
    const f = dir();
    for (const size of SIZES) {
      await qemuImg.createDisk(f(`ours-${size}.qcow2`), size);
      reference(f(`ref-${size}.qcow2`), size, null);
      expectSameAsQemuImg(f(`ours-${size}.qcow2`), f(`ref-${size}.qcow2`));
    }
  });

  it('an overlay (safe, on qcow2 and raw backings) is byte for byte what qemu-img writes', async () => {
    const f = dir();
    makeQcow2(f('base.qcow2'), 64 * MiB);
    fs.writeFileSync(f('base.raw'), Buffer.alloc(MiB));
    for (const [backing, format] of [[f('base.qcow2'), 'qcow2'], [f('base.raw'), 'raw']] as const) {
      for (const size of SIZES) {
        const ours = f(`ours-${format}-${size}.qcow2`);
        await qemuImg.createOverlay(ours, backing, size);
        reference(f(`ref-${format}-${size}.qcow2`), size, { path: backing, format, unsafe: false });
        expectSameAsQemuImg(ours, f(`ref-${format}-${size}.qcow2`));
      }
    }
  });

  it('an unsafe overlay on a backing not there yet matches qemu-img for short and 1023-byte names', async () => {
    const f = dir();
    for (const bytes of [f('later.qcow2').length, 600, 1023]) {
      const backing = longName(path.dirname(f('x')), bytes);
      expect(Buffer.byteLength(backing)).toBe(bytes);
      for (const size of [MiB, GiB + 512, 16 * TiB]) {
        await qemuImg.createOverlay(f(`ours-${bytes}-${size}.qcow2`), backing, size, { unsafe: true });
        reference(f(`ref-${bytes}-${size}.qcow2`), size, { path: backing, format: 'qcow2', unsafe: true });
        expectSameAsQemuImg(f(`ours-${bytes}-${size}.qcow2`), f(`ref-${bytes}-${size}.qcow2`));
      }
    }
  });

  it('the overlay reads through to its backing and takes writes', async () => {
    const f = dir();
    makeQcow2(f('base.qcow2'), 8 * MiB);
    writePattern(f('base.qcow2'), 0, MiB, 0x5a);
    await qemuImg.createOverlay(f('top.qcow2'), f('base.qcow2'), 8 * MiB);
    expect(readPattern(f('top.qcow2'), 0, MiB, 0x5a)).toBe(true);
    writePattern(f('top.qcow2'), 4 * MiB, MiB, 0xa5);
    expect(readPattern(f('top.qcow2'), 4 * MiB, MiB, 0xa5)).toBe(true);
    expect(readPattern(f('base.qcow2'), 4 * MiB, MiB, 0)).toBe(true);
    expect(qemuImgRun('check', '-f', 'qcow2', f('top.qcow2')).status).toBe(0);
  });

  it('creates disks and overlays without qemu-img on PATH', async () => {
    const f = dir();
    makeQcow2(f('base.qcow2'), MiB);
    const saved = process.env.PATH;
    process.env.PATH = f('empty-bin');
    try {
      await qemuImg.createDisk(f('d.qcow2'), MiB);
      await qemuImg.createOverlay(f('o.qcow2'), f('base.qcow2'), MiB);
      await qemuImg.createOverlay(f('u.qcow2'), f('later.qcow2'), MiB, { unsafe: true });
    } finally {
      process.env.PATH = saved;
    }
    for (const name of ['d.qcow2', 'o.qcow2', 'u.qcow2']) expect(fs.statSync(f(name)).size).toBe(3 * 65536 + 8);
  });

  it('refuses an existing target and leaves it as it was', async () => {
    const f = dir();
    fs.writeFileSync(f('t.qcow2'), 'keep me');
    makeQcow2(f('base.qcow2'), MiB);
    expect((await rejection(qemuImg.createDisk(f('t.qcow2'), MiB))).code).toBe('AlreadyExists');
    expect((await rejection(qemuImg.createOverlay(f('t.qcow2'), f('base.qcow2'), MiB))).code).toBe('AlreadyExists');
    expect(fs.readFileSync(f('t.qcow2'), 'utf8')).toBe('keep me');
  });

  it('safe mode refuses a backing with the qcow2 magic but a broken header, as qemu-img did', async () => {
    const f = dir();
    const broken = Buffer.alloc(4096);
    broken.writeUInt32BE(0x514649fb, 0);
    broken.writeUInt32BE(3, 4);
    broken.writeUInt32BE(40, 20); // cluster bits out of range
    fs.writeFileSync(f('broken.qcow2'), broken);
    const err = await rejection(qemuImg.createOverlay(f('t.qcow2'), f('broken.qcow2'), MiB));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/the backing file cannot be opened/);
    expect(fs.existsSync(f('t.qcow2'))).toBe(false);
  });

  it('what it cannot reproduce goes to qemu-img: a disk over 64 TiB, a backing name over 1023 bytes', async () => {
    const f = dir();
    expect(emptyQcow2(128 * TiB, null)).toBeNull();
    await qemuImg.createDisk(f('big.qcow2'), 128 * TiB);
    reference(f('ref.qcow2'), 128 * TiB, null);
    expectSameAsQemuImg(f('big.qcow2'), f('ref.qcow2'));

    const tooLong = longName(path.dirname(f('x')), 1024);
    expect(emptyQcow2(MiB, { path: tooLong, format: 'qcow2' })).toBeNull();
    const err = await rejection(qemuImg.createOverlay(f('t.qcow2'), tooLong, MiB, { unsafe: true }));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/failed: qemu-img: .*Could not assign backing file/);

    // Proof that the fallback really spawns qemu-img: without it on PATH it says how to install it.
    const saved = process.env.PATH;
    process.env.PATH = f('empty-bin');
    try {
      const missing = await rejection(qemuImg.createDisk(f('big2.qcow2'), 128 * TiB));
      expect(missing.message).toBe(qemuImg.MISSING_QEMU_IMG);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('a full disk fails the create with a disk-full Storage error and leaves no half-written file', async () => {
    const lfs = makeLoopFs(8);
    try {
      lfs.fill(64 * 1024); // room for part of the 192 KiB of metadata, not all of it
      const target = path.join(lfs.dir, 'next.qcow2');
      const err = await rejection(qemuImg.createDisk(target, MiB));
      expect(err.code).toBe('Storage');
      expect(isDiskFull(err)).toBe(true);
      expect(fs.existsSync(target)).toBe(false);
    } finally {
      lfs.release();
    }
  });
});
