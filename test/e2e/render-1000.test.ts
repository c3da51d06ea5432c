// A box with 1,000 snapshots, as a person meets it in Chromium: the view opens on a virtualized
// tree (a window of rows in the DOM, not 1,002), scrolling to the end reaches the last snapshot
// and "Now", the keyboard walks the rows and a branch, and selecting a row shows its details.
//
// Functional only. How fast it renders is measured by `npm run bench -- --only=render`
// (bench/render.mjs), beside its target; the timings seen here are printed, never asserted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  expectAccessible, expectNoPageProblems, imageFile, screenshot, openApp, type App, type Browser,
} from './harness.js';
import { seededName, seedSnapshots } from './many-snapshots.js';

const COUNT = 1000;
/** Base image + 1,000 snapshots + Now. */
const ROWS = COUNT + 2;
let app: App;
let b: Browser;
let page: Page;

beforeAll(async () => {
  app = await openApp(async (core, t) => {
    const started = performance.now();
    const image = await core.images.import({ path: imageFile(t, 'base', '16M'), name: 'base' });
    await core.boxes.create({ name: 'big', image: image.id });
    await seedSnapshots(core, 'big', COUNT);
    console.log(`seeded ${COUNT} snapshots (rows through the store, one real snapshot) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
  ({ b, page } = app);
}, 300_000);

afterAll(async () => {
  await app?.close();
});

const tree = () => page.getByRole('listbox', { name: 'Snapshots of big' });
const options = () => tree().getByRole('option');
const rowNames = () => tree().locator('[role=option] .row-name').allInnerTexts();
const details = () => page.getByRole('complementary', { name: 'Selected item' });
const selectedName = () => tree().getByRole('option', { selected: true }).locator('.row-name').innerText();

async function printRenderTimes(what: string) {
  const times = await page.evaluate(() =>
    performance.getEntriesByName('boxkeep:tree-render').map((e) => `${(e as unknown as { detail: { snapshots: number } }).detail.snapshots}: ${e.duration.toFixed(0)} ms`),
  );
  console.log(`tree renders (${what}; measured for information, see bench/render.mjs): ${times.join(', ')}`);
}

describe('a box with 1,000 snapshots', () => {
  it('opens on a virtualized tree ending in Now, with every snapshot counted and nothing for recovery to repair', async () => {
    await expect.poll(() => page.getByRole('tab', { name: /Snapshots/ }).innerText(), { timeout: 30_000 }).toBe('Snapshots (1,000)');
    // The seeded home is consistent: recovery at serve's start found nothing.
    await expect.poll(() => page.locator('.banner.recovery').count()).toBe(0);
    await expect.poll(() => options().count()).toBeGreaterThan(5);
    const rendered = await options().count();
    expect(rendered).toBeLessThan(60);
    await expect.poll(() => options().first().getAttribute('aria-setsize')).toBe(String(ROWS));
    // The view opens where the person is: the end of the tree, Now selected under the last snapshot.
    await expect.poll(() => selectedName()).toBe('Now');
    const names = await rowNames();
    expect(names.slice(-2)).toEqual([seededName(COUNT), 'Now']);
    expect(names).not.toContain('Base image');
    await expect.poll(() => details().getByRole('heading', { level: 2 }).innerText()).toBe('Now');
    await expect.poll(() => details().innerText()).toContain(`the snapshot “${seededName(COUNT)}” plus every change made since`);
    await printRenderTimes('first load');
    expectNoPageProblems(b);
  });

  it('scrolls from the top to the end: the first rows, then the last snapshot and Now, never the whole list', async () => {
    await tree().evaluate((el) => (el.scrollTop = 0));
    await expect.poll(async () => (await rowNames()).slice(0, 2)).toEqual(['Base image', seededName(1)]);
    // Only the rows in view exist (plus the selection, Now, kept for the screen reader's sake).
    const top = await rowNames();
    expect(top).not.toContain(seededName(COUNT));
    expect(top.length).toBeLessThan(60);

    // The wheel, as a person scrolls: a long way down, in steps.
    await tree().hover();
    for (let i = 0; i < 40; i++) await page.mouse.wheel(0, 2000);
    await expect.poll(async () => (await rowNames()).slice(-2)).toEqual([seededName(COUNT), 'Now']);
    await expect.poll(() => rowNames()).not.toContain('Base image');
    await expect.poll(() => options().count()).toBeLessThan(60);
    await screenshot(page, 'tree-1000-end');
  });

  it('selecting a snapshot shows its details: name, description, how it was taken, what it follows', async () => {
    const row = tree().getByRole('option', { name: new RegExp(`^${seededName(994)}\\b`) });
    await row.click();
    await expect.poll(selectedName).toBe(seededName(994));
    const d = details();
    await expect.poll(() => d.getByRole('heading', { level: 2 }).innerText()).toBe(seededName(994));
    const text = await d.innerText();
    expect(text).toContain('checkpoint 994');
    expect(text).toContain('While the box was stopped');
    expect(text).toMatch(new RegExp(`Comes after\\s+${seededName(993)}`));
    expect(text).toMatch(new RegExp(`Depend on it\\s+${seededName(995)}`));

    // Every fifth was recorded as taken live; the row and the details both say so.
    const live = tree().getByRole('option', { name: new RegExp(`^${seededName(995)}\\b`) });
    await expect.poll(() => live.locator('.badge-live').innerText()).toBe('live');
    await live.click();
    await expect.poll(() => d.getByRole('heading', { level: 2 }).innerText()).toBe(seededName(995));
    await expect.poll(() => d.innerText()).toContain('While the box ran, disk only (crash-consistent)');
  });

  it('the keyboard walks the tree from the top, into a branch, and back to Now', async () => {
    await tree().focus();
    await page.keyboard.press('Home');
    await expect.poll(selectedName).toBe('Base image');
    await expect.poll(() => details().getByRole('heading', { level: 2 }).innerText()).toBe('Base image');
    // Snapshot 100 was taken after going back to snapshot 70: its own branch.
    for (let i = 0; i < 100; i++) await page.keyboard.press('ArrowDown');
    await expect.poll(selectedName).toBe(seededName(100));
    await expect.poll(() => details().innerText()).toMatch(new RegExp(`Comes after\\s+${seededName(70)}`));
    await expect.poll(() => options().count()).toBeLessThan(60);
    await screenshot(page, 'tree-1000-branch');
    await expectAccessible(page, '1,000-snapshot tree');

    await page.keyboard.press('End');
    await expect.poll(selectedName).toBe('Now');
    await expect.poll(() => rowNames()).toContain(seededName(COUNT));
    await printRenderTimes('after browsing');
    expectNoPageProblems(b);
  });
});
