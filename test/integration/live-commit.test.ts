// Removing the snapshot a running box's live disk backs onto, the cheaper way: QEMU's active
// commit when the live disk holds less than the snapshot, block-stream when it holds more; both
// while the guest writes. Then the active commit killed at each of its steps and recovered,
// with QEMU still running and with QEMU killed too. One booted guest for the whole file.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CRASH_POINTS } from '../../electron/core/operations.js';
import { diskSpace, updateSettings } from '../../electron/core/space.js';
import { bootDiskTop, nextTop } from '../../electron/core/vm/nodes.js';
import { QmpClient } from '../../electron/core/vm/qmp.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { listedAndRealSizes } from '../helpers/core.js';
import { backingOf, diskDigest } from '../helpers/disk.js';
import { removeLosingThePivotReply } from '../helpers/hung-switch.js';
import { attach, boot, sh, sharedBootedVm } from '../helpers/vm.js';

const DRIVER = path.resolve('test/helpers/crash-driver.mjs');
const vm = sharedBootedVm();

const box = () => vm.h.core.boxes.resolve('vm');
const session = () => (vm.h.core.vms as Supervisor).session(box().id);

/** Digest of every snapshot, read while QEMU holds them (-U). */
function digests(): Record<string, string> {
  return Object.fromEntries(vm.h.core.store.listSnapshots(box().id).map((s) => [s.name, diskDigest(s.diskPath, { shareLocked: true })]));
}

/** md5 of guest files, as the guest reads them. */
async function sums(files: string[]): Promise<string> {
  return (await sh(vm.con, `md5sum ${files.join(' ')}`)).trim();
}

/** A guest that writes all the time (a little, and syncs), until stopWriter(). */
async function startWriter() {
  await sh(vm.con, 'rm -f /mnt/stop; (i=0; while [ ! -e /mnt/stop ]; do i=$((i+1)); echo $i > /mnt/count; dd if=/dev/urandom of=/mnt/noise bs=4k count=4 conv=notrunc 2>/dev/null; sync; usleep 100000; done) & echo started');
}
async function stopWriter(): Promise<number> {
  await sh(vm.con, 'touch /mnt/stop; sleep 1; sync');
  return Number((await sh(vm.con, 'cat /mnt/count')).trim().split(/\s+/).pop());
}

/** Files of the home QEMU holds open though they have no name any more. */
function heldDeleted(): string[] {
  const dir = `/proc/${session().pid}/fd`;
  const targets = fs.readdirSync(dir).map((fd) => { try { return fs.readlinkSync(path.join(dir, fd)); } catch { return ''; } });
  return targets.filter((t) => t.startsWith(vm.h.core.paths.root) && t.endsWith('(deleted)'));
}

/** The snapshot list's sizes are what the files take (the guest writes only the live disk, which is not listed). */
function expectTrueSizes(): void {
  const { listed, real } = listedAndRealSizes(vm.h.core, 'vm');
  expect(listed).toEqual(real);
}

/** Removes a snapshot, telling which block job QEMU ran for it. */
async function removeWatchingJobs(snapshotId: string): Promise<string[]> {
  const types: string[] = [];
  const off = session().qmp.on('BLOCK_JOB_COMPLETED', (e) => types.push(String(e.data?.type)));
  try {
    await vm.h.core.snapshots.remove('vm', snapshotId);
  } finally {
    off();
  }
  return types;
}

