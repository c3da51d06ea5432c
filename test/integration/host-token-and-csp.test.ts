// The web host's token and CSP, in a real browser (Debian's Chromium via playwright-core)
// against a real owner on a temporary home. Each test states an attack that should fail.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startWebHost, type WebHost } from '../../electron/host/web-host.js';
import { ownedHome, type OwnedHome } from './host-fixtures.js';

const CHROMIUM = '/usr/lib/chromium/chromium';

/** Another program on the same machine: it listens on some other 127.0.0.1 port. */
function otherLocalServer(): Promise<{ server: http.Server; port: number; cookies: string[]; upgrades: number }> {
  const state = { cookies: [] as string[], upgrades: 0 };
  const server = http.createServer((req, res) => {
    state.cookies.push(req.headers.cookie ?? '');
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>some other local app</title><p>hello</p>');
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    state.upgrades++;
    ws.close();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({
        server, port,
        get cookies() { return state.cookies; },
        get upgrades() { return state.upgrades; },
      });
    }),
  );
}

function listBoxesWith(port: number, token: string): Promise<string[]> {
  return new Promise((resolve) => {
    // A non-browser client sends no Origin at all.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'invoke', id: 1, channel: 'boxes:list', input: {} })));
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { type: string; id?: number; ok?: boolean; value?: { name: string }[] };
      if (m.type === 'result' && m.id === 1) {
        ws.close();
        resolve(m.ok ? (m.value ?? []).map((b) => b.name) : []);
      }
    });
    ws.on('error', () => resolve([]));
  });
}

describe('security review: web host in Chromium', () => {
  let h: OwnedHome;
  let host: WebHost;
  let context: BrowserContext;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium is required for this test but ${CHROMIUM} is missing; install it with: sudo apt-get install chromium`);
    h = await ownedHome();
    const staticDir = path.join(h.dir, 'static');
    fs.mkdirSync(staticDir);
    fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>Boxkeep</title><p id="ok">page</p>');
    host = await startWebHost({ router: h.owner.router, staticDir });
    context = await chromium.launchPersistentContext(path.join(h.dir, 'chrome'), {
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await context?.close();
    await host?.close();
    await h?.cleanup();
  });

  it('does not hand its access token to other servers on 127.0.0.1 (cookies ignore ports)', async () => {
    const other = await otherLocalServer();
    try {
      const page = await context.newPage();
      await page.goto(host.url);
      await page.locator('#ok').waitFor();
      // The user later visits any other local web app (a dev server, another user's service).
      await page.goto(`http://127.0.0.1:${other.port}/`);
      await page.close();
      const leaked = other.cookies.some((c) => c.includes(host.token));
      // What that other server can do with what it received.
      const stolen = /boxkeep_\d+=([A-Za-z0-9_-]+)/.exec(other.cookies.join(';'))?.[1];
      const boxesViaLeak = stolen ? await listBoxesWith(host.port, stolen) : [];
      expect({ leaked, boxesViaLeak }).toEqual({ leaked: false, boxesViaLeak: [] });
    } finally {
      other.server.closeAllConnections();
      await new Promise((resolve) => other.server.close(resolve));
    }
  });

  it("lets its pages open WebSockets only to this host, not to other local ports (CSP connect-src)", async () => {
    const other = await otherLocalServer();
    try {
      const page = await context.newPage();
      await page.goto(host.url);
      await page.locator('#ok').waitFor();
      // Script running in the page (an injected script, a compromised dependency) tries to
      // talk to another local WebSocket service.
      const outcome = await page.evaluate(`new Promise((resolve) => {
        try {
          const ws = new WebSocket('ws://127.0.0.1:${other.port}/');
          ws.onopen = () => resolve('opened');
          ws.onerror = () => resolve('error');
          ws.onclose = () => resolve('closed');
        } catch (e) { resolve('threw ' + e.name); }
      })`);
      await page.close();
      expect({ outcome, connectionsReceived: other.upgrades }).toMatchObject({ connectionsReceived: 0 });
    } finally {
      other.server.closeAllConnections();
      await new Promise((resolve) => other.server.close(resolve));
    }
  });
});
