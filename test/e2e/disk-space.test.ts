// Free space in the window: the sidebar shows what the home's disk has free, a banner says
// when it is below the reserve (when every operation needing space is refused), and the
// reserve is changed in a small Settings dialog.
import { afterEach, beforeAll, expect, it } from 'vitest';
import { diskSpace, updateSettings } from '../../electron/core/space.js';
import { buildRenderer, expectAccessible, newHome, openBrowser, requireE2eTools, screenshot, serve, withCore } from './harness.js';

let rendererDir: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  requireE2eTools();
  rendererDir = await buildRenderer();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('a disk below the reserve shows a banner; the free space is in the sidebar; lowering the reserve in Settings clears the banner', async () => {
  const t = newHome();
  cleanups.push(t.cleanup);
  // A reserve just under the whole filesystem: whatever this machine has free is below it.
  await withCore(t.home, async (core) => {
    updateSettings(core, { diskReserve: diskSpace(core).total - 1024 ** 3 });
  });
  const served = await serve(t.home, rendererDir);
  cleanups.push(served.stop);
  const b = await openBrowser(served.url);
  cleanups.push(b.close);
  const { page } = b;

  const banner = page.getByRole('alert').filter({ hasText: 'nearly full' });
  await expect.poll(() => banner.isVisible()).toBe(true);
  expect(await banner.innerText()).toMatch(/The disk holding your boxes is nearly full: [\d.]+ [GT]iB free, below the [\d.]+ [GT]iB Boxkeep keeps in reserve\./);
  expect(await page.getByTestId('free-space').innerText()).toMatch(/^[\d.]+ [GT]iB free of [\d.]+ [GT]iB$/);
  await expectAccessible(page, 'space banner');
  await screenshot(page, 'disk-space-banner');

  await banner.getByRole('button', { name: 'Disk reserve…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  const field = dialog.getByLabel('Disk reserve');
  await field.fill('lots');
  await expect.poll(() => dialog.getByText('Type a size like 2G, 500M or 0').isVisible()).toBe(true);
  expect(await dialog.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
  await field.fill('0');
  await expectAccessible(page, 'settings dialog');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect.poll(() => dialog.isVisible()).toBe(false);
  await expect.poll(() => page.getByText('The disk reserve is now 0 bytes.').isVisible()).toBe(true);
  await expect.poll(() => banner.count()).toBe(0);
});
