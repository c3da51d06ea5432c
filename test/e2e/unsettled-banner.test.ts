// An unsettled live snapshot as a person sees it, in Debian's Chromium: the box's view says so
// in a banner (which QEMU does not answer, and that Boxkeep settles it by itself), with Recover
// and Force stop. The owner runs in this process (startOwner + the web host), so the test can
// stop the guest's QEMU (SIGSTOP) exactly as the snapshot's switch goes out; everything else is
// the real engine, the real QEMU and the built renderer. One booted guest for the file.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startOwner, type Owner } from '../../electron/host/owner.js';
import { startWebHost, type WebHost } from '../../electron/host/web-host.js';
import { expectUnsettled, hungSnapshot, removeLosingThePivotReply } from '../helpers/hung-switch.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import type { SerialDriver } from '../helpers/guest.js';
import { cli } from '../helpers/cli.js';
import { boot } from '../helpers/vm.js';
import { memoryLogger } from '../integration/host-fixtures.js';
import { buildRenderer, expectAccessible, expectNoPageProblems, importGuestImage, newHome, openBrowser, requireE2eTools, screenshot, withCore, type Browser, type TestHome } from './harness.js';
import { countInvokes, type InvokeCounter } from './vm-rig.js';

let t: TestHome;
let owner: Owner;
let host: WebHost;
let b: Browser;
let page: Page;
let con: SerialDriver | null = null;
let invokes: InvokeCounter;

beforeAll(async () => {
  requireE2eTools();
  const rendererDir = await buildRenderer();
  t = newHome();
  await withCore(t.home, async (core) => {
    await importGuestImage(core, t);
    await core.boxes.create({ name: 'vm', image: 'guest' });
  });
  owner = await startOwner({ home: t.home, kind: 'test', logger: memoryLogger() });
  host = await startWebHost({ router: owner.router, staticDir: rendererDir });
  con = await boot(owner.core, 'vm');
  b = await openBrowser(host.url, { beforeLoad: (p) => (invokes = countInvokes(p)) });
  page = b.page;
}, 300_000);

afterAll(async () => {
  con?.close();
  await b?.close();
  await host?.close();
  const vm = owner?.core.store.findBox('vm');
  if (vm && vm.status !== 'stopped') await owner.core.vms.stop(vm.id, { force: true }).catch(() => {});
  await owner?.close();
  t?.cleanup();
}, 60_000);

const banner = () => page.getByRole('alert').filter({ hasText: 'A live snapshot is unsettled' });
const tree = () => page.getByRole('listbox', { name: 'Snapshots of vm' });
const option = (name: string) => tree().getByRole('option', { name: new RegExp(`^${name}\\b`) });

/** A live snapshot left unsettled, and the banner that says so; QEMU is left stopped. */
async function unsettled(name: string): Promise<number> {
  const { err, pid } = await hungSnapshot(owner.core, 'vm', name);
  try {
    expectUnsettled(owner.core, 'vm', err, name);
    await expect.poll(() => banner().isVisible(), { timeout: 15_000 }).toBe(true);
    await expect.poll(() => banner().innerText()).toContain(`A live snapshot is unsettled: QEMU (pid ${pid}) does not answer.`);
    await expect.poll(() => banner().innerText()).toContain('Boxkeep settles it when QEMU answers or exits.');
    await expect.poll(() => banner().innerText()).toContain(`“${name}”`);
  } catch (e) {
    process.kill(pid, 'SIGCONT');
    throw e;
  }
  return pid;
}

