// The appliance's guard against a hung guestfish, and the pool that keeps appliances warm, on
// real guestfish processes. Most of them never boot their VM (local commands such as `!sleep`
// run before `run`), so this file costs seconds, not appliance launches.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Appliance } from '../../electron/core/inside/appliance.js';
import { WarmAppliances } from '../../electron/core/inside/warm.js';
import { makeQcow2, requireTools, tempHome } from '../helpers/disk.js';
import { rejection } from '../helpers/errors.js';
import { eventually, groupMembers, holdersOf } from '../helpers/guestfs.js';

const MiB = 1024 * 1024;
const gone = (app: Appliance) => eventually(() => groupMembers(app.pid!).length === 0);

describe('a guestfish that does not answer', () => {
  it('is stopped with all it started when a command takes longer than the timeout, and the command fails saying so', async () => {
    requireTools('guestfish');
    const app = Appliance.start({ accel: 'tcg', timeoutMs: 2000 });
    try {
      expect(await app.run('!echo alive')).toEqual({ ok: true, out: 'alive\n' });
      const err = await rejection(app.run('!sleep 600'));
      expect(err.code).toBe('Storage');
      expect(err.message).toMatch(/^The disk appliance did not answer within 2 s \(at "!sleep"\), so it was stopped\. Try again; if it keeps happening, the disk or libguestfs may be at fault\.$/);
      expect(app.alive).toBe(false);
      // guestfish and the sleep it started (same process group) are gone.
      expect(await gone(app)).toBe(true);
      const after = await rejection(app.run('!echo again'));
      expect(after.message).toMatch(/^The disk appliance is gone: /);
    } finally {
      await app.close();
    }
  });

  it('is not stopped while a command that prints nothing until it ends (a big download) keeps growing its output file', async () => {
    requireTools('guestfish');
    const home = tempHome('bkgrow');
    const app = Appliance.start({ accel: 'tcg', timeoutMs: 1500 });
    try {
      const out = path.join(home.dir, 'out');
      fs.writeFileSync(out, '');
      const size = () => fs.statSync(out).size;
      // 4 s in all, a line a second: longer than the timeout, never silent for as long.
      const r = await app.run(`!for i in 1 2 3 4; do echo x >> ${out}; sleep 1; done`, { progress: size });
      expect(r).toEqual({ ok: true, out: '' });
      expect(fs.readFileSync(out, 'utf8')).toBe('x\n'.repeat(4));
      expect(app.alive).toBe(true);
    } finally {
      await app.close();
      home.cleanup();
    }
  });

  it('is stopped, leaving no process holding the disk, when its launch takes longer than the timeout', async () => {
    requireTools('guestfish', 'qemu-img');
    const home = tempHome('bkap');
    try {
      const disk = path.join(home.dir, 'd.qcow2');
      makeQcow2(disk, 16 * MiB);
      // Booting the appliance's VM takes far longer than 3 s (and writes nothing while it boots).
      const err = await rejection(Appliance.launch([{ path: disk, readonly: true }], { accel: 'tcg', timeoutMs: 3000 }));
      expect(err.code).toBe('Storage');
      expect(err.message).toMatch(/^The disk appliance did not answer within 3 s \(at "run"\), so it was stopped/);
      expect(await eventually(() => holdersOf(disk).length === 0)).toBe(true);
    } finally {
      home.cleanup();
    }
  });
});

