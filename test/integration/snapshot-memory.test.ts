// Snapshots with memory, on the real tiny guest under QEMU: the shell's variable and a background
// counter (state that lives only in the guest's RAM) come back from a restore, the machine goes
// on without a boot, and a restore whose devices changed is refused with the disk-only restore
// offered (and working).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter } from '../../electron/core/router.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { diskDigest } from '../helpers/disk.js';
import { rejection } from '../helpers/errors.js';
import { SerialDriver } from '../helpers/guest.js';
import { boot, logSize, openVmHome, sh, type VmHome } from '../helpers/vm.js';

let h: VmHome;
let con: SerialDriver;
beforeAll(async () => {
  h = await openVmHome();
  await h.core.boxes.create({ name: 'mem', image: 'tiny', memoryMib: 128 });
  con = await boot(h.core, 'mem');
});
afterAll(async () => {
  con?.close();
  await h?.cleanup();
});

const sup = () => h.core.vms as Supervisor;
/** What the Restore dialog asks on opening, through the router as every transport does. */
const resumable = (snapshot: string) => createRouter(h.core).invoke('snapshots:resumable', { box: 'mem', snapshot });
const serialOf = (box: string) => path.join(sup().session(h.core.boxes.resolve(box).id).runDir, 'serial.sock');
const count = async () => Number((await sh(con, 'cat /tmp/count')).trim());
const uptime = async () => Number((await sh(con, 'cut -d" " -f1 /proc/uptime')).trim());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('snapshots with memory', () => {
  it('a restore with memory gives back the running machine: the variable, the counter, no boot in between', async () => {
    await sh(con, 'KEPT=before');
    await sh(con, '(i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 1; done) >/dev/null 2>&1 & true');
    await sleep(3000);
    const before = await count();
    const upBefore = await uptime();
    expect(before).toBeGreaterThan(1);
    const snap = await h.core.snapshots.create({ box: 'mem', name: 'm1', memory: true });
    expect(snap.taken).toBe('with-memory');
    expect(snap.memory?.size).toBeGreaterThan(1024 * 1024);
    const dir = path.dirname(snap.diskPath);
    expect(fs.readdirSync(dir).sort()).toEqual(['container.qcow2', 'memory.state']);
    expect(fs.statSync(path.join(dir, 'memory.state')).size).toBe(snap.memory!.size);
    expect(await resumable('m1')).toEqual({ resumable: true, reason: null });
    // The box kept running through it, and the counter went on.
    expect(h.core.boxes.resolve('mem').status).toBe('running');
    await sleep(2500);
    const later = await count();
    expect(later).toBeGreaterThan(before);
    await sh(con, 'KEPT=after');
    await sh(con, 'echo changed > /tmp/marker');
    const atRestore = await count();

    const offset = logSize(h.core, 'mem');
    con.close();
    const r = await h.core.snapshots.restore({ box: 'mem', snapshot: 'm1', stopFirst: true });
    expect(r.box.status).toBe('running');
    con = await SerialDriver.connect(serialOf('mem'));
    expect((await sh(con, 'echo "kept=$KEPT"')).trim()).toBe('kept=before');
    expect((await sh(con, 'cat /tmp/marker 2>/dev/null || echo none')).trim()).toBe('none');
    const after = await count();
    // From where it was at the snapshot (not from zero, not from where it was at the restore).
    expect(after).toBeGreaterThanOrEqual(before);
    expect(after).toBeLessThan(atRestore);
    expect(await uptime()).toBeGreaterThanOrEqual(upBefore);
    await sleep(2500);
    expect(await count()).toBeGreaterThan(after);
    // No boot: nothing printed its ready line (or the kernel's banner) since the restore.
    const log = fs.readFileSync(sup().logFile(r.box.id)).subarray(offset).toString('utf8');
    expect(log).not.toContain('BOXKEEP-GUEST-READY');
    expect(log).not.toContain('Linux version');
  }, 240_000);

  it('a restore with memory after the devices changed is refused and says so; the disk-only restore works', async () => {
    const snap = h.core.snapshots.get('mem', 'm1');
    const digest = diskDigest(snap.diskPath, { shareLocked: true });
    con.close();
    await h.core.vms.stop('mem', { force: true });
    await h.core.boxes.update({ box: 'mem', memoryMib: 160 });
    // Asked first, it says the same as the refusal, and changes nothing.
    expect(await resumable('m1')).toEqual({ resumable: false, reason: expect.stringContaining("the box's devices changed since it was taken") });
    const err = await rejection(h.core.snapshots.restore({ box: 'mem', snapshot: 'm1' }));
    expect(err.code).toBe('InvalidState');
    expect(err.message).toContain('cannot be restored with its memory');
    expect(err.message).toContain("the box's devices changed");
    expect(err.message).toContain('--disk-only');
    // Refused before anything changed: the box is still stopped on its own disk.
    expect(h.core.boxes.resolve('mem').status).toBe('stopped');
    const r = await h.core.snapshots.restore({ box: 'mem', snapshot: 'm1', diskOnly: true });
    expect(r.box.status).toBe('stopped');
    con = await boot(h.core, 'mem');
    expect((await sh(con, 'echo "kept=$KEPT"')).trim()).toBe('kept=');
    expect(diskDigest(snap.diskPath, { shareLocked: true })).toBe(digest);
  }, 240_000);

  it('removing a snapshot with memory removes its state file and nothing else', async () => {
    const keep = await h.core.snapshots.create({ box: 'mem', name: 'm2', memory: true });
    const keepDigest = diskDigest(keep.diskPath, { shareLocked: true });
    const m1 = h.core.snapshots.get('mem', 'm1');
    const r = await h.core.snapshots.remove('mem', 'm1');
    expect(r.freedBytes).toBeGreaterThanOrEqual(m1.memory!.size);
    expect(fs.existsSync(path.dirname(m1.diskPath))).toBe(false);
    expect(fs.existsSync(path.join(path.dirname(keep.diskPath), 'memory.state'))).toBe(true);
    expect(diskDigest(keep.diskPath, { shareLocked: true })).toBe(keepDigest);
  }, 240_000);

  it('a state file cut short or gone is told by snapshots:resumable before any restore tries it', async () => {
    const state = path.join(path.dirname(h.core.snapshots.get('mem', 'm2').diskPath), 'memory.state');
    const full = fs.statSync(state).size;
    fs.truncateSync(state, full - 1);
    expect(await resumable('m2')).toEqual({ resumable: false, reason: `its memory state file has ${full - 1} bytes, not the ${full} saved: it was changed or cut short` });
    fs.rmSync(state);
    expect(await resumable('m2')).toEqual({ resumable: false, reason: 'its memory state file is missing' });
  });
});
