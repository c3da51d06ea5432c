// The Display tab in Debian's Chromium against `boxkeep serve`: a box booted from the test's
// hand-made boot sector (test/helpers/installer.ts makeScreenDisk: it writes SCREEN_TEXT into
// VGA text memory on row SCREEN_ROW and echoes every key it reads with the BIOS to COM1 and to
// row KEYS_ROW), shown by noVNC over the box's display stream. What the canvas shows is read
// back as pixels; what is typed into it is read back from the guest's serial log.
//
// The text screen is 720x400 (80x25 cells of 9x16 pixels), so row R spans y 16R..16R+15.
// Every QEMU this file starts is stopped through the served API at the end; one that outlived
// its owner is killed by the pid in its own fingerprint, never by name.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { DISK_MARKER, KEYS_ROW, makeScreenDisk, SCREEN_ROW, SCREEN_TEXT, waitForSerial } from '../helpers/installer.js';
import { expectAccessible, expectNoPageProblems, openApp, screenshot, type App } from './harness.js';
import { connectApi, serialLog, stopActiveBoxes } from './vm-rig.js';
import { killLeftoverQemu } from '../helpers/leftover-qemu.js';
import { runDirFor, VNC_SOCKET } from '../../electron/core/vm/qemu.js';
import { HomePaths } from '../../electron/core/paths.js';

const BOOT_MS = 60_000;
let app: App;
let page: Page;
let boxId: string;

beforeAll(async () => {
  app = await openApp(async (core, t) => {
    const image = await core.images.import({ path: makeScreenDisk(t.dir), name: 'bootsector' });
    boxId = (await core.boxes.create({ name: 'screen', image: image.id, cpus: 1, memoryMib: 64 })).id;
  }, { env: { BOXKEEP_STOP_TIMEOUT_MS: '1000' } });
  page = app.page;
  await page.getByRole('heading', { level: 1, name: 'screen' }).waitFor();
}, 300_000);

afterAll(async () => {
  if (app) await stopActiveBoxes(app.served.url).catch((err: Error) => console.error(`stopping the boxes through the API failed: ${err.message}`));
  const home = app?.t.home;
  await app?.close();
  if (home && boxId) {
    const killed = killLeftoverQemu(home, [boxId]);
    if (killed.length) console.error(`killed a QEMU left running by its owner: pid ${killed.join(', ')}`);
  }
}, 60_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== 'fail' || !page) return;
  await screenshot(page, `display-failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}`).catch(() => {});
  console.error(`page text:\n${await page.locator('body').innerText().catch(() => '?')}\nserve output:\n${app.served.output().slice(-3000)}\npage problems:\n${app.b.problems.join('\n')}`);
});

const toolbar = () => page.getByRole('toolbar', { name: 'Actions for screen' });
const tools = () => page.getByRole('toolbar', { name: 'Screen of screen' });
const canvas = () => page.getByTestId('guest-screen');
const note = () => page.getByTestId('display-note');
const log = () => serialLog(app.t.home, boxId);
const logText = () => (fs.existsSync(log()) ? fs.readFileSync(log(), 'latin1') : '');

/** Connections QEMU's VNC server holds open (one per screen the engine relays), as the kernel lists them. */
function screenConnections(): number {
  const sock = path.join(runDirFor(new HomePaths(app.t.home), boxId, { create: false }), VNC_SOCKET);
  const out = execFileSync('ss', ['-xHn', 'state', 'connected'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.split(/\s+/).includes(sock)).length;
}

/** How many pixels in text row `row` (and in the columns `fromCol`..`toCol`) are not the black background. */
async function litPixels(row: number, fromCol = 0, toCol = 80): Promise<number> {
  return canvas().evaluate(
    (el, [row, fromCol, toCol]) => {
      const c = el as any;
      if (!c.width || !c.height) return -1;
      const data = c.getContext('2d').getImageData(fromCol * 9, row * 16, (toCol - fromCol) * 9, 16).data as Uint8ClampedArray;
      let lit = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i]! + data[i + 1]! + data[i + 2]! > 96) lit++;
      return lit;
    },
    [row, fromCol, toCol] as const,
  );
}

