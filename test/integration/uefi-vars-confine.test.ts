// The UEFI variables are files in the home that QEMU writes and Boxkeep copies: a copy never
// follows a symbolic link or a hard link out of the home, and a restore whose snapshot copy
// is missing or damaged is refused before anything changes.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { diskDigest, hashFile } from '../helpers/disk.js';
import { keepVars, keepVarsAgain } from '../../electron/core/snapshots/efivars.js';
import { mkdirDurable } from '../../electron/core/fsutil.js';
import { cleanUpWorldsAfterEach, crashAt, makeWorld, recovered, varsDigests, writeVars } from '../helpers/crash.js';

cleanUpWorldsAfterEach();

const VARS_SIZE = fs.statSync('/usr/share/OVMF/OVMF_VARS_4M.fd').size;

/** A host file outside the home that a planted link points at; it must never change. */
function victim(dir: string): { file: string; digest: string } {
  const file = path.join(dir, 'host-file');
  fs.writeFileSync(file, Buffer.alloc(VARS_SIZE, 0x77));
  return { file, digest: hashFile(file) };
}

describe('copying UEFI variables', () => {
  it('a restore does not write through a link planted where it prepares its copy', async () => {
    const w = await makeWorld({ firmware: 'uefi' });
    const host = victim(path.dirname(w.home));
    const core = await openCore({ home: w.home, owner: 'test' });
    try {
      // Planted after recovery ran (it drops a leftover prepared copy at open).
      fs.symlinkSync(host.file, core.paths.nextEfiVars(w.boxId));
      await core.snapshots.restore({ box: 'dev', snapshot: 'a' });
      expect(hashFile(host.file)).toBe(host.digest);
      expect(fs.lstatSync(core.paths.efiVars(w.boxId)).isFile()).toBe(true);
      expect(hashFile(core.paths.efiVars(w.boxId))).toBe(w.vars!.a);
    } finally {
      await core.close();
    }
  });

  it('a restore does not write through a link planted at the temporary name of its copy', async () => {
    const w = await makeWorld({ firmware: 'uefi' });
    const host = victim(path.dirname(w.home));
    const core = await openCore({ home: w.home, owner: 'test' });
    try {
      // Every name a copy might write before its rename, for this process.
      const disks = path.dirname(core.paths.efiVars(w.boxId));
      for (const name of [`.next-efivars.fd.tmp-${process.pid}`, `efivars.fd.tmp-${process.pid}`]) fs.symlinkSync(host.file, path.join(disks, name));
      await core.snapshots.restore({ box: 'dev', snapshot: 'b' });
      expect(hashFile(host.file)).toBe(host.digest);
      expect(hashFile(core.paths.efiVars(w.boxId))).toBe(w.vars!.b);
    } finally {
      await core.close();
    }
  });
});

