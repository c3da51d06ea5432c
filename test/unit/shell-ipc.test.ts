// The IPC path minus Electron: the sender check in front of the router, the settled replies,
// and the preload bridge the page sees as window.boxkeep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS } from '../../shared/channels.js';
import { EVENT_NAMES } from '../../shared/events.js';
import { ipcHandlers, senderProblem, type SenderInfo } from '../../electron/shell/ipc.js';
import { EVENT_CHANNEL } from '../../shared/ipc.js';
import { buildPreloadBridge } from '../../electron/preload/bridge.js';
import { APP_ORIGIN } from '../../electron/shell/security.js';
import type { Router } from '../../shared/transport.js';
import { ownedHome, type OwnedHome } from '../integration/host-fixtures.js';

const trusted = { webContentsIds: new Set([3]), devServerUrl: null };
const ours: SenderInfo = { webContentsId: 3, frame: { url: `${APP_ORIGIN}/index.html`, isMainFrame: true } };

describe('IPC sender check', () => {
  it('accepts only our window\'s main frame on our own origin', () => {
    expect(senderProblem(ours, trusted)).toBeNull();
    expect(senderProblem({ ...ours, webContentsId: 4 }, trusted)).toBe('The call came from a window Boxkeep did not open.');
    expect(senderProblem({ ...ours, frame: null }, trusted)).toBe('The calling frame is gone.');
    expect(senderProblem({ ...ours, frame: { url: `${APP_ORIGIN}/index.html`, isMainFrame: false } }, trusted)).toContain('sub-frame');
    expect(senderProblem({ ...ours, frame: { url: 'https://evil.example/', isMainFrame: true } }, trusted)).toContain("not Boxkeep's own");
    expect(senderProblem({ ...ours, frame: { url: 'file:///tmp/x.html', isMainFrame: true } }, trusted)).toContain("not Boxkeep's own");
    expect(senderProblem({ ...ours, frame: { url: 'http://localhost:5173/', isMainFrame: true } }, { ...trusted, devServerUrl: 'http://localhost:5173' })).toBeNull();
  });
});

