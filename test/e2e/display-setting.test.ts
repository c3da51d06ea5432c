// The Display setting in the New box and Edit box dialogs: the box view's Display tab follows it,
// with no CLI in between.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { expectNoPageProblems, imageFile, openApp, type App } from './harness.js';

let app: App;
let page: Page;

beforeAll(async () => {
  app = await openApp(async (core, t) => {
    await core.images.import({ path: imageFile(t, 'tiny'), name: 'tiny' });
  });
  ({ page } = app);
  await page.getByRole('navigation', { name: 'Boxes' }).waitFor();
}, 180_000);
afterAll(async () => app?.close());

const tabNames = () => page.getByRole('tab').allInnerTexts();

it('a box made with no display has no Display tab; choosing a screen in Edit brings the tab', async () => {
  await page.getByRole('navigation', { name: 'Boxes' }).getByRole('button', { name: 'New box' }).click();
  const create = page.getByRole('dialog', { name: 'New box' });
  await expect.poll(() => create.isVisible()).toBe(true);
  await create.getByLabel('Name').fill('plain');
  const field = create.getByLabel('Display', { exact: true });
  await expect.poll(() => field.inputValue()).toBe('vnc');
  await expect.poll(() => field.locator('option').allInnerTexts()).toEqual(['Screen: the guest’s screen, shown in the Display tab', 'None: no screen (the console is the serial port)']);
  await field.selectOption('none');
  await expect.poll(() => create.innerText()).not.toContain('--');
  await create.getByRole('button', { name: 'Create box' }).click();
  await page.getByRole('heading', { level: 1, name: 'plain' }).waitFor();
  await expect.poll(tabNames).toEqual(['Snapshots (0)', 'Console']);

  await page.getByRole('toolbar', { name: 'Actions for plain' }).getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit plain' });
  await expect.poll(() => edit.isVisible()).toBe(true);
  await expect.poll(() => edit.getByLabel('Display', { exact: true }).inputValue()).toBe('none');
  await edit.getByLabel('Display', { exact: true }).selectOption('vnc');
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect.poll(() => edit.isVisible()).toBe(false);
  await expect.poll(tabNames).toEqual(['Snapshots (0)', 'Console', 'Display']);
  expectNoPageProblems(app.b);
}, 120_000);