describe('restoring a snapshot whose copy of the variables is not Boxkeep\'s', () => {
  const cases: [string, (file: string, dir: string) => void, RegExp][] = [
    ['missing', (file) => fs.rmSync(file), /UEFI variables kept by snapshot "a".*missing|does not exist/],
    ['the wrong size', (file) => fs.truncateSync(file, 4096), /4096 bytes long, but OVMF's variables are/],
    ['a symbolic link', (file, dir) => { fs.rmSync(file); fs.symlinkSync(victim(dir).file, file); }, /symbolic link/],
    ['a hard link', (file, dir) => { const other = path.join(dir, 'linked'); fs.linkSync(file, other); }, /2 hard links/],
  ];
  it.each(cases)('%s: refused with what is wrong, nothing changed', async (_what, damage, message) => {
    const w = await makeWorld({ firmware: 'uefi' });
    const core = await openCore({ home: w.home, owner: 'test' });
    try {
      const a = core.store.findSnapshot(w.boxId, 'a')!;
      damage(core.paths.snapshotEfiVars(w.boxId, a.id), path.dirname(w.home));
      const before = { current: core.store.getBox(w.boxId)!.currentSnapshotId, others: varsDigests(core, w.boxId) };
      await expect(core.snapshots.restore({ box: 'dev', snapshot: 'a' })).rejects.toThrow(message);
      expect(core.store.getBox(w.boxId)!.currentSnapshotId).toBe(before.current);
      expect(diskDigest(core.paths.liveDisk(w.boxId))).toBe(w.live);
      expect(hashFile(core.paths.efiVars(w.boxId))).toBe(w.liveVars);
      expect(varsDigests(core, w.boxId)).toEqual(before.others);
      expect(fs.existsSync(core.paths.nextEfiVars(w.boxId))).toBe(false);
    } finally {
      await core.close();
    }
  });
});

describe('a live snapshot\'s copy of the variables', () => {
  it('copied before the pause, is the variables at the pause: a variable the guest wrote in between is in it', async () => {
    const w = await makeWorld({ firmware: 'uefi' });
    const core = await openCore({ home: w.home, owner: 'test' });
    try {
      const box = core.store.getBox(w.boxId)!;
      const id = 'aaaaaaaaaaaa';
      mkdirDurable(core.paths.snapshotDir(box.id, id));
      const kept = keepVars(core, box, id)!;
      expect(hashFile(core.paths.snapshotEfiVars(box.id, id))).toBe(w.liveVars);
      // Unchanged at the pause: the copy stays as it is.
      keepVarsAgain(core, box, id, kept);
      expect(hashFile(core.paths.snapshotEfiVars(box.id, id))).toBe(w.liveVars);
      // The guest wrote a variable after the copy, before the pause.
      writeVars(core.paths.efiVars(box.id), 0x99);
      keepVarsAgain(core, box, id, kept);
      expect(hashFile(core.paths.snapshotEfiVars(box.id, id))).toBe(hashFile(core.paths.efiVars(box.id)));
      expect(hashFile(core.paths.snapshotEfiVars(box.id, id))).not.toBe(w.liveVars);
    } finally {
      await core.close();
    }
  });

  it('at the pause, the live variables replaced by a link are refused, not read', async () => {
    const w = await makeWorld({ firmware: 'uefi' });
    const host = victim(path.dirname(w.home));
    const core = await openCore({ home: w.home, owner: 'test' });
    try {
      const box = core.store.getBox(w.boxId)!;
      const id = 'bbbbbbbbbbbb';
      mkdirDurable(core.paths.snapshotDir(box.id, id));
      const kept = keepVars(core, box, id)!;
      fs.rmSync(core.paths.efiVars(box.id));
      fs.symlinkSync(host.file, core.paths.efiVars(box.id));
      expect(() => keepVarsAgain(core, box, id, kept)).toThrow(/symbolic link/);
      expect(hashFile(core.paths.snapshotEfiVars(box.id, id))).toBe(w.liveVars);
    } finally {
      await core.close();
    }
  });
});

describe('recovery finishing a restore whose prepared copy of the variables is not Boxkeep\'s', () => {
  it.each(['a host file', 'nothing (dangling)'])('killed after the disk was replaced, the prepared copy swapped for a link to %s: the live variables become the snapshot\'s copy, the host file is untouched', async (to) => {
    const w = await makeWorld({ firmware: 'uefi' });
    const host = victim(path.dirname(w.home));
    if (to !== 'a host file') host.file = path.join(path.dirname(w.home), 'nowhere');
    const r = crashAt(w, 'snapshot-restore:after-install', 'snapshots:restore', { box: 'dev', snapshot: 'a' });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const next = path.join(w.home, 'boxes', w.boxId, 'disks', '.next-efivars.fd');
    fs.rmSync(next);
    fs.symlinkSync(host.file, next);
    await recovered(w, (core) => {
      const live = core.paths.efiVars(w.boxId);
      expect(fs.lstatSync(live).isSymbolicLink()).toBe(false);
      expect(hashFile(live)).toBe(w.vars!.a);
      expect(core.store.getSnapshot(core.store.getBox(w.boxId)!.currentSnapshotId!)!.name).toBe('a');
      if (to === 'a host file') expect(hashFile(host.file)).toBe(host.digest);
      else expect(fs.existsSync(host.file)).toBe(false);
      expect(fs.lstatSync(next, { throwIfNoEntry: false })).toBeUndefined();
    });
  });
});