describe('the Display tab', () => {
  it('shows only for a box with a screen, and says to start a stopped box', async () => {
    await page.getByRole('tab', { name: 'Display' }).click();
    await page.getByText('Start the box to see its screen.').waitFor();
    await expect.poll(() => canvas().count()).toBe(0);
    await expect.poll(() => tools().getByRole('button', { name: 'Ctrl+Alt+Del' }).isDisabled()).toBe(true);
    await expectAccessible(page, 'display (stopped)');
  });

  it('shows the guest’s text screen in the canvas: lit pixels where the boot sector wrote its line, none on an empty row', async () => {
    // Every note the bar shows from the click on: the box is recorded as running before its
    // QEMU is up, and the screen opened then is refused; that wait is no error to show.
    await note().evaluate((el) => {
      const g = globalThis as any;
      g.displayNotes = [el.textContent];
      new g.MutationObserver(() => g.displayNotes.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
    });
    await toolbar().getByRole('button', { name: 'Start', exact: true }).click();
    await waitForSerial(log(), 0, DISK_MARKER, BOOT_MS);
    await canvas().waitFor({ timeout: 30_000 });
    await expect.poll(() => note().innerText(), { timeout: 30_000 }).toBe('Click the screen to type into the guest.');
    await expect.poll(() => canvas().evaluate((el) => [(el as any).width, (el as any).height]), { timeout: 30_000 }).toEqual([720, 400]);
    await expect.poll(() => litPixels(SCREEN_ROW, 0, SCREEN_TEXT.length), { timeout: 30_000 }).toBeGreaterThan(100);
    expect(await litPixels(SCREEN_ROW, SCREEN_TEXT.length + 1)).toBe(0);
    expect(await litPixels(5)).toBe(0);
    const notes: string[] = await page.evaluate(() => (globalThis as any).displayNotes);
    expect(notes.filter((n) => /Could not|recorded as/.test(n))).toEqual([]);
    expect(notes).toContain('Connecting to the screen…');
    await screenshot(page, 'display-running');
    await expectAccessible(page, 'display (running)');
    expectNoPageProblems(app.b);
  });

  it('sends what is typed into the canvas to the guest, which echoes it to its serial port and its screen, and keeps the app’s shortcuts out of the way', async () => {
    expect(await litPixels(KEYS_ROW)).toBe(0);
    await canvas().click();
    await expect.poll(() => note().innerText()).toBe('Keys go to the guest. Press Ctrl+Alt+G or click outside the screen to release the keyboard.');
    const before = logText().length;
    await page.keyboard.type('hi');
    // Ctrl+Shift+S is "Take snapshot" everywhere else in the app.
    await page.keyboard.press('Control+Shift+S');
    await waitForSerial(log(), before, 'hi', 20_000);
    await expect.poll(() => litPixels(KEYS_ROW, 0, 2), { timeout: 20_000 }).toBeGreaterThan(20);
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
  });

  it('gives the keyboard back on Ctrl+Alt+G: the note says so, and the shortcuts work again', async () => {
    await page.keyboard.press('Control+Alt+KeyG');
    await expect.poll(() => note().innerText()).toBe('Click the screen to type into the guest.');
    await expect.poll(() => canvas().evaluate((el) => (globalThis as any).document.activeElement === el)).toBe(false);
    const before = logText().length;
    await page.keyboard.press('Control+Shift+S');
    await page.getByRole('dialog', { name: /Take a snapshot/ }).waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    // Nothing of the chord, nor of the shortcut pressed after it, reached the guest.
    expect(logText().slice(before)).toBe('');
  });

  it('lists the chord that gives the keyboard back among the keyboard shortcuts', async () => {
    await page.getByRole('button', { name: 'Keyboard shortcuts' }).click();
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await expect.poll(() => help.innerText()).toContain('Give the keyboard back from the guest’s screen\tCtrl+Alt+G');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
  });

  it('is reachable with Tab and left with Ctrl+Alt+G then Tab, for someone using only the keyboard, with no key left down in the guest', async () => {
    const shot = tools().getByRole('button', { name: 'Screenshot' });
    await shot.focus();
    await page.keyboard.press('Tab');
    await expect.poll(() => canvas().evaluate((el) => (globalThis as any).document.activeElement === el)).toBe(true);
    await expect.poll(() => note().innerText()).toMatch(/^Keys go to the guest/);
    const before = logText().length;
    // A plain "a" and a Tab, both the guest's while it has the keyboard (the boot sector echoes
    // each key): after the Ctrl+Alt+G before, no Ctrl or Alt is still down in the guest (Alt+A
    // and Ctrl+Alt+A read as 0 from the BIOS).
    await page.keyboard.press('a');
    await page.keyboard.press('Tab');
    await waitForSerial(log(), before, 'a\t', 20_000);
    await page.keyboard.press('Control+Alt+KeyG');
    await page.keyboard.press('Shift+Tab');
    await expect.poll(() => shot.evaluate((el) => (globalThis as any).document.activeElement === el)).toBe(true);
    await expect.poll(() => note().innerText()).toBe('Click the screen to type into the guest.');
  });

  it('leaves no connection to the screen behind when the tab is switched away quickly, also during the handshake', async () => {
    await expect.poll(screenConnections, { timeout: 10_000 }).toBe(1);
    const display = page.getByRole('tab', { name: 'Display' });
    const snapshots = page.getByRole('tab', { name: /^Snapshots/ });
    for (let i = 0; i < 6; i++) {
      await snapshots.click();
      await display.click();
    }
    await snapshots.click();
    await expect.poll(screenConnections, { timeout: 10_000 }).toBe(0);
    // Nor does a retry timer open one for a view that is gone.
    await page.waitForTimeout(1500);
    expect(screenConnections()).toBe(0);
    await display.click();
    await expect.poll(() => note().innerText(), { timeout: 30_000 }).toBe('Click the screen to type into the guest.');
    expect(screenConnections()).toBe(1);
  });

  it('scales the screen to fit the tab, or shows it at its own size', async () => {
    const cssWidth = () => canvas().evaluate((el) => Math.round((el as any).getBoundingClientRect().width));
    const area = await page.getByTestId('display-screen').evaluate((el) => Math.round((el as any).getBoundingClientRect().width));
    await expect.poll(cssWidth).not.toBe(720);
    expect(await cssWidth()).toBeLessThanOrEqual(area);
    await tools().getByRole('button', { name: 'Scale to fit' }).click();
    await expect.poll(() => tools().getByRole('button', { name: 'Scale to fit' }).getAttribute('aria-pressed')).toBe('false');
    await expect.poll(cssWidth).toBe(720);
    await tools().getByRole('button', { name: 'Scale to fit' }).click();
    await expect.poll(cssWidth).not.toBe(720);
  });

  it('names the screen after the box, also after the box is renamed while its screen shows', async () => {
    await expect.poll(() => canvas().getAttribute('aria-label')).toBe('Screen of screen');
    const { api, close } = await connectApi(app.served.url);
    try {
      await api.boxes.rename({ box: boxId, name: 'screen two' });
      await page.getByRole('heading', { level: 1, name: 'screen two' }).waitFor();
      await expect.poll(() => canvas().getAttribute('aria-label')).toBe('Screen of screen two');
      await api.boxes.rename({ box: boxId, name: 'screen' });
      await page.getByRole('heading', { level: 1, name: 'screen' }).waitFor();
      await expect.poll(() => canvas().getAttribute('aria-label')).toBe('Screen of screen');
    } finally {
      close();
    }
  });

  it('goes full screen on the view and back', async () => {
    await tools().getByRole('button', { name: 'Full screen' }).click();
    await expect.poll(() => page.evaluate(() => (globalThis as any).document.fullscreenElement?.className ?? null)).toBe('display');
    await tools().getByRole('button', { name: 'Exit full screen' }).click();
    await expect.poll(() => page.evaluate(() => (globalThis as any).document.fullscreenElement)).toBe(null);
  });

  it('saves a screenshot as a PNG of the guest’s screen', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), tools().getByRole('button', { name: 'Screenshot' }).click()]);
    expect(download.suggestedFilename()).toBe('screen-screen.png');
    const file = await download.path();
    const png = fs.readFileSync(file);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([720, 400]);
  });

  it('sends Ctrl+Alt+Del to the guest, whose BIOS resets the machine (a box runs with -no-reboot, so it stops), and the tab says to start it again', async () => {
    await tools().getByRole('button', { name: 'Ctrl+Alt+Del' }).click();
    await page.getByText('Start the box to see its screen.').waitFor({ timeout: 60_000 });
    await expect.poll(() => canvas().count()).toBe(0);
    await expect.poll(() => page.locator('.box-header .status').first().innerText(), { timeout: 30_000 }).toBe('Stopped');
    await expectAccessible(page, 'display (after stop)');
    expectNoPageProblems(app.b);
  });
});
