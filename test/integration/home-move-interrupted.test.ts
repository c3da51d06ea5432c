// An operation killed part-way, and its home then moved before it was opened again: its intent
// record names the old folder. Opened where it now is, the home settles exactly as it would
// have in place (relocate/relocate.ts rewrites the record and re-points the layers it names
// before recovery settles it): the same snapshots with the same bytes, the same live disk, the
// same things reported, a clean check, and nothing of the old folder named anywhere.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { checkHome } from '../../electron/core/check.js';
import { cleanUpWorldsAfterEach, crashAt, digests, makeWorld, points, type World } from '../helpers/crash.js';
import { diskDigest, makeQcow2, writePattern } from '../helpers/disk.js';

cleanUpWorldsAfterEach();

const MiB = 1024 * 1024;

/** What a user sees of a home once opened: every box's snapshots and live disk, the images, the check, the report. */
async function outcome(home: string) {
  const core = await openCore({ home, owner: 'test' });
  try {
    const boxes = core.store.listBoxes().map((b) => ({
      name: b.name,
      live: diskDigest(b.liveDiskPath),
      current: b.currentSnapshotId && core.store.getSnapshot(b.currentSnapshotId)?.name,
      snapshots: Object.fromEntries(core.store.listSnapshots(b.id).map((s) => [s.name, diskDigest(s.diskPath)])),
    })).sort((x, y) => x.name.localeCompare(y.name));
    const images = core.store.listImages().map((i) => [i.name, diskDigest(i.path)]).sort();
    const check = await checkHome(core);
    const journals = [core.paths.homeJournal, ...core.store.listBoxes().map((b) => core.paths.boxJournal(b.id))].flatMap((j) => (fs.existsSync(j) ? fs.readdirSync(j) : []));
    const orphans = fs.existsSync(path.join(home, 'orphans')) ? fs.readdirSync(path.join(home, 'orphans')).length : 0;
    // Orphan folders are named by the time they were set aside.
    const items = core.lastRecovery!.items.map((i) => [i.level, i.message.split(home).join('<home>').replace(/\d{4}-\d\d-\d\dT[\d-]+Z/g, '<time>')]);
    return { boxes, images, check: check.ok ? 'ok' : JSON.stringify(check.boxes), journals, orphans, items };
  } finally {
    await core.close();
  }
}

/** Every qcow2 file under the home, and any header among them that still names `from`. */
function namesOf(home: string, from: string): string[] {
  const files = (fs.readdirSync(home, { recursive: true }) as string[]).filter((f) => f.endsWith('.qcow2')).map((f) => path.join(home, f));
  return files.filter((f) => fs.readFileSync(f).subarray(0, 64 * 1024).includes(Buffer.from(from + '/')));
}

/**
 * Crashes the operation in the world's home at `point`, copies the home aside, settles the
 * original where it is, then moves the copy to another folder and opens it there.
 */
async function settlesAsInPlace(world: World, point: string, channel: string, input: unknown, opts: { namesPaths?: boolean } = {}): Promise<void> {
  const r = crashAt(world, point as never, channel, input);
  if (r.signal !== 'SIGKILL') {
    // This way of the operation has no such step (a rebase has no swap): it finished.
    expect(r.status, r.stderr).toBe(0);
    expect(point).toBe('snapshot-remove:after-swap');
    return;
  }
  const copy = path.join(path.dirname(world.home), 'copy');
  fs.cpSync(world.home, copy, { recursive: true });
  const inPlace = await outcome(world.home);
  // The original folder is gone once the copy moves, as after `mv`: nothing can be read through it.
  fs.rmSync(world.home, { recursive: true });
  const moved = path.join(path.dirname(world.home), 'moved elsewhere');
  fs.renameSync(copy, moved);
  const there = await outcome(moved);
  const [relocation, ...rest] = there.items;
  expect(relocation).toEqual(['repaired', expect.stringContaining(`This home was in ${world.home} before (moved or copied here)`)]);
  // A snapshot operation's record names its files (rewritten with the move); a box's or image's names only ids.
  if (opts.namesPaths) expect(relocation![1]).toContain('the record of 1 interrupted operation');
  expect({ ...there, items: rest }).toEqual(inPlace);
  expect(there.check).toBe('ok');
  expect(there.journals).toEqual([]);
  expect(namesOf(moved, world.home)).toEqual([]);
  const again = await openCore({ home: moved, owner: 'test' });
  try {
    expect(again.lastRecovery!.items).toEqual([]);
  } finally {
    await again.close();
  }
}

