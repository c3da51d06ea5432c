// Boxes run on real QEMU (TCG) with the tiny guest: boot, write, stop, start again, states.
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
});

async function waitUntil(cond: () => boolean, ms: number) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