describe('live removal chooses the direction that copies less', () => {
  it('commits a live disk holding 256 KiB down into a snapshot holding 4 MiB while the guest writes; the live disk keeps its path and files', async () => {
    await startWriter();
    await sh(vm.con, 'dd if=/dev/urandom of=/mnt/big bs=64k count=64 2>/dev/null; sync');
    const parent = await vm.h.core.snapshots.create({ box: 'vm', name: 'before-big' });
    await sh(vm.con, 'dd if=/dev/urandom of=/mnt/big2 bs=64k count=64 2>/dev/null; sync');
    const big = await vm.h.core.snapshots.create({ box: 'vm', name: 'big' });
    await sh(vm.con, 'dd if=/dev/urandom of=/mnt/small bs=64k count=4 2>/dev/null; sync');
    const before = digests();
    const files = await sums(['/mnt/big', '/mnt/big2', '/mnt/small']);
    const live = box().liveDiskPath;
    const bigInode = fs.statSync(big.diskPath).ino;
    const bigNodes = session().nodes.snapshots[big.id]!;
    expect(bigNodes.format).toMatch(/^q\d+$/);

    const stops: unknown[] = [];
    const offStop = session().qmp.on('STOP', (e) => stops.push(e));
    const logged: { msg: string; fields: Record<string, unknown> }[] = [];
    const info = vm.h.core.logger.info;
    vm.h.core.logger.info = (msg, fields) => {
      logged.push({ msg, fields: fields ?? {} });
      info.call(vm.h.core.logger, msg, fields);
    };
    expect(await removeWatchingJobs(big.id).finally(() => { offStop(); vm.h.core.logger.info = info; })).toEqual(['commit']);
    // The log says how long the guest's disk requests were held, and the note's share of it.
    const pivotLog = logged.find((l) => l.msg === 'live merge pivot')?.fields;
    expect(pivotLog).toMatchObject({ op: 'snapshot-remove', boxId: box().id, snapshotId: big.id, held_io_ms: expect.any(Number), note_ms: expect.any(Number) });
    expect(pivotLog!.note_ms as number).toBeLessThan(pivotLog!.held_io_ms as number);
    // The guest was never stopped: the job held its disk requests in PENDING for the note instead.
    expect(stops).toEqual([]);
    // Nor does the removal leave listeners on QEMU's events behind (each with a day-long timer).
    const listeners = (session().qmp as unknown as { listeners: Map<string, Set<unknown>> }).listeners;
    expect(['BLOCK_JOB_READY', 'BLOCK_JOB_COMPLETED', 'BLOCK_JOB_ERROR', 'JOB_STATUS_CHANGE'].map((e) => listeners.get(e)?.size ?? 0)).toEqual([0, 0, 0, 0]);
    // A layer a live snapshot made becomes the live disk under its own nodes, none renamed.
    expect(session().nodes.top).toEqual(bigNodes);
    expect(bootDiskTop(await session().qmp.execute('query-block'))).toBe(bigNodes.format);
    // The snapshot's file, merged, is the live disk now, at the live path.
    expect(fs.statSync(live).ino).toBe(bigInode);
    expect(box().liveDiskPath).toBe(live);
    expect(backingOf(live)).toBe(parent.diskPath);
    expect(box().currentSnapshotId).toBe(parent.id);
    expect(fs.existsSync(path.dirname(big.diskPath))).toBe(false);
    // The old top was freed by the trash once QEMU closed it: nothing of the home is held deleted.
    await vm.h.core.trash.drained();
    expect(fs.readdirSync(vm.h.core.paths.trashDir)).toEqual([]);
    expect(heldDeleted()).toEqual([]);
    const count = await stopWriter();
    expect(count).toBeGreaterThan(0);
    expect(await sums(['/mnt/big', '/mnt/big2', '/mnt/small'])).toBe(files);
    const after = digests();
    for (const [name, digest] of Object.entries(before)) if (name !== 'big') expect(after[name], name).toBe(digest);
    expect(after.big).toBeUndefined();
    expectTrueSizes();
    // It keeps writing to the live disk, and the next snapshot works.
    await startWriter();
    await vm.h.core.snapshots.create({ box: 'vm', name: 'after-commit' });
    expect(await stopWriter()).toBeGreaterThan(0);
  });

  it('streams a snapshot holding 256 KiB up into a live disk holding 4 MiB while the guest writes', async () => {
    await startWriter();
    await sh(vm.con, 'dd if=/dev/urandom of=/mnt/small2 bs=64k count=4 2>/dev/null; sync');
    const small = await vm.h.core.snapshots.create({ box: 'vm', name: 'small' });
    await sh(vm.con, 'dd if=/dev/urandom of=/mnt/big3 bs=64k count=64 2>/dev/null; sync');
    const before = digests();
    const files = await sums(['/mnt/small2', '/mnt/big3']);
    const live = box().liveDiskPath;
    const liveInode = fs.statSync(live).ino;

    expect(await removeWatchingJobs(small.id)).toEqual(['stream']);
    expect(fs.statSync(live).ino).toBe(liveInode);
    expect(backingOf(live)).toBe(vm.h.core.store.getSnapshot(small.parentId!)!.diskPath);
    expect(await stopWriter()).toBeGreaterThan(0);
    expect(await sums(['/mnt/small2', '/mnt/big3'])).toBe(files);
    const after = digests();
    for (const [name, digest] of Object.entries(before)) if (name !== 'small') expect(after[name], name).toBe(digest);
    expectTrueSizes();
  });

  it('streams a removed snapshot into the snapshot above it, whose size the list then shows', async () => {
    await sh(vm.con, 'dd if=/dev/urandom of=/mnt/mid bs=64k count=16 2>/dev/null; sync');
    const mid = await vm.h.core.snapshots.create({ box: 'vm', name: 'mid' });
    await sh(vm.con, 'dd if=/dev/urandom of=/mnt/upper bs=64k count=4 2>/dev/null; sync');
    const upper = await vm.h.core.snapshots.create({ box: 'vm', name: 'upper' });
    const files = await sums(['/mnt/mid', '/mnt/upper']);
    const upperBefore = listedAndRealSizes(vm.h.core, 'vm').listed.upper!;
    expect(await removeWatchingJobs(mid.id)).toEqual(['stream']);
    expect(vm.h.core.store.getSnapshot(upper.id)!.parentId).toBe(mid.parentId);
    expect(await sums(['/mnt/mid', '/mnt/upper'])).toBe(files);
    expectTrueSizes();
    // The recorded size, not only the one read while QEMU holds the layer: the check after the stop reads it.
    expect(vm.h.core.store.getSnapshot(upper.id)!.sizeOnDisk).toBeGreaterThan(upperBefore + 512 * 1024);
  });

  it('checks by path only the two layers it merges, however deep the chain: a removed snapshot swapped for a link is still refused', async () => {
    const deep: string[] = [];
    for (let i = 1; i <= 4; i++) deep.push((await vm.h.core.snapshots.create({ box: 'vm', name: `deep${i}` })).diskPath);
    await sh(vm.con, 'echo victim > /mnt/victim; sync');
    const victim = await vm.h.core.snapshots.create({ box: 'vm', name: 'victim' });
    await sh(vm.con, 'echo above > /mnt/above; sync');
    // Swapped for a link to itself: QEMU still reads its own descriptor, but the path is not Boxkeep's file.
    const aside = `${victim.diskPath}.aside`;
    fs.renameSync(victim.diskPath, aside);
    fs.symlinkSync(aside, victim.diskPath);
    try {
      const err = await vm.h.core.snapshots.remove('vm', victim.id).then(() => null, (e: Error & { code?: string }) => e);
      expect(err?.code, String(err)).toBe('Storage');
      expect(err!.message).toMatch(/snapshot "victim" of the box "vm".*symbolic link/i);
    } finally {
      fs.rmSync(victim.diskPath);
      fs.renameSync(aside, victim.diskPath);
    }
    expect(vm.h.core.store.getSnapshot(victim.id)).not.toBeNull();
    const open = vi.spyOn(fs, 'openSync');
    let opened: string[];
    try {
      await vm.h.core.snapshots.remove('vm', victim.id);
      opened = open.mock.calls.map(([p]) => String(p));
    } finally {
      open.mockRestore();
    }
    expect(opened).toContain(victim.diskPath);
    expect(opened).toContain(box().liveDiskPath);
    for (const file of deep) expect(opened, file).not.toContain(file);
    expect(vm.h.core.store.getSnapshot(victim.id)).toBeNull();
    expect((await sh(vm.con, 'cat /mnt/victim /mnt/above')).trim().split(/\s+/)).toEqual(['victim', 'above']);
    for (const name of ['deep1', 'deep2', 'deep3', 'deep4']) await vm.h.core.snapshots.remove('vm', name);
  });

  it('counts against the disk reserve what the chosen direction writes: a commit of the small live disk is not refused for the stream it avoids', async () => {
    await sh(vm.con, 'dd if=/dev/urandom of=/mnt/big4 bs=64k count=512 2>/dev/null; sync');
    const big = await vm.h.core.snapshots.create({ box: 'vm', name: 'big4' });
    await sh(vm.con, 'echo small > /mnt/small4; sync');
    const files = await sums(['/mnt/big4', '/mnt/small4']);
    // 12 MiB left above the reserve: the commit writes about 1 MiB, a stream would write 32 MiB.
    updateSettings(vm.h.core, { diskReserve: diskSpace(vm.h.core).free - 12 * 1024 * 1024 });
    try {
      expect(await removeWatchingJobs(big.id)).toEqual(['commit']);
    } finally {
      updateSettings(vm.h.core, { diskReserve: 'default' });
    }
    expect(vm.h.core.store.getSnapshot(big.id)).toBeNull();
    expect(await sums(['/mnt/big4', '/mnt/small4'])).toBe(files);
  });
});

