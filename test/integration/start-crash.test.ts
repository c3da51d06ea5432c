// A start killed between QEMU's spawn and its `cont` (kill -9 of the owner): QEMU waits with
// the guest's CPUs stopped, and the checks that let a guest run may not have been made. The
// next owner stops that QEMU and shows the box stopped; a start then works as ever.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../electron/core/operations.js';
import { readFingerprint, runDirFor } from '../../electron/core/vm/qemu.js';
import { isSameProcess } from '../../electron/core/proc.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { openVmHome, type VmHome } from '../helpers/vm.js';

const DRIVER = path.resolve('test/helpers/crash-driver.mjs');
let h: VmHome;

beforeAll(async () => {
  h = await openVmHome();
  await h.core.boxes.create({ name: 'vm', image: 'tiny' });
});
afterAll(async () => { await h?.cleanup(); });

/** The start's owner SIGKILLed at `point`; returns the reopened home's box. */
async function killedAt(point: string, channel: string, input: unknown) {
  await h.core.close();
  const run = spawnSync(process.execPath, [DRIVER, h.dir, channel, JSON.stringify(input)], { encoding: 'utf8', env: { ...process.env, BOXKEEP_CRASH_AT: point }, timeout: 180_000 });
  expect(run.signal, run.stderr).toBe('SIGKILL');
  const core = await h.reopen();
  const box = core.boxes.resolve('vm');
  const fp = readFingerprint(runDirFor(core.paths, box.id, { create: false }));
  expect(fp, 'the killed start spawned QEMU').not.toBeNull();
  expect(isSameProcess(fp!), 'the waiting QEMU must be gone').toBe(false);
  expect(box.status).toBe('stopped');
  expect((core.vms as Supervisor).sessions.has(box.id)).toBe(false);
  return { core, box };
}

describe('a start killed before the guest runs', () => {
  // The memory state was loaded (QEMU paused, as a user's pause leaves it) but not yet compared
  // with the recorded digest: a paused box the user could resume would run an unchecked state.
  it('a restore with memory killed after the load, before the digest was compared: the box shows stopped, not paused', async () => {
    const core = h.core;
    await core.vms.start('vm');
    await core.snapshots.create({ box: 'vm', name: 'm', memory: true });
    await core.vms.stop('vm', { force: true });
    const { core: after } = await killedAt('box-start:after-load', 'snapshots:restore', { box: 'vm', snapshot: 'm' });
    expect(after.lastRecovery!.items.map((i) => `${i.level}: ${i.message}`)).toEqual([
      'repaired: The start of the box "vm" was interrupted before its guest ran; its QEMU was stopped and the box is stopped. Start it again.',
    ]);
  }, 300_000);

  it.each(CRASH_POINTS.filter((p) => p.startsWith('box-start:') && p !== 'box-start:after-load'))('%s: the next owner stops the waiting QEMU, the box shows stopped, and starts again', async (point) => {
    const { core, box } = await killedAt(point, 'boxes:start', { box: 'vm' });
    expect(core.lastRecovery!.items.map((i) => `${i.level}: ${i.message}`)).toEqual([
      'repaired: The start of the box "vm" was interrupted before its guest ran; its QEMU was stopped and the box is stopped. Start it again.',
    ]);
    const started = await core.vms.start('vm');
    expect(started.status).toBe('running');
    const status = await (core.vms as Supervisor).session(box.id).qmp.execute<{ status: string }>('query-status');
    expect(status.status).toBe('running');
    await core.vms.stop('vm', { force: true });
    expect(fs.existsSync(core.paths.liveDisk(box.id))).toBe(true);
  });
});
