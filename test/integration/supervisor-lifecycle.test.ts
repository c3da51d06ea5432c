// Boxes run on real QEMU (TCG) with the tiny guest: boot, write, stop, start again, states.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { boot, openVmHome, sh, type VmHome } from '../helpers/vm.js';

let h: VmHome;
beforeAll(async () => { h = await openVmHome(); });
afterAll(async () => { await h?.cleanup(); });

describe('running a box', () => {
  it('boots to the command loop, keeps files across a clean stop and a new start', async () => {
    const box = await h.core.boxes.create({ name: 'life', image: 'tiny' });
    let con = await boot(h.core, 'life');
    expect(h.core.store.getBox(box.id)!.status).toBe('running');
    expect(await sh(con, 'cat /mnt/hello.txt')).toContain('hello from the image');
    await sh(con, 'echo kept-across-boots > /mnt/note.txt; sync');
    // The guest's own clean shutdown: QEMU exits 0 and the box is stopped, not failed.
    con.send('umount /mnt; poweroff -f');
    await waitUntil(() => h.core.store.getBox(box.id)!.status === 'stopped', 30_000);
    expect(h.core.store.getBox(box.id)!.failureReason).toBeNull();
    con.close();

    con = await boot(h.core, 'life');
    expect(await sh(con, 'cat /mnt/note.txt')).toContain('kept-across-boots');
    const lines = await h.core.vms.console('life', 50);
    expect(lines.lines.join('\n')).toContain('BOXKEEP-GUEST-READY');
    con.close();
  });

  it('pauses and resumes, refuses a second start, and stops on request (forced after the timeout)', async () => {
    const box = h.core.boxes.resolve('life');
    expect((await h.core.vms.pause('life')).status).toBe('paused');
    expect((await h.core.vms.resume('life')).status).toBe('running');
    await expect(h.core.vms.start('life')).rejects.toMatchObject({ code: 'InvalidState' });
    // The tiny guest has no ACPI daemon: a graceful stop waits 2 s, then quits QEMU.
    const stopped = await h.core.vms.stop('life', { force: false });
    expect(stopped.status).toBe('stopped');
    expect((h.core.vms as Supervisor).sessions.has(box.id)).toBe(false);
    await expect(h.core.vms.stop('life', { force: false })).rejects.toMatchObject({ code: 'InvalidState' });
  });

  it('marks the box failed with the reason when QEMU dies under it', async () => {
    const box = h.core.boxes.resolve('life');
    await boot(h.core, 'life');
    const pid = (h.core.vms as Supervisor).session(box.id).pid;
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => h.core.store.getBox(box.id)!.status === 'failed', 15_000);
    const failed = h.core.store.getBox(box.id)!;
    expect(failed.failureReason).toMatch(/QEMU was killed \(SIGKILL\)|QEMU exited/);
    expect(failed.failureReason).toMatch(/Last console lines/);
    // A failed box can be started again.
    const con = await boot(h.core, 'life');
    expect(await sh(con, 'cat /mnt/note.txt')).toContain('kept-across-boots');
    await h.core.vms.stop('life', { force: true });
  });

  it('the home closing while QEMU dies: nothing is written to the closed database, and the next owner records the box not running', async () => {
    const box = h.core.boxes.resolve('life');
    await boot(h.core, 'life');
    const sup = h.core.vms as Supervisor;
    const pid = sup.session(box.id).pid;
    // QEMU's last words are read only once the home has closed: the app quitting as its box dies.
    let homeClosed!: () => void;
    const closed = new Promise<void>((r) => (homeClosed = r));
    const lastWords = sup.failureReason.bind(sup);
    sup.failureReason = async (id, status) => {
      const reason = await lastWords(id, status);
      await closed;
      return reason;
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => !sup.sessions.has(box.id), 15_000);
      await h.core.close();
      homeClosed();
      await new Promise((r) => setTimeout(r, 500));
      expect(unhandled.map(String)).toEqual([]);
      const core = await h.reopen();
      expect(core.store.getBox(box.id)!.status).not.toBe('running');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('booting from the disk', () => {
  it('an image without a kernel boots through the firmware from its own disk', async () => {
    // A 512-byte boot sector that writes a line to COM1 and halts.
    const code = [0x31, 0xc0, 0x8e, 0xd8, 0xfc, 0xbe, 0x17, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x08, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xfa, 0xf4, 0xeb, 0xfc];
    const disk = Buffer.alloc(1024 * 1024);
    Buffer.from(code).copy(disk, 0);
    Buffer.from('BOXKEEP-DISK-BOOT\r\n\0', 'latin1').copy(disk, code.length);
    disk[510] = 0x55;
    disk[511] = 0xaa;
    const raw = path.join(path.dirname(h.dir), 'boot.img');
    fs.writeFileSync(raw, disk);
    await h.core.images.import({ path: raw, name: 'bootable' });
    const box = await h.core.boxes.create({ name: 'fromdisk', image: 'bootable', memoryMib: 64 });
    await h.core.vms.start('fromdisk');
    await waitUntil(() => fs.existsSync((h.core.vms as Supervisor).logFile(box.id)) && fs.readFileSync((h.core.vms as Supervisor).logFile(box.id), 'utf8').includes('BOXKEEP-DISK-BOOT'), 30_000);
    expect((await h.core.vms.console('fromdisk', 5)).lines).toContain('BOXKEEP-DISK-BOOT');
    await h.core.vms.stop('fromdisk', { force: true });
  });
});

async function waitUntil(cond: () => boolean, ms: number) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