describe('an operation interrupted, then its home moved before it was opened again', () => {
  it.each(points('snapshot-create'))('snapshot create killed at %s settles as it would have in place', async (point) => {
    await settlesAsInPlace(await makeWorld(), point, 'snapshots:create', { box: 'dev', name: 'new' }, { namesPaths: true });
  });

  it.each(points('snapshot-restore'))('snapshot restore killed at %s settles as it would have in place', async (point) => {
    await settlesAsInPlace(await makeWorld(), point, 'snapshots:restore', { box: 'dev', snapshot: 'a' }, { namesPaths: true });
  });

  it.each(points('snapshot-remove'))('snapshot remove (a commit) killed at %s settles as it would have in place', async (point) => {
    await settlesAsInPlace(await makeWorld(), point, 'snapshots:remove', { box: 'dev', snapshot: 'b' }, { namesPaths: true });
  });

  it.each(points('snapshot-remove'))('snapshot remove (a rebase of two children) killed at %s settles as it would have in place', async (point) => {
    await settlesAsInPlace(await makeWorld({ branch: true }), point, 'snapshots:remove', { box: 'dev', snapshot: 'b' }, { namesPaths: true });
  });

  it.each(points('box-create'))('box create killed at %s settles as it would have in place', async (point) => {
    await settlesAsInPlace(await makeWorld(), point, 'boxes:create', { name: 'second', image: 'seed' });
  });

  it.each(points('box-clone'))('linked clone killed at %s settles as it would have in place', async (point) => {
    await settlesAsInPlace(await makeWorld(), point, 'boxes:clone', { box: 'dev', from: 'b', full: false, name: 'twin' });
  });

  it.each(points('image-import'))('image import killed at %s settles as it would have in place', async (point) => {
    const world = await makeWorld();
    const src = path.join(path.dirname(world.home), 'other.qcow2');
    makeQcow2(src, 4 * MiB);
    writePattern(src, 0, MiB, 0x77);
    await settlesAsInPlace(world, point, 'images:import', { path: src, name: 'other' });
  });
});

describe('an operation interrupted, its home moved, and a box recorded as running', () => {
  it('keeps the record (not set aside as malformed) until the move is made, then settles it as in place', async () => {
    const world = await makeWorld();
    const liveFile = path.join(world.home, 'boxes', world.boxId, 'disks', 'container.qcow2');
    writePattern(liveFile, 6 * MiB, MiB, 0x66);
    const live = diskDigest(liveFile);
    const r = crashAt(world, 'snapshot-create:after-freeze', 'snapshots:create', { box: 'dev', name: 'new' });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path.join(world.home, 'boxkeep.db'));
    db.prepare("UPDATE boxes SET status = 'running'").run();
    db.close();
    const moved = path.join(path.dirname(world.home), 'moved');
    fs.renameSync(world.home, moved);
    const first = await openCore({ home: moved, owner: 'test' });
    try {
      const items = first.lastRecovery!.items.map((i) => i.message);
      expect(items).toContainEqual(expect.stringContaining('An interrupted snapshot-create'));
      expect(items.join('\n')).not.toMatch(/malformed|were lost|orphans/);
      expect(fs.readdirSync(first.paths.boxJournal(world.boxId))).toHaveLength(1);
    } finally {
      await first.close();
    }
    // No QEMU was found, so the box was recorded stopped: the next open moves the home and settles the snapshot.
    const second = await openCore({ home: moved, owner: 'test' });
    try {
      expect(second.lastRecovery!.items.map((i) => i.message)).toEqual([
        expect.stringContaining('as does the record of 1 interrupted operation'),
        expect.stringContaining('Snapshot "new" was interrupted; the box was put back as it was before.'),
      ]);
      expect(fs.readdirSync(second.paths.boxJournal(world.boxId))).toEqual([]);
      expect(digests(second, world.boxId)).toEqual(world.snapshots);
      expect(diskDigest(second.paths.liveDisk(world.boxId))).toBe(live);
      expect((await checkHome(second)).ok).toBe(true);
    } finally {
      await second.close();
    }
  });
});

describe('an operation interrupted, its home moved, the re-pointing interrupted too, and the home moved again', () => {
  it.each(points('home-move'))('re-pointing killed at %s: the snapshot is still finished where the home ends up', async (point) => {
    const world = await makeWorld();
    writePattern(path.join(world.home, 'boxes', world.boxId, 'disks', 'container.qcow2'), 6 * MiB, MiB, 0x66);
    const description = `${world.home}/notes.txt says why`;
    const made = crashAt(world, 'snapshot-create:after-install', 'snapshots:create', { box: 'dev', name: 'new', description });
    expect(made.signal, made.stderr).toBe('SIGKILL');
    const second = path.join(path.dirname(world.home), 'second');
    fs.renameSync(world.home, second);
    const r = crashAt({ ...world, home: second }, point as never, 'boxes:list', {});
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const third = path.join(path.dirname(world.home), 'third');
    fs.renameSync(second, third);
    const core = await openCore({ home: third, owner: 'test' });
    try {
      const items = core.lastRecovery!.items.map((i) => i.message).join('\n');
      expect(items).not.toMatch(/malformed|were lost|orphans/);
      const snapshot = core.store.findSnapshot(world.boxId, 'new');
      expect(snapshot, items).not.toBeNull();
      // What the user wrote is kept as written, though it names the first folder.
      expect(snapshot!.description).toBe(description);
      expect(diskDigest(snapshot!.diskPath)).toBe(diskDigest(core.paths.liveDisk(world.boxId)));
      expect(digests(core, world.boxId)).toMatchObject(world.snapshots);
      expect((await checkHome(core)).ok).toBe(true);
      for (const j of [core.paths.homeJournal, core.paths.boxJournal(world.boxId)]) expect(fs.existsSync(j) ? fs.readdirSync(j) : []).toEqual([]);
      expect(namesOf(third, world.home)).toEqual([]);
      expect(namesOf(third, second)).toEqual([]);
    } finally {
      await core.close();
    }
  });
});
