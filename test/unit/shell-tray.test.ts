// The tray: its menu as a pure function of state, and the controller against the real core
// (a box created or snapshotted elsewhere shows up; a quick snapshot lands and is announced).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../shared/client.js';
import type { Box, BoxStatus } from '../../shared/types.js';
import { QUICK_DESCRIPTION, type Notice } from '../../electron/shell/quick-snapshot.js';
import { startTray, type TrayController } from '../../electron/shell/tray-controller.js';
import { MAX_TRAY_BOXES, trayTemplate, type TrayItem } from '../../electron/shell/tray-menu.js';
import { PROTECT_PRESET } from '../../shared/protect.js';
import type { ProtectStatus } from '../../shared/types.js';
import { ownedHome, type OwnedHome } from '../integration/host-fixtures.js';

const box = (name: string, status: BoxStatus, id = `id-${name}`): Box => ({
  id, name, imageId: 'img', status, failureReason: null, cpus: 1, memoryMib: 256, diskSize: 1, currentSnapshotId: null, liveDiskPath: '/x', createdAt: 0, installerImageId: null,
  network: 'nat', forwards: [], macAddress: '52:54:00:00:00:01', stopTimeoutSec: 20, pendingRestart: false, stopDeadline: null, pendingDiskSize: null, cloudInit: null, display: 'none', firmware: 'bios', installedFrom: null, linkedSnapshotId: null,
});
const labels = (items: TrayItem[]) => items.map((i) => (i.kind === 'separator' ? '---' : i.label));

describe('tray menu template', () => {
  it('lists running boxes first, then the rest by name, then Open and Quit', () => {
    const items = trayTemplate({ boxes: [box('zeta', 'stopped'), box('build', 'running'), box('alpha', 'configured'), box('web', 'paused')], busy: new Set() });
    expect(labels(items)).toEqual([
      'Quick snapshot', 'build — running', 'web — paused', 'alpha — not started yet', 'zeta — stopped', '---', 'Open Boxkeep', '---', 'Quit Boxkeep',
    ]);
    expect(items[1]).toMatchObject({ kind: 'action', enabled: true, action: { type: 'quick-snapshot', boxId: 'id-build', boxName: 'build' } });
    expect(items.at(-1)).toMatchObject({ action: { type: 'quit' } });
    expect(items.at(-3)).toMatchObject({ action: { type: 'open' } });
  });

  it('a running box\'s quick snapshot keeps its memory; a paused or stopped one\'s only the disk', () => {
    const items = trayTemplate({ boxes: [box('build', 'running'), box('web', 'paused'), box('zeta', 'stopped')], busy: new Set() });
    expect(items[1]).toMatchObject({ action: { type: 'quick-snapshot', boxId: 'id-build', memory: true }, toolTip: 'Take a snapshot of build now, with its memory' });
    for (const item of items.slice(2, 4)) {
      if (item.kind !== 'action' || item.action.type !== 'quick-snapshot') throw new Error('not a box item');
      expect(item.action.memory).toBeUndefined();
    }
  });

  it('shows a box with a snapshot in flight as busy and not clickable, and a stopping box disabled', () => {
    const items = trayTemplate({ boxes: [box('web', 'running'), box('db', 'stopping')], busy: new Set(['id-web']) });
    expect(items[1]).toMatchObject({ label: 'web — taking snapshot…', enabled: false });
    expect(items[2]).toMatchObject({ label: 'db — stopping', enabled: false });
  });

  it('says so when there are no boxes, or when they could not be listed', () => {
    expect(labels(trayTemplate({ boxes: [], busy: new Set() }))).toEqual(['No boxes yet', '---', 'Open Boxkeep', '---', 'Quit Boxkeep']);
    expect(labels(trayTemplate({ boxes: [], busy: new Set(), loadError: 'The database is locked.' }))[0]).toBe('Cannot list boxes: The database is locked.');
  });

  it('keeps long menus short, escapes "&" and clips long names', () => {
    const many = Array.from({ length: MAX_TRAY_BOXES + 3 }, (_, i) => box(`box${i + 1}`, 'stopped'));
    const items = trayTemplate({ boxes: many, busy: new Set() });
    expect(labels(items)).toContain('3 more in Boxkeep…');
    expect(labels(items).filter((l) => l.startsWith('box'))).toHaveLength(MAX_TRAY_BOXES);
    expect(labels(items)[1]).toBe('box1 — stopped');
    expect(labels(items)[2]).toBe('box2 — stopped');
    const odd = trayTemplate({ boxes: [box('R&D', 'running'), box('x'.repeat(80), 'stopped')], busy: new Set() });
    expect(labels(odd)[1]).toBe('R&&D — running');
    expect(labels(odd)[2]).toBe('x'.repeat(39) + '… — stopped');
  });
});

