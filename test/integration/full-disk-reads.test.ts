// A home on a real, completely full filesystem (a small ext4 loop-mounted here): read-only
// commands still answer, nothing is left behind in the home, and a write says the disk is full.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box, SnapshotTree, SystemInfo } from '../../shared/types.js';
import { makeQcow2, requireTools } from '../helpers/disk.js';
import { makeLoopFs, type LoopFs } from '../helpers/loopfs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'boxkeep.mjs');

let lfs: LoopFs | null = null;
let home: string;

function boxkeep(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, '--home', home, '--json', ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok<T>(...args: string[]): T {
  const r = boxkeep(...args);
  if (r.code !== 0) throw new Error(`boxkeep ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as T;
}

/** Every file and folder under the home, with its size: what a command may not leave behind. */
function listing(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    const rel = path.relative(home, p);
    return e.isDirectory() ? [`${rel}/`, ...listing(p)] : [`${rel} ${fs.statSync(p).size}`];
  }).sort();
}

beforeAll(() => {
  requireTools('qemu-img', 'qemu-io');
  lfs = makeLoopFs(64);
  home = path.join(lfs.dir, 'home');
  const seed = path.join(lfs.dir, 'seed.qcow2');
  makeQcow2(seed, 16 * 1024 * 1024);
  // The default reserve (2 GiB) is larger than this whole filesystem: these tests are about
  // what happens when the disk really is full, not about the guard that keeps it from filling.
  ok('settings', '--disk-reserve', '0');
  ok('image', 'import', seed, '--name', 'seed');
  fs.rmSync(seed);
  ok('box', 'create', 'b', '--image', 'seed');
  ok('snapshot', 'create', 'b', 'one');
  ok('snapshot', 'create', 'b', 'two');
});
afterAll(() => lfs?.release());

describe('a home on a full disk', () => {
  it('answers reads with one 4 KiB block left, too little for the database\'s shared-memory index', () => {
    lfs!.fill(4096);
    expect(lfs!.free()).toBe(4096);
    try {
      expect(ok<Box[]>('box', 'list').map((b) => b.name)).toEqual(['b']);
      expect(ok<SnapshotTree>('snapshot', 'list', 'b').snapshots.map((s) => s.name)).toEqual(['one', 'two']);
    } finally {
      lfs!.unfill();
    }
  });

  // A write that cannot fit is refused by the space guard before it starts (a write that fills
  // the disk part way, after the guard said yes, is in snapshot-remove-full-disk.test.ts).
  it('refuses a write that cannot fit before it starts, saying the disk is full, and leaves nothing behind', () => {
    const before = listing(home);
    lfs!.fill(64 * 1024);
    try {
      const write = boxkeep('snapshot', 'create', 'b', 'late');
      expect(write.code).toBe(1);
      const error = (JSON.parse(write.stderr) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('Storage');
      expect(error.message).toMatch(/^Taking the snapshot "late" needs about 1 MiB of disk space, but the disk holding the Boxkeep home is full \(6\d KiB free\).* Free at least/);
    } finally {
      lfs!.unfill();
    }
    expect(ok<SnapshotTree>('snapshot', 'list', 'b').snapshots.map((s) => s.name)).toEqual(['one', 'two']);
    expect(listing(home)).toEqual(before);
  });

  it('answers box list, snapshot list and info, leaves nothing behind, and a write says the disk is full', () => {
    const before = listing(home);
    lfs!.fill(0);
    expect(lfs!.free()).toBe(0);

    expect(ok<Box[]>('box', 'list').map((b) => b.name)).toEqual(['b']);
    expect(ok<SnapshotTree>('snapshot', 'list', 'b').snapshots.map((s) => s.name)).toEqual(['one', 'two']);
    expect(ok<SystemInfo>('info').home).toBe(home);
    const human = spawnSync(process.execPath, [BIN, '--home', home, 'snapshot', 'list', 'b'], { encoding: 'utf8' });
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/one[\s\S]*two/);
    expect(listing(home)).toEqual(before);

    const write = boxkeep('snapshot', 'create', 'b', 'three');
    expect(write.code).toBe(1);
    const error = (JSON.parse(write.stderr) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('Storage');
    expect(error.message).toMatch(/the disk holding the Boxkeep home is full \(0 B free\).* Free at least 1 MiB/);
    expect(error.message).not.toMatch(/move it aside|damaged/);
    expect(listing(home)).toEqual(before);

    // A new home cannot even be made: the same message, not an internal error.
    const fresh = spawnSync(process.execPath, [BIN, '--home', path.join(lfs!.dir, 'fresh'), '--json', 'box', 'list'], { encoding: 'utf8' });
    expect(fresh.status).toBe(1);
    expect(JSON.parse(fresh.stderr).error).toMatchObject({ code: 'Storage', message: expect.stringContaining('is full. Free space in the filesystem of') });

    // With room again, the home works as before and the refused write never happened.
    lfs!.unfill();
    expect(ok<SnapshotTree>('snapshot', 'list', 'b').snapshots.map((s) => s.name)).toEqual(['one', 'two']);
    expect(ok<{ name: string }>('snapshot', 'create', 'b', 'three').name).toBe('three');
  });
});
