// Live snapshots of a running box without pausing it (issue 17): one QMP transaction switches
// QEMU to the overlay, the renames follow under the intent. One booted guest (with its agent:
// the snapshots freeze its filesystem) for the file; each QEMU-killed case boots the next.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDiskTop, type BlockDevice } from '../../electron/core/vm/nodes.js';
import { QmpClient } from '../../electron/core/vm/qmp.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { backingOf, diskDigest } from '../helpers/disk.js';
import { AGENT_APPEND, guestFileOf, type SerialDriver } from '../helpers/guest.js';
import { expectDropped, expectUnsettled as expectUnsettledBy, hungSnapshot as hungSwitch, refusedOnceItAnswers } from '../helpers/hung-switch.js';
import { boot, consoleOf, openBootedVm, sh, type VmHome } from '../helpers/vm.js';

const DRIVER = path.resolve('test/helpers/crash-driver.mjs');
let h: VmHome;
let con: SerialDriver;

beforeAll(async () => {
  ({ h, con } = await openBootedVm({ append: AGENT_APPEND }));
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

/** The guest's ext4 (the whole disk) read back raw from a layer and its backing chain. */
function rawOf(file: string): string {
  const raw = path.join(h.dir, 'check.raw');
  execFileSync('qemu-img', ['convert', '-U', '-O', 'raw', file, raw]);
  return raw;
}

/** `e2fsck -fn` of a layer's filesystem: no journal replay, no fix, nothing to find. */
function e2fsckClean(file: string): void {
  const r = spawnSync('e2fsck', ['-fn', rawOf(file)], { encoding: 'utf8' });
  expect(r.status, `${file}: ${r.stdout}${r.stderr}`).toBe(0);
}

/** A file of the guest's filesystem as a layer holds it, as the guest would see it at its next mount. */
const guestFile = (file: string, name: string) => guestFileOf(file, name, h.dir);

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

  it('a switch QEMU answers only after its timeout is not undone: the guest\'s writes after it are kept', async () => {
    // QEMU stopped (SIGSTOP) as the transaction goes out and let go after its 10 s timeout:
    // the transaction runs late. Undoing then would delete the overlay QEMU writes to.
    const qmp = session().qmp;
    const pid = session().pid;
    const execute = qmp.execute.bind(qmp);
    let resume: NodeJS.Timeout | undefined;
    qmp.execute = ((command: string, args?: Record<string, unknown>, opts?: { timeoutMs?: number }) => {
      if (command === 'transaction') {
        process.kill(pid, 'SIGSTOP');
        resume = setTimeout(() => process.kill(pid, 'SIGCONT'), 14_000);
      }
      return execute(command, args, opts);
    }) as typeof qmp.execute;
    let made: unknown;
    try {
      made = await h.core.snapshots.create({ box: 'vm', name: 'late' }).catch((err: Error) => err);
    } finally {
      qmp.execute = execute;
      clearTimeout(resume);
      process.kill(pid, 'SIGCONT');
    }
    await sh(con, 'echo after-late > /mnt/after-late; sync');
    const box = h.core.boxes.resolve('vm');
    expect(fs.existsSync(h.core.paths.nextDisk(box.id))).toBe(false);
    expect(fs.readdirSync(h.core.paths.boxJournal(box.id))).toEqual([]);
    expect((made as { name?: string }).name, String(made)).toBe('late');
    expect(backingOf(box.liveDiskPath)).toBe(h.core.store.findSnapshot(box.id, 'late')!.diskPath);
    // What QEMU writes lands in the file the box's disk is: read back through a fresh chain.
    expect(guestFile(box.liveDiskPath, 'after-late')).toContain('after-late');
  }, 120_000);

  it('five snapshots while the guest writes all the time each restore to exactly their bytes and files', async () => {
    // A writer that never stops: a counter file and a churned block, synced every round.
    await sh(con, '(while :; do i=$((i+1)); echo $i > /mnt/count; dd if=/dev/urandom of=/mnt/churn bs=4k count=8 2>/dev/null; sync; done) >/dev/null 2>&1 & echo $! > /tmp/writer');
    const taken: { name: string; digest: string }[] = [];
    for (let k = 1; k <= 5; k++) {
      await sh(con, `echo file-${k} > /mnt/s${k}; sync`);
      const s = await h.core.snapshots.create({ box: 'vm', name: `w${k}` });
      expect(s.taken, s.name).toBe('filesystems-frozen');
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
    // Frozen by the guest's agent at the switch: each snapshot's filesystem is clean as it is.
    for (const t of taken) e2fsckClean(h.core.store.findSnapshot(box.id, t.name)!.diskPath);
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

/** Runs a live snapshot in an owner killed at `step` (QEMU keeps running); returns QEMU's pid. */
async function crashOwner(step: string, name: string): Promise<number> {
  const pid = session().pid;
  await h.core.close();
  const r = spawnSync(process.execPath, [DRIVER, h.dir, 'snapshots:create', JSON.stringify({ box: 'vm', name })], {
    encoding: 'utf8', env: { ...process.env, BOXKEEP_CRASH_AT: `live-create:${step}` }, timeout: 120_000,
  });
  expect(r.signal, r.stderr).toBe('SIGKILL');
  return pid;
}

describe('a running QEMU the next owner cannot take control of', () => {
  it('keeps an interrupted live snapshot\'s files and intent as they are, and settles it once it can', async () => {
    // Killed with the overlay ready and not switched to: renaming forward now would make the
    // file QEMU writes the snapshot's disk. Another monitor client holds QEMU's only QMP seat.
    con.close();
    const qmpSocket = path.join(session().runDir, 'qmp.sock');
    await crashOwner('after-overlay', 'held');
    const holder = await QmpClient.connect(qmpSocket, { timeoutMs: 5000 });
    try {
      const core = await h.reopen();
      const box = core.boxes.resolve('vm');
      expect(core.lastRecovery!.items.map((i) => i.message).join('\n')).toMatch(/could not take control/);
      const records = fs.readdirSync(core.paths.boxJournal(box.id));
      expect(records).toHaveLength(1);
      const intent = JSON.parse(fs.readFileSync(path.join(core.paths.boxJournal(box.id), records[0]!), 'utf8'));
      expect(fs.existsSync(core.paths.nextDisk(box.id))).toBe(true);
      expect(fs.existsSync(intent.snapshot.diskPath)).toBe(false);
      expect(core.store.findSnapshot(box.id, 'held')).toBeNull();
    } finally {
      holder.close();
    }
    const core = await h.reopen();
    const box = core.boxes.resolve('vm');
    expect(fs.readdirSync(core.paths.boxJournal(box.id))).toEqual([]);
    expect(fs.existsSync(core.paths.nextDisk(box.id))).toBe(false);
    expect(core.store.findSnapshot(box.id, 'held')).toBeNull();
    expect(box.status).toBe('running');
    con = await consoleOf(core, box.id, { fresh: false });
    await sh(con, 'echo held-after > /mnt/held; sync');
  }, 120_000);
});

describe('a QEMU that stops answering while a live snapshot switches', () => {
  const hungSnapshot = (name: string, opts: { refusedLate?: boolean } = {}) => hungSwitch(h.core, 'vm', name, opts);
  const expectUnsettled = (err: unknown, name: string) => expectUnsettledBy(h.core, 'vm', err, name);

  it('gives up after its limit without undoing, lets the box go, and recovery completes the snapshot once QEMU answers', async () => {
    await sh(con, 'echo before-hung > /mnt/before-hung; sync');
    const { err, pid } = await hungSnapshot('hung');
    try {
      expectUnsettled(err, 'hung');
      // The box's queue is free again, and what would act on the half-made snapshot refuses.
      await expect(h.core.snapshots.create({ box: 'vm', name: 'meanwhile' })).rejects.toMatchObject({ code: 'InvalidState', message: expect.stringMatching(/^The live snapshot "hung" of the box "vm" is not settled yet \(operation [0-9a-f]{12}\): its QEMU did not say whether it switched disks.*or now with "boxkeep recover".*Until then Boxkeep does nothing else with the box\.$/) });
      expect(h.core.store.findSnapshot(boxId(), 'meanwhile')).toBeNull();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The transaction runs late: QEMU writes to the overlay, so only forward keeps its writes.
    await h.core.recover();
    const box = h.core.boxes.resolve('vm');
    const hung = h.core.store.findSnapshot(box.id, 'hung');
    expect(hung, 'recovery must complete the snapshot QEMU switched to').not.toBeNull();
    expect(fs.readdirSync(h.core.paths.boxJournal(box.id))).toEqual([]);
    expect(fs.existsSync(h.core.paths.nextDisk(box.id))).toBe(false);
    expect(backingOf(box.liveDiskPath)).toBe(hung!.diskPath);
    expect(box.status).toBe('running');
    await sh(con, 'echo after-hung > /mnt/after-hung; sync');
    expect(guestFile(box.liveDiskPath, 'after-hung')).toContain('after-hung');
    expect(guestFile(hung!.diskPath, 'before-hung')).toContain('before-hung');
    qemuImgCheck(hung!.diskPath);
  }, 120_000);

  it('a switch QEMU turns down once it answers: recovery drops the unsettled snapshot and the box reads on as before', async () => {
    await refusedOnceItAnswers(h.core, 'vm', 'hung-refused', { con, guestFile, settle: async () => void (await h.core.recover()) });
  }, 120_000);

  it('a QEMU killed while its snapshot is unsettled: recovery completes it forward from the files', async () => {
    await sh(con, 'echo before-dead > /mnt/before-dead; sync');
    con.close();
    const before = digests();
    const { err, pid } = await hungSnapshot('hung-dead');
    try {
      expectUnsettled(err, 'hung-dead');
    } finally {
      process.kill(pid, 'SIGKILL');
    }
    for (let i = 0; i < 400 && (fs.existsSync(`/proc/${pid}`) || h.core.boxes.resolve('vm').status === 'running'); i++) await new Promise((r) => setTimeout(r, 25));
    await h.core.recover();
    const box = h.core.boxes.resolve('vm');
    expect(box.status).not.toBe('running');
    const made = h.core.store.findSnapshot(box.id, 'hung-dead');
    expect(made, 'ready and QEMU gone: forward').not.toBeNull();
    expect(fs.readdirSync(h.core.paths.boxJournal(box.id))).toEqual([]);
    expect(fs.existsSync(h.core.paths.nextDisk(box.id))).toBe(false);
    expect(backingOf(box.liveDiskPath)).toBe(made!.diskPath);
    for (const [s, digest] of Object.entries(before)) expect(digests()[s], `snapshot ${s}`).toBe(digest);
    for (const f of [box.liveDiskPath, made!.diskPath]) qemuImgCheck(f);
    expect(guestFile(made!.diskPath, 'before-dead')).toContain('before-dead');
  }, 120_000);

  it('stopped with --force as its error says, then recovered: the snapshot is completed and the box is stopped, not failed', async () => {
    if (h.core.boxes.resolve('vm').status !== 'running') con = await boot(h.core, 'vm');
    await sh(con, 'echo before-stop > /mnt/before-stop; sync');
    con.close();
    const { err, pid } = await hungSnapshot('hung-stop');
    try {
      expectUnsettled(err, 'hung-stop');
      await h.core.vms.stop('vm', { force: true });
    } finally {
      try { process.kill(pid, 'SIGKILL'); } catch { /* stopped already */ }
    }
    expect(h.core.boxes.resolve('vm').status).toBe('stopped');
    const report = await h.core.recover();
    const box = h.core.boxes.resolve('vm');
    const said = report.items.map((i) => i.message).join('\n');
    expect({ status: box.status, failureReason: box.failureReason }, said).toEqual({ status: 'stopped', failureReason: null });
    expect(said).not.toMatch(/stopped unexpectedly/);
    const made = h.core.store.findSnapshot(box.id, 'hung-stop');
    expect(made, 'ready and QEMU gone: forward').not.toBeNull();
    expect(fs.readdirSync(h.core.paths.boxJournal(box.id))).toEqual([]);
    expect(backingOf(box.liveDiskPath)).toBe(made!.diskPath);
    expect(guestFile(made!.diskPath, 'before-stop')).toContain('before-stop');
  }, 240_000);
});

/**
 * With the snapshot's owner dead (ready, not switched), someone else switches QEMU to an
 * overlay of their own: QEMU then reads one layer more than the rows, as after our switch, but
 * the extra layer is not our overlay. The next owner must not take that chain for the
 * snapshot's (and then drop the snapshot's files as if nothing had happened): it leaves QEMU
 * and the files alone, the intent kept.
 */
async function foreignOverlayRefused(runDir: string): Promise<void> {
  const foreign = path.join(h.dir, 'foreign.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', foreign, '64M']);
  const qmp = await QmpClient.connect(path.join(runDir, 'qmp.sock'), { timeoutMs: 5000 });
  try {
    const top = bootDiskTop(await qmp.execute<BlockDevice[]>('query-block'))!;
    await qmp.execute('blockdev-add', { driver: 'file', 'node-name': 'f90', filename: foreign });
    await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': 'q90', file: 'f90', backing: null });
    await qmp.execute('transaction', { actions: [{ type: 'blockdev-snapshot', data: { node: top, overlay: 'q90' } }] });
  } finally {
    qmp.close();
  }
  const core = await h.reopen();
  const box = core.boxes.resolve('vm');
  expect(core.lastRecovery!.items.map((i) => i.message).join('\n')).toMatch(/could not take control/);
  expect(fs.readdirSync(core.paths.boxJournal(box.id))).toHaveLength(1);
  expect(fs.existsSync(core.paths.nextDisk(box.id))).toBe(true);
  await core.close();
}

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
    const name = `dead-${step}`;
    const runDir = session().runDir;
    const pid = await crashOwner(step, name);
    if (step === 'after-overlay') await foreignOverlayRefused(runDir);
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
    // Read back from the disk, not by a boot: the next case boots the box (it needs a guest).
    expect(guestFile(box.liveDiskPath, `k${n}`), step).toContain(`m${n}`);
  }, 240_000);
});
