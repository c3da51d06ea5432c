// Clone…, Export… and Import box… as a person uses them in Chromium against `boxkeep serve`:
// each checked on screen, and in the files the engine wrote (the archive, the new box's disk).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { readPattern, writePattern } from '../helpers/disk.js';
import { expectAccessible, expectNoPageProblems, imageFile, liveDisk, openApp, screenshot, type App } from './harness.js';

const MiB = 1024 * 1024;
let app: App;
let page: Page;

beforeAll(async () => {
  app = await openApp(async (core, t) => {
    const image = await core.images.import({ path: imageFile(t, 'base'), name: 'base' });
    const box = await core.boxes.create({ name: 'work', image: image.id });
    writePattern(box.liveDiskPath, 2 * MiB, MiB, 0x5c);
    await core.snapshots.create({ box: 'work', name: 's1' });
  });
  ({ page } = app);
  await page.getByRole('heading', { level: 1, name: 'work' }).waitFor();
}, 180_000);
afterAll(async () => app?.close());

const toast = (text: string) => page.getByTestId('toast-success').filter({ hasText: text });

it('clones a snapshot from its details, exports the box and imports it again', async () => {
  const tree = page.getByRole('listbox', { name: 'Snapshots of work' });
  await tree.getByRole('option', { name: /^s1\b/ }).click();
  await page.getByRole('complementary').getByRole('button', { name: 'Clone…' }).click();
  const clone = page.getByRole('dialog', { name: 'Clone work' });
  await expect.poll(() => clone.getByLabel('Name of the clone').inputValue()).toBe('work clone');
  await clone.getByRole('button', { name: 'Clone' }).click();
  await expect.poll(() => toast('Cloned as work clone.').isVisible(), { timeout: 30_000 }).toBe(true);
  await page.getByRole('heading', { level: 1, name: 'work clone' }).waitFor();
  const dirs = fs.readdirSync(path.join(app.t.home, 'boxes'));
  expect(dirs.length).toBe(2);
  expect(dirs.some((id) => readPattern(liveDisk(app.t.home, id), 2 * MiB, MiB, 0x5c))).toBe(true);

  const out = path.join(path.dirname(app.t.home), 'work-e2e.boxkeep');
  await page.getByRole('toolbar').getByRole('button', { name: 'Export…' }).click();
  const exp = page.getByRole('dialog', { name: 'Export work clone' });
  await exp.getByLabel('Save as (absolute path of a new file)').fill(out);
  await exp.getByRole('button', { name: 'Export' }).click();
  await expect.poll(() => toast(`Exported to ${out}`).isVisible(), { timeout: 60_000 }).toBe(true);
  expect(fs.statSync(out).size).toBeGreaterThan(0);

  await page.getByRole('button', { name: 'Import box…' }).click();
  const imp = page.getByRole('dialog', { name: 'Import a box' });
  await imp.getByLabel('Archive file (absolute path)').fill(out);
  await imp.getByRole('button', { name: 'Import' }).click();
  await expect.poll(() => toast('Imported box work clone (2).').isVisible(), { timeout: 60_000 }).toBe(true);
  await page.getByRole('heading', { level: 1, name: 'work clone (2)' }).waitFor();
  fs.rmSync(out);
  expectNoPageProblems(app.b);
}, 240_000);

it('a snapshot a linked clone reads through, and its box, say so in their dialogs and offer no delete; once the clone is gone both go', async () => {
  const nav = page.getByRole('navigation', { name: 'Boxes' });
  const boxButton = (name: string) => nav.locator('.box-select').filter({ has: page.locator('.box-name').getByText(name, { exact: true }) });
  const tree = page.getByRole('listbox', { name: 'Snapshots of work' });
  await boxButton('work').click();
  await page.getByRole('heading', { level: 1, name: 'work' }).waitFor();
  await tree.getByRole('option', { name: /^s1\b/ }).click();
  await expect.poll(() => page.getByRole('complementary').innerText()).toContain('Depend on it\nthe linked clone work clone');
  await page.getByRole('complementary').getByRole('button', { name: 'Delete…' }).click();
  const del = page.getByRole('dialog', { name: 'Delete snapshot “s1”?' });
  await expect.poll(() => del.isVisible()).toBe(true);
  await expect.poll(() => del.getByTestId('linked-clones-note').innerText()).toBe('The snapshot “s1” cannot be deleted while the linked clone “work clone” depends on it: its disk reads through it.');
  await expect.poll(() => del.innerText()).toContain('Remove that clone first, or make it independent: select the clone, choose “Clone…” and “Full” (a copy that needs nothing of this box), then remove the linked clone.');
  await expect.poll(() => del.innerText()).not.toContain('--');
  await expect.poll(() => del.getByRole('button', { name: 'Delete snapshot' }).isDisabled()).toBe(true);
  await expectAccessible(page, 'delete a shared snapshot');
  await screenshot(page, 'delete-shared-snapshot-dialog');
  await del.getByRole('button', { name: 'Cancel' }).click();
  await expect.poll(() => del.isVisible()).toBe(false);

  await page.getByRole('toolbar').getByRole('button', { name: 'Remove box' }).click();
  const rm = page.getByRole('dialog', { name: 'Remove work?' });
  await expect.poll(() => rm.isVisible()).toBe(true);
  await expect.poll(() => rm.getByTestId('linked-clones-note').innerText()).toBe('The box work cannot be removed while the linked clone “work clone” depends on it: its disk reads through its snapshot “s1”.');
  await expect.poll(() => rm.getByRole('button', { name: /^Remove box/ }).isDisabled()).toBe(true);
  await rm.getByRole('button', { name: 'Cancel' }).click();
  await expect.poll(() => rm.isVisible()).toBe(false);

  // The clone removed, the snapshot and the box are offered for removal again, and go.
  await boxButton('work clone').click();
  await page.getByRole('heading', { level: 1, name: 'work clone' }).waitFor();
  await page.getByRole('toolbar').getByRole('button', { name: 'Remove box' }).click();
  const rmClone = page.getByRole('dialog', { name: 'Remove work clone?' });
  await expect.poll(() => rmClone.getByRole('button', { name: /^Remove box/ }).isEnabled()).toBe(true);
  await rmClone.getByRole('button', { name: /^Remove box/ }).click();
  await expect.poll(() => toast('Removed work clone and freed').isVisible(), { timeout: 30_000 }).toBe(true);
  await boxButton('work').click();
  await tree.getByRole('option', { name: /^s1\b/ }).click();
  await page.getByRole('complementary').getByRole('button', { name: 'Delete…' }).click();
  await expect.poll(() => del.isVisible()).toBe(true);
  await expect.poll(() => del.getByTestId('linked-clones-note').count()).toBe(0);
  await del.getByRole('button', { name: 'Delete snapshot' }).click();
  await expect.poll(() => toast('Deleted “s1”').isVisible(), { timeout: 30_000 }).toBe(true);
  expectNoPageProblems(app.b);
}, 240_000);
