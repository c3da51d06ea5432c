// A new user's first minutes, in Debian's Chromium against `boxkeep serve`: the empty state,
// importing an image by path, creating a box; and the screens that say no (bad names, a
// failed box, a disk below the reserve).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { makeQcow2 } from '../helpers/disk.js';
import { diskSpace, updateSettings } from '../../electron/core/space.js';
import { buildRenderer, expectAccessible, expectNoPageProblems, imageFile, newHome, openBrowser, requireE2eTools, screenshot, serve, withCore, type Browser, type Served, type TestHome } from './harness.js';

let rendererDir: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  requireE2eTools();
  rendererDir = await buildRenderer();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(prepare?: (t: TestHome) => Promise<void>, opts?: { colorScheme?: 'light' | 'dark' }): Promise<{ t: TestHome; served: Served; b: Browser; page: Page }> {
  const t = newHome();
  cleanups.push(t.cleanup);
  if (prepare) await prepare(t);
  const served = await serve(t.home, rendererDir);
  cleanups.push(served.stop);
  const b = await openBrowser(served.url, opts);
  cleanups.push(b.close);
  return { t, served, b, page: b.page };
}

describe('first run in the browser', () => {
  it('an empty home says what to do first; importing an image and creating a box leads to the box view', async () => {
    const { t, b, page } = await start();
    await expect.poll(() => page.getByRole('heading', { name: 'Welcome to Boxkeep' }).isVisible()).toBe(true);
    await expect.poll(() => page.getByText('Start by importing a disk image').isVisible()).toBe(true);
    await screenshot(page, 'first-run-empty');
    await expectAccessible(page, 'empty');

    // Import by path: the browser cannot pick files with paths, so the dialog asks for one.
    await page.getByRole('button', { name: 'Import an image' }).click();
    const dialog = page.getByRole('dialog', { name: 'Import a disk image' });
    const pathField = dialog.getByLabel('Image file (absolute path)');
    await pathField.fill('relative/disk.qcow2');
    await expect.poll(() => dialog.getByText('must be an absolute path').isVisible()).toBe(true);
    await expectAccessible(page, 'import dialog');
    const file = imageFile(t, 'debian-test');
    await pathField.fill(file);
    await dialog.getByLabel('Name (optional)').fill('debian');
    await screenshot(page, 'first-run-import');
    await dialog.getByRole('button', { name: 'Import' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await expect.poll(() => page.getByText('Imported image debian (64 MiB disk).').isVisible()).toBe(true);
    await expect.poll(() => page.getByText('Create your first box').isVisible()).toBe(true);

    // New box: name checked as typed, then created and shown.
    await page.getByRole('button', { name: 'Create a box' }).click();
    const nb = page.getByRole('dialog', { name: 'New box' });
    const name = nb.getByLabel('Name');
    await name.fill('.secret');
    await expect.poll(() => nb.getByText('may not start with a dot').isVisible()).toBe(true);
    await expect.poll(() => nb.getByRole('button', { name: 'Create box' }).isDisabled()).toBe(true);
    await nb.getByLabel('Disk size (GiB)').fill('0');
    await expect.poll(() => nb.getByText('Disk size (GiB) must be at least 1 GiB.').isVisible()).toBe(true);
    await name.fill('scratch');
    await nb.getByLabel('Disk size (GiB)').fill('');
    await nb.getByLabel('Memory (MiB)').fill('128');
    await expectAccessible(page, 'new box dialog');
    await screenshot(page, 'first-run-new-box');
    await nb.getByRole('button', { name: 'Create box' }).click();
    await expect.poll(() => nb.isVisible()).toBe(false);

    await expect.poll(() => page.getByRole('heading', { level: 1, name: 'scratch' }).isVisible()).toBe(true);
    const resources = page.locator('.resources');
    await expect.poll(() => resources.innerText()).toContain('128 MiB');
    await expect.poll(() => resources.innerText()).toContain('64 MiB');
    await expect.poll(() => page.getByRole('navigation', { name: 'Boxes' }).getByText('scratch').isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('option', { name: /^Now/ }).innerText()).toContain('Changes since the base image');
    await screenshot(page, 'first-run-box');
    await expectAccessible(page, 'box view');
    expectNoPageProblems(b);
  });

  it('bad snapshot names are rejected inline, with the main process’s own words, before anything is sent', async () => {
    let boxId = '';
    const { b, page } = await start(async (t) => {
      await withCore(t.home, async (core) => {
        const image = await core.images.import({ path: imageFile(t, 'img'), name: 'img' });
        const box = await core.boxes.create({ name: 'dev', image: image.id });
        boxId = box.id;
        await core.snapshots.create({ box: box.id, name: 'taken' });
      });
    });
    expect(boxId).not.toBe('');
    await expect.poll(() => page.getByRole('heading', { level: 1, name: 'dev' }).isVisible()).toBe(true);
    await page.keyboard.press('Control+Shift+S');
    const dialog = page.getByRole('dialog', { name: 'Take a snapshot of dev' });
    const name = dialog.getByLabel('Name');
    // Prefilled with a readable timestamp.
    await expect.poll(() => name.inputValue()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

    const cases: Array<[string, string]> = [
      ['', 'The snapshot name must not be empty.'],
      ['   ', 'is only white space'],
      ['.hidden', 'snapshot names may not start with a dot'],
      ['a/b', 'slashes are not allowed'],
      ['taken', 'This box already has a snapshot named "taken"; pick another name.'],
    ];
    const submit = dialog.getByRole('button', { name: 'Take snapshot' });
    for (const [value, message] of cases) {
      await name.fill(value);
      await expect.poll(() => dialog.locator('.field-problem').innerText()).toContain(message);
      await expect.poll(() => name.getAttribute('aria-invalid')).toBe('true');
      await expect.poll(() => submit.isDisabled()).toBe(true);
    }
    await screenshot(page, 'bad-name-inline');
    await expectAccessible(page, 'take snapshot dialog with a bad name');
    await name.fill('fine name');
    await expect.poll(() => dialog.locator('.field-problem').count()).toBe(0);
    await expect.poll(() => submit.isDisabled()).toBe(false);
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.isVisible()).toBe(false);
    // Nothing was taken: the tree still has only "taken".
    await expect.poll(() => page.getByRole('option').count()).toBe(3);
    expectNoPageProblems(b);
  });

  it('a failed box shows its reason, in words and colour, and how to go on', async () => {
    const reason = 'QEMU exited with status 1: qemu-system-x86_64: -blockdev … Could not open the disk: Permission denied';
    const { b, page } = await start(async (t) => {
      await withCore(t.home, async (core) => {
        const image = await core.images.import({ path: imageFile(t, 'img'), name: 'img' });
        await core.boxes.create({ name: 'healthy', image: image.id });
        const broken = await core.boxes.create({ name: 'broken', image: image.id });
        core.store.setBoxStatus(broken.id, 'failed', reason);
      });
    });
    const nav = page.getByRole('navigation', { name: 'Boxes' });
    await expect.poll(() => nav.getByRole('button', { name: /broken/ }).first().innerText()).toContain('Failed');
    await nav.getByRole('button', { name: /^broken/ }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'This box stopped unexpectedly.' });
    await expect.poll(() => alert.innerText()).toContain(reason);
    await expect.poll(() => alert.innerText()).toContain('Its disk and snapshots are intact.');
    await expect.poll(() => page.getByRole('toolbar').getByRole('button', { name: 'Start again' }).isVisible()).toBe(true);
    await screenshot(page, 'failed-box');
    await expectAccessible(page, 'failed box');
    expectNoPageProblems(b);
  });

  it('what recovery repaired at startup is a banner listing it, until dismissed', async () => {
    const { b, page } = await start(async (t) => {
      await withCore(t.home, async (core) => {
        const image = await core.images.import({ path: imageFile(t, 'img'), name: 'img' });
        const box = await core.boxes.create({ name: 'dev', image: image.id });
        // What a crash between "prepare the overlay" and "install it" leaves behind.
        makeQcow2(core.paths.nextDisk(box.id), '16M');
      });
    });
    const banner = page.getByRole('region', { name: /recovered from an interrupted session/ });
    await expect.poll(() => banner.innerText()).toContain('and repaired 1 thing');
    await expect.poll(() => banner.getByRole('listitem').allInnerTexts()).toEqual(['Repaired: A leftover temporary disk of the box "dev" was removed.']);
    await screenshot(page, 'recovery-banner');
    await expectAccessible(page, 'recovery banner');
    await banner.getByRole('button', { name: 'Dismiss the recovery report' }).click();
    await expect.poll(() => banner.count()).toBe(0);
    expectNoPageProblems(b);
  });

  it('the dark theme follows the system and stays readable', async () => {
    const { b, page } = await start(
      async (t) => {
        await withCore(t.home, async (core) => {
          const image = await core.images.import({ path: imageFile(t, 'img'), name: 'img' });
          const box = await core.boxes.create({ name: 'night', image: image.id });
          await core.snapshots.create({ box: box.id, name: 'first', description: 'a description' });
          await core.snapshots.create({ box: box.id, name: 'second' });
        });
      },
      { colorScheme: 'dark' },
    );
    await expect.poll(() => page.getByRole('option', { name: /^second/ }).isVisible()).toBe(true);
    const bg = await page.locator('body').evaluate((body) => (globalThis as any).getComputedStyle(body).backgroundColor as string);
    expect(bg).toBe('rgb(23, 25, 29)');
    await screenshot(page, 'dark-theme');
    await expectAccessible(page, 'box view (dark)');
    expectNoPageProblems(b);
  });

  it('a disk below the reserve shows a banner; the free space is in the sidebar; lowering the reserve in Settings clears the banner', async () => {
    // A reserve just under the whole filesystem: whatever this machine has free is below it.
    const { page } = await start((t) =>
      withCore(t.home, async (core) => {
        updateSettings(core, { diskReserve: diskSpace(core).total - 1024 ** 3 });
      }),
    );

    const banner = page.getByRole('alert').filter({ hasText: 'nearly full' });
    await expect.poll(() => banner.isVisible()).toBe(true);
    await expect.poll(() => banner.innerText()).toMatch(/The disk holding your boxes is nearly full: [\d.]+ [GT]iB free, below the [\d.]+ [GT]iB Boxkeep keeps in reserve\./);
    await expect.poll(() => page.getByTestId('free-space').innerText()).toMatch(/^[\d.]+ [GT]iB free of [\d.]+ [GT]iB$/);
    await expectAccessible(page, 'space banner');
    await screenshot(page, 'disk-space-banner');

    await banner.getByRole('button', { name: 'Disk reserve…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Settings' });
    const field = dialog.getByLabel('Disk reserve');
    await field.fill('lots');
    await expect.poll(() => dialog.getByText('Type a size like 2G, 500M or 0').isVisible()).toBe(true);
    await expect.poll(() => dialog.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
    await field.fill('0');
    await expectAccessible(page, 'settings dialog');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await expect.poll(() => page.getByText('The disk reserve is now 0 bytes.').isVisible()).toBe(true);
    await expect.poll(() => banner.count()).toBe(0);
  });
});
