// Clones: linked (an overlay on the source's snapshot) and full (an independent copy), from a
// snapshot or from Now; the shared snapshot is protected; a full clone outlives its source.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkHome } from '../../electron/core/check.js';
import { HOME_KEY } from '../../electron/core/mutex.js';
import { cleanUpWorldsAfterEach, crashAt, makeWorld, points, recovered } from '../helpers/crash.js';
import { MiB, openTestHome, type TestHome } from '../helpers/core.js';
import { backingOf, diskDigest, writePattern } from '../helpers/disk.js';
import { rejection } from '../helpers/errors.js';

cleanUpWorldsAfterEach();

let t: TestHome;
beforeEach(async () => {
  t = await openTestHome();
  const box = await t.core.boxes.create({ name: 'dev', image: 'seed', forwards: ['18081:80'] });
  writePattern(box.liveDiskPath, 2 * MiB, MiB, 0x1a);
  await t.core.snapshots.create({ box: 'dev', name: 'r' });
  writePattern(box.liveDiskPath, 3 * MiB, MiB, 0x2b);
  await t.core.snapshots.create({ box: 'dev', name: 'a' });
  writePattern(box.liveDiskPath, 4 * MiB, MiB, 0x3c);
  await t.core.snapshots.create({ box: 'dev', name: 'b' });
  writePattern(box.liveDiskPath, 5 * MiB, MiB, 0x4d);
}, 120_000);
afterEach(async () => t?.cleanup());

const snap = (name: string) => t.core.store.findSnapshot(t.core.boxes.resolve('dev').id, name)!;

