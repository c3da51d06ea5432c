// Crash-injection harness: builds a home with a snapshot chain, runs one channel in a child
// process that SIGKILLs itself at a named point, then reopens the home (recovery runs).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { openCore, type Core } from '../../electron/core/core.js';
import { CRASH_POINTS, type CrashPoint } from '../../electron/core/operations.js';
import { updateSettings } from '../../electron/core/space.js';
import { diskDigest, hashFile, makeQcow2, requireTools, tempHome, writePattern } from './disk.js';
import { makeLoopFs, type LoopFs } from './loopfs.js';

const MiB = 1024 * 1024;
const DRIVER = path.resolve('test/helpers/crash-driver.mjs');

export interface World {
  home: string;
  boxId: string;
  snapshots: Record<string, string>; // name → digest
  live: string;
  /** A UEFI world: each snapshot's copy of the variables (name → digest), and the live ones. */
  vars?: Record<string, string>;
  liveVars?: string;
}

const cleanups: (() => void)[] = [];
/** Call once per test file. */
export function cleanUpWorldsAfterEach() {
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
}

/** image ← a ← b ← c ← Now (and b ← d, when branched), each with its own bytes. */
export async function makeWorld(opts: { branch?: boolean; under?: string; firmware?: 'uefi' } = {}): Promise<World> {
  requireTools('qemu-img', 'qemu-io');
  if (!fs.existsSync('dist/electron/core/core.js')) throw new Error('dist/ is missing: run "npm run build:node" first (the test setup normally does).');
  // `under`: a folder the caller owns (a small filesystem), home at <under>/h.
  const tmp = opts.under ? { dir: opts.under, cleanup: () => {} } : tempHome('bkc');
  cleanups.push(tmp.cleanup);
  const seed = path.join(tmp.dir, 'seed.qcow2');
  makeQcow2(seed, 8 * MiB);
  writePattern(seed, 0, MiB, 0x11);
  const core = await openCore({ home: path.join(tmp.dir, 'h'), owner: 'test' });
  try {
    await core.images.import({ path: seed, name: 'seed' });
    const box = await core.boxes.create({ name: 'dev', image: 'seed', firmware: opts.firmware });
    const steps: [string, number, number][] = [['a', 1, 0xa1], ['b', 2, 0xb2], ['c', 3, 0xc3]];
    for (const [name, slot, byte] of steps) {
      writePattern(box.liveDiskPath, slot * MiB, MiB, byte);
      // The stopped box's variables changed as a guest would change them (a boot entry written).
      if (opts.firmware) writeVars(core.paths.efiVars(box.id), byte);
      await core.snapshots.create({ box: 'dev', name });
    }
    if (opts.branch) {
      await core.snapshots.restore({ box: 'dev', snapshot: 'b' });
      writePattern(box.liveDiskPath, 4 * MiB, MiB, 0xd4);
      await core.snapshots.create({ box: 'dev', name: 'd' });
    }
    writePattern(box.liveDiskPath, 5 * MiB, MiB, 0x55);
    const world: World = { home: core.paths.root, boxId: box.id, snapshots: digests(core, box.id), live: diskDigest(box.liveDiskPath) };
    if (opts.firmware) {
      writeVars(core.paths.efiVars(box.id), 0x55);
      Object.assign(world, { vars: varsDigests(core, box.id), liveVars: hashFile(core.paths.efiVars(box.id)) });
    }
    return world;
  } finally {
    await core.close();
  }
}

/** Bytes in the variables file, in place (its size stays OVMF's). */
export function writeVars(file: string, byte: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, Buffer.alloc(4096, byte), 0, 4096, 64 * 1024);
  } finally {
    fs.closeSync(fd);
  }
}

/** Each snapshot's copy of the variables: name → sha256 (missing: 'missing'). */
export function varsDigests(core: Core, boxId: string): Record<string, string> {
  return Object.fromEntries(core.store.listSnapshots(boxId).map((s) => {
    const file = core.paths.snapshotEfiVars(boxId, s.id);
    return [s.name, fs.existsSync(file) ? hashFile(file) : 'missing'];
  }));
}

export function digests(core: Core, boxId: string): Record<string, string> {
  return Object.fromEntries(core.store.listSnapshots(boxId).map((s) => [s.name, diskDigest(s.diskPath)]));
}

/** Runs the channel in a child process that kills itself at `point`; asserts it got there. */
export function crashAt(world: World, point: CrashPoint | null, channel: string, input: unknown) {
  const r = spawnSync(process.execPath, [DRIVER, world.home, channel, JSON.stringify(input)], {
    encoding: 'utf8', env: { ...process.env, BOXKEEP_CRASH_AT: point ?? '' }, timeout: 60_000,
  });
  return r;
}

export async function recovered(world: World, check: (core: Core) => void | Promise<void>) {
  const core = await openCore({ home: world.home, owner: 'test' });
  try {
    const report = core.lastRecovery!;
    expect(report.items.length).toBeGreaterThan(0);
    const journals = [core.paths.homeJournal, ...core.store.listBoxes().map((b) => core.paths.boxJournal(b.id))];
    for (const j of journals) expect(fs.existsSync(j) ? fs.readdirSync(j) : []).toEqual([]);
    await check(core);
    return report;
  } finally {
    await core.close();
  }
}

export const points = (prefix: string) => CRASH_POINTS.filter((p) => p.startsWith(prefix + ':'));


/**
 * A world on a real 300 MiB filesystem with the disk reserve off (the default, at least 2 GiB,
 * is larger than the whole filesystem), and a core open on it: the space-guard tests' set-up.
 */
export async function worldOnSmallDisk(opts: { firmware?: 'uefi' } = {}): Promise<{ loop: LoopFs; world: World; core: Core }> {
  const loop = makeLoopFs(300);
  try {
    const first = await openCore({ home: path.join(loop.dir, 'h'), owner: 'test' });
    updateSettings(first, { diskReserve: 0 });
    await first.close();
    const world = await makeWorld({ under: loop.dir, ...opts });
    const core = await openCore({ home: world.home, owner: 'test' });
    return { loop, world, core };
  } catch (err) {
    loop.release();
    throw err;
  }
}

// Which way recovery settles each operation at each point (docs/ARCHITECTURE.md, "Operations"):
// the points at which the operation is finished; at every other point it is undone.
const forwardAt = (op: string, points: string[]) => (point: string) => points.map((p) => `${op}:${p}`).includes(point);
export const snapshotMade = forwardAt('snapshot-create', ['after-install', 'after-row']);
export const restoreDone = forwardAt('snapshot-restore', ['after-install', 'after-vars-install', 'after-row']);
export const boxMade = forwardAt('box-create', ['after-row']);
export const imageMade = forwardAt('image-import', ['after-row']);
// A live snapshot goes forward once QEMU switched to the overlay (the renames follow it); its
// memory comes with it once the stream completed.
export const liveSnapshotMade = forwardAt('live-create', ['after-switch', 'after-vars', 'after-migrate', 'after-freeze', 'after-install', 'after-resume', 'after-memory', 'after-row']);
export const liveMemoryKept = forwardAt('live-create', ['after-migrate', 'after-freeze', 'after-install', 'after-resume', 'after-memory', 'after-row']);