describe('a pivot whose reply never comes', () => {
  // QEMU runs block-job-complete, but its reply is lost (as when it comes after the command's
  // timeout): the guest must not run again before the pivot is noted, or a QEMU dying later
  // would have recovery take the stale old top.
  /** A snapshot `name` (after the file `before`, before `after`) removed by commit, block-job-complete's reply lost. */
  async function removeLosingTheReply(name: string, files: { before: string; after: string }) {
    await sh(vm.con, `echo ${name}-before > /mnt/${files.before}; sync`);
    const removed = await vm.h.core.snapshots.create({ box: 'vm', name });
    await sh(vm.con, `echo ${name}-after > /mnt/${files.after}; sync`);
    const before = digests();
    await removeLosingThePivotReply(vm.h.core, 'vm', removed.id);
    return { removed, before };
  }

  it('is noted before the guest runs again; recovery then finishes the removal, and the guest reads every file', async () => {
    // The owner's own retry (next test) waits past this test: `recover` alone must finish it.
    process.env.BOXKEEP_SETTLE_RETRY_MS = '600000';
    const { removed, before } = await removeLosingTheReply('lost', { before: 'lb', after: 'la' }).finally(() => delete process.env.BOXKEEP_SETTLE_RETRY_MS);
    const journal = vm.h.core.paths.boxJournal(box().id);
    const records = fs.readdirSync(journal).map((f) => JSON.parse(fs.readFileSync(path.join(journal, f), 'utf8')));
    expect(records).toMatchObject([{ op: 'live-commit', pivoted: true }]);
    expect((await session().qmp.execute<{ status: string }>('query-status')).status).toBe('running');
    expect(session().nodes.top).toEqual(records[0].base);
    await sh(vm.con, 'echo lost-later > /mnt/ll; sync');
    expect(fs.readdirSync(journal), 'the record waits for recover').toHaveLength(1);

    await vm.h.core.recover();
    expect(fs.readdirSync(journal)).toEqual([]);
    expect(vm.h.core.store.getSnapshot(removed.id)).toBeNull();
    expect(box().currentSnapshotId).toBe(removed.parentId);
    const now = digests();
    for (const [name, digest] of Object.entries(before)) if (name !== 'lost') expect(now[name], name).toBe(digest);
    expect((await sh(vm.con, 'cat /mnt/lb /mnt/la /mnt/ll')).trim().split(/\s+/)).toEqual(['lost-before', 'lost-after', 'lost-later']);
  });

  it('is finished by the owner itself within seconds, no recover needed: the box takes changes again, and the app hears how it ended', async () => {
    const reports: string[] = [];
    const off = vm.h.core.events.on('recovery:report', (r) => reports.push(...r.items.map((i) => i.message)));
    try {
      const { removed, before } = await removeLosingTheReply('gone', { before: 'gb', after: 'ga' });
      const journal = vm.h.core.paths.boxJournal(box().id);
      // Until it is finished the box refuses changes, saying why and that it finishes by itself,
      // and its detail (the app's banner, `box show`) names the removal.
      expect((await vm.h.core.boxes.detail('vm')).unsettled).toMatchObject({ kind: 'removal', snapshotName: 'gone', qemuPid: session().pid });
      const why = 'Deleting the snapshot "gone" of the box "vm" stopped after its data began to merge \\(operation [0-9a-f]{12}\\), and cannot be undone, only finished';
      await expect(vm.h.core.snapshots.create({ box: 'vm', name: 'too-soon' })).rejects.toMatchObject({ code: 'InvalidState', message: expect.stringMatching(new RegExp(`^${why}.*finishes it by itself \\(within seconds while the app or "boxkeep serve" holds the home, else when the home is next opened\\).*Until then Boxkeep does nothing else with the box\\.$`)) });
      // Nor a pause: the settle resumes a guest the removal left stopped, and would undo it.
      await expect(vm.h.core.vms.pause('vm')).rejects.toMatchObject({ code: 'InvalidState', message: expect.stringMatching(new RegExp(`^${why}.*Until then the box cannot be paused\\.$`)) });
      await expect.poll(() => fs.readdirSync(journal), { timeout: 20_000, interval: 200 }).toEqual([]);
      expect(vm.h.core.store.getSnapshot(removed.id)).toBeNull();
      expect((await vm.h.core.boxes.detail('vm')).unsettled).toBeNull();
      expect(box().currentSnapshotId).toBe(removed.parentId);
      expect(reports.join('\n')).toContain('Deleting snapshot "gone" of a running box was interrupted; it was completed');
      const now = digests();
      for (const [name, digest] of Object.entries(before)) if (name !== 'gone') expect(now[name], name).toBe(digest);
      expect((await sh(vm.con, 'cat /mnt/gb /mnt/ga')).trim().split(/\s+/)).toEqual(['gone-before', 'gone-after']);
      // The box takes changes again.
      expect((await vm.h.core.snapshots.create({ box: 'vm', name: 'after-gone' })).name).toBe('after-gone');
    } finally {
      off();
    }
  });

  it('a live removal running normally, even one queued behind a recover, is not taken for one left over: no banner while it runs', async () => {
    // Boxes on either side of vm in the order recover takes their queues (by id): the owner's
    // search for records left over runs while recover still holds them all (Core.recover).
    // vm not the first: the outermost queue, released last, leaves the least time for the race.
    // Ids are random: a vm id near 0 needs many tries (20 were once not enough in CI).
    for (let n = 0; n < 400 && !vm.h.core.store.listBoxes().some((b) => b.id < box().id); n++) await vm.h.core.boxes.create({ name: `queue-${n}`, image: 'tiny' });
    expect(vm.h.core.store.listBoxes().some((b) => b.id < box().id)).toBe(true);
    const removed = await vm.h.core.snapshots.create({ box: 'vm', name: 'queued' });
    const journal = vm.h.core.paths.boxJournal(box().id);
    const { qmp } = session();
    const execute = qmp.execute;
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let reached = () => {};
    const atJob = new Promise<void>((resolve) => (reached = resolve));
    qmp.execute = async function (this: QmpClient, command: string, args?: Record<string, unknown>, opts?: { timeoutMs?: number }) {
      if (command === 'block-commit' || command === 'block-stream') {
        reached();
        await held;
      }
      return execute.call(this, command, args, opts);
    } as typeof qmp.execute;
    try {
      const recovering = vm.h.core.recover();
      // Once it holds every queue (taking them is a few microtasks), the removal waits behind it.
      await new Promise((resolve) => setImmediate(resolve));
      // By commit: the kind of record the owner tries again by itself.
      process.env.BOXKEEP_LIVE_MERGE = 'commit';
      const removing = vm.h.core.snapshots.remove('vm', removed.id).finally(() => delete process.env.BOXKEEP_LIVE_MERGE);
      await recovering;
      await atJob;
      const records = fs.readdirSync(journal).map((f) => JSON.parse(fs.readFileSync(path.join(journal, f), 'utf8')) as { op: string });
      expect(records.map((r) => r.op), 'its own record, in flight').toEqual(['live-commit']);
      expect((await vm.h.core.boxes.detail('vm')).unsettled).toBeNull();
      release();
      await removing;
    } finally {
      release();
      qmp.execute = execute;
    }
    expect(fs.readdirSync(journal)).toEqual([]);
    expect(vm.h.core.store.getSnapshot(removed.id)).toBeNull();
    expect((await vm.h.core.boxes.detail('vm')).unsettled).toBeNull();
  });
});

