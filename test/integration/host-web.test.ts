// The web host with the real core: what a browser (or a script) gets when it has the token,
// and what it gets when it does not.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { webHostCsp } from '../../electron/host/ui-policy.js';
import { startWebHost, type WebHost } from '../../electron/host/web-host.js';
import { nextEvent, ownedHome, type OwnedHome } from './host-fixtures.js';

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function get(host: WebHost, pathAndQuery: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: host.port, path: pathAndQuery, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a WebSocket; resolves with the socket, or with the HTTP status that refused it. */
function openWs(url: string, origin?: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin, headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

function caller(ws: WebSocket) {
  let id = 0;
  const messages: Array<Record<string, unknown>> = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  return {
    messages,
    call(channel: string, input: unknown): Promise<Record<string, unknown>> {
      const mine = ++id;
      ws.send(JSON.stringify({ type: 'invoke', id: mine, channel, input }));
      return waitFor(() => messages.find((m) => m.type === 'result' && m.id === mine));
    },
  };
}

async function waitFor<T>(probe: () => T | undefined, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('web host', () => {
  let h: OwnedHome;
  let host: WebHost;
  let staticDir: string;
  let origin: string;
  let wsUrl: string;

  beforeAll(async () => {
    h = await ownedHome();
    staticDir = path.join(h.dir, 'renderer');
    fs.mkdirSync(path.join(staticDir, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>Boxkeep</title><script type="module" src="./assets/app.js"></script>');
    fs.writeFileSync(path.join(staticDir, 'assets', 'app.js'), 'console.log("boxkeep")');
    fs.writeFileSync(path.join(h.dir, 'secret.txt'), 'not for the browser');
    host = await startWebHost({ router: h.owner.router, staticDir, port: 0 });
    origin = `http://127.0.0.1:${host.port}`;
    wsUrl = `ws://127.0.0.1:${host.port}/ws?token=${host.token}`;
  });
  afterAll(async () => {
    await host?.close();
    await h?.cleanup();
  });

  it('prints a 127.0.0.1 URL carrying a long random token', () => {
    expect(host.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${host.port}/\\?token=[A-Za-z0-9_-]{32}$`));
  });

  it('serves the page under a CSP that allows only its own WebSocket, and never sets a cookie', async () => {
    const page = await get(host, `/?token=${host.token}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Boxkeep</title>');
    expect(page.headers['content-security-policy']).toBe(webHostCsp(host.port));
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    // Cookies ignore ports: one holding the token would reach every other server on 127.0.0.1.
    expect(page.headers['set-cookie']).toBeUndefined();
    const asset = await get(host, '/assets/app.js');
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(asset.body).toBe('console.log("boxkeep")');
  });

  it('serves the public UI files without the token, while the API (the WebSocket) refuses it', async () => {
    const bare = await get(host, '/');
    expect(bare.status).toBe(200);
    expect(bare.body).not.toContain(host.token);
    const noToken = await openWs(`ws://127.0.0.1:${host.port}/ws`, origin);
    expect(noToken).toMatchObject({ status: 401 });
    expect((noToken as { body: string }).body).toContain('open the full URL that `boxkeep serve` printed');
  });

  it('refuses a foreign Origin and a foreign Host name, even with the right token', async () => {
    const foreign = await get(host, `/?token=${host.token}`, { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toContain('"http://evil.example" are refused');
    const rebound = await get(host, `/?token=${host.token}`, { host: `evil.example:${host.port}` });
    expect(rebound.status).toBe(421);
  });

  it('never serves a file outside the renderer folder, and only GET', async () => {
    const q = `?token=${host.token}`;
    expect((await get(host, `/..%2fsecret.txt${q}`)).status).toBe(400);
    expect((await get(host, `/%2e%2e/secret.txt${q}`)).status).toBe(400);
    expect((await get(host, `/.hidden.js${q}`)).status).toBe(400);
    expect((await get(host, `/nope.js${q}`)).status).toBe(404);
    const post = await get(host, `/${q}`, {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.body).toContain('POST is not allowed');
  });

  it('refuses a WebSocket without the token, with a wrong one, or from a foreign Origin', async () => {
    const noToken = await openWs(`ws://127.0.0.1:${host.port}/ws`, origin);
    expect(noToken).toMatchObject({ status: 401 });
    expect((noToken as { body: string }).body).toContain('needs its access token');
    expect(await openWs(`ws://127.0.0.1:${host.port}/ws?token=nope`, origin)).toMatchObject({ status: 403 });
    const foreign = await openWs(wsUrl, 'https://evil.example');
    expect(foreign).toMatchObject({ status: 403 });
    expect(await openWs(wsUrl.replace('/ws', '/other'), origin)).toMatchObject({ status: 404 });
  });

  it('answers a WebSocket upgrade whose path is no URL ("//", "/\\") with a refusal, and keeps serving', async () => {
    for (const bad of ['//', '/\\', '//[']) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(host.port, '127.0.0.1', () => {
          socket.write(`GET ${bad} HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nOrigin: ${origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
        });
        let text = '';
        socket.on('data', (c) => (text += c.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer, bad).toMatch(/^HTTP\/1\.1 404 /);
      expect(answer, bad).toContain(`The WebSocket lives at /ws.`);
    }
    const opened = await openWs(wsUrl, origin);
    expect(opened).toHaveProperty('ws');
    const ws = (opened as { ws: WebSocket }).ws;
    const reply = await caller(ws).call('boxes:list', {});
    ws.close();
    expect(reply).toMatchObject({ type: 'result', ok: true });
  });

  it('runs channels for a page with the token and pushes the snapshot events', async () => {
    const opened = await openWs(wsUrl, origin);
    if (!('ws' in opened)) throw new Error(`refused with ${opened.status}: ${opened.body}`);
    const c = caller(opened.ws);
    const listed = await c.call('boxes:list', {});
    expect(listed).toMatchObject({ ok: true, value: [{ id: h.boxId, name: 'alpha' }] });

    const created = await c.call('snapshots:create', { box: 'alpha', name: 'before upgrade' });
    expect(created).toMatchObject({ ok: true, value: { name: 'before upgrade', boxId: h.boxId } });
    const event = await waitFor(() => c.messages.find((m) => m.type === 'event' && m.event === 'snapshots:changed'), 1000);
    expect(event).toEqual({ type: 'event', event: 'snapshots:changed', payload: { boxId: h.boxId } });
    expect(h.owner.core.store.listSnapshots(h.boxId).map((s) => s.name)).toEqual(['before upgrade']);
    opened.ws.close();
  });

  it('sends errors with their code and message intact, and answers broken frames without dropping the connection', async () => {
    const opened = await openWs(wsUrl, origin);
    if (!('ws' in opened)) throw new Error('refused');
    const c = caller(opened.ws);
    const bad = await c.call('snapshots:create', { box: 'alpha', name: '../etc' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'InvalidArgument' } });
    expect((bad.error as { message: string }).message).toContain('"../etc"');
    expect(await c.call('boxes:get', { box: 'nobody' })).toMatchObject({ ok: false, error: { code: 'NotFound' } });

    opened.ws.send('this is not json');
    const broken = await waitFor(() => c.messages.find((m) => m.id === -1));
    expect(broken).toMatchObject({ ok: false, error: { code: 'InvalidArgument', message: 'The message is not valid JSON.' } });
    expect(await c.call('boxes:list', {})).toMatchObject({ ok: true });
    opened.ws.close();
  });

  it('closes a connection that sends a frame over 1 MB', async () => {
    const opened = await openWs(wsUrl, origin);
    if (!('ws' in opened)) throw new Error('refused');
    const closed = new Promise<number>((resolve) => opened.ws.once('close', (code) => resolve(code)));
    opened.ws.send(JSON.stringify({ type: 'invoke', id: 1, channel: 'boxes:list', input: { pad: 'x'.repeat(1_100_000) } }));
    expect(await closed).toBe(1009);
  });

  it('tells the user to build the UI when dist/renderer is empty', async () => {
    const bare = await startWebHost({ router: h.owner.router, staticDir: path.join(h.dir, 'not-built') });
    try {
      const page = await get(bare, `/?token=${bare.token}`);
      expect(page.status).toBe(503);
      expect(page.body).toContain('npm run build:renderer');
    } finally {
      await bare.close();
    }
  });

  it('refuses a port that is taken, saying how to pick another', async () => {
    await expect(startWebHost({ router: h.owner.router, staticDir, port: host.port })).rejects.toThrow(/already in use: pick another with --port/);
  });

  it('pushes changes made through the router to every connected page within a second', async () => {
    const opened = await openWs(wsUrl, origin);
    if (!('ws' in opened)) throw new Error('refused');
    const c = caller(opened.ws);
    await c.call('boxes:list', {});
    const seen = nextEvent<Record<string, unknown>>((l) => {
      const on = (d: WebSocket.RawData) => l(JSON.parse(d.toString()));
      opened.ws.on('message', on);
      return () => opened.ws.off('message', on);
    }, (m) => m.type === 'event' && m.event === 'boxes:changed');
    await h.owner.router.invoke('boxes:rename', { box: 'alpha', name: 'alpha2' });
    expect(await seen).toMatchObject({ payload: { boxId: h.boxId } });
    await h.owner.router.invoke('boxes:rename', { box: 'alpha2', name: 'alpha' });
    opened.ws.close();
  });
});
