// A live snapshot's picture of the screen, in Debian's Chromium against `boxkeep serve`: the box
// boots the hand-made boot sector (it writes a line on the VGA text screen), a live snapshot
// is taken while it runs, and the snapshot's details show the picture, decoded by the browser.
// Every QEMU this file starts is stopped through the served API; one that outlived its owner is
// killed by the pid in its own fingerprint.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { DISK_MARKER, makeScreenDisk, waitForSerial } from '../helpers/installer.js';
import { expectNoPageProblems, openApp, screenshot, type App } from './harness.js';
import { stopActiveBoxes } from './vm-rig.js';
import { killLeftoverQemu } from '../helpers/leftover-qemu.js';

let app: App;
let page: Page;
const boxIds: string[] = [];

beforeAll(async () => {
  app = await openApp(async (core, t) => {
    await core.images.import({ path: makeScreenDisk(t.dir), name: 'screen' });
    const box = await core.boxes.create({ name: 'scr', image: 'screen' });
    boxIds.push(box.id);
    // Taken while stopped: no picture.
    await core.snapshots.create({ box: 'scr', name: 'cold' });
    await core.vms.start('scr');
    await waitForSerial((core.vms as Supervisor).logFile(box.id), 0, DISK_MARKER);
    await core.snapshots.create({ box: 'scr', name: 'lively' });
    await core.snapshots.create({ box: 'scr', name: 'later' });
    // The seed's core lets go of QEMU; `serve` adopts the running box.
  });
  page = app.page;
  await page.getByRole('heading', { level: 1, name: 'scr' }).waitFor();
}, 180_000);

afterAll(async () => {
  if (app) {
    await stopActiveBoxes(app.served.url).catch(() => []);
    killLeftoverQemu(app.t.home, boxIds);
    await app.close();
  }
}, 60_000);

const tree = () => page.getByRole('listbox', { name: 'Snapshots of scr' });
const option = (name: string) => tree().getByRole('option', { name: new RegExp(`^${name}\\b`) });

/** The picture as Chromium decoded it: its width, and whether the guest's line (row 12 of 25) and a blank row have bright pixels. */
function pixels(selector: string): Promise<unknown> {
  // (A string: the test's TypeScript has no DOM types.)
  return page.evaluate(`(async () => {
    const img = document.querySelector(${JSON.stringify(selector)});
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const lit = (y0, y1) => {
      const data = ctx.getImageData(0, y0, 60, y1 - y0).data;
      for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] > 120) return true;
      return false;
    };
    const rowHeight = img.naturalHeight / 25;
    return { width: img.naturalWidth, shownWidth: img.width, textRow: lit(Math.floor(12 * rowHeight), Math.ceil(13 * rowHeight)), blankRow: lit(Math.floor(5 * rowHeight), Math.ceil(6 * rowHeight)) };
  })()`);
}

const preview = (name: string) => page.getByRole('tooltip').getByRole('img', { name: `Preview: the screen of the box when “${name}” was taken` });

describe('a snapshot picture in the browser', () => {
  it('shows the screen as it was in the details of a live snapshot', async () => {
    await option('lively').click();
    const picture = page.getByRole('complementary').getByRole('img', { name: 'The screen of the box when “lively” was taken' });
    await picture.waitFor();
    // Decoded by Chromium: 320 px wide, with bright pixels where the guest's line is (row 12 of 25).
    // (A string: the test's TypeScript has no DOM types.)
    const seen = await pixels('img.snapshot-picture');
    expect(seen).toMatchObject({ width: 320, textRow: true, blankRow: false });
    await screenshot(page, 'snapshot-picture');
    // Another snapshot shows its own.
    await option('later').click();
    await page.getByRole('complementary').getByRole('img', { name: 'The screen of the box when “later” was taken' }).waitFor();
    expectNoPageProblems(app.b);
  });

  it('previews the picture when the pointer is on a snapshot in the tree, and nothing for one without', async () => {
    const placeBefore = await Promise.all([option('cold').boundingBox(), page.getByRole('complementary').boundingBox()]);
    await option('later').hover();
    await preview('later').waitFor();
    expect(await pixels('.picture-peek img')).toEqual({ width: 320, shownWidth: 160, textRow: true, blankRow: false });
    // Over the page, beside the row: the rows and the details keep their places.
    expect(await Promise.all([option('cold').boundingBox(), page.getByRole('complementary').boundingBox()])).toEqual(placeBefore);
    await screenshot(page, 'snapshot-picture-hover');
    // From one pictured row to the next the preview stays up (it swaps, it never blinks out).
    await page.evaluate(`(() => {
      window.peekGone = 0;
      new MutationObserver(() => { if (!document.querySelector('.picture-peek')) window.peekGone++; }).observe(document.body, { childList: true, subtree: true });
    })()`);
    await option('lively').hover();
    await preview('lively').waitFor();
    expect(await page.evaluate('window.peekGone')).toBe(0);
    await option('cold').hover();
    await page.getByRole('tooltip').waitFor({ state: 'detached' });
    await option('Now').hover();
    await page.waitForTimeout(300);
    await expect.poll(() => page.getByRole('tooltip').count()).toBe(0);
    // Leaving the tree takes it away.
    await option('lively').hover();
    await preview('lively').waitFor();
    await page.mouse.move(0, 0);
    await page.getByRole('tooltip').waitFor({ state: 'detached' });
    expectNoPageProblems(app.b);
  });

  it('previews the selected snapshot while the tree has the keyboard focus', async () => {
    await option('cold').click();
    await page.mouse.move(0, 0);
    // A click focuses the tree but is no keyboard focus: nothing shows until the keys move.
    await expect.poll(() => page.getByRole('tooltip').count()).toBe(0);
    // Walk by keys to the snapshot with a picture.
    const order = await tree().getByRole('option').allInnerTexts();
    const from = order.findIndex((t) => /^cold\b/.test(t));
    const to = order.findIndex((t) => /^lively\b/.test(t));
    for (let i = 0; i < Math.abs(to - from); i++) await page.keyboard.press(to > from ? 'ArrowDown' : 'ArrowUp');
    await expect.poll(() => tree().getAttribute('aria-activedescendant').then((id) => page.locator(`#${id}`).innerText())).toMatch(/^lively\b/);
    await preview('lively').waitFor();
    expect(await pixels('.picture-peek img')).toEqual({ width: 320, shownWidth: 160, textRow: true, blankRow: false });
    // Tabbing away and back: still there for the focused tree's selection.
    await page.keyboard.press('Shift+Tab');
    await page.getByRole('tooltip').waitFor({ state: 'detached' });
    await page.keyboard.press('Tab');
    await preview('lively').waitFor();
    expectNoPageProblems(app.b);
  });
});
