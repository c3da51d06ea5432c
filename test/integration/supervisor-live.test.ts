// Live snapshots of a running guest that writes all the time: five deep, a middle and the
// current one removed while it runs; then every file checked, every snapshot fsck'd and
// restored in turn, showing exactly the files written before it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHome } from '../../electron/core/check.js';
import { diskDigest } from '../helpers/disk.js';
import { attach, boot, logSize, openVmHome, sh, type VmHome } from '../helpers/vm.js';
import type { SerialDriver } from '../helpers/guest.js';

let h: VmHome;
let con: SerialDriver;
beforeAll(async () => {
  h = await openVmHome();
  await h.core.boxes.create({ name: 'live', image: 'tiny' });
  con = await boot(h.core, 'live');
});
afterAll(async () => {
  con?.close();
  await h?.cleanup();
});

/** Replays the journal on a copy, then a full read-only check must find nothing. */
function fsckSnapshot(disk: string) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fsck-'));
  const raw = path.join(tmp, 'fs.raw');
  try {
    expect(spawnSync('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', disk, raw]).status).toBe(0);
    spawnSync('e2fsck', ['-E', 'journal_only', '-y', raw], { encoding: 'utf8' });
    const r = spawnSync('e2fsck', ['-fn', raw], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function checkClean(file: string) {
  const r = spawnSync('qemu-img', ['check', '-U', '-f', 'qcow2', file], { encoding: 'utf8' });
  expect(r.status, `${file}: ${r.stdout}${r.stderr}`).toBe(0);
}

describe('live snapshots', () => {
  it('takes five snapshots while the guest writes continuously, and removes two while it runs', async () => {
    const box = h.core.boxes.resolve('live');
    await sh(con, '(while true; do dd if=/dev/urandom of=/mnt/noise bs=64k count=8 2>/dev/null; done) & echo $! > /tmp/writer');
    for (let i = 1; i <= 5; i++) {
      await sh(con, `echo marker-${i} > /mnt/m${i}; sync`);
      const s = await h.core.snapshots.create({ box: 'live', name: `s${i}` });
      expect(s.live).toBe(true);
      expect(h.core.store.getBox(box.id)!.status).toBe('running');
    }
    await sh(con, 'kill $(cat /tmp/writer); sync');
    const names = ['s1', 's2', 's3', 's4', 's5'];
    const digests = Object.fromEntries(names.map((n) => [n, diskDigest(h.core.snapshots.get('live', n).diskPath, { shareLocked: true })]));

    // A middle snapshot: its child (a layer QEMU reads through) takes its data by block-stream.
    const s2 = h.core.snapshots.get('live', 's2');
    const r3 = await h.core.snapshots.remove('live', 's3');
    expect(h.core.snapshots.get('live', 's4').parentId).toBe(s2.id);
    expect(r3.reparentedIds).toEqual([h.core.snapshots.get('live', 's4').id]);
    // The current snapshot: the live disk takes its data.
    await h.core.snapshots.remove('live', 's5');
    expect(h.core.store.getBox(box.id)!.currentSnapshotId).toBe(h.core.snapshots.get('live', 's4').id);
    for (const n of ['s1', 's2', 's4']) expect(diskDigest(h.core.snapshots.get('live', n).diskPath, { shareLocked: true }), n).toBe(digests[n]);
    expect(fs.existsSync(h.core.paths.snapshotDir(box.id, r3.removedId))).toBe(false);

    // The guest never noticed: all its files are there, and it keeps writing.
    for (let i = 1; i <= 5; i++) expect(await sh(con, `cat /mnt/m${i}`)).toContain(`marker-${i}`);
    await sh(con, 'echo after > /mnt/after; sync');
    await h.core.vms.stop('live', { force: true });
    con.close();

    const files = [box.liveDiskPath, ...['s1', 's2', 's4'].map((n) => h.core.snapshots.get('live', n).diskPath)];
    for (const f of files) checkClean(f);
    for (const n of ['s1', 's2', 's4']) fsckSnapshot(h.core.snapshots.get('live', n).diskPath);
    // The facts recorded at each live freeze and after the stream still match: no false alarm.
    const report = await checkHome(h.core);
    expect(report.ok, JSON.stringify(report.boxes[0]?.layers.filter((l) => !l.ok))).toBe(true);
  });

  it('restoring each snapshot in turn shows exactly the files written before it', async () => {
    for (const [name, upTo] of [['s1', 1], ['s2', 2], ['s4', 4]] as const) {
      await h.core.snapshots.restore({ box: 'live', snapshot: name });
      con = await boot(h.core, 'live');
      const listed = (await sh(con, 'ls /mnt')).split(/\s+/).filter((f) => /^m\d$/.test(f)).sort();
      expect(listed, name).toEqual(Array.from({ length: upTo }, (_, i) => `m${i + 1}`));
      for (let i = 1; i <= upTo; i++) expect(await sh(con, `cat /mnt/m${i}`)).toContain(`marker-${i}`);
      await h.core.vms.stop('live', { force: true });
      con.close();
    }
  });

  it('restore of a running box stops it first, snapshots the current state and starts it again when asked', async () => {
    con = await boot(h.core, 'live');
    await sh(con, 'echo unsaved-work > /mnt/work; sync');
    const offset = logSize(h.core, 'live');
    const r = await h.core.snapshots.restore({ box: 'live', snapshot: 's1', stopFirst: true, snapshotCurrentFirst: true, startAfter: true });
    expect(r.box.status).toBe('running');
    expect(r.savedSnapshot).not.toBeNull();
    con.close();
    con = await attach(h.core, 'live', offset);
    expect((await con.run('cat /mnt/work')).status).not.toBe(0);
    await h.core.vms.stop('live', { force: true });
    con.close();
    await h.core.snapshots.restore({ box: 'live', snapshot: r.savedSnapshot!.id });
    con = await boot(h.core, 'live');
    expect(await sh(con, 'cat /mnt/work')).toContain('unsaved-work');
    await h.core.vms.stop('live', { force: true });
  });
});