describe('a finalize that fails after the note', () => {
  // job-finalize failing (here: the pending job cancelled in its place, as a failure in QEMU's
  // graph change would leave it) lets the guest write to the old top again: the note must go at
  // once, or a QEMU dying later would have recovery take the removed layer's file, without them.
  it('takes the note back: a QEMU killed then leaves recovery the old top, and the guest reads what it wrote after', { timeout: 180_000 }, async () => {
    await sh(vm.con, 'echo fin-before > /mnt/fb; sync');
    const removed = await vm.h.core.snapshots.create({ box: 'vm', name: 'unfinalized' });
    await sh(vm.con, 'echo fin-after > /mnt/fa; sync');
    const before = digests();
    const { qmp, pid } = session();
    const execute = qmp.execute;
    const sent: string[] = [];
    qmp.execute = async function (this: QmpClient, command: string, args?: Record<string, unknown>, opts?: { timeoutMs?: number }) {
      sent.push(command);
      if (command !== 'job-finalize') return execute.call(this, command, args, opts);
      await execute.call(this, 'job-cancel', { id: args!.id }, opts);
      throw new Error('QMP command job-finalize failed: the graph could not be changed');
    } as typeof qmp.execute;
    process.env.BOXKEEP_LIVE_MERGE = 'commit';
    // The owner's own retry waits past this test: what a QEMU dying now leaves is what counts.
    process.env.BOXKEEP_SETTLE_RETRY_MS = '600000';
    let err: unknown;
    try {
      err = await vm.h.core.snapshots.remove('vm', removed.id).then(() => null, (e: unknown) => e);
    } finally {
      qmp.execute = execute;
      delete process.env.BOXKEEP_LIVE_MERGE;
      delete process.env.BOXKEEP_SETTLE_RETRY_MS;
    }
    expect(sent).not.toContain('stop');
    expect((err as Error | null)?.message).toMatch(/graph could not be changed[\s\S]*partly merged[\s\S]*finishes the removal by itself/);
    const journal = vm.h.core.paths.boxJournal(box().id);
    const records = fs.readdirSync(journal).map((f) => JSON.parse(fs.readFileSync(path.join(journal, f), 'utf8')));
    expect(records).toMatchObject([{ op: 'live-commit', pivoted: false }]);
    expect(bootDiskTop(await qmp.execute('query-block'))).toBe(records[0].oldTop.format);
    // The guest writes on, to the old top; then QEMU dies with the owner.
    await sh(vm.con, 'echo fin-later > /mnt/fl; sync');
    vm.con.close();
    await vm.h.core.close();
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 400 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((res) => setTimeout(res, 25));

    const core = await vm.h.reopen();
    expect(fs.readdirSync(core.paths.boxJournal(box().id))).toEqual([]);
    expect(core.store.getSnapshot(removed.id)).toBeNull();
    expect(box().currentSnapshotId).toBe(removed.parentId);
    const now = digests();
    for (const [name, digest] of Object.entries(before)) if (name !== removed.name) expect(now[name], name).toBe(digest);
    vm.con = await boot(core, 'vm');
    expect((await sh(vm.con, 'cat /mnt/fb /mnt/fa /mnt/fl')).trim().split(/\s+/)).toEqual(['fin-before', 'fin-after', 'fin-later']);
  });
});

