// A snapshot removal whose merge runs out of disk space half-way, on a real small filesystem.
// The guard sizes every merge first, so here the space is taken by someone else after the
// guard passed and before the merge writes (as a running guest or another program would):
// the test fills the disk when the removal's task starts.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openCore, type Core } from '../../electron/core/core.js';
import { readIntents } from '../../electron/core/journal.js';
import { updateSettings } from '../../electron/core/space.js';
import { listedAndRealSizes } from '../helpers/core.js';
import { diskDigest, hashFile, makeQcow2, writePattern } from '../helpers/disk.js';
import { makeLoopFs, type LoopFs } from '../helpers/loopfs.js';

const MiB = 1024 * 1024;
let loop: LoopFs;
let core: Core | null = null;

beforeAll(() => {
  loop = makeLoopFs(300);
});
afterEach(async () => {
  await core?.close();
  core = null;
  loop.unfill();
  fs.rmSync(path.join(loop.dir, 'h'), { recursive: true, force: true });
});
afterAll(() => loop?.release());

async function open(): Promise<Core> {
  core = await openCore({ home: path.join(loop.dir, 'h'), owner: 'test' });
  return core;
}

/** A box on a 64 MiB image; `steps` write a pattern into the live disk and take a snapshot, or restore one. */
type Step = [name: string, offsetMib: number, mib: number, byte: number] | ['restore', string];

async function build(steps: Step[]): Promise<Core> {
  const c = await open();
  updateSettings(c, { diskReserve: 0 }); // the default reserve is larger than this filesystem
  const seed = path.join(loop.dir, 'seed.qcow2');
  fs.rmSync(seed, { force: true });
  makeQcow2(seed, 64 * MiB);
  writePattern(seed, 0, MiB, 0x11);
  await c.images.import({ path: seed, name: 'seed' });
  fs.rmSync(seed);
  const box = await c.boxes.create({ name: 'dev', image: 'seed' });
  for (const step of steps) {
    if (step.length === 2) await c.snapshots.restore({ box: 'dev', snapshot: step[1] });
    else {
      const [name, offsetMib, mib, byte] = step;
      writePattern(box.liveDiskPath, offsetMib * MiB, mib * MiB, byte);
      if (name !== 'now') await c.snapshots.create({ box: 'dev', name });
    }
  }
  return c;
}

function contents(c: Core): Record<string, string> {
  const box = c.store.findBox('dev')!;
  return { ...Object.fromEntries(c.store.listSnapshots(box.id).map((s) => [s.name, diskDigest(s.diskPath)])), now: diskDigest(box.liveDiskPath) };
}

/** Takes all but `leave` bytes as soon as the removal's task starts, i.e. after the guard said yes. */
function fillWhenRemovalStarts(c: Core, leave: number) {
  let filled = false;
  return c.events.on('tasks:progress', (p) => {
    if (p.kind === 'snapshot-remove' && !filled) {
      filled = true;
      loop.fill(leave);
    }
  });
}

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected the removal to fail'); }, (e: Error & { code?: string }) => e);

