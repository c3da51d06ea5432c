// A UEFI box's variables are part of its state: each offline operation killed at each step
// (SIGKILL, separate process), then recovered, leaves every snapshot's copy of the variables
// byte for byte as it was, and the live variables the before or the after of the operation,
// together with the live disk (never a restored disk with the old variables, or the reverse).
// The variables are changed from the host on the stopped box's file here: these tests boot no
// guest (the guest-side change through efivarfs is in uefi-boot.test.ts).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { diskDigest, hashFile } from '../helpers/disk.js';
import { boxMade, cleanUpWorldsAfterEach, crashAt, digests, makeWorld, points, recovered, restoreDone, snapshotMade, varsDigests } from '../helpers/crash.js';

cleanUpWorldsAfterEach();

describe('a UEFI box: snapshot create killed at each step', () => {
  it.each(points('snapshot-create'))('%s: every copy of the variables intact; a new snapshot has the live ones', async (point) => {
    const w = await makeWorld({ firmware: 'uefi' });
    const r = crashAt(w, point, 'snapshots:create', { box: 'dev', name: 'new' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (core) => {
      const vars = varsDigests(core, w.boxId);
      const made = 'new' in vars;
      expect(made, 'the snapshot is kept once the overlay sits on the frozen disk, else undone').toBe(snapshotMade(point));
      for (const [name, digest] of Object.entries(w.vars!)) expect(vars[name]).toBe(digest);
      if (made) expect(vars.new).toBe(w.liveVars);
      expect(hashFile(core.paths.efiVars(w.boxId))).toBe(w.liveVars);
      expect(fs.readdirSync(core.paths.snapshotsDir(w.boxId)).length).toBe(Object.keys(w.vars!).length + (made ? 1 : 0));
    });
    const again = crashAt(w, null, 'snapshots:create', { box: 'dev', name: 'again' });
    expect(again.status, again.stderr).toBe(0);
  });
});

describe('a UEFI box: snapshot restore killed at each step', () => {
  it.each(points('snapshot-restore'))('%s: disk and variables both as before or both as after', async (point) => {
    const w = await makeWorld({ firmware: 'uefi' });
    const r = crashAt(w, point, 'snapshots:restore', { box: 'dev', snapshot: 'a' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (core) => {
      expect(digests(core, w.boxId)).toEqual(w.snapshots);
      expect(varsDigests(core, w.boxId)).toEqual(w.vars);
      const box = core.store.getBox(w.boxId)!;
      const live = diskDigest(box.liveDiskPath);
      const liveVars = hashFile(core.paths.efiVars(w.boxId));
      const current = core.store.getSnapshot(box.currentSnapshotId!)!;
      expect(live !== w.live, 'undone before the install, finished after').toBe(restoreDone(point));
      if (live === w.live) {
        expect(current.name).toBe('c');
        expect(liveVars).toBe(w.liveVars);
      } else {
        expect(live).toBe(w.snapshots.a);
        expect(current.name).toBe('a');
        expect(liveVars).toBe(w.vars!.a);
      }
      expect(fs.existsSync(core.paths.nextEfiVars(w.boxId))).toBe(false);
    });
  });
});

describe('a UEFI box: box create killed at each step', () => {
  it.each(points('box-create'))('%s: the box exists with its variables, or not at all', async (point) => {
    const w = await makeWorld({ firmware: 'uefi' });
    const r = crashAt(w, point, 'boxes:create', { name: 'second', image: 'seed', firmware: 'uefi' });
    expect(r.signal).toBe('SIGKILL');
    await recovered(w, (core) => {
      const box = core.store.findBox('second');
      expect(box !== null, 'undone unless the row exists').toBe(boxMade(point));
      expect(fs.readdirSync(core.paths.boxesDir).length).toBe(box ? 2 : 1);
      if (box) {
        expect(box.firmware).toBe('uefi');
        expect(hashFile(core.paths.efiVars(box.id))).toBe(hashFile('/usr/share/OVMF/OVMF_VARS_4M.fd'));
      }
    });
  });
});

describe('a UEFI box: removing a snapshot', () => {
  it('removes that snapshot\'s variables and no other copy', async () => {
    const w = await makeWorld({ firmware: 'uefi' });
    const core = await openCore({ home: w.home, owner: 'test' });
    try {
      const b = core.store.findSnapshot(w.boxId, 'b')!;
      await core.snapshots.remove('dev', 'b');
      expect(fs.existsSync(core.paths.snapshotEfiVars(w.boxId, b.id))).toBe(false);
      const { b: _gone, ...rest } = w.vars!;
      expect(varsDigests(core, w.boxId)).toEqual(rest);
      expect(hashFile(core.paths.efiVars(w.boxId))).toBe(w.liveVars);
    } finally {
      await core.close();
    }
  });
});

describe('a UEFI box whose variables are gone', () => {
  it('recovery says so and that a restore puts a copy back; the restore does, and start finds them again', async () => {
    const w = await makeWorld({ firmware: 'uefi' });
    fs.rmSync(`${w.home}/boxes/${w.boxId}/disks/efivars.fd`);
    const core = await openCore({ home: w.home, owner: 'test' });
    try {
      const said = core.lastRecovery!.items.map((i) => i.message).join('\n');
      expect(said).toMatch(/The UEFI variables of the box "dev" \(.*efivars\.fd\) are missing; the box cannot start until a snapshot is restored/);
      await core.snapshots.restore({ box: 'dev', snapshot: 'b' });
      expect(hashFile(core.paths.efiVars(w.boxId))).toBe(w.vars!.b);
    } finally {
      await core.close();
    }
  });
});
