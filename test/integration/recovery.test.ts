// Recovery of states a crash (or a user's hands) can leave that no intent record explains,
// and of intent records that cannot be read.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { writeIntent } from '../../electron/core/journal.js';
import { createOverlay } from '../../electron/core/disk/qemu-img.js';
import { backingOf, diskDigest, readPattern, writePattern } from '../helpers/disk.js';
import { MiB, openTestHome, snapshotDigests, type TestHome } from '../helpers/core.js';

let t: TestHome;
beforeEach(async () => { t = await openTestHome(); });
afterEach(async () => { await t.cleanup(); });

/** Closes the core, lets the test damage the home, reopens it; returns the new core's report. */
async function reopen(damage: () => void | Promise<void>) {
  await t.core.close();
  await damage();
  const core = await openCore({ home: t.dir, owner: 'test' });
  t.core = core;
  return core.lastRecovery!;
}

async function boxWithSnapshots() {
  const box = await t.core.boxes.create({ name: 'dev', image: 'seed' });
  writePattern(box.liveDiskPath, MiB, MiB, 0xa1);
  const a = await t.core.snapshots.create({ box: 'dev', name: 'a' });
  writePattern(box.liveDiskPath, 2 * MiB, MiB, 0xb2);
  const b = await t.core.snapshots.create({ box: 'dev', name: 'b' });
  writePattern(box.liveDiskPath, 3 * MiB, MiB, 0xc3);
  return { box, a, b };
}

