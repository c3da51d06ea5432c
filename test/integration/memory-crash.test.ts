// A snapshot with memory killed at each of its steps (the owner SIGKILLed; QEMU keeps running),
// then recovered: every snapshot's bytes unchanged, the guest running, and beside each snapshot
// either no memory state or a whole one whose size and sha256 are the recorded ones, never a
// partial file a restore could load.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../electron/core/operations.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { liveMemoryKept, liveSnapshotMade } from '../helpers/crash.js';
import { diskDigest } from '../helpers/disk.js';
import { attach, sh, sharedBootedVm } from '../helpers/vm.js';

const DRIVER = path.resolve('test/helpers/crash-driver.mjs');
const vm = sharedBootedVm(async ({ con }) => {
  await sh(con, '(i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 1; done) >/dev/null 2>&1 & true');
});

function drive(channel: string, input: unknown, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [DRIVER, vm.h.dir, channel, JSON.stringify(input)], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 180_000 });
}

function digests() {
  const box = vm.h.core.boxes.resolve('vm');
  return Object.fromEntries(vm.h.core.store.listSnapshots(box.id).map((s) => [s.name, diskDigest(s.diskPath, { shareLocked: true })]));
}

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('a snapshot with memory killed at each step', () => {
  let marker = 0;

  it.each(CRASH_POINTS.filter((p) => p.startsWith('live-create:')))('%s', async (point) => {
    const before = digests();
    vm.con.close();
    await vm.h.core.close();
    const name = `m-${point.split(':')[1]}`;
    const r = drive('snapshots:create', { box: 'vm', name, memory: true }, { BOXKEEP_CRASH_AT: point });
    expect(r.signal, r.stderr).toBe('SIGKILL');

    const core = await vm.h.reopen();
    const box = core.boxes.resolve('vm');
    expect(box.status, point).toBe('running');
    expect(fs.readdirSync(core.paths.boxJournal(box.id)), point).toEqual([]);
    const session = (core.vms as Supervisor).session(box.id);
    expect((await session.qmp.execute<{ status: string }>('query-status')).status, point).toBe('running');
    // Every folder: no partial stream; a memory.state only where its row records it, whole.
    for (const dir of fs.readdirSync(core.paths.snapshotsDir(box.id))) {
      const files = fs.readdirSync(path.join(core.paths.snapshotsDir(box.id), dir));
      expect(files.filter((f) => f.includes('partial')), `${point}: ${dir}`).toEqual([]);
      const row = core.store.getSnapshot(dir);
      if (files.includes('memory.state')) {
        const file = path.join(core.paths.snapshotsDir(box.id), dir, 'memory.state');
        expect(row?.taken, `${point}: ${dir}`).toBe('with-memory');
        expect(fs.statSync(file).size, point).toBe(row!.memory!.size);
        expect(sha256(file), point).toBe(row!.memory!.sha256);
      } else {
        expect(row?.memory, `${point}: ${dir}`).toBeUndefined();
      }
    }
    const taken = core.store.findSnapshot(box.id, name);
    expect(taken !== null, `${point}: finished once QEMU switched to the overlay, else undone`).toBe(liveSnapshotMade(point));
    // Killed before the stream completed: the snapshot is its disk only.
    if (taken) expect(taken.taken, point).toBe(liveMemoryKept(point) ? 'with-memory' : 'crash-consistent');
    vm.con = await attach(core, 'vm', 0);
    const n = ++marker;
    await sh(vm.con, `echo m${n} > /mnt/k${n}; sync`);
    const now = digests();
    for (const [snap, digest] of Object.entries(before)) expect(now[snap], `${point}: snapshot ${snap}`).toBe(digest);
  }, 300_000);

  it('after all of that, a snapshot with memory recovered whole restores running', async () => {
    const box = vm.h.core.boxes.resolve('vm');
    const whole = vm.h.core.store.listSnapshots(box.id).filter((s) => s.memory);
    expect(whole.length).toBeGreaterThan(0);
    vm.con.close();
    const r = await vm.h.core.snapshots.restore({ box: 'vm', snapshot: whole.at(-1)!.id, stopFirst: true });
    expect(r.box.status).toBe('running');
    vm.con = await attach(vm.h.core, 'vm', 0);
    expect(Number((await sh(vm.con, 'cat /tmp/count')).trim())).toBeGreaterThan(0);
  }, 300_000);
});