describe('warm appliances', () => {
  // Real guestfish processes that never boot (nothing is mounted in them, so nothing to reset).
  const pool = (idleMs = 60_000, max = 2) => new WarmAppliances({ idleMs, max, launch: async () => Appliance.start({ accel: 'tcg', timeoutMs: 2000 }) });
  const pidOf = async (app: Appliance) => app.pid!;
  const ro = (p: string) => ({ path: p, readonly: true });
  const rw = (p: string) => ({ path: p, readonly: false });

  it('serve the next look at the same disks, or at the first of them, of the same box only; the longest unused goes beyond the limit', async () => {
    requireTools('guestfish');
    const warm = pool();
    try {
      const pair = await warm.use('b1', [ro('/s/a'), ro('/s/b')], pidOf);
      expect(await warm.use('b1', [ro('/s/a'), ro('/s/b')], pidOf)).toBe(pair);
      expect(await warm.use('b1', [ro('/s/a')], pidOf)).toBe(pair);
      const second = await warm.use('b1', [ro('/s/b')], pidOf);
      expect(second).not.toBe(pair);
      expect(groupMembers(pair).length).toBeGreaterThan(0);
      // Another box never shares one; a third kept one closes the longest unused (the pair).
      const other = await warm.use('b2', [ro('/s/a')], pidOf);
      expect([pair, second]).not.toContain(other);
      expect(await eventually(() => groupMembers(pair).length === 0)).toBe(true);
      expect(groupMembers(second).length).toBeGreaterThan(0);
      expect(await warm.use('b1', [ro('/s/b')], pidOf)).toBe(second);
    } finally {
      await warm.close();
    }
  });

  it('never keep a view of a disk another one writes: a writer closes its readers, a reader the writer', async () => {
    requireTools('guestfish');
    const warm = pool();
    try {
      const reader = await warm.use('b1', [ro('/s/a'), ro('/s/now')], pidOf);
      const writer = await warm.use('b1', [ro('/s/a'), rw('/s/now')], pidOf);
      expect(writer).not.toBe(reader);
      expect(groupMembers(reader)).toEqual([]);
      expect(await warm.use('b1', [ro('/s/a'), rw('/s/now')], pidOf)).toBe(writer);
      // Reading only the snapshot shares the writer (it reads no disk being written)…
      expect(await warm.use('b1', [ro('/s/a')], pidOf)).toBe(writer);
      // …reading Now does not.
      const again = await warm.use('b1', [ro('/s/a'), ro('/s/now')], pidOf);
      expect(again).not.toBe(writer);
      expect(groupMembers(writer)).toEqual([]);
    } finally {
      await warm.close();
    }
  });

  it('let go of their disks before other work of the box even while one is still closing (idle, or the longest unused beyond the limit)', async () => {
    const home = tempHome('bkslow');
    // Stands in for a guestfish whose VM takes a while to shut down after `exit`.
    const slow = path.join(home.dir, 'slow-guestfish');
    fs.writeFileSync(slow, '#!/bin/sh\ncat >/dev/null\nsleep 2\n', { mode: 0o755 });
    const slowPool = (idleMs: number) => new WarmAppliances({ idleMs, max: 1, launch: async () => Appliance.start({ accel: 'tcg', binary: slow }) });
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const idle = slowPool(50);
    const evict = slowPool(60_000);
    try {
      const a = await idle.use('b1', [ro('/s/a')], pidOf);
      await pause(500);
      expect(groupMembers(a).length).toBeGreaterThan(0);
      await idle.closeBox('b1');
      expect(groupMembers(a)).toEqual([]);

      const first = await evict.use('b1', [ro('/s/a')], pidOf);
      const other = evict.use('b2', [ro('/s/a')], pidOf);
      await pause(500);
      expect(groupMembers(first).length).toBeGreaterThan(0);
      await evict.closeBox('b1');
      expect(groupMembers(first)).toEqual([]);
      await other;
    } finally {
      await idle.close();
      await evict.close();
      home.cleanup();
    }
  });

  it('are closed when idle, when another work of their box comes, and on quit; one that broke is never used again', async () => {
    requireTools('guestfish');
    const idle = pool(300);
    const a = await idle.use('b1', [ro('/s/a')], pidOf);
    expect(await eventually(() => groupMembers(a).length === 0)).toBe(true);

    const warm = pool();
    try {
      const b1 = await warm.use('b1', [ro('/s/a')], pidOf);
      const b2 = await warm.use('b2', [ro('/s/a')], pidOf);
      await warm.closeBox('b1');
      expect(groupMembers(b1)).toEqual([]);
      expect(groupMembers(b2).length).toBeGreaterThan(0);

      // A command that hung killed its appliance: the next look gets a new one.
      const hung = await rejection(warm.use('b2', [ro('/s/a')], (app) => app.run('!sleep 600')));
      expect(hung.message).toMatch(/did not answer within 2 s/);
      const fresh = await warm.use('b2', [ro('/s/a')], pidOf);
      expect(fresh).not.toBe(b2);
      expect(await eventually(() => groupMembers(b2).length === 0)).toBe(true);

      await warm.close();
      expect(groupMembers(fresh)).toEqual([]);
      // After quitting, none is kept.
      const late = await warm.use('b2', [ro('/s/a')], pidOf);
      expect(groupMembers(late)).toEqual([]);
    } finally {
      await warm.close();
    }
  });
});