describe('IPC handlers on the real core', () => {
  let h: OwnedHome;
  const seen: string[] = [];
  let router: Router;

  beforeAll(async () => {
    h = await ownedHome();
    router = { on: h.owner.router.on, invoke: (c, raw) => (seen.push(c), h.owner.router.invoke(c, raw)), openStream: (c, raw) => (seen.push(c), h.owner.router.openStream(c, raw)) };
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('has exactly one handler per channel of the contract', () => {
    expect([...ipcHandlers(router, () => trusted).keys()]).toEqual(CHANNELS);
  });

  it('refuses a foreign sender before the router or any parser sees the input', async () => {
    const handlers = ipcHandlers(router, () => trusted);
    const refused: string[] = [];
    const withLog = ipcHandlers(router, () => trusted, { onRefused: (c, reason) => refused.push(`${c}: ${reason}`) });
    const foreign: SenderInfo = { webContentsId: 3, frame: { url: 'https://evil.example/', isMainFrame: true } };
    seen.length = 0;
    const reply = await handlers.get('boxes:remove')!(foreign, { box: 'alpha' });
    expect(reply).toEqual({ ok: false, error: { code: 'InvalidState', message: "Refused boxes:remove: The call came from a page that is not Boxkeep's own." } });
    await withLog.get('snapshots:create')!({ ...ours, webContentsId: 99 }, { box: 'alpha' });
    expect(refused).toEqual(['snapshots:create: The call came from a window Boxkeep did not open.']);
    expect(seen).toEqual([]);
    expect(h.owner.core.store.listBoxes().map((b) => b.name)).toEqual(['alpha']);
  });

  it('checks the sender of a stream channel before the router sees it, and makes no port for a refused one', async () => {
    const made: string[] = [];
    const streams = { create: () => (made.push('port'), { local: null as never, remote: null }), hand: () => made.push('handed') };
    const handlers = ipcHandlers(router, () => trusted, { streams });
    seen.length = 0;
    const foreign: SenderInfo = { ...ours, frame: { url: `${APP_ORIGIN}/index.html`, isMainFrame: false } };
    expect(await handlers.get('consoles:open')!(foreign, { box: 'alpha' })).toEqual({ ok: false, error: { code: 'InvalidState', message: 'Refused consoles:open: The call came from a sub-frame; only the Boxkeep page itself may call.' } });
    expect(seen).toEqual([]);
    // A trusted sender, a box that is not running: the router refuses it, still before any port exists.
    expect(await handlers.get('consoles:open')!(ours, { box: 'alpha' })).toMatchObject({ ok: false, error: { code: 'InvalidState', message: 'The box "alpha" is not running; start it first.' } });
    expect(seen).toEqual(['consoles:open']);
    expect(made).toEqual([]);
  });

  it('settles results and errors into {ok, value} and {ok, error:{code, message}}', async () => {
    const handlers = ipcHandlers(router, () => trusted);
    expect(await handlers.get('boxes:list')!(ours, {})).toMatchObject({ ok: true, value: [{ name: 'alpha' }] });
    expect(await handlers.get('boxes:get')!(ours, { box: 'ghost' })).toMatchObject({ ok: false, error: { code: 'NotFound', message: expect.stringContaining('No box is called "ghost"') } });
  });

  it('builds window.boxkeep with one verb per channel, nothing generic, and events by name', async () => {
    const handlers = ipcHandlers(router, () => trusted);
    const listeners = new Set<(m: unknown) => void>();
    const bridge = buildPreloadBridge((channel, input) => handlers.get(channel)!(ours, input), (l) => (listeners.add(l), () => listeners.delete(l)));
    const areas = Object.keys(bridge).filter((k) => k !== 'on').sort();
    expect(areas).toEqual([...new Set(CHANNELS.map((c) => c.split(':')[0]))].sort());
    for (const channel of CHANNELS) {
      const [area, verb] = channel.split(':') as [string, string];
      expect(typeof (bridge as unknown as Record<string, Record<string, unknown>>)[area]![verb], channel).toBe('function');
    }
    expect(Object.keys(bridge)).not.toContain('invoke');
    expect(Object.isFrozen(bridge)).toBe(true);

    expect(await bridge.snapshots.create({ box: 'alpha', name: 'via preload' })).toMatchObject({ ok: true, value: { name: 'via preload' } });
    expect(await bridge.snapshots.create({ box: 'alpha', name: 'via preload' })).toMatchObject({ ok: false, error: { code: 'AlreadyExists' } });

    const got: unknown[] = [];
    const off = bridge.on('snapshots:changed', (p) => got.push(p));
    for (const l of listeners) {
      l({ event: 'boxes:changed', payload: { boxId: 'x' } });
      l({ event: 'snapshots:changed', payload: { boxId: 'y' } });
    }
    expect(got).toEqual([{ boxId: 'y' }]);
    off();
    expect(listeners.size).toBe(0);
    expect(() => bridge.on('secrets:leak' as never, () => {})).toThrow(`Unknown event "secrets:leak"; use one of ${EVENT_NAMES.join(', ')}.`);
    expect(EVENT_CHANNEL).toBe('boxkeep:event');
  });

  it('turns a transport failure into a settled Internal error instead of a rejection', async () => {
    const bridge = buildPreloadBridge(async () => {
      throw new Error("Error invoking remote method 'boxes:list': reply was never sent");
    }, () => () => {});
    expect(await bridge.boxes.list()).toEqual({ ok: false, error: { code: 'Internal', message: "Error invoking remote method 'boxes:list': reply was never sent" } });
  });

  it('offers the desktop file picker as a desktop-only verb, answered by main after the sender check', async () => {
    const opened: number[] = [];
    const desktop = {
      'shell:pickImageFile': async (_input: object, sender: SenderInfo) => (opened.push(sender.webContentsId), '/home/u/disk.qcow2'),
      'shell:pickArchiveFile': async () => '/home/u/web.boxkeep',
      'shell:pickArchiveSavePath': async (input: { defaultName: string }) => `/home/u/${input.defaultName}`,
    };
    const handlers = ipcHandlers(router, () => trusted, { desktop });
    const bridge = buildPreloadBridge((channel, input) => handlers.get(channel)!(ours, input), () => () => {});
    expect(await bridge.shell.pickImageFile()).toEqual({ ok: true, value: '/home/u/disk.qcow2' });
    expect(await handlers.get('shell:pickImageFile')!({ ...ours, webContentsId: 99 }, {})).toMatchObject({ ok: false, error: { code: 'InvalidState' } });
    expect(await handlers.get('shell:pickImageFile')!(ours, { path: '/etc/passwd' })).toMatchObject({ ok: false, error: { code: 'InvalidArgument', message: expect.stringContaining('Unknown field "path"') } });
    expect(opened).toEqual([3]);
    expect(await bridge.shell.pickArchiveSavePath({ defaultName: 'web.boxkeep' })).toEqual({ ok: true, value: '/home/u/web.boxkeep' });
    expect(await handlers.get('shell:pickArchiveSavePath')!(ours, { defaultName: 'a\nb' })).toMatchObject({ ok: false, error: { code: 'InvalidArgument' } });
    // Bound without main's handlers (as the web host and the control socket are), the router refuses it.
    expect(await ipcHandlers(router, () => trusted).get('shell:pickImageFile')!(ours, {})).toEqual({
      ok: false, error: { code: 'InvalidArgument', message: 'shell:pickImageFile is part of the Boxkeep desktop app only; a web page or the command line cannot use it.' },
    });
  });
});
