// Settings meeting a start, in one process with the tiny guest: two starts at once that want
// the same host port, a start that fails keeping the "applies at the next start" mark, and a
// disk grown while the box ran applied at its next start, as the guest sees it.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoxkeepError } from '../../shared/errors.js';
import { freePort } from '../helpers/net.js';
import { boot, openVmHome, sh, type VmHome } from '../helpers/vm.js';

const GiB = 1024 ** 3;

let h: VmHome;
beforeAll(async () => { h = await openVmHome(); });
afterAll(async () => { await h?.cleanup(); });

describe('host ports across boxes started at once', () => {
  it('of two boxes started together with the same forward, one runs and the other is refused naming it', async () => {
    const port = await freePort();
    await h.core.boxes.create({ name: 'r1', image: 'tiny', forwards: [`${port}:80`] });
    await h.core.boxes.create({ name: 'r2', image: 'tiny', forwards: [`0.0.0.0:${port}:22`] });
    try {
      const outcomes = await Promise.allSettled([h.core.vms.start('r1'), h.core.vms.start('r2')]);
      const ran = outcomes.filter((o) => o.status === 'fulfilled');
      const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(ran, JSON.stringify(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'ran')))).toHaveLength(1);
      // Either may win the race; the loser names the winner and stays as it was.
      const [winner, loser] = outcomes[0]!.status === 'fulfilled' ? ['r1', 'r2'] : ['r2', 'r1'];
      expect(refused[0]!.reason).toBeInstanceOf(BoxkeepError);
      expect((refused[0]!.reason as Error).message).toMatch(new RegExp(`"${loser}" forwards the host port ${port}/tcp .*which the running box "${winner}" already forwards`));
      expect(h.core.store.getBox(h.core.boxes.resolve(loser).id)!.status).toBe('configured');
    } finally {
      for (const b of ['r1', 'r2']) await h.core.vms.stop(b, { force: true }).catch(() => undefined);
    }
  });
});

describe('a start that fails', () => {
  it('keeps "changed settings apply at the next start" until a start succeeds', async () => {
    const port = await freePort();
    const box = await h.core.boxes.create({ name: 'p', image: 'tiny', forwards: [`${port}:80`] });
    const con = await boot(h.core, 'p');
    con.close();
    expect((await h.core.boxes.update({ box: 'p', cpus: 2 })).pendingRestart).toBe(true);
    await h.core.vms.stop('p', { force: true });
    const squatter = net.createServer();
    await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen(port, '127.0.0.1', resolve));
    try {
      await expect(h.core.vms.start('p')).rejects.toThrow(`the host port ${port}/tcp on 127.0.0.1 is already in use`);
      expect(h.core.store.getBox(box.id)).toMatchObject({ status: 'stopped', pendingRestart: true, cpus: 2 });
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    const again = await boot(h.core, 'p');
    try {
      expect(h.core.store.getBox(box.id)!.pendingRestart).toBe(false);
      expect((await sh(again, 'nproc')).trim()).toBe('2');
    } finally {
      again.close();
      await h.core.vms.stop('p', { force: true });
    }
  });
});

describe('a disk grown while the box runs', () => {
  it('is stored as pending, the guest keeps its size until the next start, then sees the new one', async () => {
    const box = await h.core.boxes.create({ name: 'g', image: 'tiny' });
    const con = await boot(h.core, 'g');
    const before = Number((await sh(con, 'cat /sys/block/vda/size')).trim()) * 512;
    expect(before).toBe(box.diskSize);
    const set = await h.core.boxes.update({ box: 'g', diskSizeGiB: 1 });
    expect(set).toMatchObject({ diskSize: box.diskSize, pendingDiskSize: GiB, pendingRestart: true, status: 'running' });
    expect((await h.core.boxes.detail('g')).diskSize).toBe(box.diskSize);
    expect(Number((await sh(con, 'cat /sys/block/vda/size')).trim()) * 512).toBe(before);
    con.close();
    await h.core.vms.stop('g', { force: true });
    expect(h.core.store.getBox(box.id)).toMatchObject({ status: 'stopped', pendingDiskSize: GiB, diskSize: box.diskSize });
    const again = await boot(h.core, 'g');
    try {
      expect(Number((await sh(again, 'cat /sys/block/vda/size')).trim()) * 512).toBe(GiB);
      expect(h.core.store.getBox(box.id)).toMatchObject({ diskSize: GiB, pendingDiskSize: null, pendingRestart: false });
      // The size it has now asks for nothing more.
      expect((await h.core.boxes.update({ box: 'g', diskSizeGiB: 1 })).pendingDiskSize).toBeNull();
    } finally {
      again.close();
      await h.core.vms.stop('g', { force: true });
    }
  });
});

describe('a forward on an address this computer does not have', () => {
  it('fails the start saying so, not that another program holds the port', async () => {
    const box = await h.core.boxes.create({ name: 'x', image: 'tiny', forwards: ['192.0.2.1:8080:80'] });
    await expect(h.core.vms.start('x')).rejects.toThrow('the host address 192.0.2.1 of its forward 192.0.2.1:8080:80/tcp is not an address of this computer');
    expect(h.core.store.getBox(box.id)).toMatchObject({ status: 'configured', failureReason: null });
  });
});
