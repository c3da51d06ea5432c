// An unsettled live snapshot (its QEMU stopped answering as it switched, and the command gave
// up) settles by itself once that QEMU answers again or exits: no `boxkeep recover`, no
// reopening of the home. One booted guest with its agent (the snapshot freezes its
// filesystem) for the whole file; the QEMU-killed case comes last.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { backingOf } from '../helpers/disk.js';
import { AGENT_APPEND, guestFileOf, type SerialDriver } from '../helpers/guest.js';
import { expectDropped, expectUnsettled, expectWhole, hungSnapshot, refusedOnceItAnswers } from '../helpers/hung-switch.js';
import { agentFreezeStatus, consoleOf, openBootedVm, sh, type VmHome } from '../helpers/vm.js';
import { memoryLogger } from './host-fixtures.js';

const logger = memoryLogger();
let h: VmHome;
let con: SerialDriver;

beforeAll(async () => {
  ({ h, con } = await openBootedVm({ append: AGENT_APPEND, logger }));
}, 180_000);
afterAll(async () => {
  con?.close();
  await h?.cleanup();
});

const box = () => h.core.boxes.resolve('vm');
const session = () => (h.core.vms as Supervisor).session(box().id);
const records = () => fs.readdirSync(h.core.paths.boxJournal(box().id));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Until the box's journal is empty, by the owner alone (nobody calls recover here). */
async function settledByItself(ms = 60_000): Promise<void> {
  await expect.poll(records, { timeout: ms, interval: 100 }).toEqual([]);
}

const guestFile = (layer: string, name: string) => guestFileOf(layer, name, path.dirname(h.dir));

/** The box's tree and detail are announced again, as the UI reloads them. */
function changes(): { seen: string[]; off: () => void } {
  const seen: string[] = [];
  const offs = [h.core.events.on('snapshots:changed', (e) => seen.push(`snapshots:${e.boxId}`)), h.core.events.on('boxes:changed', (e) => seen.push(`boxes:${e.boxId}`))];
  return { seen, off: () => offs.forEach((o) => o()) };
}

