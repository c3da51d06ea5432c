// A page left open while `boxkeep serve` restarts: the new run listens on the same port with
// the same token (both remembered in the home), so the page reconnects by itself. When the
// old port is taken meanwhile, or the token was retired, the page says so and where to go.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { buildRenderer, imageFile, newHome, openBrowser, requireE2eTools, screenshot, serve, withCore, type Browser, type Served, type TestHome } from './harness.js';

let t: TestHome;
let rendererDir: string;
let served: Served | null = null;
let b: Browser;
let page: Page;
let blocker: net.Server | null = null;

beforeAll(async () => {
  requireE2eTools();
  rendererDir = await buildRenderer();
  t = newHome();
  await withCore(t.home, async (core) => {
    const image = await core.images.import({ path: imageFile(t, 'base'), name: 'base' });
    await core.boxes.create({ name: 'work', image: image.id });
  });
});

afterAll(async () => {
  await b?.close();
  await served?.stop();
  await new Promise((r) => (blocker ? blocker.close(r) : r(null)));
  t?.cleanup();
});

const banner = () => page.locator('.banner');
const restart = async (args: string[] = []) => {
  await served?.stop();
  served = await serve(t.home, rendererDir, { args });
  return served;
};

describe('boxkeep serve restarted under an open page', () => {
  it('comes back on the same port with the same token, and the page reconnects by itself', async () => {
    served = await serve(t.home, rendererDir);
    const first = served.url;
    b = await openBrowser(first);
    page = b.page;
    await page.getByRole('heading', { level: 1, name: 'work' }).waitFor();
    const memo = path.join(t.home, 'serve.json');
    expect(fs.statSync(memo).mode & 0o777).toBe(0o600);

    await served.stop();
    await expect.poll(() => banner().innerText()).toContain('reconnecting…');
    const again = await restart();
    expect(again.url).toBe(first);
    await expect.poll(() => banner().count(), { timeout: 20_000 }).toBe(0);
    // It works again: an action goes through and its answer shows.
    await page.getByRole('button', { name: 'Rename' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rename work' });
    await dialog.getByLabel('Name').fill('work2');
    await dialog.getByRole('button', { name: 'Rename' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1, name: 'work2' }).isVisible()).toBe(true);
  });

  it('when the old port is taken, the new run says the address changed and the page says where to go', async () => {
    const port = Number(new URL(served!.url).port);
    await served!.stop();
    served = null;
    // Something else takes the port meanwhile (it accepts and hangs up, as a foreign program would).
    blocker = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => blocker!.listen(port, '127.0.0.1', resolve));
    const moved = await restart();
    expect(Number(new URL(moved.url).port)).not.toBe(port);
    expect(moved.output()).toContain(`Port ${port}, used last time, is taken now, so the address changed: a page still open at the old one cannot reconnect; open this one.`);
    const lost = page.getByTestId('connection-lost');
    await expect.poll(() => lost.innerText(), { timeout: 30_000 }).toContain(`Boxkeep is not answering at this address (port ${port}).`);
    await expect.poll(() => lost.innerText()).toContain('open the address it printed (it ends in ?token=…)');
    await screenshot(page, 'serve-restart-port-taken');
    await new Promise((r) => blocker!.close(r));
    blocker = null;
  });

  it('when the token was retired, the page says it cannot get back in and which address to open', async () => {
    await b.close();
    b = await openBrowser(served!.url);
    page = b.page;
    await page.getByRole('heading', { level: 1, name: 'work2' }).waitFor();
    // The first load has landed (the footer comes with its last answer) before the restart.
    await expect.poll(() => page.locator('.sidebar-foot').innerText()).toContain('QEMU');
    const before = served!.url;
    const fresh = await restart(['--new-token']);
    expect(new URL(fresh.url).port).toBe(new URL(before).port);
    expect(fresh.url).not.toBe(before);
    const lost = page.getByTestId('connection-lost');
    await expect.poll(() => lost.innerText(), { timeout: 30_000 }).toContain('Boxkeep was restarted and no longer accepts this page’s access token.');
    await screenshot(page, 'serve-restart-token-retired');
  });
});
