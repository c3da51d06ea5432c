// Clone…, Export… and Import box… as a person uses them in Chromium against `boxkeep serve`:
// each checked on screen, and in the files the engine wrote (the archive, the new box's disk).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { readPattern, writePattern } from '../helpers/disk.js';
import { expectNoPageProblems, imageFile, liveDisk, openApp, type App } from './harness.js';

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
