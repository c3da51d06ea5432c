// A live snapshot of a running UEFI box killed at each step (the owner SIGKILLed, QEMU keeps
// running; one OVMF boot for all of them): after recovery the guest runs unpaused, every
// earlier snapshot's copy of the variables is byte for byte as it was, and a snapshot that
// was completed holds the variables the guest had written when it was taken.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../electron/core/operations.js';
import { MEMORY_ONLY_POINTS } from '../../electron/core/snapshots/live/intents.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import type { SerialDriver } from '../helpers/guest.js';
import { attach, boot, openVmHome, sh, type VmHome } from '../helpers/vm.js';

const DRIVER = path.resolve('test/helpers/crash-driver.mjs');
const GUID = '3a1f0c9e-5d2b-4c7a-9e11-b0c5ee9a1234';
let h: VmHome;
let con: SerialDriver;
let boxId: string;

beforeAll(async () => {
  h = await openVmHome();
  boxId = (await h.core.boxes.create({ name: 'efi', image: 'tiny', firmware: 'uefi' })).id;
  con = await boot(h.core, 'efi');
}, 180_000);
afterAll(async () => {
  con?.close();
  await h?.cleanup();
});

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function varsCopies(): Record<string, string> {
  return Object.fromEntries(h.core.store.listSnapshots(boxId).map((s) => [s.name, sha(h.core.paths.snapshotEfiVars(boxId, s.id))]));
}

describe('a live snapshot of a UEFI box killed at each step', () => {
  it.each(CRASH_POINTS.filter((p) => p.startsWith('live-create:') && !MEMORY_ONLY_POINTS.includes(p.slice('live-create:'.length))))('%s', async (point) => {
    const step = point.split(':')[1]!;
    const marker = `BK-${step.toUpperCase()}`;
    await sh(con, `printf '\\007\\000\\000\\000${marker}' > /sys/firmware/efi/efivars/Bk${step.replaceAll('-', '')}-${GUID}`);
    const before = varsCopies();
    const liveBefore = fs.readFileSync(h.core.paths.efiVars(boxId));
    expect(liveBefore.includes(marker)).toBe(true);
    con.close();
    await h.core.close();
    const name = `c-${step}`;
    const r = spawnSync(process.execPath, [DRIVER, h.dir, 'snapshots:create', JSON.stringify({ box: 'efi', name })], {
      encoding: 'utf8', env: { ...process.env, BOXKEEP_CRASH_AT: point }, timeout: 120_000,
    });
    expect(r.signal, r.stderr).toBe('SIGKILL');

    const core = await h.reopen();
    expect(core.store.getBox(boxId)!.status, point).toBe('running');
    const session = (core.vms as Supervisor).session(boxId);
    expect((await session.qmp.execute<{ status: string }>('query-status')).status, point).toBe('running');
    expect(fs.readdirSync(core.paths.boxJournal(boxId)), point).toEqual([]);
    const now = varsCopies();
    for (const [n, digest] of Object.entries(before)) expect(now[n], `${point}: snapshot ${n}`).toBe(digest);
    const made = core.store.findSnapshot(boxId, name);
    if (made) {
      const kept = fs.readFileSync(core.paths.snapshotEfiVars(boxId, made.id));
      expect(kept.equals(liveBefore), point).toBe(true);
    } else {
      expect(Object.keys(now).length, point).toBe(Object.keys(before).length);
    }
    con = await attach(core, 'efi', 0);
    expect(await sh(con, 'echo alive')).toContain('alive');
  });
});