describe('tray and AutoProtect', () => {
  const NOW = 1_800_000_000_000;
  const status = (boxId: string, extra: Partial<ProtectStatus>): ProtectStatus => ({ boxId, policy: PROTECT_PRESET, nextRunAt: null, pausedReason: null, lastError: null, ...extra });

  it('says when the next automatic snapshot of a running box comes, or that its schedule is paused for space', () => {
    const protect = new Map([
      ['id-web', status('id-web', { nextRunAt: NOW + 12 * 60_000 - 5_000 })],
      ['id-db', status('id-db', { pausedReason: 'The disk is full.' })],
      ['id-old', status('id-old', {})],
    ]);
    const items = trayTemplate({ boxes: [box('web', 'running'), box('db', 'running'), box('old', 'stopped'), box('free', 'running')], busy: new Set(), protect, now: NOW });
    expect(labels(items).slice(1, 5)).toEqual([
      'db — running, AutoProtect paused (low disk space)', 'free — running', 'web — running, next automatic snapshot in 12 min', 'old — stopped',
    ]);
  });
});

describe('tray: start at login', () => {
  it('offers a checkbox when the platform can, and toggles it', async () => {
    let on = false;
    const menus: TrayItem[][] = [];
    const tray = startTray({
      api: { boxes: { list: async () => [] }, snapshots: {}, protect: {} } as never,
      on: () => () => {}, view: { setMenu: (m) => menus.push(m), setToolTip: () => {} }, notify: () => {}, openWindow: () => {}, quit: () => {},
      autostart: { get: () => on, set: (v) => void (on = v) },
    });
    await tray.refresh();
    const item = () => menus.at(-1)!.find((i) => i.kind === 'action' && i.action.type === 'toggle-autostart');
    expect(item()).toMatchObject({ label: 'Start Boxkeep at Login', checked: false });
    await tray.dispatch({ type: 'toggle-autostart' });
    expect(on).toBe(true);
    expect(item()).toMatchObject({ checked: true });
    tray.dispose();
    expect(labels(trayTemplate({ boxes: [], busy: new Set() }))).not.toContain('Start Boxkeep at Login');
  });
});

