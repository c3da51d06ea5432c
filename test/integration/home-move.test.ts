// A home moved or copied to another folder: recovery re-points every row and every layer onto
// the home's own files (relocate/relocate.ts), so each snapshot reads back exactly as before,
// with the old folder gone or untouched; a layer that is not what Boxkeep recorded is left for
// the check to name; killed at every step, the next start finishes the move.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCore, type Core } from '../../electron/core/core.js';
import { checkHome } from '../../electron/core/check.js';
import { cleanUpWorldsAfterEach, crashAt, digests, makeWorld, points, recovered, type World } from '../helpers/crash.js';
import { spawn } from 'node:child_process';
import { diskDigest, hashFile, makeQcow2 } from '../helpers/disk.js';

cleanUpWorldsAfterEach();

/** The world's home moved (renamed, so the old folder is gone) or copied beside it. */
async function movedWorld(how: 'move' | 'copy', opts: { spare?: boolean } = {}): Promise<{ world: World; from: string }> {
  const world = await makeWorld({ branch: true });
  if (opts.spare) {
    // An image no box uses.
    const core = await openCore({ home: world.home, owner: 'test' });
    const file = path.join(path.dirname(world.home), 'spare.qcow2');
    makeQcow2(file, 1024 * 1024);
    await core.images.import({ path: file, name: 'spare' });
    await core.close();
  }
  const to = path.join(path.dirname(world.home), 'moved');
  if (how === 'move') fs.renameSync(world.home, to);
  else fs.cpSync(world.home, to, { recursive: true });
  return { world: { ...world, home: to }, from: world.home };
}

/** Every snapshot and the live disk read back as made, the check is clean, every row names a file of this home. */
async function readsAsBefore(core: Core, world: World): Promise<void> {
  expect(digests(core, world.boxId)).toEqual(world.snapshots);
  expect(diskDigest(core.paths.liveDisk(world.boxId))).toBe(world.live);
  const check = await checkHome(core);
  expect(check.ok, JSON.stringify(check.boxes)).toBe(true);
  const inside = core.paths.root + path.sep;
  for (const s of core.store.listSnapshots(world.boxId)) expect(s.diskPath.startsWith(inside)).toBe(true);
  for (const i of core.store.listImages()) expect(i.path.startsWith(inside)).toBe(true);
}

/**
 * Snapshot a of the moved world grown by a byte after it was frozen (its recorded size no longer
 * matches): its file and its header as left (the first 4 KiB; the byte goes at the end).
 */
async function grownSnapshotA(world: World): Promise<{ a: string; header: Buffer }> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path.join(world.home, 'boxkeep.db'), { readonly: true });
  const { id } = db.prepare("SELECT id FROM snapshots WHERE name = 'a'").get() as { id: string };
  db.close();
  const a = path.join(world.home, 'boxes', world.boxId, 'snapshots', id, 'container.qcow2');
  const header = fs.readFileSync(a).subarray(0, 4096);
  fs.appendFileSync(a, Buffer.alloc(1));
  return { a, header };
}

