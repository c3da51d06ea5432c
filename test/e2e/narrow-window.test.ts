// The app in a small window (800×600), as a person with a laptop screen split in two sees it, in
// Debian's Chromium against `boxkeep serve`: the snapshot tree keeps the names readable, and
// messages never sit on top of the controls.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { writePattern } from '../helpers/disk.js';
import { expectNoPageProblems, imageFile, openBrowser, openApp, screenshot, type App, type Browser } from './harness.js';

const MiB = 1024 * 1024;
const LONG = 'before the kernel upgrade, with the old drivers';
let app: App;
let b: Browser;
let page: Page;

beforeAll(async () => {
  app = await openApp(async (core, t) => {
    const image = await core.images.import({ path: imageFile(t, 'base'), name: 'base' });
    const box = await core.boxes.create({ name: 'work', image: image.id });
    writePattern(box.liveDiskPath, 0, 3 * MiB, 0x11);
    await core.snapshots.create({ box: 'work', name: 'one' });
    writePattern(box.liveDiskPath, 0, 5 * MiB, 0x22);
    const long = await core.snapshots.create({ box: 'work', name: LONG, description: 'kept for a while' });
    await core.snapshots.pin('work', long.id, true);
  });
  // The served page in its own small window (openApp's is the usual 1280×800).
  b = await openBrowser(app.served.url, { width: 800, height: 600 });
  page = b.page;
  await page.getByRole('heading', { level: 1, name: 'work' }).waitFor();
}, 180_000);

afterAll(async () => {
  await b?.close();
  await app?.close();
});

const tree = () => page.getByRole('listbox', { name: 'Snapshots of work' });
const details = () => page.getByRole('complementary', { name: 'Selected item' });
const errors = () => page.getByTestId('toast-error');

/** Whether the person sees this control itself at its centre, not something laid over it. */
async function uncovered(control: import('playwright-core').Locator): Promise<boolean> {
  await control.scrollIntoViewIfNeeded();
  return control.evaluate((el: any) => {
    const r = el.getBoundingClientRect();
    const top = (globalThis as any).document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return top !== null && (top === el || el.contains(top));
  });
}

/** Each row's name as laid out (its title, how wide it shows, how wide it would be) and how many of the time and size show, and whether one shows cut. */
async function rowLayout() {
  // Page-side function (serialized, no closures); the Node typecheck has no DOM lib.
  return tree().locator('[role=option]').evaluateAll((rows) =>
    rows.map((row: any) => {
      const name = row.querySelector('.row-name');
      const meta = row.querySelector('.row-meta');
      const box = meta?.getBoundingClientRect();
      const parts = meta ? [...meta.children].filter((c: any) => !c.classList.contains('sr-only')) : [];
      const shown = parts.filter((c: any) => c.getBoundingClientRect().top < box.bottom).map((c: any) => c.getBoundingClientRect());
      return {
        text: String(name.textContent),
        title: name.getAttribute('title') as string | null,
        shows: name.clientWidth as number,
        needs: name.scrollWidth as number,
        metaShown: shown.length as number,
        metaCut: shown.some((r: any) => r.left < box.left - 0.5 || r.right > box.right + 0.5),
        rightEdge: name.getBoundingClientRect().right as number,
        rowRight: row.getBoundingClientRect().right as number,
      };
    }),
  );
}

describe('a small window', () => {
  it('at 800×600 the snapshot tree keeps every name readable: the time and size give way first, and a cut name has its whole name as a tooltip', async () => {
    await expect.poll(async () => (await rowLayout()).map((r) => r.text)).toEqual(['Base image', 'one', LONG, 'Now']);
    await screenshot(page, 'narrow-tree');
    const rows = await rowLayout();
    for (const r of rows) {
      // Readable: shown whole, or at least the first dozen letters of it, never squeezed to nothing.
      expect(r.shows, r.text).toBeGreaterThanOrEqual(Math.min(r.needs, 90));
      expect(r.rightEdge, r.text).toBeLessThanOrEqual(r.rowRight);
      expect(r.metaCut, `${r.text}: a time or size shown cut off`).toBe(false);
    }
    const [base, one, long] = rows;
    expect(base!.shows).toBe(base!.needs);
    expect(one!.shows).toBe(one!.needs);
    expect(long!.needs).toBeGreaterThan(long!.shows);
    expect(long!.title).toBe(LONG);
    expect(one!.title).toBe('one');
    // The short row still has room for its time and size; the long one gave both up for its name.
    expect(one!.metaShown).toBe(2);
    expect(long!.metaShown).toBe(0);
    await expect.poll(() => tree().getByRole('option', { name: /^one\b/ }).locator('.row-meta').innerText()).toMatch(/just now[\s\S]*3(\.\d+)? MiB/);
    expectNoPageProblems(b);
  });

  it('an error stays until read but covers no button; the same error again shows once; a reload starts with none', async () => {
    // The image's file gone: a start is refused with an error that stays.
    const folder = path.join(app.t.home, 'images', fs.readdirSync(path.join(app.t.home, 'images'))[0]!);
    const disk = path.join(folder, 'disk.qcow2');
    fs.renameSync(disk, `${disk}.away`);
    try {
      await tree().getByRole('option', { name: /^one\b/ }).click();
      await expect.poll(() => details().getByRole('button', { name: 'Browse files' }).isVisible()).toBe(true);
      const start = page.getByRole('toolbar', { name: 'Actions for work' }).getByRole('button', { name: 'Start' });
      await start.click();
      await expect.poll(() => errors().count(), { timeout: 30_000 }).toBe(1);
      await expect.poll(() => errors().innerText()).toContain('is not the disk Boxkeep made');
      await screenshot(page, 'narrow-error-toast');
      // Every button of the details pane, and of the toolbar, is what a click there reaches.
      const buttons = [...(await details().getByRole('button').all()), ...(await page.getByRole('toolbar', { name: 'Actions for work' }).getByRole('button').all())];
      expect(buttons.length).toBeGreaterThan(8);
      for (const button of buttons) expect(await uncovered(button), await button.innerText()).toBe(true);

      // Asked again, the same refusal replaces the message shown instead of stacking a copy.
      await errors().evaluate((el: any) => el.setAttribute('data-seen', ''));
      await start.click();
      await expect.poll(() => page.locator('[data-testid=toast-error]:not([data-seen])').count(), { timeout: 30_000 }).toBe(1);
      await expect.poll(() => errors().count()).toBe(1);

      // Messages live in the page alone: a reload (the server sends nothing again) shows none.
      await page.reload();
      await tree().getByRole('option', { name: /^one\b/ }).waitFor();
      await expect.poll(() => page.locator('.toast').count()).toBe(0);
    } finally {
      fs.renameSync(`${disk}.away`, disk);
    }
    expectNoPageProblems(b);
  });
});
