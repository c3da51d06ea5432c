// A box with 1,000 real snapshots (qcow2 files made by the engine, with branches) opens in
// Chromium in under 100 ms, measured in the page from "tree data in the store" to "first
// frame painted with it" (performance measure boxkeep:tree-render, see renderer/src/perf.ts).
//
// Measured the way a person meets it: the app is open on another box, they select the big
// one in the sidebar; then a snapshot taken from the UI refreshes it. The very first render
// of a freshly started page (V8 still compiling) is printed as a figure with a loose bound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import os from 'node:os';
import type { Page } from 'playwright-core';
import {
  buildRenderer, expectAccessible, expectNoPageProblems, imageFile, newHome, openBrowser, requireE2eTools, screenshot, serve, withCore,
  type Browser, type Served, type TestHome,
} from './harness.js';
import { median, timeTreeRender, type RenderTiming } from './render-timing.js';

const COUNT = 1000;
const BUDGET_MS = 100;
const SAMPLES = 5;
let t: TestHome;
let served: Served;
let b: Browser;
let page: Page;
let rendererDir: string;

beforeAll(async () => {
  requireE2eTools();
  rendererDir = await buildRenderer();
  t = newHome();
  const started = performance.now();
  await withCore(t.home, async (core) => {
    const image = await core.images.import({ path: imageFile(t, 'base', '16M'), name: 'base' });
    const small = await core.boxes.create({ name: 'small', image: image.id });
    for (const name of ['installed', 'configured']) await core.snapshots.create({ box: small.id, name });
    const box = await core.boxes.create({ name: 'big', image: image.id });
    const ids: string[] = [];
    for (let i = 1; i <= COUNT; i++) {
      // Every 100 snapshots, go back 30 and carry on from there: the tree gets real branches.
      if (i % 100 === 0) await core.snapshots.restore({ box: box.id, snapshot: ids[i - 31]!, snapshotCurrentFirst: false });
      const s = await core.snapshots.create({ box: box.id, name: `step ${String(i).padStart(4, '0')}`, description: i % 7 === 0 ? `checkpoint ${i}` : undefined });
      ids.push(s.id);
    }
  });
  console.log(`prepared ${COUNT} snapshots through the engine in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  served = await serve(t.home, rendererDir);
}, 600_000);

afterAll(async () => {
  await b?.close();
  await served?.stop();
  t?.cleanup();
});

async function renderTimes(): Promise<{ duration: number; snapshots: number }[]> {
  return page.evaluate(() =>
    performance.getEntriesByName('boxkeep:tree-render').map((e) => ({ duration: e.duration, snapshots: (e as any).detail.snapshots as number })),
  );
}

async function waitRender(count: number, act: () => Promise<void>): Promise<void> {
  const before = (await renderTimes()).length;
  await act();
  await expect.poll(() => renderTimes().then((m) => m.slice(before).some((x) => x.snapshots === count)), { timeout: 30_000 }).toBe(true);
}

const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
const load = () => `load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`;

describe('a box with 1,000 snapshots', () => {
  it(`opens its view in under ${BUDGET_MS} ms, and a refresh by event too`, async () => {
    b = await openBrowser(served.url);
    page = b.page;
    const nav = page.getByRole('navigation', { name: 'Boxes' });
    await expect.poll(() => renderTimes().then((m) => m.length), { timeout: 30_000 }).toBeGreaterThan(0);
    expect((await renderTimes())[0]!.snapshots).toBe(2);

    // Five openings (back to the small box in between). The cores are shared with other test
    // runs, which stretches wall time by however long the page waits for a core; the trace's
    // CPU time is the page's own work. Both are printed; the median CPU time and the best
    // wall time are held to the budget (contention only ever adds to a wall time).
    const opens: RenderTiming[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      opens.push(await timeTreeRender(b.context, page, COUNT, () => nav.getByRole('button', { name: /^big/ }).click()));
      if (i < SAMPLES - 1) await waitRender(2, () => nav.getByRole('button', { name: /^small/ }).click());
    }
    console.log(
      `tree render, opening the 1,000-snapshot box: wall ${ms(opens.map((o) => o.wall))} ms (median ${median(opens.map((o) => o.wall)).toFixed(0)}), ` +
        `main-thread CPU ${ms(opens.map((o) => o.cpu))} ms (median ${median(opens.map((o) => o.cpu)).toFixed(0)}); budget ${BUDGET_MS} ms; ${load()}`,
    );

    const tree = page.getByRole('listbox', { name: 'Snapshots of big' });
    // Virtualized: a window of rows exists, not 1,002 of them; the selection (Now, the last row) is in view.
    const rendered = await tree.getByRole('option').count();
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(40);
    expect(await tree.getByRole('option', { selected: true }).innerText()).toContain('Now');
    expect(await tree.getByRole('option').first().getAttribute('aria-setsize')).toBe(String(COUNT + 2));
    await expect.poll(() => page.getByRole('tab', { name: /Snapshots/ }).innerText()).toBe('Snapshots (1,000)');
    await screenshot(page, 'tree-1000-end');

    // Home jumps to the top of the tree; the arrow keys walk it row by row.
    await tree.focus();
    await page.keyboard.press('Home');
    await expect.poll(() => tree.getByRole('option', { selected: true }).innerText()).toContain('Base image');
    for (let i = 0; i < 99; i++) await page.keyboard.press('ArrowDown');
    await expect.poll(() => tree.getByRole('option', { selected: true }).innerText()).toContain('step 0099');
    await screenshot(page, 'tree-1000-branch');
    await expectAccessible(page, '1,000-snapshot tree');

    // Fresh trees arriving by event (snapshots taken from the UI) render within budget too.
    const refreshes: RenderTiming[] = [];
    for (let i = 1; i <= 3; i++) {
      refreshes.push(
        await timeTreeRender(b.context, page, COUNT + i, async () => {
          await page.keyboard.press('Control+Shift+S');
          await page.getByRole('dialog', { name: 'Take a snapshot of big' }).getByRole('button', { name: 'Take snapshot' }).click();
        }),
      );
    }
    console.log(
      `tree render, refresh after taking a snapshot: wall ${ms(refreshes.map((o) => o.wall))} ms (median ${median(refreshes.map((o) => o.wall)).toFixed(0)}), ` +
        `main-thread CPU ${ms(refreshes.map((o) => o.cpu))} ms (median ${median(refreshes.map((o) => o.cpu)).toFixed(0)}); ${load()}`,
    );

    expect(median(opens.map((o) => o.cpu))).toBeLessThan(BUDGET_MS);
    expect(Math.min(...opens.map((o) => o.wall))).toBeLessThan(BUDGET_MS);
    expect(median(refreshes.map((o) => o.cpu))).toBeLessThan(BUDGET_MS);
    expect(Math.min(...refreshes.map((o) => o.wall))).toBeLessThan(BUDGET_MS);
    expectNoPageProblems(b);
  });

  it('a freshly started page showing only the big box paints it within a second (cold V8)', async () => {
    await b.close();
    // The small box goes, so the big one is what the page shows first.
    await served.stop();
    await withCore(t.home, async (core) => core.boxes.remove('small'));
    served = await serve(t.home, rendererDir);
    b = await openBrowser(served.url);
    page = b.page;
    await expect.poll(() => renderTimes().then((m) => m.length), { timeout: 30_000 }).toBeGreaterThan(0);
    const [cold] = await renderTimes();
    expect(cold!.snapshots).toBe(COUNT + 3);
    console.log(`tree render, cold start of a fresh page: ${cold!.duration.toFixed(1)} ms for ${cold!.snapshots} snapshots`);
    expect(cold!.duration).toBeLessThan(1000);
    expectNoPageProblems(b);
  });
});