describe('a home moved or copied to another folder', () => {
  it('is re-pointed onto its own files when opened, and every snapshot reads back as before', async () => {
    const { world, from } = await movedWorld('move');
    expect(fs.existsSync(from)).toBe(false);
    const core = await openCore({ home: world.home, owner: 'cli', recovery: 'when-needed' });
    try {
      expect(core.lastRecovery!.items.map((i) => [i.level, i.message])).toEqual([
        ['repaired', `This home was in ${from} before (moved or copied here): 5 records and 5 disk layers now name its own files; nothing of the other folder is used.`],
      ]);
      await readsAsBefore(core, world);
      // It works as a home again: a restore, a new snapshot.
      await core.snapshots.restore({ box: 'dev', snapshot: 'a' });
      await core.snapshots.create({ box: 'dev', name: 'e' });
    } finally {
      await core.close();
    }
    const again = await openCore({ home: world.home, owner: 'test' });
    try {
      expect(again.lastRecovery!.items).toEqual([]);
    } finally {
      await again.close();
    }
  });

  it('a copy is re-pointed onto its own files and the original is left exactly as it was', async () => {
    const { world, from } = await movedWorld('copy');
    const originals = fs.readdirSync(path.join(from, 'boxes', world.boxId, 'snapshots')).map((id) => path.join(from, 'boxes', world.boxId, 'snapshots', id, 'container.qcow2'));
    const before = originals.map(hashFile);
    const core = await openCore({ home: world.home, owner: 'test' });
    try {
      await readsAsBefore(core, world);
      // Nothing in the copy reads the original any more.
      for (const s of core.store.listSnapshots(world.boxId)) expect(fs.readFileSync(s.diskPath).includes(Buffer.from(from + '/'))).toBe(false);
    } finally {
      await core.close();
    }
    expect(originals.map(hashFile)).toEqual(before);
    const original = await openCore({ home: from, owner: 'test' });
    try {
      expect(original.lastRecovery!.items).toEqual([]);
      expect((await checkHome(original)).ok).toBe(true);
    } finally {
      await original.close();
    }
  });

  it('leaves a layer that is not what Boxkeep recorded as it is, for the check to name', async () => {
    const { world } = await movedWorld('move');
    const { a, header } = await grownSnapshotA(world);
    const core = await openCore({ home: world.home, owner: 'test' });
    try {
      expect(core.lastRecovery!.items.find((i) => i.level === 'repaired')!.message).toContain('5 records and 4 disk layers now name its own files');
      expect(fs.readFileSync(a).subarray(0, 4096)).toEqual(header);
      const check = await checkHome(core);
      expect(check.ok).toBe(false);
      expect(check.boxes.flatMap((x) => x.layers).filter((l) => !l.ok).map((l) => [l.name, l.problems.join('; ')])).toEqual([
        ['a', expect.stringContaining('it backs onto')],
      ]);
    } finally {
      await core.close();
    }
  });

  it('a record of no known kind naming a changed layer does not make it re-pointed', async () => {
    const { world } = await movedWorld('move');
    const { a, header } = await grownSnapshotA(world);
    const journal = path.join(world.home, 'journal');
    fs.mkdirSync(journal, { recursive: true });
    fs.writeFileSync(path.join(journal, '0000000000c1.json'), JSON.stringify({ id: '0000000000c1', op: 'no-such-op', startedAt: 1, note: a }));
    const core = await openCore({ home: world.home, owner: 'test' });
    try {
      expect(fs.readFileSync(a).subarray(0, 4096)).toEqual(header);
      expect((await checkHome(core)).boxes.flatMap((x) => x.layers).filter((l) => !l.ok).map((l) => l.name)).toEqual(['a']);
    } finally {
      await core.close();
    }
  });

  it('a home-move record in a box journal (none is written there) is settled, not left to block the box', async () => {
    const world = await makeWorld();
    const journal = path.join(world.home, 'boxes', world.boxId, 'journal');
    fs.mkdirSync(journal, { recursive: true });
    fs.writeFileSync(path.join(journal, '0000000000b1.json'), JSON.stringify({ id: '0000000000b1', op: 'home-move', startedAt: 1, from: '/nowhere', layers: [] }));
    const core = await openCore({ home: world.home, owner: 'test' });
    try {
      expect(fs.readdirSync(journal)).toEqual([]);
      await core.snapshots.create({ box: 'dev', name: 'after' });
    } finally {
      await core.close();
    }
  });

  it('waits while a box is recorded as running (its QEMU may read the old names), and is re-pointed at the next start once none is', async () => {
    const { world, from } = await movedWorld('move', { spare: true });
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path.join(world.home, 'boxkeep.db'));
    db.prepare("UPDATE boxes SET status = 'running'").run();
    db.close();
    const first = await openCore({ home: world.home, owner: 'test' });
    try {
      const items = first.lastRecovery!.items;
      expect(items[0]).toMatchObject({ level: 'kept', message: expect.stringContaining(`This home was in ${from} before (moved or copied here); it is re-pointed onto its own files once no box runs ("dev" is recorded as running)`) });
      // Nothing was taken for lost meanwhile: every snapshot's row is there, naming the old place.
      expect(items.filter((i) => i.level === 'repaired').map((i) => i.message)).toEqual([expect.stringContaining('stopped unexpectedly while Boxkeep was closed')]);
      expect(first.store.listSnapshots(world.boxId).map((s) => s.diskPath.startsWith(from + path.sep))).toEqual([true, true, true, true]);
      expect(first.store.listImages().map((i) => i.name).sort()).toEqual(['seed', 'spare']);
    } finally {
      await first.close();
    }
    const second = await openCore({ home: world.home, owner: 'cli', recovery: 'when-needed' });
    try {
      expect(second.lastRecovery!.items.map((i) => i.message)).toEqual([expect.stringContaining('6 records and 5 disk layers now name its own files')]);
      expect(second.store.listImages().map((i) => i.name).sort()).toEqual(['seed', 'spare']);
      await readsAsBefore(second, world);
    } finally {
      await second.close();
    }
  });

  it('a layer that cannot be re-pointed (another program holds it) is reported and the rest of the home opens; the next start finishes it', async () => {
    const { world } = await movedWorld('move');
    const live = path.join(world.home, 'boxes', world.boxId, 'disks', 'container.qcow2');
    // qemu-io keeps the live disk's file open for writing, with QEMU's lock, until its input ends
    // (as raw: its backing file is not where it names it yet).
    const holder = spawn('qemu-io', ['-f', 'raw', live], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise((r) => holder.once('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    expect(holder.exitCode, 'qemu-io holds the live disk').toBeNull();
    let core: Core;
    try {
      core = await openCore({ home: world.home, owner: 'test' });
    } finally {
      holder.stdin.end('quit\n');
      await exited;
    }
    try {
      const items = core.lastRecovery!.items;
      expect(items[0]).toMatchObject({ level: 'repaired', message: expect.stringContaining('5 records and 4 disk layers now name its own files.') });
      expect(items[1]).toMatchObject({ level: 'kept', message: expect.stringContaining(`The disk layer ${live} still names its file in`) });
      expect(fs.readdirSync(core.paths.homeJournal)).toEqual([]);
      expect(digests(core, world.boxId)).toEqual(world.snapshots);
    } finally {
      await core.close();
    }
    // As "boxkeep recover" or the app opens it (a single command's quick look reads only the rows).
    const again = await openCore({ home: world.home, owner: 'test' });
    try {
      expect(again.lastRecovery!.items.map((i) => i.message)).toEqual([expect.stringContaining('0 records and 1 disk layer now name its own files')]);
      await readsAsBefore(again, world);
    } finally {
      await again.close();
    }
  });

  it('a home-move record written by hand re-points nothing outside what the home itself says', async () => {
    const world = await makeWorld({ branch: true });
    const live = path.join(world.home, 'boxes', world.boxId, 'disks', 'container.qcow2');
    const outside = path.join(path.dirname(world.home), 'outside.qcow2');
    makeQcow2(outside, 1024 * 1024);
    fs.mkdirSync(path.join(world.home, 'orphans'), { recursive: true });
    fs.symlinkSync(outside, path.join(world.home, 'orphans', 'x.qcow2'));
    const header = fs.readFileSync(live).subarray(0, 4096);
    const journal = path.join(world.home, 'journal');
    fs.mkdirSync(journal, { recursive: true });
    const forged = (id: string, from: string) => ({ id, op: 'home-move', startedAt: 1, from, layers: [{ path: live, backing: path.join(world.home, 'orphans', 'x.qcow2'), snapshotId: null }] });
    fs.writeFileSync(path.join(journal, '0000000000a1.json'), JSON.stringify(forged('0000000000a1', world.home)));
    fs.writeFileSync(path.join(journal, '0000000000a2.json'), JSON.stringify(forged('0000000000a2', '/elsewhere')));
    const core = await openCore({ home: world.home, owner: 'test' });
    try {
      expect(fs.readFileSync(live).subarray(0, 4096)).toEqual(header);
      expect(fs.readdirSync(journal)).toEqual([]);
      await readsAsBefore(core, world);
    } finally {
      await core.close();
    }
  });

  for (const point of ['home-move:after-rows', 'home-move:after-rebase'] as const) {
    it(`moved again after a move killed at ${point}: each path is mapped from the folder it names`, async () => {
      const { world, from } = await movedWorld('move');
      const r = crashAt(world, point, 'boxes:list', {});
      expect(r.signal, r.stderr).toBe('SIGKILL');
      // The rows name the second folder and the layers the first (as after a move whose layers could
      // not all be re-pointed). The intent record went with the home, naming the second folder's files.
      const again = path.join(path.dirname(world.home), 'again');
      fs.renameSync(world.home, again);
      const core = await openCore({ home: again, owner: 'cli', recovery: 'when-needed' });
      try {
        expect(core.lastRecovery!.items.map((i) => [i.level, i.message])).toEqual([
          ['repaired', expect.stringContaining(`This home was in ${[from, world.home].sort().join(' and ')} before (moved or copied here)`)],
        ]);
        // The earlier re-pointing's record went with this one (the layers it had re-pointed, their facts not yet recorded, with it).
        expect(fs.readdirSync(path.join(again, 'journal'))).toEqual([]);
        await readsAsBefore(core, { ...world, home: again });
        for (const f of (fs.readdirSync(again, { recursive: true }) as string[]).filter((x) => x.endsWith('.qcow2'))) {
          const header = fs.readFileSync(path.join(again, f)).subarray(0, 65536);
          expect(header.includes(Buffer.from(from + '/')) || header.includes(Buffer.from(world.home + '/')), f).toBe(false);
        }
      } finally {
        await core.close();
      }
    });
  }

  for (const point of points('home-move')) {
    it(`killed at ${point}, the next start finishes the move`, async () => {
      const { world } = await movedWorld('move');
      const r = crashAt(world, point, 'boxes:list', {});
      expect(r.signal, r.stderr).toBe('SIGKILL');
      await recovered(world, (core) => readsAsBefore(core, world));
    });
  }
});
