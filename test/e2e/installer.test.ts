// Installer media in Debian's Chromium against `boxkeep serve`: an ISO imported through the
// Import dialog is listed as an installer, the New box dialog asks for a disk size for it, and
// the box view offers Eject installer while one is attached (and not after).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { makeInstallerIso } from '../helpers/installer.js';
import { expectNoPageProblems, imageFile, screenshot, openApp, type App, type Browser } from './harness.js';

let app: App;
let b: Browser;
let page: Page;
let iso: string;

beforeAll(async () => {
  app = await openApp(async (core, t) => {
    iso = makeInstallerIso(t.dir, 'netinst.iso');
    await core.images.import({ path: imageFile(t, 'base', '64M'), name: 'base' });
  });
  ({ b, page } = app);
  await page.getByRole('navigation', { name: 'Boxes' }).waitFor();
});

afterAll(async () => {
  await app?.close();
});

const sidebar = () => page.getByRole('navigation', { name: 'Boxes' });

describe('installer media in the app', () => {
  it('an ISO imported in the Import dialog is listed as an installer, a qcow2 as a disk image', async () => {
    await sidebar().getByRole('button', { name: 'Images…' }).click();
    const images = page.getByRole('dialog', { name: 'Images' });
    await images.getByRole('button', { name: 'Import image…' }).click();
    const importing = page.getByRole('dialog', { name: 'Import a disk image' });
    await importing.getByLabel('Image file (absolute path)').fill(iso);
    await importing.getByRole('button', { name: 'Import' }).click();
    await expect.poll(() => page.getByTestId('toast-success').filter({ hasText: 'Imported installer netinst' }).count()).toBe(1);
    await sidebar().getByRole('button', { name: 'Images…' }).click();
    const kind = (name: string) => page.getByRole('dialog', { name: 'Images' }).locator(`[data-testid=image-row][data-name="${name}"] [data-testid=image-kind]`);
    await expect.poll(() => kind('netinst').innerText()).toBe('Installer (ISO)');
    await expect.poll(() => kind('base').innerText()).toBe('Disk image');
    await screenshot(page, 'installer-images');
    await page.keyboard.press('Escape');
  });

  it('a new box from the installer needs a disk size, then shows Eject installer until it is ejected', async () => {
    await sidebar().getByRole('button', { name: 'New box' }).click();
    const dialog = page.getByRole('dialog', { name: 'New box' });
    await dialog.getByLabel('Image').selectOption({ label: (await dialog.getByRole('option', { name: /^netinst \(installer/ }).innerText()).trim() });
    await dialog.getByLabel('Name').fill('fresh');
    await expect.poll(() => dialog.getByText('An installer needs a blank disk to install onto: give its size.').isVisible()).toBe(true);
    await expect.poll(() => dialog.getByRole('button', { name: 'Create box' }).isDisabled()).toBe(true);
    await dialog.getByLabel('Disk size (GiB)').fill('2');
    await dialog.getByRole('button', { name: 'Create box' }).click();
    await page.getByRole('heading', { level: 1, name: 'fresh' }).waitFor();
    const toolbar = page.getByRole('toolbar', { name: 'Actions for fresh' });
    const eject = toolbar.getByRole('button', { name: 'Eject installer' });
    await expect.poll(() => eject.isVisible()).toBe(true);
    await screenshot(page, 'installer-box');
    await eject.click();
    await expect.poll(() => page.getByTestId('toast-success').filter({ hasText: 'The installer was ejected from fresh' }).count()).toBe(1);
    await expect.poll(() => eject.count()).toBe(0);
    expectNoPageProblems(b);
  });

  it('the tree of the installer box stands on its blank disk, naming the ISO it was installed from, never a base image', async () => {
    const tree = page.getByRole('listbox', { name: 'Snapshots of fresh' });
    await expect.poll(() => tree.locator('[role=option] .row-name').allInnerTexts()).toEqual(['Blank disk', 'Now']);
    await expect.poll(() => tree.locator('.kind-base .row-sub').innerText()).toBe('installed from netinst');
    await expect.poll(() => tree.locator('.kind-now .row-desc').innerText()).toBe('Changes since the blank disk');
    await expect.poll(() => page.getByRole('complementary', { name: 'Selected item' }).innerText()).toContain('the blank disk plus every change made since');
    await expect.poll(() => page.locator('body').innerText()).not.toContain('Base image');
    expectNoPageProblems(b);
  });

  it('a new box with UEFI firmware chosen in the New box dialog says UEFI in its view', async () => {
    await sidebar().getByRole('button', { name: 'New box' }).click();
    const dialog = page.getByRole('dialog', { name: 'New box' });
    await dialog.getByLabel('Image').selectOption({ label: (await dialog.getByRole('option', { name: /^base \(/ }).innerText()).trim() });
    await dialog.getByLabel('Name').fill('efi');
    await dialog.getByLabel('Firmware').selectOption('uefi');
    await dialog.getByRole('button', { name: 'Create box' }).click();
    await page.getByRole('heading', { level: 1, name: 'efi' }).waitFor();
    await expect.poll(() => page.getByTestId('firmware').innerText()).toBe('UEFI (OVMF)');
    // The engine (in `boxkeep serve`) made the box's own UEFI variables.
    const boxes = path.join(app.t.home, 'boxes');
    expect(fs.readdirSync(boxes).filter((id) => fs.existsSync(path.join(boxes, id, 'disks', 'efivars.fd'))).length).toBe(1);
    expectNoPageProblems(b);
  });
});
