// A linked clone's box view says what its disk reads through: the source box's snapshot, in the
// tree's base row, in the words of Now, and in the details of that row.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { expectNoPageProblems, imageFile, openApp, type App } from './harness.js';

let app: App;
let page: Page;

beforeAll(async () => {
  app = await openApp(async (core, t) => {
    const image = await core.images.import({ path: imageFile(t, 'tiny'), name: 'tiny' });
    await core.boxes.create({ name: 'work', image: image.id });
    await core.snapshots.create({ box: 'work', name: 's1' });
    await core.clones.clone({ box: 'work', from: 's1', name: 'copy' });
  });
  ({ page } = app);
  await page.getByRole('heading', { level: 1, name: 'work' }).waitFor();
}, 180_000);
afterAll(async () => app?.close());

it('a linked clone says it is a linked clone of the other box’s snapshot, not “Base image”', async () => {
  const nav = page.getByRole('navigation', { name: 'Boxes' });
  await nav.locator('.box-select').filter({ has: page.locator('.box-name').getByText('copy', { exact: true }) }).click();
  await page.getByRole('heading', { level: 1, name: 'copy' }).waitFor();
  const tree = page.getByRole('listbox', { name: 'Snapshots of copy' });
  await expect.poll(() => tree.innerText()).toContain('Linked clone');
  const text = await tree.innerText();
  expect(text).toContain('of work’s snapshot “s1”');
  expect(text).toContain('Changes since work’s snapshot “s1”');
  expect(text).not.toContain('Base image');
  await tree.getByRole('option', { name: /^Linked clone/ }).click();
  const details = page.getByRole('complementary');
  await expect.poll(() => details.getByRole('heading', { name: 'Linked clone' }).isVisible()).toBe(true);
  await expect.poll(() => details.getByTestId('linked-source').innerText()).toContain('This box is a linked clone of work’s snapshot “s1”');
  await expect.poll(() => details.innerText()).not.toContain('Base image');
  expectNoPageProblems(app.b);
}, 120_000);
