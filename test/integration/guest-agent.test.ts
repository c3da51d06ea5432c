// Application-consistent live snapshots and graceful stops through the guest agent: the test
// guest runs Debian's qemu-ga (boxkeep.agent=on). What the guest's own ext4 wrote into the
// frozen disk is the proof of the freeze: a frozen ext4 flushes its journal and clears
// needs_recovery in its superblock (the image mounts without replaying anything), and data
// written just before (not synced) is on the disk; a crash-consistent disk of a mounted ext4
// keeps needs_recovery set.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuestAgent } from '../../electron/core/vm/agent.js';
import { freezeMarkPath } from '../../electron/core/vm/freeze.js';
import { qgaSocketPath } from '../../electron/core/vm/qemu.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { BIN } from '../helpers/cli.js';
import { requireTools } from '../helpers/disk.js';
import { AGENT_APPEND, buildGuest, makeDataDisk, type SerialDriver } from '../helpers/guest.js';
import { agentFreezeStatus, boot, openVmHome, sh, type VmHome } from '../helpers/vm.js';

let h: VmHome;

beforeAll(async () => {
  requireTools('dumpe2fs', 'debugfs', 'qemu-ga');
  h = await openVmHome({ append: AGENT_APPEND, stopTimeoutMs: 30_000 });
  // The same guest with qemu-ga not started: a box without an agent.
  const guest = buildGuest();
  const data = makeDataDisk(path.join(path.dirname(h.dir), 'plain.qcow2'), 64, { 'hello.txt': 'hello\n' });
  await h.core.images.import({ path: data, name: 'plain', kernelPath: guest.kernel, initrdPath: guest.initrd, append: 'console=ttyS0 panic=-1 quiet' });
  fs.rmSync(data);
}, 300_000);
afterAll(async () => { await h?.cleanup(); });