describe('a job an earlier owner left', () => {
  /**
   * A commit removal whose owner gave up at READY (block-job-complete never sent), its job
   * started as `commitArgs` says; `then` acts on QEMU's job before recover takes it on. Returns the
   * commands recover sent.
   */
  async function leftAtReady(name: string, commitArgs: (args: Record<string, unknown>) => Record<string, unknown>, then: () => Promise<void>) {
    await sh(vm.con, `echo ${name}-before > /mnt/${name}b; sync`);
    const removed = await vm.h.core.snapshots.create({ box: 'vm', name });
    await sh(vm.con, `echo ${name}-after > /mnt/${name}a; sync`);
    const before = digests();
    const { qmp } = session();
    const execute = qmp.execute;
    qmp.execute = async function (this: QmpClient, command: string, args?: Record<string, unknown>, opts?: { timeoutMs?: number }) {
      if (command === 'block-commit') return execute.call(this, command, commitArgs(args!), opts);
      if (command === 'block-job-complete') throw new Error('QMP command block-job-complete timed out after 10000 ms');
      return execute.call(this, command, args, opts);
    } as typeof qmp.execute;
    process.env.BOXKEEP_LIVE_MERGE = 'commit';
    process.env.BOXKEEP_SETTLE_RETRY_MS = '600000';
    try {
      const err = await vm.h.core.snapshots.remove('vm', removed.id).then(() => null, (e: unknown) => e);
      expect((err as Error | null)?.message).toMatch(/timed out[\s\S]*partly merged/);
    } finally {
      qmp.execute = execute;
      delete process.env.BOXKEEP_LIVE_MERGE;
      delete process.env.BOXKEEP_SETTLE_RETRY_MS;
    }
    await then();
    const sent: string[] = [];
    qmp.execute = async function (this: QmpClient, command: string, args?: Record<string, unknown>, opts?: { timeoutMs?: number }) {
      sent.push(command);
      return execute.call(this, command, args, opts);
    } as typeof qmp.execute;
    const stops: unknown[] = [];
    const offStop = qmp.on('STOP', (e) => stops.push(e));
    try {
      await vm.h.core.recover();
    } finally {
      qmp.execute = execute;
      offStop();
    }
    expect(fs.readdirSync(vm.h.core.paths.boxJournal(box().id)), 'finished by one recover').toEqual([]);
    expect(vm.h.core.store.getSnapshot(removed.id)).toBeNull();
    expect(stops).toEqual([]);
    const now = digests();
    for (const [n, digest] of Object.entries(before)) if (n !== name) expect(now[n], n).toBe(digest);
    expect((await sh(vm.con, `cat /mnt/${name}b /mnt/${name}a`)).trim().split(/\s+/)).toEqual([`${name}-before`, `${name}-after`]);
    return sent;
  }

  it('started by an earlier version with auto-finalize on (it would pivot before any note): cancelled and started again', async () => {
    const sent = await leftAtReady('oldstyle', (args) => ({ ...args, 'auto-finalize': true }), async () => {});
    expect(sent.filter((c) => ['job-cancel', 'block-commit', 'block-job-complete', 'job-finalize'].includes(c))).toEqual(['job-cancel', 'block-commit', 'block-job-complete', 'job-finalize']);
  });

  it('paused: resumed, then completed', async () => {
    const sent = await leftAtReady('pausedjob', (args) => args, async () => {
      await session().qmp.execute('job-pause', { id: `rm-${vm.h.core.store.listSnapshots(box().id).find((s) => s.name === 'pausedjob')!.id}` });
    });
    expect(sent.filter((c) => ['job-resume', 'block-commit', 'block-job-complete', 'job-finalize'].includes(c))).toEqual(['job-resume', 'block-job-complete', 'job-finalize']);
  });
});

