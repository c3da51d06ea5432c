// Failures around a running QEMU (tiny guest, TCG): an error after a live snapshot's point of
// no return, a QEMU that cannot be reattached, a missing or wrong node map.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSameProcess, readFingerprint } from '../../electron/core/vm/qemu.js';
import { QmpClient } from '../../electron/core/vm/qmp.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { backingOf, diskDigest } from '../helpers/disk.js';
import { boot, openVmHome, sh, type VmHome } from '../helpers/vm.js';

let h: VmHome;
beforeAll(async () => { h = await openVmHome(); });
afterAll(async () => { await h?.cleanup(); });

describe('live snapshot error after the switch', () => {
  it('a failure after blockdev-snapshot does not delete the frozen disk the live disk now backs onto', async () => {
    const box = await h.core.boxes.create({ name: 'u', image: 'tiny' });
    const con = await boot(h.core, 'u');
    try {
      await sh(con, 'echo before-snapshot > /mnt/before; sync');
      const before = backingOf(box.liveDiskPath);
      // Make the node-map write that follows `cont` fail (any I/O error there does the same:
      // ENOSPC, EIO, or QEMU's QMP going away right after the switch).
      const runDir = (h.core.vms as Supervisor).session(box.id).runDir;
      const nodes = path.join(runDir, 'nodes.json');
      fs.rmSync(nodes);
      fs.mkdirSync(nodes);
      fs.writeFileSync(path.join(nodes, 'keep'), '');

      // Past the switch there is no going back: the snapshot is finished, not undone.
      const s = await h.core.snapshots.create({ box: 'u', name: 's' });
      const backing = backingOf(box.liveDiskPath)!;
      expect(backing, `live disk backs onto ${backing} (was ${before})`).toBe(s.diskPath);
      expect(fs.existsSync(backing)).toBe(true);
      expect(() => diskDigest(box.liveDiskPath, { shareLocked: true })).not.toThrow();
      expect(h.core.store.getBox(box.id)!.status).toBe('running');
      expect(await sh(con, 'cat /mnt/before')).toContain('before-snapshot');
    } finally {
      con.close();
      await h.core.vms.stop('u', { force: true }).catch(() => undefined);
    }
  });
});

describe('force-stopping a box whose QEMU could not be reattached', () => {
  it('"box stop --force" stops the QEMU it was told to stop (else an offline snapshot keeps changing)', async () => {
    const box = await h.core.boxes.create({ name: 'f', image: 'tiny' });
    const con = await boot(h.core, 'f');
    const runDir = (h.core.vms as Supervisor).session(box.id).runDir;
    const fp = readFingerprint(runDir)!;
    // Another QMP client holds the monitor (QEMU serves one at a time): the next owner's
    // adopt gets no greeting and leaves the box recorded as running, with no session.
    const holder = net.createConnection(path.join(runDir, 'qmp.sock'));
    holder.on('error', () => {});
    try {
      await h.reopen();
      const report = h.core.lastRecovery!.items.map((i) => i.message).join('\n');
      expect(report).toMatch(/could not take control of/);
      expect(h.core.store.getBox(box.id)!.status).toBe('running');

      // The recovery message says: stop it with "boxkeep box stop f --force".
      const stopped = await h.core.vms.stop('f', { force: true });
      expect(stopped.status).toBe('stopped');
      expect.soft(isSameProcess(fp), `QEMU pid ${fp.pid} still runs after a forced stop reported "stopped"`).toBe(false);

      // Consequence: the box counts as stopped, so an offline snapshot is allowed; it renames
      // the disk QEMU is still writing into the snapshot folder.
      const snap = await h.core.snapshots.create({ box: 'f', name: 'after-stop' });
      const taken = diskDigest(snap.diskPath, { shareLocked: true });
      if (isSameProcess(fp)) await sh(con, 'dd if=/dev/urandom of=/mnt/late bs=64k count=16 2>/dev/null; sync');
      expect(diskDigest(snap.diskPath, { shareLocked: true }), 'the snapshot changed after it was taken').toBe(taken);
    } finally {
      con.close();
      holder.destroy();
      if (isSameProcess(fp)) process.kill(fp.pid, 'SIGKILL');
    }
  });
});

describe('adopting a QEMU whose node map is missing or wrong', () => {
  it('rebuilds a missing map from QEMU\'s block graph and the chain on disk', async () => {
    const box = await h.core.boxes.create({ name: 'm', image: 'tiny' });
    await h.core.snapshots.create({ box: 'm', name: 'offline' });
    const con = await boot(h.core, 'm');
    const runDir = (h.core.vms as Supervisor).session(box.id).runDir;
    fs.rmSync(path.join(runDir, 'nodes.json'));
    try {
      await h.reopen();
      expect((h.core.vms as Supervisor).sessions.has(box.id)).toBe(true);
      expect(fs.existsSync(path.join(runDir, 'nodes.json'))).toBe(true);
      await sh(con, 'echo still > /mnt/still; sync');
      const s = await h.core.snapshots.create({ box: 'm', name: 'live-after' });
      await h.core.snapshots.remove('m', 'offline');
      expect(await sh(con, 'cat /mnt/still')).toContain('still');
      expect(s.live).toBe(true);
    } finally {
      con.close();
      await h.core.vms.stop('m', { force: true });
    }
  });

  it('does not keep the QMP monitor it gave up on (QEMU serves one client at a time)', async () => {
    const box = await h.core.boxes.create({ name: 'n', image: 'tiny' });
    await h.core.snapshots.create({ box: 'n', name: 'offline' });
    (await boot(h.core, 'n')).close();
    const runDir = (h.core.vms as Supervisor).session(box.id).runDir;
    const fp = readFingerprint(runDir)!;
    // A home edited by hand: neither the disk nor the rows say QEMU reads through the snapshot
    // it does read through, so no node map can be trusted.
    fs.renameSync(box.liveDiskPath, `${box.liveDiskPath}.moved`);
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', h.core.images.resolve('tiny').path, box.liveDiskPath]);
    h.core.store.setCurrentSnapshot(box.id, null);
    try {
      await h.reopen();
      const report = h.core.lastRecovery!.items.map((i) => i.message).join('\n');
      expect(report).toMatch(/could not take control of .*block nodes do not match the box's disks/);
      expect((h.core.vms as Supervisor).sessions.has(box.id)).toBe(false);
      // Boxkeep has no session for this QEMU, so nothing of it should hold QEMU's monitor.
      const probe = await QmpClient.connect(path.join(runDir, 'qmp.sock'), { timeoutMs: 3000 }).catch((e: Error) => e);
      expect(probe, String(probe)).toBeInstanceOf(QmpClient);
      if (probe instanceof QmpClient) probe.close();
    } finally {
      if (isSameProcess(fp)) process.kill(fp.pid, 'SIGKILL');
    }
  });
});