describe('an unsettled live snapshot settles by itself', () => {
  it('once QEMU answers again, even after the background thaw gave up: forward, thawed, the box takes changes again', async () => {
    await sh(con, 'echo before-late > /mnt/before-late; sync');
    // Read when the thaw's retries begin, after the command gave up: set for the whole case.
    process.env.BOXKEEP_THAW_RETRY_MS = '200';
    const { err, pid } = await hungSnapshot(h.core, 'vm', 'late');
    let events: ReturnType<typeof changes> | null = null;
    try {
      expectUnsettled(h.core, 'vm', err, 'late');
      expect((await h.core.boxes.detail('vm')).unsettled).toMatchObject({ kind: 'snapshot', snapshotName: 'late', qemuPid: pid });
      // The thaw started as the command gave up asks for ~15 s, then leaves the guest frozen.
      await expect.poll(() => logger.lines.some((l) => l.message === 'guest not thawed: the next owner will try again'), { timeout: 40_000, interval: 200 }).toBe(true);
      await sleep(1000);
      expect(records(), 'nothing settles while QEMU is silent').toHaveLength(1);
      events = changes();
    } finally {
      delete process.env.BOXKEEP_THAW_RETRY_MS;
      process.kill(pid, 'SIGCONT');
    }
    await settledByItself();
    events.off();
    const b = box();
    const late = h.core.store.findSnapshot(b.id, 'late');
    expect(late, 'QEMU switched late: completed forward').not.toBeNull();
    expect(late!.taken).toBe('filesystems-frozen');
    expect(fs.existsSync(h.core.paths.nextDisk(b.id))).toBe(false);
    expect(backingOf(b.liveDiskPath)).toBe(late!.diskPath);
    expect(b.status).toBe('running');
    expect((await h.core.boxes.detail('vm')).unsettled).toBeNull();
    await expect.poll(() => events!.seen).toEqual(expect.arrayContaining([`snapshots:${b.id}`, `boxes:${b.id}`]));
    // Thawed: the guest writes again, and its agent says so.
    expect(await agentFreezeStatus(session().runDir)).toBe('thawed');
    await sh(con, 'echo after-late > /mnt/after-late; sync', 20_000);
    expect(guestFile(late!.diskPath, 'before-late')).toContain('before-late');
    const next = await h.core.snapshots.create({ box: 'vm', name: 'after-late' });
    expect(guestFile(next.diskPath, 'after-late')).toContain('after-late');
  }, 180_000);

  it('once QEMU answers and turns the switch down: dropped, the box reads on as before', async () => {
    await refusedOnceItAnswers(h.core, 'vm', 'refused', { con, guestFile, settle: settledByItself });
  }, 120_000);

  it('left when the home closes first, and settled by the next owner\'s recovery', async () => {
    const journal = h.core.paths.boxJournal(box().id);
    const current = box().currentSnapshotId;
    const { err, pid } = await hungSnapshot(h.core, 'vm', 'closed');
    const checks = () => logger.lines.filter((l) => l.message === 'unsettled live snapshot checked').length;
    let before = 0;
    try {
      expectUnsettled(h.core, 'vm', err, 'closed');
      con.close();
      await h.core.close();
      before = checks();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The watch ended with the core: it asks nothing more, and the record waits for the next owner.
    await sleep(1500);
    expect(checks(), 'no settle after the close').toBe(before);
    expect(fs.readdirSync(journal)).toHaveLength(1);
    const core = await h.reopen();
    const b = core.boxes.resolve('vm');
    // QEMU may drop the switch it had not read when its monitor closed: which way it went is
    // QEMU's to say, and either way the box is whole.
    expectWhole(core, 'vm');
    const made = core.store.findSnapshot(b.id, 'closed');
    expect(b.currentSnapshotId).toBe(made ? made.id : current);
    expect(b.status).toBe('running');
    con = await consoleOf(core, b.id, { fresh: false });
  }, 120_000);

  it('reopened while QEMU is still silent: the new owner shows it unsettled, refuses a pause, and settles it once QEMU answers, saying how', async () => {
    await sh(con, 'echo before-silent > /mnt/before-silent; sync');
    const current = box().currentSnapshotId;
    const { err, pid } = await hungSnapshot(h.core, 'vm', 'silent');
    let core = h.core;
    const reports: string[] = [];
    try {
      expectUnsettled(h.core, 'vm', err, 'silent');
      // Its settle resumes a guest the snapshot stopped: a pause now would be undone.
      await expect(h.core.vms.pause('vm')).rejects.toMatchObject({ code: 'InvalidState', message: expect.stringMatching(/not settled yet/) });
      con.close();
      core = await h.reopen();
      core.events.on('recovery:report', (r) => reports.push(...r.items.map((i) => i.message)));
      expect(records(), 'kept: the next owner could not take control of a silent QEMU').toHaveLength(1);
      expect((await core.boxes.detail('vm')).unsettled).toMatchObject({ snapshotName: 'silent', qemuPid: pid });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await settledByItself(90_000);
    expectWhole(core, 'vm');
    const b = box();
    expect(b.status).toBe('running');
    expect((await core.boxes.detail('vm')).unsettled).toBeNull();
    // QEMU may drop the switch it had not read when the first owner's monitor closed: which way
    // it went is QEMU's to say, and either way the box is whole.
    const silent = core.store.findSnapshot(b.id, 'silent');
    expect(b.currentSnapshotId).toBe(silent ? silent.id : current);
    if (silent) expect(guestFile(silent.diskPath, 'before-silent')).toContain('before-silent');
    // The app hears what became of it, as after a recovery.
    await expect.poll(() => reports.join('\n'), { timeout: 10_000 }).toMatch(/"silent"/);
    con = await consoleOf(core, b.id, { fresh: false });
  }, 180_000);

  it('once QEMU is killed: completed forward from the files, and it restores to its files', async () => {
    await sh(con, 'echo before-dead > /mnt/before-dead; sync');
    con.close();
    const { err, pid } = await hungSnapshot(h.core, 'vm', 'dead');
    try {
      expectUnsettled(h.core, 'vm', err, 'dead');
    } finally {
      process.kill(pid, 'SIGKILL');
    }
    await settledByItself();
    const b = box();
    expect(b.status).not.toBe('running');
    const dead = h.core.store.findSnapshot(b.id, 'dead');
    expect(dead, 'ready and QEMU gone: forward').not.toBeNull();
    expect(fs.existsSync(h.core.paths.nextDisk(b.id))).toBe(false);
    expect(backingOf(b.liveDiskPath)).toBe(dead!.diskPath);
    // Both snapshots settled by themselves restore to exactly their files.
    await h.core.snapshots.restore({ box: 'vm', snapshot: 'late' });
    expect(guestFile(box().liveDiskPath, 'before-late')).toContain('before-late');
    expect(guestFile(box().liveDiskPath, 'after-late')).toBe('');
    await h.core.snapshots.restore({ box: 'vm', snapshot: 'dead' });
    expect(guestFile(box().liveDiskPath, 'before-dead')).toContain('before-dead');
    expect(guestFile(box().liveDiskPath, 'after-refused')).toContain('after-refused');
  }, 120_000);
});