describe('tray controller on the real core', () => {
  let h: OwnedHome;
  let tray: TrayController;
  const menus: TrayItem[][] = [];
  const tips: string[] = [];
  const notices: Notice[] = [];
  let opened = 0;

  beforeAll(async () => {
    h = await ownedHome();
    const router = h.owner.router;
    tray = startTray({
      api: createApi((c, i) => router.invoke(c, i)),
      on: (e, l) => router.on(e, l),
      view: { setMenu: (m) => menus.push(m), setToolTip: (t) => tips.push(t) },
      notify: (n) => notices.push(n),
      openWindow: () => opened++,
      quit: () => {},
      debounceMs: 20,
    });
    await tray.refresh();
  });
  afterAll(async () => {
    tray?.dispose();
    await h?.cleanup();
  });

  it('rebuilds the menu when a box appears, without being asked', async () => {
    const before = menus.length;
    await h.owner.router.invoke('boxes:create', { name: 'second', image: 'seed' });
    const until = Date.now() + 1000;
    while (!labels(menus.at(-1) ?? []).includes('second — not started yet') && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(menus.length).toBeGreaterThan(before);
    expect(labels(menus.at(-1)!)).toEqual(['Quick snapshot', 'alpha — not started yet', 'second — not started yet', '---', 'Open Boxkeep', '---', 'Quit Boxkeep']);
    expect(tips.at(-1)).toBe('Boxkeep');
  });

  it('takes a quick snapshot with a timestamp name and the tray description, showing it busy meanwhile', async () => {
    const item = menus.at(-1)!.find((i) => i.kind === 'action' && i.label.startsWith('alpha'));
    if (!item || item.kind !== 'action') throw new Error('no alpha item');
    const from = menus.length;
    await tray.dispatch(item.action);
    expect(menus.slice(from).some((m) => labels(m).includes('alpha — taking snapshot…'))).toBe(true);
    expect(labels(menus.at(-1)!)).toContain('alpha — not started yet');
    const snaps = h.owner.core.store.listSnapshots(h.boxId);
    expect(snaps).toHaveLength(1);
    expect(snaps[0]!.name).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(snaps[0]!.description).toBe(QUICK_DESCRIPTION);
    expect(notices.at(-1)).toEqual({ kind: 'success', title: 'Snapshot of alpha taken', body: `"${snaps[0]!.name}" is in alpha's history; restore it from Boxkeep.` });
  });

  it('ignores a second click on a box whose snapshot is still being taken', async () => {
    const action = { type: 'quick-snapshot' as const, boxId: h.boxId, boxName: 'alpha' };
    const before = h.owner.core.store.listSnapshots(h.boxId).length;
    await Promise.all([tray.dispatch(action), tray.dispatch({ ...action })]);
    expect(h.owner.core.store.listSnapshots(h.boxId)).toHaveLength(before + 1);
    await tray.dispatch(action);
    const names = h.owner.core.store.listSnapshots(h.boxId).map((s) => s.name);
    expect(names).toHaveLength(before + 2);
    expect(new Set(names).size).toBe(names.length);
  });

  it('announces a failed quick snapshot with the engine\'s reason', async () => {
    await tray.dispatch({ type: 'quick-snapshot', boxId: 'no-such-box', boxName: 'ghost' });
    expect(notices.at(-1)).toMatchObject({ kind: 'failure', title: 'Snapshot of ghost failed', body: expect.stringContaining('No box is called "no-such-box"') });
  });

  it('shows the next automatic snapshot once a box is protected, and turns AutoProtect alerts into notifications with their reason', async () => {
    await h.owner.router.invoke('protect:set', { box: 'alpha', dailyAt: '02:00' });
    // alpha is not running: no next run to show, and nothing else changes.
    await tray.refresh();
    expect(labels(menus.at(-1)!)).toContain('alpha — not started yet');
    h.owner.core.events.emit('protect:alert', { boxId: h.boxId, box: 'alpha', kind: 'failed', message: 'The automatic snapshot of "alpha" failed: qemu-img said no.' });
    expect(notices.at(-1)).toEqual({ kind: 'failure', title: 'Automatic snapshot of alpha failed', body: 'The automatic snapshot of "alpha" failed: qemu-img said no.' });
    h.owner.core.events.emit('protect:alert', { boxId: h.boxId, box: 'alpha', kind: 'resumed', message: 'AutoProtect of "alpha" resumed: there is space again.' });
    expect(notices.at(-1)).toMatchObject({ kind: 'success', title: 'AutoProtect of alpha resumed' });
    // A pruning that failed after a snapshot that was taken: the title does not say the snapshot failed.
    h.owner.core.events.emit('protect:alert', { boxId: h.boxId, box: 'alpha', kind: 'prune-failed', message: 'AutoProtect of "alpha" could not prune old automatic snapshots: no space.' });
    expect(notices.at(-1)).toEqual({ kind: 'failure', title: 'AutoProtect of alpha could not prune old snapshots', body: 'AutoProtect of "alpha" could not prune old automatic snapshots: no space.' });
  });

  it('opens the window from "Open Boxkeep"', async () => {
    await tray.dispatch({ type: 'open' });
    expect(opened).toBe(1);
  });
});
