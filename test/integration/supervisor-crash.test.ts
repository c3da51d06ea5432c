// The owner of the home dies while a box runs (kill -9): QEMU keeps running, the next owner
// adopts it. Live create and live remove killed at each of their steps, then recovered while
// the guest keeps running: snapshots intact, guest unpaused, files all there.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../electron/core/operations.js';
import { MEMORY_ONLY_POINTS } from '../../electron/core/snapshots/live/intents.js';
import { nodesFile } from '../../electron/core/vm/nodes.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { liveSnapshotMade } from '../helpers/crash.js';
import { diskDigest } from '../helpers/disk.js';
import type { SerialDriver } from '../helpers/guest.js';
import { attach, boot, openVmHome, sh, type VmHome } from '../helpers/vm.js';

const DRIVER = path.resolve('test/helpers/crash-driver.mjs');
let h: VmHome;

beforeAll(async () => {
  h = await openVmHome();
  await h.core.boxes.create({ name: 'vm', image: 'tiny' });
});
afterAll(async () => { await h?.cleanup(); });

function drive(channel: string, input: unknown, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [DRIVER, h.dir, channel, JSON.stringify(input)], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

/** Digest of every snapshot, read while QEMU holds them (-U). */
function digests() {
  const box = h.core.boxes.resolve('vm');
  return Object.fromEntries(h.core.store.listSnapshots(box.id).map((s) => [s.name, diskDigest(s.diskPath, { shareLocked: true })]));
}

describe('the owner dies while a box runs', () => {
  it('QEMU keeps running; the next owner adopts it and a live snapshot still works', async () => {
    await h.core.close(); // the app that will crash takes the home
    const owner = spawn(process.execPath, [DRIVER, h.dir, 'boxes:start', JSON.stringify({ box: 'vm' })], { env: { ...process.env, BOXKEEP_DRIVER_HOLD: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const started = await new Promise<string>((resolve, reject) => {
      let out = '';
      owner.stdout.on('data', (d) => { out += d; if (out.includes('\n')) resolve(out); });
      owner.on('exit', (code) => reject(new Error(`the owner exited early (${code})`)));
    });
    expect(JSON.parse(started).status).toBe('running');
    owner.kill('SIGKILL');
    await new Promise((r) => owner.once('exit', r));

    const core = await h.reopen();
    const box = core.boxes.resolve('vm');
    expect(box.status).toBe('running');
    // Reattaching is routine, not a repair: the report stays empty.
    expect((core.vms as Supervisor).sessions.has(box.id)).toBe(true);
    expect(core.lastRecovery!.items.map((i) => i.message)).toEqual([]);
    const con = await attach(core, 'vm', 0);
    await sh(con, 'echo adopted > /mnt/adopted; sync');
    const s = await core.snapshots.create({ box: 'vm', name: 'after-adopt' });
    expect(s.live).toBe(true);
    expect(await sh(con, 'cat /mnt/adopted')).toContain('adopted');
    con.close();
  });
});

describe('live operations killed at each step', () => {
  let con: SerialDriver;
  let marker = 0;

  /** After recovery: the guest runs (not paused), answers, and can write; snapshots as before. */
  async function checkAfter(before: Record<string, string>, point: string, removed?: { name: string; diskPath: string }) {
    const core = await h.reopen();
    const box = core.boxes.resolve('vm');
    expect(box.status, point).toBe('running');
    const journal = core.paths.boxJournal(box.id);
    expect(fs.readdirSync(journal), point).toEqual([]);
    const session = (core.vms as Supervisor).session(box.id);
    const status = await session.qmp.execute<{ status: string }>('query-status');
    expect(status.status, point).toBe('running');
    if (removed) {
      // A removed snapshot's file must be closed, or its space never comes back.
      const fds = fs.readdirSync(`/proc/${session.pid}/fd`).map((fd) => { try { return fs.readlinkSync(`/proc/${session.pid}/fd/${fd}`); } catch { return ''; } });
      expect(fds.filter((f) => f.startsWith(removed.diskPath)), point).toEqual([]);
    }
    con?.close();
    con = await attach(core, 'vm', 0);
    const n = ++marker;
    await sh(con, `echo m${n} > /mnt/k${n}; sync`);
    const now = digests();
    for (const [name, digest] of Object.entries(before)) {
      if (name === removed?.name) continue;
      expect(now[name], `${point}: snapshot ${name}`).toBe(digest);
    }
    if (removed) expect(now[removed.name], point).toBeUndefined();
    await h.core.close();
  }

  it.each(CRASH_POINTS.filter((p) => p.startsWith('live-create:') && !MEMORY_ONLY_POINTS.includes(p.slice('live-create:'.length))))('%s', async (point) => {
    const before = digests();
    await h.core.close();
    const step = point.split(':')[1];
    const r = drive('snapshots:create', { box: 'vm', name: `c-${step}` }, { BOXKEEP_CRASH_AT: point });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    await checkAfter(before, point);
    h.core = await h.reopen();
    // Finished once QEMU switched to the overlay, else undone.
    const made = h.core.store.listSnapshots(h.core.boxes.resolve('vm').id).some((s) => s.name === `c-${step}`);
    expect(made, point).toBe(liveSnapshotMade(point));
  });

  it.each(CRASH_POINTS.filter((p) => p.startsWith('live-remove:')))('%s', async (point) => {
    // Remove the current snapshot (the live disk streams) and, alternately, a middle one.
    const box = h.core.boxes.resolve('vm');
    const tree = h.core.snapshots.tree('vm');
    const current = tree.snapshots.find((s) => s.id === box.currentSnapshotId)!;
    const target = marker % 2 === 0 ? current : tree.snapshots.find((s) => s.id === current.parentId) ?? current;
    const before = digests();
    const nodes = nodesFile((h.core.vms as Supervisor).session(box.id).runDir);
    const mapBefore = fs.readFileSync(nodes, 'utf8');
    await h.core.close();
    // The stream's points: the live disk takes the snapshot's data, whichever holds more (live-commit.test.ts covers the other direction).
    const r = drive('snapshots:remove', { box: 'vm', snapshot: target.id }, { BOXKEEP_CRASH_AT: point, BOXKEEP_LIVE_MERGE: 'stream' });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    // The owner may die between a QMP step and writing the map: the next one must not need it.
    fs.writeFileSync(nodes, mapBefore);
    await checkAfter(before, point, target);
    h.core = await h.reopen();
  });

  it('after all of that, the stopped box passes qemu-img check and boots with every file', async () => {
    const box = h.core.boxes.resolve('vm');
    con?.close();
    await h.core.vms.stop('vm', { force: true });
    for (const f of [box.liveDiskPath, ...h.core.store.listSnapshots(box.id).map((s) => s.diskPath)]) {
      const r = spawnSync('qemu-img', ['check', '-f', 'qcow2', f], { encoding: 'utf8' });
      expect(r.status, f + r.stdout).toBe(0);
    }
    con = await boot(h.core, 'vm');
    for (let i = 1; i <= marker; i++) expect(await sh(con, `cat /mnt/k${i}`)).toContain(`m${i}`);
    expect(await sh(con, 'cat /mnt/adopted')).toContain('adopted');
    con.close();
    await h.core.vms.stop('vm', { force: true });
  });
});