describe('recovery', () => {
  it('does nothing and reports nothing on a healthy home', async () => {
    await boxWithSnapshots();
    const report = await reopen(() => {});
    expect(report.items).toEqual([]);
  });

  it('deletes and reports a corrupt intent record', async () => {
    const { box } = await boxWithSnapshots();
    const before = snapshotDigests(t.core, box.id);
    const journal = t.core.paths.boxJournal(box.id);
    const report = await reopen(() => {
      fs.writeFileSync(path.join(journal, 'garbage.json'), '{"op": "snapshot-cre');
      fs.writeFileSync(path.join(journal, 'half.json.tmp-123'), '');
    });
    expect(fs.readdirSync(journal)).toEqual([]);
    expect(report.items.filter((i) => /unreadable intent record/.test(i.message))).toHaveLength(2);
    expect(snapshotDigests(t.core, box.id)).toEqual(before);
  });

  it('pending snapshot with both disks present but the live disk not on top of the frozen one: keeps both and reports it', async () => {
    const { box } = await boxWithSnapshots();
    const live = diskDigest(box.liveDiskPath);
    const frozen = t.core.paths.snapshotDisk(box.id, 'aaaaaaaaaaaa');
    const imagePath = t.core.images.resolve('seed').path;
    const report = await reopen(async () => {
      fs.mkdirSync(path.dirname(frozen), { recursive: true });
      await createOverlay(frozen, imagePath, 16 * MiB);
      writeIntent(t.core.paths.boxJournal(box.id), {
        id: 'dddddddddddd', op: 'snapshot-create', startedAt: Date.now(), boxId: box.id,
        snapshot: { id: 'aaaaaaaaaaaa', boxId: box.id, parentId: null, name: 'odd', description: '', createdAt: Date.now(), sizeOnDisk: 0, virtualSize: 16 * MiB, live: false, diskPath: frozen },
      });
    });
    expect(report.items.some((i) => i.level === "kept" && /do not belong together/.test(i.message)), JSON.stringify(report.items)).toBe(true);
    // Kept, not deleted: the stray frozen disk now waits in orphans/ for the user to decide.
    const kept = fs.readdirSync(t.core.paths.orphansDir).find((o) => o.endsWith('aaaaaaaaaaaa'))!;
    expect(fs.existsSync(path.join(t.core.paths.orphansDir, kept, 'container.qcow2'))).toBe(true);
    expect(diskDigest(box.liveDiskPath)).toBe(live);
  });

  it('a live disk that vanished is remade on the current snapshot, and the report says changes were lost', async () => {
    const { box, b } = await boxWithSnapshots();
    const report = await reopen(() => fs.rmSync(box.liveDiskPath));
    expect(backingOf(box.liveDiskPath)).toBe(b.diskPath);
    expect(diskDigest(box.liveDiskPath)).toBe(diskDigest(b.diskPath));
    expect(report.items.some((i) => i.level === 'repaired' && /Changes since then were lost/.test(i.message))).toBe(true);
  });

  it('a box whose live disk is gone and whose current snapshot is truncated is reported by name; the home opens, the other box works, nothing is deleted', async () => {
    const { box: dev, b } = await boxWithSnapshots();
    const web = await t.core.boxes.create({ name: 'web', image: 'seed' });
    writePattern(web.liveDiskPath, MiB, MiB, 0x5e);
    await t.core.snapshots.create({ box: 'web', name: 'w1' });
    let truncated!: Buffer;
    const report = await reopen(() => {
      fs.rmSync(dev.liveDiskPath);
      fs.truncateSync(b.diskPath, 64);
      truncated = fs.readFileSync(b.diskPath);
    });
    const said = report.items.filter((i) => i.boxId === dev.id && i.level === 'kept').map((i) => i.message).join('\n');
    expect(said).toMatch(/The live disk of the box "dev" is missing, and no fresh one was made on snapshot "b" of the box "dev", which is not the disk Boxkeep made \(it is 64 bytes long .*truncated/);
    expect(said).toMatch(/Nothing was deleted/);
    expect(fs.readFileSync(b.diskPath).equals(truncated)).toBe(true);
    expect(fs.existsSync(dev.liveDiskPath)).toBe(false);
    expect(t.core.store.listSnapshots(dev.id).map((s) => s.name)).toEqual(['a', 'b']);
    expect(t.core.store.getBox(dev.id)!.currentSnapshotId).toBe(b.id);
    // The other box: a snapshot, a change, a restore, its bytes back.
    expect(report.items.filter((i) => i.boxId === web.id)).toEqual([]);
    await t.core.snapshots.create({ box: 'web', name: 'w2' });
    writePattern(web.liveDiskPath, MiB, MiB, 0x77);
    await t.core.snapshots.restore({ box: 'web', snapshot: 'w2' });
    expect(readPattern(web.liveDiskPath, MiB, MiB, 0x5e)).toBe(true);
    expect(t.core.store.listSnapshots(web.id).map((s) => s.name)).toEqual(['w1', 'w2']);
  });

  it('a live disk that vanished is not remade on a current snapshot swapped for a link to a host file', async () => {
    const { box, b } = await boxWithSnapshots();
    const host = path.join(fs.mkdtempSync('/tmp/bk-host-'), 'host.qcow2');
    const report = await reopen(() => {
      fs.rmSync(box.liveDiskPath);
      fs.renameSync(b.diskPath, host);
      fs.symlinkSync(host, b.diskPath);
    });
    try {
      expect(fs.existsSync(box.liveDiskPath)).toBe(false);
      expect(report.items.some((i) => i.level === 'kept' && /live disk of the box "dev" is missing, and no fresh one was made on snapshot "b" .*symbolic link/.test(i.message)), JSON.stringify(report.items)).toBe(true);
      expect(fs.readlinkSync(b.diskPath)).toBe(host);
    } finally {
      fs.rmSync(path.dirname(host), { recursive: true, force: true });
    }
  });

  it('moves "Now" to match the disk when the row and the live disk disagree', async () => {
    const { box, a } = await boxWithSnapshots();
    // The row says "b"; make the disk say "a".
    const report = await reopen(() => {
      const r = spawnSync('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-b', a.diskPath, '-F', 'qcow2', box.liveDiskPath]);
      expect(r.status).toBe(0);
    });
    expect(t.core.store.getBox(box.id)!.currentSnapshotId).toBe(a.id);
    expect(report.items.some((i) => /"Now" was moved under "a"/.test(i.message))).toBe(true);
  });

  it('a snapshot row whose leaf disk is gone is removed; one that others depend on is kept and reported', async () => {
    const { box, a, b } = await boxWithSnapshots();
    await t.core.snapshots.restore({ box: 'dev', snapshot: 'a' });
    const side = await t.core.snapshots.create({ box: 'dev', name: 'side' });
    await t.core.snapshots.restore({ box: 'dev', snapshot: 'b' });
    const report = await reopen(() => {
      fs.rmSync(side.diskPath);
      fs.rmSync(a.diskPath);
    });
    expect(t.core.store.getSnapshot(side.id)).toBeNull();
    expect(t.core.store.getSnapshot(a.id)).not.toBeNull();
    expect(report.items.some((i) => i.level === 'kept' && /"a".*lost its disk file/.test(i.message))).toBe(true);
    expect(t.core.store.getBox(box.id)!.currentSnapshotId).toBe(b.id);
  });

  it('moves folders no record knows into orphans/, never deleting them, and keeps one a chain references', async () => {
    const { box } = await boxWithSnapshots();
    const before = snapshotDigests(t.core, box.id);
    expect(Object.keys(before).length).toBeGreaterThan(0);
    const strayBox = path.join(t.core.paths.boxesDir, 'bbbbbbbbbbbb');
    const strayImage = path.join(t.core.paths.imagesDir, 'cccccccccccc');
    const report = await reopen(() => {
      fs.mkdirSync(path.join(strayBox, 'disks'), { recursive: true });
      fs.writeFileSync(path.join(strayBox, 'disks', 'container.qcow2'), 'data');
      fs.mkdirSync(strayImage, { recursive: true });
      fs.writeFileSync(path.join(strayImage, 'disk.qcow2'), 'img');
    });
    expect(fs.existsSync(strayBox)).toBe(false);
    expect(fs.existsSync(strayImage)).toBe(false);
    const orphans = fs.readdirSync(t.core.paths.orphansDir);
    expect(orphans.some((o) => o.endsWith('box-bbbbbbbbbbbb'))).toBe(true);
    expect(orphans.some((o) => o.endsWith('image-cccccccccccc'))).toBe(true);
    expect(report.items.filter((i) => /moved to .*orphans/.test(i.message))).toHaveLength(2);
    expect(snapshotDigests(t.core, box.id)).toEqual(before);
  });

  it('a second owner of the home is refused while the first lives, and takes over a stale lock', async () => {
    const other = spawnSync(process.execPath, ['test/helpers/crash-driver.mjs', t.dir, 'boxes:list', '{}'], { encoding: 'utf8' });
    expect(other.status).not.toBe(0);
    expect(other.stderr).toMatch(/InvalidState/);
    expect(other.stderr).toMatch(/in use by another/);
    await t.core.close();
    fs.writeFileSync(t.core.paths.lock, JSON.stringify({ pid: 999999, startTime: '1', bootId: 'x', kind: 'app', takenAt: 1 }));
    t.core = await openCore({ home: t.dir, owner: 'test' });
    expect(JSON.parse(fs.readFileSync(t.core.paths.lock, 'utf8')).pid).toBe(process.pid);
  });

  it('a box recorded as running whose QEMU is gone is marked failed with the reason; after a host reboot, stopped', async () => {
    const a = await t.core.boxes.create({ name: 'gone', image: 'seed' });
    const b = await t.core.boxes.create({ name: 'rebooted', image: 'seed' });
    {
      for (const [box, bootId] of [[a, fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()], [b, 'an-older-boot']] as const) {
        t.core.store.setBoxStatus(box.id, 'running');
        const run = t.core.paths.runDir(box.id);
        fs.mkdirSync(run, { recursive: true });
        fs.mkdirSync(t.core.paths.logsDir(box.id), { recursive: true });
        fs.writeFileSync(path.join(t.core.paths.logsDir(box.id), 'serial.log'), 'booting\nkernel panic: out of memory\n');
        // A pid that is not running (or not with that start time): QEMU is gone.
        fs.writeFileSync(path.join(run, 'qemu.json'), JSON.stringify({ pid: 999999, startTime: '1', bootId, startedAt: 1, qmpSocket: '', serialSocket: '' }));
      }
    }
    const report = await reopen(() => {});
    const gone = t.core.store.getBox(a.id)!;
    expect(gone.status).toBe('failed');
    expect(gone.failureReason).toMatch(/QEMU exited unexpectedly.*kernel panic: out of memory/);
    expect(t.core.store.getBox(b.id)!.status).toBe('stopped');
    expect(report.items.some((i) => i.boxId === b.id && /computer restarted/.test(i.message))).toBe(true);
    expect(report.items.some((i) => i.boxId === a.id && /stopped unexpectedly/.test(i.message))).toBe(true);
  });

  it('never acts on an intent record whose ids or paths point outside the home: deletes and reports it', async () => {
    const { box } = await boxWithSnapshots();
    const victim = path.join(path.dirname(t.dir), 'victim');
    fs.mkdirSync(path.join(victim, 'keep'), { recursive: true });
    fs.writeFileSync(path.join(victim, 'keep', 'file'), 'precious');
    const journal = t.core.paths.boxJournal(box.id);
    const rel = path.relative(t.core.paths.snapshotsDir(box.id), victim);
    const report = await reopen(() => {
      writeIntent(journal, {
        id: 'aaaaaaaaaaaa', op: 'snapshot-create', startedAt: Date.now(), boxId: box.id,
        snapshot: { id: rel, boxId: box.id, parentId: null, name: 'x', description: '', createdAt: 1, sizeOnDisk: 0, virtualSize: 1, live: false, diskPath: path.join(victim, 'keep', 'file') },
      });
      writeIntent(journal, {
        id: 'bbbbbbbbbbbb', op: 'snapshot-remove', startedAt: Date.now(), boxId: box.id, snapshotId: 'cccccccccccc',
        snapshotPath: '/etc/passwd', parentPath: '/etc/hostname', parentId: null, mode: 'delete', dependents: [],
      });
    });
    expect(fs.readFileSync(path.join(victim, 'keep', 'file'), 'utf8')).toBe('precious');
    expect(fs.readdirSync(journal)).toEqual([]);
    expect(report.items.filter((i) => /malformed/.test(i.message))).toHaveLength(2);
    expect(report.items.some((i) => /outside the home/.test(i.message))).toBe(true);
  });

  it('never acts on a snapshot record whose paths are inside the home but not the files it names (another snapshot\'s disk, a missing file): moves it aside, every snapshot intact', async () => {
    const { box, a, b } = await boxWithSnapshots();
    const before = snapshotDigests(t.core, box.id);
    const live = diskDigest(box.liveDiskPath);
    const journal = t.core.paths.boxJournal(box.id);
    const imagePath = t.core.images.resolve('seed').path;
    const report = await reopen(() => {
      // A removal of a (b's parent) with no dependents, naming a file that is not a's: a
      // stray check finds nothing backing onto that path, and a's row and folder would go.
      writeIntent(journal, {
        id: 'bbbbbbbbbbbb', op: 'snapshot-remove', startedAt: Date.now(), boxId: box.id, snapshotId: a.id,
        snapshotPath: path.join(t.core.paths.snapshotDir(box.id, a.id), 'gone.qcow2'), parentPath: imagePath, parentId: null, mode: 'delete', dependents: [],
      });
    });
    expect(fs.readdirSync(journal)).toEqual([]);
    expect(t.core.store.listSnapshots(box.id).map((s) => [s.name, s.parentId])).toEqual([['a', null], ['b', a.id]]);
    expect(snapshotDigests(t.core, box.id)).toEqual(before);
    expect(backingOf(b.diskPath)).toBe(a.diskPath);
    expect(readPattern(b.diskPath, MiB, MiB, 0xa1)).toBe(true);
    expect(diskDigest(box.liveDiskPath)).toBe(live);
    const said = report.items.filter((i) => i.boxId === box.id && i.level === 'kept').map((i) => i.message).join('\n');
    expect(said).toMatch(/does not match the home \(it names .*gone\.qcow2 as the snapshot's disk, not .*container\.qcow2\)/);
    expect(fs.readdirSync(t.core.paths.orphansDir).some((o) => o.includes('journal-'))).toBe(true);
  });

  it('an interrupted snapshot record naming another snapshot\'s disk does not move that disk: the snapshot keeps its file and bytes', async () => {
    const { box, b } = await boxWithSnapshots();
    const before = snapshotDigests(t.core, box.id);
    const journal = t.core.paths.boxJournal(box.id);
    const report = await reopen(() => {
      // With the live disk gone and the named disk there, a record naming its own file means
      // "moved into the snapshot folder, move it back": here it would move b's disk away.
      fs.rmSync(box.liveDiskPath);
      writeIntent(journal, {
        id: 'dddddddddddd', op: 'snapshot-create', startedAt: Date.now(), boxId: box.id,
        snapshot: { id: 'eeeeeeeeeeee', boxId: box.id, parentId: b.id, name: 'odd', description: '', createdAt: Date.now(), sizeOnDisk: 0, virtualSize: 16 * MiB, live: false, diskPath: b.diskPath },
      });
    });
    expect(fs.readdirSync(journal)).toEqual([]);
    expect(snapshotDigests(t.core, box.id)).toEqual(before);
    expect(t.core.store.listSnapshots(box.id).map((s) => s.name)).toEqual(['a', 'b']);
    // The live disk is made again on b, as for any live disk that vanished.
    expect(backingOf(box.liveDiskPath)).toBe(b.diskPath);
    expect(readPattern(box.liveDiskPath, 2 * MiB, MiB, 0xb2)).toBe(true);
    expect(report.items.some((i) => i.level === 'kept' && /does not match the home \(it names .* as the snapshot's disk/.test(i.message)), JSON.stringify(report.items)).toBe(true);
  });
});
