// Live snapshots of a running box without pausing it (issue 17): one QMP transaction switches
// QEMU to the overlay, the renames follow under the intent. One booted guest for the file.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { backingOf, diskDigest } from '../helpers/disk.js';
import type { SerialDriver } from '../helpers/guest.js';
import { boot, openBootedVm, sh, type VmHome } from '../helpers/vm.js';

const DRIVER = path.resolve('test/helpers/crash-driver.mjs');
let h: VmHome;
let con: SerialDriver;

beforeAll(async () => {
  ({ h, con } = await openBootedVm());
}, 180_000);
afterAll(async () => {
  con?.close();
  await h?.cleanup();
});

const boxId = () => h.core.boxes.resolve('vm').id;
const session = () => (h.core.vms as Supervisor).session(boxId());

function qemuImgCheck(file: string): void {
  const r = spawnSync('qemu-img', ['check', '-U', '-f', 'qcow2', file], { encoding: 'utf8' });
  expect(r.status, `${file}: ${r.stdout}${r.stderr}`).toBe(0);
}

/** Digest of every snapshot, read while QEMU may hold them (-U). */
function digests(): Record<string, string> {
  return Object.fromEntries(h.core.store.listSnapshots(boxId()).map((s) => [s.name, diskDigest(s.diskPath, { shareLocked: true })]));
}

describe('a disk-only live snapshot', () => {
  it('never pauses the guest: QEMU reports no STOP or RESUME while it is taken', async () => {
    const events: string[] = [];
    const offs = ['STOP', 'RESUME'].map((e) => session().qmp.on(e, () => events.push(e)));
    try {
      const s = await h.core.snapshots.create({ box: 'vm', name: 'quiet' });
      expect(s.live).toBe(true);
    } finally {
      for (const off of offs) off();
    }
    expect(events).toEqual([]);
    expect((await session().qmp.execute<{ status: string }>('query-status')).status).toBe('running');
  });

  it('five snapshots while the guest writes all the time each restore to exactly their bytes and files', async () => {
    // A writer that never stops: a counter file and a churned block, synced every round.
    await sh(con, '(while :; do i=$((i+1)); echo $i > /mnt/count; dd if=/dev/urandom of=/mnt/churn bs=4k count=8 2>/dev/null; sync; done) >/dev/null 2>&1 & echo $! > /tmp/writer');
    const taken: { name: string; digest: string }[] = [];
    for (let k = 1; k <= 5; k++) {
      await sh(con, `echo file-${k} > /mnt/s${k}; sync`);
      const s = await h.core.snapshots.create({ box: 'vm', name: `w${k}` });
      taken.push({ name: s.name, digest: diskDigest(s.diskPath, { shareLocked: true }) });
    }
    // The frozen layers do not move while the guest writes on.
    await sh(con, 'sleep 1');
    for (const t of taken) expect(digests()[t.name], t.name).toBe(t.digest);
    await sh(con, 'kill $(cat /tmp/writer)');
    con.close();
    await h.core.vms.stop('vm', { force: true });
    const box = h.core.boxes.resolve('vm');
    for (const f of [box.liveDiskPath, ...h.core.store.listSnapshots(box.id).map((s) => s.diskPath)]) qemuImgCheck(f);
    for (const t of taken) {
      await h.core.snapshots.restore({ box: 'vm', snapshot: t.name });
      expect(diskDigest(box.liveDiskPath), t.name).toBe(t.digest);
    }
    await h.core.snapshots.restore({ box: 'vm', snapshot: 'w3' });
    con = await boot(h.core, 'vm');
    for (let k = 1; k <= 3; k++) expect(await sh(con, `cat /mnt/s${k}`)).toContain(`file-${k}`);
    expect(await sh(con, '[ -e /mnt/s4 ] && echo present || echo absent')).toContain('absent');
  }, 300_000);
});

describe('the owner and its QEMU both killed at a step of a live snapshot', () => {
  // With QEMU dead nothing tells whether the switch ran: recovery completes forward once the
  // overlay was whole (the intent's `ready`), back before; every snapshot stays as it was.
  // after-switch and after-vars leave the same files as after-overlay (the renames follow the
  // switch), so with QEMU dead they are this same case; supervisor-crash covers them alive.
  const cases: [string, boolean][] = [['after-picture', false], ['after-overlay', true], ['after-freeze', true]];
  let marker = 0;

  it.each(cases)('%s: recovered, forward %s; the guest\'s synced writes kept', async (step, forward) => {
    if (h.core.boxes.resolve('vm').status !== 'running') con = await boot(h.core, 'vm');
    const n = ++marker;
    await sh(con, `echo m${n} > /mnt/k${n}; sync`);
    con.close();
    const before = digests();
    const pid = session().pid;
    await h.core.close();
    const name = `dead-${step}`;
    const r = spawnSync(process.execPath, [DRIVER, h.dir, 'snapshots:create', JSON.stringify({ box: 'vm', name })], {
      encoding: 'utf8', env: { ...process.env, BOXKEEP_CRASH_AT: `live-create:${step}` }, timeout: 120_000,
    });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 200 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((res) => setTimeout(res, 25));

    const core = await h.reopen();
    const box = core.boxes.resolve('vm');
    expect(box.status, step).not.toBe('running');
    expect(fs.readdirSync(core.paths.boxJournal(box.id)), step).toEqual([]);
    expect(fs.existsSync(core.paths.nextDisk(box.id)), step).toBe(false);
    const made = core.store.findSnapshot(box.id, name);
    expect(made !== null, step).toBe(forward);
    expect(backingOf(box.liveDiskPath), step).toBe(core.store.getSnapshot(box.currentSnapshotId!)!.diskPath);
    expect(fs.readdirSync(core.paths.snapshotsDir(box.id)).sort(), step).toEqual(core.store.listSnapshots(box.id).map((s) => s.id).sort());
    const now = digests();
    for (const [s, digest] of Object.entries(before)) expect(now[s], `${step}: snapshot ${s}`).toBe(digest);
    for (const f of [box.liveDiskPath, ...core.store.listSnapshots(box.id).map((s) => s.diskPath)]) qemuImgCheck(f);
    con = await boot(core, 'vm');
    expect(await sh(con, `cat /mnt/k${n}`), step).toContain(`m${n}`);
  }, 240_000);
});
