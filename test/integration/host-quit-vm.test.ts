// The shell's tray and quit flow against a real running box (QEMU with the tiny test guest):
// the running box leads the tray, a quick snapshot of it is live, "keep running" leaves QEMU
// up for the next start to adopt, and "stop" stops it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../shared/client.js';
import { startOwner, type Owner } from '../../electron/host/owner.js';
import type { Notice } from '../../electron/shell/quick-snapshot.js';
import { decideQuit, type QuitQuestion } from '../../electron/shell/quit.js';
import { startTray } from '../../electron/shell/tray-controller.js';
import type { TrayItem } from '../../electron/shell/tray-menu.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { buildGuest, makeDataDisk } from '../helpers/guest.js';
import { memoryLogger } from './host-fixtures.js';

const labels = (items: TrayItem[]) => items.map((i) => (i.kind === 'separator' ? '---' : i.label));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('quit with a running box', () => {
  let tmp: { dir: string; cleanup(): void };
  let home: string;
  let owner: Owner | null = null;
  let boxId = '';

  beforeAll(async () => {
    requireTools('qemu-system-x86_64', 'qemu-img', 'mkfs.ext4', 'cpio', 'busybox');
    process.env.BOXKEEP_STOP_TIMEOUT_MS = '1500';
    tmp = tempHome('bkq');
    home = path.join(tmp.dir, 'h');
    const guest = buildGuest();
    const disk = makeDataDisk(path.join(tmp.dir, 'd.qcow2'), 32);
    owner = await startOwner({ home, kind: 'app', logger: memoryLogger() });
    const api = createApi((c, i) => owner!.router.invoke(c, i));
    await api.images.import({ path: disk, name: 'tiny', kernelPath: guest.kernel, initrdPath: guest.initrd, append: 'console=ttyS0 panic=-1 quiet' });
    boxId = (await api.boxes.create({ name: 'vm', image: 'tiny', memoryMib: 128 })).id;
    await api.boxes.create({ name: 'idle', image: 'tiny', memoryMib: 128 });
    expect((await api.boxes.start({ box: 'vm' })).status).toBe('running');
  });
  afterAll(async () => {
    await owner?.router.invoke('boxes:stop', { box: 'vm', force: true }).catch(() => {});
    await owner?.close().catch(() => {});
    tmp?.cleanup();
  });

  it('puts the running box first in the tray and takes a live quick snapshot of it', async () => {
    const menus: TrayItem[][] = [];
    const tips: string[] = [];
    const notices: Notice[] = [];
    const tray = startTray({
      api: createApi((c, i) => owner!.router.invoke(c, i)), on: (e, l) => owner!.router.on(e, l),
      view: { setMenu: (m) => menus.push(m), setToolTip: (t) => tips.push(t) },
      notify: (n) => notices.push(n), openWindow: () => {}, quit: () => {}, debounceMs: 20,
    });
    try {
      await tray.refresh();
      expect(labels(menus.at(-1)!).slice(0, 3)).toEqual(['Quick snapshot', 'vm — running', 'idle — not started yet']);
      expect(tips.at(-1)).toBe('Boxkeep — 1 running');
      await tray.dispatch({ type: 'quick-snapshot', boxId, boxName: 'vm' });
      expect(notices.at(-1)).toMatchObject({ kind: 'success', title: 'Snapshot of vm taken' });
      const snaps = owner!.core.store.listSnapshots(boxId);
      expect(snaps).toHaveLength(1);
      expect(snaps[0]!.live).toBe(true);
    } finally {
      tray.dispose();
    }
  });

  it('"keep running" quits leaving QEMU up; the next start adopts the box; "stop" then stops it', async () => {
    const pid = Number(fs.readFileSync(path.join(home, 'boxes', boxId, 'run', 'qemu.pid'), 'utf8').trim());
    expect(pidAlive(pid)).toBe(true);
    const asked: QuitQuestion[] = [];
    const kept = await decideQuit({ api: createApi((c, i) => owner!.router.invoke(c, i)), ask: async (q) => (asked.push(q), 'keep') });
    expect(asked[0]!.message).toBe('vm is still running.');
    expect(kept).toEqual({ quit: true, stopped: [], kept: [boxId], failures: [] });
    await owner!.close();
    owner = null;
    expect(pidAlive(pid)).toBe(true);

    owner = await startOwner({ home, kind: 'app', logger: memoryLogger() });
    const api = createApi((c, i) => owner!.router.invoke(c, i));
    expect((await api.boxes.get({ box: 'vm' })).status).toBe('running');

    const stopped = await decideQuit({ api, ask: async () => 'stop' });
    expect(stopped).toEqual({ quit: true, stopped: [boxId], kept: [], failures: [] });
    expect((await api.boxes.get({ box: 'vm' })).status).toBe('stopped');
    const until = Date.now() + 5000;
    while (pidAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(pidAlive(pid)).toBe(false);
  });
});
