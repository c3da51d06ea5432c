// What recovery and a restore with memory do with a state file that is not the stream QEMU
// sent: the sink's .sum beside a partial file is checked against the file's bytes before the
// file may become memory.state, and a restore never runs a state whose bytes changed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { QmpClient } from '../../electron/core/vm/qmp.js';
import { PID_FILE, runDirFor } from '../../electron/core/vm/qemu.js';
import { rejection } from '../helpers/errors.js';
import { attach, boot, sh, sharedBootedVm } from '../helpers/vm.js';

const DRIVER = path.resolve('test/helpers/crash-driver.mjs');
// A memory load gives up on a QEMU that takes nothing for 10 s (60 s in the app), so the stall test below is short.
const vm = sharedBootedVm(undefined, { memoryStallMs: 10_000 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Flips one byte of a file (by default in the middle): same size, other bytes. */
function flipByte(file: string, where: 'middle' | 'start' = 'middle'): void {
  const fd = fs.openSync(file, 'r+');
  const at = where === 'start' ? 0 : Math.floor(fs.fstatSync(fd).size / 2);
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] = b[0]! ^ 0xff;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
}

describe('a memory state that is not what QEMU sent', () => {
  it('recovery does not install a partial stream whose bytes differ from the sink\'s sum', async () => {
    vm.con.close();
    await vm.h.core.close();
    const r = spawnSync(process.execPath, [DRIVER, vm.h.dir, 'snapshots:create', JSON.stringify({ box: 'vm', name: 'cut', memory: true })], {
      encoding: 'utf8', env: { ...process.env, BOXKEEP_CRASH_AT: 'live-create:after-migrate' }, timeout: 180_000,
    });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    // The detached sink finishes the stream without the owner; then the partial file changes.
    const snapshotsDir = path.join(vm.h.dir, 'boxes');
    const findSum = (): string | null => {
      for (const box of fs.readdirSync(snapshotsDir)) {
        const dir = path.join(snapshotsDir, box, 'snapshots');
        if (!fs.existsSync(dir)) continue;
        for (const s of fs.readdirSync(dir)) {
          const sum = path.join(dir, s, 'memory.state.partial.sum');
          if (fs.existsSync(sum)) return sum;
        }
      }
      return null;
    };
    let sum: string | null = null;
    for (let i = 0; i < 600 && !(sum = findSum()); i++) await sleep(100);
    expect(sum, 'the sink wrote its sum').not.toBeNull();
    flipByte(sum!.replace(/\.sum$/, ''));

    const core = await vm.h.reopen();
    const snap = core.store.findSnapshot(core.boxes.resolve('vm').id, 'cut')!;
    expect(snap).toBeTruthy();
    expect(snap.memory).toBeUndefined();
    expect(snap.taken).toBe('crash-consistent');
    expect(fs.readdirSync(path.dirname(snap.diskPath)).filter((f) => f.startsWith('memory'))).toEqual([]);
    vm.con = await attach(core, 'vm', 0);
  }, 300_000);

  it('a restore with memory whose state file was cut short is refused before the box is stopped', async () => {
    const snap = await vm.h.core.snapshots.create({ box: 'vm', name: 'short', memory: true });
    const file = path.join(path.dirname(snap.diskPath), 'memory.state');
    fs.truncateSync(file, snap.memory!.size - 4096);
    const err = await rejection(vm.h.core.snapshots.restore({ box: 'vm', snapshot: 'short', stopFirst: true }));
    expect(err.code).toBe('InvalidState');
    expect(err.message).toContain('cut short');
    expect(err.message).toContain('--disk-only');
    expect(vm.h.core.boxes.resolve('vm').status).toBe('running');
    expect((await sh(vm.con, 'echo alive')).trim()).toBe('alive');
  }, 300_000);

  it('a restore with memory whose state file was changed does not run it and says so', async () => {
    await sh(vm.con, 'KEPT=original');
    const snap = await vm.h.core.snapshots.create({ box: 'vm', name: 'good', memory: true });
    expect(snap.memory).toBeTruthy();
    flipByte(path.join(path.dirname(snap.diskPath), 'memory.state'));
    vm.con.close();
    const box = vm.h.core.boxes.resolve('vm');
    const err = await rejection(vm.h.core.snapshots.restore({ box: 'vm', snapshot: 'good', stopFirst: true }));
    expect(err.code).toBe('Storage');
    expect(err.message).toContain('is not what was saved');
    expect(err.message).toContain('--disk-only');
    // No QEMU left behind, half-running or paused on the changed state.
    expect(vm.h.core.boxes.resolve('vm').status).toBe('stopped');
    expect((vm.h.core.vms as Supervisor).sessions.has(box.id)).toBe(false);
  }, 300_000);

  it('a restore with memory whose stream QEMU rejects at its first byte says the state changed, not that QEMU failed', async () => {
    if (vm.h.core.boxes.resolve('vm').status !== 'running') vm.con = await boot(vm.h.core, 'vm');
    const snap = await vm.h.core.snapshots.create({ box: 'vm', name: 'header', memory: true });
    // Byte 0 is the stream's magic: QEMU stops reading at once, long before the file's end.
    flipByte(path.join(path.dirname(snap.diskPath), 'memory.state'), 'start');
    vm.con.close();
    const box = vm.h.core.boxes.resolve('vm');
    const err = await rejection(vm.h.core.snapshots.restore({ box: 'vm', snapshot: 'header', stopFirst: true }));
    expect(err.code).toBe('Storage');
    expect(err.message).toContain('is not what was saved');
    expect(err.message).toContain(`${snap.memory!.size} bytes`);
    expect(err.message).toContain('--disk-only');
    expect(vm.h.core.boxes.resolve('vm').status).toBe('stopped');
    expect(vm.h.core.boxes.resolve('vm').failureReason ?? null).toBeNull();
    expect((vm.h.core.vms as Supervisor).sessions.has(box.id)).toBe(false);
  }, 300_000);

  it('a restore with memory into a QEMU that stops taking the state is given up after the stall time: QEMU is gone, the box stopped, and it starts again', async () => {
    if (vm.h.core.boxes.resolve('vm').status !== 'running') vm.con = await boot(vm.h.core, 'vm');
    await sh(vm.con, 'echo before-stall > /mnt/stall; sync');
    await vm.h.core.snapshots.create({ box: 'vm', name: 'stalled', memory: true });
    vm.con.close();
    const box = vm.h.core.boxes.resolve('vm');
    await vm.h.core.vms.stop('vm', { force: true });
    // QEMU is stopped by a signal as soon as it listens for the state: the kernel still takes
    // the connection and a socket buffer's worth, then nothing more.
    const execute = QmpClient.prototype.execute;
    let stopped: number | null = null;
    const spy = vi.spyOn(QmpClient.prototype, 'execute').mockImplementation(async function (this: QmpClient, ...args: Parameters<QmpClient['execute']>) {
      const result = await execute.apply(this, args);
      if (args[0] === 'migrate-incoming') {
        stopped = Number(fs.readFileSync(path.join(runDirFor(vm.h.core.paths, box.id), PID_FILE), 'utf8'));
        process.kill(stopped, 'SIGSTOP');
      }
      return result;
    });
    let err: Awaited<ReturnType<typeof rejection>>;
    try {
      err = await rejection(vm.h.core.snapshots.restore({ box: 'vm', snapshot: 'stalled' }));
    } finally {
      spy.mockRestore();
    }
    expect(stopped).not.toBeNull();
    expect(err.code).toBe('Vm');
    expect(err.message).toContain('QEMU took none of it for 10 s');
    expect(err.message).toContain('the box did not start');
    expect(vm.h.core.boxes.resolve('vm').status).toBe('stopped');
    expect(vm.h.core.boxes.resolve('vm').failureReason ?? null).toBeNull();
    expect((vm.h.core.vms as Supervisor).sessions.has(box.id)).toBe(false);
    expect(fs.existsSync(`/proc/${stopped}`) && !fs.readFileSync(`/proc/${stopped}/stat`, 'utf8').includes(') Z ')).toBe(false);
    // Nothing was lost: the disk is the snapshot's, and a normal restore with memory resumes.
    const r = await vm.h.core.snapshots.restore({ box: 'vm', snapshot: 'stalled' });
    expect(r.box.status).toBe('running');
    vm.con = await attach(vm.h.core, 'vm', 0);
    expect((await sh(vm.con, 'cat /mnt/stall')).trim()).toBe('before-stall');
  }, 300_000);

  it('a memory migration QEMU refuses leaves a disk-only snapshot at once, the guest running', async () => {
    if (vm.h.core.boxes.resolve('vm').status !== 'running') vm.con = await boot(vm.h.core, 'vm');
    const box = vm.h.core.boxes.resolve('vm');
    // A vdi node blocks migration in QEMU 7.2: its `migrate` fails at once.
    const vdi = path.join(path.dirname(box.liveDiskPath), 'blocker.vdi');
    expect(spawnSync('qemu-img', ['create', '-q', '-f', 'vdi', vdi, '1M']).status).toBe(0);
    const { qmp, runDir } = (vm.h.core.vms as Supervisor).session(box.id);
    await qmp.execute('blockdev-add', { driver: 'file', 'node-name': 'blk-file', filename: vdi });
    await qmp.execute('blockdev-add', { driver: 'vdi', 'node-name': 'blk', file: 'blk-file' });
    let timer: NodeJS.Timeout | undefined;
    const snap = await Promise.race([
      vm.h.core.snapshots.create({ box: 'vm', name: 'blocked', memory: true }),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('the snapshot did not finish within 90 s')), 90_000); }),
    ]).finally(() => clearTimeout(timer));
    expect(snap.memory).toBeUndefined();
    expect(snap.taken).toBe('crash-consistent');
    expect(fs.readdirSync(path.dirname(snap.diskPath)).filter((f) => f.startsWith('memory'))).toEqual([]);
    expect(fs.readdirSync(runDir).filter((f) => f.startsWith('memory'))).toEqual([]);
    expect((await sh(vm.con, 'echo alive')).trim()).toBe('alive');
    await qmp.execute('blockdev-del', { 'node-name': 'blk' });
    await qmp.execute('blockdev-del', { 'node-name': 'blk-file' });
  }, 300_000);
});