it('a commit that runs out of space leaves the box open for deleting other snapshots, is not retried until it fits, and then finishes', async () => {
  // image ← a ← x ← y, and a ← b (4 MiB) ← Now (1 MiB): removing b commits Now into b.
  let c = await build([['a', 0, 1, 0xa1], ['x', 8, 1, 0x77], ['y', 9, 1, 0x78], ['restore', 'a'], ['b', 16, 4, 0xb2], ['now', 24, 1, 0x55]]);
  const before = contents(c);
  const bFile = c.snapshots.get('dev', 'b').diskPath;
  const stop = fillWhenRemovalStarts(c, 256 * 1024);
  const err = await failure(c.snapshots.remove('dev', 'b'));
  stop();
  expect(err.code).toBe('Storage');
  expect(err.message).toMatch(/No space left on device/);
  expect(err.message).toMatch(/The disk holding the Boxkeep home is full\. Finishing the removal needs about 2 MiB .* Free at least \d(\.\d)? MiB/);
  expect(err.message).toMatch(/only accepts deleting its other snapshots/);
  // Every snapshot but the one being deleted reads exactly as before; b is half-merged and
  // can no longer be restored, nor can anything else change the merge's layers.
  const after = contents(c);
  for (const name of ['a', 'x', 'y', 'now']) expect(after[name], name).toBe(before[name]);
  await expect(c.snapshots.restore({ box: 'dev', snapshot: 'b' })).rejects.toMatchObject({ code: 'InvalidState', message: expect.stringMatching(/stopped part-way.*not "b", "a"/) });
  await expect(c.snapshots.remove('dev', 'a')).rejects.toMatchObject({ code: 'InvalidState' });
  await expect(c.snapshots.create({ box: 'dev', name: 'more' })).rejects.toMatchObject({ code: 'InvalidState' });
  const halfMerged = hashFile(bFile);
  // b's file grew in the half-done merge, and the list shows it: the kept record says its layers may have moved.
  let sizes = listedAndRealSizes(c, 'dev');
  expect(sizes.listed).toEqual(sizes.real);
  await c.close();

  // The next start does not run the merge again on a disk it cannot fit on, and says what to free.
  c = await open();
  const report = c.lastRecovery!.items.map((i) => `${i.level}: ${i.message}`).join('\n');
  expect(report).toMatch(/kept: Deleting snapshot "b" is waiting for disk space and was not retried\. Finishing it needs about \d(\.\d)? MiB .* Free at least \d(\.\d)? MiB/);
  expect(hashFile(bFile)).toBe(halfMerged);
  expect(readIntents(c.paths.boxJournal(c.store.findBox('dev')!.id)).intents).toHaveLength(1);
  expect(diskDigest(c.store.findBox('dev')!.liveDiskPath)).toBe(before.now);

  // Deleting other snapshots is allowed meanwhile: that is how space is made.
  await c.snapshots.remove('dev', 'y');
  await c.snapshots.remove('dev', 'x');
  expect(c.store.listSnapshots(c.store.findBox('dev')!.id).map((s) => s.name).sort()).toEqual(['a', 'b']);

  loop.unfill();
  const done = await c.recover();
  expect(done.items.map((i) => i.message).join('\n')).toMatch(/Deleting snapshot "b" was interrupted; it was completed/);
  const box = c.store.findBox('dev')!;
  expect(c.store.listSnapshots(box.id).map((s) => s.name)).toEqual(['a']);
  expect(readIntents(c.paths.boxJournal(box.id)).intents).toHaveLength(0);
  expect(diskDigest(box.liveDiskPath)).toBe(before.now);
  expect(diskDigest(c.snapshots.get('dev', 'a').diskPath)).toBe(before.a);
  await c.snapshots.create({ box: 'dev', name: 'after' });
  sizes = listedAndRealSizes(c, 'dev');
  expect(sizes.listed).toEqual(sizes.real);
});

it('a box whose merge waits for space can be removed whole, and nothing is left to retry', async () => {
  let c = await build([['a', 0, 1, 0xa1], ['b', 16, 4, 0xb2], ['now', 24, 1, 0x55]]);
  const stop = fillWhenRemovalStarts(c, 256 * 1024);
  await failure(c.snapshots.remove('dev', 'b'));
  stop();
  const freeBefore = loop.free();
  const removed = await c.boxes.remove('dev');
  expect(removed.freedBytes).toBeGreaterThan(5 * MiB);
  expect(loop.free()).toBeGreaterThan(freeBefore + 5 * MiB);
  await c.close();
  c = await open();
  expect(c.lastRecovery!.items).toEqual([]);
  expect(c.store.listBoxes()).toEqual([]);
});

it('a rebase that runs out of space says the disk is full and what it left behind, and every snapshot reads exactly as before', async () => {
  // image ← a ← b (16 MiB) ← Now (24 MiB), and a ← z: removing b rebases Now onto a, copying b's 16 MiB.
  const c = await build([['a', 0, 1, 0xa1], ['z', 40, 1, 0x7a], ['restore', 'a'], ['b', 8, 16, 0xb2], ['now', 32, 24, 0x55]]);
  const before = contents(c);
  const live = c.store.findBox('dev')!.liveDiskPath;
  const liveSize = fs.statSync(live).blocks * 512;
  const stop = fillWhenRemovalStarts(c, 6 * MiB);
  const err = await failure(c.snapshots.remove('dev', 'b'));
  stop();
  expect(err.code).toBe('Storage');
  expect(err.message).toMatch(/The disk holding the Boxkeep home is full, so the snapshot was not deleted; every snapshot reads exactly as before/);
  const copied = fs.statSync(live).blocks * 512 - liveSize;
  expect(copied).toBeGreaterThan(MiB); // the partial copy is real: it is what the message accounts for
  expect(err.message).toMatch(/(\d+(\.\d)?) MiB already copied into the snapshots after it stays there/);
  expect(err.message).toMatch(/Deleting it needs about 17 MiB .* Free at least \d+(\.\d)? MiB/);
  expect(contents(c)).toEqual(before);
  expect(c.snapshots.get('dev', 'b').name).toBe('b');
  // Nothing waits: the box takes any change (here: deleting another snapshot), and no start retries anything.
  await c.snapshots.remove('dev', 'z');
  expect(readIntents(c.paths.boxJournal(c.store.findBox('dev')!.id)).intents).toHaveLength(0);
  // With space again, deleting b copies only what is still missing and succeeds.
  loop.unfill();
  await c.snapshots.remove('dev', 'b');
  const after = contents(c);
  expect(after.now).toBe(before.now);
  expect(after.a).toBe(before.a);
});