describe('a running QEMU the next owner cannot take control of', () => {
  // The owner killed mid-removal, and another monitor client holding QEMU's only QMP seat when
  // the next owner opens the home: no file may be touched under that QEMU (it may run the job
  // still, hold the removed layer open, or hold the guest stopped at the pivot) until one can.
  const cases = [
    ['stream', 'live-remove:after-job'],
    ['commit', 'live-commit:after-mark'],
  ] as const;
  let k = 0;

  it.each(cases)('a %s killed at %s: files, rows and intent kept as they are; finished once QEMU can be taken control of', { timeout: 180_000 }, async (direction, point) => {
    const n = ++k;
    await sh(vm.con, `echo held-before-${n} > /mnt/hb${n}; sync`);
    const removed = await vm.h.core.snapshots.create({ box: 'vm', name: `held-${n}` });
    await sh(vm.con, `echo held-after-${n} > /mnt/ha${n}; sync`);
    const before = digests();
    const layers = [box().liveDiskPath, removed.diskPath];
    const qmpSocket = path.join(session().runDir, 'qmp.sock');
    vm.con.close();
    await vm.h.core.close();
    const r = spawnSync(process.execPath, [DRIVER, vm.h.dir, 'snapshots:remove', JSON.stringify({ box: 'vm', snapshot: removed.id })], {
      encoding: 'utf8', env: { ...process.env, BOXKEEP_CRASH_AT: point, BOXKEEP_LIVE_MERGE: direction }, timeout: 120_000,
    });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    // What the dead owner left, to compare with what the next one leaves.
    const left = { backings: layers.map((f) => (fs.existsSync(f) ? backingOf(f) : null)), inodes: layers.map((f) => fs.statSync(f, { throwIfNoEntry: false })?.ino) };

    const holder = await QmpClient.connect(qmpSocket, { timeoutMs: 5000 });
    try {
      const core = await vm.h.reopen();
      const b = box();
      expect(fs.readdirSync(core.paths.boxJournal(b.id)), point).toHaveLength(1);
      expect(core.store.getSnapshot(removed.id), point).not.toBeNull();
      expect({ backings: layers.map((f) => (fs.existsSync(f) ? backingOf(f) : null)), inodes: layers.map((f) => fs.statSync(f, { throwIfNoEntry: false })?.ino) }, point).toEqual(left);
      const report = core.lastRecovery!.items.map((i) => i.message).join('\n');
      expect(report, point).toMatch(new RegExp(`Deleting snapshot "held-${n}" was interrupted while its box kept running, and Boxkeep could not take control`));
      // Nothing acts on the half-done removal meanwhile.
      await expect(core.snapshots.create({ box: 'vm', name: `meanwhile-${n}` })).rejects.toMatchObject({ code: 'InvalidState' });
    } finally {
      holder.close();
    }

    const core = await vm.h.reopen();
    const b = box();
    expect(fs.readdirSync(core.paths.boxJournal(b.id)), point).toEqual([]);
    expect(core.store.getSnapshot(removed.id), point).toBeNull();
    expect(fs.existsSync(path.dirname(removed.diskPath)), point).toBe(false);
    expect(b.status, point).toBe('running');
    expect((await session().qmp.execute<{ status: string }>('query-status')).status, point).toBe('running');
    const now = digests();
    for (const [name, digest] of Object.entries(before)) if (name !== removed.name) expect(now[name], `${point}: ${name}`).toBe(digest);
    vm.con = await attach(core, 'vm', 0);
    expect(await sh(vm.con, `cat /mnt/hb${n} /mnt/ha${n}`), point).toMatch(new RegExp(`held-before-${n}[\\s\\S]*held-after-${n}`));
    await sh(vm.con, `echo held-later-${n} > /mnt/hl${n}; sync`);
  });
});

