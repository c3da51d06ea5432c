// A live snapshot of a guest running qemu-ga, its owner killed at each step: a guest frozen by
// a dead owner is thawed by the next one (the guest proves it by writing again), every
// snapshot reads as before, and one completed after the freeze is recorded filesystems-frozen.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../electron/core/operations.js';
import { MEMORY_ONLY_POINTS } from '../../electron/core/snapshots/live/intents.js';
import { GuestAgent } from '../../electron/core/vm/agent.js';
import { freezeMarkPath } from '../../electron/core/vm/freeze.js';
import { qgaSocketPath } from '../../electron/core/vm/qemu.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { diskDigest } from '../helpers/disk.js';
import { liveSnapshotMade } from '../helpers/crash.js';
import { AGENT_APPEND, SerialDriver } from '../helpers/guest.js';
import { agentFreezeStatus, attach, boot, openVmHome, sh, type VmHome } from '../helpers/vm.js';

const DRIVER = path.resolve('test/helpers/crash-driver.mjs');
let h: VmHome;
let runDir: string;

beforeAll(async () => {
  h = await openVmHome({ append: AGENT_APPEND });
  await h.core.boxes.create({ name: 'vm', image: 'tiny' });
  const con = await boot(h.core, 'vm');
  runDir = (h.core.vms as Supervisor).session(h.core.boxes.resolve('vm').id).runDir;
  await sh(con, 'echo base > /mnt/base; sync');
  expect((await h.core.snapshots.create({ box: 'vm', name: 'first' })).taken).toBe('filesystems-frozen');
  con.close();
}, 300_000);
afterAll(async () => { await h?.cleanup(); });

function drive(channel: string, input: unknown, env: Record<string, string>) {
  return spawnSync(process.execPath, [DRIVER, h.dir, channel, JSON.stringify(input)], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

function digests() {
  const box = h.core.boxes.resolve('vm');
  return Object.fromEntries(h.core.store.listSnapshots(box.id).map((s) => [s.name, diskDigest(s.diskPath, { shareLocked: true })]));
}

/** What the guest's agent says, asked directly (no owner in between). */
const freezeStatus = () => agentFreezeStatus(runDir);

describe('the owner dies while the guest is frozen', () => {
  it('killed after the freeze, before the thaw: the guest stays frozen with no owner, and the next owner thaws it', async () => {
    const before = digests();
    await h.core.close();
    const r = drive('snapshots:create', { box: 'vm', name: 'killed' }, { BOXKEEP_CRASH_AT: 'live-create:after-freeze-fs' });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    expect(await freezeStatus()).toBe('frozen');
    expect(fs.existsSync(freezeMarkPath(runDir))).toBe(true);
    // A write in the guest waits for the thaw: its line does not come.
    const con = await SerialDriver.connect(path.join(runDir, 'serial.sock'));
    con.send('echo written > /mnt/while-frozen; echo WROTE-$((40+2))');
    await expect(con.waitFor('WROTE-42', 3000)).rejects.toThrow();

    const core = await h.reopen();
    const items = core.lastRecovery!.items.map((i) => i.message);
    expect(items.some((m) => m.includes('were thawed'))).toBe(true);
    // The stalled write completes and the guest says so on its console.
    await con.waitFor('WROTE-42', 30_000);
    expect(await sh(con, 'cat /mnt/while-frozen')).toContain('written');
    con.close();
    expect(await freezeStatus()).toBe('thawed');
    expect(fs.existsSync(freezeMarkPath(runDir))).toBe(false);
    expect(core.store.listSnapshots(core.boxes.resolve('vm').id).map((s) => s.name)).not.toContain('killed');
    expect(digests()).toEqual(before);
  }, 180_000);
});

describe('live-create killed at each step, with the agent', () => {
  let marker = 0;
  it.each(CRASH_POINTS.filter((p) => p.startsWith('live-create:') && !MEMORY_ONLY_POINTS.includes(p.slice('live-create:'.length))))('%s', async (point) => {
    const before = digests();
    const name = `c-${point.split(':')[1]}`;
    await h.core.close();
    const r = drive('snapshots:create', { box: 'vm', name }, { BOXKEEP_CRASH_AT: point });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const core = await h.reopen();
    const box = core.boxes.resolve('vm');
    expect(box.status, point).toBe('running');
    expect(fs.readdirSync(core.paths.boxJournal(box.id)), point).toEqual([]);
    expect((await (core.vms as Supervisor).session(box.id).qmp.execute<{ status: string }>('query-status')).status, point).toBe('running');
    expect(await freezeStatus(), point).toBe('thawed');
    expect(fs.existsSync(freezeMarkPath(runDir)), point).toBe(false);
    // The guest writes again.
    const con = await attach(core, 'vm', 0);
    const n = ++marker;
    expect(await sh(con, `echo m${n} > /mnt/k${n}; sync; cat /mnt/k${n}`, 30_000)).toContain(`m${n}`);
    con.close();
    const now = digests();
    for (const [s, digest] of Object.entries(before)) expect(now[s], `${point}: snapshot ${s}`).toBe(digest);
    // Completed (recovery rolls forward once QEMU switched to the overlay): taken while frozen, and recorded so.
    const made = core.store.listSnapshots(box.id).find((s) => s.name === name);
    expect(made !== undefined, point).toBe(liveSnapshotMade(point));
    if (made) expect(made.taken, point).toBe('filesystems-frozen');
  }, 180_000);
});

describe('the agent channel', () => {
  it('a reply to an earlier client that gave up is dropped: the next call gets its own answer', async () => {
    const con = await attach(h.core, 'vm', 0);
    // The agent stops answering; a client's sync times out and leaves its request behind.
    await sh(con, 'kill -STOP $(cat /var/run/qemu-ga.pid)');
    const started = performance.now();
    expect(await GuestAgent.connect(qgaSocketPath(runDir), { syncTimeoutMs: 1000 })).toBeNull();
    expect(performance.now() - started).toBeLessThan(5000);
    // Back: it answers that old request too (0xFF and the old id), for whoever connects next.
    await sh(con, 'kill -CONT $(cat /var/run/qemu-ga.pid)');
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < 3; i++) expect(await freezeStatus()).toBe('thawed');
    con.close();
  }, 120_000);
});