describe('linked clones', () => {
  it('a linked clone reads the snapshot\'s bytes, is its own box, and "boxkeep check" accepts its chain across boxes', async () => {
    const a = diskDigest(snap('a').diskPath);
    const clone = await t.core.clones.clone({ box: 'dev', from: 'a' });
    const source = t.core.boxes.resolve('dev');
    expect(clone.name).toBe('dev clone');
    expect(clone.linkedSnapshotId).toBe(snap('a').id);
    expect(clone.macAddress).not.toBe(source.macAddress);
    expect(clone.forwards).toEqual([]);
    expect(backingOf(clone.liveDiskPath)).toBe(snap('a').diskPath);
    expect(diskDigest(clone.liveDiskPath)).toBe(a);
    // Recovery's reconcile takes a live disk on another box's snapshot as the clone's own base.
    expect((await t.core.recover()).items).toEqual([]);
    expect(t.core.boxes.resolve(clone.id).currentSnapshotId).toBeNull();
    // Its own writes stay its own; the source's snapshot is untouched.
    writePattern(clone.liveDiskPath, 6 * MiB, MiB, 0x77);
    expect(diskDigest(snap('a').diskPath)).toBe(a);
    // Its own snapshots stand on the shared one, and restoring one works.
    await t.core.snapshots.create({ box: clone.id, name: 'c1' });
    await t.core.snapshots.restore({ box: clone.id, snapshot: 'c1' });
    const report = await checkHome(t.core);
    expect(report.ok, JSON.stringify(report.boxes.flatMap((b) => b.layers.filter((l) => !l.ok)))).toBe(true);
    expect(report.boxes.map((b) => b.box).sort()).toEqual(['dev', 'dev clone']);
    // A second clone gets the next free name.
    expect((await t.core.clones.clone({ box: 'dev', from: 'a' })).name).toBe('dev clone (2)');
  });

  it('removing the shared snapshot, or the source box, is refused naming the clone; removing an older snapshot keeps the clone\'s bytes', async () => {
    const clone = await t.core.clones.clone({ box: 'dev', from: 'a', name: 'exp' });
    const before = diskDigest(clone.liveDiskPath);
    const err = await rejection(t.core.snapshots.remove('dev', 'a'));
    expect(err.code).toBe('InvalidState');
    expect(err.message).toMatch(/is the base of the linked clone "exp".*boxkeep box clone exp --full/);
    const boxErr = await rejection(t.core.boxes.remove('dev'));
    expect(boxErr.message).toMatch(/The box "dev" is the base of the linked clone "exp"/);
    expect(t.core.store.findSnapshot(t.core.boxes.resolve('dev').id, 'a')).not.toBeNull();
    // r lies under a: the merge puts r's data into a's file (or a's onto r's path): a reads the same.
    await t.core.snapshots.remove('dev', 'r');
    expect(diskDigest(clone.liveDiskPath)).toBe(before);
    expect((await checkHome(t.core)).ok).toBe(true);
    // Once the clone is gone, the snapshot can go.
    await t.core.boxes.remove('exp');
    await t.core.snapshots.remove('dev', 'a');
  });

  it('two clones asked for the same name at once: one gets it, the other a clear AlreadyExists, and no folder is left', async () => {
    const results = await Promise.allSettled([t.core.clones.clone({ box: 'dev', from: 'a', name: 'twin' }), t.core.clones.clone({ box: 'dev', from: 'b', name: 'twin' })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    expect(failed.reason).toMatchObject({ code: 'AlreadyExists', message: expect.stringMatching(/"twin" already exists/) });
    const ids = new Set(t.core.store.listBoxes().map((b) => b.id));
    expect(fs.readdirSync(path.dirname(t.core.paths.boxDir('000000000000'))).filter((d) => !ids.has(d))).toEqual([]);
  });

  /**
   * Clones Now of "dev" as "late" while the test holds the home's queue: the clone takes its
   * snapshot, then waits; meanwhile another box takes the name (and `meanwhile` runs), so the
   * clone fails once let go. Returns what it threw.
   */
  async function cloneFailingAfterItsSnapshot(meanwhile: () => Promise<unknown>): Promise<unknown> {
    await t.core.boxes.create({ name: 'other', image: 'seed' });
    let release!: () => void;
    const held = t.core.locks.run(HOME_KEY, () => new Promise<void>((r) => (release = r)));
    const cloning = t.core.clones.clone({ box: 'dev', name: 'late' }).then(() => null, (e: unknown) => e);
    try {
      for (let i = 0; i < 400 && !t.core.store.findSnapshot(t.core.boxes.resolve('dev').id, 'for late'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(snap('for late'), 'the clone takes its snapshot first').toBeTruthy();
      await t.core.boxes.rename('other', 'late');
      await meanwhile();
    } finally {
      release();
    }
    await held;
    const err = await cloning;
    expect(err).toMatchObject({ code: 'AlreadyExists' });
    return err;
  }

  it('a clone of Now that fails after taking its snapshot removes that snapshot; the source reads as before', async () => {
    const live = diskDigest(t.core.boxes.resolve('dev').liveDiskPath);
    const before = t.core.snapshots.tree('dev').snapshots.map((s) => s.name);
    await cloneFailingAfterItsSnapshot(async () => {});
    expect(t.core.snapshots.tree('dev').snapshots.map((s) => s.name)).toEqual(before);
    expect(diskDigest(t.core.boxes.resolve('dev').liveDiskPath)).toBe(live);
    expect(backingOf(t.core.boxes.resolve('dev').liveDiskPath)).toBe(snap('b').diskPath);
  });

  it('a failed clone keeps its snapshot when another was taken on top of it meanwhile', async () => {
    const before = t.core.snapshots.tree('dev').snapshots.map((s) => s.name);
    await cloneFailingAfterItsSnapshot(() => t.core.snapshots.create({ box: 'dev', name: 'on-top' }));
    expect(t.core.snapshots.tree('dev').snapshots.map((s) => s.name).sort()).toEqual([...before, 'for late', 'on-top'].sort());
    expect(snap('on-top').parentId).toBe(snap('for late').id);
  });

  it('a failed clone keeps its snapshot when the user pinned it while the clone ran', async () => {
    // The box's queue: the clone, then work of the test's, then the user's pin. The clone fails;
    // whether its snapshot may go is decided when its removal gets the queue, after the pin.
    await t.core.boxes.create({ name: 'other', image: 'seed' });
    const id = t.core.boxes.resolve('dev').id;
    const held = () => {
      let release!: () => void;
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      const done = t.core.locks.run(id, () => new Promise<void>((r) => { started(); release = r; }));
      return { running, done, release: () => release() };
    };
    let releaseHome!: () => void;
    const home = t.core.locks.run(HOME_KEY, () => new Promise<void>((r) => (releaseHome = r)));
    const cloning = t.core.clones.clone({ box: 'dev', name: 'late' }).then(() => null, (e: unknown) => e);
    let pinning: Promise<unknown> | undefined;
    const first = held();
    try {
      for (let i = 0; i < 400 && !t.core.store.findSnapshot(id, 'for late'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(snap('for late'), 'the clone takes its snapshot first').toBeTruthy();
      await t.core.boxes.rename('other', 'late');
      await first.running;
      releaseHome();
      await home;
      await new Promise((r) => setTimeout(r, 100));
      const between = held();
      pinning = t.core.snapshots.pin('dev', 'for late', true);
      first.release();
      await between.running;
      await new Promise((r) => setTimeout(r, 100));
      between.release();
      await between.done;
    } finally {
      releaseHome();
      first.release();
    }
    expect(await cloning).toMatchObject({ code: 'AlreadyExists' });
    await pinning;
    expect(t.core.store.findSnapshot(id, 'for late'), 'a pinned snapshot is never removed behind the user').toMatchObject({ pinned: true });
  });

  it('cloning Now of a stopped box links to a snapshot taken for it', async () => {
    const live = diskDigest(t.core.boxes.resolve('dev').liveDiskPath);
    const clone = await t.core.clones.clone({ box: 'dev' });
    const taken = t.core.store.getSnapshot(clone.linkedSnapshotId!)!;
    expect(taken.name).toBe('for dev clone');
    expect(diskDigest(clone.liveDiskPath)).toBe(live);
  });
});

describe('full clones', () => {
  it('a full clone has the snapshot\'s bytes on the image alone, and stays whole when the source goes', async () => {
    const b = diskDigest(snap('b').diskPath);
    const clone = await t.core.clones.clone({ box: 'dev', from: 'b', full: true });
    expect(clone.linkedSnapshotId).toBeNull();
    expect(backingOf(clone.liveDiskPath)).toBe(t.core.store.getImage(t.imageId)!.path);
    expect(diskDigest(clone.liveDiskPath)).toBe(b);
    await t.core.snapshots.remove('dev', 'b');
    await t.core.boxes.remove('dev');
    expect(diskDigest(clone.liveDiskPath)).toBe(b);
    expect((await checkHome(t.core)).ok).toBe(true);
  });

  it('a full clone of Now of a stopped box copies the live disk without taking a snapshot, with progress', async () => {
    const live = diskDigest(t.core.boxes.resolve('dev').liveDiskPath);
    const done: boolean[] = [];
    t.core.events.on('tasks:progress', (p) => { if (p.kind === 'box-clone') done.push(p.done); });
    const clone = await t.core.clones.clone({ box: 'dev', full: true, name: 'copy' });
    expect(diskDigest(clone.liveDiskPath)).toBe(live);
    expect(t.core.store.listSnapshots(t.core.boxes.resolve('dev').id).map((s) => s.name)).toEqual(['r', 'a', 'b']);
    expect(done.at(-1)).toBe(true);
    const taken = await rejection(t.core.clones.clone({ box: 'dev', full: true, name: 'copy' }));
    expect(taken.code).toBe('AlreadyExists');
  });
});

describe('box-clone crash points', () => {
  it.each(points('box-clone'))('%s: the clone exists whole or not at all', async (point) => {
    const world = await makeWorld();
    const before = fs.readdirSync(path.join(world.home, 'boxes')).sort();
    for (const full of [false, true]) {
      const r = crashAt(world, point, 'boxes:clone', { box: 'dev', from: 'b', full, name: `c-${full}` });
      expect(r.signal, r.stderr).toBe('SIGKILL');
      await recovered(world, (core) => {
        const clone = core.store.findBox(`c-${full}`);
        expect(!!clone).toBe(point === 'box-clone:after-row');
        if (clone) {
          expect(diskDigest(clone.liveDiskPath)).toBe(world.snapshots.b);
          core.store.deleteBox(clone.id);
          fs.rmSync(core.paths.boxDir(clone.id), { recursive: true });
        }
        expect(fs.readdirSync(path.join(world.home, 'boxes')).sort()).toEqual(before);
      });
    }
  }, 120_000);
});
