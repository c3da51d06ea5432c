// The New box dialog's Cloud-init section in Debian's Chromium against `boxkeep serve`: each
// field is checked as typed by the shared rules, the box is made with its seed, the box view
// shows the cloud-init user and the ssh line, and the password typed is in no file of the home.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { publicKey } from '../helpers/ssh-keys.js';
import { expectNoPageProblems, imageFile, openApp, screenshot, type App, type Browser } from './harness.js';

const PASSWORD = 'Typed-In-The-Dialog-9000';
let app: App;
let b: Browser;
let page: Page;

beforeAll(async () => {
  app = await openApp(async (core, t) => {
    await core.images.import({ path: imageFile(t, 'cloud', '64M'), name: 'cloud' });
  });
  ({ b, page } = app);
  await page.getByRole('navigation', { name: 'Boxes' }).waitFor();
});

afterAll(async () => {
  await app?.close();
});

function homeFilesHolding(needle: string): string[] {
  return fs.readdirSync(app.t.home, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && fs.readFileSync(path.join(e.parentPath, e.name)).includes(needle))
    .map((e) => e.name);
}

describe('cloud-init in the New box dialog', () => {
  it('checks each field as typed, then makes the box; the box view shows the user and the ssh line', async () => {
    await page.getByRole('navigation', { name: 'Boxes' }).getByRole('button', { name: 'New box' }).click();
    const dialog = page.getByRole('dialog', { name: 'New box' });
    await dialog.getByLabel('Name').fill('web');
    await dialog.getByLabel(/Set up a user with cloud-init/).check();
    const create = dialog.getByRole('button', { name: 'Create box' });
    await dialog.getByLabel('User', { exact: true }).fill('Ada');
    await expect.poll(() => dialog.getByText('User "Ada" is not a Linux user name', { exact: false }).isVisible()).toBe(true);
    await expect.poll(() => create.isDisabled()).toBe(true);
    await dialog.getByLabel('User', { exact: true }).fill('ada');
    await dialog.getByLabel('SSH keys').fill('ssh-ed25519 not-a-key');
    await expect.poll(() => dialog.getByText(/^SSH key "ssh-ed25519 not-a-key" is not an SSH public key/).isVisible()).toBe(true);
    const key = publicKey('ssh-ed25519', 'ada@laptop');
    await dialog.getByLabel('SSH keys').fill(`${key}\n`);
    await dialog.getByLabel('Host name').fill('web_1');
    await expect.poll(() => dialog.getByText(/^Host name "web_1" is not a host name/).isVisible()).toBe(true);
    await dialog.getByLabel('Host name').fill('web-1');
    await dialog.getByLabel('Password').fill(PASSWORD);
    await expect.poll(() => dialog.getByLabel('Password').getAttribute('type')).toBe('password');
    await expect.poll(() => create.isDisabled()).toBe(false);
    await screenshot(page, 'cloud-init-new-box');
    await create.click();
    await page.getByRole('heading', { level: 1, name: 'web' }).waitFor();
    await expect.poll(() => page.getByTestId('ssh-command').innerText()).toMatch(/^ssh -p \d+ ada@127\.0\.0\.1$/);
    await expect.poll(() => page.getByTestId('cloud-init').innerText()).toBe('Cloud-init: user ada (sudo), 1 SSH key, a password, host name web-1');
    const port = /-p (\d+)/.exec(await page.getByTestId('ssh-command').innerText())![1];
    await expect.poll(() => page.getByTestId('network').innerText()).toContain(`127.0.0.1:${port}:22/tcp`);
    await screenshot(page, 'cloud-init-box');
    const boxes = fs.readdirSync(path.join(app.t.home, 'boxes'));
    expect(boxes).toHaveLength(1);
    expect(fs.existsSync(path.join(app.t.home, 'boxes', boxes[0]!, 'seed.iso'))).toBe(true);
    expect(homeFilesHolding(PASSWORD)).toEqual([]);
    expectNoPageProblems(b);
  });
});
