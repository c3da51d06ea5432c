// renderer/src/transport.ts against the real web host and core: the bridge the screens get in
// a browser, its errors, and what it does when the host goes away and comes back.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BoxkeepError } from '../../shared/errors.js';
import { startWebHost, type WebHost } from '../../electron/host/web-host.js';
import { connectBridge, socketUrl, type ConnectionStatus, type SocketFactory } from '../../renderer/src/transport.js';
import { nextEvent, ownedHome, type OwnedHome } from './host-fixtures.js';

/** A browser sends its page's Origin; ws does not unless told. */
function browserLike(origin: string): SocketFactory {
  return class extends WebSocket {
    constructor(url: string) {
      super(url, { origin });
    }
  } as unknown as SocketFactory;
}

describe('renderer transport over the web host', () => {
  let h: OwnedHome;
  let host: WebHost;

  beforeAll(async () => {
    h = await ownedHome();
    host = await startWebHost({ router: h.owner.router, staticDir: path.join(h.dir, 'none') });
  });
  afterAll(async () => {
    await host?.close();
    await h?.cleanup();
  });

  it('derives the WebSocket address from the page URL and its token', () => {
    expect(socketUrl('http://127.0.0.1:4100/?token=abc')).toBe('ws://127.0.0.1:4100/ws?token=abc');
    expect(socketUrl('http://127.0.0.1:4100/boxes/x#token=t%2B1')).toBe('ws://127.0.0.1:4100/ws?token=t%2B1');
    expect(socketUrl('http://127.0.0.1:4100/')).toBe('ws://127.0.0.1:4100/ws');
  });

  it('gives the screens typed verbs that reach the real core', async () => {
    const bridge = await connectBridge({ preload: null, pageUrl: host.url, WebSocket: browserLike(`http://127.0.0.1:${host.port}`) });
    const boxes = await bridge.boxes.list();
    expect(boxes.map((b) => b.name)).toEqual(['alpha']);
    const changed = nextEvent<{ boxId: string }>((l) => bridge.on('snapshots:changed', l), (p) => p.boxId === h.boxId);
    const snap = await bridge.snapshots.create({ box: 'alpha', name: 'clean install', description: 'fresh' });
    expect(snap).toMatchObject({ name: 'clean install', description: 'fresh', boxId: h.boxId });
    await changed;
    const tree = await bridge.snapshots.list({ box: h.boxId });
    expect(tree.snapshots.map((s) => s.name)).toEqual(['clean install']);
  });

  it('rejects with a BoxkeepError carrying the code and the message', async () => {
    const bridge = await connectBridge({ preload: null, pageUrl: host.url, WebSocket: browserLike(`http://127.0.0.1:${host.port}`) });
    const err = await bridge.snapshots.create({ box: 'alpha', name: 'clean install' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BoxkeepError);
    expect(err).toMatchObject({ code: 'AlreadyExists' });
    expect((err as Error).message).toContain('already has a snapshot called "clean install"');
  });

  it('fails to connect with a message naming what to open when the token is missing', async () => {
    const noToken = `http://127.0.0.1:${host.port}/`;
    await expect(connectBridge({ preload: null, pageUrl: noToken, WebSocket: browserLike(`http://127.0.0.1:${host.port}`) })).rejects.toThrow(/open the full URL it printed/);
  });

  it('reconnects after the host restarts and tells the views to reload', async () => {
    const statuses: ConnectionStatus[] = [];
    const first = await startWebHost({ router: h.owner.router, staticDir: path.join(h.dir, 'none'), token: 'fixed-token-for-restart' });
    const port = first.port;
    const origin = `http://127.0.0.1:${port}`;
    const bridge = await connectBridge({ preload: null, pageUrl: first.url, WebSocket: browserLike(origin), onStatus: (s) => statuses.push(s), retry: { minMs: 20, maxMs: 100 } });
    const reload = nextEvent<{ boxId: string | null }>((l) => bridge.on('boxes:changed', l), (p) => p.boxId === null, 5000);
    await first.close();
    while (!statuses.includes('reconnecting')) await new Promise((r) => setTimeout(r, 5));
    // While the host is down a call waits instead of failing at once.
    const queued = bridge.boxes.list();
    await new Promise((r) => setTimeout(r, 150));
    const second = await startWebHost({ router: h.owner.router, staticDir: path.join(h.dir, 'none'), token: 'fixed-token-for-restart', port });
    try {
      await reload;
      expect((await queued).map((b) => b.name)).toEqual(['alpha']);
      expect(statuses[0]).toBe('connected');
      expect(statuses).toContain('reconnecting');
      expect(statuses.at(-1)).toBe('connected');
    } finally {
      await second.close();
    }
  });
});
