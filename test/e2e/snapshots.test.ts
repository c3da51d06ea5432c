// The snapshot tree as a person uses it, in Debian's Chromium against `boxkeep serve`: take
// snapshots (button, shortcut), restore with and without saving the current state, delete a
// middle snapshot and watch its child re-parent. Every step is checked on screen and in the
// bytes of the disks (read back with qemu-io, independent of Boxkeep).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { readPattern, writePattern } from '../helpers/disk.js';
import {
  expectAccessible, expectNoPageProblems, imageFile, liveDisk, screenshot, openApp, type App, type Browser, type TestHome,
} from './harness.js';

const MiB = 1024 * 1024;
let app: App;
let t: TestHome;
let b: Browser;
let page: Page;
let boxId: string;

beforeAll(async () => {
  app = await openApp(async (core, t) => {
    const image = await core.images.import({ path: imageFile(t, 'base'), name: 'base' });
    boxId = (await core.boxes.create({ name: 'work', image: image.id })).id;
  });
  ({ t, b, page } = app);
  await page.getByRole('heading', { level: 1, name: 'work' }).waitFor();
});

afterAll(async () => {
  await app?.close();
});

const live = () => liveDisk(t.home, boxId);
const snapshotDisk = (id: string) => path.join(t.home, 'boxes', boxId, 'snapshots', id, 'container.qcow2');
const tree = () => page.getByRole('listbox', { name: 'Snapshots of work' });
const option = (name: string) => tree().getByRole('option', { name: new RegExp(`^${name}\\b`) });
const rowKeys = () => tree().locator('[role=option]').evaluateAll((els) => els.map((e) => e.getAttribute('data-key')!));
const rowNames = () => tree().locator('[role=option] .row-name').allInnerTexts();
const toast = (text: string) => page.getByTestId('toast-success').filter({ hasText: text });

async function takeSnapshot(how: 'toolbar' | 'shortcut' | 'details', name: string, description = '') {
  if (how === 'toolbar') await page.getByRole('toolbar').getByRole('button', { name: 'Take snapshot' }).click();
  else if (how === 'shortcut') await page.keyboard.press('Control+Shift+S');
  else {
    await option('Now').click();
    await page.getByRole('complementary').getByRole('button', { name: 'Take snapshot' }).click();
  }
  const dialog = page.getByRole('dialog', { name: 'Take a snapshot of work' });
  await dialog.getByLabel('Name').fill(name);
  if (description) await dialog.getByLabel('Description (optional)').fill(description);
  await dialog.getByRole('button', { name: 'Take snapshot' }).click();
  await expect.poll(() => dialog.isVisible()).toBe(false);
  await expect.poll(() => toast(`Took snapshot “${name}”.`).isVisible()).toBe(true);
  await expect.poll(() => option(name).isVisible()).toBe(true);
}

async function keyOf(name: string): Promise<string> {
  const key = await option(name).getAttribute('data-key');
  expect(key).toBeTruthy();
  return key!;
}