/** The crash driver removing a snapshot, killed at `point`, forcing the commit. */
function drive(point: string, snapshotId: string) {
  return spawnSync(process.execPath, [DRIVER, vm.h.dir, 'snapshots:remove', JSON.stringify({ box: 'vm', snapshot: snapshotId })], {
    encoding: 'utf8', env: { ...process.env, BOXKEEP_CRASH_AT: point, BOXKEEP_LIVE_MERGE: 'commit' }, timeout: 120_000,
  });
}

/**
 * The active commit of `removed` killed at `point` (QEMU left running or killed too), then the
 * next owner: finished, the live disk reads on, every other snapshot exactly as before, and the
 * guest reads `files` (path → text) as before.
 */
async function killedAndRecovered(point: string, qemu: 'running' | 'killed', removed: { id: string; name: string; diskPath: string; parentId: string | null }, files: Record<string, string>) {
  const before = digests();
  const inode = fs.statSync(removed.diskPath).ino;
  const parentPath = backingOf(removed.diskPath);
  const { pid } = session();
  vm.con.close();
  await vm.h.core.close();

  const r = drive(point, removed.id);
  expect(r.signal, r.stderr).toBe('SIGKILL');
  if (qemu === 'killed') {
    process.kill(pid, 'SIGKILL');
    // Until it is gone: a QEMU still tearing down looks alive to the next owner, whose recovery
    // then leaves the removal to a later owner (it never works under a QEMU it cannot adopt).
    for (let i = 0; i < 400 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((res) => setTimeout(res, 25));
  }

  const core = await vm.h.reopen();
  const b = box();
  expect(fs.readdirSync(core.paths.boxJournal(b.id)), point).toEqual([]);
  expect(core.store.getSnapshot(removed.id), point).toBeNull();
  expect(fs.existsSync(path.dirname(removed.diskPath)), point).toBe(false);
  expect(b.currentSnapshotId, point).toBe(removed.parentId);
  // The removed snapshot's file took the live path (the commit direction), backing onto its parent.
  expect(fs.statSync(b.liveDiskPath).ino, point).toBe(inode);
  expect(backingOf(b.liveDiskPath), point).toBe(parentPath);
  const now = digests();
  for (const [name, digest] of Object.entries(before)) if (name !== removed.name) expect(now[name], `${point}: ${name}`).toBe(digest);

  if (qemu === 'running') {
    expect(b.status, point).toBe('running');
    expect((await session().qmp.execute<{ status: string }>('query-status')).status, point).toBe('running');
    // The removed snapshot's path is closed (its inode lives on as the live disk).
    const fds = fs.readdirSync(`/proc/${session().pid}/fd`).map((fd) => { try { return fs.readlinkSync(`/proc/${session().pid}/fd/${fd}`); } catch { return ''; } });
    expect(fds.filter((f) => f.startsWith(removed.diskPath)), point).toEqual([]);
    vm.con = await attach(core, 'vm', 0);
  } else {
    expect(b.status, point).not.toBe('running');
    vm.con = await boot(core, 'vm');
  }
  const paths = Object.keys(files);
  expect((await sh(vm.con, `cat ${paths.join(' ')}`)).trim().split(/\s+/), `${point}: the guest's files`).toEqual(paths.map((f) => files[f]));
}

describe('a snapshot the box started with: its layer carries the snapshot\'s names, so the commit renames its nodes first', () => {
  // Snapshots taken, then the box started again: QEMU opens each as `qs<id>` over an
  // auto-read-only file node, unfit to be the live disk. Each case removes the snapshot the live
  // disk backs onto, the last of the chain.
  const chain: { id: string; name: string; diskPath: string; parentId: string | null }[] = [];
  const files: Record<string, string> = {};
  // The rename's own points both ways, and the pivot's note once (the full matrix runs below).
  const cases = [
    ['live-commit:after-intent', 'running'], ['live-commit:after-intent', 'killed'],
    ['live-commit:after-base', 'running'], ['live-commit:after-base', 'killed'],
    ['live-commit:after-mark', 'running'],
  ] as const;

  beforeAll(async () => {
    for (let i = 0; i < cases.length + 2; i++) {
      await sh(vm.con, `echo started-${i} > /mnt/st${i}; sync`);
      files[`/mnt/st${i}`] = `started-${i}`;
      chain.push(await vm.h.core.snapshots.create({ box: 'vm', name: `started-${i}` }));
    }
    vm.con.close();
    await vm.h.core.vms.stop('vm', { force: true });
    vm.con = await boot(vm.h.core, 'vm');
    expect(session().nodes.snapshots[chain.at(-1)!.id]!.format).toBe(`qs${chain.at(-1)!.id}`);
  }, 180_000);

  it('renames, then commits: the live disk is the next generation\'s node, the guest reads on', async () => {
    const removed = chain.pop()!;
    const next = nextTop(session().nodes).newTop;
    process.env.BOXKEEP_LIVE_MERGE = 'commit';
    try {
      expect(await removeWatchingJobs(removed.id)).toEqual(['commit']);
    } finally {
      delete process.env.BOXKEEP_LIVE_MERGE;
    }
    expect(session().nodes.top).toEqual(next);
    expect(bootDiskTop(await session().qmp.execute('query-block'))).toBe(next.format);
    expect(vm.h.core.store.getSnapshot(removed.id)).toBeNull();
    const paths = Object.keys(files);
    expect((await sh(vm.con, `cat ${paths.join(' ')}`)).trim().split(/\s+/)).toEqual(paths.map((f) => files[f]));
  });

  // The next generation's file node already in QEMU, as an earlier attempt's add that timed out
  // leaves it (QEMU runs it anyway): the commit fails, but leaves none of those names behind
  // (the qcow2 add, sent in the same batch, runs on that node), so the retry commits.
  it('failing as it renames: leaves no node of the next generation behind, and the retry commits', async () => {
    const s = chain.pop()!;
    const before = digests();
    const next = nextTop(session().nodes).newTop;
    await session().qmp.execute('blockdev-add', { driver: 'file', 'node-name': next.file, filename: s.diskPath });
    const names = async () => (await session().qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true })).map((n) => n['node-name']);
    process.env.BOXKEEP_LIVE_MERGE = 'commit';
    try {
      await expect(vm.h.core.snapshots.remove('vm', s.id)).rejects.toThrow(/Duplicate nodes/);
      expect(await names()).not.toContain(next.format);
      expect(await names()).not.toContain(next.file);
      expect(vm.h.core.store.getSnapshot(s.id)).not.toBeNull();
      expect(box().currentSnapshotId).toBe(s.id);
      expect(await removeWatchingJobs(s.id)).toEqual(['commit']);
    } finally {
      delete process.env.BOXKEEP_LIVE_MERGE;
    }
    expect(vm.h.core.store.getSnapshot(s.id)).toBeNull();
    const paths = Object.keys(files);
    expect((await sh(vm.con, `cat ${paths.join(' ')}`)).trim().split(/\s+/)).toEqual(paths.map((f) => files[f]));
    const after = digests();
    for (const [name, digest] of Object.entries(before)) if (name !== s.name) expect(after[name], name).toBe(digest);
  });

  it.each(cases)('%s, QEMU %s: finished, the live disk reads on, every other snapshot exactly as before', { timeout: 180_000 }, async (point, qemu) => {
    await killedAndRecovered(point, qemu, chain.pop()!, files);
  });
});

