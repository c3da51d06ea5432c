// A live snapshot whose QEMU stops answering as its switch goes out: QEMU is stopped (SIGSTOP)
// just before the QMP `transaction`, whose own timeout is cut to 1 s, and the asking after it
// to 2 s (BOXKEEP_SWITCH_WAIT_MS). The command then gives up and leaves the snapshot unsettled
// (electron/core/snapshots/live/create.ts). QEMU is left stopped: the caller continues or kills it.
// Also a live removal whose pivot's reply is lost (removeLosingThePivotReply), left to finish.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { Core } from '../../electron/core/core.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { backingOf } from './disk.js';
import type { SerialDriver } from './guest.js';
import { sh } from './vm.js';

/**
 * Returns what the command threw (null if it returned) and QEMU's pid, still stopped.
 * refusedLate: a switch QEMU turns down once it runs again (an overlay node it lacks). A command
 * that asks for ever is let go after 45 s, so that it ends at all (and fails the test).
 */
export async function hungSnapshot(core: Core, box: string, name: string, opts: { refusedLate?: boolean } = {}): Promise<{ err: unknown; pid: number }> {
  const session = (core.vms as Supervisor).session(core.boxes.resolve(box).id);
  const { qmp, pid } = session;
  const execute = qmp.execute.bind(qmp);
  qmp.execute = ((command: string, args?: Record<string, unknown>, o?: { timeoutMs?: number }) => {
    if (command !== 'transaction') return execute(command, args, o);
    process.kill(pid, 'SIGSTOP');
    const sent = opts.refusedLate ? { actions: [{ type: 'blockdev-snapshot', data: { node: session.nodes.top.format, overlay: 'no-such-node' } }] } : args;
    return execute(command, sent, { timeoutMs: 1000 });
  }) as typeof qmp.execute;
  process.env.BOXKEEP_SWITCH_WAIT_MS = '2000';
  const letGo = setTimeout(() => process.kill(pid, 'SIGCONT'), 45_000);
  try {
    const err = await core.snapshots.create({ box, name }).then(() => null, (e: unknown) => e);
    return { err, pid };
  } finally {
    clearTimeout(letGo);
    qmp.execute = execute;
    delete process.env.BOXKEEP_SWITCH_WAIT_MS;
  }
}

/** The command's failure as the user reads it, the box's record and overlay left as they are. */
export function expectUnsettled(core: Core, box: string, err: unknown, name: string): void {
  expect(err, 'the command must fail, not wait for QEMU').toMatchObject({ code: 'Vm' });
  expect((err as Error).message).toMatch(new RegExp(`live snapshot "${name}" .* is unsettled.*nothing was undone.*boxkeep recover`));
  const b = core.boxes.resolve(box);
  const records = fs.readdirSync(core.paths.boxJournal(b.id));
  expect(records).toHaveLength(1);
  const intent = JSON.parse(fs.readFileSync(path.join(core.paths.boxJournal(b.id), records[0]!), 'utf8'));
  expect(intent).toMatchObject({ op: 'live-create', ready: true, snapshot: { name } });
  expect(fs.existsSync(core.paths.nextDisk(b.id))).toBe(true);
  expect(backingOf(core.paths.nextDisk(b.id))).toBe(intent.snapshot.diskPath);
  expect(core.store.findSnapshot(b.id, name)).toBeNull();
}

/** Settled either way: no record, no overlay, Now on the current snapshot, a folder for each row and no other. */
export function expectWhole(core: Core, box: string): void {
  const b = core.boxes.resolve(box);
  expect(fs.readdirSync(core.paths.boxJournal(b.id))).toEqual([]);
  expect(fs.existsSync(core.paths.nextDisk(b.id))).toBe(false);
  expect(backingOf(b.liveDiskPath)).toBe(core.store.getSnapshot(b.currentSnapshotId!)!.diskPath);
  expect(fs.readdirSync(core.paths.snapshotsDir(b.id)).sort()).toEqual(core.store.listSnapshots(b.id).map((s) => s.id).sort());
}

/** Settled back: the snapshot `name` is gone and the box is on `current` as before. */
export function expectDropped(core: Core, box: string, name: string, current: string | null): void {
  expectWhole(core, box);
  const b = core.boxes.resolve(box);
  expect(core.store.findSnapshot(b.id, name)).toBeNull();
  expect(b.currentSnapshotId).toBe(current);
}

/**
 * A live snapshot QEMU turns down once it answers again: unsettled, QEMU continued, then settled
 * by `settle` (recovery, or the owner's own watch): dropped, and the box reads on and takes the
 * next snapshot (`after-<name>`, holding the guest's file /mnt/after-<name>).
 */
export async function refusedOnceItAnswers(core: Core, box: string, name: string, io: { con: SerialDriver; guestFile: (layer: string, file: string) => string; settle: () => Promise<void> }): Promise<void> {
  const current = core.boxes.resolve(box).currentSnapshotId;
  const { err, pid } = await hungSnapshot(core, box, name, { refusedLate: true });
  try {
    expectUnsettled(core, box, err, name);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await io.settle();
  expectDropped(core, box, name, current);
  // QEMU writes on to the live disk; the overlay's nodes are gone, so the next snapshot works.
  await sh(io.con, `echo after-${name} > /mnt/after-${name}; sync`);
  const next = await core.snapshots.create({ box, name: `after-${name}` });
  expect(io.guestFile(next.diskPath, `after-${name}`)).toContain(`after-${name}`);
}

/**
 * A live removal by active commit whose `job-finalize` reply is lost (QEMU pivots; the
 * command reads a timeout): it fails after its merge began, and its record is left for the owner
 * to finish by itself (electron/core/snapshots/live/commit.ts). Returns what it threw.
 */
export async function removeLosingThePivotReply(core: Core, box: string, snapshotId: string): Promise<unknown> {
  const { qmp } = (core.vms as Supervisor).session(core.boxes.resolve(box).id);
  const execute = qmp.execute;
  qmp.execute = async function (this: typeof qmp, command: string, args?: Record<string, unknown>, opts?: { timeoutMs?: number }) {
    const reply = await execute.call(this, command, args, opts);
    if (command === 'job-finalize') throw new Error('QMP command job-finalize timed out after 10000 ms');
    return reply;
  } as typeof qmp.execute;
  process.env.BOXKEEP_LIVE_MERGE = 'commit';
  try {
    const err = await core.snapshots.remove(box, snapshotId).then(() => null, (e: unknown) => e);
    expect((err as Error | null)?.message, 'the removal must fail after its merge began').toMatch(/timed out[\s\S]*partly merged[\s\S]*finishes the removal by itself/);
    return err;
  } finally {
    qmp.execute = execute;
    delete process.env.BOXKEEP_LIVE_MERGE;
  }
}