describe('snapshot tree in the browser', () => {
  it('takes snapshots from the toolbar, the keyboard and the details panel', async () => {
    writePattern(live(), 0, MiB, 0x11);
    await takeSnapshot('toolbar', 'one', 'pattern 11');
    writePattern(live(), 0, MiB, 0x22);
    writePattern(live(), MiB, MiB, 0x2b);
    await takeSnapshot('shortcut', 'two');
    writePattern(live(), 0, MiB, 0x33);
    await takeSnapshot('details', 'three');

    await expect.poll(() => rowNames()).toEqual(['Base image', 'one', 'two', 'three', 'Now']);
    await expect.poll(() => option('one').innerText()).toContain('pattern 11');
    await expect.poll(() => option('three').innerText()).toContain('current');
    await expect.poll(() => page.getByRole('tab', { name: /Snapshots/ }).innerText()).toBe('Snapshots (3)');
    // Each snapshot froze the bytes of its moment.
    expect(readPattern(snapshotDisk(await keyOf('one')), 0, MiB, 0x11)).toBe(true);
    expect(readPattern(snapshotDisk(await keyOf('two')), MiB, MiB, 0x2b)).toBe(true);
    expect(readPattern(snapshotDisk(await keyOf('three')), 0, MiB, 0x33)).toBe(true);
    await screenshot(page, 'snapshots-taken');
    await expectAccessible(page, 'snapshot tree');
  });

  it('restores without saving the current state: the dialog warns, and the later changes are gone', async () => {
    // Now holds a change since "three" (else there is nothing to save and no choice to make).
    writePattern(live(), 2 * MiB, MiB, 0x3c);
    await option('one').click();
    // Alt+Shift+R in a browser: Chromium keeps Ctrl+Shift+R (reload) for itself.
    await page.keyboard.press('Alt+Shift+R');
    const dialog = page.getByRole('dialog', { name: 'Restore work to “one”?' });
    const saveFirst = dialog.getByRole('checkbox', { name: 'Take a snapshot of the current state first' });
    await expect.poll(() => saveFirst.isChecked()).toBe(true);
    await expect.poll(() => dialog.innerText()).toContain('first saved as a new snapshot, so nothing is lost');
    await saveFirst.uncheck();
    await expect.poll(() => dialog.innerText()).toContain('Changes made since the snapshot “three” will be lost for good.');
    // A stopped box is restored in place: no "Stop and restore", no "start again".
    await expect.poll(() => dialog.getByRole('checkbox', { name: 'Start the box again after restoring' }).count()).toBe(0);
    await expectAccessible(page, 'restore dialog');
    await screenshot(page, 'restore-dialog-lose-changes');
    await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await expect.poll(() => toast('work is back at “one”.').isVisible()).toBe(true);

    await expect.poll(() => option('Now').innerText()).toContain('Changes since “one”');
    await expect.poll(() => rowNames()).toEqual(['Base image', 'one', 'two', 'three', 'Now']);
    expect(readPattern(live(), 0, MiB, 0x11)).toBe(true);
    expect(readPattern(live(), MiB, MiB, 0x00)).toBe(true);
  });

  it('restores after saving the current state first: a new branch holds what would have been lost', async () => {
    writePattern(live(), 0, MiB, 0x44);
    await option('three').click();
    await page.getByRole('complementary').getByRole('button', { name: 'Restore…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Restore work to “three”?' });
    await expect.poll(() => dialog.getByRole('checkbox', { name: 'Take a snapshot of the current state first' }).isChecked()).toBe(true);
    await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    const done = page.getByTestId('toast-success').filter({ hasText: 'work is back at “three”. The state before was saved as' });
    await expect.poll(() => done.isVisible()).toBe(true);
    const savedName = /saved as “(.+)”\./.exec(await done.innerText())![1]!;

    // The saved state hangs under "one" (where Now was), a branch beside two → three.
    await expect.poll(() => rowNames()).toEqual(['Base image', 'one', 'two', 'three', savedName, 'Now']);
    await expect.poll(() => option('Now').innerText()).toContain('Changes since “three”');
    const keys = await rowKeys();
    const savedKey = keys[4]!;
    expect(readPattern(snapshotDisk(savedKey), 0, MiB, 0x44)).toBe(true);
    expect(readPattern(live(), 0, MiB, 0x33)).toBe(true);
    expect(readPattern(live(), MiB, MiB, 0x2b)).toBe(true);
    // The branch is drawn: "one" forks into a second lane.
    await expect.poll(() => option('one').locator('svg path').count()).toBe(1);
    await option(savedName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).click();
    await expect.poll(() => page.getByRole('complementary').innerText()).toContain('Comes after\none');
    await screenshot(page, 'restore-branch');
    await expectAccessible(page, 'tree with a branch');

    // Nothing changed since: the save-first box is disabled, and the keyboard lands in the dialog
    // (on Cancel, the first control; before, nothing had the focus and Enter did nothing).
    await option('two').click();
    await page.getByRole('complementary').getByRole('button', { name: 'Restore…' }).click();
    const again = page.getByRole('dialog', { name: 'Restore work to “two”?' });
    await again.waitFor();
    await expect.poll(() => again.getByRole('checkbox', { name: 'Take a snapshot of the current state first' }).isDisabled()).toBe(true);
    await expect.poll(() => page.evaluate('document.activeElement?.textContent?.trim()')).toBe('Cancel');
    await page.keyboard.press('Escape');
    await expect.poll(() => again.isVisible()).toBe(false);
  });

  it('deletes a middle snapshot: the dialog says what happens, and its child re-parents with its data intact', async () => {
    await option('two').click();
    await tree().focus();
    await page.keyboard.press('Delete');
    const dialog = page.getByRole('dialog', { name: 'Delete snapshot “two”?' });
    const text = await dialog.innerText();
    expect(text).toContain('Its data is merged into what depends on it: “three”.');
    expect(text).toContain('will follow “one” instead');
    expect(text).toContain('All other snapshots are unchanged.');
    expect(text).toMatch(/Frees up to [\d.]+ (bytes|KiB|MiB), an estimate/);
    await expectAccessible(page, 'delete dialog');
    await screenshot(page, 'delete-dialog');
    await dialog.getByRole('button', { name: 'Delete snapshot' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await expect.poll(() => page.getByTestId('toast-success').filter({ hasText: /Deleted “two” and freed .+\. “three” now follows “one”\./ }).isVisible()).toBe(true);

    await expect.poll(async () => (await rowNames()).includes('two')).toBe(false);
    await option('three').click();
    await expect.poll(() => page.getByRole('complementary').innerText()).toContain('Comes after\none');
    // three's own file still holds what it held, and the live disk on top of it too.
    const three = await keyOf('three');
    expect(readPattern(snapshotDisk(three), 0, MiB, 0x33)).toBe(true);
    expect(readPattern(snapshotDisk(three), MiB, MiB, 0x2b)).toBe(true);
    expect(readPattern(live(), MiB, MiB, 0x2b)).toBe(true);
    await screenshot(page, 'delete-reparented');
    expectNoPageProblems(b);
  });

  it('F2 renames a snapshot and edits its description; only the metadata changes', async () => {
    const before = await keyOf('one');
    await option('one').click();
    await page.keyboard.press('F2');
    const dialog = page.getByRole('dialog', { name: 'Edit snapshot “one”' });
    await dialog.getByLabel('Name').fill('three');
    await expect.poll(() => dialog.locator('.field-problem').innerText()).toContain('already has a snapshot named "three"');
    await dialog.getByLabel('Name').fill('clean install');
    await dialog.getByLabel('Description').fill('fresh from the image, pattern 11');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await expect.poll(() => toast('Saved snapshot “clean install”.').isVisible()).toBe(true);
    await expect.poll(() => option('clean install').innerText()).toContain('fresh from the image, pattern 11');
    expect(await keyOf('clean install')).toBe(before);
    expect(readPattern(snapshotDisk(before), 0, MiB, 0x11)).toBe(true);
  });

  it('every control is reachable by Tab, and the arrow keys walk the tree', async () => {
    await page.getByRole('heading', { level: 1, name: 'work' }).click();
    // Page-side code: the Node typecheck has no DOM lib, so the browser's globals are reached untyped.
    await page.evaluate(() => (globalThis as any).document.activeElement?.blur());
    const reached: string[] = [];
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      reached.push(
        await page.evaluate(() => {
          const el = (globalThis as any).document.activeElement;
          if (!el) return '';
          return `${el.getAttribute('role') ?? el.tagName.toLowerCase()}:${el.getAttribute('aria-label') ?? String(el.innerText).trim().split('\n')[0]}` as string;
        }),
      );
    }
    const expected = ['button:New box', 'button:Import image', 'button:work', 'button:Start work', 'button:Start', 'button:Take snapshot', 'button:Rename', 'button:Remove box', 'tab:Snapshots (3)', 'listbox:Snapshots of work', 'button:Restore…', 'button:Edit…', 'button:Delete…'];
    expect(expected.filter((e) => !reached.includes(e))).toEqual([]);
    // Focus on the tree: Home selects the base image row, End selects Now.
    await tree().focus();
    await page.keyboard.press('Home');
    await expect.poll(() => tree().locator('[aria-selected=true] .row-name').innerText()).toBe('Base image');
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => tree().locator('[aria-selected=true] .row-name').innerText()).toBe('clean install');
    await page.keyboard.press('End');
    await expect.poll(() => tree().locator('[aria-selected=true] .row-name').innerText()).toBe('Now');
    await expect.poll(() => tree().getAttribute('aria-activedescendant')).toBe(await tree().locator('[aria-selected=true]').getAttribute('id'));
    expectNoPageProblems(b);
  });

  it('deleting a snapshot full of data shows the merge progressing, and the data survives in its child', async () => {
    writePattern(live(), 8 * MiB, 48 * MiB, 0x55);
    await takeSnapshot('toolbar', 'bulk');
    writePattern(live(), 0, MiB, 0x66);
    await takeSnapshot('toolbar', 'after bulk');
    // Record, in the page, every state the dialog's progress bar goes through: the merge may
    // be over before a poll from here would see it.
    await page.evaluate(() => {
      const g = globalThis as any;
      g.__progress = [];
      new g.MutationObserver(() => {
        const bar = g.document.querySelector('[data-testid=progress] progress');
        if (bar) g.__progress.push(bar.hasAttribute('value') ? Number(bar.getAttribute('value')) : -1);
      }).observe(g.document.body, { subtree: true, childList: true, attributes: true });
    });
    await option('bulk').click();
    await page.getByRole('complementary').getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete snapshot “bulk”?' });
    await expect.poll(() => dialog.innerText()).toMatch(/Frees up to 4\d(\.\d+)? MiB/);
    await dialog.getByRole('button', { name: 'Delete snapshot' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    const seen = (await page.evaluate(() => (globalThis as any).__progress)) as number[];
    console.log(`merge progress values seen in the dialog: ${[...new Set(seen)].join(', ')}`);
    // The bar showed up, and it was driven by the engine's tasks:progress events (a value).
    expect(seen.some((v) => v >= 0)).toBe(true);
    await expect.poll(async () => (await rowNames()).includes('bulk')).toBe(false);
    await option('after bulk').click();
    await expect.poll(() => page.getByRole('complementary').innerText()).toContain('Comes after\nthree');
    const child = await keyOf('after bulk');
    expect(readPattern(snapshotDisk(child), 8 * MiB, 48 * MiB, 0x55)).toBe(true);
    expect(readPattern(live(), 8 * MiB, 48 * MiB, 0x55)).toBe(true);
    expect(readPattern(live(), 0, MiB, 0x66)).toBe(true);
  });

  it('removing the box lists what goes (snapshots, space) and leaves the image', async () => {
    await page.getByRole('toolbar').getByRole('button', { name: 'Remove box' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove work?' });
    const text = await dialog.innerText();
    expect(text).toContain('4 snapshots:');
    expect(text).toContain('“clean install”');
    expect(text).toMatch(/It frees about [\d.]+ MiB\. The image “base” is kept\./);
    await expectAccessible(page, 'remove box dialog');
    await screenshot(page, 'remove-box-dialog');
    await dialog.getByRole('button', { name: 'Remove box and 4 snapshots' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await expect.poll(() => page.getByTestId('toast-success').filter({ hasText: /^Removed work and freed [\d.]+ MiB\./ }).isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('heading', { name: 'Welcome to Boxkeep' }).isVisible()).toBe(true);
    expect(fs.existsSync(path.join(t.home, 'boxes', boxId))).toBe(false);
    expectNoPageProblems(b);
  });
});