describe('the active commit killed at each step', () => {
  // Each removed snapshot taken live just before: its layer's own nodes become the live disk.
  let n = 0;
  const files: Record<string, string> = {};
  const cases = CRASH_POINTS.filter((p) => p.startsWith('live-commit:')).flatMap((p) => [[p, 'running'], [p, 'killed']] as const);
  it.each(cases)('%s, QEMU %s: finished, the live disk reads on, every other snapshot exactly as before', { timeout: 180_000 }, async (point, qemu) => {
    const k = ++n;
    await sh(vm.con, `echo before-${k} > /mnt/b${k}; sync`);
    const removed = await vm.h.core.snapshots.create({ box: 'vm', name: `r${k}` });
    await sh(vm.con, `echo after-${k} > /mnt/a${k}; sync`);
    Object.assign(files, { [`/mnt/b${k}`]: `before-${k}`, [`/mnt/a${k}`]: `after-${k}` });
    await killedAndRecovered(point, qemu, removed, files);
  });

  it('after all of that, every layer of the stopped box passes qemu-img check', async () => {
    const b = box();
    vm.con.close();
    await vm.h.core.vms.stop('vm', { force: true });
    expectTrueSizes();
    for (const f of [b.liveDiskPath, ...vm.h.core.store.listSnapshots(b.id).map((s) => s.diskPath)]) {
      const r = spawnSync('qemu-img', ['check', '-f', 'qcow2', f], { encoding: 'utf8' });
      expect(r.status, f + r.stdout).toBe(0);
    }
  });
});
