// Looking inside guest filesystems that hold what a hostile or merely old guest may hold, on real
// disks through a real libguestfs appliance (TCG: ~20-60 s a launch, so few launches).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileCopyResult, SnapshotDiff } from '../../shared/types.js';
import { rejection } from '../helpers/errors.js';
import { editDisk } from '../helpers/edit-disk.js';
import { boxFrom, insideHome, makeExt4Qcow2 } from '../helpers/guestfs.js';

const SLOW = 600_000;
const t = insideHome('bkh');
const diff = (input: Record<string, unknown>) => t.router.invoke('snapshots:diff', input) as Promise<SnapshotDiff>;
/** "café.txt" as Latin-1 wrote it: the é is the single byte 0xE9, not UTF-8. */
const LATIN1 = Buffer.from('caf\xe9.txt', 'latin1');

describe('a guest name that is not UTF-8', () => {
  it('is compared under its own bytes, and does not stop the rest of the filesystem being compared', async () => {
    const disk = makeExt4Qcow2(path.join(t.dir, 'odd.qcow2'), 32, { 'odd/ok.txt': 'fine\n', 'odd/gone.txt': 'x' }, undefined, (src) => {
      fs.writeFileSync(Buffer.concat([Buffer.from(path.join(src, 'odd') + '/'), LATIN1]), 'latin-1 name\n');
      execFileSync('mkfifo', [path.join(src, 'fifo')]);
    });
    const box = await boxFrom(t.core, disk, 'odd');
    await t.core.snapshots.create({ box: 'odd', name: 'A' });
    await editDisk(box.liveDiskPath, (root) => {
      fs.writeFileSync(path.join(root, 'odd', 'ok.txt'), 'changed\n');
      fs.rmSync(path.join(root, 'odd', 'gone.txt'));
      fs.rmSync(Buffer.concat([Buffer.from(path.join(root, 'odd') + '/'), LATIN1]));
    });
    await t.core.snapshots.create({ box: 'odd', name: 'B' });

    const d = await diff({ box: 'odd', from: 'A', to: 'B', files: true });
    expect(d.files![0]!.problem).toBeNull();
    expect(d.files![0]!.changes.map((c) => `${c.change} ${c.path}`)).toEqual(['removed /odd/caf\udce9.txt', 'removed /odd/gone.txt', 'modified /odd/ok.txt']);
  }, SLOW);

  it('is skipped with its reason when a folder is taken back, the rest copied', async () => {
    const dest = path.join(t.dir, 'odd-A');
    const r = (await t.router.invoke('snapshots:getFile', { box: 'odd', snapshot: 'A', path: '/odd', destination: dest })) as FileCopyResult;
    expect(fs.readdirSync(dest).sort()).toEqual(['gone.txt', 'ok.txt']);
    expect(fs.readFileSync(path.join(dest, 'ok.txt'), 'utf8')).toBe('fine\n');
    expect(r.skipped).toEqual(['/odd/caf\udce9.txt: the name "caf\\udce9.txt" is not UTF-8']);
  }, SLOW);
});

describe('a guest pipe or device', () => {
  it('is refused when asked for by name, and nothing is made at the destination', async () => {
    const dest = path.join(t.dir, 'fifo-A');
    const err = await rejection(t.router.invoke('snapshots:getFile', { box: 'odd', snapshot: 'A', path: '/fifo', destination: dest }));
    expect(err.code).toBe('InvalidArgument');
    expect(err.message).toMatch(/\/fifo is a device, socket or pipe; only files, folders and links are copied out/);
    expect(fs.existsSync(dest)).toBe(false);
    expect(fs.readdirSync(t.dir).filter((n) => n.startsWith('.boxkeep-get-'))).toEqual([]);
  }, SLOW);
});

describe('the kept comparison', () => {
  it('is ignored and compared afresh when its file was tampered with, never shown as it is', async () => {
    const box = t.core.store.findBox('odd')!;
    const [a, b] = ['A', 'B'].map((n) => t.core.store.findSnapshot(box.id, n)!);
    const cache = path.join(path.dirname(a!.diskPath), `changes-to-${b!.id}.json`);
    const honest = JSON.parse(fs.readFileSync(cache, 'utf8'));
    fs.writeFileSync(cache, JSON.stringify({ version: 1, files: [{ filesystem: '/dev/sda', type: 'ext4', problem: null, changes: 'rm -rf /' }] }));
    const d = await diff({ box: 'odd', from: 'A', to: 'B', files: true });
    expect(d.cached).toBe(false);
    expect(d.files![0]!.changes.map((c) => `${c.change} ${c.path}`)).toEqual(['removed /odd/caf\udce9.txt', 'removed /odd/gone.txt', 'modified /odd/ok.txt']);
    // Written again, whole: the next answer comes from it.
    expect(JSON.parse(fs.readFileSync(cache, 'utf8'))).toEqual(honest);
    expect((await diff({ box: 'odd', from: 'A', to: 'B', files: true })).cached).toBe(true);
  }, SLOW);
});

describe('taking a folder back', () => {
  it('stops, writing nothing outside, when a folder of its private build folder is swapped for a link mid-copy', async () => {
    // sub/aaa is big, so its download leaves time to swap sub for a link before sub/zzz is made.
    const disk = makeExt4Qcow2(path.join(t.dir, 'swap.qcow2'), 160, { 'd/sub/aaa': 'a'.repeat(64 * 1024 * 1024), 'd/sub/zzz': 'secret\n' });
    await boxFrom(t.core, disk, 'swap');
    await t.core.snapshots.create({ box: 'swap', name: 'A' });
    const parent = path.join(t.dir, 'shared');
    const outside = path.join(t.dir, 'outside');
    fs.mkdirSync(parent);
    fs.mkdirSync(outside, { mode: 0o700 });
    fs.chmodSync(outside, 0o700);
    const dest = path.join(parent, 'd');
    let swapped = false;
    const watcher = setInterval(() => {
      const staging = fs.readdirSync(parent).find((n) => n.startsWith('.boxkeep-get-'));
      const sub = staging && path.join(parent, staging, 'x', 'sub');
      if (!sub || swapped || !fs.existsSync(path.join(sub, 'aaa'))) return;
      fs.renameSync(sub, path.join(parent, staging, 'x', 'moved'));
      fs.symlinkSync(outside, sub);
      swapped = true;
    }, 5);
    try {
      const err = await rejection(t.router.invoke('snapshots:getFile', { box: 'swap', snapshot: 'A', path: '/d', destination: dest }));
      expect(swapped).toBe(true);
      expect(err.code).toBe('Storage');
      expect(err.message).toMatch(/was moved or replaced while the copy was being made there; nothing was saved/);
    } finally {
      clearInterval(watcher);
    }
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.statSync(outside).mode & 0o777).toBe(0o700);
    expect(fs.existsSync(dest)).toBe(false);
  }, SLOW);
});
