// Looking inside snapshots in Debian's Chromium against `boxkeep serve`: a snapshot's details
// say how much changed since its parent, "Compare with…" lists the changed files, and the file
// browser opens a folder and saves a copy of a file to this machine (read through a real
// libguestfs appliance: every step that reads files takes tens of seconds under TCG).
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../helpers/disk.js';
import { editDisk } from '../helpers/edit-disk.js';
import { makeExt4Qcow2 } from '../helpers/guestfs.js';
import { expectNoPageProblems, openApp, screenshot, type App } from './harness.js';

const SLOW = { timeout: 600_000 };
let app: App;
let page: Page;

beforeAll(async () => {
  requireTools('guestfish', 'mkfs.ext4');
  app = await openApp(async (core, t) => {
    const disk = makeExt4Qcow2(path.join(t.dir, 'look.qcow2'), 32, { 'etc/hostname': 'before\n', 'etc/motd': 'hello\n', 'gone.txt': 'bye' });
    await core.images.import({ path: disk, name: 'look' });
    const box = await core.boxes.create({ name: 'look', image: 'look' });
    await core.snapshots.create({ box: 'look', name: 'first' });
    await editDisk(box.liveDiskPath, (root) => {
      fs.writeFileSync(path.join(root, 'etc', 'hostname'), 'after, longer\n');
      fs.rmSync(path.join(root, 'gone.txt'));
      fs.writeFileSync(path.join(root, 'added.txt'), 'new');
    });
    await core.snapshots.create({ box: 'look', name: 'second' });
  });
  page = app.page;
  await page.getByRole('heading', { level: 1, name: 'look' }).waitFor();
}, 600_000);

afterAll(async () => {
  await app?.close();
}, 60_000);

const option = (name: string) => page.getByRole('listbox', { name: 'Snapshots of look' }).getByRole('option', { name: new RegExp(`^${name}\\b`) });
const details = () => page.getByRole('complementary');

describe('inside a snapshot, in the browser', () => {
  it('says what changed since the parent, and Compare with… lists the changed files', async () => {
    await option('second').click();
    await details().getByText(/[\d.]+ [KM]i?B changed since its parent/).waitFor({ timeout: 60_000 });
    await option('first').click();
    await details().getByRole('combobox', { name: 'Compare with' }).selectOption({ label: 'second' });
    await details().getByRole('button', { name: 'Compare with…' }).click();
    const list = details().getByRole('region', { name: 'Changed files' });
    await list.getByText('/etc/hostname').waitFor(SLOW);
    const items = await list.getByRole('listitem').allInnerTexts();
    expect(items.map((t) => t.replace(/\s+/g, ' ').trim())).toEqual(['+ /added.txt', '~ /etc/hostname (size, mtime)', '− /gone.txt']);
    await screenshot(page, 'snapshot-compare');
  }, 900_000);

  it('opens a folder in the file browser and saves a copy of a file', async () => {
    await details().getByRole('button', { name: 'Browse files' }).click();
    const browser = details().getByRole('region', { name: 'Files of the snapshot' });
    await browser.getByRole('button', { name: 'etc/' }).click(SLOW);
    await browser.getByRole('button', { name: 'Save a copy of /etc/hostname' }).click(SLOW);
    const target = path.join(app.t.dir, 'saved-hostname');
    await browser.getByRole('textbox', { name: 'Save to' }).fill(target);
    await browser.getByRole('button', { name: 'Save', exact: true }).click();
    await browser.getByText(`Saved a copy of /etc/hostname to ${target}.`).waitFor(SLOW);
    expect(fs.readFileSync(target, 'utf8')).toBe('before\n');
    await screenshot(page, 'snapshot-browse');
    expectNoPageProblems(app.b);
  }, 900_000);
});
