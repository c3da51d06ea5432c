// A home copied (cp -a, a backup restored beside it) while one of its boxes ran records the
// original's QEMU. Opening the copy must neither take that QEMU over nor kill it: the copy shows
// its box not running, the original keeps its running box. Both with the run folder inside the home
// and with the short one under the temp dir that a long home path gets (same box id in both).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HomePaths } from '../../electron/core/paths.js';
import { isSameProcess } from '../../electron/core/proc.js';
import { readFingerprint, runDirFor, spawnQemu } from '../../electron/core/vm/qemu.js';
import type { Box } from '../../shared/types.js';
import { cliOk, cliSync } from '../helpers/cli.js';
import { makeQcow2, requireTools, tempHome } from '../helpers/disk.js';

beforeAll(() => requireTools('qemu-img', 'qemu-system-x86_64'));

const made: Array<ReturnType<typeof tempHome>> = [];
afterEach(() => {
  for (const t of made.splice(0).reverse()) t.cleanup();
});

const status = (home: string) => cliOk<Box[]>(home, ['box', 'list']).find((b) => b.name === 'b')?.status;

/** A home (its folder name `name`) with the box "b" started by the CLI and left running, as a user leaves one. */
function homeWithRunningBox(name: string) {
  const tmp = tempHome('bkcp');
  made.push(tmp);
  const home = path.join(tmp.dir, name);
  makeQcow2(path.join(tmp.dir, 'seed.qcow2'), '16M');
  cliOk(home, ['image', 'import', path.join(tmp.dir, 'seed.qcow2'), '--name', 'seed']);
  const box = cliOk<Box>(home, ['box', 'create', 'b', '--image', 'seed', '--memory', '64']);
  cliOk(home, ['box', 'start', 'b']);
  const fp = readFingerprint(runDirFor(new HomePaths(home), box.id, { create: false }));
  expect(fp && isSameProcess(fp), 'the box\'s QEMU runs').toBe(true);
  return { home, box, qemu: fp! };
}

function copyOf(home: string, name: string): string {
  const tmp = tempHome('bkcp');
  made.push(tmp);
  const copy = path.join(tmp.dir, name);
  fs.cpSync(home, copy, { recursive: true, filter: (src) => !src.endsWith('.sock') });
  return copy;
}

describe('a copy of a home made while its box ran', () => {
  for (const [kind, name] of [['inside the home', 'h'], ['under the temp dir (a long home path)', 'h'.repeat(80)]] as const) {
    it(`shows the box not running and leaves the original's QEMU alone, even when told to force a stop (run folder ${kind})`, async () => {
      const { home, box, qemu } = homeWithRunningBox(name);
      const paths = new HomePaths(home);
      if (name.length > 1) expect(runDirFor(paths, box.id, { create: false }).startsWith(paths.root), 'the run folder moved out of the home').toBe(false);
      const copy = copyOf(home, name);

      // Stopped with the reason when the copy's run folder records the original's QEMU; with a
      // run folder of its own under the temp dir the copy finds no QEMU at all, and says so.
      // What opening the copy (the app, `serve`, `recover`) does and says first.
      const first = cliSync(copy, ['recover']);
      if (name.length === 1) expect(first.out).toContain(`which does not run this home's box (this home is a copy made while it ran`);
      expect(status(copy)).toBe(name.length > 1 ? 'failed' : 'stopped');
      const stop = cliSync(copy, ['box', 'stop', 'b', '--force']);
      expect(stop.code, stop.err).not.toBe(0);
      expect(stop.err).toContain('is not running');
      expect(isSameProcess(qemu), 'the original\'s QEMU must still run').toBe(true);
      // The original still has its box, under its control.
      expect(status(home)).toBe('running');
      cliOk(home, ['box', 'stop', 'b', '--force']);
      expect(isSameProcess(qemu)).toBe(false);
    }, 120_000);
  }

  it('finds a box started before run folders under the temp dir carried the home\'s digest, still running there', async () => {
    const tmp = tempHome('bkcp');
    made.push(tmp);
    const home = path.join(tmp.dir, 'h'.repeat(80));
    makeQcow2(path.join(tmp.dir, 'seed.qcow2'), '16M');
    cliOk(home, ['image', 'import', path.join(tmp.dir, 'seed.qcow2'), '--name', 'seed']);
    const box = cliOk<Box>(home, ['box', 'create', 'b', '--image', 'seed']);
    const paths = new HomePaths(home);
    const now = runDirFor(paths, box.id, { create: false });
    const before = path.join(path.dirname(now), box.id);
    fs.mkdirSync(before, { mode: 0o700 });
    try {
      const spawned = await spawnQemu({ name: 'b', cpus: 1, memoryMib: 64, accel: 'tcg', liveDisk: paths.liveDisk(box.id), runDir: before, logFile: path.join(paths.logsDir(box.id), 'serial.log'), startPaused: true });
      try {
        expect(runDirFor(paths, box.id, { create: false })).toBe(before);
        // Another home's box of the same id is not found there.
        expect(runDirFor(new HomePaths(path.join(tmp.dir, 'g'.repeat(80))), box.id, { create: false })).not.toBe(before);
      } finally {
        process.kill(spawned.pid, 'SIGKILL');
      }
    } finally {
      fs.rmSync(before, { recursive: true, force: true });
    }
  });

  it('finds a running box\'s QEMU after its home was renamed, or reached through a symbolic link', async () => {
    const { home, box, qemu } = homeWithRunningBox('h'.repeat(80));
    const started = runDirFor(new HomePaths(home), box.id, { create: false });
    const moved = home.replace(/h+$/, 'm'.repeat(80));
    fs.renameSync(home, moved);
    const link = path.join(path.dirname(home), 'l'.repeat(80));
    fs.symlinkSync(moved, link);
    try {
      expect(runDirFor(new HomePaths(moved), box.id, { create: false })).toBe(started);
      expect(runDirFor(new HomePaths(link), box.id, { create: false })).toBe(started);
      // Opened through the link (recovery adopts what runs), the box is still the running one.
      const opened = cliSync(link, ['recover']);
      expect(opened.code, opened.err).toBe(0);
      expect(status(link)).toBe('running');
      cliOk(moved, ['box', 'stop', 'b', '--force']);
      expect(isSameProcess(qemu)).toBe(false);
    } finally {
      fs.rmSync(link);
      fs.renameSync(moved, home);
    }
  }, 120_000);
});