describe('an unsettled live snapshot in the box view', () => {
  it('shows a banner naming the silent QEMU; Recover settles it once QEMU answers, and the banner goes away', async () => {
    const pid = await unsettled('stuck');
    await screenshot(page, 'unsettled-banner');
    await expectAccessible(page, 'unsettled live snapshot');
    const asked = performance.now();
    try {
      await banner().getByRole('button', { name: 'Recover' }).click();
      // Recovery holds every box's queue from here: QEMU answering now lets Recover, not the
      // owner's own watch, be what settles it.
      await expect.poll(() => invokes.count('recovery:run', asked)).toBe(1);
    } finally {
      setTimeout(() => process.kill(pid, 'SIGCONT'), 1000);
    }
    await expect.poll(() => banner().count(), { timeout: 60_000 }).toBe(0);
    await expect.poll(() => page.locator('.banner.recovery').innerText(), { timeout: 15_000 }).toMatch(/Live snapshot "stuck" .*completed/);
    await expect.poll(() => option('stuck').count()).toBe(1);
    expectNoPageProblems(b);
  }, 180_000);

  it('goes away by itself once QEMU answers, no click needed, and the snapshot is in the tree; `box show` says so meanwhile', async () => {
    const pid = await unsettled('quiet');
    try {
      // The command, through the owner, says it too: in words, and in its JSON.
      const shown = await cli(t.home, ['box', 'show', 'vm'], { text: true });
      expect(shown.stderr).toBe('');
      expect(shown.stdout).toMatch(new RegExp(`Unsettled:\\s+the live snapshot "quiet" \\(asked for .*\\): QEMU \\(pid ${pid}\\) does not answer\\. The box takes no changes until it is settled; Boxkeep settles it when QEMU answers or exits \\(while the app or "boxkeep serve" holds the home, else when the home is next opened\\), or now with "boxkeep recover"\\.`));
      expect((await cli(t.home, ['box', 'show', 'vm'])).data).toMatchObject({ unsettled: { snapshotName: 'quiet', qemuPid: pid } });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await expect.poll(() => banner().count(), { timeout: 60_000 }).toBe(0);
    await expect.poll(() => option('quiet').count()).toBe(1);
    expect(owner.core.store.findSnapshot(owner.core.boxes.resolve('vm').id, 'quiet')).not.toBeNull();
    expectNoPageProblems(b);
  }, 120_000);

  it('names a live removal that failed after its merge began while it waits to be finished; it goes away once the owner finishes it', async () => {
    const half = await owner.core.snapshots.create({ box: 'vm', name: 'half' });
    await expect.poll(() => option('half').count()).toBe(1);
    await removeLosingThePivotReply(owner.core, 'vm', half.id);
    // QEMU silent from here: the owner's tries (the first after 1 s) cannot finish it yet.
    const { pid } = (owner.core.vms as Supervisor).session(owner.core.boxes.resolve('vm').id);
    process.kill(pid, 'SIGSTOP');
    const removal = page.getByRole('alert').filter({ hasText: 'did not finish' });
    try {
      await expect.poll(() => removal.isVisible(), { timeout: 15_000 }).toBe(true);
      const text = await removal.innerText();
      expect(text).toContain('Deleting the snapshot “half” did not finish.');
      expect(text).toContain('every other snapshot is intact and vm reads as before. Boxkeep finishes it by itself, trying again until it can. Until then vm accepts no changes.');
      expect(await banner().count(), 'not the live snapshot banner').toBe(0);
      await expectAccessible(page, 'unfinished live removal');
      const shown = await cli(t.home, ['box', 'show', 'vm'], { text: true });
      expect(shown.stdout).toMatch(/Unsettled:\s+deleting the snapshot "half" \(asked for .*\) stopped after its data began to merge; every other snapshot is intact\. The box takes no changes until it is finished; Boxkeep finishes it by itself/);
      expect((await cli(t.home, ['box', 'show', 'vm'])).data).toMatchObject({ unsettled: { kind: 'removal', snapshotName: 'half', qemuPid: pid } });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await expect.poll(() => removal.count(), { timeout: 90_000 }).toBe(0);
    await expect.poll(() => option('half').count()).toBe(0);
    expect(owner.core.store.findSnapshot(owner.core.boxes.resolve('vm').id, 'half')).toBeNull();
    expect(fs.readdirSync(owner.core.paths.boxJournal(owner.core.boxes.resolve('vm').id))).toEqual([]);
    expectNoPageProblems(b);
  }, 180_000);

  it('Force stop from the banner ends the silent QEMU: the snapshot is completed and the box is stopped', async () => {
    con?.close();
    con = null;
    const pid = await unsettled('forced');
    try {
      await banner().getByRole('button', { name: 'Force stop' }).click();
      await expect.poll(() => banner().count(), { timeout: 60_000 }).toBe(0);
    } finally {
      try { process.kill(pid, 'SIGKILL'); } catch { /* stopped already */ }
    }
    await expect.poll(() => page.locator('.box-header .status').first().innerText(), { timeout: 30_000 }).toBe('Stopped');
    await expect.poll(() => option('forced').count()).toBe(1);
    expectNoPageProblems(b);
  }, 120_000);
});