/** The ext4 on a disk (its whole chain, read while QEMU holds it): superblock features and one file. */
export function ext4Of(qcow2: string, file: string): { features: string[]; content: string } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-e4-'));
  try {
    const raw = path.join(tmp, 'disk.raw');
    execFileSync('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', qcow2, raw]);
    const header = execFileSync('dumpe2fs', ['-h', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const features = (/^Filesystem features:\s*(.*)$/m.exec(header)?.[1] ?? '').split(/\s+/).filter(Boolean);
    const content = execFileSync('debugfs', ['-R', `cat ${file}`, raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { features, content };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

describe('live snapshots with the guest agent', () => {
  it('a live disk-only snapshot of a guest running qemu-ga freezes its filesystems and is recorded filesystems-frozen', async () => {
    await h.core.boxes.create({ name: 'ga', image: 'tiny' });
    const con = await boot(h.core, 'ga');
    // Written, not synced: only the freeze (which syncs) puts it on the disk at once.
    await sh(con, 'echo app-data-1 > /mnt/unsynced');
    const s = await h.core.snapshots.create({ box: 'ga', name: 'frozen' });
    expect(s.taken).toBe('filesystems-frozen');
    expect(h.core.store.getSnapshot(s.id)!.taken).toBe('filesystems-frozen');
    const disk = ext4Of(s.diskPath, '/unsynced');
    expect(disk.features).toContain('has_journal');
    expect(disk.features).not.toContain('needs_recovery');
    expect(disk.content).toContain('app-data-1');
    // Thawed: the guest writes again, and nothing marks a freeze left behind.
    expect(await sh(con, 'echo after > /mnt/after; sync; cat /mnt/after', 20_000)).toContain('after');
    expect(fs.existsSync(freezeMarkPath((h.core.vms as Supervisor).session(s.boxId).runDir))).toBe(false);
    con.close();
    // The command line says how it was taken.
    await h.core.close();
    const show = spawnSync(process.execPath, [BIN, '--home', h.dir, 'snapshot', 'show', 'ga', 'frozen'], { encoding: 'utf8', timeout: 60_000 });
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/Taken:.*while the box ran, disk only \(filesystems frozen\)/);
    await h.reopen();
  }, 180_000);

  it('a guest without the agent gets a crash-consistent snapshot', async () => {
    await h.core.boxes.create({ name: 'plain', image: 'plain' });
    const con = await boot(h.core, 'plain');
    await sh(con, 'echo data > /mnt/x; sync');
    const s = await h.core.snapshots.create({ box: 'plain', name: 'cc' });
    expect(s.taken).toBe('crash-consistent');
    // Mounted and never frozen: the disk says its journal needs replaying.
    expect(ext4Of(s.diskPath, '/x').features).toContain('needs_recovery');
    expect(await sh(con, 'echo more > /mnt/y; sync; cat /mnt/y')).toContain('more');
    con.close();
    await h.core.vms.stop('plain', { force: true });
  }, 180_000);

  it('stop goes through the agent: a guest without ACPI handling powers off gracefully, not forced', async () => {
    const box = h.core.boxes.resolve('ga');
    const result = await h.core.vms.stop('ga', { force: false });
    expect(result.forced).toBe(false);
    expect(result.status).toBe('stopped');
    // The guest's shutdown unmounted its ext4: the disk is clean, nothing to replay.
    expect(ext4Of(box.liveDiskPath, '/after').features).not.toContain('needs_recovery');
  }, 120_000);
});


/** Restarts the guest's qemu-ga with extra options, once the old one is gone, and waits until the new one answers. */
async function restartAgent(con: SerialDriver, runDir: string, options: string): Promise<void> {
  await sh(con, 'p=$(cat /var/run/qemu-ga.pid); kill $p; while kill -0 $p 2>/dev/null; do sleep 0.1; done');
  await sh(con, `qemu-ga -d -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -l /var/log/qemu-ga.log -f /var/run/qemu-ga.pid -t /var/run ${options}`);
  const agent = await GuestAgent.connect(qgaSocketPath(runDir), { syncTimeoutMs: 20_000 });
  if (!agent) throw new Error('the restarted guest agent did not answer');
  agent.close();
}

describe('a freeze slower than its timeout', () => {
  it('a freeze hook that outlasts the freeze timeout: the freeze that still happens in the guest afterwards is thawed, the guest writes again', async () => {
    await h.core.boxes.create({ name: 'slow', image: 'tiny' });
    const con = await boot(h.core, 'slow');
    const runDir = (h.core.vms as Supervisor).session(h.core.boxes.resolve('slow').id).runDir;
    // qemu-ga runs the hook before it freezes, one command at a time (a database flushing, say):
    // 25 s, longer than the 15 s the freeze call is given; it says on the console when it is done.
    await sh(con, `printf '#!/bin/sh\\n[ "$1" = freeze ] && { sleep 25; echo HOOK-$((6*7)) > /dev/console; }\\nexit 0\\n' > /tmp/hook; chmod +x /tmp/hook`);
    await restartAgent(con, runDir, '-F/tmp/hook');
    const s = await h.core.snapshots.create({ box: 'slow', name: 'late' });
    // Not known to be frozen when the disk was switched: recorded as what it is sure to be.
    expect(s.taken).toBe('crash-consistent');
    await con.waitFor('HOOK-42', 60_000);
    expect(await agentFreezeStatus(runDir)).toBe('thawed');
    expect(await sh(con, 'echo late-write > /mnt/late; sync; cat /mnt/late', 20_000)).toContain('late-write');
    expect(fs.existsSync(freezeMarkPath(runDir))).toBe(false);
    con.close();
    await h.core.vms.stop('slow', { force: true });
  }, 240_000);
});

describe('a guest whose agent refuses to freeze', () => {
  it('an agent with the fsfreeze commands disabled: the snapshot is crash-consistent and leaves no freeze behind for the next owner to report', async () => {
    await h.core.boxes.create({ name: 'nofreeze', image: 'tiny' });
    const con = await boot(h.core, 'nofreeze');
    const runDir = (h.core.vms as Supervisor).session(h.core.boxes.resolve('nofreeze').id).runDir;
    // An administrator's choice (qemu-ga -b): the agent answers, and refuses each of them.
    await restartAgent(con, runDir, '-b guest-fsfreeze-freeze,guest-fsfreeze-thaw,guest-fsfreeze-status');
    const s = await h.core.snapshots.create({ box: 'nofreeze', name: 'refused' });
    expect(s.taken).toBe('crash-consistent');
    expect(fs.existsSync(freezeMarkPath(runDir))).toBe(false);
    // The agent is there and says no (not a guest without one).
    await expect(agentFreezeStatus(runDir)).rejects.toThrow(/disabled/);
    expect(await sh(con, 'echo w > /mnt/w; sync; cat /mnt/w', 20_000)).toContain('w');
    con.close();
    // The next owner has nothing to warn about.
    const core = await h.reopen();
    expect(core.lastRecovery).not.toBeNull();
    expect(core.lastRecovery!.items.map((i) => i.message).filter((m) => m.includes('frozen'))).toEqual([]);
    await core.vms.stop('nofreeze', { force: true });
  }, 240_000);
});
