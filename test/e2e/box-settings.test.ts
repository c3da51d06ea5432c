// A box's settings and its stop, as a person drives them in Debian's Chromium against
// `boxkeep serve`: the Edit dialog (values kept across a reload, the port forward parser's
// messages inline, "applies at the next start" on a running box), the network shown in the box
// view with a copyable ssh command, and Stop's countdown and Force stop for a guest that ignores
// ACPI power-off (the tiny guest has no acpid, so a graceful stop waits the box's stop timeout).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { expectAccessible, expectNoPageProblems, screenshot, type Browser } from './harness.js';
import { openGuestBoxPage, type GuestBoxPage } from './vm-rig.js';

const STOP_TIMEOUT_SEC = 6;

let rig: GuestBoxPage;
let b: Browser;
let page: Page;

beforeAll(async () => {
  // No BOXKEEP_STOP_TIMEOUT_MS: the box's own stop timeout rules.
  rig = await openGuestBoxPage({ box: 'vm' });
  ({ b, page } = rig);
}, 300_000);

afterAll(async () => {
  await rig?.close();
}, 60_000);

const toolbar = () => page.getByRole('toolbar', { name: 'Actions for vm' });
const dialog = () => page.getByRole('dialog', { name: 'Edit vm' });
const toast = (text: string | RegExp) => page.getByTestId('toast-success').filter({ hasText: text });
const forwardList = () => dialog().getByRole('list', { name: 'Port forwards' });

async function openEdit() {
  await toolbar().getByRole('button', { name: 'Edit' }).click();
  await expect.poll(() => dialog().isVisible()).toBe(true);
}

async function addForward(spec: string) {
  await dialog().getByLabel('Add a port forward').fill(spec);
  await dialog().getByRole('button', { name: 'Add', exact: true }).click();
}

describe('the Edit dialog', () => {
  it('saves every setting; after a reload the dialog shows them again and the box view shows the network', async () => {
    await openEdit();
    // The disk field says why its minimum is what it is.
    await expect.poll(() => dialog().innerText()).toMatch(/Now 64 MiB; at least 1 GiB: a disk only grows, since shrinking it would cut off data\./);
    await dialog().getByLabel('CPUs').fill('2');
    await dialog().getByLabel('Memory (MiB)').fill('300');
    await dialog().getByLabel('Disk size (GiB)').fill('2');
    await dialog().getByLabel('Stop timeout (seconds)').fill(String(STOP_TIMEOUT_SEC));

    // The shared parser's words, inline, before anything is sent.
    await addForward('80');
    await expect.poll(() => dialog().innerText()).toContain('The port forward "80" must look like [address:]hostPort:guestPort[/tcp|udp]');
    await addForward('70000:80');
    await expect.poll(() => dialog().innerText()).toContain('has the host port "70000"; a port is a whole number from 1 to 65535');
    await addForward('8080:80');
    await addForward('2222:22');
    await addForward('8080:81');
    await expect.poll(() => dialog().innerText()).toContain('uses the host port 8080/tcp that "127.0.0.1:8080:80/tcp" already forwards');
    await expect.poll(() => forwardList().innerText()).toMatch(/127\.0\.0\.1:8080:80\/tcp[\s\S]*127\.0\.0\.1:2222:22\/tcp/);
    await dialog().getByRole('button', { name: 'Remove the forward 127.0.0.1:8080:80/tcp' }).click();
    await dialog().getByLabel('Network', { exact: true }).selectOption('none');
    await screenshot(page, 'edit-box-dialog');
    await expectAccessible(page, 'edit box dialog');
    await dialog().getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => toast('Saved the settings of vm.').isVisible()).toBe(true);
    await expect.poll(() => dialog().isVisible()).toBe(false);
    await expect.poll(() => page.getByTestId('network').innerText()).toBe('No network: this box has no network card.');

    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'vm' }).waitFor();
    await expect.poll(() => page.locator('.resources').innerText()).toMatch(/CPUs\s*2[\s\S]*Memory\s*300 MiB[\s\S]*Disk size\s*2 GiB/);
    await openEdit();
    await expect.poll(() => dialog().getByLabel('CPUs').inputValue()).toBe('2');
    await expect.poll(() => dialog().getByLabel('Memory (MiB)').inputValue()).toBe('300');
    await expect.poll(() => dialog().getByLabel('Disk size (GiB)').inputValue()).toBe('2');
    await expect.poll(() => dialog().getByLabel('Disk size (GiB)').getAttribute('min')).toBe('2');
    await expect.poll(() => dialog().getByLabel('Stop timeout (seconds)').inputValue()).toBe(String(STOP_TIMEOUT_SEC));
    await expect.poll(() => dialog().getByLabel('Network', { exact: true }).inputValue()).toBe('none');
    await expect.poll(() => forwardList().innerText()).toContain('127.0.0.1:2222:22/tcp');
    await expect.poll(() => forwardList().innerText()).not.toContain('8080');

    // A smaller disk is refused in the form, in words that say why.
    await dialog().getByLabel('Disk size (GiB)').fill('1');
    await expect.poll(() => dialog().innerText()).toContain('The disk is 2 GiB and only grows: shrinking it would cut off what the guest stored. Use at least 2 GiB.');
    await dialog().getByLabel('Disk size (GiB)').fill('2');
    await dialog().getByLabel('Network', { exact: true }).selectOption('nat');
    await dialog().getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dialog().isVisible()).toBe(false);
    await expect.poll(() => page.getByTestId('ssh-command').innerText()).toBe('ssh -p 2222 root@127.0.0.1');
    await expect.poll(() => page.getByTestId('network').innerText()).toContain('127.0.0.1:2222:22/tcp');
    expectNoPageProblems(b);
  });
});

