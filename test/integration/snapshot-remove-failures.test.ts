// A snapshot removal that FAILS (a qemu-img error, not a crash). A rebase that fails leaves
// rows and chains agreeing and no intent to replay; a commit that fails cannot be undone, so
// its intent stays, the box refuses changes to the merge's layers (it still takes deleting
// other snapshots, see snapshot-remove-full-disk.test.ts), and recovery finishes it.
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { diskDigest } from '../helpers/disk.js';
import { cleanUpWorldsAfterEach, makeWorld } from '../helpers/crash.js';

cleanUpWorldsAfterEach();

/** Another process with the disk open read-write (qemu-io), as a user inspecting it would. */
async function holdWriteLock(file: string) {
  const child = spawn('qemu-io', ['-f', 'qcow2', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('qemu-io>')) resolve(); });
    child.once('exit', () => reject(new Error('qemu-io exited early')));
  });
  return () => new Promise<void>((r) => { child.once('exit', () => r()); child.stdin.end('quit\n'); });
}

it('a failed removal is not replayed at the next start against a snapshot the user went back to', async () => {
  // image ← a ← b ← c, b ← d ← Now: removing b rebases c and d (two dependents).
  const w = await makeWorld({ branch: true });
  let core = await openCore({ home: w.home, owner: 'test' });
  const d = core.snapshots.get('dev', 'd');
  const release = await holdWriteLock(d.diskPath);
  // c is rebased, then the rebase of d fails on the lock: the user sees an error.
  await expect(core.snapshots.remove('dev', 'b')).rejects.toThrow(/lock/);
  await release();
  expect(core.snapshots.get('dev', 'b').name).toBe('b'); // still listed: the removal "failed"
  // c was merged before the failure: its row moved with its chain; d still hangs under b.
  const a = core.snapshots.get('dev', 'a');
  expect(core.snapshots.get('dev', 'c').parentId).toBe(a.id);
  expect(core.snapshots.get('dev', 'd').parentId).toBe(core.snapshots.get('dev', 'b').id);
  expect(diskDigest(core.snapshots.get('dev', 'c').diskPath)).toBe(w.snapshots.c);

  // So the user goes back to b, which is still there.
  await core.snapshots.restore({ box: 'dev', snapshot: 'b' });
  const box = core.store.getBox(w.boxId)!;
  expect(diskDigest(box.liveDiskPath)).toBe(w.snapshots.b);
  await core.close();

  // Next start: recovery must not delete b's file, which the live disk now backs onto.
  core = await openCore({ home: w.home, owner: 'test' });
  try {
    const report = core.lastRecovery!.items.map((i) => `${i.level}: ${i.message}`).join('\n');
    expect(core.store.findSnapshot(w.boxId, 'b'), report).not.toBeNull();
    expect(() => diskDigest(box.liveDiskPath), report).not.toThrow();
    expect(diskDigest(box.liveDiskPath)).toBe(w.snapshots.b);
  } finally {
    await core.close();
  }
});

it('a commit that fails keeps its intent: the box refuses other changes until recovery finishes the removal', async () => {
  // image ← a ← b ← c ← Now: removing b with one dependent commits c into b.
  const w = await makeWorld();
  let core = await openCore({ home: w.home, owner: 'test' });
  const b = core.snapshots.get('dev', 'b');
  const release = await holdWriteLock(b.diskPath);
  const err = await core.snapshots.remove('dev', 'b').then(() => null, (e: Error) => e);
  await release();
  expect(err?.message).toMatch(/boxkeep recover/);
  await expect(core.snapshots.create({ box: 'dev', name: 'meanwhile' })).rejects.toMatchObject({ code: 'InvalidState', message: expect.stringMatching(/stopped part-way.*boxkeep recover/) });
  await expect(core.snapshots.restore({ box: 'dev', snapshot: 'b' })).rejects.toMatchObject({ code: 'InvalidState' });
  const report = await core.recover();
  expect(report.items.some((i) => /Deleting snapshot "b"/.test(i.message))).toBe(true);
  expect(core.store.findSnapshot(w.boxId, 'b')).toBeNull();
  expect(diskDigest(core.snapshots.get('dev', 'c').diskPath)).toBe(w.snapshots.c);
  expect(diskDigest(core.store.getBox(w.boxId)!.liveDiskPath)).toBe(w.live);
  await core.snapshots.create({ box: 'dev', name: 'after' });
  await core.close();
});
