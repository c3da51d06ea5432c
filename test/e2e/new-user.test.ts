// What a new user reads on the screens issue 10 fixed, in Debian's Chromium against `boxkeep
// serve`: the footer before any box ran, the shortcuts a browser lets through, what deleting
// and removing say they moved and freed, a restore with nothing to save, and the image manager
// with real imported images (one that boots its own kernel, one plain disk).
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { writePattern } from '../helpers/disk.js';
import {
  expectAccessible, expectNoPageProblems, imageFile, importGuestImage, liveDisk, screenshot, openApp, type App, type Browser, type TestHome,
} from './harness.js';

const MiB = 1024 * 1024;
let app: App;
let t: TestHome;
let b: Browser;
let page: Page;
let workId: string;
let qemuVersion: string;

beforeAll(async () => {
  qemuVersion = /version (\d+\.\d+(?:\.\d+)?)/.exec(spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '';
  expect(qemuVersion, 'qemu-system-x86_64 --version').not.toBe('');
  app = await openApp(async (core, t) => {
    const base = await core.images.import({ path: imageFile(t, 'base', '100M'), name: 'base' });
    await core.images.import({ path: imageFile(t, 'spare', '32M'), name: 'spare' });
    await importGuestImage(core, t, 'tiny');
    workId = (await core.boxes.create({ name: 'work', image: base.id })).id;
    await core.boxes.create({ name: 'scratch', image: base.id });
    const s1 = await core.snapshots.create({ box: workId, name: 's1' });
    writePattern(liveDisk(t.home, workId), 0, MiB, 0x21);
    await core.snapshots.create({ box: workId, name: 's2' });
    await core.snapshots.restore({ box: workId, snapshot: s1.id });
    // s1 now has two dependents: the snapshot s2 and Now.
    writePattern(liveDisk(t.home, workId), MiB, MiB, 0x22);
  });
  ({ t, b, page } = app);
  await page.getByRole('heading', { level: 1, name: 'work' }).waitFor();
});

afterAll(async () => {
  await app?.close();
});

const sidebar = () => page.getByRole('navigation', { name: 'Boxes' });
const tree = () => page.getByRole('listbox', { name: 'Snapshots of work' });
const option = (name: string) => tree().getByRole('option', { name: new RegExp(`^${name}\\b`) });
const toast = (text: string | RegExp) => page.getByTestId('toast-success').filter({ hasText: text });

describe('what a new user reads', () => {
  it('the footer names QEMU and says when the accelerator is decided, before any box has run', async () => {
    const foot = sidebar().locator('.sidebar-foot');
    // Known already where KVM cannot be had at all (no /dev/kvm, or no vmx/svm flag: this CI host).
    let kvmPossible = fs.existsSync('/dev/kvm') && /^flags\s*:.*\b(vmx|svm)\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    try {
      fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
    } catch {
      kvmPossible = false;
    }
    await expect.poll(() => foot.innerText()).toContain(`QEMU ${qemuVersion} · ${kvmPossible ? 'Accelerator: decided when the first box starts' : 'Software emulation (no KVM)'}`);
    await expect.poll(() => foot.innerText()).not.toContain('unknown');
    await screenshot(page, 'new-user-footer');
  });

  it('in a browser the shortcuts Chromium keeps for itself are Alt+Shift, and the tooltips say so', async () => {
    await expect.poll(() => sidebar().getByRole('button', { name: 'New box' }).getAttribute('title')).toBe('New box (Alt+Shift+N)');
    await expect.poll(() => page.getByRole('toolbar').getByRole('button', { name: 'Take snapshot' }).getAttribute('title')).toBe('Take snapshot (Ctrl+Shift+S)');
    await page.keyboard.press('Alt+Shift+N');
    const newBox = page.getByRole('dialog', { name: 'New box' });
    await expect.poll(() => newBox.isVisible()).toBe(true);
    await page.keyboard.press('Escape');
    await expect.poll(() => newBox.isVisible()).toBe(false);

    await page.keyboard.press('Alt+Shift+C');
    await expect.poll(() => page.getByRole('region', { name: 'Terminal of work' }).isVisible()).toBe(true);
    await page.keyboard.press('Alt+Shift+C');
    await expect.poll(() => tree().isVisible()).toBe(true);

    await sidebar().getByRole('button', { name: 'Keyboard shortcuts' }).click();
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    const text = await help.innerText();
    for (const line of ['New box\tAlt+Shift+N', 'Restore selected snapshot\tAlt+Shift+R', 'Show snapshots / console\tAlt+Shift+C', 'Take snapshot\tCtrl+Shift+S']) expect(text).toContain(line);
    expect(text).not.toContain('Ctrl+Shift+N');
    await screenshot(page, 'new-user-shortcuts');
    await help.getByRole('button', { name: 'Close' }).click();
  });

  it('a restore with nothing changed since the snapshot has nothing to save; with changes it saves by default', async () => {
    // Now holds the 0x22 write: there is something to save.
    await option('s2').click();
    await page.keyboard.press('Alt+Shift+R');
    let dialog = page.getByRole('dialog', { name: 'Restore work to “s2”?' });
    const saveFirst = () => dialog.getByRole('checkbox', { name: 'Take a snapshot of the current state first' });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await expect.poll(() => saveFirst().isChecked()).toBe(true);
    // Enabled once the dialog knows Now holds changes (it asks again on opening).
    await expect.poll(() => saveFirst().isEnabled()).toBe(true);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    // scratch never changed: restoring it to a fresh snapshot loses nothing and saves nothing.
    await sidebar().getByRole('button', { name: /^scratch\b/ }).click();
    await page.getByRole('toolbar').getByRole('button', { name: 'Take snapshot' }).click();
    const take = page.getByRole('dialog', { name: 'Take a snapshot of scratch' });
    await take.getByLabel('Name').fill('fresh');
    await take.getByRole('button', { name: 'Take snapshot' }).click();
    await expect.poll(() => take.isVisible()).toBe(false);
    const scratchTree = page.getByRole('listbox', { name: 'Snapshots of scratch' });
    await scratchTree.getByRole('option', { name: /^fresh\b/ }).click();
    await page.getByRole('complementary').getByRole('button', { name: 'Restore…' }).click();
    dialog = page.getByRole('dialog', { name: 'Restore scratch to “fresh”?' });
    await expect.poll(() => dialog.innerText()).toContain('Nothing changed since the snapshot “fresh”, so there is nothing to save and nothing is lost.');
    await expect.poll(() => saveFirst().isChecked()).toBe(false);
    await expect.poll(() => saveFirst().isDisabled()).toBe(true);
    await screenshot(page, 'new-user-restore-nothing-to-save');
    await expectAccessible(page, 'restore dialog with nothing to save');
    // Nothing can be lost, so the button is not the red "destroys data" one.
    await expect.poll(() => dialog.getByRole('button', { name: 'Restore', exact: true }).getAttribute('class')).toContain('primary');
    await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
    await expect.poll(() => toast('scratch is back at “fresh”.').isVisible()).toBe(true);
    await expect.poll(() => toast('scratch is back at “fresh”.').innerText()).not.toContain('saved as');
    await expect.poll(() => scratchTree.getByRole('option').count()).toBe(3); // base image, fresh, Now
  });

  it('deleting a snapshot with a child and Now says both moved; the estimate says it is one', async () => {
    await sidebar().getByRole('button', { name: /^work\b/ }).click();
    await option('s1').click();
    await tree().focus();
    await page.keyboard.press('Delete');
    const dialog = page.getByRole('dialog', { name: 'Delete snapshot “s1”?' });
    const text = await dialog.innerText();
    expect(text).toContain('Its data is merged into what depends on it: “s2” and the current state (Now).');
    expect(text).toMatch(/Frees up to \d[\d.]* (bytes|KiB|MiB), an estimate: less when the merge copies data into what depends on it\./);
    await screenshot(page, 'new-user-delete-dialog');
    await dialog.getByRole('button', { name: 'Delete snapshot' }).click();
    await expect.poll(() => toast(/^Deleted “s1” and freed \d[\d.]* (bytes|KiB|MiB)\. “s2” and the current state \(Now\) now follow the base image\.$/).isVisible()).toBe(true);
    await screenshot(page, 'new-user-delete-toast');
  });

  it('removing a box without snapshots reads "Remove box", and frees what it said it would', async () => {
    await sidebar().getByRole('button', { name: /^scratch\b/ }).click();
    // Its one snapshot goes first, so the box has none.
    const scratchTree = page.getByRole('listbox', { name: 'Snapshots of scratch' });
    await scratchTree.getByRole('option', { name: /^fresh\b/ }).click();
    await scratchTree.focus();
    await page.keyboard.press('Delete');
    const del = page.getByRole('dialog', { name: 'Delete snapshot “fresh”?' });
    await del.getByRole('button', { name: 'Delete snapshot' }).click();
    await expect.poll(() => del.isVisible()).toBe(false);
    await expect.poll(() => toast(/^Deleted “fresh” and freed .+\. The current state \(Now\) now follows the base image\.$/).isVisible()).toBe(true);

    await page.getByRole('button', { name: 'Remove box' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Remove scratch?' });
    await expect.poll(() => dialog.innerText()).toMatch(/It frees about \d[\d.]* (bytes|KiB|MiB)\./);
    const estimate = /It frees about (\S+ \S+)\./.exec(await dialog.innerText())![1]!;
    const button = dialog.getByRole('button', { name: 'Remove box', exact: true });
    await expect.poll(() => button.isVisible()).toBe(true);
    await expect.poll(() => dialog.innerText()).not.toContain('0 snapshots');
    await screenshot(page, 'new-user-remove-box');
    await button.click();
    await expect.poll(() => toast(`Removed scratch and freed ${estimate}.`).isVisible()).toBe(true);
  });

  it('the image manager lists kind, size and users; removes an unused image and names the boxes of a used one', async () => {
    await sidebar().getByRole('button', { name: 'Images…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Images' });
    const row = (name: string) => dialog.locator(`[data-testid=image-row][data-name="${name}"]`);
    await expect.poll(() => dialog.locator('[data-testid=image-row]').count()).toBe(3);
    expect((await row('base').innerText()).split('\t').map((c) => c.trim())).toEqual(['base', 'Disk image', '100 MiB', expect.stringMatching(/ KiB$/), 'work', 'Remove']);
    expect((await row('tiny').innerText()).split('\t').map((c) => c.trim())).toEqual(['tiny', 'Boots its own kernel', '64 MiB', expect.stringMatching(/(KiB|MiB)$/), 'No box', 'Remove']);
    await expect.poll(() => row('spare').innerText()).toContain('No box');
    await screenshot(page, 'new-user-images');
    await expectAccessible(page, 'image manager');

    // Unused: one more click that says what goes, then it is gone, in the list and in the home.
    await row('spare').getByRole('button', { name: 'Remove spare' }).click();
    await expect.poll(() => dialog.getByRole('status').innerText()).toMatch(/^Removing “spare” deletes its file \(.+\); no box uses it\.$/);
    await screenshot(page, 'new-user-images-confirm');
    await row('spare').getByRole('button', { name: 'Remove spare for good' }).click();
    await expect.poll(() => row('spare').count()).toBe(0);
    await expect.poll(() => toast('Removed image spare.').isVisible()).toBe(true);
    const images = await withServedList();
    expect(images).not.toContain('spare');

    // Used: the engine refuses and the row says which box holds it.
    await row('base').getByRole('button', { name: 'Remove base' }).click();
    await expect.poll(() => dialog.getByRole('alert').innerText()).toBe('The image "base" is used by the box "work"; remove that box first.');
    await expect.poll(() => row('base').count()).toBe(1);
    await screenshot(page, 'new-user-images-in-use');
    expectNoPageProblems(b);
  });
});

/** The image names as the CLI sees them, through the serving process (it owns the home). */
async function withServedList(): Promise<string> {
  const r = spawnSync(process.execPath, ['bin/boxkeep.mjs', '--home', t.home, 'image', 'list'], { encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}