describe('stopping a guest that ignores ACPI', () => {
  it('a change to the running box says it applies at the next start', async () => {
    await toolbar().getByRole('button', { name: 'Start' }).click();
    await expect.poll(() => toast('vm is running.').isVisible(), { timeout: 60_000 }).toBe(true);
    await openEdit();
    await expect.poll(() => dialog().innerText()).toContain('The box is running: what you change here applies at the next start.');
    await expect.poll(() => dialog().innerText()).toMatch(/a disk only grows, since shrinking it would cut off data\. It grows at the next start\./);
    await dialog().getByLabel('CPUs').fill('1');
    await dialog().getByLabel('Disk size (GiB)').fill('3');
    await dialog().getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => toast('Saved the settings of vm. They apply at the next start.').isVisible()).toBe(true);
    await expect.poll(() => page.locator('.pending-restart').isVisible()).toBe(true);
    await expect.poll(() => page.locator('.resources').innerText()).toMatch(/Disk size\s*2 GiB \(grows to 3 GiB at the next start\)/);
  });

  it('Stop counts down the seconds left; Force stop cuts it short and the toast says it was forced', async () => {
    await toolbar().getByRole('button', { name: 'Stop', exact: true }).click();
    const countdown = page.getByTestId('stop-countdown');
    await expect.poll(() => countdown.isVisible()).toBe(true);
    const seconds = async () => Number(/cut off in (\d+) s/.exec(await countdown.innerText())?.[1]);
    const first = await seconds();
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(STOP_TIMEOUT_SEC);
    await expect.poll(seconds, { timeout: 5000 }).toBeLessThan(first);
    await screenshot(page, 'stop-countdown');
    const started = performance.now();
    await toolbar().getByRole('button', { name: 'Force stop' }).click();
    await expect.poll(() => toast('vm was forced off.').isVisible(), { timeout: 10_000 }).toBe(true);
    // Cut short: well before the graceful wait would have ended.
    expect(performance.now() - started).toBeLessThan(STOP_TIMEOUT_SEC * 1000);
    await expect.poll(() => toolbar().getByRole('button', { name: 'Start' }).isEnabled()).toBe(true);
    await expect.poll(() => page.getByTestId('toast-success').filter({ hasText: 'did not shut down in time' }).count()).toBe(0);
    await expect.poll(() => page.locator('.pending-restart').count()).toBe(1);
  });

  it('left to run out, the stop forces the guest off at the deadline and says so', async () => {
    await toolbar().getByRole('button', { name: 'Start' }).click();
    await expect.poll(() => toast('vm is running.').isVisible(), { timeout: 60_000 }).toBe(true);
    // Started with what the row says: nothing waits for a restart any more.
    await expect.poll(() => page.locator('.pending-restart').count()).toBe(0);
    const started = performance.now();
    await toolbar().getByRole('button', { name: 'Stop', exact: true }).click();
    await expect.poll(() => toast('vm was forced off: the guest did not shut down in time.').isVisible(), { timeout: 30_000 }).toBe(true);
    expect(performance.now() - started).toBeGreaterThan((STOP_TIMEOUT_SEC - 1) * 1000);
    expectNoPageProblems(b);
  });
});
