// The web host in a real browser (Debian's Chromium via playwright-core): a page built from
// renderer/src/transport.ts, served with the host's CSP, reaching the real core; and a page
// from a foreign origin that knows the token still cannot use the host.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebHost, type WebHost } from '../../electron/host/web-host.js';
import { ownedHome, type OwnedHome } from './host-fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = '/usr/lib/chromium/chromium';

const PAGE_SCRIPT = `
import { connectBridge } from ${JSON.stringify(path.join(ROOT, 'renderer/src/transport.ts'))};
const out = (id, text) => { document.getElementById(id).textContent = text; };
connectBridge().then(async (bk) => {
  bk.on('snapshots:changed', (p) => out('event', 'changed ' + p.boxId));
  const boxes = await bk.boxes.list();
  out('boxes', boxes.map((b) => b.name).join(','));
  document.getElementById('snap').addEventListener('click', async () => {
    try {
      const s = await bk.snapshots.create({ box: 'alpha', name: document.getElementById('name').value });
      out('result', 'created ' + s.name);
    } catch (e) {
      out('result', e.code + ': ' + e.message);
    }
  });
  out('status', 'ready');
}, (e) => out('status', 'failed: ' + e.message));
`;

const PAGE_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>transport probe</title>
<script type="module" src="./main.js"></script></head>
<body><p id="status">loading</p><p id="boxes"></p><input id="name" aria-label="name"><button id="snap">Snapshot</button>
<p id="result"></p><p id="event"></p></body></html>`;

describe('web host in Chromium', () => {
  let h: OwnedHome;
  let host: WebHost;
  let context: BrowserContext;
  let evil: http.Server;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium is required for this test but ${CHROMIUM} is missing; install it with: sudo apt-get install chromium`);
    h = await ownedHome();
    const src = path.join(h.dir, 'probe-src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'index.html'), PAGE_HTML);
    fs.writeFileSync(path.join(src, 'main.js'), PAGE_SCRIPT);
    const out = path.join(h.dir, 'probe');
    await build({ root: src, base: './', logLevel: 'error', configFile: false, build: { outDir: out, emptyOutDir: true, modulePreload: { polyfill: false } } });
    host = await startWebHost({ router: h.owner.router, staticDir: out });

    // A page on another origin that has learned the token: the browser sends its Origin.
    evil = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><p id="r">waiting</p><script>
        const ws = new WebSocket('ws://127.0.0.1:${host.port}/ws?token=${host.token}');
        ws.onopen = () => { document.getElementById('r').textContent = 'opened'; };
        ws.onerror = () => { document.getElementById('r').textContent = 'refused'; };
      </script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));

    context = await chromium.launchPersistentContext(path.join(h.dir, 'chrome'), {
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await context?.close();
    await new Promise((resolve) => evil?.close(resolve));
    await host?.close();
    await h?.cleanup();
  });

  it('loads the page and its script under the CSP, lists boxes, takes a snapshot and hears the event', async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(host.url);
    await page.locator('#status', { hasText: 'ready' }).waitFor({ timeout: 10_000 });
    expect(await page.textContent('#boxes')).toBe('alpha');

    await page.fill('#name', 'from chromium');
    await page.click('#snap');
    await page.locator('#result', { hasText: 'created from chromium' }).waitFor();
    await page.locator('#event', { hasText: `changed ${h.boxId}` }).waitFor({ timeout: 1000 });
    expect(h.owner.core.store.listSnapshots(h.boxId).map((s) => s.name)).toContain('from chromium');

    await page.fill('#name', 'a/b');
    await page.click('#snap');
    await page.locator('#result', { hasText: 'InvalidArgument: ' }).waitFor();
    expect(await page.textContent('#result')).toContain('contains "/"; slashes are not allowed');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('takes the token out of the address bar and keeps working after a reload (the tab remembers it, no cookie)', async () => {
    const page = await context.newPage();
    await page.goto(host.url);
    await page.locator('#status', { hasText: 'ready' }).waitFor({ timeout: 10_000 });
    expect(page.url()).not.toContain(host.token);
    expect((await context.cookies()).length).toBe(0);
    await page.reload();
    await page.locator('#status', { hasText: 'ready' }).waitFor({ timeout: 10_000 });
    expect(await page.textContent('#boxes')).toBe('alpha');
    await page.close();
  });

  it('refuses a foreign page that knows the token, and runs no inline script of its own', async () => {
    const { port } = evil.address() as { port: number };
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.locator('#r', { hasText: 'refused' }).waitFor({ timeout: 5000 });

    // The host's own pages run no inline script: the CSP blocks it.
    const own = await context.newPage();
    const blocked: string[] = [];
    own.on('console', (m) => blocked.push(m.text()));
    await own.goto(host.url);
    await own.locator('#status', { hasText: 'ready' }).waitFor({ timeout: 10_000 });
    // A string, evaluated in the page (this file is compiled without the DOM types).
    const ran = await own.evaluate(`(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.head.appendChild(s);
      return window.__inline ?? null;
    })()`);
    expect(ran).toBeNull();
    expect(blocked.join('\n')).toMatch(/Content Security Policy/);
    await page.close();
    await own.close();
  });
});
