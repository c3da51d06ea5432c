// AutoProtect as a person meets it, in Debian's Chromium against `boxkeep serve`: the box view's
// one-click preset and what it says, and pinning a snapshot from its details; each step checked
// on screen and through the CLI (which forwards to the same owner).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ProtectStatus, Snapshot } from '../../shared/types.js';
import { cli } from '../helpers/cli.js';
import { expectNoPageProblems, imageFile, openApp, type App, type TestHome } from './harness.js';

let app: App;
let t: TestHome;
let page: Page;

beforeAll(async () => {
  app = await openApp(async (core, t) => {
    const image = await core.images.import({ path: imageFile(t, 'base'), name: 'base' });
    await core.boxes.create({ name: 'work', image: image.id });
  });
  ({ t, page } = app);
  await page.getByRole('heading', { level: 1, name: 'work' }).waitFor();
});

afterAll(async () => {
  await app?.close();
});

const section = () => page.getByRole('region', { name: 'AutoProtect' });
const tree = () => page.getByRole('listbox', { name: 'Snapshots of work' });

describe('AutoProtect in the box view', () => {
  it('is off at first; one click turns on the preset, which the box view describes and the CLI reads back', async () => {
    await expect.poll(() => section().getByRole('status').innerText()).toBe('AutoProtect Off: snapshots are taken only when you take them.');
    await section().getByRole('button', { name: 'Turn on AutoProtect' }).click();
    await expect.poll(() => section().getByRole('status').innerText()).toBe('AutoProtect The next automatic snapshot comes once the box runs.');
    await expect.poll(() => section().locator('.protect-policy').innerText()).toBe('every 1 h of running time, before each stop; keeps 5 last, 24 hourly, 7 daily, 4 weekly, 6 monthly.');
    const r = await cli(t.home, ['box', 'protect', 'work', '--every', '30m']);
    expect(r.code, r.stderr).toBe(0);
    expect((r.data as ProtectStatus).policy).toMatchObject({ enabled: true, everyMinutes: 30, beforeStop: false });
    // Set elsewhere: the view follows by event.
    await expect.poll(() => section().locator('.protect-policy').innerText()).toBe('every 30 min of running time; keeps every automatic snapshot.');
    await section().getByRole('button', { name: 'Turn off AutoProtect' }).click();
    await expect.poll(() => section().getByRole('status').innerText()).toMatch(/^AutoProtect Off/);
    expectNoPageProblems(app.b);
  });

  it('pins a snapshot from its details: the tree marks it, and the CLI sees it pinned; unpin takes it back', async () => {
    const made = await cli(t.home, ['snapshot', 'create', 'work', 'keep']);
    expect(made.code, made.stderr).toBe(0);
    const row = tree().getByRole('option', { name: /^keep\b/ });
    await row.click();
    const details = page.getByRole('complementary', { name: 'Selected item' });
    await expect.poll(() => details.innerText()).toMatch(/Kept\s+Until you delete it/);
    await details.getByRole('button', { name: 'Pin' }).click();
    await expect.poll(() => row.locator('.badge-pinned').count()).toBe(1);
    await expect.poll(() => details.innerText()).toMatch(/Kept\s+Pinned: AutoProtect never removes it/);
    const shown = await cli(t.home, ['snapshot', 'show', 'work', 'keep']);
    expect((shown.data as Snapshot).pinned).toBe(true);
    // Deleting it says first that it is pinned; cancelled, it stays.
    await details.getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete snapshot “keep”?' });
    await expect.poll(() => dialog.getByTestId('pinned-note').innerText()).toBe('It is pinned: AutoProtect never removes it, but deleting it here does.');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    await details.getByRole('button', { name: 'Unpin' }).click();
    await expect.poll(() => row.locator('.badge-pinned').count()).toBe(0);
    expect(((await cli(t.home, ['snapshot', 'show', 'work', 'keep'])).data as Snapshot).pinned).toBe(false);
    expectNoPageProblems(app.b);
  });
});
